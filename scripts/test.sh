#!/usr/bin/env bash
# Builds everything and runs the whole suite twice from the packaged JARs: on JDK 22+ (FFM backend)
# and on JDK 17 (jnr backend). Kernel tests need root for BPF and network namespaces; without it they
# are skipped with the reason printed.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
echo "build JDK: $JAVA_HOME; second test JDK: $JDK17_HOME"
mvn -B -Djdk17.home="$JDK17_HOME" clean verify "$@"
echo
for m in reuseport-testkit reuseport-native reuseport-bpf reuseport-core reuseport-netty reuseport-fleet reuseport-grpc reuseport-spring-boot-starter reuseport-vertx examples; do
  for b in ffm jnr; do
    f=$m/target/failsafe-reports/$b/failsafe-summary.xml
    [ -f "$f" ] || continue
    printf '%-18s %-4s tests=%s failures=%s errors=%s skipped=%s\n' "$m" "$b" \
      "$(sed -n 's:.*<completed>\(.*\)</completed>.*:\1:p' "$f")" \
      "$(sed -n 's:.*<failures>\(.*\)</failures>.*:\1:p' "$f")" \
      "$(sed -n 's:.*<errors>\(.*\)</errors>.*:\1:p' "$f")" \
      "$(sed -n 's:.*<skipped>\(.*\)</skipped>.*:\1:p' "$f")"
  done
done
