/*
 * cidr: a list of IPv4 and IPv6 networks ("127.0.0.0/8, ::1/128, 10.1.2.3")
 * and the test whether an address belongs to one of them. IPv4-mapped IPv6
 * addresses (::ffff:a.b.c.d) match the IPv4 entries, since an MTA on a dual
 * stack socket reports IPv4 clients that way.
 *
 * Security: the list decides which clients skip the scan (trusted_networks),
 * so parsing is strict: host bits set beyond the prefix are an error, not
 * silently masked, since "10.1.2.3/8" is more often a typo than intent.
 *
 * Ownership: cidr_list_parse() returns a list owned by the caller, freed
 * with cidr_list_free(); matching does not keep the address.
 */
#ifndef LLMSPAM_MILTER_CIDR_H
#define LLMSPAM_MILTER_CIDR_H

#include <stdbool.h>
#include <stddef.h>

struct sockaddr;
typedef struct cidr_list cidr_list;

/* Entries separated by commas and/or blanks; "" or "none" is the empty list.
 * NULL with a one-line reason in err on a bad entry (or out of memory). */
cidr_list *cidr_list_parse(const char *text, char *err, size_t errlen);
void cidr_list_free(cidr_list *l);

size_t cidr_list_count(const cidr_list *l);

/* Match a socket address (AF_INET or AF_INET6; anything else: false). */
bool cidr_list_match(const cidr_list *l, const struct sockaddr *sa);

/* Match a textual address ("192.0.2.1", "2001:db8::1"); false if unparsable. */
bool cidr_list_match_text(const cidr_list *l, const char *addr);

#endif
