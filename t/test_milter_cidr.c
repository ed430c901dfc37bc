/*
 * test_milter_cidr: trusted_networks parsing and IPv4/IPv6 matching,
 * table-driven, plus socket addresses and the socketspec syntax.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "milter/cidr.h"
#include "milter/socketspec.h"
#include "t/lib/tap.h"

struct row {
    const char *list, *addr;
    bool match;
};

static const struct row rows[] = {
    {"127.0.0.0/8, ::1/128", "127.0.0.1", true},
    {"127.0.0.0/8, ::1/128", "127.255.255.254", true},
    {"127.0.0.0/8, ::1/128", "128.0.0.1", false},
    {"127.0.0.0/8, ::1/128", "::1", true},
    {"127.0.0.0/8, ::1/128", "::2", false},
    {"127.0.0.0/8", "::ffff:127.0.0.1", true},     /* v4-mapped matches v4 */
    {"192.0.2.0/24", "::ffff:192.0.3.1", false},
    {"192.0.2.0/25", "192.0.2.127", true},
    {"192.0.2.0/25", "192.0.2.128", false},
    {"192.0.2.1", "192.0.2.1", true},              /* bare host = /32 */
    {"192.0.2.1", "192.0.2.2", false},
    {"10.0.0.0/8 172.16.0.0/12\t192.168.0.0/16", "172.31.255.255", true},
    {"10.0.0.0/8 172.16.0.0/12\t192.168.0.0/16", "172.32.0.0", false},
    {"0.0.0.0/0", "203.0.113.9", true},
    {"0.0.0.0/0", "2001:db8::1", false},           /* v4 /0 is not all of v6 */
    {"2001:db8::/32", "2001:db8:ffff::1", true},
    {"2001:db8::/32", "2001:db9::1", false},
    {"2001:db8:0:1::/64", "2001:db8:0:1:ffff::", true},
    {"2001:db8:0:2::/63", "2001:db8:0:3::1", true},
    {"2001:db8:0:2::/63", "2001:db8:0:4::1", false},
    {"::/0", "2001:db8::1", true},
    {"", "127.0.0.1", false},
    {"none", "127.0.0.1", false},
    {"127.0.0.0/8", "not-an-address", false},
};

static const char *bad[] = {
    "10.0.0.0/33", "2001:db8::/129", "10.1.0.0/8", "2001:db8::1/32", "host.example",
    "10.0.0.0/", "10.0.0.0/x", "10.0.0.0/8/8", "300.1.1.1", "none 10.0.0.0/8 x",
};

static void test_sockaddr(void)
{
    char err[256];
    cidr_list *l = cidr_list_parse("192.0.2.0/24, 2001:db8::/32", err, sizeof err);
    struct sockaddr_in s4;
    memset(&s4, 0, sizeof s4);
    s4.sin_family = AF_INET;
    inet_pton(AF_INET, "192.0.2.77", &s4.sin_addr);
    tap_ok(cidr_list_match(l, (struct sockaddr *)&s4), "sockaddr_in in the list");
    inet_pton(AF_INET, "198.51.100.1", &s4.sin_addr);
    tap_ok(!cidr_list_match(l, (struct sockaddr *)&s4), "sockaddr_in outside");
    struct sockaddr_in6 s6;
    memset(&s6, 0, sizeof s6);
    s6.sin6_family = AF_INET6;
    inet_pton(AF_INET6, "::ffff:192.0.2.1", &s6.sin6_addr);
    tap_ok(cidr_list_match(l, (struct sockaddr *)&s6), "v4-mapped sockaddr_in6");
    inet_pton(AF_INET6, "2001:db8::5", &s6.sin6_addr);
    tap_ok(cidr_list_match(l, (struct sockaddr *)&s6), "sockaddr_in6 in the list");
    struct sockaddr other = {.sa_family = AF_UNIX};
    tap_ok(!cidr_list_match(l, &other), "a unix address never matches");
    tap_ok(!cidr_list_match(l, NULL), "no address (NULL) never matches");
    tap_ok(cidr_list_count(l) == 2, "two entries");
    cidr_list_free(l);
    cidr_list_free(NULL);
}

struct sock_row {
    const char *text;
    bool ok;
    socketspec_family fam;
    const char *canon;
};

static const struct sock_row sockets[] = {
    {"unix:/run/llmspam/s.sock", true, SOCKETSPEC_UNIX, "unix:/run/llmspam/s.sock"},
    {"local:/tmp/x", true, SOCKETSPEC_UNIX, "unix:/tmp/x"},
    {"/tmp/y", true, SOCKETSPEC_UNIX, "unix:/tmp/y"},
    {"inet:8891@127.0.0.1", true, SOCKETSPEC_INET, "inet:8891@127.0.0.1"},
    {"inet:8891", true, SOCKETSPEC_INET, "inet:8891"},
    {"inet6:8891@::1", true, SOCKETSPEC_INET6, "inet6:8891@::1"},
    {"inet:0@127.0.0.1", false, 0, NULL},
    {"inet:65536", false, 0, NULL},
    {"inet:@host", false, 0, NULL},
    {"inet:25x@host", false, 0, NULL},
    {"unix:", false, 0, NULL},
    {"unix:rel/path", false, 0, NULL},
    {"tcp:25", false, 0, NULL},
    {"", false, 0, NULL},
};

static void test_socketspec(void)
{
    for (size_t i = 0; i < sizeof sockets / sizeof sockets[0]; i++) {
        socketspec s;
        char err[256], buf[512];
        bool ok = socketspec_parse(sockets[i].text, &s, err, sizeof err);
        if (sockets[i].ok) {
            socketspec_format(&s, buf, sizeof buf);
            tap_ok(ok && s.family == sockets[i].fam && !strcmp(buf, sockets[i].canon),
                   "socket '%s' -> %s", sockets[i].text, ok ? buf : err);
        } else {
            tap_ok(!ok && err[0], "socket '%s' rejected (%s)", sockets[i].text, ok ? "accepted" : err);
        }
    }
    char longp[200];
    memset(longp, 'a', sizeof longp);
    memcpy(longp, "unix:/", 6);
    longp[sizeof longp - 1] = '\0';
    socketspec s;
    char err[256];
    tap_ok(!socketspec_parse(longp, &s, err, sizeof err), "over-long unix path rejected");
}

int main(void)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char err[256] = "";
        cidr_list *l = cidr_list_parse(rows[i].list, err, sizeof err);
        if (!l) {
            tap_ok(false, "parse '%s': %s", rows[i].list, err);
            continue;
        }
        tap_ok(cidr_list_match_text(l, rows[i].addr) == rows[i].match, "'%s' %s '%s'", rows[i].addr,
               rows[i].match ? "in" : "not in", rows[i].list);
        cidr_list_free(l);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256] = "";
        cidr_list *l = cidr_list_parse(bad[i], err, sizeof err);
        tap_ok(l == NULL && err[0], "'%s' rejected: %s", bad[i], err);
        cidr_list_free(l);
    }
    test_sockaddr();
    test_socketspec();
    return tap_done();
}
