# tokenizer_corpus.sh: the committed sample of Hugging Face tokenizers' ids for
# the SpamAssassin corpus (every 20th message). The ids carry their text, so the
# check runs anywhere: decode them, encode again, compare (with and without BOS,
# and truncated). Where ../shared is present the message files are encoded too.
. "$top_srcdir/t/lib/tap.sh"
command -v gzip >/dev/null 2>&1 || skip_all "gzip not installed"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
gzip -dc "$top_srcdir/t/data/tokenizer/corpus-sample.tsv.gz" > "$tmp/sample.tsv"
ok $? "decompress the corpus sample"
corpus=
sd=$(shared_dir)
[ -n "$sd" ] && [ -d "$sd/corpus/spamassassin" ] && corpus="--corpus $sd/corpus/spamassassin"
[ -n "$corpus" ] || diag "no ../shared: checking the ids' own text only"
# The C checker speaks TAP too; renumber its lines into ours.
"$top_builddir/t/test_tokenizer" $corpus "$tmp/sample.tsv" > "$tmp/out" 2>&1
rc=$?
grep '^#' "$tmp/out"
grep -v '^#' "$tmp/out" | grep -v '^1\.\.' | sed 's/^\(not \)\{0,1\}ok [0-9]* - //' > "$tmp/lines"
grep '^not ok' "$tmp/out" >/dev/null; bad=$?
[ $rc -eq 0 ] && [ $bad -ne 0 ]
ok $? "corpus sample identical to the reference: $(tail -1 "$tmp/lines")"
done_testing
