#!/bin/sh
# checkpoint_fuzz.sh: fuzzes checkpoint_open() (config.json, safetensors,
# index.json; fuzz/fuzz_checkpoint.c) for 5 seconds from the committed seeds
# (fuzz/corpus/checkpoint). See t/lib/fuzz.sh.
. "$top_srcdir/t/lib/tap.sh"
. "$top_srcdir/t/lib/fuzz.sh"
fuzz_setup
s=$top_srcdir
# shellcheck disable=SC2046
fuzz_build fuzz_checkpoint $(pkg-config --cflags libcjson) \
    "$s/fuzz/fuzz_checkpoint.c" "$s/engine/checkpoint.c" "$s/engine/safetensors.c" \
    "$s/engine/llama_config.c" "$s/engine/status.c" "$s/engine/file.c" $(pkg-config --libs libcjson) -lm
fuzz_run fuzz_checkpoint -max_len=8192 -dict="$s/fuzz/checkpoint.dict" "$s/fuzz/corpus/checkpoint"
done_testing
