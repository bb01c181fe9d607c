#!/usr/bin/env bash
# Builds the examples JAR (tests skipped) and runs the echo demo: an 8-worker TCP and UDP group on
# loopback, a short built-in load, the capability report and the per-worker table. Extra arguments go
# to the echo command (e.g. --serve --http --port 8080). The demo needs the JARs only: the javadoc and
# sources JARs (and javadoc's doclint check) are left to scripts/test.sh, whose `mvn verify` makes them.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
mvn -B -q -DskipTests -Dmaven.javadoc.skip=true -Dmaven.source.skip=true -Djdk17.home="$JDK17_HOME" package
exec "$JAVA_HOME/bin/java" -jar examples/target/reuseport-examples.jar echo "$@"
