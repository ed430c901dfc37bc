# fuzz.sh: the short libFuzzer runs of make check. Source it after tap.sh.
#   fuzz_setup                    skip unless clang has a libFuzzer runtime;
#                                 makes $tmp (removed at exit)
#   fuzz_build NAME ARGS...       clang ARGS with libFuzzer, ASan and UBSan
#                                 into $tmp/NAME (one test point)
#   fuzz_run NAME ARGS...         run $tmp/NAME for 5 seconds with ARGS
#                                 (libFuzzer flags, seed dirs) (one test point)
# Any crash, leak, UB report or broken contract (the fuzzer's own checks)
# fails; the run's statistics go to the TAP log.
CLANG=${CLANG:-clang}

fuzz_setup() {
    command -v "$CLANG" >/dev/null 2>&1 || skip_all "no clang"
    command -v pkg-config >/dev/null 2>&1 || skip_all "no pkg-config"
    tmp=$(mktemp -d) || exit 1
    trap 'rm -rf "$tmp"' EXIT
    echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }' >"$tmp/probe.c"
    "$CLANG" -fsanitize=fuzzer "$tmp/probe.c" -o "$tmp/probe" >/dev/null 2>&1 ||
        skip_all "clang has no libFuzzer runtime"
    mkdir "$tmp/work"
}

fuzz_build() {
    name=$1
    shift
    "$CLANG" -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
        -fno-sanitize-recover=undefined -I"$top_srcdir" -I"$top_builddir" \
        "$@" -o "$tmp/$name" 2>"$tmp/cc.log"
    ok $? "$name builds with -fsanitize=fuzzer,address,undefined"
    sed 's/^/# /' "$tmp/cc.log" | head -20
}

fuzz_run() {
    name=$1
    shift
    # the first corpus directory receives new inputs: $tmp/work, never the seeds
    "$tmp/$name" -max_total_time=5 -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$tmp/" \
        "$tmp/work" "$@" >"$tmp/fuzz.log" 2>&1
    rc=$?
    ok $rc "5 seconds of fuzzing: no crash, leak, UB or broken contract"
    [ $rc -eq 0 ] || tail -40 "$tmp/fuzz.log" | sed 's/^/# /'
    grep -E '^Done [0-9]+ runs' "$tmp/fuzz.log" | sed 's/^/# /'
}
