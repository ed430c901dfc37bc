#!/bin/sh
# install-deps.sh: install the Debian packages that llmspam needs to build,
# test and run. Idempotent: installs only what is missing. Run as root.
set -eu

PACKAGES="build-essential autoconf automake libtool pkg-config
  libcjson-dev libpcre2-dev libdnnl-dev libgmime-3.0-dev libxml2-dev
  libmilter-dev miltertest swaks postfix
  clang libclang-rt-14-dev
  debhelper dpkg-dev fakeroot lintian
  curl prometheus"

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps.sh: missing Debian packages:$missing (run as root to install)" >&2
    exit 1
fi
echo "install-deps.sh: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# Postfix must not ask questions nor configure a system mail setup: the tests
# run private instances with their own config directories.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
