#!/bin/sh
# mime_extract.sh: the "llmspam extract" command line: plain and --json
# output (the JSON text equals the golden rendering), --headers,
# --max-text-bytes, --max-message-bytes, --mbox, --maildir, standard
# input, --help and the exit statuses (0 ok, 1 unreadable input, 2 usage).
. "$top_srcdir/t/lib/tap.sh"
d="$top_srcdir/t/data/mime"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

"$LLMSPAM" extract --help > "$tmp/help"
ok $? "--help exits 0"
grep -q -- '--json' "$tmp/help" && grep -q -- '--mbox' "$tmp/help" && grep -q -- '--maildir' "$tmp/help" && grep -q -- '--headers' "$tmp/help"
ok $? "--help documents --json, --headers, --mbox, --maildir"

"$LLMSPAM" extract "$d/authored-forwarded-rfc822.eml" > "$tmp/out"
cmp -s "$tmp/out" "$d/authored-forwarded-rfc822.txt"
ok $? "plain output is the golden rendering"

# --json: one line, and its text field is the golden text JSON-escaped.
"$LLMSPAM" extract --json "$d/authored-forwarded-rfc822.eml" > "$tmp/json"
[ "$(wc -l < "$tmp/json")" -eq 1 ]
ok $? "--json prints one line per message"
want=$(sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' "$d/authored-forwarded-rfc822.txt" | awk 'NR > 1 { printf "\\n" } { printf "%s", $0 }')
grep -qF "\"text\":\"$want\"" "$tmp/json"
ok $? "--json text equals the golden rendering"
grep -qF "\"file\":\"$d/authored-forwarded-rfc822.eml\"" "$tmp/json"
ok $? "--json names the file"
grep -qE '"flags":\{"html_only":false,"has_attachments":false,"truncated":false,"depth_exceeded":false,"parts_exceeded":false,"parse_defects":0,"parts":4\}' "$tmp/json"
ok $? "--json flags"
"$LLMSPAM" extract --json "$d/authored-html-only-links-hidden.eml" "$d/authored-attachments.eml" > "$tmp/json2"
[ "$(wc -l < "$tmp/json2")" -eq 2 ] && grep -q '"html_only":true' "$tmp/json2" && grep -q '"has_attachments":true' "$tmp/json2"
ok $? "--json over two files: two lines, html_only and has_attachments set"

"$LLMSPAM" extract --headers 'To, Date' "$d/authored-attachments.eml" | head -3 > "$tmp/h"
printf 'To: rcpt@example.net\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n\n' | cmp -s - "$tmp/h"
ok $? "--headers picks and orders the headers"

"$LLMSPAM" extract --max-text-bytes 40 --json "$d/authored-forwarded-rfc822.eml" > "$tmp/cap"
grep -q '"truncated":true' "$tmp/cap"
ok $? "--max-text-bytes cuts and flags"
"$LLMSPAM" extract --max-text-bytes 40 "$d/authored-forwarded-rfc822.eml" > "$tmp/cap.txt"
[ "$(wc -c < "$tmp/cap.txt")" -le 41 ]
ok $? "--max-text-bytes 40: at most 40 bytes (+ newline)"
"$LLMSPAM" extract --max-message-bytes 200 "$d/authored-forwarded-rfc822.eml" > "$tmp/pre"
! grep -q "original body" "$tmp/pre" && grep -q "Subject: Fwd: the original" "$tmp/pre"
ok $? "--max-message-bytes renders the prefix"

"$LLMSPAM" extract - < "$d/authored-qp-soft-breaks.eml" | cmp -s - "$d/authored-qp-soft-breaks.txt"
ok $? "- reads standard input"

# An mbox of three messages.
for m in authored-qp-soft-breaks authored-gbk authored-windows-1250; do
    printf 'From sender@example.org Mon Jan  1 00:00:00 2024\n'
    cat "$d/$m.eml"
    printf '\n'
done > "$tmp/box"
"$LLMSPAM" extract --json --mbox "$tmp/box" > "$tmp/mbox.json"
[ "$(wc -l < "$tmp/mbox.json")" -eq 3 ] && grep -qF "\"file\":\"$tmp/box#3\"" "$tmp/mbox.json" && grep -q '朱镕基' "$tmp/mbox.json"
ok $? "--mbox: three messages, named FILE#N"
"$LLMSPAM" extract --mbox "$tmp/box" | grep -c '^Subject:' > "$tmp/n"
[ "$(cat "$tmp/n")" -eq 3 ] && ! "$LLMSPAM" extract --mbox "$tmp/box" | grep -q '^From sender@example.org Mon'
ok $? "--mbox: the envelope From_ line is not rendered"

mkdir -p "$tmp/md/cur" "$tmp/md/new" "$tmp/md/tmp"
cp "$d/authored-gbk.eml" "$tmp/md/cur/1:2,S"
cp "$d/authored-shift_jis.eml" "$tmp/md/new/2"
"$LLMSPAM" extract --json --maildir "$tmp/md" > "$tmp/md.json"
[ "$(wc -l < "$tmp/md.json")" -eq 2 ] && grep -q "cur/1:2,S" "$tmp/md.json" && grep -q "new/2" "$tmp/md.json"
ok $? "--maildir reads cur/ and new/"

"$LLMSPAM" extract "$tmp/no-such-file" > /dev/null 2> "$tmp/err"
[ $? -eq 1 ] && grep -q "no-such-file" "$tmp/err"
ok $? "an unreadable file: exit 1, named on stderr"
"$LLMSPAM" extract > /dev/null 2>&1
[ $? -eq 2 ]
ok $? "no input: usage, exit 2"
"$LLMSPAM" extract --mbox "$tmp/box" "$d/authored-gbk.eml" > /dev/null 2>&1
[ $? -eq 2 ]
ok $? "--mbox with files: usage, exit 2"
"$LLMSPAM" extract --max-text-bytes x "$d/authored-gbk.eml" > /dev/null 2>&1
[ $? -eq 2 ]
ok $? "a bad number: exit 2"
done_testing
