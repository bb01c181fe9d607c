#!/usr/bin/env bash
# fresh-machine-check.sh [--logs DIR]
#
# Proves README's two commands on a pristine machine: a minimal Debian 12 root (mmdebstrap
# --variant=minbase bookworm, Debian's packages from the mirror the host's apt sources name), JDK 25 at
# /usr/lib/jvm/temurin-25-jdk-amd64 (the host's, bind-mounted read-only: the one thing README says a
# machine must have besides Debian 12 and root), this checkout copied to /root/project (tracked files and
# untracked files that are not ignored, as in the working tree; no target/), then each command run as
# README writes it, read from README.md itself (the first two lines of the first ``` block after the
# paragraph "On a fresh Debian 12 machine"), so that this check cannot drift from the README.
#
# The commands run as root in a chroot inside private mount, PID, UTS and IPC namespaces, with their
# own proc, a read-only sysfs, a private /dev and /run; the network namespace is the host's (apt and
# Maven download), and the tests make their own network namespaces inside, as they do anywhere. The
# environment is a bare root login's. Prints each command's exit status and wall time (package installs
# and Maven downloads included), the suite's summary lines and, on failure, the failing tests and the
# log's tail. Mounts live only in the private mount namespace and every process only in the private PID
# namespace, so both are gone when it ends; the root file system is removed too, also on failure and
# Ctrl-C. Exit status 0 only when both commands pass; 2 when the check itself cannot run.
#
#   --logs DIR   keep the full logs (mmdebstrap, each command, package lists) in DIR
#
# Environment:
#   FRESH_CACHE=DIR    where the Debian root tarball is cached (default /var/cache/reuseport-fresh-root).
#                      The tarball is mmdebstrap's output, untouched; each run extracts it into a new
#                      directory, so every run starts from a pristine root. The key is the UTC date, the
#                      suite, the variant and the mirror lines: a new day builds a new root (Debian's
#                      updates), older tarballs are deleted. FRESH_CACHE=none builds without a cache.
#   CARRY_LOCAL_CAS=no don't copy the host's /usr/local/share/ca-certificates/*.crt into the root (they are
#                      copied by default, for networks that intercept TLS: every machine there trusts
#                      them; the scripts' ca-certificates install then takes them in).
set -euo pipefail

JDK25=/usr/lib/jvm/temurin-25-jdk-amd64
SUITE=bookworm
VARIANT=minbase
CACHE=${FRESH_CACHE:-/var/cache/reuseport-fresh-root}

die() { echo "fresh-machine-check: $*" >&2; exit 2; }
keep_logs=
while [ $# -gt 0 ]; do
  case "$1" in
    --logs) [ $# -ge 2 ] || die "--logs needs a directory"; keep_logs=$2; shift 2 ;;
    -h|--help) sed -n '2,32p' "$0"; exit 0 ;;
    *) die "unknown argument '$1'; accepted: --logs DIR" ;;
  esac
done

cd "$(dirname "$0")/.."
src=$(pwd)
[ "$(id -u)" = 0 ] || die "run as root (mmdebstrap, namespaces, mounts, chroot)"
[ -x "$JDK25/bin/java" ] || die "no JDK at $JDK25 (README's one prerequisite besides Debian 12 and root)"
command -v git >/dev/null 2>&1 || die "git is needed to list the checkout's files"

# --- README's two commands --------------------------------------------------------------------------
mapfile -t COMMANDS < <(awk '
  /On a fresh Debian 12 machine/ { para = 1 }
  para && !block && /^```/ { block = 1; next }
  block && /^```/ { exit }
  block && n < 2 { print; n++ }' README.md)
[ ${#COMMANDS[@]} = 2 ] && [ -n "${COMMANDS[0]}" ] && [ -n "${COMMANDS[1]}" ] \
  || die "README.md has no \`\`\` block of two commands after 'On a fresh Debian 12 machine'"
echo "== README's commands: '${COMMANDS[0]}' and '${COMMANDS[1]}'"

t0=$(date +%s)
secs() { echo $(( $(date +%s) - $1 )); }

# --- the mirror, read from the host's apt sources ---------------------------------------------------
# prints "URI" for the first enabled deb source of suite $1 (one-line .list or deb822 .sources format)
host_mirror() {
  local suite=$1 f
  {
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      [ -f "$f" ] || continue
      awk -v s="$suite" '$1 == "deb" {
          i = 2
          if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }   # skip [ options ]
          if ($(i + 1) == s) print $i }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -f "$f" ] || continue
      awk -v s="$suite" -v RS= '   # one stanza per paragraph
        { types = uris = suites = ""; on = 1
          n = split($0, line, "\n")
          for (k = 1; k <= n; k++) {
            if (line[k] ~ /^#/ || line[k] !~ /:/) continue
            key = tolower(line[k]); sub(/:.*/, "", key)
            val = line[k]; sub(/^[^:]*:[ \t]*/, "", val)
            if (key == "types") types = " " val " "
            else if (key == "uris") uris = val
            else if (key == "suites") suites = " " val " "
            else if (key == "enabled" && tolower(val) == "no") on = 0
          }
          gsub(/[ \t]+/, " ", types); gsub(/[ \t]+/, " ", suites)
          if (on && index(types, " deb ") && index(suites, " " s " ")) { split(uris, u, /[ \t]+/); print u[1] } }' "$f"
    done
  } | head -n 1
}
MIRROR=$(host_mirror "$SUITE")
SECURITY=$(host_mirror "$SUITE-security")
[ -n "$MIRROR" ] || die "the host's apt sources name no mirror for $SUITE"
SOURCES=("deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main")
[ -n "$SECURITY" ] && SOURCES+=("deb $SECURITY $SUITE-security main")

if ! command -v mmdebstrap >/dev/null 2>&1; then
  echo "== installing mmdebstrap on the host"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null \
    || die "could not install mmdebstrap"
fi

# --- work area and cleanup --------------------------------------------------------------------------
work=$(mktemp -d /var/tmp/reuseport-fresh.XXXXXX)
root=$work/root
logs=$work/logs
mkdir -p "$root" "$logs"
inner_pid=
cleanup() {
  local rc=$? i
  trap - EXIT INT TERM
  if [ -n "$inner_pid" ] && kill -0 "$inner_pid" 2>/dev/null; then
    # unshare --fork blocks SIGINT and SIGTERM; --kill-child: when it dies, the namespace's init gets
    # SIGKILL, and with it every process in the PID namespace; then the mount namespace has no member
    kill -KILL "$inner_pid" 2>/dev/null || true
    wait "$inner_pid" 2>/dev/null || true
  fi
  if [ -n "$keep_logs" ] && [ -d "$logs" ]; then
    mkdir -p "$keep_logs" && cp -a "$logs/." "$keep_logs/" && echo "== logs kept in $keep_logs"
  fi
  if grep -q " $work/" /proc/self/mountinfo; then
    echo "fresh-machine-check: something is still mounted under $work; left in place" >&2
    rc=2
  else   # (a process of the killed namespace may still be exiting for a moment)
    for i in 1 2 3 4 5 6; do rm -rf --one-file-system "$work" 2>/dev/null && break; sleep 1; done
    [ ! -e "$work" ] || { echo "fresh-machine-check: could not remove $work" >&2; rc=2; }
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "fresh-machine-check: interrupted" >&2; exit 130' INT TERM

# --- 1. the root file system: a cached mmdebstrap tarball, extracted afresh -------------------------
key=$(printf '%s\n' "$SUITE" "$VARIANT" "${SOURCES[@]}" | sha256sum | cut -c1-12)
tarball=
if [ "$CACHE" != none ]; then
  mkdir -p "$CACHE"
  tarball=$CACHE/debian-$SUITE-$VARIANT-$(date -u +%Y%m%d)-$key.tar
fi
t=$(date +%s)
if [ -n "$tarball" ] && [ -s "$tarball" ]; then
  echo "== Debian $SUITE $VARIANT root: cached tarball $(basename "$tarball")"
else
  out=${tarball:-$work/root.tar}
  echo "== mmdebstrap --variant=$VARIANT $SUITE from $MIRROR"
  # mmdebstrap's own mounts stay in a private mount namespace
  if ! unshare --mount --propagation private mmdebstrap --quiet --variant="$VARIANT" --format=tar \
      "$SUITE" "$out.part" "${SOURCES[@]}" >"$logs/mmdebstrap.log" 2>&1; then
    rm -f "$out.part"
    tail -n 30 "$logs/mmdebstrap.log" >&2
    die "mmdebstrap failed"
  fi
  mv -f "$out.part" "$out"
  tarball=$out
  if [ "$CACHE" != none ]; then   # only today's root for this mirror stays cached
    find "$CACHE" -maxdepth 1 -name 'debian-*.tar*' ! -path "$tarball" -delete
  fi
  echo "   built in $(secs "$t") s"
fi
t=$(date +%s)
tar -C "$root" --numeric-owner -xpf "$tarball"
[ "$tarball" = "$work/root.tar" ] && rm -f "$tarball"
echo "   extracted into a new root in $(secs "$t") s: $(du -sh "$root" | cut -f1)," \
  "$(chroot "$root" dpkg-query -W -f '.\n' | wc -l) packages"
chroot "$root" dpkg-query -W -f '${Package} ${Version}\n' >"$logs/packages-before.txt"

cp -L /etc/resolv.conf "$root/etc/resolv.conf"   # a machine on this network resolves names
if [ "${CARRY_LOCAL_CAS:-yes}" != no ] && compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  echo "   with this network's locally added CA certificates ($(ls /usr/local/share/ca-certificates/*.crt | wc -l))"
fi

# --- 2. the JDK mount point and the checkout --------------------------------------------------------
mkdir -p "$root$JDK25" "$root/root/project"
git -C "$src" ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
  | tar -C "$src" --null -T - -cf - | tar -C "$root/root/project" -xf -
dirty=$([ -n "$(git -C "$src" status --porcelain)" ] && echo ' (with uncommitted changes)' || true)
echo "== checkout: $(git -C "$src" log -1 --format='%h %s' | cut -c1-90)$dirty"

# --- 3. README's commands in the namespaces ---------------------------------------------------------
printf '%s\n' "${COMMANDS[@]}" >"$logs/commands"
cat >"$work/inside.sh" <<'INSIDE'
# runs as PID 1 of a new PID namespace, in a new mount/UTS/IPC namespace: $1 root, $2 JDK, $3 logs
set -u
root=$1 jdk=$2 logs=$3
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"
mount -t tmpfs -o nosuid,mode=755,size=16m dev "$root/dev"
for node in "null 1 3" "zero 1 5" "full 1 7" "random 1 8" "urandom 1 9" "tty 5 0"; do
  set -- $node
  mknod -m 666 "$root/dev/$1" c "$2" "$3"
done
mkdir "$root/dev/pts" "$root/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$root/dev/pts"
mount -t tmpfs -o nosuid,nodev,mode=1777 shm "$root/dev/shm"
ln -s pts/ptmx "$root/dev/ptmx"
ln -s /proc/self/fd "$root/dev/fd"
for i in 0:stdin 1:stdout 2:stderr; do ln -s "/proc/self/fd/${i%%:*}" "$root/dev/${i#*:}"; done
mount -t tmpfs -o nosuid,nodev,mode=755 run "$root/run"
mount --bind "$jdk" "$root$jdk" && mount -o remount,bind,ro "$root$jdk"
hostname fresh-debian12
n=0
while IFS= read -r cmd; do
  n=$((n + 1))
  start=$(date +%s)
  chroot "$root" /usr/bin/env -i HOME=/root USER=root LOGNAME=root SHELL=/bin/bash TERM=dumb \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/bash -c "cd /root/project && $cmd" </dev/null >"$logs/cmd$n.log" 2>&1
  rc=$?
  end=$(date +%s)
  apt_s=-   # the span of the root's dpkg log written during this command (UTC: the root has no time zone)
  if [ -s "$root/var/log/dpkg.log" ]; then
    span=$(awk -v a="$(date -u -d "@$start" '+%F %T')" -v b="$(date -u -d "@$end" '+%F %T')" \
      '{ t = $1 " " $2 } t >= a && t <= b { if (f == "") f = t; l = t } END { print f "|" l }' "$root/var/log/dpkg.log")
    if [ "$span" != "|" ]; then
      apt_s=$(( $(date -u -d "${span#*|}" +%s) - $(date -u -d "${span%|*}" +%s) ))
    fi
  fi
  echo "$n $rc $((end - start)) ${apt_s:--}" >>"$logs/results"
done <"$logs/commands"
chroot "$root" dpkg-query -W -f '${Package} ${Version}\n' >"$logs/packages-after.txt" 2>/dev/null
du -sm "$root/root/.m2/repository" 2>/dev/null | cut -f1 >"$logs/m2-mb"
INSIDE
: >"$logs/results"
echo "== running them in the pristine root (private mount, PID, UTS and IPC namespaces; host network)"
unshare --mount --propagation private --uts --ipc --pid --fork --kill-child \
  bash "$work/inside.sh" "$root" "$JDK25" "$logs" </dev/null &
inner_pid=$!
wait "$inner_pid" || true
inner_pid=

# --- 4. the verdict ---------------------------------------------------------------------------------
echo
pass=0
while read -r n rc s apt_s; do
  cmd=${COMMANDS[$((n - 1))]}
  log=$logs/cmd$n.log
  if [ "$rc" = 0 ]; then pass=$((pass + 1)); verdict=PASS; else verdict=FAIL; fi
  printf '== %s: %s, exit status %s, wall time %d s (%d min %02d s)\n' "$cmd" "$verdict" "$rc" "$s" $((s / 60)) $((s % 60))
  { grep -E '^installing: ' "$log" || true; } | sed 's/^/   /'
  [ "$apt_s" = - ] || echo "   (apt's package installs in it: about $apt_s s, from the root's dpkg log)"
  if grep -qE '^[a-z0-9-]+ +(ffm|jnr) +tests=' "$log"; then
    grep -E '^[a-z0-9-]+ +(ffm|jnr) +tests=' "$log" | sed 's/^/   /'
    awk '/ (ffm|jnr) +tests=/ { for (i = 1; i <= NF; i++) { split($i, kv, "="); sum[kv[1]] += kv[2] } }
         END { printf "   total: tests=%d failures=%d errors=%d skipped=%d\n", sum["tests"], sum["failures"], sum["errors"], sum["skipped"] }' "$log"
  fi
  { grep -E '^\[(INFO|WARNING|ERROR)\] Tests run: .*(Fail|Err)[a-z]*: [1-9]|^\[ERROR\] +[A-Za-z0-9_.$]+Test[A-Za-z0-9_.$]*[.:]|BUILD (SUCCESS|FAILURE)|^\[ERROR\] Failed to execute' "$log" || true; } \
    | cut -c1-240 | head -n 25 | sed 's/^/   /'
  if [ "$rc" = 0 ]; then
    grep -v '^\[' "$log" | grep -v '^$' | tail -n 3 | cut -c1-160 | sed 's/^/   | /'
  else
    { grep -o -E 'sh: [0-9]+: [^ ]+: not found|[a-z-]+: command not found|build-bpf.sh: missing [^:]*|PKIX path building failed|Could not resolve [a-z]+' "$log" || true; } \
      | sort | uniq -c | sed 's/^ */   seen /'
    # each failing run's own summary: which test, and its assertion's expected/actual lines
    awk '/^\[ERROR\] (Failures|Errors): *$/ { p = 1 } p { print } p && /^\[(ERROR|WARNING)\] Tests run: / { p = 0 }' "$log" \
      | cut -c1-240 | head -n 80 | sed 's/^/   ! /'
    tail -n 30 "$log" | cut -c1-240 | sed 's/^/   | /'
  fi
done <"$logs/results"
[ -s "$logs/results" ] || echo "== nothing ran in the root (see above)"
if [ -s "$logs/packages-after.txt" ]; then
  echo "== the scripts installed $(( $(wc -l <"$logs/packages-after.txt") - $(wc -l <"$logs/packages-before.txt") )) Debian packages" \
    "(with dependencies); Maven repository afterwards: $(cat "$logs/m2-mb" 2>/dev/null || echo '?') MB"
fi
echo "== load average at the end (1/5/15 min): $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs (times above include the wait for CPU)"
echo "== total $(secs "$t0") s; README's commands passed: $pass of ${#COMMANDS[@]}"
[ "$pass" = "${#COMMANDS[@]}" ]
