#!/usr/bin/env bash
# Proves that an application depending on reuseport-core alone gets no fleet module and no etcd client:
# prints core's resolved dependency tree (what such an application inherits: core and its transitive
# dependencies, the scopes an application sees) offline, without installing anything, and fails if
# reuseport-fleet, io.etcd, io.grpc or io.vertx appear in it. The enforcer rule core-without-fleet in
# reuseport-core/pom.xml checks the same on every build.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
out=$(mktemp)
trap 'rm -f "$out"' EXIT
mvn -B -q -o -pl reuseport-core -am dependency:tree -Dscope=runtime -DoutputFile="$out" -DappendOutput=true >/dev/null
cat "$out"
if grep -E 'reuseport-fleet|io\.etcd|io\.grpc|io\.vertx' "$out"; then
  echo "FAIL: the fleet or its etcd client is in core's dependency tree" >&2
  exit 1
fi
echo "OK: reuseport-core's runtime tree has no reuseport-fleet, io.etcd, io.grpc or io.vertx"
