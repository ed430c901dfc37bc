/*
 * test_milter_sha256: the FIPS 180-4 test vectors (empty, "abc", the
 * 448-bit message, a million 'a' fed in uneven pieces) and the file form.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "milter/sha256.h"
#include "t/lib/tap.h"

int main(void)
{
    char hex[65];
    sha256_hex("", 0, hex);
    tap_ok(!strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), "empty");
    sha256_hex("abc", 3, hex);
    tap_ok(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"), "abc");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha256_hex(m448, strlen(m448), hex);
    tap_ok(!strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"), "448-bit message");

    sha256_ctx c;
    sha256_init(&c);
    char a[1024]; /* steps reach 1009 */
    memset(a, 'a', sizeof a);
    size_t left = 1000000, step = 1;
    while (left > 0) {
        size_t n = step < left ? step : left;
        sha256_update(&c, a, n);
        left -= n;
        step = step % 997 + 13; /* pieces that straddle block edges */
    }
    unsigned char d[32];
    sha256_final(&c, d);
    char h2[65];
    for (int i = 0; i < 32; i++)
        snprintf(h2 + 2 * i, 3, "%02x", d[i]);
    tap_ok(!strcmp(h2, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
           "a million 'a' in uneven pieces");

    char path[] = "/tmp/llmspam-sha256-XXXXXX";
    int fd = mkstemp(path);
    tap_ok(fd >= 0 && write(fd, "abc", 3) == 3, "a temporary file");
    if (fd >= 0)
        close(fd);
    tap_ok(sha256_file_hex(path, hex) == 0 &&
               !strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
           "sha256_file_hex of a file holding abc");
    unlink(path);
    tap_ok(sha256_file_hex(path, hex) < 0 && hex[0] == '\0', "a missing file: -1 and no digest");
    return tap_done();
}
