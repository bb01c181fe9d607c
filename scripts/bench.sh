#!/usr/bin/env bash
# Runs one benchmark from the examples JAR on JDK 22+, after installing what the benches drive besides
# the library (wrk, nginx-light, a C compiler; see need_bench_tools in env.sh). Builds the JAR when it is
# missing. Usage: bash scripts/bench.sh serve | ingest | accept | balance | restart | control | soak | netty [options]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
need_bench_tools
jar=examples/target/reuseport-examples.jar
[ -f "$jar" ] || mvn -B -q -DskipTests -Djdk17.home="$JDK17_HOME" package
exec "$JAVA_HOME/bin/java" -jar "$jar" bench "$@"
