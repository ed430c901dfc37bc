# classify.sh: llmspam classify renders a message file exactly as the milter
# and llmspam extract do (the train/serve contract), takes plain text with
# --text and token ids with --ids, and refuses bad input with a message.
. "$top_srcdir/t/lib/tap.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$LLMSPAM" mkmodel --preset tiny --seed 11 --tokenizer "$top_srcdir/models/tokenizer/tokenizer.json" \
    "$tmp/m" >/dev/null 2>&1
ok $? "tiny model generated"
score() { sed -n 's/.*"score":\([-0-9.eE+]*\).*/\1/p' "$1"; }
tokens() { sed -n 's/.*"tokens":\([0-9]*\).*/\1/p' "$1"; }

msg="$top_srcdir/t/miltertest/msg/b.eml"
"$LLMSPAM" classify --model "$tmp/m" --json --threads 1 "$msg" >"$tmp/msg.json"
ok $? "a message file classifies"
# extract prints the rendering plus one newline
"$LLMSPAM" extract "$msg" | head -c -1 >"$tmp/text"
"$LLMSPAM" classify --model "$tmp/m" --json --threads 1 --text "$tmp/text" >"$tmp/text.json"
ok $? "--text classifies the rendering"
[ -n "$(score "$tmp/msg.json")" ] && [ "$(score "$tmp/msg.json")" = "$(score "$tmp/text.json")" ] &&
    [ "$(tokens "$tmp/msg.json")" = "$(tokens "$tmp/text.json")" ]
ok $? "message = extract | classify --text (score $(score "$tmp/msg.json"), $(tokens "$tmp/msg.json") tokens)"

"$LLMSPAM" classify --model "$tmp/m" --json --threads 1 --text "$msg" >"$tmp/raw.json"
[ "$(tokens "$tmp/raw.json")" != "$(tokens "$tmp/msg.json")" ]
ok $? "--text on the raw message does not render it (other tokens)"

"$LLMSPAM" classify --model "$tmp/m" --json --threads 1 --headers Subject "$msg" >"$tmp/h.json"
[ "$(tokens "$tmp/h.json")" -lt "$(tokens "$tmp/msg.json")" ]
ok $? "--headers Subject renders fewer tokens than Subject,From"

"$LLMSPAM" classify --model "$tmp/m" --json - <"$msg" >"$tmp/stdin.json"
[ "$(score "$tmp/stdin.json")" = "$(score "$tmp/msg.json")" ]
ok $? "stdin gives the same answer"

echo "128000 40 41 42" | "$LLMSPAM" classify --model "$tmp/m" --json --ids >"$tmp/ids.json"
[ "$(tokens "$tmp/ids.json")" = 4 ]
ok $? "--ids classifies 4 ids"

"$LLMSPAM" classify --model "$tmp/m" --ids --text "$msg" >/dev/null 2>&1
[ $? -eq 2 ]
ok $? "--ids with --text is a usage error"

echo "1 2 999999999" | "$LLMSPAM" classify --model "$tmp/m" --ids >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] && grep -q . "$tmp/err"
ok $? "an id past the vocabulary is refused: $(head -1 "$tmp/err")"

"$LLMSPAM" classify --model "$tmp/m" "$tmp/nonexistent" >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] && grep -q nonexistent "$tmp/err"
ok $? "a missing file is named"

"$LLMSPAM" classify --model "$tmp/nomodel" "$msg" >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] && grep -q nomodel "$tmp/err"
ok $? "a missing model directory is named"
done_testing
