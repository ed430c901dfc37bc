#!/bin/sh
# mime_corpus.sh: every message of ../shared/corpus/spamassassin (6046) and
# of ../shared/mime-fixtures renders without an error and without a word on
# stderr (GMime and libxml2 must stay quiet on malformed mail); each JSON
# line names its file. Under --enable-sanitizers this is the ASan/UBSan run.
. "$top_srcdir/t/lib/tap.sh"
shared=$(shared_dir)
[ -n "$shared" ] && [ -d "$shared/corpus/spamassassin" ] || skip_all "no ../shared corpus"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
for set in corpus/spamassassin mime-fixtures; do
    find "$shared/$set" -type f ! -name PROVENANCE.txt | LC_ALL=C sort > "$tmp/list"
    n=$(wc -l < "$tmp/list")
    tr '\n' '\0' < "$tmp/list" | xargs -0 "$LLMSPAM" extract --json > "$tmp/out" 2> "$tmp/err"
    ok $? "$set: $n files extract with exit 0"
    lines=$(wc -l < "$tmp/out")
    [ "$lines" -eq "$n" ]
    ok $? "$set: one JSON line per file ($lines of $n)"
    [ ! -s "$tmp/err" ]
    ok $? "$set: nothing on stderr"
    head -5 "$tmp/err" | sed 's/^/# /'
    grep -c '"file":"' "$tmp/out" > "$tmp/c"
    [ "$(cat "$tmp/c")" -eq "$n" ]
    ok $? "$set: every line has its file name"
done
if [ -d "$shared/corpus/spamassassin/spam" ]; then
    n=$(find "$shared/corpus/spamassassin/ham" "$shared/corpus/spamassassin/spam" -type f | wc -l)
    [ "$n" -eq 6046 ]
    ok $? "the corpus holds 6046 messages ($n)"
fi
done_testing
