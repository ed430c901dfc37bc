/*
 * msgbuf: one message's raw bytes as the MTA sends them over the milter
 * protocol (headers re-assembled as "Name: value\r\n", the blank line,
 * the body), kept up to a cap (max_message_bytes). Past the cap the bytes
 * are counted but not stored: the message is scanned on its prefix.
 *
 * Security: the content is untrusted; memory is bounded by the cap (plus
 * less than one doubling), whatever the MTA sends.
 *
 * Ownership: msgbuf_new() returns an owned buffer (msgbuf_free()); the
 * pointer from msgbuf_data() is valid until the next add or the free.
 */
#ifndef LLMSPAM_MILTER_MSGBUF_H
#define LLMSPAM_MILTER_MSGBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct msgbuf msgbuf;

msgbuf *msgbuf_new(size_t cap);
void msgbuf_free(msgbuf *m);

/* Each returns false once bytes past the cap arrive (they, and later adds,
 * are only counted): the MTA may then skip the rest. Exactly cap bytes are
 * a whole message, not a truncated one. A
 * header value that starts with a blank is kept as it is (SMFIP_HDR_LEADSPC);
 * otherwise one space follows the colon. */
bool msgbuf_add_header(msgbuf *m, const char *name, const char *value);
bool msgbuf_end_headers(msgbuf *m);
bool msgbuf_add_body(msgbuf *m, const unsigned char *data, size_t len);

const char *msgbuf_data(const msgbuf *m);
size_t msgbuf_len(const msgbuf *m);      /* bytes stored (<= cap) */
size_t msgbuf_seen(const msgbuf *m);     /* bytes the MTA sent */
bool msgbuf_truncated(const msgbuf *m);  /* seen > stored */
bool msgbuf_oom(const msgbuf *m);        /* an allocation failed: stored is a prefix */
bool msgbuf_full(const msgbuf *m);       /* no more will be stored */

#endif
