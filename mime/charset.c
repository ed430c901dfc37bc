/*
 * charset: declared charset -> UTF-8 with the rendering's fallbacks
 * (see charset.h). Latin-1-like and undeclared text is handled here with a
 * table (the common case, no iconv); everything else goes through GMime's
 * iconv cache, whose open/close are thread-safe.
 */
#include "config.h"
#include "mime/charset.h"

#include <errno.h>
#include <gmime/gmime.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* windows-1252 0x80..0x9F; 0 marks the five undefined bytes (-> U+FFFD). */
static const uint16_t cp1252_high[32] = {
    0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0,
    0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
};

bool mime_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        while (i + 8 <= n) { /* ASCII fast path, eight bytes at a time */
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ull)
                break;
            i += 8;
        }
        if (i >= n)
            break;
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t l;
        if (c < 0xC2)
            return false;
        else if (c < 0xE0)
            l = 2;
        else if (c < 0xF0)
            l = 3;
        else if (c < 0xF5)
            l = 4;
        else
            return false;
        if (i + l > n)
            return false;
        for (size_t k = 1; k < l; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
        if ((c == 0xE0 && s[i + 1] < 0xA0) || (c == 0xED && s[i + 1] >= 0xA0) ||
            (c == 0xF0 && s[i + 1] < 0x90) || (c == 0xF4 && s[i + 1] >= 0x90))
            return false;
        i += l;
    }
    return true;
}

static bool all_ascii(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80 || s[i] == 0x1B) /* ESC: iso-2022 */
            return false;
    return true;
}

static char *cp1252_to_utf8(const char *in, size_t len, size_t *outlen)
{
    char *out = malloc(len * 3 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned c = (unsigned char)in[i];
        if (c < 0x80) {
            out[o++] = (char)c;
            continue;
        }
        unsigned u = c >= 0xA0 ? c : cp1252_high[c - 0x80];
        if (u == 0)
            u = 0xFFFD;
        if (u < 0x800) {
            out[o++] = (char)(0xC0 | (u >> 6));
            out[o++] = (char)(0x80 | (u & 0x3F));
        } else {
            out[o++] = (char)(0xE0 | (u >> 12));
            out[o++] = (char)(0x80 | ((u >> 6) & 0x3F));
            out[o++] = (char)(0x80 | (u & 0x3F));
        }
    }
    *outlen = o;
    return out;
}

enum cs_kind { CS_LATIN, CS_UTF8, CS_ICONV };

/* Lower-case the declared name into buf; pick how to read it. */
static enum cs_kind classify(const char *charset, char *buf, size_t bufsz, const char **iconv_name)
{
    size_t n = 0;
    if (charset)
        for (const char *p = charset; *p && n + 1 < bufsz; p++)
            if (*p != '"' && *p != '\'' && *p != ' ' && *p != '\t')
                buf[n++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    buf[n] = '\0';
    *iconv_name = buf;
    static const char *const latin[] = {
        "", "us-ascii", "ascii", "iso-8859-1", "iso8859-1", "iso_8859-1", "latin1",
        "latin-1", "l1", "windows-1252", "cp1252", "x-unknown", "unknown", "unknown-8bit",
        "x-user-defined", "default", "iso-8859-1:1987", "ansi_x3.4-1968", "8bit", "7bit",
    };
    for (size_t i = 0; i < sizeof latin / sizeof latin[0]; i++)
        if (!strcmp(buf, latin[i]))
            return CS_LATIN;
    if (!strcmp(buf, "utf-8") || !strcmp(buf, "utf8"))
        return CS_UTF8;
    static const struct { const char *from, *to; } alias[] = {
        {"gb2312", "GB18030"}, {"gbk", "GB18030"}, {"x-gbk", "GB18030"}, {"cp936", "GB18030"},
        {"euc-cn", "GB18030"}, {"shift_jis", "CP932"}, {"shift-jis", "CP932"},
        {"sjis", "CP932"}, {"x-sjis", "CP932"}, {"ms_kanji", "CP932"}, {"euc-kr", "CP949"},
        {"ks_c_5601-1987", "CP949"}, {"iso-8859-8-i", "ISO-8859-8"}, {"big5", "BIG5-HKSCS"},
        {"x-mac-roman", "MACINTOSH"}, {"tis-620", "CP874"}, {"windows-874", "CP874"},
    };
    for (size_t i = 0; i < sizeof alias / sizeof alias[0]; i++)
        if (!strcmp(buf, alias[i].from)) {
            *iconv_name = alias[i].to;
            break;
        }
    return CS_ICONV;
}

static bool fallback(const char *in, size_t len, const char **out, size_t *outlen, bool *owned)
{
    if (mime_utf8_valid(in, len)) {
        *out = in;
        *outlen = len;
        *owned = false;
        return true;
    }
    char *s = cp1252_to_utf8(in, len, outlen);
    if (!s)
        return false;
    *out = s;
    *owned = true;
    return true;
}

/* iconv in -> UTF-8; invalid input bytes become U+FFFD and are counted. */
static char *convert(iconv_t cd, const char *in, size_t len, size_t *outlen, size_t *invalid)
{
    size_t alloc = len * 2 + 16, o = 0;
    char *out = malloc(alloc);
    if (!out)
        return NULL;
    char *ip = (char *)in;
    size_t ileft = len;
    *invalid = 0;
    for (;;) {
        bool grow = alloc - o < 16;
        if (!grow) {
            char *op = out + o;
            size_t oleft = alloc - o - 4; /* keeps room for a U+FFFD */
            size_t r = iconv(cd, ileft ? &ip : NULL, ileft ? &ileft : NULL, &op, &oleft);
            o = (size_t)(op - out);
            if (r != (size_t)-1) {
                if (ileft == 0)
                    break;
                continue;
            }
            grow = errno == E2BIG;
        }
        if (grow) {
            size_t na = alloc * 2;
            char *b = realloc(out, na);
            if (!b) {
                free(out);
                return NULL;
            }
            out = b;
            alloc = na;
            continue;
        }
        /* EILSEQ, or EINVAL: a truncated sequence at the end */
        memcpy(out + o, "\xEF\xBF\xBD", 3);
        o += 3;
        (*invalid)++;
        if (errno != EILSEQ || ileft <= 1)
            break;
        ip++;
        ileft--;
    }
    *outlen = o;
    return out;
}

/* Convert with one iconv charset; NULL when unknown (or ENOMEM: *nomem). */
static char *try_iconv(const char *iname, const char *in, size_t len, size_t *outlen,
                       size_t *invalid, bool *nomem)
{
    iconv_t cd = g_mime_iconv_open("UTF-8", iname);
    if (cd == (iconv_t)-1)
        return NULL;
    iconv(cd, NULL, NULL, NULL, NULL); /* a cached descriptor: reset its shift state */
    char *s = convert(cd, in, len, outlen, invalid);
    g_mime_iconv_close(cd);
    if (!s)
        *nomem = true;
    return s;
}

/* Mail that declares one Japanese charset is often in another one. */
static bool japanese(const char *name)
{
    return !strncmp(name, "iso-2022-jp", 11) || !strcmp(name, "euc-jp") ||
           !strcmp(name, "CP932") || !strcmp(name, "x-euc-jp");
}

const char *mime_charset_iconv_name(const char *charset, char *buf, size_t bufsz)
{
    const char *iname;
    switch (classify(charset, buf, bufsz, &iname)) {
    case CS_LATIN:
        return "windows-1252";
    case CS_UTF8:
        return "UTF-8";
    default:
        return iname;
    }
}

bool mime_charset_to_utf8(const char *charset, const char *in, size_t len,
                          const char **out, size_t *outlen, bool *owned,
                          unsigned *defects)
{
    char name[64];
    const char *iname;
    *owned = false;
    *out = in;
    *outlen = len;
    switch (classify(charset, name, sizeof name, &iname)) {
    case CS_LATIN:
        if (all_ascii(in, len))
            return true;
        return fallback(in, len, out, outlen, owned);
    case CS_UTF8:
        if (!mime_utf8_valid(in, len))
            (*defects)++;
        return true;
    case CS_ICONV:
        break;
    }
    bool wide = !strncmp(name, "utf-16", 6) || !strncmp(name, "utf-32", 6) ||
                !strncmp(name, "ucs", 3) || !strncmp(name, "utf-7", 5) || !strcmp(name, "hz-gb-2312");
    if (!wide && all_ascii(in, len))
        return true;
    size_t invalid = 0;
    bool nomem = false;
    char *s = try_iconv(iname, in, len, outlen, &invalid, &nomem);
    if (nomem)
        return false;
    if (!s) { /* unknown charset */
        (*defects)++;
        return fallback(in, len, out, outlen, owned);
    }
    if (invalid) {
        (*defects)++;
        if (japanese(iname)) {
            static const char *const jp[] = {"EUC-JP", "CP932", "ISO-2022-JP-3"};
            for (size_t i = 0; i < sizeof jp / sizeof jp[0]; i++) {
                size_t inv2 = 0, len2 = 0;
                char *s2 = try_iconv(jp[i], in, len, &len2, &inv2, &nomem);
                if (s2 && inv2 == 0) {
                    free(s);
                    *out = s2;
                    *outlen = len2;
                    *owned = true;
                    return true;
                }
                free(s2);
                if (nomem) {
                    free(s);
                    return false;
                }
            }
        }
        /* Mostly undecodable: the declared charset is wrong. */
        if (!wide && (invalid * 20 > len || mime_utf8_valid(in, len))) {
            free(s);
            return fallback(in, len, out, outlen, owned);
        }
    }
    *out = s;
    *owned = true;
    return true;
}
