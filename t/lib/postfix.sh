# postfix.sh: a private Postfix instance for the milter tests and the load
# benchmark (sourced after tap.sh and milter.sh). Everything lives in one
# directory: config, queue, data, the maillog and a virtual(8) maildir that
# receives every delivered message; smtpd listens on 127.0.0.1:PORT, and
# smtpd_milters points at the daemon's socket. Needs root (Postfix's
# master runs as root) and the Debian package postfix.

# pf_available: 0 when a private instance can run here, else prints why.
pf_available() {
    [ "$(id -u)" -eq 0 ] || { echo "a private Postfix needs root"; return 1; }
    command -v postfix >/dev/null 2>&1 && command -v postconf >/dev/null 2>&1 ||
        { echo "postfix not installed (Debian package postfix)"; return 1; }
    id postfix >/dev/null 2>&1 || { echo "no postfix user"; return 1; }
    getent group postdrop >/dev/null 2>&1 || { echo "no postdrop group"; return 1; }
    return 0
}

# pf_free_port: a TCP port nothing listens on, from a high range.
pf_free_port() {
    _p=$((20000 + $$ % 20000))
    while ss -ltn 2>/dev/null | awk '{print $4}' | grep -q ":$_p\$"; do _p=$((_p + 1)); done
    echo "$_p"
}

# pf_setup DIR PORT MILTER_SOCKET: write the instance (PF_CFG is its config).
pf_setup() {
    PF_DIR=$1
    PF_PORT=$2
    PF_CFG=$PF_DIR/etc
    PF_MAIL=$PF_DIR/mail
    mkdir -p "$PF_CFG" "$PF_DIR/queue" "$PF_DIR/data" "$PF_MAIL"
    chown postfix "$PF_DIR/data"
    chmod 755 "$PF_DIR" "$PF_DIR/queue"
    chown nobody:nogroup "$PF_MAIL" 2>/dev/null || chown nobody "$PF_MAIL"
    _uid=$(id -u nobody)
    _gid=$(id -g nobody)
    cat > "$PF_CFG/main.cf" <<EOF2
compatibility_level = 3.6
config_directory = $PF_CFG
queue_directory = $PF_DIR/queue
data_directory = $PF_DIR/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = $PF_DIR/maillog
maillog_file_prefixes = $PF_DIR
myhostname = mx.llmspam.test
mydomain = llmspam.test
myorigin = \$myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains =
alias_maps =
alias_database =
local_recipient_maps =
smtputf8_enable = no
biff = no
smtpd_banner = \$myhostname ESMTP private test instance
virtual_mailbox_domains = example.org
virtual_mailbox_base = $PF_MAIL
virtual_mailbox_maps = static:box/
virtual_uid_maps = static:$_uid
virtual_gid_maps = static:$_gid
virtual_minimum_uid = 1
smtpd_milters = unix:$3
non_smtpd_milters = unix:$3
milter_protocol = 6
milter_default_action = tempfail
milter_connect_timeout = 10s
milter_content_timeout = 300s
smtpd_client_connection_count_limit = 0
smtpd_client_message_rate_limit = 0
default_process_limit = 50
in_flow_delay = 0
shlib_directory = /usr/lib/postfix
daemon_directory = /usr/lib/postfix/sbin
EOF2
    cat > "$PF_CFG/master.cf" <<EOF2
127.0.0.1:$PF_PORT inet n - n - - smtpd
pickup    unix n - n 60 1 pickup
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000? 0 flush
proxymap  unix - - n - - proxymap
smtp      unix - - n - - smtp
relay     unix - - n - - smtp
showq     unix n - n - - showq
error     unix - - n - - error
retry     unix - - n - - error
discard   unix - - n - - discard
virtual   unix - n n - - virtual
anvil     unix - - n - 1 anvil
scache    unix - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
EOF2
}

# pf_start / pf_stop: start the instance and wait for smtpd; stop it and
# wait for its master to exit.
pf_start() {
    postfix -c "$PF_CFG" start >"$PF_DIR/start.log" 2>&1 || return 1
    _i=0
    while [ $_i -lt 100 ]; do
        ss -ltn 2>/dev/null | awk '{print $4}' | grep -q "127.0.0.1:$PF_PORT\$" && return 0
        sleep 0.1
        _i=$((_i + 1))
    done
    return 1
}
pf_stop() {
    [ -n "${PF_CFG:-}" ] && [ -f "$PF_CFG/main.cf" ] || return 0
    _mp=$(cat "$PF_DIR/queue/pid/master.pid" 2>/dev/null | tr -d ' ')
    postfix -c "$PF_CFG" stop >/dev/null 2>&1
    _i=0
    while [ -n "$_mp" ] && kill -0 "$_mp" 2>/dev/null && [ $_i -lt 100 ]; do
        sleep 0.1
        _i=$((_i + 1))
    done
    [ -n "$_mp" ] && kill -9 "$_mp" 2>/dev/null
    return 0
}

# pf_send FILE [swaks options]: one message over SMTP; swaks's transcript on
# stdout, its exit status returned.
pf_send() {
    _f=$1
    shift
    swaks --server "127.0.0.1:$PF_PORT" --from sender@example.net --to rcpt@example.org \
        --helo client.example --data "@$_f" --suppress-data "$@" 2>&1
}

# pf_delivered REGEX: the delivered files whose content matches.
pf_delivered() {
    grep -rlE "$1" "$PF_MAIL" 2>/dev/null
}
# pf_wait_delivered N: wait (up to 60 s) until N messages are in the maildir.
pf_wait_delivered() {
    _i=0
    while [ $_i -lt 600 ]; do
        [ "$(find "$PF_MAIL" -type f -path '*/new/*' | wc -l)" -ge "$1" ] && return 0
        sleep 0.1
        _i=$((_i + 1))
    done
    return 1
}
