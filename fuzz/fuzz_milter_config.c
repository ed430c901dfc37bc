/*
 * fuzz_milter_config: libFuzzer target for the llmspam.conf parser (and
 * the socket and network-list syntaxes it uses). Byte 0 picks the parser:
 *   0..1: milter_config_parse() on the rest
 *   2:    cidr_list_parse() on the rest (NUL-terminated copy)
 *   3:    socketspec_parse() on the rest (NUL-terminated copy)
 * Besides crashes, leaks and UB, it traps when a contract breaks:
 *   - a config failure without errors, or an error line that does not
 *     start with the file name; a success that comes with errors;
 *   - a parsed config whose -e output does not parse back to the same -e
 *     output (what -e prints must be a valid file meaning the same);
 *   - a cidr/socket failure without a reason.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "milter/cidr.h"
#include "milter/llmspam_conf.h"
#include "milter/socketspec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *print_config(const milter_config *c)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        abort();
    milter_config_print(c, f);
    fclose(f);
    return out;
}

static void check_errors(const char *errs)
{
    if (!errs || !*errs)
        abort();
    for (const char *line = errs; *line;) {
        if (strncmp(line, "fuzz.conf", 9))
            abort();
        const char *nl = strchr(line, '\n');
        if (!nl)
            abort();
        line = nl + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int mode = data[0] % 4;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    if (mode <= 1) {
        char *errs = NULL;
        milter_config *c = milter_config_parse("fuzz.conf", text, len, &errs);
        if (!c) {
            check_errors(errs);
        } else {
            if (errs)
                abort();
            char *a = print_config(c);
            char *errs2 = NULL;
            milter_config *c2 = milter_config_parse("fuzz.conf", a, strlen(a), &errs2);
            if (!c2)
                abort();
            char *b = print_config(c2);
            if (strcmp(a, b))
                abort();
            free(a);
            free(b);
            milter_config_free(c2);
        }
        free(errs);
        milter_config_free(c);
        return 0;
    }
    char *s = malloc(len + 1);
    if (!s)
        return 0;
    memcpy(s, text, len);
    s[len] = '\0';
    char err[512] = "";
    if (mode == 2) {
        cidr_list *l = cidr_list_parse(s, err, sizeof err);
        if (!l && !err[0])
            abort();
        if (l) {
            cidr_list_match_text(l, "192.0.2.1");
            cidr_list_match_text(l, "2001:db8::1");
        }
        cidr_list_free(l);
    } else {
        socketspec sp;
        if (!socketspec_parse(s, &sp, err, sizeof err) && !err[0])
            abort();
    }
    free(s);
    return 0;
}
