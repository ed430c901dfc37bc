#!/bin/sh
# learn.sh: llmspam learn and the learn store: files, directories, maildirs
# and mboxes stored with their label, duplicates found by Message-ID and by
# body, a second vote flips the label (and is logged), bad input is refused
# with a reason and never half-stored, a write that fails (file size limit,
# as a full disk) leaves the store as it was; llmspam eval --learn-dir
# reads the store; and the milter's keep_recent: X-Spam-Id stamped,
# learn --id finds the kept copy, the bound and the age limit hold.
. "$top_srcdir/t/lib/tap.sh"
. "$top_srcdir/t/lib/milter.sh"
[ -x "$LLMSPAM" ] || skip_all "llmspam not built"

T=$(mktemp -d /tmp/llmspam-learn.XXXXXX)
MILTER_PID=
cleanup() {
    [ -n "$MILTER_PID" ] && kill -TERM "$MILTER_PID" 2>/dev/null && wait "$MILTER_PID" 2>/dev/null
    [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
chmod 755 "$T"
MSG="$top_srcdir/t/miltertest/msg"
S="$T/store"
learn() { "$LLMSPAM" learn --learn-dir "$S" "$@"; }
count() { find "$S/$1" -name '*.eml' 2>/dev/null | wc -l | tr -d ' '; }

# ---- one file, again, then the other label ----
learn --spam "$MSG/b.eml" >"$T/o1" 2>&1
ok $? "learn --spam FILE"
grep -Eq '^stored spam [0-9a-f]{16} <[^>]+> .*b\.eml$' "$T/o1" && grep -q '^learn: 1 stored, 0 flipped, 0 unchanged, 0 failed' "$T/o1"
ok $? "it prints what it stored: $(head -1 "$T/o1")"
key=$(awk '/^stored/ { print $3 }' "$T/o1")
cmp -s "$S/spam/$key.eml" "$MSG/b.eml"
ok $? "the raw message is in spam/KEY.eml, byte for byte"
learn --spam "$MSG/b.eml" >"$T/o2" 2>&1
ok $? "the same message again"
grep -q "^unchanged spam $key " "$T/o2" && [ "$(count spam)" = 1 ]
ok $? "is recognized and not stored twice"
learn --ham "$MSG/b.eml" >"$T/o3" 2>&1
ok $? "learn --ham on it"
grep -q "^flipped spam->ham $key " "$T/o3" && [ -f "$S/ham/$key.eml" ] && [ "$(count spam)" = 0 ]
ok $? "a second vote flips the label (moved to ham/)"
grep -Eq "^[0-9T:-]+Z flipped spam->ham $key msgid=<win-77@lottery.example> source=.*b.eml$" "$S/learn.log"
ok $? "and the flip is logged in learn.log"

# ---- duplicates: same Message-ID other body; same body other Message-ID ----
sed 's/^Hi all,$/Hello everyone,/' "$MSG/a.eml" >"$T/a-reencoded.eml"
sed 's/^Message-ID: .*/Message-ID: <other-copy@example.org>/' "$MSG/a.eml" | sed 's/$/\r/' >"$T/a-crlf-otherid.eml"
learn --spam "$MSG/a.eml" >/dev/null 2>&1
learn --spam "$T/a-reencoded.eml" >"$T/o4" 2>&1
grep -q '^unchanged spam .*same Message-ID' "$T/o4"
ok $? "same Message-ID, other body: the same message"
learn --spam "$T/a-crlf-otherid.eml" >"$T/o5" 2>&1
grep -q '^unchanged spam ' "$T/o5" && [ "$(count spam)" = 1 ]
ok $? "same body (CRLF line ends), other Message-ID: the same message"

# ---- a directory, a maildir, an mbox ----
mkdir -p "$T/dir" "$T/md/cur" "$T/md/new" "$T/md/tmp"
cp "$MSG/c.eml" "$T/dir/1"
cp "$MSG/d.eml" "$T/md/cur/1:2,S"
printf 'Subject: maildir new\nMessage-ID: <new-1@example.org>\n\nfresh body\n' >"$T/md/new/2"
learn --ham "$T/dir" "$T/md" >"$T/o6" 2>&1
ok $? "learn --ham DIR MAILDIR"
grep -q '^learn: 3 stored' "$T/o6"
ok $? "a directory and a maildir (cur/ and new/): 3 stored"
{
    printf 'From a@example.org Mon Nov 30 10:00:00 2026\n'
    printf 'Subject: first in mbox\nMessage-ID: <mbox-1@example.org>\n\nbody one\n>From here on, a quoted From line\n\n'
    printf 'From b@example.org Mon Nov 30 11:00:00 2026\n'
    printf 'Subject: second in mbox\nMessage-ID: <mbox-2@example.org>\n\nbody two\n'
} >"$T/box.mbox"
learn --spam "$T/box.mbox" >"$T/o7" 2>&1
ok $? "learn --spam MBOX"
grep -q '^learn: 2 stored' "$T/o7" && grep -q 'box.mbox#2$' "$T/o7"
ok $? "two messages split out of the mbox"
f=$(grep -l 'first in mbox' "$S"/spam/*.eml)
[ -n "$f" ] && head -1 "$f" | grep -q '^Subject: first in mbox' && grep -q '^From here on, a quoted From line$' "$f"
ok $? "stored without the From line, >From unescaped"

# ---- bad input ----
printf 'this is not a mail message\njust text\n' >"$T/noheader.txt"
before=$(find "$S" -type f | sort | xargs cat | sha256sum)
learn --spam "$T/noheader.txt" "$T/missing.eml" "$MSG/c.eml" >"$T/o8" 2>"$T/e8"
[ $? -eq 1 ]
ok $? "bad inputs: exit status 1"
grep -q 'noheader.txt: no header at the start' "$T/e8" && grep -q 'missing.eml: No such file or directory' "$T/e8"
ok $? "with a reason for each: $(tr '\n' '|' <"$T/e8")"
grep -q '^flipped ham->spam ' "$T/o8" && grep -q '2 failed' "$T/o8"
ok $? "the good message among them is still handled"
learn --ham "$MSG/c.eml" >/dev/null 2>&1 # vote back
: >"$T/empty.eml"
learn --spam "$T/empty.eml" >/dev/null 2>"$T/e9"
[ $? -eq 1 ] && grep -q 'empty file' "$T/e9"
ok $? "an empty file is refused"
"$LLMSPAM" learn "$MSG/c.eml" >/dev/null 2>&1
[ $? -eq 2 ]
ok $? "no label: usage error"

# ---- a write that fails leaves the store as it was ----
n_before=$(find "$S" -type f | wc -l)
sum_before=$(find "$S" -type f ! -name learn.log | sort | xargs sha256sum | sha256sum)
{ cat "$MSG/a.eml"; i=0; while [ $i -lt 4000 ]; do echo "filler line $i to make the message larger than the limit"; i=$((i + 1)); done; } |
    sed 's/^Message-ID: .*/Message-ID: <big@example.org>/' >"$T/big.eml"
(trap '' XFSZ; ulimit -f 64; exec "$LLMSPAM" learn --learn-dir "$S" --spam "$T/big.eml") >"$T/o10" 2>"$T/e10"
[ $? -eq 1 ] && grep -q 'File too large (nothing stored)' "$T/e10"
ok $? "a failing write (ulimit -f, as a full disk): $(cat "$T/e10")"
[ "$(find "$S" -type f ! -name learn.log | sort | xargs sha256sum | sha256sum)" = "$sum_before" ] &&
    [ "$(find "$S/tmp" -type f | wc -l)" = 0 ]
ok $? "the store is unchanged and no temporary file is left"
learn --spam "$T/big.eml" >/dev/null 2>&1
ok $? "without the limit the same message is stored"

# ---- the config's learn_dir ----
printf 'learn_dir = %s/fromconf\n' "$T" >"$T/l.conf"
"$LLMSPAM" learn --config "$T/l.conf" --spam "$MSG/d.eml" >"$T/o11" 2>&1
ok $? "learn --config FILE uses its learn_dir"
[ -f "$T/fromconf/spam/$(awk '/^stored/ { print $3 }' "$T/o11").eml" ]
ok $? "the message is under learn_dir/spam"

# ---- eval --learn-dir ----
"$LLMSPAM" mkmodel --preset tiny --labels ham,spam --seed 7 --tokenizer "$top_srcdir/models/tokenizer/tokenizer.json" \
    "$T/model" >/dev/null 2>&1
"$LLMSPAM" eval --model "$T/model" --threads 1 --json --learn-dir "$S" >"$T/eval.json" 2>"$T/eval.err"
ok $? "llmspam eval --learn-dir reads the store" || sed 's/^/# /' "$T/eval.err"
ns=$(count spam) nh=$(count ham)
tp=$(sed -n 's/.*"tp":\([0-9]*\).*/\1/p' "$T/eval.json") fn=$(sed -n 's/.*"fn":\([0-9]*\).*/\1/p' "$T/eval.json")
tn=$(sed -n 's/.*"tn":\([0-9]*\).*/\1/p' "$T/eval.json") fp=$(sed -n 's/.*"fp":\([0-9]*\).*/\1/p' "$T/eval.json")
[ -n "$tp" ] && [ $((tp + fn)) -eq "$ns" ] && [ $((tn + fp)) -eq "$nh" ]
ok $? "eval counted every stored message: $ns spam (tp $tp + fn $fn), $nh ham (tn $tn + fp $fp)"

# ---- keep_recent in the milter ----
if ! command -v miltertest >/dev/null 2>&1 || ! [ -x "$MILTER" ]; then
    skip "miltertest or llmspam-milter missing: keep_recent not tested"
    done_testing
fi
mkdir "$T/run" && chmod 1777 "$T/run"
mkdir -m 1777 "$T/state"
{
    echo "socket = unix:$T/run/m.sock"
    echo "pidfile = $T/run/m.pid"
    echo "user = $(milter_user)"
    echo "model = $T/model"
    echo "threads = 1"
    echo "learn_dir = $T/state"
    echo "keep_recent = 2"
} >"$T/m.conf"
start_milter "$T/m.conf" "$T/m.log"
ok $? "milter started with keep_recent = 2" || { sed 's/^/# /' "$T/m.log"; done_testing; }
ids=""
for m in a b c; do
    sed 's/$/\r/' "$MSG/$m.eml" >"$T/$m.crlf"
    miltertest -s "$top_srcdir/t/miltertest/keep.lua" -D libdir="$top_srcdir/t/miltertest" \
        -D sock="unix:$T/run/m.sock" -D msg="$T/$m.crlf" -D qid="QK$m" >"$T/keep-$m.out" 2>&1 ||
        sed 's/^/# /' "$T/keep-$m.out"
    ids="$ids $(sed -n 's/^ID=//p' "$T/keep-$m.out")"
    sleep 1.1 # distinct mtimes: the oldest goes first
done
set -- $ids
[ $# -eq 3 ]
ok $? "three messages stamped with X-Spam-Id:$ids"
[ "$(find "$T/state/recent" -name '*.eml' | wc -l)" = 2 ] && ! [ -e "$T/state/recent/$1.eml" ]
ok $? "keep_recent = 2 keeps the two newest"
"$LLMSPAM" learn --learn-dir "$T/state" --spam --id "$3" >"$T/o12" 2>&1
ok $? "learn --id finds the kept copy: $(head -1 "$T/o12")"
f="$T/state/spam/$(awk '/^stored/ { print $3 }' "$T/o12").eml"
[ -f "$f" ] && grep -q '^Subject: ' "$f" && tr -d '\r' <"$f" | grep -q "$(sed -n 3p "$MSG/c.eml")"
ok $? "the stored message is the one the milter saw"
"$LLMSPAM" learn --learn-dir "$T/state" --spam --id "$1" >/dev/null 2>"$T/e13"
[ $? -eq 1 ] && grep -q 'not among the kept recent mail' "$T/e13"
ok $? "an id that was pruned: $(cat "$T/e13")"
"$LLMSPAM" learn --learn-dir "$T/state" --spam --id ../../etc >/dev/null 2>"$T/e14"
[ $? -eq 1 ] && grep -q 'not an id' "$T/e14"
ok $? "a malformed id is refused (no path tricks)"
# the age limit: an old kept file goes at the next message
touch -d '10 days ago' "$T/state/recent/$2.eml"
miltertest -s "$top_srcdir/t/miltertest/keep.lua" -D libdir="$top_srcdir/t/miltertest" \
    -D sock="unix:$T/run/m.sock" -D msg="$T/a.crlf" -D qid=QKold >"$T/keep-old.out" 2>&1
! [ -e "$T/state/recent/$2.eml" ] && [ "$(find "$T/state/recent" -name '*.eml' | wc -l)" = 2 ]
ok $? "mail older than keep_recent_age (7 days) is removed"
stop_milter
ok $? "milter stopped cleanly"
! grep -Eq 'LeakSanitizer|AddressSanitizer|runtime error' "$T/m.log"
ok $? "no sanitizer report"
done_testing
