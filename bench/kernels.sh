#!/bin/sh
# bench/kernels.sh: each kernel table this CPU can run against the portable
# one, side by side in one run (bench/kernels_bench.c): one layer's
# attention at the Llama-3.2-1B shape over 512 tokens, RMSNorm, SiLU*mul.
# Run by `make bench`; environment: top_builddir.
set -e
: "${top_builddir:?}"
nice_cmd=""
if nice -n -5 true 2>/dev/null; then nice_cmd="nice -n -5"; fi
echo "\$ bench/kernels_bench -t 512 -r 5"
$nice_cmd "$top_builddir/bench/kernels_bench" -t 512 -r 5
