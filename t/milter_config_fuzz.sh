#!/bin/sh
# milter_config_fuzz.sh: builds fuzz/fuzz_milter_config.c with clang's
# libFuzzer, ASan and UBSan, and fuzzes the llmspam.conf parser, the
# trusted_networks list and the socket syntax for 5 seconds from the
# committed seeds (fuzz/corpus/milter_config). Any crash, leak, UB report
# or broken contract (see the fuzzer's header) fails. Skips where clang or
# its fuzzer runtime is absent.
. "$top_srcdir/t/lib/tap.sh"
CLANG=${CLANG:-clang}
command -v "$CLANG" > /dev/null 2>&1 || skip_all "no clang"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }' > "$tmp/probe.c"
"$CLANG" -fsanitize=fuzzer "$tmp/probe.c" -o "$tmp/probe" > /dev/null 2>&1 || skip_all "clang has no libFuzzer runtime"
s=$top_srcdir
"$CLANG" -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$s" -I"$top_builddir" \
    "$s/fuzz/fuzz_milter_config.c" "$s/milter/config.c" "$s/milter/cidr.c" "$s/milter/socketspec.c" \
    -lm -o "$tmp/fuzz_milter_config" 2> "$tmp/cc.log"
ok $? "fuzz_milter_config builds with -fsanitize=fuzzer,address,undefined"
sed 's/^/# /' "$tmp/cc.log" | head -20
mkdir "$tmp/work"
"$tmp/fuzz_milter_config" -max_total_time=5 -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$tmp/" "$tmp/work" "$s/fuzz/corpus/milter_config" > "$tmp/fuzz.log" 2>&1
rc=$?
ok $rc "5 seconds of fuzzing: no crash, leak, UB or broken contract"
[ $rc -eq 0 ] || tail -40 "$tmp/fuzz.log" | sed 's/^/# /'
grep -E '^Done [0-9]+ runs' "$tmp/fuzz.log" | sed 's/^/# /'
done_testing
