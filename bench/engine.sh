#!/bin/sh
# bench/engine.sh: the whole CPU forward pass of a Llama-3.2-1B-shaped
# classifier (random weights, generated once into the build tree: 2.5 GB)
# on 512 tokens with 2 threads, as a fraction of the machine's bf16 peak
# measured in the same run; also oneDNN's GEMMs alone and peak RSS.
# Run by `make bench`; environment: top_srcdir, top_builddir, LLMSPAM.
set -e
: "${top_srcdir:?}" "${top_builddir:?}" "${LLMSPAM:?}"
dir="$top_builddir/bench-models/llama-3.2-1b"
if [ ! -f "$dir/model.safetensors" ] || [ ! -f "$dir/config.json" ]; then
	echo "generating $dir (once)"
	rm -rf "$dir.tmp"
	mkdir -p "$top_builddir/bench-models"
	"$LLMSPAM" mkmodel --preset llama-3.2-1b --seed 1 \
		--tokenizer "$top_srcdir/models/tokenizer/tokenizer.json" "$dir.tmp"
	rm -rf "$dir"
	mv "$dir.tmp" "$dir"
fi
# Other work shares the machine: a higher priority where allowed, and the
# ratio to the peak probe of the same run is the figure that counts.
nice_cmd=""
if nice -n -5 true 2>/dev/null; then nice_cmd="nice -n -5"; fi
echo "\$ llmspam bench --model $dir --tokens 512 --threads 2 --runs 3"
$nice_cmd "$LLMSPAM" bench --model "$dir" --tokens 512 --threads 2 --runs 3
$nice_cmd "$LLMSPAM" bench --model "$dir" --tokens 512 --threads 2 --runs 3 --json
