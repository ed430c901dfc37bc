#!/bin/sh
# milter_config_fuzz.sh: fuzzes the llmspam.conf parser, the
# trusted_networks list and the socket syntax (fuzz/fuzz_milter_config.c)
# for 5 seconds from the committed seeds (fuzz/corpus/milter_config).
# See t/lib/fuzz.sh.
. "$top_srcdir/t/lib/tap.sh"
. "$top_srcdir/t/lib/fuzz.sh"
fuzz_setup
s=$top_srcdir
fuzz_build fuzz_milter_config "$s/fuzz/fuzz_milter_config.c" "$s/milter/llmspam_conf.c" \
    "$s/milter/cidr.c" "$s/milter/socketspec.c" -lm
fuzz_run fuzz_milter_config -max_len=4096 "$s/fuzz/corpus/milter_config"
done_testing
