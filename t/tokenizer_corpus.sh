# tokenizer_corpus.sh: the committed samples of Hugging Face tokenizers' ids for
# the SpamAssassin corpus (every 20th message), for Llama 3's tokenizer and
# SmolLM2's. The ids carry their text, so the check runs anywhere: decode them,
# encode again, compare (with and without the special tokens, and truncated); a
# message with a byte SmolLM2 has no token for is committed with its text. Where
# ../shared is present the message files are encoded too.
. "$top_srcdir/t/lib/tap.sh"
command -v gzip >/dev/null 2>&1 || skip_all "gzip not installed"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
corpus=
sd=$(shared_dir)
[ -n "$sd" ] && [ -d "$sd/corpus/spamassassin" ] && corpus="--corpus $sd/corpus/spamassassin"
[ -n "$corpus" ] || diag "no ../shared: checking the ids' own text only"
d=$top_srcdir/t/data/tokenizer
for which in llama3 smollm2; do
	if [ $which = llama3 ]; then
		sample=$d/corpus-sample.tsv.gz tok=$top_srcdir/models/tokenizer/tokenizer.json
	else
		sample=$d/$which/corpus-sample.tsv.gz tok=$d/$which/tokenizer.json
	fi
	gzip -dc "$sample" > "$tmp/sample.tsv"
	ok $? "$which: decompress the corpus sample"
	# The C checker speaks TAP too; keep its summary line.
	"$top_builddir/t/test_tokenizer" --tokenizer "$tok" $corpus "$tmp/sample.tsv" > "$tmp/out" 2>&1
	rc=$?
	grep '^#' "$tmp/out"
	grep -v '^#' "$tmp/out" | grep -v '^1\.\.' | sed 's/^\(not \)\{0,1\}ok [0-9]* - //' > "$tmp/lines"
	grep '^not ok' "$tmp/out" >/dev/null; bad=$?
	[ $rc -eq 0 ] && [ $bad -ne 0 ]
	ok $? "$which: corpus sample identical to the reference: $(tail -1 "$tmp/lines")"
done
done_testing
