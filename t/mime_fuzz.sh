#!/bin/sh
# mime_fuzz.sh: fuzzes mime_render() (fuzz/fuzz_mime.c) for 5 seconds from
# the committed seeds (t/data/mime and fuzz/corpus/mime). See t/lib/fuzz.sh.
. "$top_srcdir/t/lib/tap.sh"
. "$top_srcdir/t/lib/fuzz.sh"
fuzz_setup
s=$top_srcdir
# shellcheck disable=SC2046
fuzz_build fuzz_mime $(pkg-config --cflags gmime-3.0 libxml-2.0) \
    "$s/fuzz/fuzz_mime.c" "$s/mime/render.c" "$s/mime/text.c" "$s/mime/charset.c" \
    "$s/mime/html.c" "$s/engine/status.c" $(pkg-config --libs gmime-3.0 libxml-2.0) -lpthread
seeds="$s/t/data/mime"
[ -d "$s/fuzz/corpus/mime" ] && seeds="$seeds $s/fuzz/corpus/mime"
# shellcheck disable=SC2086
fuzz_run fuzz_mime -max_len=65536 -dict="$s/fuzz/mime.dict" $seeds
done_testing
