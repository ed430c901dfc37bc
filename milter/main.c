/*
 * llmspam-milter: the daemon. Start-up, in this order: parse the config,
 * lock the pidfile (a running daemon holds its lock: refused), open the
 * socket (removing a stale unix socket only if nothing listens on it),
 * load the model, drop privileges, run libmilter. The socket comes before
 * the model so that, during a restart, the MTA's connections queue in its
 * backlog while the model loads instead of being refused; a failed start
 * removes the socket and the pidfile again. SIGHUP reloads config and
 * model (runtime.h); SIGTERM and SIGINT remove the socket at once, serve
 * the open connections a moment longer, let messages in flight finish (up
 * to classify_timeout) and exit as soon as none is left.
 *
 * Security: only the steps above run as root; libmilter's threads and
 * every callback run as `user`. Signals: libmilter's own signal thread
 * would treat SIGHUP as "stop", so SIGHUP/SIGTERM/SIGINT are blocked in
 * every thread but the main one, which handles them itself; Linux delivers
 * a process signal to the main thread whenever it does not block it. So the
 * main thread does nothing but read signals: reloads run in a thread of
 * their own (reload_thread), because building a runtime creates threads,
 * and glibc's pthread_create blocks every signal in its caller around the
 * clone; a SIGHUP arriving then went to libmilter's signal thread, which
 * stopped the milter (seen under five SIGHUPs with traffic).
 *
 * Offline modes: -e (effective config), -S (sample config); -n (check)
 * and -t MESSAGE (one message through the whole pipeline) are offline.c.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "engine/cpu_isa.h"
#include "milter/callbacks.h"
#include "milter/llmspam_conf.h"
#include "milter/log.h"
#include "milter/metrics.h"
#include "milter/offline.h"
#include "milter/pidfile.h"
#include "milter/privs.h"
#include "milter/runtime.h"
#include "milter/socketspec.h"

#ifndef LLMSPAM_SYSCONFDIR
#define LLMSPAM_SYSCONFDIR "/etc"
#endif

static const char *progname = "llmspam-milter";

static void usage(FILE *out)
{
    fprintf(out,
            "usage: %s [-c FILE] [-f] [-n] [-e] [-S] [-t MESSAGE] [-V] [-h]\n"
            "  -c FILE     configuration file (default %s/llmspam.conf)\n"
            "  -f          stay in the foreground, log to stderr as well\n"
            "  -n          check the configuration and the model, then exit 0 or 78\n"
            "  -e          print the effective configuration, defaults included\n"
            "  -S          print the sample configuration (every key at its default)\n"
            "  -t MESSAGE  classify one message file offline and print the decision,\n"
            "              the header changes, the reply and the log line\n"
            "  -V          print the version\n"
            "  -h          this text\n"
            "See llmspam-milter(8) and llmspam.conf(5).\n",
            progname, LLMSPAM_SYSCONFDIR);
}

/* ---- the daemon ----------------------------------------------------- */

static int sigpipe_fd[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    ssize_t w = write(sigpipe_fd[1], &b, 1);
    (void)w;
    errno = saved;
}

/* How long a stopping daemon still serves connections that were already
 * open before it tempfails new messages on them (it exits as soon as no
 * message is in flight, so this only matters under load). */
#define STOP_SERVE_S 1.0
/* After the last message in flight is done: time for its reply to go out. */
#define STOP_REPLY_FLUSH_NS 200000000L

static void *milter_thread(void *arg)
{
    int *rc = arg;
    *rc = smfi_main();
    unsigned char b = 0; /* tell the main thread libmilter ended */
    ssize_t w = write(sigpipe_fd[1], &b, 1);
    (void)w;
    return NULL;
}

/* Daemonizing: the parent waits on a pipe until the child is running (or
 * failed, then it prints why) so that start-up errors reach the admin and
 * the exit status. */
static int ready_fd = -1;

/* What start-up has made so far: a failed start removes it again, and the
 * unix socket is removed at exit only while it is still the one we made. */
static char made_pidfile[4096];
static bool made_socket;
static char sock_path[108];
static dev_t sock_dev;
static ino_t sock_ino;

static void remove_socket(void)
{
    if (!made_socket)
        return;
    made_socket = false;
    struct stat st;
    if (lstat(sock_path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == sock_dev &&
        st.st_ino == sock_ino && unlink(sock_path) < 0)
        log_proc(LOG_WARNING, "cannot remove socket %s: %s", sock_path, strerror(errno));
}

static void startup_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void startup_fail(const char *fmt, ...)
{
    char msg[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_proc(LOG_ERR, "%s", msg);
    remove_socket();
    char e2[256];
    pidfile_remove(made_pidfile, e2, sizeof e2);
    if (ready_fd >= 0) {
        ssize_t w = write(ready_fd, msg, strlen(msg));
        (void)w;
    } else {
        fprintf(stderr, "%s: %s\n", progname, msg);
    }
    exit(EX_CONFIG);
}

static void daemonize(void)
{
    int p[2];
    if (pipe(p) < 0) {
        perror("pipe");
        exit(EX_OSERR);
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(EX_OSERR);
    }
    if (pid > 0) {
        close(p[1]);
        char msg[2048];
        ssize_t n = 0, r;
        while ((r = read(p[0], msg + n, sizeof msg - 1 - (size_t)n)) > 0)
            n += r;
        msg[n > 0 ? n : 0] = '\0';
        if (n > 0 && strcmp(msg, "OK")) {
            fprintf(stderr, "%s: %s\n", progname, msg);
            _exit(EX_CONFIG);
        }
        _exit(n > 0 ? 0 : EX_SOFTWARE);
    }
    close(p[0]);
    ready_fd = p[1];
    setsid();
    /* second fork: never reacquire a terminal */
    pid = fork();
    if (pid < 0)
        exit(EX_OSERR);
    if (pid > 0)
        _exit(0);
    if (chdir("/") < 0) {
        /* not fatal */
    }
    int fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        if (fd > 2)
            close(fd);
    }
}

static void report_ready(void)
{
    if (ready_fd >= 0) {
        ssize_t w = write(ready_fd, "OK", 2);
        (void)w;
        close(ready_fd);
        ready_fd = -1;
    }
}

/* A checkpoint that loads but carries surprises (unknown tensors) says so
 * once; so does an LLMSPAM_CPU_ISA that was not understood. */
static void log_model_warnings(runtime *rt)
{
    if (cpu_isa_cap_error())
        log_proc(LOG_WARNING, "%s", cpu_isa_cap_error());
    const char *warn = classifier_warnings(runtime_classifier(rt));
    if (warn[0])
        log_proc(LOG_WARNING, "model %s: %s", runtime_config(rt)->model, warn);
}

static void reload(const char *path)
{
    char *errs = NULL;
    milter_config *c = milter_config_load(path, &errs);
    if (!c) {
        /* one log line per problem */
        for (char *line = errs, *next; line && *line; line = next) {
            next = strchr(line, '\n');
            if (next)
                *next++ = '\0';
            log_proc(LOG_ERR, "reload failed, keeping the running configuration: %s", line);
        }
        free(errs);
        metrics_reload(false);
        return;
    }
    runtime *cur = runtime_acquire();
    char why[1024];
    if (!milter_config_reload_check(cur ? runtime_config(cur) : NULL, c, why, sizeof why)) {
        log_proc(LOG_ERR, "reload refused, keeping the running configuration: %s", why);
        runtime_release(cur);
        milter_config_free(c);
        return;
    }
    if (cur) {
        const char *names[32];
        size_t n = milter_config_fixed_changes(runtime_config(cur), c, names, 32);
        for (size_t i = 0; i < n && i < 32; i++)
            log_proc(LOG_WARNING, "reload: %s changed; it takes effect after a restart", names[i]);
        runtime_release(cur);
    }
    int level = c->log_level;
    char err[1024];
    runtime *rt = runtime_build(c, err, sizeof err);
    if (!rt) {
        log_proc(LOG_ERR, "reload failed, keeping the running model: %s", err);
        metrics_reload(false);
        return;
    }
    runtime_publish(rt);
    metrics_reload(true);
    metrics_set_runtime(rt);
    log_set_level(level);
    const milter_config *nc = runtime_config(rt);
    log_proc(LOG_NOTICE, "reloaded: config=%s model=%s device=%s cpu_path=%s threads=%ld", path, nc->model,
             classifier_device(runtime_classifier(rt)), classifier_cpu_path(runtime_classifier(rt)),
             nc->threads);
    log_model_warnings(rt);
}

/* One byte per SIGHUP, read by reload_thread; reload_stopping makes it
 * skip reloads still queued once the daemon stops. */
static int reload_fd[2] = {-1, -1};
static atomic_bool reload_stopping;

static void *reload_thread(void *arg)
{
    const char *path = arg;
    for (;;) {
        unsigned char b;
        ssize_t n = read(reload_fd[0], &b, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || atomic_load(&reload_stopping))
            return NULL;
        reload(path);
    }
}

/* A pipe that wakes a reader with one byte per event. The write end is
 * non-blocking: a signal handler must never block, and with the pipe full
 * of queued events one more adds nothing. */
static void open_wakeup_pipe(int fd[2])
{
    if (pipe(fd) < 0)
        startup_fail("pipe: %s", strerror(errno));
    fcntl(fd[0], F_SETFD, FD_CLOEXEC);
    fcntl(fd[1], F_SETFD, FD_CLOEXEC);
    fcntl(fd[1], F_SETFL, O_NONBLOCK);
}

static int run_daemon(const char *cfgpath, bool foreground)
{
    /* 1. the config */
    milter_config *c = milter_config_read(cfgpath, stderr);
    if (!c)
        return EX_CONFIG;
    socketspec sock;
    char err[1536];
    if (!socketspec_parse(c->socket, &sock, err, sizeof err)) {
        fprintf(stderr, "%s: socket: %s\n", cfgpath, err);
        milter_config_free(c);
        return EX_CONFIG;
    }
    log_open(progname, c->syslog_facility, true, foreground, c->log_level);
    if (!foreground)
        daemonize();
    char pidfile[4096], sockgroup[256];
    snprintf(pidfile, sizeof pidfile, "%s", c->pidfile);
    snprintf(sockgroup, sizeof sockgroup, "%s", c->socket_group);
    int socket_mode = c->socket_mode;
    long milter_timeout = c->milter_timeout;
    char user[256], group[256];
    snprintf(user, sizeof user, "%s", c->user);
    snprintf(group, sizeof group, "%s", c->group);
    bool allow_root = c->allow_root;
    char metrics_spec[512];
    snprintf(metrics_spec, sizeof metrics_spec, "%s", c->metrics);

    /* Every thread created from here on (engine, libmilter) inherits the
     * blocked set; only the main thread unblocks it again below. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* 2. the pidfile, first: a refused start must touch nothing */
    long stale = 0;
    if (pidfile_lock(pidfile, &stale, err, sizeof err) < 0)
        startup_fail("pidfile: %s", err);
    snprintf(made_pidfile, sizeof made_pidfile, "%s", pidfile);
    if (stale)
        log_proc(LOG_NOTICE, "pidfile %s: taking it over from pid %ld, which no longer held it (unclean exit)",
                 pidfile, stale);

    /* 3. the socket, before the model: during a restart the MTA's new
     * connections then wait in its backlog while the model loads, instead
     * of being refused */
    int rs = socketspec_remove_stale(&sock, err, sizeof err);
    if (rs < 0)
        startup_fail("socket: %s", err);
    if (rs > 0)
        log_proc(LOG_NOTICE, "removed the stale socket %s (nothing listened on it: unclean exit)", sock.path);
    char conn[512];
    socketspec_format(&sock, conn, sizeof conn);
    if (smfi_setconn(conn) != MI_SUCCESS)
        startup_fail("socket %s: smfi_setconn failed", conn);
    smfi_settimeout((int)milter_timeout);
    if (callbacks_register(progname) != MI_SUCCESS)
        startup_fail("smfi_register failed");
    mode_t old_umask = umask((mode_t)(0777 & ~socket_mode));
    int orc = smfi_opensocket(false);
    umask(old_umask);
    if (orc != MI_SUCCESS)
        startup_fail("cannot open socket %s (in use, or no permission)", conn);
    if (sock.family == SOCKETSPEC_UNIX) {
        struct stat st;
        snprintf(sock_path, sizeof sock_path, "%s", sock.path);
        if (lstat(sock.path, &st) == 0) {
            sock_dev = st.st_dev;
            sock_ino = st.st_ino;
            made_socket = true;
        }
    }
    if (socketspec_set_access(&sock, (mode_t)socket_mode, sockgroup, err, sizeof err) < 0)
        startup_fail("socket: %s", err);
    /* 3b. the metrics port, also bound while privileged */
    metrics_server *metrics = NULL;
    if (metrics_spec[0] && !(metrics = metrics_listen(metrics_spec, err, sizeof err)))
        startup_fail("%s", err);

    /* 4. the model */
    runtime *rt = runtime_build(c, err, sizeof err);
    if (!rt)
        startup_fail("%s", err);
    const milter_config *cfg = runtime_config(rt);
    log_proc(LOG_NOTICE,
             "starting %s: config=%s model=%s device=%s cpu_path=%s threads=%ld max_tokens=%ld mode=%s",
             PACKAGE_VERSION, cfgpath, cfg->model, classifier_device(runtime_classifier(rt)),
             classifier_cpu_path(runtime_classifier(rt)), cfg->threads,
             (long)classifier_max_tokens(runtime_classifier(rt)),
             milter_mode_name(cfg->mode));
    log_model_warnings(rt);
    runtime_publish(rt);
    metrics_set_runtime(rt);

    /* 5. the privilege drop; first hand the files we remove at exit over */
    if (privs_handover(user, pidfile, err, sizeof err) < 0 ||
        (sock.family == SOCKETSPEC_UNIX && privs_handover(user, sock.path, err, sizeof err) < 0))
        startup_fail("%s", err);
    char note[256];
    if (privs_drop(user, group, allow_root, note, sizeof note, err, sizeof err) < 0)
        startup_fail("%s", err);
    log_proc(LOG_INFO, "%s; listening on %s", note, conn);
    if (metrics) {
        if (metrics_start(metrics, err, sizeof err) < 0)
            startup_fail("%s", err);
        log_proc(LOG_INFO, "serving metrics (GET /metrics) on %s", metrics_spec);
    }

    /* 6. libmilter, in its own thread; signals here */
    open_wakeup_pipe(sigpipe_fd);
    open_wakeup_pipe(reload_fd);
    pthread_t reloader;
    if (pthread_create(&reloader, NULL, reload_thread, (void *)cfgpath) != 0)
        startup_fail("cannot start the reload thread");
    int milter_rc = 0;
    pthread_t mt;
    if (pthread_create(&mt, NULL, milter_thread, &milter_rc) != 0)
        startup_fail("cannot start the milter thread");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    /* SA_NODEFER: the main thread never blocks these, not even inside the
     * handler, so the kernel never passes one to libmilter's thread */
    sa.sa_flags = SA_RESTART | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    pthread_sigmask(SIG_UNBLOCK, &sigs, NULL);
    report_ready();

    bool stopping = false, milter_ended = false;
    while (!stopping) {
        unsigned char b;
        ssize_t n = read(sigpipe_fd[0], &b, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            stopping = true;
            break;
        }
        switch (b) {
        case SIGHUP:
            log_proc(LOG_NOTICE, "SIGHUP: reloading %s", cfgpath);
            if (write(reload_fd[1], &b, 1) < 0 && errno != EAGAIN)
                log_proc(LOG_ERR, "SIGHUP: cannot queue the reload: %s", strerror(errno));
            break;
        case SIGTERM:
        case SIGINT:
            log_proc(LOG_NOTICE, "%s: stopping; %d message(s) in flight",
                     b == SIGTERM ? "SIGTERM" : "SIGINT", runtime_in_flight());
            stopping = true;
            break;
        case 0:
            log_proc(LOG_ERR, "libmilter stopped (smfi_main returned %d)", milter_rc);
            stopping = true;
            milter_ended = true;
            break;
        default:
            break;
        }
    }
    /* 1. Stop taking new connections, at once: the unix socket file goes
     * (the MTA's connect fails and it applies its milter_default_action).
     * libmilter itself cannot stop accepting first: Debian's libmilter runs
     * its sessions in a worker pool that smfi_stop() shuts down too,
     * abandoning every open session, messages in flight included. */
    remove_socket();
    /* A reload under way finishes (it may be publishing a runtime); queued
     * ones are dropped. */
    atomic_store(&reload_stopping, true);
    close(reload_fd[1]);
    pthread_join(reloader, NULL);
    /* 2. Connections already open are still served for a moment (what
     * starts there now would otherwise be tempfailed); then the runtime is
     * retired, so a new MAIL FROM is tempfailed, and the messages in
     * flight finish. */
    runtime *cur = runtime_acquire();
    double grace = cur ? runtime_config(cur)->classify_timeout + 5 : 5;
    runtime_release(cur);
    bool had_in_flight = runtime_in_flight() > 0;
    if (!milter_ended)
        runtime_wait_idle(STOP_SERVE_S);
    runtime_retire();
    had_in_flight = had_in_flight || runtime_in_flight() > 0;
    bool idle = milter_ended || runtime_wait_idle(grace);
    if (!idle)
        log_proc(LOG_WARNING, "%d message(s) still in flight after %.0f s; the MTA will retry them",
                 runtime_in_flight(), grace);
    /* A message's runtime reference is released inside its end-of-message
     * callback, and libmilter writes the reply after the callback returns:
     * give those worker threads a moment to send it, or the MTA reads EOF
     * instead of its answer (seen under load in the sanitizer build). */
    if (idle && had_in_flight && !milter_ended)
        nanosleep(&(struct timespec){.tv_nsec = STOP_REPLY_FLUSH_NS}, NULL);
    /* 3. No message left: exit, without smfi_stop(). It would shut the
     * worker pool down just the same, but it first waits for a mutex that
     * libmilter's listener holds across a poll() that wakes only every 5 s
     * (MI_CHK_TIME): the old 4-5 s stop. The kernel closes the listening
     * socket and the idle connections at exit. */
    if (pidfile_remove(pidfile, err, sizeof err) < 0)
        log_proc(LOG_WARNING, "cannot remove pidfile: %s", err);
    metrics_stop(metrics);
    if (idle) {
        log_proc(LOG_NOTICE, "stopped");
    } else {
        log_proc(LOG_NOTICE, "stopped with messages in flight");
    }
    log_close();
    return milter_ended && milter_rc != MI_SUCCESS ? EX_SOFTWARE : 0;
}

int main(int argc, char **argv)
{
    const char *cfgpath = LLMSPAM_SYSCONFDIR "/llmspam.conf";
    const char *testmsg = NULL;
    bool foreground = false, check = false, effective = false, sample = false;
    int opt;
    while ((opt = getopt(argc, argv, "c:fnehSt:V")) != -1) {
        switch (opt) {
        case 'c': cfgpath = optarg; break;
        case 'f': foreground = true; break;
        case 'n': check = true; break;
        case 'e': effective = true; break;
        case 'S': sample = true; break;
        case 't': testmsg = optarg; break;
        case 'V': printf("llmspam-milter %s\n", PACKAGE_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return EX_USAGE;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return EX_USAGE;
    }
    if (sample) {
        milter_config_print_sample(stdout);
        return 0;
    }
    if (effective) {
        milter_config *c = milter_config_read(cfgpath, stderr);
        if (!c)
            return EX_CONFIG;
        milter_config_print(c, stdout);
        milter_config_free(c);
        return 0;
    }
    if (check || testmsg) {
        log_open(progname, LOG_MAIL, false, true, LOG_WARNING);
        return check ? offline_check(cfgpath) : offline_test(cfgpath, testmsg);
    }
    int rc = run_daemon(cfgpath, foreground);
    /* Socket, pidfile and log are done with: leave without running the
     * libraries' exit handlers (oneDNN frees its JIT kernels one by one,
     * which can take seconds on a busy host, and systemd waits for the
     * exit before it starts the new process of a restart). Under ASan the
     * normal exit stays, for the leak check. */
    fflush(NULL);
#ifndef __SANITIZE_ADDRESS__
    _exit(rc);
#endif
    return rc;
}
