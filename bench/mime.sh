#!/bin/sh
# bench/mime.sh: single-thread throughput of the rendering (mime_render)
# over the whole SpamAssassin corpus read into memory first: messages/s,
# MB/s of raw mail, the share of time in the HTML conversion, and GMime's
# parse alone measured side by side in the same run. Target: >= 50 MB/s.
# Run by `make bench`; environment: top_srcdir, top_builddir.
set -e
: "${top_srcdir:?}" "${top_builddir:?}"
corpus="${LLMSPAM_SHARED:-$top_srcdir/../shared}/corpus/spamassassin"
if [ ! -d "$corpus" ]; then
	echo "bench/mime.sh: no corpus at $corpus; using t/data/mime"
	corpus="$top_srcdir/t/data/mime"
fi
nice_cmd=""
if nice -n -5 true 2>/dev/null; then nice_cmd="nice -n -5"; fi
echo "\$ bench/mime_bench -r 5 $corpus"
$nice_cmd "$top_builddir/bench/mime_bench" -r 5 "$corpus"
