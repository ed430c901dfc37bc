/*
 * test_milter_msgbuf: the message buffer keeps headers and body in wire
 * form up to its cap, counts what is past it, and says so.
 */
#include "config.h"

#include <string.h>

#include "milter/msgbuf.h"
#include "t/lib/tap.h"

int main(void)
{
    msgbuf *m = msgbuf_new(1 << 20);
    msgbuf_add_header(m, "Subject", "hello");
    msgbuf_add_header(m, "From", " <a@b>"); /* SMFIP_HDR_LEADSPC form */
    msgbuf_end_headers(m);
    msgbuf_add_body(m, (const unsigned char *)"body\r\n", 6);
    const char *want = "Subject: hello\r\nFrom: <a@b>\r\n\r\nbody\r\n";
    tap_ok(!strcmp(msgbuf_data(m), want), "wire form of headers and body");
    tap_ok(msgbuf_len(m) == strlen(want) && msgbuf_seen(m) == strlen(want), "length and seen");
    tap_ok(!msgbuf_truncated(m) && !msgbuf_full(m), "not truncated");
    msgbuf_free(m);

    m = msgbuf_new(1024);
    unsigned char chunk[300];
    memset(chunk, 'x', sizeof chunk);
    bool more = true;
    int calls = 0;
    msgbuf_add_header(m, "Subject", "big");
    msgbuf_end_headers(m);
    for (int i = 0; i < 100; i++) {
        bool r = msgbuf_add_body(m, chunk, sizeof chunk);
        if (more && !r)
            calls = i + 1;
        more = more && r;
    }
    tap_ok(!more && calls == 4, "adds report full once the cap is reached (call %d)", calls);
    tap_ok(msgbuf_len(m) == 1024, "stored exactly the cap");
    tap_ok(msgbuf_seen(m) == strlen("Subject: big\r\n\r\n") + 100 * 300, "every byte counted (%zu)", msgbuf_seen(m));
    tap_ok(msgbuf_truncated(m) && msgbuf_full(m), "truncated and full");
    tap_ok(!strncmp(msgbuf_data(m), "Subject: big\r\n\r\nxxx", 19), "the prefix is kept");
    tap_ok(strlen(msgbuf_data(m)) == 1024, "NUL-terminated at the cap");
    msgbuf_free(m);

    /* a body that fills the cap exactly: whole until one more byte comes */
    m = msgbuf_new(64);
    msgbuf_add_header(m, "Subject", "x"); /* 12 bytes */
    msgbuf_end_headers(m);                /* 14 */
    memset(chunk, 'y', 50);
    more = msgbuf_add_body(m, chunk, 50);  /* 64: exactly the cap */
    tap_ok(more && msgbuf_len(m) == 64 && !msgbuf_truncated(m), "exactly cap bytes: whole, more may come");
    more = msgbuf_add_body(m, chunk, 1);
    tap_ok(!more && msgbuf_truncated(m) && msgbuf_len(m) == 64, "one byte past the cap: truncated, full");
    msgbuf_free(m);
    msgbuf_free(NULL);
    return tap_done();
}
