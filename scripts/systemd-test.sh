#!/usr/bin/env bash
# systemd-test.sh [--prepare] [--jar PATH] [--check | --bench] [-- BENCH-ARGS...]
#
# Boots a real systemd (Debian 12's, PID 1 of a systemd-nspawn container with its own network namespace)
# and runs `bench systemd` of the examples JAR inside it, against the unit files of docs/ops:
#   reuseport-echo.service            Type=notify, FileDescriptorStoreMax=, WatchdogSec=, Restart=always:
#                                     the echo server keeps its sockets and steering maps in the fd store;
#   reuseport-echo-activated.socket   ReusePort=yes, one ListenStream= per worker, and its service.
#   --check   (the suite's SystemdBootTest): socket activation, 1 restart, 1 kill -9 (default);
#   --bench   the full run: 20 `systemctl restart` and 5 `kill -9` of the main process under load.
# The bench's output ends with `RESULT systemd restarts=<n> kill9=<n> conn_failed=<n> ...`; this script
# prints it and exits with the bench's status (0 when conn_failed=0 and every phase passed; a kill -9 loses the
# connections the killed process had accepted and not answered, so it is 1 under load when any was in flight).
#
# The container's root (Debian 12 minbase + systemd, dbus, libbpf1; about 200 MB) is made once with
# mmdebstrap from the host's bookworm mirror and kept in $REUSEPORT_SYSTEMD_ROOT (default
# /var/tmp/reuseport-systemd-root); --prepare only makes it. The JDK ($JAVA_HOME) and the JAR are
# bind-mounted read-only; nothing of the host's network, sysctls or file systems changes. On a host whose
# PID 1 is not systemd, the container gets one cgroup directory per hierarchy (removed at the end) and
# nspawn a private /run. Needs root, mmdebstrap and systemd-nspawn (scripts/env.sh installs them).
# Exit status: 0 passed, 1 failed, 2 cannot run here (the reason on standard error).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

mode=check prepare_only= jar=examples/target/reuseport-examples.jar bench_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --prepare) prepare_only=1 ;;
    --check) mode=check ;;
    --bench) mode=bench ;;
    --jar) jar=$2; shift ;;
    --) shift; bench_args=("$@"); break ;;
    *) echo "systemd-test.sh: unknown argument '$1'; accepted: --prepare --check --bench --jar PATH -- BENCH-ARGS" >&2; exit 2 ;;
  esac
  shift
done
cannot() { echo "systemd-test.sh: cannot run here: $*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || cannot "needs root (systemd-nspawn, cgroups)"
command -v systemd-nspawn >/dev/null || cannot "systemd-nspawn missing (Debian package systemd-container)"
command -v mmdebstrap >/dev/null || cannot "mmdebstrap missing (Debian package mmdebstrap)"
t0=$(date +%s.%N)
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# --- the root, made once ------------------------------------------------------------------------------
root=${REUSEPORT_SYSTEMD_ROOT:-/var/tmp/reuseport-systemd-root}
mirror_for() { # $1: suite; the first deb URI the host's apt sources give for it
  { cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk -v s="$1" '$1 == "deb" { i = 2
      if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
      if ($(i + 1) == s) print $i }'
    for f in /etc/apt/sources.list.d/*.sources; do [ -f "$f" ] || continue
      awk -v s="$1" 'BEGIN { RS = ""; FS = "\n" } { u = ""; ok = 0; t = 0
          for (i = 1; i <= NF; i++) { if ($i ~ /^URIs:/) { u = $i; sub(/^URIs:[ \t]*/, "", u); sub(/[ \t].*/, "", u) }
            if ($i ~ /^Suites:/ && (" " $i " ") ~ (" " s " ")) ok = 1
            if ($i ~ /^Types:/ && $i ~ /deb( |$)/) t = 1 }
          if (ok && t && u != "") print u }' "$f"; done; } | head -n1
}
if [ ! -e "$root/.reuseport-ready" ]; then
  mirror=$(mirror_for bookworm); security=$(mirror_for bookworm-security)
  [ -n "$mirror" ] || cannot "the host's apt sources name no bookworm mirror for mmdebstrap"
  sources=("deb $mirror bookworm main" "deb $mirror bookworm-updates main")
  [ -n "$security" ] && sources+=("deb $security bookworm-security main")
  echo "== making the container's root in $root (mmdebstrap minbase + systemd, dbus, libbpf1; once)"
  t=$(date +%s.%N)
  rm -rf "$root"
  unshare -m nice -n 10 mmdebstrap --quiet --variant=minbase --include=systemd,systemd-sysv,dbus,libbpf1,iproute2 \
    bookworm "$root" "${sources[@]}" >/tmp/reuseport-mmdebstrap.log 2>&1 \
    || { tail -n 20 /tmp/reuseport-mmdebstrap.log >&2; rm -rf "$root"; cannot "mmdebstrap failed (log above)"; }
  echo reuseport-systemd >"$root/etc/hostname"
  ln -sf /opt/jdk/bin/java "$root/usr/bin/java"
  mkdir -p "$root/opt/jdk" "$root/opt/reuseport" "$root/out"
  # the journal in memory only: the root stays the same from run to run
  mkdir -p "$root/etc/systemd/journald.conf.d"
  printf '[Journal]\nStorage=volatile\n' >"$root/etc/systemd/journald.conf.d/volatile.conf"
  touch "$root/.reuseport-ready"
  echo "   made in $(since "$t") s"
fi
[ -n "$prepare_only" ] && exit 0
[ -f "$jar" ] || cannot "no examples JAR at $jar (mvn -DskipTests package, or --jar PATH)"
jar=$(readlink -f "$jar")

# --- this run's units and output ------------------------------------------------------------------------
work=$(mktemp -d /var/tmp/reuseport-systemd-run.XXXXXX)
mkdir -p "$work/out"
cp docs/ops/reuseport-echo.service docs/ops/reuseport-echo-activated.socket docs/ops/reuseport-echo-activated.service \
  "$root/etc/systemd/system/"
case "$mode" in
  check) args=(--restarts 1 --kills 1) ;;
  bench) args=(--restarts 20 --kills 5) ;;
esac
args+=("${bench_args[@]}")
cat >"$root/etc/systemd/system/reuseport-bench.service" <<UNIT
[Unit]
Description=bench systemd, then power off
After=multi-user.target

[Service]
Type=exec
ExecStart=/bin/sh -c 'java -jar /opt/reuseport/reuseport-examples.jar bench systemd ${args[*]} >/out/bench.out 2>/out/bench.err; echo \$? >/out/bench.rc; systemctl poweroff --no-block'
UNIT
mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
ln -sf ../reuseport-bench.service "$root/etc/systemd/system/multi-user.target.wants/reuseport-bench.service"

cg=reuseport-systemd-$$
nspawn_pid=
cgroup_dirs() {
  local h
  for h in /sys/fs/cgroup /sys/fs/cgroup/unified /sys/fs/cgroup/systemd; do
    case "$(stat -f -c %T "$h" 2>/dev/null)" in cgroup2fs | cgroupfs) echo "$h/$cg" ;; esac
  done
}
cleanup() {
  local rc=$? d i
  if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
    kill -TERM "$nspawn_pid" 2>/dev/null
    for i in $(seq 50); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$nspawn_pid" 2>/dev/null || true
    wait "$nspawn_pid" 2>/dev/null || true
  fi
  for d in $(cgroup_dirs); do [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; done
  rm -f "$root/etc/systemd/system/multi-user.target.wants/reuseport-bench.service"
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -d /run/systemd/system ]; then
  nspawn_opts=(--register=no); setup=''
else
  nspawn_opts=(--register=no --keep-unit)
  setup='for d in $(cgroup_dirs); do mkdir "$d" && echo $$ >"$d/cgroup.procs"; done
    mount -t tmpfs -o mode=755,size=16m nspawn-run /run'
fi
limit=$([ "$mode" = bench ] && echo 6000 || echo 900)   # in 0.2 s steps: 20 min, 3 min
echo "== booting systemd (systemd-nspawn --boot --private-network) for bench systemd ${args[*]}"
tboot=$(date +%s.%N)
export -f cgroup_dirs; export cg
unshare --mount bash -c "set -e; $setup
  exec systemd-nspawn --boot --directory='$root' --machine=reuseport-systemd ${nspawn_opts[*]} --private-network \
    --bind-ro='$JAVA_HOME':/opt/jdk --bind-ro='$jar':/opt/reuseport/reuseport-examples.jar --bind='$work/out':/out \
    --system-call-filter=bpf --capability=CAP_BPF,CAP_PERFMON \
    --link-journal=no --resolv-conf=off --timezone=off --console=read-only" >"$work/console.log" 2>&1 &
nspawn_pid=$!
for _ in $(seq "$limit"); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.2; done
if kill -0 "$nspawn_pid" 2>/dev/null; then
  echo "== the container did not power off in time; console and bench output so far:"
  tail -n 20 "$work/console.log"; cat "$work/out/bench.err" "$work/out/bench.out" 2>/dev/null | tail -n 30
  exit 1
fi
wait "$nspawn_pid" && nrc=0 || nrc=$?
nspawn_pid=
if [ ! -s "$work/out/bench.out" ]; then
  echo "== systemd-nspawn exited $nrc without the bench's output; console:"; tail -n 40 "$work/console.log"
  cat "$work/out/bench.err" 2>/dev/null | tail -n 20
  exit 1
fi
echo "== booted, ran and powered off in $(since "$tboot") s (nspawn exit $nrc); total $(since "$t0") s"
sed 's/^/   /' "$work/out/bench.err" | grep -v '^   SLF4J' | tail -n 60 || true
cat "$work/out/bench.out"
exit "$(cat "$work/out/bench.rc" 2>/dev/null || echo 1)"
