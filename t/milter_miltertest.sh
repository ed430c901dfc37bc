#!/bin/sh
# milter_miltertest.sh: the real llmspam-milter daemon driven by miltertest
# (Debian package miltertest) Lua scripts in t/miltertest/, one daemon per
# configuration. Thresholds sit between scores computed with llmspam
# classify on a tiny model generated here. Every daemon started is stopped.
. "$top_srcdir/t/lib/tap.sh"
. "$top_srcdir/t/lib/milter.sh"

command -v miltertest >/dev/null 2>&1 || skip_all "miltertest not installed (Debian package miltertest)"
milter_need_built

milter_tmpdir mt
LUA="$top_srcdir/t/miltertest"
TOK="$top_srcdir/models/tokenizer/tokenizer.json"

milter_mkmodel 7

# The four messages, CRLF as an MTA passes them; ham = lowest score, spam = highest.
milter_pick "$LUA/msg"
HIGH=$(calc "($SS + 1) / 2")
diag "ham=$(basename "$HAM") $HS spam=$(basename "$SPAM") $SS tag=$MID"

USER_LINE="user = $(milter_user)"
conf() { # conf NAME [key = value lines on stdin]
    {
        echo "socket = unix:$T/run/$1.sock"
        echo "pidfile = $T/run/$1.pid"
        echo "$USER_LINE"
        echo "model = ${MODEL_DIR:-$T/model}"
        echo "threads = 1"
        echo "subject_prefix = [SPAM]"
        echo "log_level = debug"
        cat
    } > "$T/$1.conf"
}
run_lua() { # run_lua DAEMON SCRIPT DESC [-D k=v ...]
    _d=$1 _s=$2 _desc=$3
    shift 3
    miltertest -s "$LUA/$_s.lua" -D libdir="$LUA" -D sock="unix:$T/run/$_d.sock" "$@" >"$T/$_s.out" 2>&1
    _rc=$?
    ok $_rc "$_desc"
    [ $_rc -eq 0 ] || sed 's/^/#   /' "$T/$_s.out"
}
# check the daemon's log for one summary line
log_has() { # log_has DAEMON REGEX DESC
    grep -Eq "$2" "$T/$1.log"
    ok $? "$3"
}
stopped_clean() { # stopped_clean DAEMON
    stop_milter
    ok $? "$1: SIGTERM: exit status 0"
    [ ! -e "$T/run/$1.sock" ] && [ ! -e "$T/run/$1.pid" ]
    ok $? "$1: socket and pidfile removed"
    ! grep -Eq 'LeakSanitizer|AddressSanitizer|runtime error' "$T/$1.log"
    ok $? "$1: no sanitizer report"
}

# ---- enforce: tag between ham and spam, no reject -------------------------
echo "tag_threshold = $MID" | conf enforce
start_milter "$T/enforce.conf" "$T/enforce.log"
ok $? "enforce: daemon started" || { sed 's/^/#   /' "$T/enforce.log"; done_testing; }
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
    [ "$(ps -o user= -p "$MILTER_PID" | tr -d ' ')" = nobody ]
    ok $? "enforce: privileges dropped to nobody"
fi
[ "$(cat "$T/run/enforce.pid")" = "$MILTER_PID" ]
ok $? "enforce: pidfile holds the daemon's pid"
[ "$(stat -c %a "$T/run/enforce.sock")" = 660 ]
ok $? "enforce: socket mode 0660"

HAMS=$(fmt3 "$HS") SPAMS=$(fmt3 "$SS") REQ=$(fmt3 "$MID")
run_lua enforce ham "ham is accepted with X-Spam headers (score $HAMS)" \
    -D msg="$HAM" -D score="$HAMS" -D required="$REQ" -D qid=QHAM
log_has enforce "QHAM: action=accept label=[a-z]+ score=$HAMS tokens=[0-9]+ ms=[0-9]+ size=[0-9]+ from=<sender@example.net> ip=192.0.2.10" \
    "enforce: log line for ham"
run_lua enforce spam_tag "spam is tagged, Subject rewritten (score $SPAMS)" \
    -D msg="$SPAM" -D score="$SPAMS" -D required="$REQ" -D qid=QTAG
log_has enforce "QTAG: action=tag .*score=$SPAMS " "enforce: log line for tagged spam"
run_lua enforce auth "authenticated sender is skipped" -D msg="$SPAM" -D qid=QAUTH
log_has enforce "QAUTH: action=skip reason=authenticated" "enforce: log line for the authenticated skip"
run_lua enforce trusted "trusted networks (127.0.0.1, ::1) are skipped" -D msg="$SPAM" -D qid=QTRUST
log_has enforce "QTRUST1: action=skip reason=trusted .*ip=127.0.0.1" "enforce: log line for the trusted skip"
run_lua enforce spoof "forged X-Spam headers are removed" \
    -D msg="$HAM" -D score="$HAMS" -D required="$REQ" -D qid=QSPOOF
log_has enforce "QSPOOF: removed 4 arriving X-Spam-\* header" "enforce: forged header removal logged"
run_lua enforce spoof_many "more forged X-Spam headers than can be removed: tempfail" \
    -D msg="$HAM" -D qid=QSPMANY
log_has enforce "QSPMANY: action=tempfail reason=forged_headers" "enforce: the forged-header tempfail logged"
run_lua enforce abort "aborts mid-body leave the session clean" \
    -D msg="$HAM" -D score="$HAMS" -D required="$REQ" -D qid=QABORT
# a message 50 times max_message_bytes: scored on its prefix
{ cat "$LUA/msg/a.eml"; i=0; while [ $i -lt 3000 ]; do echo "line $i of a very long newsletter about nothing in particular"; i=$((i + 1)); done; } > "$T/big.lf"
crlf "$T/big.lf" "$T/big.eml"
stopped_clean enforce

echo "tag_threshold = $MID
max_message_bytes = 1k" | conf oversize
start_milter "$T/oversize.conf" "$T/oversize.log"
ok $? "oversize: daemon started"
PS=$(fmt3 "$(score "$T/model" "$T/big.eml" 1024)")
FS=$(fmt3 "$(score "$T/model" "$T/big.eml")")
[ "$PS" != "$FS" ]
ok $? "oversize: the first 1k scores differently from the whole message ($PS, $FS)"
run_lua oversize oversize "oversize message is scanned on its first 1k" -D msg="$T/big.eml" -D score="$PS" -D qid=QBIG
log_has oversize "QBIG: action=[a-z]+ .*score=$PS .*truncated=yes" "oversize: logged as truncated with the prefix score"
stopped_clean oversize

# ---- reject at the midpoint ------------------------------------------------
echo "tag_threshold = $MID
reject_threshold = $MID
reject_reply = 550 5.7.1 Go away, spammer" | conf reject
start_milter "$T/reject.conf" "$T/reject.log"
ok $? "reject: daemon started"
run_lua reject spam_reject "spam is rejected with the configured reply" -D msg="$SPAM" -D qid=QREJ
run_lua reject ham "ham still accepted next to reject_threshold" \
    -D msg="$HAM" -D score="$HAMS" -D required="$REQ" -D qid=QHAM2
log_has reject "QREJ: action=reject .*score=$SPAMS " "reject: log line"
stopped_clean reject

# ---- tempfail band [MID, HIGH) ----------------------------------------------
echo "tag_threshold = $MID
tempfail_threshold = $MID
reject_threshold = $HIGH
tempfail_reply = 451 4.7.1 Slow down, try later" | conf band
start_milter "$T/band.conf" "$T/band.log"
ok $? "band: daemon started"
run_lua band tempfail "spam in the tempfail band gets 451" -D msg="$SPAM" -D qid=QBAND
log_has band "QBAND: action=tempfail .*score=$SPAMS " "band: log line"
stopped_clean band

# ---- monitor -----------------------------------------------------------------
echo "tag_threshold = $MID
reject_threshold = $MID
mode = monitor" | conf monitor
start_milter "$T/monitor.conf" "$T/monitor.log"
ok $? "monitor: daemon started"
run_lua monitor monitor "monitor mode changes nothing" -D msg="$SPAM" -D qid=QMON
log_has monitor "QMON: action=accept verdict=reject mode=monitor .*score=$SPAMS " "monitor: verdict logged"
stopped_clean monitor

# ---- engine timeout -> on_timeout ---------------------------------------------
echo "classify_timeout = 0.001
on_timeout = accept" | conf timeout
start_milter "$T/timeout.conf" "$T/timeout.log"
ok $? "timeout: daemon started"
run_lua timeout timeout "a classification timeout gives on_timeout (accept + header)" -D msg="$T/big.eml" -D qid=QTIME
log_has timeout "QTIME: action=error reason=timeout" "timeout: log line"
stopped_clean timeout

# ---- full queue -> on_overload --------------------------------------------------
"$LLMSPAM" mkmodel --preset tiny --hidden 256 --intermediate 1024 --layers 8 --heads 8 --kv-heads 4 \
    --labels ham,spam --seed 3 --tokenizer "$TOK" "$T/slow" >/dev/null
echo "queue_length = 1
on_overload = tempfail
tempfail_reply = 451 4.7.1 Busy, try later" | MODEL_DIR="$T/slow" conf overload
start_milter "$T/overload.conf" "$T/overload.log"
ok $? "overload: daemon started"
N=12
i=0
while [ $i -lt $N ]; do
    miltertest -s "$LUA/overload.lua" -D libdir="$LUA" -D sock="unix:$T/run/overload.sock" \
        -D msg="$T/big.eml" -D qid="QOVL$i" >"$T/ovl.$i.out" 2>&1 &
    PIDS="$PIDS $!"
    i=$((i + 1))
done
fails=0
for p in $PIDS; do wait "$p" || fails=$((fails + 1)); done
PIDS=
ok $fails "overload: each of $N concurrent messages was classified or tempfailed"
novl=$(cat "$T"/ovl.*.out | grep -c '^overload$')
ncls=$(cat "$T"/ovl.*.out | grep -c '^classified$')
diag "overload: $novl tempfailed, $ncls classified"
[ "$novl" -ge 1 ] && [ $((novl + ncls)) -eq $N ]
ok $? "overload: a full queue gave on_overload (tempfail) and nothing was lost"
[ "$(grep -c 'QOVL[0-9]*: action=tempfail reason=overload' "$T/overload.log")" -eq "$novl" ] &&
    [ "$(grep -Ec 'QOVL[0-9]*: action=' "$T/overload.log")" -eq $N ]
ok $? "overload: one log line per message, overloads as reason=overload"
stopped_clean overload

# ---- SIGTERM with a message in flight: it is finished first -----------------------
echo "" | conf inflight
start_milter "$T/inflight.conf" "$T/inflight.log"
ok $? "inflight: daemon started"
miltertest -s "$LUA/inflight.lua" -D libdir="$LUA" -D sock="unix:$T/run/inflight.sock" \
    -D msg="$HAM" -D qid=QFLY -D marker="$T/marker" >"$T/inflight.out" 2>&1 &
CPID=$!
PIDS=$CPID
i=0
while [ ! -f "$T/marker" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
kill -TERM "$MILTER_PID"
wait "$CPID"
ok $? "a message in flight at SIGTERM is answered (classified, accepted)"
[ $? -eq 0 ] || sed 's/^/#   /' "$T/inflight.out"
PIDS=
t0=$(date +%s%N)
wait "$MILTER_PID"
ok $? "inflight: exit status 0 after finishing it"
t1=$(date +%s%N)
diag "inflight: the daemon exited $(((t1 - t0) / 1000000)) ms after the message was answered"
if ldd "$MILTER" 2>/dev/null | grep -q libasan; then
    skip "sanitizer build: its exit runs the leak check, not timed"
else
    [ $(((t1 - t0) / 1000000)) -lt 1000 ]
    ok $? "inflight: exits as soon as the message is done ($(((t1 - t0) / 1000000)) ms after its answer)"
fi
MILTER_PID=
grep -q 'SIGTERM: stopping; 1 message(s) in flight' "$T/inflight.log" && grep -q 'QFLY: action=' "$T/inflight.log"
ok $? "inflight: shutdown logged with 1 message in flight, then its log line"
[ ! -e "$T/run/inflight.sock" ] && [ ! -e "$T/run/inflight.pid" ]
ok $? "inflight: socket and pidfile removed"

done_testing
