/*
 * learnstore: keys from sha256, files written under tmp/ and renamed,
 * a flock around the labelled part.
 */
#include "config.h"
#include "milter/learnstore.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "milter/sha256.h"

#define PATHMAX 4096

int learnstore_check_message(const char *raw, size_t len, char *err, size_t errlen)
{
    size_t i = 0;
    /* an mbox "From " line is not part of the message; callers strip it */
    while (i < len && raw[i] > ' ' && raw[i] < 127 && raw[i] != ':')
        i++;
    if (len == 0) {
        snprintf(err, errlen, "empty file, not a mail message");
        return -1;
    }
    if (i == 0 || i >= len || raw[i] != ':') {
        snprintf(err, errlen, "no header at the start (\"Name: value\"), not a mail message");
        return -1;
    }
    if (memchr(raw, '\0', len)) {
        snprintf(err, errlen, "NUL bytes, not a mail message");
        return -1;
    }
    return 0;
}

/* The body: after the first empty line; "" when there is none. */
static const char *body_of(const char *raw, size_t len, size_t *blen)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (raw[i] != '\n')
            continue;
        size_t j = i + 1;
        if (j < len && raw[j] == '\r')
            j++;
        if (j < len && raw[j] == '\n') {
            *blen = len - (j + 1);
            return raw + j + 1;
        }
        if (j == len) {
            break;
        }
    }
    *blen = 0;
    return raw + len;
}

static void body_key(const char *raw, size_t len, char key[LEARNSTORE_KEY_LEN + 1])
{
    size_t blen;
    const char *b = body_of(raw, len, &blen);
    sha256_ctx c;
    sha256_init(&c);
    size_t start = 0;
    for (size_t i = 0; i < blen; i++) {
        if (b[i] == '\r' && i + 1 < blen && b[i + 1] == '\n') {
            sha256_update(&c, b + start, i - start);
            start = i + 1;
        }
    }
    sha256_update(&c, b + start, blen - start);
    unsigned char d[32];
    sha256_final(&c, d);
    for (int i = 0; i < LEARNSTORE_KEY_LEN / 2; i++)
        snprintf(key + 2 * i, 3, "%02x", d[i]);
}

/* The Message-ID's value (unfolded, trimmed) into out; "" when absent. */
static void message_id(const char *raw, size_t len, char *out, size_t outlen)
{
    out[0] = '\0';
    const char *p = raw, *end = raw + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        if (le == p || (le == p + 1 && *p == '\r'))
            return; /* end of the header */
        if ((size_t)(le - p) > 11 && !strncasecmp(p, "Message-ID:", 11)) {
            size_t n = 0;
            const char *q = p + 11;
            for (;;) {
                for (; q < le && n + 1 < outlen; q++)
                    if (*q != '\r' && !((*q == ' ' || *q == '\t') && n == 0))
                        out[n++] = *q;
                /* a folded continuation */
                if (!nl || le + 1 >= end || (le[1] != ' ' && le[1] != '\t'))
                    break;
                p = le + 1;
                nl = memchr(p, '\n', (size_t)(end - p));
                le = nl ? nl : end;
                q = p;
            }
            while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\t'))
                n--;
            out[n] = '\0';
            return;
        }
        p = nl ? nl + 1 : end;
    }
}

static void hex16(const char *s, char key[LEARNSTORE_KEY_LEN + 1])
{
    char hex[65];
    sha256_hex(s, strlen(s), hex);
    memcpy(key, hex, LEARNSTORE_KEY_LEN);
    key[LEARNSTORE_KEY_LEN] = '\0';
}

static int mkdir_p(const char *path, char *err, size_t errlen)
{
    char buf[PATHMAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *s = buf + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(buf, 0750) < 0 && errno != EEXIST) {
            snprintf(err, errlen, "%s: %s", buf, strerror(errno));
            return -1;
        }
        *s = '/';
    }
    if (mkdir(buf, 0750) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: %s", buf, strerror(errno));
        return -1;
    }
    return 0;
}

/* Write data to tmpdir, flush it to disk when durable, rename it to final
 * (in the same file system). */
static int write_atomic(const char *tmpdir, const char *final, const void *data, size_t len, bool durable,
                        char *err, size_t errlen)
{
    static atomic_uint seq;
    char tmp[PATHMAX];
    snprintf(tmp, sizeof tmp, "%s/.%ld.%u.tmp", tmpdir, (long)getpid(), atomic_fetch_add(&seq, 1));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        return -1;
    }
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = w < 0 ? errno : ENOSPC;
            snprintf(err, errlen, "writing %s: %s (nothing stored)", tmp, strerror(e));
            close(fd);
            unlink(tmp);
            return -1;
        }
        p += w;
        left -= (size_t)w;
    }
    if ((durable && fsync(fd) < 0) || close(fd) < 0) {
        snprintf(err, errlen, "writing %s: %s (nothing stored)", tmp, strerror(errno));
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, final) < 0) {
        snprintf(err, errlen, "rename %s to %s: %s (nothing stored)", tmp, final, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Which label holds key: 1 spam, 0 ham, -1 none. */
static int stored_label(const char *dir, const char *key)
{
    char p[PATHMAX];
    snprintf(p, sizeof p, "%s/spam/%s.eml", dir, key);
    if (exists(p))
        return 1;
    snprintf(p, sizeof p, "%s/ham/%s.eml", dir, key);
    if (exists(p))
        return 0;
    return -1;
}

static void log_line(const char *dir, const char *what, const learnstore_result *r, const char *label,
                     const char *source)
{
    char p[PATHMAX];
    snprintf(p, sizeof p, "%s/learn.log", dir);
    FILE *f = fopen(p, "a");
    if (!f)
        return;
    char when[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(f, "%s %s %s %s msgid=%s source=%s\n", when, what, label, r->key, r->msgid[0] ? r->msgid : "-",
            source ? source : "-");
    fclose(f);
}

int learnstore_put(const char *dir, const char *raw, size_t len, bool spam, const char *source,
                   learnstore_result *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (learnstore_check_message(raw, len, err, errlen) < 0)
        return -1;
    char p[PATHMAX];
    static const char *const subdirs[] = {"spam", "ham", "ids", "tmp"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, subdirs[i]);
        if (mkdir_p(p, err, errlen) < 0)
            return -1;
    }
    snprintf(p, sizeof p, "%s/.lock", dir);
    int lock = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (lock < 0 || flock(lock, LOCK_EX) < 0) {
        snprintf(err, errlen, "%s: %s", p, strerror(errno));
        if (lock >= 0)
            close(lock);
        return -1;
    }
    int rc = -1;
    body_key(raw, len, out->key);
    message_id(raw, len, out->msgid, sizeof out->msgid);
    char midkey[LEARNSTORE_KEY_LEN + 1] = "";
    if (out->msgid[0])
        hex16(out->msgid, midkey);

    int have = stored_label(dir, out->key);
    if (have < 0 && midkey[0]) {
        /* the same Message-ID under another body (a re-encoded copy) */
        snprintf(p, sizeof p, "%s/ids/%s", dir, midkey);
        FILE *f = fopen(p, "r");
        char k[64] = "";
        if (f) {
            if (fgets(k, sizeof k, f))
                k[strcspn(k, "\n")] = '\0';
            fclose(f);
        }
        if (strlen(k) == LEARNSTORE_KEY_LEN && (have = stored_label(dir, k)) >= 0) {
            memcpy(out->key, k, sizeof out->key);
            out->matched_msgid = true;
        }
    }
    const char *label = spam ? "spam" : "ham", *other = spam ? "ham" : "spam";
    if (have == (spam ? 1 : 0)) {
        out->outcome = LEARNSTORE_UNCHANGED;
        rc = 0;
    } else if (have >= 0) {
        char from[PATHMAX], to[PATHMAX];
        snprintf(from, sizeof from, "%s/%s/%s.eml", dir, other, out->key);
        snprintf(to, sizeof to, "%s/%s/%s.eml", dir, label, out->key);
        if (rename(from, to) < 0) {
            snprintf(err, errlen, "rename %s to %s: %s", from, to, strerror(errno));
        } else {
            out->outcome = LEARNSTORE_FLIPPED;
            char flip[16];
            snprintf(flip, sizeof flip, "%s->%s", other, label);
            log_line(dir, "flipped", out, flip, source);
            rc = 0;
        }
    } else {
        char tmpdir[PATHMAX];
        snprintf(tmpdir, sizeof tmpdir, "%s/tmp", dir);
        snprintf(p, sizeof p, "%s/%s/%s.eml", dir, label, out->key);
        if (write_atomic(tmpdir, p, raw, len, true, err, errlen) == 0) {
            out->outcome = LEARNSTORE_STORED;
            rc = 0;
            if (midkey[0]) {
                char idp[PATHMAX], line[LEARNSTORE_KEY_LEN + 2];
                snprintf(idp, sizeof idp, "%s/ids/%s", dir, midkey);
                snprintf(line, sizeof line, "%s\n", out->key);
                char e2[512];
                /* the body key still finds the message if this fails */
                (void)write_atomic(tmpdir, idp, line, strlen(line), true, e2, sizeof e2);
            }
            log_line(dir, "stored", out, label, source);
        }
    }
    close(lock);
    return rc;
}

/* ---- recent mail ---- */

void learnstore_new_id(char id[LEARNSTORE_ID_LEN + 1])
{
    unsigned char r[LEARNSTORE_ID_LEN / 2];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        /* no entropy source: time and a counter are unique enough here */
        static atomic_uint n;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        unsigned long long v = (unsigned long long)ts.tv_nsec ^ ((unsigned long long)ts.tv_sec << 20) ^
                               ((unsigned long long)atomic_fetch_add(&n, 1) << 40);
        for (size_t i = 0; i < sizeof r; i++)
            r[i] = (unsigned char)(v >> (8 * i));
    }
    for (size_t i = 0; i < sizeof r; i++)
        snprintf(id + 2 * i, 3, "%02x", r[i]);
}

bool learnstore_recent_path(const char *dir, const char *id, char *buf, size_t len)
{
    if (strlen(id) != LEARNSTORE_ID_LEN)
        return false;
    for (const char *p = id; *p; p++)
        if (!isxdigit((unsigned char)*p))
            return false;
    snprintf(buf, len, "%s/recent/%s.eml", dir, id);
    return true;
}

typedef struct kept {
    char name[LEARNSTORE_ID_LEN + 8];
    time_t mtime;
} kept;

static int older_first(const void *a, const void *b)
{
    const kept *x = a, *y = b;
    return x->mtime < y->mtime ? -1 : x->mtime > y->mtime;
}

void learnstore_prune_recent(const char *dir, long keep, double max_age_s)
{
    char rd[PATHMAX];
    snprintf(rd, sizeof rd, "%s/recent", dir);
    DIR *d = opendir(rd);
    if (!d)
        return;
    kept *v = NULL;
    size_t n = 0, cap = 0;
    time_t now = time(NULL);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t nl = strlen(e->d_name);
        if (nl != LEARNSTORE_ID_LEN + 4 || strcmp(e->d_name + LEARNSTORE_ID_LEN, ".eml"))
            continue;
        char p[PATHMAX + 32];
        snprintf(p, sizeof p, "%s/%s", rd, e->d_name);
        struct stat st;
        if (stat(p, &st) < 0)
            continue;
        if (difftime(now, st.st_mtime) > max_age_s) {
            unlink(p);
            continue;
        }
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            kept *nv = realloc(v, nc * sizeof *nv);
            if (!nv)
                break;
            v = nv;
            cap = nc;
        }
        snprintf(v[n].name, sizeof v[n].name, "%s", e->d_name);
        v[n++].mtime = st.st_mtime;
    }
    closedir(d);
    if (n > (size_t)keep) {
        qsort(v, n, sizeof *v, older_first);
        for (size_t i = 0; i < n - (size_t)keep; i++) {
            char p[PATHMAX + 32];
            snprintf(p, sizeof p, "%s/%s", rd, v[i].name);
            unlink(p);
        }
    }
    free(v);
}

int learnstore_keep_recent(const char *dir, const char *id, const char *raw, size_t len, long keep,
                           double max_age_s, char *err, size_t errlen)
{
    static atomic_ulong stored;
    char rd[PATHMAX], p[PATHMAX];
    snprintf(rd, sizeof rd, "%s/recent", dir);
    if (mkdir_p(rd, err, errlen) < 0)
        return -1;
    if (!learnstore_recent_path(dir, id, p, sizeof p)) {
        snprintf(err, errlen, "bad id %s", id);
        return -1;
    }
    /* a cache, not the store: no fsync on the mail path */
    if (write_atomic(rd, p, raw, len, false, err, errlen) < 0)
        return -1;
    /* a directory scan per message only while the bound is small; past
     * that every 32nd message, so at most keep + 32 are kept */
    unsigned long k = atomic_fetch_add(&stored, 1) + 1;
    if (keep < 64 || k % 32 == 0)
        learnstore_prune_recent(dir, keep, max_age_s);
    return 0;
}
