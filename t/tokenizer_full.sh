#!/bin/sh
# tokenizer_full.sh: `make check-tokenizer-full`: every message of
# ../shared/corpus/spamassassin against fresh reference ids from Hugging Face
# tokenizers (t/ref/make_tokenizer_refs.py corpus-full, about a minute per
# tokenizer), with and without the special tokens and truncated, for Llama 3's
# tokenizer and SmolLM2's. The full references (about 130 MB of text each) are
# not committed: they are made here, so this needs the venv; it skips without
# it or without ../shared. CI runs the committed samples (t/tokenizer_corpus.sh).
. "$top_srcdir/t/lib/tap.sh"
PY=${LLMSPAM_PYTHON:-/opt/llmspam-venv/bin/python}
sd=$(shared_dir)
[ -n "$sd" ] && [ -d "$sd/corpus/spamassassin" ] || skip_all "no ../shared/corpus/spamassassin"
[ -x "$PY" ] && "$PY" -c 'import tokenizers' 2>/dev/null || skip_all "no Python with tokenizers at $PY"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
for which in llama3 smollm2; do
	if [ $which = llama3 ]; then
		tok=$top_srcdir/models/tokenizer/tokenizer.json
	else
		tok=$top_srcdir/t/data/tokenizer/$which/tokenizer.json
	fi
	"$PY" "$top_srcdir/t/ref/make_tokenizer_refs.py" --tokenizer $which corpus-full > "$tmp/full.tsv"
	ok $? "$which: reference ids for the whole corpus ($(wc -l < "$tmp/full.tsv") messages)"
	"$top_builddir/t/test_tokenizer" --tokenizer "$tok" "$tmp/full.tsv" > "$tmp/out" 2>&1
	rc=$?
	sed 's/^/# /' "$tmp/out" | grep -v '^# ok' | head -30
	ok $rc "$which: $(grep -o '[0-9]* of [0-9]* cases identical[^)]*)' "$tmp/out")"
done
done_testing
