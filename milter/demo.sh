#!/bin/sh
# milter/demo.sh: llmspam-milter end to end, for the README's first command
# (scripts/demo.sh calls it): a private Postfix on 127.0.0.1 (t/lib/postfix.sh)
# with the milter on MODEL, a ham and a spam sent with swaks, the headers
# they were delivered with, a reject at the SMTP client, the log lines;
# then everything is stopped again. Needs root, postfix and swaks.
#   usage: sh milter/demo.sh BUILDDIR MODEL [generated]
# With "generated" the model is a random tiny checkpoint: its scores mean
# nothing, so the thresholds are placed between the two messages' scores
# (computed with llmspam classify) to show every path; with a trained model
# tag_threshold's default applies and reject_threshold is 0.9 for the demo.
set -u
top_srcdir=$(cd "$(dirname "$0")/.." && pwd)
top_builddir=$(cd "$1" && pwd)
MODEL=$2
GENERATED=${3:-}
LLMSPAM=$top_builddir/llmspam
. "$top_srcdir/t/lib/tap.sh"
. "$top_srcdir/t/lib/milter.sh"
. "$top_srcdir/t/lib/postfix.sh"

why=$(pf_available) || { echo "milter demo skipped: $why"; exit 0; }
command -v swaks >/dev/null 2>&1 || { echo "milter demo skipped: swaks not installed"; exit 0; }

milter_tmpdir demo
if [ "$GENERATED" = generated ]; then
    crlf "$top_srcdir/t/miltertest/msg/a.eml" "$T/ham.eml"
    crlf "$top_srcdir/t/miltertest/msg/b.eml" "$T/spam.eml"
else # a trained model: a ham and a spam of the corpus's dev split (t/data/demo/PROVENANCE)
    crlf "$(ls "$top_srcdir"/t/data/demo/ham/* | head -n 1)" "$T/ham.eml"
    crlf "$(ls "$top_srcdir"/t/data/demo/spam/* | head -n 1)" "$T/spam.eml"
fi

if [ "$GENERATED" = generated ]; then
    hs=$(score "$MODEL" "$T/ham.eml")
    ss=$(score "$MODEL" "$T/spam.eml")
    if awk "BEGIN { exit !($hs > $ss) }"; then # random weights: swap the roles
        mv "$T/ham.eml" "$T/x.eml"; mv "$T/spam.eml" "$T/ham.eml"; mv "$T/x.eml" "$T/spam.eml"
        x=$hs; hs=$ss; ss=$x
    fi
    TAG=$(calc "($hs + $ss) / 2")
    RJ=$TAG
    echo "== generated model (random weights): ham scores $hs, spam $ss; tag_threshold = reject_threshold = $TAG"
else
    TAG="" # the default
    RJ=0.9
fi
{ milter_postfix_conf "$MODEL"; cat <<EOF2
# swaks connects from 127.0.0.1: scan it
trusted_networks = none
${TAG:+tag_threshold = $TAG}
subject_prefix = [SPAM]
EOF2
} > "$T/llmspam.conf"
echo "== llmspam-milter -n"
"$MILTER" -n -c "$T/llmspam.conf" || exit 1
start_milter "$T/llmspam.conf" "$T/milter.log" || { cat "$T/milter.log"; exit 1; }
PORT=$(pf_free_port)
pf_setup "$T/pf" "$PORT" "$SOCK"
pf_start || { echo "Postfix did not start"; cat "$T/pf/start.log"; exit 1; }
echo "== private Postfix on 127.0.0.1:$PORT, smtpd_milters = unix:$SOCK"

echo "== swaks: ham, then spam"
pf_send "$T/ham.eml" | grep -E '^<- +250 .*queued'
pf_send "$T/spam.eml" | grep -E '^<- +250 .*queued'
pf_wait_delivered 2
for f in $(find "$PF_MAIL" -type f -path '*/new/*'); do
    echo "== delivered: $(sed -n 's/^Subject: //p' "$f" | head -1 | tr -d '\r')"
    grep -E '^X-Spam-' "$f" | tr -d '\r' | sed 's/^/   /'
done

echo "== reload with reject_threshold = $RJ (SIGHUP), spam again"
echo "reject_threshold = $RJ" >> "$T/llmspam.conf"
kill -HUP "$MILTER_PID"
i=0
while ! grep -q 'reloaded:' "$T/milter.log" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
pf_send "$T/spam.eml" | grep -E '^<\*\* +5[0-9][0-9] '

echo "== llmspam-milter log"
stop_milter
sed 's/^/   /' "$T/milter.log"
echo "== stopped llmspam-milter and Postfix"
