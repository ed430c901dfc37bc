/*
 * cidr: IPv4/IPv6 network lists for trusted_networks. Addresses are kept as
 * 16 bytes (IPv4 as ::ffff:a.b.c.d) so one compare serves both families.
 */
#include "config.h"
#include "milter/cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

typedef struct cidr_net {
    uint8_t addr[16];
    unsigned bits; /* prefix length over the 16 bytes (IPv4: 96 + n) */
} cidr_net;

struct cidr_list {
    size_t n;
    cidr_net net[];
};

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* addr -> 16 bytes; returns 4 or 6, 0 when not an address. */
static int to16(const char *s, uint8_t out[16])
{
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, s, &a4) == 1) {
        memcpy(out, v4mapped, 12);
        memcpy(out + 12, &a4, 4);
        return 4;
    }
    if (inet_pton(AF_INET6, s, &a6) == 1) {
        memcpy(out, &a6, 16);
        return 6;
    }
    return 0;
}

static bool in_net(const cidr_net *n, const uint8_t a[16])
{
    unsigned full = n->bits / 8, rest = n->bits % 8;
    if (memcmp(n->addr, a, full))
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (n->addr[full] & mask) == (a[full] & mask);
}

static bool parse_one(const char *tok, cidr_net *out, char *err, size_t errlen)
{
    char buf[64];
    size_t len = strlen(tok);
    if (len >= sizeof buf) {
        snprintf(err, errlen, "network too long: '%.40s...'", tok);
        return false;
    }
    memcpy(buf, tok, len + 1);
    char *slash = strchr(buf, '/');
    long prefix = -1;
    if (slash) {
        *slash = '\0';
        char *end;
        if (slash[1] < '0' || slash[1] > '9') {
            snprintf(err, errlen, "bad prefix length in '%s'", tok);
            return false;
        }
        prefix = strtol(slash + 1, &end, 10);
        if (*end) {
            snprintf(err, errlen, "bad prefix length in '%s'", tok);
            return false;
        }
    }
    int fam = to16(buf, out->addr);
    if (!fam) {
        snprintf(err, errlen, "not an IPv4 or IPv6 address: '%s'", tok);
        return false;
    }
    long maxbits = fam == 4 ? 32 : 128;
    if (prefix < 0)
        prefix = maxbits;
    if (prefix > maxbits) {
        snprintf(err, errlen, "prefix length over %ld in '%s'", maxbits, tok);
        return false;
    }
    out->bits = (unsigned)(prefix + (fam == 4 ? 96 : 0));
    for (unsigned b = out->bits; b < 128; b++)
        if (out->addr[b / 8] & (0x80 >> (b % 8))) {
            snprintf(err, errlen, "host bits set beyond the /%ld prefix in '%s'", prefix, tok);
            return false;
        }
    return true;
}

cidr_list *cidr_list_parse(const char *text, char *err, size_t errlen)
{
    size_t cap = 1;
    for (const char *p = text; *p; p++)
        if (*p == ',' || *p == ' ' || *p == '\t')
            cap++;
    cidr_list *l = calloc(1, sizeof *l + cap * sizeof(cidr_net));
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    const char *p = text;
    char tok[80];
    while (*p) {
        while (*p == ',' || *p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        size_t n = strcspn(p, ", \t");
        if (n >= sizeof tok) {
            snprintf(err, errlen, "network too long: '%.40s...'", p);
            free(l);
            return NULL;
        }
        memcpy(tok, p, n);
        tok[n] = '\0';
        p += n;
        if (!strcmp(tok, "none") && l->n == 0 && !*p)
            break;
        if (!parse_one(tok, &l->net[l->n], err, errlen)) {
            free(l);
            return NULL;
        }
        l->n++;
    }
    return l;
}

void cidr_list_free(cidr_list *l)
{
    free(l);
}

size_t cidr_list_count(const cidr_list *l)
{
    return l ? l->n : 0;
}

static bool match16(const cidr_list *l, const uint8_t a[16])
{
    for (size_t i = 0; l && i < l->n; i++)
        if (in_net(&l->net[i], a))
            return true;
    return false;
}

bool cidr_list_match(const cidr_list *l, const struct sockaddr *sa)
{
    uint8_t a[16];
    if (!sa)
        return false;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
        memcpy(a, v4mapped, 12);
        memcpy(a + 12, &s4->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
        memcpy(a, &s6->sin6_addr, 16);
    } else {
        return false;
    }
    return match16(l, a);
}

bool cidr_list_match_text(const cidr_list *l, const char *addr)
{
    uint8_t a[16];
    if (!addr || !to16(addr, a))
        return false;
    return match16(l, a);
}
