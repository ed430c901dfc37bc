/*
 * charset: text bytes in a declared charset -> UTF-8, with the fallbacks
 * of the rendering: an unknown or wrong charset is read as UTF-8 when the
 * bytes are valid UTF-8, else as windows-1252; invalid bytes become U+FFFD.
 * iso-8859-1 and us-ascii are read as windows-1252 (as browsers do), gb2312
 * as GB18030, shift_jis as CP932, euc-kr as CP949 (their supersets).
 * When a declared Japanese charset does not fit, EUC-JP, CP932 and
 * ISO-2022-JP-3 are tried before the fallbacks (Japanese mail often
 * declares iso-2022-jp and is EUC-JP). Conversion goes through GMime's
 * thread-safe iconv cache. Internal to mime/.
 */
#ifndef LLMSPAM_MIME_CHARSET_H
#define LLMSPAM_MIME_CHARSET_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Convert in[0..len) from charset (NULL or "" when undeclared) to UTF-8.
 * On return *out points either at in itself (already UTF-8 or ASCII: no
 * copy; *owned = false) or at a malloc'd buffer the caller frees
 * (*owned = true). *defects is incremented when the declared charset was
 * unknown or the bytes did not fit it. The result may still hold invalid
 * UTF-8 only where the declared charset is UTF-8; mime_text_put() replaces
 * those bytes. Returns false on ENOMEM.
 */
bool mime_charset_to_utf8(const char *charset, const char *in, size_t len,
                          const char **out, size_t *outlen, bool *owned,
                          unsigned *defects);

/* The iconv name llmspam uses for a declared charset (aliases and
 * supersets applied; latin-1-like names -> "windows-1252"); may return buf. */
const char *mime_charset_iconv_name(const char *charset, char *buf, size_t bufsz);

/* Whether s[0..n) is valid UTF-8. */
bool mime_utf8_valid(const char *s, size_t n);

#endif
