#!/bin/sh
# tokenizer_fuzz.sh: fuzzes the tokenizer (fuzz/fuzz_tokenizer.c) for 5
# seconds from the committed seeds (fuzz/corpus/tokenizer). See t/lib/fuzz.sh.
. "$top_srcdir/t/lib/tap.sh"
. "$top_srcdir/t/lib/fuzz.sh"
fuzz_setup
s=$top_srcdir
# shellcheck disable=SC2046
fuzz_build fuzz_tokenizer $(pkg-config --cflags libcjson libpcre2-8) \
    "$s/fuzz/fuzz_tokenizer.c" "$s/engine/tokenizer.c" "$s/engine/tokjson.c" "$s/engine/bpe_load.c" \
    "$s/engine/added_tokens.c" "$s/engine/postprocessor.c" "$s/engine/pretokenizer.c" \
    "$s/engine/pretokenizer_classes.c" "$s/engine/bpe.c" "$s/engine/status.c" \
    $(pkg-config --libs libcjson libpcre2-8) -lpthread
TOKENIZER_JSON="$s/models/tokenizer/tokenizer.json"
export TOKENIZER_JSON
fuzz_run fuzz_tokenizer -max_len=4096 -dict="$s/fuzz/tokenizer.dict" "$s/fuzz/corpus/tokenizer"
done_testing
