#!/bin/sh
# build.sh [NAME [CONFIGURE-ARGS...]]: configure and build into _build/NAME
# (default "release"). Reruns autoreconf when configure is missing.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
name=${1:-release}
[ $# -gt 0 ] && shift
[ -x configure ] && [ -f build-aux/tap-driver.sh ] || sh autogen.sh
mkdir -p "_build/$name"
cd "_build/$name"
[ -f Makefile ] || "$top/configure" --enable-werror "$@" >configure.out || { cat configure.out; exit 1; }
make -j"$(nproc)" >/dev/null
