#!/bin/sh
# bench/milter-postfix.sh: load through a real, private Postfix (the one of
# t/lib/postfix.sh) with llmspam-milter on a generated tiny model: 2000
# corpus messages sent by Postfix's smtp-source over 20 parallel sessions,
# without and with the milter in alternating rounds of the same messages,
# side by side in one run.
# Reports messages/s (and the ratio), p50/p99 SMTP transaction time and the
# latency the milter adds, the milter's own scan time (log ms=), its peak
# RSS, and the count of every outcome: delivered + rejected + tempfailed
# must equal the messages sent (none lost), or the benchmark fails.
# Run by `make bench`; environment: top_srcdir, top_builddir, LLMSPAM.
# Needs root, postfix (smtp-source) and the SpamAssassin corpus in
# ../shared; says SKIP and exits 0 without them.
set -u
: "${top_srcdir:?}" "${top_builddir:?}"
LLMSPAM=${LLMSPAM:-$top_builddir/llmspam}
. "$top_srcdir/t/lib/tap.sh"
. "$top_srcdir/t/lib/milter.sh"
. "$top_srcdir/t/lib/postfix.sh"
N=${BENCH_MESSAGES:-2000}
S=${BENCH_SESSIONS:-20}

skip() { echo "bench/milter-postfix.sh: SKIP: $1"; exit 0; }
why=$(pf_available) || skip "$why"
command -v smtp-source >/dev/null 2>&1 || skip "smtp-source not installed (Debian package postfix)"
corpus=$(shared_dir)/corpus/spamassassin
[ -d "$corpus/ham" ] && [ -d "$corpus/spam" ] || skip "no corpus at $corpus"
[ -x "$MILTER" ] && [ -x "$LLMSPAM" ] || skip "llmspam-milter or llmspam not built"

milter_tmpdir bench
mkdir "$T/msgs"

# N messages, ham and spam alternating, without the mbox "From " line
ls "$corpus/ham" | sort > "$T/ham.list"
ls "$corpus/spam" | sort > "$T/spam.list"
i=0
while [ $i -lt "$N" ]; do
    if [ $((i % 2)) -eq 0 ]; then f=$corpus/ham/$(sed -n "$((i / 2 % $(wc -l < "$T/ham.list") + 1))p" "$T/ham.list")
    else f=$corpus/spam/$(sed -n "$((i / 2 % $(wc -l < "$T/spam.list") + 1))p" "$T/spam.list"); fi
    sed '1{/^From /d}' "$f" > "$T/msgs/$i.eml"
    i=$((i + 1))
done

"$LLMSPAM" mkmodel --preset tiny --labels ham,spam --seed 11 \
    --tokenizer "$top_srcdir/models/tokenizer/tokenizer.json" "$T/model" >/dev/null || exit 1
# thresholds from the scores of a sample: tag at the median, tempfail band
# from the 85th percentile, reject from the 95th
i=0
while [ $i -lt 40 ]; do
    score "$T/model" "$T/msgs/$((i * N / 40)).eml"
    i=$((i + 1))
done | sort -g > "$T/sample"
pct() { sed -n "$(( ($1 * 40 + 99) / 100 ))p" "$T/sample"; }
TAG=$(pct 50) TF=$(pct 85) RJ=$(pct 95)
awk "BEGIN { exit !($TAG < $TF && $TF < $RJ) }" || { TF=$(calc "$TAG + ($RJ - $TAG) / 2"); }

{ milter_postfix_conf "$T/model"; cat <<EOF2
trusted_networks = none
tag_threshold = $TAG
tempfail_threshold = $TF
reject_threshold = $RJ
queue_length = 256
log_level = info
EOF2
} > "$T/llmspam.conf"
PORT=$(pf_free_port)
pf_setup "$T/pf" "$PORT" "$SOCK"

# run_load TAG LO HI: S workers send messages LO..HI-1 with smtp-source, one
# message per transaction; appends "nanoseconds exit-status index" lines to
# TAG.times and the chunk's wall time (ns) to TAG.ns.
run_load() {
    rm -f "$T"/w.[0-9]*
    t0=$(date +%s%N)
    w=0
    while [ $w -lt "$S" ]; do
        (
            i=$(($2 + w))
            while [ $i -lt "$3" ]; do
                a=$(date +%s%N)
                smtp-source -m 1 -f sender@example.net -t rcpt@example.org -F "$T/msgs/$i.eml" \
                    "127.0.0.1:$PORT" >/dev/null 2>"$T/w.$1.err.$i"
                rc=$?
                b=$(date +%s%N)
                echo "$((b - a)) $rc $i" >> "$T/w.$w"
                [ $rc -eq 0 ] && rm -f "$T/w.$1.err.$i"
                i=$((i + S))
            done
        ) &
        PIDS="$PIDS $!"
        w=$((w + 1))
    done
    for p in $PIDS; do wait "$p"; done
    PIDS=
    t1=$(date +%s%N)
    cat "$T"/w.[0-9]* >> "$T/$1.times"
    echo $((t1 - t0)) >> "$T/$1.ns"
}
# p FILE PCT: percentile of the first column (ns) in ms
p() { awk '{ print $1 / 1e6 }' "$1" | sort -g | awk -v q="$2" '{ v[NR] = $1 } END { i = int((NR * q + 99) / 100); if (i < 1) i = 1; printf "%.1f", v[i] }'; }
rate() { awk -v n="$(wc -l < "$T/$1.times")" '{ ns += $1 } END { printf "%.1f", n / (ns / 1e9) }' "$T/$1.ns"; }
delivered() { find "$PF_MAIL" -type f -path '*/new/*' | wc -l; }
wait_queue_empty() {
    _i=0
    while [ $_i -lt 1200 ]; do
        [ -z "$(find "$PF_DIR/queue/incoming" "$PF_DIR/queue/active" "$PF_DIR/queue/deferred" -type f 2>/dev/null | head -1)" ] && return 0
        sleep 0.1
        _i=$((_i + 1))
    done
    return 1
}
# milter on or off: Postfix reloads its smtpd processes
set_milter() {
    if [ "$1" = on ]; then
        postconf -c "$PF_CFG" -e "smtpd_milters = unix:$SOCK" "non_smtpd_milters = unix:$SOCK"
    else
        postconf -c "$PF_CFG" -e 'smtpd_milters =' 'non_smtpd_milters ='
    fi
    postfix -c "$PF_CFG" reload >/dev/null 2>&1
    sleep 1
}

# Side by side: ROUNDS rounds, each sending the same chunk of messages
# first through Postfix alone, then through Postfix with the milter, so
# that the load of this shared machine hits both alike.
ROUNDS=${BENCH_ROUNDS:-4}
start_milter "$T/llmspam.conf" "$T/milter.log" || { echo "bench/milter-postfix.sh: the milter did not start"; cat "$T/milter.log"; exit 1; }
pf_start || { echo "bench/milter-postfix.sh: Postfix did not start"; exit 1; }
plain_delivered=0
m_delivered=0
r=0
while [ $r -lt "$ROUNDS" ]; do
    lo=$((r * N / ROUNDS)) hi=$(((r + 1) * N / ROUNDS))
    set_milter off
    d0=$(delivered)
    run_load plain $lo $hi
    wait_queue_empty
    plain_delivered=$((plain_delivered + $(delivered) - d0))
    set_milter on
    d0=$(delivered)
    run_load milter $lo $hi
    wait_queue_empty
    m_delivered=$((m_delivered + $(delivered) - d0))
    r=$((r + 1))
done
rss=$(awk '/^VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$MILTER_PID/status")
stop_milter
pf_stop
plain_fail=$(awk '$2 != 0' "$T/plain.times" | wc -l)

m_ok=$(awk '$2 == 0' "$T/milter.times" | wc -l)
c_rej=$(cat "$T"/w.milter.err.* 2>/dev/null | grep -c ' 5[0-9][0-9] ')
c_tf=$(cat "$T"/w.milter.err.* 2>/dev/null | grep -c ' 4[0-9][0-9] ')
l_all=$(grep -Ec ': action=' "$T/milter.log")
l_acc=$(grep -Ec ': action=accept ' "$T/milter.log")
l_tag=$(grep -Ec ': action=tag ' "$T/milter.log")
l_rej=$(grep -Ec ': action=reject ' "$T/milter.log")
l_tf=$(grep -Ec ': action=tempfail ' "$T/milter.log")
l_err=$(grep -Ec ': action=error ' "$T/milter.log")
grep -Eo ' ms=[0-9]+' "$T/milter.log" | sed 's/ ms=//' | awk '{ print $1 * 1e6 }' > "$T/scan.times"

echo "milter-postfix: $N corpus messages (ham/spam alternating), $S parallel smtp-source sessions, $ROUNDS alternating rounds without/with the milter, private Postfix $(postconf -d -h mail_version 2>/dev/null)"
echo "  model: mkmodel tiny (seed 11), threads=$(grep -o 'threads=[0-9]*' "$T/milter.log" | head -1 | cut -d= -f2); tag=$TAG tempfail=$TF reject=$RJ (sample percentiles 50/85/95)"
echo "  without milter: $(rate plain) msg/s; SMTP transaction p50 $(p "$T/plain.times" 50) ms, p99 $(p "$T/plain.times" 99) ms; delivered $plain_delivered, failed $plain_fail"
echo "  with milter:    $(rate milter) msg/s (ratio $(awk -v a="$(rate milter)" -v b="$(rate plain)" 'BEGIN { printf "%.2f", a / b }')); SMTP transaction p50 $(p "$T/milter.times" 50) ms, p99 $(p "$T/milter.times" 99) ms"
echo "  added latency (the milter's hold of end-of-data, log ms=): p50 $(p "$T/scan.times" 50) ms, p99 $(p "$T/scan.times" 99) ms"
echo "  SMTP transaction with minus without: p50 $(awk -v a="$(p "$T/milter.times" 50)" -v b="$(p "$T/plain.times" 50)" 'BEGIN { printf "%+.1f", a - b }') ms, p99 $(awk -v a="$(p "$T/milter.times" 99)" -v b="$(p "$T/plain.times" 99)" 'BEGIN { printf "%+.1f", a - b }') ms (client-side, smtp-source start-up included; noisy on a shared machine)"
echo "  milter peak RSS: $rss MiB"
echo "  outcomes (milter log): accept $l_acc, tag $l_tag, reject $l_rej, tempfail $l_tf, error $l_err; log lines $l_all"
echo "  outcomes (Postfix/client): delivered $m_delivered, client 250 $m_ok, client 5xx $c_rej, client 4xx $c_tf"
lost=$((N - m_delivered - c_rej - c_tf))
status=0
[ "$lost" -eq 0 ] || status=1
[ "$l_all" -eq "$N" ] || status=1
[ "$m_delivered" -eq $((l_acc + l_tag + l_err)) ] && [ "$c_rej" -eq "$l_rej" ] && [ "$c_tf" -eq "$l_tf" ] || status=1
[ "$plain_delivered" -eq "$N" ] || status=1
echo "  lost: $lost (delivered + rejected + tempfailed = $((m_delivered + c_rej + c_tf)) of $N); $([ $status -eq 0 ] && echo 'every message accounted for as configured' || echo 'MISMATCH')"
exit $status
