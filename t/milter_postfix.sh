#!/bin/sh
# milter_postfix.sh: llmspam-milter behind a real, private Postfix instance
# (t/lib/postfix.sh: own config and queue in a temp dir, smtpd on a high
# port of 127.0.0.1, virtual(8) delivery into a maildir, maillog_file),
# messages sent with swaks. Thresholds sit between scores computed with
# llmspam classify on a tiny model generated here. Checks: ham and spam
# delivered with our headers, a forged header removed, a reject after a
# SIGHUP reload (550 at the client), SIGHUP under traffic loses nothing, our
# log lines carry Postfix's queue ids, a header block padded past
# max_message_bytes is still scored on its Subject and From, the daemon
# stops at once, and with the daemon stopped Postfix applies
# milter_default_action (tempfail). Stops everything it started.
. "$top_srcdir/t/lib/tap.sh"
. "$top_srcdir/t/lib/milter.sh"
. "$top_srcdir/t/lib/postfix.sh"

why=$(pf_available) || skip_all "$why"
command -v swaks >/dev/null 2>&1 || skip_all "swaks not installed (Debian package swaks)"
milter_need_built

milter_tmpdir pf
MSG="$top_srcdir/t/miltertest/msg"
TOK="$top_srcdir/models/tokenizer/tokenizer.json"

milter_mkmodel 7
milter_pick "$MSG"
HAMS=$(fmt3 "$HS") SPAMS=$(fmt3 "$SS")
diag "ham $(basename "$HAM") $HAMS, spam $(basename "$SPAM") $SPAMS, tag_threshold $MID"
# the ham again with forged verdict headers on top
{ printf 'X-Spam-Flag: YES\r\nX-Spam-Status: Yes, score=1.000 required=0.500\r\n'; cat "$HAM"; } > "$T/forged.eml"

write_conf() { # write_conf [extra key = value lines]
    { milter_postfix_conf "$T/model"; cat <<EOF2
threads = 1
# swaks connects from 127.0.0.1: scan it
trusted_networks = none
tag_threshold = $MID
subject_prefix = [SPAM]
$1
EOF2
    } > "$T/llmspam.conf"
}
write_conf ""
start_milter "$T/llmspam.conf" "$T/milter.log"
ok $? "llmspam-milter started" || { sed 's/^/#   /' "$T/milter.log"; done_testing; }
PORT=$(pf_free_port)
pf_setup "$T/pf" "$PORT" "$SOCK"
pf_start
ok $? "private Postfix started on 127.0.0.1:$PORT" || { sed 's/^/#   /' "$T/pf/start.log"; done_testing; }

queued_id() { sed -n 's/.*queued as \([0-9A-Za-z]*\).*/\1/p' "$1" | tail -1; }
# delivered_file QID: the maildir file Postfix delivered with this queue id
delivered_file() { grep -rl "with ESMTP id $1" "$PF_MAIL" 2>/dev/null | head -1; }
hdr() { sed -n "s/^$2: //p" "$1" | tr -d '\r' | head -1; }
nhdr() { grep -ci "^$2:" "$1"; }

# ---- ham and spam delivered with our headers ---------------------------------
pf_send "$HAM" >"$T/ham.out"
ok $? "ham: accepted by Postfix (250)"
pf_send "$SPAM" >"$T/spam.out"
ok $? "spam: accepted by Postfix (250)"
pf_send "$T/forged.eml" >"$T/forged.out"
ok $? "forged: accepted by Postfix (250)"
pf_wait_delivered 3
ok $? "three messages delivered to the maildir"
QH=$(queued_id "$T/ham.out") QS=$(queued_id "$T/spam.out") QF=$(queued_id "$T/forged.out")
FH=$(delivered_file "$QH") FS=$(delivered_file "$QS") FF=$(delivered_file "$QF")
[ -n "$FH" ] && hdr "$FH" X-Spam-Status | grep -q "^No, score=$HAMS required=$(fmt3 "$MID") model=model tokens=[0-9]*$" &&
    [ "$(hdr "$FH" X-Spam-Score)" = "$HAMS" ] && [ "$(nhdr "$FH" X-Spam-Flag)" -eq 0 ]
ok $? "ham delivered with X-Spam-Status: No, score=$HAMS and no flag"
[ -n "$FS" ] && hdr "$FS" X-Spam-Status | grep -q "^Yes, score=$SPAMS " && [ "$(hdr "$FS" X-Spam-Flag)" = YES ] &&
    hdr "$FS" Subject | grep -q '^\[SPAM\] '
ok $? "spam delivered with X-Spam-Flag: YES, Status Yes, score=$SPAMS, Subject [SPAM]"
[ -n "$FF" ] && [ "$(nhdr "$FF" X-Spam-Flag)" -eq 0 ] && [ "$(nhdr "$FF" X-Spam-Status)" -eq 1 ] &&
    hdr "$FF" X-Spam-Status | grep -q "^No, score=$HAMS "
ok $? "forged X-Spam-Flag/Status removed; only our Status is delivered"
for q in "$QH" "$QS" "$QF"; do
    grep -Eq "$q: action=(accept|tag) label=[a-z]+ score=[0-9.]+ tokens=[0-9]+ ms=[0-9]+ size=[0-9]+ from=<sender@example.net> ip=127.0.0.1" "$T/milter.log"
    ok $? "our log line carries Postfix's queue id $q"
done

# ---- reload with a reject threshold: 550 at the SMTP client --------------------
write_conf "reject_threshold = $MID"
kill -HUP "$MILTER_PID"
i=0
while [ $i -lt 100 ] && ! grep -q 'reloaded:' "$T/milter.log"; do sleep 0.1; i=$((i + 1)); done
grep -q 'reloaded:' "$T/milter.log"
ok $? "SIGHUP: configuration and model reloaded"
before=$(find "$PF_MAIL" -type f -path '*/new/*' | wc -l)
pf_send "$SPAM" >"$T/reject.out"
rc=$?
[ $rc -ne 0 ] && grep -q '<\*\* *550 5.7.1 Message rejected as spam' "$T/reject.out"
ok $? "spam over reject_threshold: the client gets 550 5.7.1 Message rejected as spam"
grep -Eq "action=reject label=[a-z]+ score=$SPAMS " "$T/milter.log"
ok $? "reject logged"
pf_send "$HAM" >"$T/ham2.out"
ok $? "ham still accepted after the reload"

# ---- SIGHUP under traffic: nothing fails --------------------------------------------
write_conf ""
pf_wait_delivered $((before + 1))
before=$(find "$PF_MAIL" -type f -path '*/new/*' | wc -l)
nreload=$(grep -c 'reloaded:' "$T/milter.log")
for w in 1 2 3; do
    (
        f=0
        for n in 1 2 3 4 5 6 7 8 9 10; do
            pf_send "$HAM" >"$T/load.$w.$n.out" || f=$((f + 1))
        done
        exit $f
    ) &
    PIDS="$PIDS $!"
done
for k in 1 2 3 4 5; do
    sleep 0.4
    kill -HUP "$MILTER_PID"
done
fails=0
for p in $PIDS; do wait "$p" || fails=$((fails + 1)); done
PIDS=
ok $fails "SIGHUP x5 under traffic: all 30 messages accepted (250) by Postfix"
pf_wait_delivered $((before + 30))
ok $? "SIGHUP under traffic: all 30 delivered"
after=$(find "$PF_MAIL" -type f -path '*/new/*' | wc -l)
[ "$after" -eq $((before + 30)) ]
ok $? "exactly 30 new deliveries ($before -> $after)"
i=0
while [ $i -lt 50 ] && [ "$(grep -c 'reloaded:' "$T/milter.log")" -lt $((nreload + 5)) ]; do sleep 0.1; i=$((i + 1)); done
n=$(grep -c 'reloaded:' "$T/milter.log")
[ "$n" -ge $((nreload + 5)) ] && ! grep -q 'reload failed' "$T/milter.log"
ok $? "five reloads logged, none failed ($((n - nreload)) logged)"
missing=0
for f in "$T"/load.*.out; do
    q=$(queued_id "$f")
    grep -q "$q: action=accept " "$T/milter.log" || missing=$((missing + 1))
done
ok $missing "every message under reload has its log line ($missing missing)"
grep -q "X-Spam-Status: No, score=$HAMS" "$(delivered_file "$(queued_id "$T/load.3.10.out")")"
ok $? "messages under reload carry our headers"

# ---- a header block longer than max_message_bytes: scanned on its headers -------------
{ printf 'Subject: hello there friend\r\nFrom: Alice <a@example.com>\r\n'
  awk 'BEGIN { for (i = 1; i <= 100000; i++) printf "X-Pad-%d: x\r\n", i }'
  printf '\r\nThe body, past the cap.\r\n'; } > "$T/pad.eml"
PADS=$(fmt3 "$(score "$T/model" "$T/pad.eml" 1M)")
pf_send "$T/pad.eml" >"$T/pad.out"
ok $? "headers padded past max_message_bytes: accepted by Postfix (250)"
QP=$(queued_id "$T/pad.out")
i=0
while [ $i -lt 100 ] && ! grep -q "$QP: action=" "$T/milter.log"; do sleep 0.1; i=$((i + 1)); done
grep -Eq "$QP: action=(accept|tag) label=[a-z]+ score=$PADS tokens=[0-9]+ .*truncated=yes" "$T/milter.log" &&
    ! grep -Eq "$QP: .* tokens=1 " "$T/milter.log"
ok $? "the padded message is scored on its Subject and From ($PADS), logged truncated=yes" ||
    grep "$QP" "$T/milter.log" | sed 's/^/#   /'

# ---- daemon stopped: milter_default_action -------------------------------------------
t0=$(date +%s%N)
stop_milter
ok $? "SIGTERM: llmspam-milter exits 0"
t1=$(date +%s%N)
diag "SIGTERM to exit, with Postfix connected: $(((t1 - t0) / 1000000)) ms"
if ldd "$MILTER" 2>/dev/null | grep -q libasan; then
    skip "sanitizer build: its exit runs the leak check, not timed"
else
    [ $(((t1 - t0) / 1000000)) -lt 1000 ]
    ok $? "no message in flight: the daemon is gone within 1 s of SIGTERM ($(((t1 - t0) / 1000000)) ms)"
fi
[ ! -e "$SOCK" ] && [ ! -e "$T/run/llmspam.pid" ]
ok $? "socket and pidfile removed"
grep -q 'notice: stopped' "$T/milter.log"
ok $? "shutdown logged"
pf_send "$HAM" >"$T/down.out"
rc=$?
[ $rc -ne 0 ] && grep -q '<\*\* *4[0-9][0-9] 4\.' "$T/down.out"
ok $? "daemon stopped: Postfix applies milter_default_action = tempfail (4xx)"
grep -qi 'milter service unix:.*llmspam.sock' "$T/pf/maillog"
ok $? "Postfix's maillog names the unreachable milter"
! grep -Eq 'LeakSanitizer|AddressSanitizer|runtime error' "$T/milter.log"
ok $? "no sanitizer report"

done_testing
