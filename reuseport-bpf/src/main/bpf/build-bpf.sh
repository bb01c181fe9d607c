#!/usr/bin/env bash
# Rebuilds steer.bpf.o beside this script, reproducibly, and records
# steer.bpf.o.sha256 (source hash, object hash, clang version).
#
#   build-bpf.sh           rebuild steer.bpf.o and steer.bpf.o.sha256
#   build-bpf.sh --check   rebuild into a temp dir; exit 1 if the bytes differ
#                          from the committed steer.bpf.o (or the manifest is
#                          stale), 2 if clang/llvm-strip are missing, 0 if equal
#
# Reproducibility: the compiler runs from this directory on the relative name
# steer.bpf.c with -fdebug-compilation-dir=., so no absolute path reaches the
# object (.BTF line info would otherwise carry the checkout path), and
# llvm-strip -g drops the DWARF while keeping .BTF/.BTF.ext. The same clang
# gives the same bytes from any checkout location or working directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src=steer.bpf.c
obj=steer.bpf.o
sum=steer.bpf.o.sha256

mode=build
case "${1:-}" in
  "") ;;
  --check) mode=check ;;
  -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
  *) echo "build-bpf.sh: unknown argument '$1' (use --check or nothing)" >&2; exit 64 ;;
esac

missing=()
for tool in clang llvm-strip sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]})); then
  echo "build-bpf.sh: missing ${missing[*]}: cannot build the eBPF object." >&2
  echo "build-bpf.sh: install them with: apt-get install clang llvm" >&2
  exit 2
fi

arch_inc="/usr/include/$(uname -m)-linux-gnu"
if [[ ! -e /usr/include/bpf/bpf_helpers.h || ! -e /usr/include/linux/bpf.h ]]; then
  echo "build-bpf.sh: missing headers <bpf/bpf_helpers.h> or <linux/bpf.h>:" \
       "apt-get install libbpf-dev linux-libc-dev" >&2
  exit 2
fi

# compile <outdir>: writes <outdir>/steer.bpf.o
compile() {
  local out="$1" tmp
  tmp="$(mktemp -d)"
  (
    cd "$here"
    clang -O2 -g -target bpf -D__TARGET_ARCH_x86 -I"$arch_inc" \
      -fdebug-compilation-dir=. -c "$src" -o "$tmp/$obj"
  ) || { rm -rf "$tmp"; echo "build-bpf.sh: clang failed on $here/$src" >&2; return 1; }
  llvm-strip -g "$tmp/$obj" -o "$out/$obj" \
    || { rm -rf "$tmp"; echo "build-bpf.sh: llvm-strip failed" >&2; return 1; }
  rm -rf "$tmp"
}

hash_of() { sha256sum "$1" | cut -d' ' -f1; }
clang_version() { clang --version | head -n1; }

if [[ $mode == build ]]; then
  compile "$here"
  {
    echo "source $(hash_of "$here/$src")"
    echo "object $(hash_of "$here/$obj")"
    echo "clang $(clang_version)"
  } > "$here/$sum"
  echo "built $here/$obj"
  cat "$here/$sum"
  exit 0
fi

# --check
if [[ ! -f "$here/$obj" ]]; then
  echo "build-bpf.sh --check: no committed $obj in $here" >&2
  exit 1
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
compile "$work"
if ! cmp -s "$work/$obj" "$here/$obj"; then
  echo "build-bpf.sh --check: rebuilt $obj differs from the committed one" >&2
  echo "  committed $(hash_of "$here/$obj")" >&2
  echo "  rebuilt   $(hash_of "$work/$obj") with $(clang_version)" >&2
  [[ -f "$here/$sum" ]] && sed 's/^/  manifest: /' "$here/$sum" >&2
  exit 1
fi
if [[ -f "$here/$sum" ]]; then
  want_src="$(sed -n 's/^source //p' "$here/$sum")"
  want_obj="$(sed -n 's/^object //p' "$here/$sum")"
  if [[ "$want_src" != "$(hash_of "$here/$src")" || "$want_obj" != "$(hash_of "$here/$obj")" ]]; then
    echo "build-bpf.sh --check: $sum is stale (run build-bpf.sh)" >&2
    exit 1
  fi
else
  echo "build-bpf.sh --check: $sum is missing (run build-bpf.sh)" >&2
  exit 1
fi
echo "ok: $obj is byte-identical to a fresh build ($(hash_of "$here/$obj"))"
