# tokenizer_cli.sh: llmspam tokenize, JSON lines in and out, against ids of
# Hugging Face tokenizers (expected ids from tokenizers 0.23.3, by hand).
. "$top_srcdir/t/lib/tap.sh"
tokjson="$top_srcdir/models/tokenizer/tokenizer.json"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

printf '{"text": "Hello world"}\n{"text": ""}\n{"text": "<|begin_of_text|>"}\n' |
    "$LLMSPAM" tokenize --tokenizer "$tokjson" > "$tmp/out"
ok $? "tokenize exits 0"
printf '{"ids": [128000, 9906, 1917]}\n{"ids": [128000]}\n{"ids": [128000, 27, 91, 7413, 3659, 4424, 91, 29]}\n' > "$tmp/want"
cmp -s "$tmp/out" "$tmp/want"
ok $? "BOS + ids, one line per input, special-token text as text"

printf '{"text": "Hello world"}\n' | "$LLMSPAM" tokenize --tokenizer "$tokjson" --no-special > "$tmp/out"
[ "$(cat "$tmp/out")" = '{"ids": [9906, 1917]}' ]
ok $? "--no-special"

printf '{"text": "Hello world again"}\n' | "$LLMSPAM" tokenize --tokenizer "$tokjson" --max-tokens 2 > "$tmp/out"
[ "$(cat "$tmp/out")" = '{"ids": [128000, 9906]}' ]
ok $? "--max-tokens counts BOS"

printf '{"text": "a\\u0000b\\ud83d\\ude00 \\u00e9", "id": [1, {"x": "}"}]}\n' |
    "$LLMSPAM" tokenize --tokenizer "$tokjson" --no-special > "$tmp/out"
[ "$(cat "$tmp/out")" = '{"ids": [64, 188, 65, 76460, 222, 4046]}' ]
ok $? "JSON escapes: NUL, surrogate pair, other members ($(cat "$tmp/out"))"

printf 'not json\n' | "$LLMSPAM" tokenize --tokenizer "$tokjson" > "$tmp/out" 2> "$tmp/err"
[ $? -eq 1 ] && grep -q 'line 1' "$tmp/err"
ok $? "bad input line: exit 1 naming the line"

"$LLMSPAM" tokenize --tokenizer /nonexistent.json < /dev/null 2> "$tmp/err"
[ $? -eq 1 ] && grep -q nonexistent "$tmp/err"
ok $? "missing tokenizer: exit 1 naming the file"

"$LLMSPAM" tokenize --bogus < /dev/null 2>/dev/null
[ $? -eq 2 ]
ok $? "unknown option: exit 2"

"$LLMSPAM" tokenize --help | grep -q -- --max-tokens
ok $? "--help documents --max-tokens"

done_testing
