#!/bin/sh
# tokenizer_full.sh: `make check-tokenizer-full`: every message of
# ../shared/corpus/spamassassin against fresh reference ids from Hugging Face
# tokenizers (t/ref/make_tokenizer_refs.py corpus-full, about a minute), with
# and without BOS and truncated. The full reference (about 130 MB of text) is
# not committed: it is made here, so this needs the venv; it skips without it
# or without ../shared. CI runs the committed sample (t/tokenizer_corpus.sh).
. "$top_srcdir/t/lib/tap.sh"
PY=${LLMSPAM_PYTHON:-/opt/llmspam-venv/bin/python}
sd=$(shared_dir)
[ -n "$sd" ] && [ -d "$sd/corpus/spamassassin" ] || skip_all "no ../shared/corpus/spamassassin"
[ -x "$PY" ] && "$PY" -c 'import tokenizers' 2>/dev/null || skip_all "no Python with tokenizers at $PY"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
"$PY" "$top_srcdir/t/ref/make_tokenizer_refs.py" corpus-full > "$tmp/full.tsv"
ok $? "reference ids for the whole corpus ($(wc -l < "$tmp/full.tsv") messages)"
"$top_builddir/t/test_tokenizer" "$tmp/full.tsv" > "$tmp/out" 2>&1
rc=$?
sed 's/^/# /' "$tmp/out" | grep -v '^# ok' | head -30
ok $rc "$(grep -o '[0-9]* of [0-9]* cases identical[^)]*)' "$tmp/out")"
done_testing
