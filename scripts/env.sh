# Sourced by the scripts in this folder: finds the two JDKs and installs what is missing on a fresh
# Debian 12 machine (as root; otherwise it says what to install). Sets JAVA_HOME (JDK 22+, builds and
# runs the FFM suite) and JDK17_HOME (runs the JNR suite). What a fresh machine must already have:
# Debian 12, root, and JDK 25 at /usr/lib/jvm/temurin-25-jdk-amd64 (or any JDK 22+ under /usr/lib/jvm).
# Everything else the build, the suite and the demo call is checked here, one line per tool, with the
# Debian package that provides it; scripts/fresh-machine-check.sh proves the list on a pristine root.
# Bench scripts call need_bench_tools (below) for what only the benches use; the suite never needs it.
set -euo pipefail

# apt_install PKG...: installs the packages as root with apt, or says what to install and fails.
# Services in them are not started (policy-rc.d), so that no daemon is left listening on the machine.
apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "missing packages: $* (run as root, or: sudo apt-get install $*)" >&2
    return 1
  fi
  echo "installing: $*" >&2
  local made_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && made_policy=1
  fi
  local rc=0
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null; } || rc=$?
  [ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
  return $rc
}

# need_bench_tools: what the benches drive besides the library (wrk as the load generator, nginx as the
# reference server). Call it from a bench script; it installs only what is missing.
need_bench_tools() {
  local pkgs=()
  command -v wrk >/dev/null 2>&1 || pkgs+=(wrk)
  command -v cc >/dev/null 2>&1 || pkgs+=(gcc libc6-dev)      # bench ingest compiles its C senders and receivers
  [ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || pkgs+=(nginx-light)
  command -v ip >/dev/null 2>&1 || pkgs+=(iproute2)
  command -v unshare >/dev/null 2>&1 || pkgs+=(util-linux)
  [ ${#pkgs[@]} -eq 0 ] || apt_install "${pkgs[@]}"
}

need_pkgs=()
need() { # need PACKAGE: adds it once
  local p
  for p in "${need_pkgs[@]}"; do [ "$p" = "$1" ] && return 0; done
  need_pkgs+=("$1")
}
have_lib() { [ -e "/usr/lib/x86_64-linux-gnu/$1" ] || [ -e "/usr/lib/aarch64-linux-gnu/$1" ]; }
command -v mvn >/dev/null 2>&1 || need maven                          # the build
command -v unshare >/dev/null 2>&1 || need util-linux                 # tests: private network namespaces
command -v prlimit >/dev/null 2>&1 || need util-linux                 # tests: descriptor limits
command -v setpriv >/dev/null 2>&1 || need util-linux                 # tests: children without CAP_BPF, other uid
command -v tmux >/dev/null 2>&1 || need tmux                          # tests: ctl top driven in a real terminal
command -v promtool >/dev/null 2>&1 || need prometheus                # tests: promtool checks, a real Prometheus scrape
command -v prometheus >/dev/null 2>&1 || need prometheus
command -v ip >/dev/null 2>&1 || need iproute2                        # tests, benches: lo up in a namespace
command -v sysctl >/dev/null 2>&1 || need procps                      # tests: namespace sysctls (IPv6 off)
command -v etcd >/dev/null 2>&1 || need etcd-server                     # tests, bench rollout: reuseport-fleet starts real etcd members
[ -x /usr/bin/python3 ] || need python3-minimal                       # tests: a control-socket peer of another uid
command -v capsh >/dev/null 2>&1 || need libcap2-bin                   # tests: a child with only the capabilities the library needs
command -v mmdebstrap >/dev/null 2>&1 || need mmdebstrap              # systemd-test.sh: the root systemd boots in
command -v systemd-nspawn >/dev/null 2>&1 || need systemd-container   # systemd-test.sh: boots systemd in a container
have_lib libbpf.so.1 || need libbpf1                                  # the library loads libbpf at run time
command -v clang >/dev/null 2>&1 || need clang                        # build-bpf.sh (steer.bpf.o)
command -v llvm-strip >/dev/null 2>&1 || need llvm                    # build-bpf.sh
[ -e /usr/include/bpf/bpf_helpers.h ] || need libbpf-dev              # build-bpf.sh: <bpf/bpf_helpers.h>
[ -e /usr/include/linux/bpf.h ] || need linux-libc-dev                # build-bpf.sh: <linux/bpf.h>
[ -e /etc/ssl/certs/java/cacerts ] || need ca-certificates-java       # Maven over https (JDK cacerts links here)
[ -d /usr/lib/jvm/java-17-openjdk-amd64 ] || [ -d /usr/lib/jvm/java-17-openjdk-arm64 ] || need openjdk-17-jdk-headless
if [ ${#need_pkgs[@]} -gt 0 ] && ! apt_install "${need_pkgs[@]}" && [ "$(id -u)" = 0 ]; then
  echo "apt-get could not install: ${need_pkgs[*]}" >&2
  exit 1
fi
unset need_pkgs

pick_jdk() { # $1: minimum feature version; prints the first JDK home that has it
  local min=$1 home v
  for home in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-25-jdk-arm64 /usr/lib/jvm/*; do
    [ -n "$home" ] && [ -x "$home/bin/javac" ] || continue
    v=$("$home/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
    if [ -n "$v" ] && [ "${v%%.*}" -ge "$min" ]; then echo "$home"; return 0; fi
  done
  return 1
}

if ! JAVA_HOME=$(pick_jdk 22); then
  echo "no JDK 22 or later under /usr/lib/jvm: the build compiles the FFM backend for Java 22" >&2
  exit 1
fi
export JAVA_HOME
JDK17_HOME=${JDK17_HOME:-}
for h in /usr/lib/jvm/java-17-openjdk-amd64 /usr/lib/jvm/java-17-openjdk-arm64 /usr/lib/jvm/temurin-17-jdk-amd64; do
  [ -z "$JDK17_HOME" ] && [ -x "$h/bin/java" ] && JDK17_HOME=$h
done
if [ -z "$JDK17_HOME" ]; then
  echo "no JDK 17 under /usr/lib/jvm: the JNR suite runs on it" >&2
  exit 1
fi
export JDK17_HOME
export PATH="$JAVA_HOME/bin:$PATH"
