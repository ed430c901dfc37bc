#!/bin/sh
# bench/milter-restart.sh: how much mail a restart of llmspam-milter refuses
# under load. A private Postfix (t/lib/postfix.sh, milter_default_action =
# tempfail) takes a steady stream of messages from 20 parallel smtp-source
# sessions (one message each, sent in a loop); meanwhile the daemon is
# restarted the way "systemctl restart" does it with the shipped unit
# (conf/llmspam-milter.service.in): SIGTERM to the main pid, wait until it
# has exited, the unit's ExecStartPre if it has one, then ExecStart, which
# returns once the new daemon is ready. Reports the 4xx replies the clients
# got (all of them come from the restarts: no threshold tempfails here),
# per restart, and how long each restart took from SIGTERM to ready.
# Run by `make bench`; environment: top_srcdir (its unit file and test
# helpers), top_builddir (the binaries: another build, e.g. an older one,
# compares), BENCH_RESTARTS (5), BENCH_SESSIONS (20), BENCH_MODEL (default: the demo
# model in models/demo, else a generated tiny one). Needs root and postfix
# (smtp-source); says SKIP and exits 0 without them.
set -u
: "${top_srcdir:?}" "${top_builddir:?}"
. "$top_srcdir/t/lib/tap.sh"
. "$top_srcdir/t/lib/milter.sh"
. "$top_srcdir/t/lib/postfix.sh"
LLMSPAM=${LLMSPAM:-$top_builddir/llmspam}
R=${BENCH_RESTARTS:-5}
S=${BENCH_SESSIONS:-20}

skip() { echo "bench/milter-restart.sh: SKIP: $1"; exit 0; }
why=$(pf_available) || skip "$why"
command -v smtp-source >/dev/null 2>&1 || skip "smtp-source not installed (Debian package postfix)"
[ -x "$MILTER" ] && [ -x "$LLMSPAM" ] || skip "llmspam-milter or llmspam not built"

milter_tmpdir restart
mkdir "$T/msgs"

# messages: the four test messages, CRLF
i=0
for m in a b c d; do
    crlf "$top_srcdir/t/miltertest/msg/$m.eml" "$T/msgs/$i.eml"
    i=$((i + 1))
done
MODEL=${BENCH_MODEL:-}
if [ -z "$MODEL" ] && [ -f "$top_srcdir/models/demo/model.safetensors" ]; then
    MODEL=$top_srcdir/models/demo
elif [ -z "$MODEL" ]; then
    "$LLMSPAM" mkmodel --preset tiny --labels ham,spam --seed 11 \
        --tokenizer "$top_srcdir/models/tokenizer/tokenizer.json" "$T/model" >/dev/null || exit 1
    MODEL=$T/model
fi

{ milter_postfix_conf "$MODEL"; cat <<EOF2
threads = 2
trusted_networks = none
queue_length = 256
log_level = info
EOF2
} > "$T/llmspam.conf"
PORT=$(pf_free_port)
pf_setup "$T/pf" "$PORT" "$SOCK"

# The unit's start: its ExecStartPre (when it has one), then ExecStart.
UNIT=$top_srcdir/conf/llmspam-milter.service.in
PRECHECK=no
grep -q '^ExecStartPre=.*llmspam-milter -n' "$UNIT" && PRECHECK=yes
unit_start() {
    if [ $PRECHECK = yes ]; then
        "$MILTER" -n -c "$T/llmspam.conf" >/dev/null 2>>"$T/start.err" || return 1
    fi
    "$MILTER" -c "$T/llmspam.conf" 2>>"$T/start.err"
}
# systemctl restart: SIGTERM, wait for the exit, start; prints ms taken
unit_restart() {
    _pid=$(cat "$T/run/llmspam.pid")
    _a=$(date +%s%N)
    kill -TERM "$_pid"
    while kill -0 "$_pid" 2>/dev/null; do sleep 0.01; done
    unit_start || { echo "bench/milter-restart.sh: restart failed" >&2; cat "$T/start.err" >&2; return 1; }
    _b=$(date +%s%N)
    echo $(((_b - _a) / 1000000))
}

unit_start || { echo "bench/milter-restart.sh: the milter did not start"; cat "$T/start.err"; exit 1; }
pf_start || { echo "bench/milter-restart.sh: Postfix did not start"; exit 1; }

# S workers, each sending one message per SMTP session until $T/stop
# exists; one line per session: "exit-status 4xx?"
w=0
while [ $w -lt "$S" ]; do
    (
        n=0
        while [ ! -f "$T/stop" ]; do
            f=$T/msgs/$(((w + n) % 4)).eml
            smtp-source -m 1 -f sender@example.net -t rcpt@example.org -F "$f" \
                "127.0.0.1:$PORT" >/dev/null 2>"$T/w.$w.err"
            rc=$?
            c=ok
            if [ $rc -ne 0 ]; then
                if grep -q ' 4[0-9][0-9] ' "$T/w.$w.err"; then c=4xx
                elif grep -q ' 5[0-9][0-9] ' "$T/w.$w.err"; then c=5xx
                else c=other; fi
            fi
            echo "$c" >> "$T/w.$w.out"
            n=$((n + 1))
        done
    ) &
    PIDS="$PIDS $!"
    w=$((w + 1))
done
sleep 4
k=0
: > "$T/restart.ms"
while [ $k -lt "$R" ]; do
    unit_restart >> "$T/restart.ms" || break
    sleep 4
    k=$((k + 1))
done
touch "$T/stop"
for p in $PIDS; do wait "$p"; done
PIDS=
cat "$T"/w.*.out > "$T/all.out"
total=$(wc -l < "$T/all.out")
tf=$(grep -c '^4xx$' "$T/all.out")
rj=$(grep -c '^5xx$' "$T/all.out")
ot=$(grep -c '^other$' "$T/all.out")
ms=$(awk '{ s += $1; if ($1 > m) m = $1 } END { if (NR) printf "mean %.0f ms, max %d ms", s / NR, m }' "$T/restart.ms")
echo "milter-restart: $k restarts as systemctl restart does them (ExecStartPre -n: $PRECHECK), $S parallel smtp-source sessions, one message each, model $(basename "$MODEL"); $MILTER"
echo "  sessions: $total; refused with 4xx: $tf ($(awk -v a="$tf" -v k="$k" 'BEGIN { printf "%.1f", k ? a / k : 0 }') per restart); 5xx: $rj; other failures: $ot"
echo "  restart, SIGTERM to the new daemon ready: $ms"
[ "$k" -eq "$R" ]
