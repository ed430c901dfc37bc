#!/bin/sh
# mime_golden.sh: golden renderings. For every t/data/mime/NAME.eml, the
# output of "llmspam extract NAME.eml" must equal the committed NAME.txt
# byte for byte (the rendering is the train/serve contract: a change here
# means the shipped model must be retrained). Set MIME_GOLDEN_REGEN=1 to
# rewrite the .txt files after an intended change, then review the diff.
. "$top_srcdir/t/lib/tap.sh"
dir="$top_srcdir/t/data/mime"
tmp=$(mktemp) || exit 1
trap 'rm -f "$tmp"' EXIT
n=0
for msg in "$dir"/*.eml; do
    name=$(basename "$msg" .eml)
    n=$((n + 1))
    "$LLMSPAM" extract "$msg" > "$tmp" 2>&1
    rc=$?
    if [ "${MIME_GOLDEN_REGEN:-0}" = 1 ]; then
        cp "$tmp" "$dir/$name.txt"
        skip "$name regenerated, not compared"
    elif [ $rc -eq 0 ] && cmp -s "$tmp" "$dir/$name.txt"; then
        ok 0 "$name"
    else
        ok 1 "$name (exit $rc)"
        diff -u "$dir/$name.txt" "$tmp" | head -40 | sed 's/^/# /'
    fi
done
[ "$n" -ge 40 ]
ok $? "at least 40 golden fixtures ($n)"
done_testing
