#!/bin/sh
# gpu-bundle.sh: prepare, on a development machine (no GPU needed), what
# t/cuda/gpu-check.sh runs on a GPU machine that cannot build llmspam
# itself (its image lacks autotools and the -dev packages, and nothing can
# be installed there): a release build with --enable-cuda, and the
# programs plus the shared libraries they need, packed as
# .gpu-bundle/bundle.tar.xz at the top of the source tree (ignored by git;
# name .gpu-bundle in the device tool's carry).
#
# Left out of the bundle: the C library family and libstdc++/libgcc_s (the
# GPU machine's newer ones serve), and CUDA's own libraries (cuBLASLt is
# found there).
#
# usage: t/cuda/gpu-bundle.sh [BUILD_DIR]
#   BUILD_DIR  an existing build configured with CUDA (built here if absent;
#              default /tmp/llmspam-gpu-build)
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
b=${1:-/tmp/llmspam-gpu-build}
if [ ! -f "$b/Makefile" ]; then
    [ -x "$src/configure" ] || (cd "$src" && sh autogen.sh)
    mkdir -p "$b"
    (cd "$b" && "$src/configure" --enable-cuda >configure.log)
fi
grep -q '^#define LLMSPAM_CUDA 1' "$b/config.h" || { echo "gpu-bundle: $b is not configured with CUDA" >&2; exit 1; }
nice make -C "$b" -j"$(nproc)" all t/cuda_compare >/dev/null
out="$src/.gpu-bundle"
stage=$(mktemp -d "${TMPDIR:-/tmp}/llmspam-bundle.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib"
cp "$b/llmspam" "$b/llmspam-cuda.so" "$b/t/cuda_compare" "$stage/bin/"
for f in "$stage/bin/llmspam" "$stage/bin/cuda_compare"; do
    ldd "$f" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }'
done | sort -u | while read -r lib; do
    case $(basename "$lib") in
    ld-linux*|libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|libstdc++.so*|libgcc_s.so*|libcu*) ;;
    *) cp -L "$lib" "$stage/lib/" ;;
    esac
done
(cd "$src" && git rev-parse HEAD 2>/dev/null || echo unknown) >"$stage/COMMIT"
nvcc_v=$(grep '^NVCC = ' "$b/Makefile" | sed 's/^NVCC = //')
"$nvcc_v" --version | tail -1 >"$stage/NVCC"
mkdir -p "$out"
XZ_OPT=${XZ_OPT:--T0} tar -C "$stage" -cJf "$out/bundle.tar.xz" .
echo "gpu-bundle: $out/bundle.tar.xz ($(du -h "$out/bundle.tar.xz" | cut -f1)): $(ls "$stage/bin" | tr '\n' ' ')+ $(ls "$stage/lib" | wc -l) libraries"
