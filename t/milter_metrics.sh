#!/bin/sh
# milter_metrics.sh: the "metrics" endpoint of the real daemon, scraped with
# curl while miltertest sends it mail: the counters move exactly as the
# messages did (actions, labels, tokens, histograms), reloads and a timeout
# are counted, a scraper that never sends its request does not hold up
# mail, and promtool check metrics (Debian package prometheus) accepts
# every scrape. Expected tokens come from llmspam classify on the same files.
. "$top_srcdir/t/lib/tap.sh"
. "$top_srcdir/t/lib/milter.sh"

command -v miltertest >/dev/null 2>&1 || skip_all "miltertest not installed (Debian package miltertest)"
command -v curl >/dev/null 2>&1 || skip_all "curl not installed"
milter_need_built

milter_tmpdir metrics
LUA="$top_srcdir/t/miltertest"
milter_mkmodel 7
milter_pick "$LUA/msg"
tokens() { "$LLMSPAM" extract "$1" | head -c -1 | "$LLMSPAM" classify --text --model "$T/model" --json --threads 1 |
    sed -n 's/.*"tokens":\([0-9]*\).*/\1/p'; }
HT=$(tokens "$HAM") ST=$(tokens "$SPAM")

# a port of our own: 20000-39999 from the pid, the next ones if taken
PORT=$((20000 + $$ % 20000))
conf() { # conf [extra key = value lines on stdin]
    {
        echo "socket = unix:$T/run/m.sock"
        echo "pidfile = $T/run/m.pid"
        echo "user = $(milter_user)"
        echo "model = $T/model"
        echo "threads = 1"
        echo "tag_threshold = $MID"
        echo "subject_prefix = [SPAM]"
        echo "metrics = inet:$PORT@127.0.0.1"
        cat
    } > "$T/m.conf"
}
URL() { echo "http://127.0.0.1:$PORT/metrics"; }
scrape() { curl -s --max-time 10 "$(URL)" >"$T/$1.prom"; }
val() { # val SCRAPE 'metric{labels}' -> the value, or "missing"
    awk -v k="$2" '$1 == k { print $2; f = 1 } END { if (!f) print "missing" }' "$T/$1.prom"
}
promcheck() { # promcheck SCRAPE
    if command -v promtool >/dev/null 2>&1; then
        promtool check metrics <"$T/$1.prom" >"$T/$1.lint" 2>&1
        ok $? "promtool check metrics accepts the $1 scrape" || sed 's/^/#   /' "$T/$1.lint"
    else
        skip "promtool not installed (Debian package prometheus)"
    fi
}
run_lua() { # run_lua SCRIPT DESC [-D k=v ...]
    _s=$1 _desc=$2
    shift 2
    miltertest -s "$LUA/$_s.lua" -D libdir="$LUA" -D sock="unix:$T/run/m.sock" "$@" >"$T/$_s.out" 2>&1
    ok $? "$_desc" || sed 's/^/#   /' "$T/$_s.out"
}

# ---- the key is checked ----
printf 'model = %s\nmetrics = unix:%s/x.sock\n' "$T/model" "$T" >"$T/bad.conf"
"$MILTER" -n -c "$T/bad.conf" >"$T/bad.out" 2>&1
[ $? -eq 78 ] && grep -q 'metrics: a unix socket cannot be scraped' "$T/bad.out"
ok $? "-n refuses a unix socket for metrics"
printf 'model = %s\nmetrics = inet:99999@127.0.0.1\n' "$T/model" >"$T/bad2.conf"
"$MILTER" -n -c "$T/bad2.conf" >/dev/null 2>&1
[ $? -eq 78 ]
ok $? "-n refuses a bad metrics port"
"$MILTER" -e -c /dev/null | grep -q '^metrics = ""$'
ok $? "metrics is off by default"

# ---- start, first scrape ----
started=1
for try in 1 2 3; do
    conf </dev/null
    start_milter "$T/m.conf" "$T/m.log" && { started=0; break; }
    grep -q 'Address already in use' "$T/m.log" || break
    MILTER_PID=
    PORT=$((PORT + 1))
done
ok $started "daemon started with metrics on 127.0.0.1:$PORT" || { sed 's/^/#   /' "$T/m.log"; done_testing; }
grep -q "serving metrics (GET /metrics) on inet:$PORT@127.0.0.1" "$T/m.log"
ok $? "the start-up log names the metrics socket"
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
    [ "$(ps -o user= -p "$MILTER_PID" | tr -d ' ')" = nobody ]
    ok $? "bound while root, serving as nobody"
fi
scrape start
ok $? "scrape before any mail"
[ "$(val start 'llmspam_messages_total{action="accept"}')" = 0 ] &&
    [ "$(val start 'llmspam_tokens_total')" = 0 ] && [ "$(val start 'llmspam_score_count')" = 0 ]
ok $? "counters start at 0"
promcheck start
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$PORT/")
[ "$code" = 404 ]
ok $? "/ answers 404 ($code)"

# ---- mail ----
HAMS=$(fmt3 "$HS") SPAMS=$(fmt3 "$SS") REQ=$(fmt3 "$MID")
run_lua ham "ham accepted" -D msg="$HAM" -D score="$HAMS" -D required="$REQ" -D qid=QHAM
scrape mid
[ "$(val mid 'llmspam_messages_total{action="accept"}')" = 1 ] && [ "$(val mid 'llmspam_tokens_total')" = "$HT" ]
ok $? "scrape during the run: accept=1, tokens=$HT"
# a scraper that connects and never sends its request
if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket,sys,time; s=socket.create_connection(("127.0.0.1",int(sys.argv[1]))); time.sleep(30)' "$PORT" &
    HOLD_PID=$!
    sleep 0.3
fi
run_lua spam_tag "spam tagged while a scraper hangs on the metrics port" \
    -D msg="$SPAM" -D score="$SPAMS" -D required="$REQ" -D qid=QTAG
[ -n "$HOLD_PID" ] && kill "$HOLD_PID" 2>/dev/null && wait "$HOLD_PID" 2>/dev/null
HOLD_PID=
run_lua trusted "two trusted skips and one scanned spam" -D msg="$SPAM" -D qid=QTRUST
scrape after
ok $? "scrape after the mail"
V() { val after "$1"; }
[ "$(V 'llmspam_messages_total{action="accept"}')" = 1 ] && [ "$(V 'llmspam_messages_total{action="tag"}')" = 2 ] &&
    [ "$(V 'llmspam_messages_total{action="skipped"}')" = 2 ] && [ "$(V 'llmspam_messages_total{action="reject"}')" = 0 ]
ok $? "messages by action: accept 1, tag 2, skipped 2, reject 0"
hl=$(V 'llmspam_messages_by_label_total{label="ham"}') sl=$(V 'llmspam_messages_by_label_total{label="spam"}')
[ "$hl" != missing ] && [ "$sl" != missing ] && [ $((hl + sl)) -eq 3 ]
ok $? "messages by label: ham $hl + spam $sl = 3 classified"
[ "$(V llmspam_tokens_total)" = $((HT + 2 * ST)) ]
ok $? "tokens_total = $HT + 2 x $ST ($(V llmspam_tokens_total))"
[ "$(V llmspam_score_count)" = 3 ] && [ "$(V llmspam_classify_duration_seconds_count)" = 3 ] &&
    [ "$(V llmspam_eom_hold_duration_seconds_count)" = 3 ]
ok $? "score, classification and end-of-data histograms hold 3 observations"
want=$(awk -v a="$HS" -v b="$SS" 'BEGIN { printf "%.3f", a + 2 * b }')
got=$(awk -v s="$(V llmspam_score_sum)" 'BEGIN { printf "%.3f", s }')
[ "$got" = "$want" ]
ok $? "score_sum = ham + 2 x spam score ($got)"
# every bucket: how many of the three scores are at or under its bound
awk -v a="$HS" -v b="$SS" '
    /^llmspam_score_bucket/ { n++; le = $1; sub(/.*le="/, "", le); sub(/".*/, "", le)
        want = (le == "+Inf") ? 3 : (a <= le + 0) + 2 * (b <= le + 0)
        if ($2 != want) { print "# le=" le ": " $2 ", want " want; bad = 1 } }
    END { exit bad || n < 2 }' "$T/after.prom"
ok $? "score buckets are cumulative and hold the scores where they belong"
[ "$(V llmspam_messages_in_flight)" = 0 ] && [ "$(V llmspam_queue_depth)" = 0 ]
ok $? "in-flight and queue gauges back at 0"
sha=$(sha256sum "$T/model/model.safetensors" | cut -d' ' -f1)
grep -q "^llmspam_model_info{name=\"model\",path=\"$T/model\",sha256=\"$sha\"} 1$" "$T/after.prom"
ok $? "model_info carries the name, path and sha256 of model.safetensors"
grep -Eq '^llmspam_compute_info\{device="cpu",detail="[^"]+"\} 1$' "$T/after.prom"
ok $? "compute_info names the device: $(grep '^llmspam_compute_info' "$T/after.prom")"
promcheck after

# ---- reloads and a timeout ----
echo "tag_threshold = 2" | conf
kill -HUP "$MILTER_PID"
i=0; while [ $i -lt 100 ] && ! grep -q 'reload failed' "$T/m.log"; do sleep 0.1; i=$((i + 1)); done
echo "classify_timeout = 0.001" | conf
kill -HUP "$MILTER_PID"
i=0; while [ $i -lt 100 ] && ! grep -q 'reloaded:' "$T/m.log"; do sleep 0.1; i=$((i + 1)); done
{ cat "$LUA/msg/a.eml"; i=0; while [ $i -lt 3000 ]; do echo "line $i of a long newsletter"; i=$((i + 1)); done; } >"$T/big.lf"
crlf "$T/big.lf" "$T/big.eml"
run_lua timeout "a classification timeout after the reload" -D msg="$T/big.eml" -D qid=QTIME
scrape reload
[ "$(val reload 'llmspam_reloads_total{result="failed"}')" = 1 ] && [ "$(val reload 'llmspam_reloads_total{result="ok"}')" = 1 ]
ok $? "reloads: failed 1 (bad tag_threshold), ok 1"
[ "$(val reload 'llmspam_classify_failures_total{reason="timeout"}')" = 1 ] &&
    [ "$(val reload 'llmspam_messages_total{action="error"}')" = 1 ] &&
    [ "$(val reload llmspam_classify_duration_seconds_count)" = 4 ]
ok $? "the timeout: classify_failures_total{reason=timeout} 1, action error 1"
promcheck reload
sed -n '/^llmspam_messages_total/p;/^llmspam_reloads_total/p;/^llmspam_model_info/p' "$T/reload.prom" | sed 's/^/# /'

stop_milter
ok $? "SIGTERM: exit status 0"
! curl -s --max-time 2 "$(URL)" >/dev/null 2>&1
ok $? "the metrics port is closed after the stop"
! grep -Eq 'LeakSanitizer|AddressSanitizer|runtime error' "$T/m.log"
ok $? "no sanitizer report"
done_testing
