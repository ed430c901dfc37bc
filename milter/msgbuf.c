/*
 * msgbuf: a capped, growing byte buffer for one message.
 */
#include "config.h"
#include "milter/msgbuf.h"

#include <stdlib.h>
#include <string.h>

struct msgbuf {
    char *data;
    size_t len, alloc, cap, seen;
    bool oom;
};

msgbuf *msgbuf_new(size_t cap)
{
    msgbuf *m = calloc(1, sizeof *m);
    if (m)
        m->cap = cap;
    return m;
}

void msgbuf_free(msgbuf *m)
{
    if (!m)
        return;
    free(m->data);
    free(m);
}

static bool add(msgbuf *m, const void *p, size_t n)
{
    m->seen += n;
    if (m->oom)
        return false;
    if (m->len >= m->cap)
        return m->seen <= m->cap;
    size_t take = n < m->cap - m->len ? n : m->cap - m->len;
    if (m->len + take + 1 > m->alloc) {
        size_t a = m->alloc ? m->alloc : 16384;
        while (a < m->len + take + 1)
            a *= 2;
        if (a > m->cap + 1)
            a = m->cap + 1;
        char *d = realloc(m->data, a);
        if (!d) {
            /* keep what we have: the prefix is still scanned */
            m->oom = true;
            return false;
        }
        m->data = d;
        m->alloc = a;
    }
    memcpy(m->data + m->len, p, take);
    m->len += take;
    m->data[m->len] = '\0';
    /* "full" only once a byte past the cap was offered: a message of
     * exactly cap bytes is whole, and a body cut exactly at the cap is
     * not taken for a whole one (the MTA skips the rest after "full") */
    return m->seen <= m->cap;
}

bool msgbuf_add_header(msgbuf *m, const char *name, const char *value)
{
    bool ok = add(m, name, strlen(name));
    ok = add(m, ":", 1) && ok;
    if (value[0] != ' ' && value[0] != '\t')
        ok = add(m, " ", 1) && ok;
    ok = add(m, value, strlen(value)) && ok;
    return add(m, "\r\n", 2) && ok;
}

bool msgbuf_end_headers(msgbuf *m)
{
    return add(m, "\r\n", 2);
}

bool msgbuf_add_body(msgbuf *m, const unsigned char *data, size_t len)
{
    return add(m, data, len);
}

const char *msgbuf_data(const msgbuf *m)
{
    return m->data ? m->data : "";
}

size_t msgbuf_len(const msgbuf *m)
{
    return m->len;
}

size_t msgbuf_seen(const msgbuf *m)
{
    return m->seen;
}

bool msgbuf_truncated(const msgbuf *m)
{
    return m->seen > m->len;
}

bool msgbuf_oom(const msgbuf *m)
{
    return m->oom;
}

bool msgbuf_full(const msgbuf *m)
{
    return m->oom || m->len >= m->cap;
}
