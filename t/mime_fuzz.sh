#!/bin/sh
# mime_fuzz.sh: builds fuzz/fuzz_mime.c with clang's libFuzzer, ASan and
# UBSan, and fuzzes mime_render() for 5 seconds from the committed seeds
# (t/data/mime and fuzz/corpus/mime). Any crash, leak, UB report or broken
# output contract fails. Skips where clang or its fuzzer runtime is absent.
. "$top_srcdir/t/lib/tap.sh"
CLANG=${CLANG:-clang}
command -v "$CLANG" > /dev/null 2>&1 || skip_all "no clang"
command -v pkg-config > /dev/null 2>&1 || skip_all "no pkg-config"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }' > "$tmp/probe.c"
"$CLANG" -fsanitize=fuzzer "$tmp/probe.c" -o "$tmp/probe" > /dev/null 2>&1 || skip_all "clang has no libFuzzer runtime"
# shellcheck disable=SC2046
"$CLANG" -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$top_srcdir" $(pkg-config --cflags gmime-3.0 libxml-2.0) \
    "$top_srcdir/fuzz/fuzz_mime.c" "$top_srcdir"/mime/render.c "$top_srcdir"/mime/text.c \
    "$top_srcdir"/mime/charset.c "$top_srcdir"/mime/html.c "$top_srcdir"/engine/status.c \
    $(pkg-config --libs gmime-3.0 libxml-2.0) -lpthread -o "$tmp/fuzz_mime" 2> "$tmp/cc.log"
ok $? "fuzz_mime builds with -fsanitize=fuzzer,address,undefined"
sed 's/^/# /' "$tmp/cc.log" | head -20
mkdir "$tmp/work"
seeds="$top_srcdir/t/data/mime"
[ -d "$top_srcdir/fuzz/corpus/mime" ] && seeds="$seeds $top_srcdir/fuzz/corpus/mime"
# shellcheck disable=SC2086
"$tmp/fuzz_mime" -max_total_time=5 -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -dict="$top_srcdir/fuzz/mime.dict" -artifact_prefix="$tmp/" "$tmp/work" $seeds > "$tmp/fuzz.log" 2>&1
rc=$?
ok $rc "5 seconds of fuzzing: no crash, leak, UB or broken contract"
[ $rc -eq 0 ] || tail -40 "$tmp/fuzz.log" | sed 's/^/# /'
grep -E '^Done [0-9]+ runs' "$tmp/fuzz.log" | sed 's/^/# /'
done_testing
