/*
 * fuzz_mime: libFuzzer target for mime_render(), the parser of hostile
 * mail. Beyond "no crash, no leak, no UB" it checks the output contract:
 * valid UTF-8, no C0 control but \n and \t, never over max_text_bytes.
 * Build: clang -fsanitize=fuzzer,address,undefined (see t/mime_fuzz.sh).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime/render.h"

static int utf8_ok(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        if (c < 0x80) {
            if (c < 0x20 && c != '\n' && c != '\t')
                return 0;
            i++;
            continue;
        }
        size_t l = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
        if (l == 0 || c > 0xF4 || i + l > n)
            return 0;
        for (size_t k = 1; k < l; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
        if ((c == 0xE0 && s[i + 1] < 0xA0) || (c == 0xED && s[i + 1] >= 0xA0) ||
            (c == 0xF0 && s[i + 1] < 0x90) || (c == 0xF4 && s[i + 1] >= 0x90))
            return 0;
        i += l;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mime_options o;
    mime_options_default(&o);
    /* Some inputs run with small bounds, to reach the caps. */
    if (size % 4 == 1) {
        o.max_text_bytes = 1 + size % 200;
        o.max_depth = 3;
        o.max_parts = 5;
        o.headers = "Subject, From, To, X-Mailer, Content-Type";
    }
    char *text = NULL;
    size_t len = 0;
    mime_flags f;
    engine_status st = mime_render((const char *)data, size, &o, &text, &len, &f, NULL);
    if (st != ENGINE_OK)
        return 0; /* only ENOMEM can get here */
    if (len > o.max_text_bytes || strlen(text) != len || !utf8_ok((const unsigned char *)text, len)) {
        fprintf(stderr, "fuzz_mime: output contract broken (len %zu, cap %zu)\n", len, o.max_text_bytes);
        abort();
    }
    if (f.n_parts > o.max_parts)
        abort();
    free(text);
    return 0;
}
