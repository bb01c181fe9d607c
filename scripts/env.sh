# Sourced by the scripts in this folder: finds the two JDKs and installs what is missing on a fresh
# Debian 12 machine (as root; otherwise it says what to install). Sets JAVA_HOME (JDK 22+, builds and
# runs the FFM suite) and JDK17_HOME (runs the JNR suite).
set -euo pipefail

need_pkgs=()
command -v mvn >/dev/null 2>&1 || need_pkgs+=(maven)
command -v unshare >/dev/null 2>&1 || need_pkgs+=(util-linux)
command -v ip >/dev/null 2>&1 || need_pkgs+=(iproute2)
command -v prlimit >/dev/null 2>&1 || need_pkgs+=(util-linux)
[ -e /usr/lib/x86_64-linux-gnu/libbpf.so.1 ] || [ -e /usr/lib/aarch64-linux-gnu/libbpf.so.1 ] || need_pkgs+=(libbpf1)
command -v clang >/dev/null 2>&1 || need_pkgs+=(clang)
command -v llvm-strip >/dev/null 2>&1 || need_pkgs+=(llvm)
[ -e /usr/include/bpf/bpf_helpers.h ] || need_pkgs+=(libbpf-dev) # build-bpf.sh (SteerObjectMatchesSourceTest)
[ -d /usr/lib/jvm/java-17-openjdk-amd64 ] || [ -d /usr/lib/jvm/java-17-openjdk-arm64 ] || need_pkgs+=(openjdk-17-jdk-headless)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing: ${need_pkgs[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
  else
    echo "missing packages: ${need_pkgs[*]} (run as root, or: sudo apt-get install ${need_pkgs[*]})" >&2
  fi
fi

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
