#!/bin/sh
# autogen.sh: generate configure and Makefile.in, and fetch automake's TAP
# driver from the local automake installation (it is not committed).
set -eu
cd "$(dirname "$0")"
autoreconf -fi
for d in /usr/share/automake-*; do
    [ -f "$d/tap-driver.sh" ] && cp "$d/tap-driver.sh" build-aux/tap-driver.sh && break
done
[ -f build-aux/tap-driver.sh ] || { echo "autogen.sh: tap-driver.sh not found (install automake)" >&2; exit 1; }
