/*
 * callbacks: the libmilter callbacks, kept thin: each unpacks its
 * arguments, calls one module (cidr, msgbuf, headers, scan) and maps the
 * result to a milter reply. One per-connection session holds a
 * per-message part with a single reset path (used by eom, abort, close
 * and a new MAIL FROM).
 *
 * Security: everything the MTA passes (addresses, headers, body) is
 * untrusted. Collection stops at max_message_bytes; forged PREFIX-*
 * headers are removed before ours are added; logged values are sanitised.
 * Callbacks run after the privilege drop.
 */
#ifndef LLMSPAM_MILTER_CALLBACKS_H
#define LLMSPAM_MILTER_CALLBACKS_H

/* smfi_register() our callbacks under name; libmilter's MI_SUCCESS/MI_FAILURE. */
int callbacks_register(const char *name);

#endif
