# tap.sh: TAP helpers for shell tests. Source it, call ok/skip, end with done_testing.
# A test that cannot run (no ../shared, no GPU) calls skip_all, which exits 77.
_tap_n=0
_tap_failed=0
ok() { # ok CONDITION-STATUS DESCRIPTION
    _tap_n=$((_tap_n + 1))
    if [ "$1" -eq 0 ]; then echo "ok $_tap_n - $2"; else echo "not ok $_tap_n - $2"; _tap_failed=$((_tap_failed + 1)); fi
    [ "$1" -eq 0 ] # so that "ok $? desc || diagnose" diagnoses
}
diag() { printf '# %s\n' "$*"; }
skip() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n # SKIP $1"; }
skip_all() { echo "1..0 # SKIP $1"; exit 77; }
done_testing() { echo "1..$_tap_n"; [ "$_tap_failed" -eq 0 ]; exit $?; }
# shared_dir: where ../shared is, or empty.
shared_dir() {
    for d in "${LLMSPAM_SHARED:-}" "$top_srcdir/../shared"; do
        [ -n "$d" ] && [ -d "$d" ] && { (cd "$d" && pwd); return; }
    done
}
