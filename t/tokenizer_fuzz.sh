#!/bin/sh
# tokenizer_fuzz.sh: builds fuzz/fuzz_tokenizer.c with clang's libFuzzer,
# ASan and UBSan, and fuzzes the tokenizer for 5 seconds from the committed
# seeds (fuzz/corpus/tokenizer). Any crash, leak, UB report or broken
# contract (see the fuzzer's header) fails. Skips where clang or its fuzzer
# runtime is absent.
. "$top_srcdir/t/lib/tap.sh"
CLANG=${CLANG:-clang}
command -v "$CLANG" > /dev/null 2>&1 || skip_all "no clang"
command -v pkg-config > /dev/null 2>&1 || skip_all "no pkg-config"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }' > "$tmp/probe.c"
"$CLANG" -fsanitize=fuzzer "$tmp/probe.c" -o "$tmp/probe" > /dev/null 2>&1 || skip_all "clang has no libFuzzer runtime"
s=$top_srcdir
# shellcheck disable=SC2046
"$CLANG" -g -O1 -std=c11 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$s" -I"$top_builddir" $(pkg-config --cflags libcjson libpcre2-8) \
    "$s/fuzz/fuzz_tokenizer.c" "$s/engine/tokenizer.c" "$s/engine/pretokenizer.c" \
    "$s/engine/pretokenizer_classes.c" "$s/engine/bpe.c" "$s/engine/status.c" \
    $(pkg-config --libs libcjson libpcre2-8) -lpthread -o "$tmp/fuzz_tokenizer" 2> "$tmp/cc.log"
ok $? "fuzz_tokenizer builds with -fsanitize=fuzzer,address,undefined"
sed 's/^/# /' "$tmp/cc.log" | head -20
mkdir "$tmp/work"
TOKENIZER_JSON="$s/models/tokenizer/tokenizer.json" "$tmp/fuzz_tokenizer" -max_total_time=5 \
    -max_len=4096 -timeout=10 -rss_limit_mb=2048 -dict="$s/fuzz/tokenizer.dict" \
    -artifact_prefix="$tmp/" "$tmp/work" "$s/fuzz/corpus/tokenizer" > "$tmp/fuzz.log" 2>&1
rc=$?
ok $rc "5 seconds of fuzzing: no crash, leak, UB or broken contract"
[ $rc -eq 0 ] || tail -40 "$tmp/fuzz.log" | sed 's/^/# /'
grep -E '^Done [0-9]+ runs' "$tmp/fuzz.log" | sed 's/^/# /'
done_testing
