#!/usr/bin/env bash
# wrk against the HTTP echo server while it is resized 8 <-> 4 twenty times and then handed off to a new
# process five times; every connection must succeed. Runs as root in a private network namespace (it
# re-executes itself under `unshare -n`, brings lo up there and checks that net.ipv4.tcp_migrate_req is 0,
# which it only reads). It builds nothing: it expects examples/target/reuseport-examples.jar (build with
# `mvn -B -q -o -DskipTests package`). Installs wrk with apt when missing. SERVER=netty-echo runs the
# Netty adapter's server instead of the library's own echo (default SERVER=echo). Last line:
#   RESULT wrk-restarts server=<echo|netty-echo> requests=<n> socket_errors=<connect+read+write+timeout> non2xx=<n>
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
JAR=$ROOT/examples/target/reuseport-examples.jar
PORT=8080
RESIZES=20
HANDOFFS=5
SERVER=${SERVER:-echo}
case "$SERVER" in
  echo|netty-echo) ;;
  *) echo "wrk-restarts: SERVER=$SERVER; accepted: echo or netty-echo" >&2; exit 2 ;;
esac

pick_java() { # a JDK 25 java: $JAVA, then the Temurin 25 install, then $JAVA_HOME
  local j v
  for j in "${JAVA:-}" /usr/lib/jvm/temurin-25-jdk-amd64/bin/java /usr/lib/jvm/temurin-25-jdk-arm64/bin/java \
           "${JAVA_HOME:+$JAVA_HOME/bin/java}"; do
    [ -n "$j" ] && [ -x "$j" ] || continue
    v=$("$j" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
    if [ -n "$v" ] && [ "${v%%.*}" -ge 25 ]; then echo "$j"; return 0; fi
  done
  return 1
}

if [ "${WRK_RESTARTS_NETNS:-}" != 1 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "wrk-restarts: run as root (it needs 'unshare -n' for a private network namespace)" >&2
    exit 1
  fi
  if ! command -v wrk >/dev/null 2>&1; then
    echo "installing wrk" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
  fi
  if [ ! -f "$JAR" ]; then
    echo "wrk-restarts: $JAR is missing; this script builds nothing: build it first with" >&2
    echo "  mvn -B -q -o -DskipTests package" >&2
    exit 1
  fi
  exec unshare -n env WRK_RESTARTS_NETNS=1 bash "$0" "$@"
fi

# ---- inside the private network namespace
ip link set lo up
MIGRATE=$(cat /proc/sys/net/ipv4/tcp_migrate_req 2>/dev/null || echo absent)
echo "net.ipv4.tcp_migrate_req = $MIGRATE (read only)"
if [ "$MIGRATE" != 0 ] && [ "$MIGRATE" != absent ]; then
  echo "wrk-restarts: tcp_migrate_req is $MIGRATE in this namespace; need 0 (this script never writes it)" >&2
  exit 1
fi
if ! JAVA=$(pick_java); then
  echo "wrk-restarts: no JDK 25 java (set JAVA=/path/to/jdk25/bin/java)" >&2
  exit 1
fi
echo "java: $JAVA"

DIR=$(mktemp -d /tmp/wrk-restarts.XXXXXX)
chmod 700 "$DIR"
CTL=$DIR/ctl
PIDS=()
WRK_PID=

cleanup() {
  local p i
  [ -n "$WRK_PID" ] && kill "$WRK_PID" 2>/dev/null || true
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for i in $(seq 50); do
    local alive=0
    for p in "${PIDS[@]}" $WRK_PID; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.2
  done
  for p in "${PIDS[@]}" $WRK_PID; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_server N ARGS...: starts generation N in the background, sets SERVER_PID, waits for READY (30 s)
start_server() {
  local n=$1 i
  shift
  local args=(--serve --http --port "$PORT")
  [ "$SERVER" = echo ] && args+=(--protocol tcp)
  "$JAVA" -jar "$JAR" "$SERVER" "${args[@]}" "$@" >"$DIR/gen$n.out" 2>"$DIR/gen$n.err" &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  for i in $(seq 300); do
    grep -q '^READY ' "$DIR/gen$n.out" 2>/dev/null && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "generation $n (pid $SERVER_PID) did not report READY within 30 s:" >&2
  tail -n 20 "$DIR/gen$n.out" "$DIR/gen$n.err" >&2
  return 1
}

# await_exit PID SECONDS: waits for a process to exit by itself; sets EXIT_STATUS to its status or "killed"
await_exit() {
  local pid=$1 i
  for i in $(seq $(($2 * 10))); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    EXIT_STATUS=killed
  else
    EXIT_STATUS=0
    wait "$pid" 2>/dev/null || EXIT_STATUS=$?
  fi
}

start_server 0 --control "$CTL"
echo "generation 0: $SERVER pid $SERVER_PID serving 127.0.0.1:$PORT, control socket $CTL"

# wrk runs until it is interrupted 2 s after the last hand-off (a 300 s bound otherwise); on SIGINT it
# stops and prints its full report. It runs at nice 10 so that the JVMs this script starts (ctl clients,
# new server generations) get CPU on a small machine; the load it offers is unchanged.
nice -n 10 wrk -t 2 -c 64 -d 300s -H 'Connection: close' "http://127.0.0.1:$PORT/" >"$DIR/wrk.out" 2>&1 &
WRK_PID=$!
sleep 2
START=$(date +%s.%N)
elapsed() { awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $START}"; }

# the ctl client is a short-lived JVM: C1 only and the serial GC make it start faster under load
CTL_JVM=(-XX:TieredStopAtLevel=1 -XX:+UseSerialGC)
CTL_FAIL=0
for i in $(seq "$RESIZES"); do
  n=$(( i % 2 == 1 ? 4 : 8 ))
  if reply=$("$JAVA" "${CTL_JVM[@]}" -jar "$JAR" ctl --socket "$CTL" resize "$n" 2>"$DIR/ctl.err"); then
    echo "+$(elapsed) s resize $i/$RESIZES -> $n: $reply"
  else
    CTL_FAIL=$((CTL_FAIL + 1))
    echo "+$(elapsed) s resize $i/$RESIZES -> $n FAILED: $reply $(grep -v 'sun.misc.Unsafe\|terminally deprecated' "$DIR/ctl.err")"
  fi
  sleep 0.3
done

HANDOFF_FAIL=0
for i in $(seq "$HANDOFFS"); do
  prev=$SERVER_PID
  t0=$(date +%s.%N)
  if ! start_server "$i" --take-over "$CTL"; then
    HANDOFF_FAIL=$((HANDOFF_FAIL + 1))
    break
  fi
  t1=$(date +%s.%N)
  await_exit "$prev" 40
  status=$EXIT_STATUS
  t2=$(date +%s.%N)
  printf '+%s s hand-off %d/%d: pid %d READY after %.1f s; previous pid %d exited (%s) %.1f s later\n' "$(elapsed)" "$i" "$HANDOFFS" \
    "$SERVER_PID" "$(awk "BEGIN{print $t1 - $t0}")" "$prev" "$status" "$(awk "BEGIN{print $t2 - $t1}")"
  if [ "$status" != 0 ] || ! grep -q 'handed off' "$DIR/gen$((i - 1)).out"; then
    echo "  generation $((i - 1)) did not hand off and exit cleanly: $(tail -n 3 "$DIR/gen$((i - 1)).out" | tr '\n' ' ')"
    HANDOFF_FAIL=$((HANDOFF_FAIL + 1))
  fi
  if grep -q 'opening the group \(anew\|on the standby\)' "$DIR/gen$i.err"; then
    echo "  generation $i fell back to opening a new group: $(grep -m1 'hand-off' "$DIR/gen$i.err")"
    HANDOFF_FAIL=$((HANDOFF_FAIL + 1))
  fi
done

sleep 2
if ! kill -0 "$WRK_PID" 2>/dev/null; then
  echo "wrk ended before the operations did (its -d bound): the figures below miss the last operations"
  CTL_FAIL=$((CTL_FAIL + 1))
fi
kill -INT "$WRK_PID" 2>/dev/null || true
for i in $(seq 100); do kill -0 "$WRK_PID" 2>/dev/null || break; sleep 0.1; done
wait "$WRK_PID" 2>/dev/null || true
WRK_PID=

echo
echo "---- wrk output"
cat "$DIR/wrk.out"
echo "----"

requests=$(sed -n 's/^ *\([0-9][0-9]*\) requests in .*/\1/p' "$DIR/wrk.out" | head -n 1)
requests=${requests:-0}
errline=$(grep 'Socket errors:' "$DIR/wrk.out" || true)
if [ -n "$errline" ]; then
  socket_errors=$(echo "$errline" | grep -o '[0-9][0-9]*' | awk '{s += $1} END {print s + 0}')
else
  socket_errors=0
  echo "Socket errors: connect 0, read 0, write 0, timeout 0 (wrk prints no such line when every count is 0)"
fi
non2xx=$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9][0-9]*\).*/\1/p' "$DIR/wrk.out" | head -n 1)
non2xx=${non2xx:-0}
echo "control requests failed: $CTL_FAIL of $RESIZES resizes; hand-offs failed: $HANDOFF_FAIL of $HANDOFFS"
for f in "$DIR"/gen*.err; do # the library's WARNING/SEVERE records (java.util.logging, two lines each)
  warned=$(awk '/ dev\.reuseport\./ { hdr = 1; next } hdr && /^(WARNING|SEVERE):/ { print } { hdr = 0 }' "$f")
  if [ -n "$warned" ] || grep -q 'Exception' "$f"; then
    echo "logged by $(basename "$f" .err):"
    { echo "$warned"; grep 'Exception' "$f"; } | grep -v '^$' | head -n 5 | sed 's/^/  /'
  fi
done
if [ "$requests" -gt 0 ] && [ "$socket_errors" = 0 ] && [ "$non2xx" = 0 ] && [ $CTL_FAIL = 0 ] \
   && [ $HANDOFF_FAIL = 0 ]; then
  echo "PASS: $requests requests, no socket error, no non-2xx response across $RESIZES resizes and $HANDOFFS hand-offs"
  rc=0
else
  echo "FAIL: see above"
  rc=1
fi
cleanup >/dev/null 2>&1
PIDS=()
echo "RESULT wrk-restarts server=$SERVER requests=$requests socket_errors=$socket_errors non2xx=$non2xx"
exit $rc
