#!/bin/sh
# tokenizer_fuzz.sh: fuzzes the tokenizer (fuzz/fuzz_tokenizer.c) for 5
# seconds from the committed seeds (fuzz/corpus/tokenizer), with Llama 3's
# tokenizer.json and then SmolLM2's. See t/lib/fuzz.sh.
. "$top_srcdir/t/lib/tap.sh"
. "$top_srcdir/t/lib/fuzz.sh"
fuzz_setup
s=$top_srcdir
# shellcheck disable=SC2046
fuzz_build fuzz_tokenizer $(pkg-config --cflags libcjson libpcre2-8) \
    "$s/fuzz/fuzz_tokenizer.c" "$s/engine/tokenizer.c" "$s/engine/tokjson.c" "$s/engine/bpe_load.c" \
    "$s/engine/added_tokens.c" "$s/engine/postprocessor.c" "$s/engine/pretokenizer.c" \
    "$s/engine/pretokenizer_classes.c" "$s/engine/bpe.c" "$s/engine/status.c" "$s/engine/file.c" \
    $(pkg-config --libs libcjson libpcre2-8) -lpthread
for TOKENIZER_JSON in "$s/models/tokenizer/tokenizer.json" "$s/t/data/tokenizer/smollm2/tokenizer.json"; do
	export TOKENIZER_JSON
	diag "tokenizer: $TOKENIZER_JSON"
	rm -rf "$tmp/work" && mkdir "$tmp/work"
	fuzz_run fuzz_tokenizer -max_len=4096 -dict="$s/fuzz/tokenizer.dict" "$s/fuzz/corpus/tokenizer"
done
done_testing
