# milter.sh: helpers for the llmspam-milter shell tests (sourced after tap.sh).
# Scores always come from `llmspam extract | llmspam classify` on a model
# the test generates, never from constants.

MILTER="$top_builddir/llmspam-milter"

# milter_tmpdir NAME: the prologue of every daemon harness (t/milter-*.sh,
# bench/milter-postfix.sh, milter/demo.sh): T, a fresh /tmp/llmspam-NAME.*
# with a world-writable run/ for sockets and pidfiles (the daemon may have
# dropped to nobody), and milter_cleanup at exit.
milter_tmpdir() {
    T=$(mktemp -d "/tmp/llmspam-$1.XXXXXX") || { echo "Bail out! mktemp failed"; exit 1; }
    MILTER_PID='' PIDS='' HOLD_PID=''
    trap milter_cleanup EXIT
    trap 'exit 1' INT TERM
    chmod 755 "$T"
    mkdir "$T/run" && chmod 1777 "$T/run"
}

# milter_cleanup: in this order, HOLD_PID (a client holding a session open,
# so the daemon need not wait for it), the private Postfix (pf_stop, where
# postfix.sh is sourced), the daemon (MILTER_PID), the helpers in PIDS, any
# daemon left with a pidfile in $T/run; then $T, unless KEEP is set.
milter_cleanup() {
    [ -n "${HOLD_PID:-}" ] && kill "$HOLD_PID" 2>/dev/null
    command -v pf_stop >/dev/null 2>&1 && pf_stop
    [ -n "${MILTER_PID:-}" ] && kill -TERM "$MILTER_PID" 2>/dev/null && wait "$MILTER_PID" 2>/dev/null
    for p in ${PIDS:-}; do kill "$p" 2>/dev/null; done
    for f in "$T"/run/*.pid; do
        [ -f "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null
    done
    [ -n "${KEEP:-}" ] || rm -rf "$T"
}

# milter_need_built: skip the whole test unless both programs are built.
milter_need_built() {
    [ -x "$MILTER" ] || skip_all "llmspam-milter not built"
    [ -x "$LLMSPAM" ] || skip_all "llmspam not built"
}

# milter_pick MSGDIR: pick_ham_spam with $T/model into $T; skip when the
# generated model scores them too alike; MID halfway between HS and SS.
milter_pick() {
    pick_ham_spam "$T/model" "$1" "$T"
    awk "BEGIN { exit !($SS - $HS > 0.004) }" || skip_all "the generated model scores the messages too alike ($HS, $SS)"
    MID=$(calc "($HS + $SS) / 2")
}

# milter_postfix_conf MODEL: the first lines of the llmspam.conf of a daemon
# behind the private Postfix (postfix.sh): the socket SOCK (set here:
# $T/run/llmspam.sock, group postfix), the pidfile in $T/run, the user,
# the model. Call it in the current shell (not in $(...)) so SOCK is set.
milter_postfix_conf() {
    SOCK=$T/run/llmspam.sock
    cat <<EOF2
socket = unix:$SOCK
socket_group = postfix
pidfile = $T/run/llmspam.pid
user = $(milter_user)
model = $1
EOF2
}

# milter_mkmodel SEED: a generated tiny ham/spam checkpoint in $T/model.
milter_mkmodel() {
    "$LLMSPAM" mkmodel --preset tiny --labels ham,spam --seed "$1" \
        --tokenizer "$top_srcdir/models/tokenizer/tokenizer.json" "$T/model" >/dev/null ||
        { echo "Bail out! mkmodel failed"; exit 1; }
}

# score MODEL FILE [MAX_MESSAGE_BYTES]: the spam probability the milter
# computes for FILE: render (extract prints the text plus one newline),
# then classify.
score() {
    if [ -n "${3:-}" ]; then
        "$LLMSPAM" extract --max-message-bytes "$3" "$2"
    else
        "$LLMSPAM" extract "$2"
    fi | head -c -1 | "$LLMSPAM" classify --text --model "$1" --json --threads 1 |
        sed -n 's/.*"score":\([-0-9.eE+]*\).*/\1/p'
}

# fmt3 X: X as the headers print it (%.3f).
fmt3() { awk -v x="$1" 'BEGIN { printf "%.3f", x }'; }

# calc EXPR: awk arithmetic, 6 decimals.
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }

# crlf IN OUT: a copy with CRLF line ends (the form an MTA passes).
crlf() { sed 's/$/\r/' "$1" > "$2"; }

# milter_user: the user the daemon drops to in tests: nobody when we are
# root (so the drop is exercised), else nobody to drop to.
milter_user() {
    if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then echo nobody; else echo '""'; fi
}

# start_milter CONF LOG: start the daemon in the foreground (backgrounded
# here), wait for its socket; sets MILTER_PID. Returns 1 if it did not come up.
start_milter() {
    _sock=$(sed -n 's/^socket = unix://p' "$1")
    "$MILTER" -f -c "$1" >>"$2" 2>&1 &
    MILTER_PID=$!
    _i=0
    while [ $_i -lt 300 ]; do
        [ -S "$_sock" ] && grep -q 'listening on' "$2" && return 0
        kill -0 "$MILTER_PID" 2>/dev/null || return 1
        sleep 0.1
        _i=$((_i + 1))
    done
    return 1
}

# stop_milter: SIGTERM, wait; returns the daemon's exit status.
stop_milter() {
    [ -n "${MILTER_PID:-}" ] || return 0
    kill -TERM "$MILTER_PID" 2>/dev/null
    wait "$MILTER_PID"
    _rc=$?
    MILTER_PID=
    return $_rc
}

# pick_ham_spam MODEL MSGDIR OUTDIR: CRLF copies (as an MTA passes them) of
# MSGDIR/{a,b,c,d}.eml into OUTDIR, scored with MODEL; sets HAM and SPAM to
# the lowest and highest scored copies, HS and SS to their scores. A
# generated model's scores mean nothing, so the roles follow the scores.
pick_ham_spam() {
    HAM= SPAM= HS=2 SS=-1
    for m in a b c d; do
        crlf "$2/$m.eml" "$3/$m.eml"
        s=$(score "$1" "$3/$m.eml")
        [ -n "$s" ] || { echo "Bail out! no score for $m.eml"; exit 1; }
        diag "score($m.eml) = $s"
        if awk "BEGIN { exit !($s < $HS) }"; then HS=$s HAM=$3/$m.eml; fi
        if awk "BEGIN { exit !($s > $SS) }"; then SS=$s SPAM=$3/$m.eml; fi
    done
}
