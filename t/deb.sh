# deb.sh: the Debian packages, for real. Builds them from a copy of the
# source tree (dpkg-buildpackage -b, no make check, no ASan), runs lintian,
# installs llmspam with dpkg -i, checks what installing did (user, conffile,
# unit enabled but not started, llmspam-milter -n, a message classified by
# the installed binary with the installed model), then removes and purges
# it and checks that nothing is left. Needs root; SKIPs without the tools,
# or where llmspam or a user llmspam is already on the machine (it would
# not touch them). Run by scripts/test.sh after the two builds.
#   LLMSPAM_DEB_CUDA=no   build with -Pnocuda even where nvcc is found
#   LLMSPAM_DEB_KEEP=DIR  copy the built packages there (for a look inside)
. "$top_srcdir/t/lib/tap.sh"

for tool in dpkg-buildpackage dh fakeroot dpkg-deb; do
    command -v "$tool" >/dev/null 2>&1 || skip_all "$tool not found (scripts/install-deps.sh installs it)"
done
[ "$(id -u)" -eq 0 ] || skip_all "dpkg -i needs root"
dpkg-query -W -f='${Status}' llmspam 2>/dev/null | grep -q 'ok installed' &&
    skip_all "llmspam is installed on this machine; not replacing it"
getent passwd llmspam >/dev/null && skip_all "a user llmspam exists; purging would remove it"
[ -e /var/lib/llmspam ] && skip_all "/var/lib/llmspam exists; purging would remove it"

tmp=$(mktemp -d)
installed=no
cleanup() {
    [ "$installed" = yes ] && dpkg --purge llmspam-cuda llmspam >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT

# The source: the files git knows (tracked and untracked, not ignored), or
# the tree minus build output where there is no git.
src="$tmp/llmspam"
mkdir -p "$src"
if git -C "$top_srcdir" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$top_srcdir" && git ls-files -z -co --exclude-standard | xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
        tar --null -T - -cf -) | tar -xf - -C "$src"
else
    (cd "$top_srcdir" && tar --exclude=./_build --exclude=./.git -cf - .) | tar -xf - -C "$src"
fi
ok $? "source tree copied"

profile=""
if [ "${LLMSPAM_DEB_CUDA:-auto}" = no ] || ! [ -x "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc" ]; then
    profile="-Pnocuda"
fi
# DEB_BUILD_OPTIONS: the suite already ran on both builds
(cd "$src" && DEB_BUILD_OPTIONS="nocheck parallel=2" dpkg-buildpackage -us -uc -b $profile) >"$tmp/build.log" 2>&1
ok $? "dpkg-buildpackage -us -uc -b $profile" || tail -30 "$tmp/build.log" | sed 's/^/# /'
deb=$(ls "$tmp"/llmspam_*.deb 2>/dev/null | head -1)
cudadeb=$(ls "$tmp"/llmspam-cuda_*.deb 2>/dev/null | head -1)
[ -n "$deb" ]
ok $? "llmspam .deb built ($(basename "${deb:-none}"))" || exit 1
[ -n "${LLMSPAM_DEB_KEEP:-}" ] && mkdir -p "$LLMSPAM_DEB_KEEP" && cp "$tmp"/*.deb "$tmp"/*.changes "$LLMSPAM_DEB_KEEP"/
if [ -n "$profile" ]; then
    skip "llmspam-cuda not built ($profile: no nvcc)"
else
    [ -n "$cudadeb" ] && dpkg-deb -c "$cudadeb" >"$tmp/cuda-contents" && dpkg-deb -I "$cudadeb" >"$tmp/cuda-info" &&
        grep -q '/llmspam/llmspam-cuda.so$' "$tmp/cuda-contents" && ! grep -q 'Depends:.*cuda' "$tmp/cuda-info"
    ok $? "llmspam-cuda .deb holds llmspam-cuda.so and no unsatisfiable CUDA dependency"
    # the module has no RUNPATH and does not reach into /usr/local by itself
    dpkg-deb -x "$cudadeb" "$tmp/cudax"
    ! readelf -d "$tmp"/cudax/usr/lib/*/llmspam/llmspam-cuda.so | grep -Eq 'RPATH|RUNPATH'
    ok $? "llmspam-cuda.so has no RPATH/RUNPATH"
fi
dpkg-deb -c "$deb" >"$tmp/contents"
for f in ./usr/sbin/llmspam-milter ./usr/bin/llmspam ./etc/llmspam.conf \
    ./lib/systemd/system/llmspam-milter.service ./usr/share/man/man8/llmspam-milter.8.gz \
    ./usr/share/man/man5/llmspam.conf.5.gz ./usr/share/man/man1/llmspam.1.gz \
    ./usr/share/llmspam/model/model.safetensors ./usr/share/llmspam/model/config.json \
    ./usr/share/llmspam/model/tokenizer.json; do
    grep -q " $f\$" "$tmp/contents" || { echo "# missing $f"; false; } || break
done
ok $? "llmspam .deb holds the daemon, CLI, conffile, unit, man pages and model"
! grep -q 'llmspam-cuda.so' "$tmp/contents"
ok $? "the CUDA module is not in llmspam"

if command -v lintian >/dev/null 2>&1; then
    lintian --tag-display-limit 0 "$tmp"/llmspam_*.changes >"$tmp/lintian.out" 2>&1
    sed 's/^/# /' "$tmp/lintian.out"
    ! grep -q '^E:' "$tmp/lintian.out"
    ok $? "lintian: no errors ($(grep -c '^W:' "$tmp/lintian.out") warning(s))"
else
    skip "lintian not installed"
fi

# ---- install ----
installed=yes
dpkg -i "$deb" >"$tmp/install.log" 2>&1
ok $? "dpkg -i llmspam" || sed 's/^/# /' "$tmp/install.log"
getent passwd llmspam >/dev/null && getent group llmspam >/dev/null
ok $? "user and group llmspam created"
[ "$(getent passwd llmspam | cut -d: -f7)" != /bin/sh ] && [ "$(getent passwd llmspam | cut -d: -f3)" -lt 1000 ]
ok $? "llmspam is a system user without a login shell"
dpkg-query -W -f='${Conffiles}\n' llmspam | grep -q '^ /etc/llmspam.conf '
ok $? "/etc/llmspam.conf is a conffile"
[ -L /etc/systemd/system/multi-user.target.wants/llmspam-milter.service ]
ok $? "llmspam-milter.service enabled (multi-user.target.wants)"
! pgrep -u llmspam >/dev/null 2>&1
ok $? "and not started: no process runs as llmspam"
/usr/sbin/llmspam-milter -n >"$tmp/n.out" 2>&1
ok $? "installed llmspam-milter -n: $(cat "$tmp/n.out")"
grep -q 'model /usr/share/llmspam/model' "$tmp/n.out"
ok $? "-n checked the installed default model"
msg="$top_srcdir/t/miltertest/msg/b.eml"
/usr/bin/llmspam classify --model /usr/share/llmspam/model --json "$msg" >"$tmp/c.json" 2>&1
s=$(sed -n 's/.*"score":\([-0-9.eE+]*\).*/\1/p' "$tmp/c.json")
[ -n "$s" ] && awk -v s="$s" 'BEGIN { exit !(s >= 0 && s <= 1) }'
ok $? "installed llmspam classifies a message with the installed model (score $s)" || sed 's/^/# /' "$tmp/c.json"
# the same message through the installed daemon's pipeline (-t)
/usr/sbin/llmspam-milter -t "$msg" >"$tmp/t.out" 2>&1
grep -q '^score: ' "$tmp/t.out"
ok $? "installed llmspam-milter -t scores it: $(grep -E '^(decision|score):' "$tmp/t.out" | tr '\n' ' ')"
/usr/bin/llmspam learn --spam "$msg" >"$tmp/learn.out" 2>&1 && grep -q '^stored spam ' "$tmp/learn.out" &&
    [ -n "$(ls /var/lib/llmspam/spam/)" ]
ok $? "installed llmspam learn stores into the default learn_dir: $(head -1 "$tmp/learn.out")"
dpkg -L llmspam >"$tmp/files"

if [ -n "$cudadeb" ]; then
    dpkg -i "$cudadeb" >"$tmp/install-cuda.log" 2>&1
    ok $? "dpkg -i llmspam-cuda" || sed 's/^/# /' "$tmp/install-cuda.log"
    dpkg -L llmspam-cuda >>"$tmp/files"
fi

# ---- remove, purge ----
pkgs=llmspam
[ -n "$cudadeb" ] && pkgs="llmspam-cuda llmspam"
# shellcheck disable=SC2086
dpkg --remove $pkgs >"$tmp/remove.log" 2>&1
ok $? "dpkg --remove $pkgs" || sed 's/^/# /' "$tmp/remove.log"
[ -f /etc/llmspam.conf ] && ! [ -e /usr/sbin/llmspam-milter ]
ok $? "remove keeps /etc/llmspam.conf, removes the daemon"
# shellcheck disable=SC2086
dpkg --purge $pkgs >"$tmp/purge.log" 2>&1
ok $? "dpkg --purge $pkgs" || sed 's/^/# /' "$tmp/purge.log"
installed=no
! getent passwd llmspam >/dev/null && ! getent group llmspam >/dev/null
ok $? "purge removed the user and group llmspam"
! [ -e /etc/llmspam.conf ]
ok $? "purge removed /etc/llmspam.conf"
! [ -e /var/lib/llmspam ]
ok $? "purge removed /var/lib/llmspam (learn_dir)"
! [ -e /etc/systemd/system/multi-user.target.wants/llmspam-milter.service ]
ok $? "purge removed the unit's enablement"
left=""
while IFS= read -r f; do
    [ -d "$f" ] && continue # directories shared with other packages (/lib, /etc)
    if [ -e "$f" ] || [ -L "$f" ]; then left="$left $f"; fi
done <"$tmp/files"
[ -z "$left" ] && ! [ -e /usr/share/llmspam ] && ! [ -e /etc/llmspam.conf.dpkg-dist ]
ok $? "no file of the packages is left${left:+:$left}"
dpkg-query -W -f='${Status}' llmspam 2>/dev/null | grep -q 'ok installed'
[ $? -ne 0 ]
ok $? "dpkg no longer lists llmspam"

done_testing
