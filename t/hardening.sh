# hardening.sh: the installed programs are built hardened: PIE, full RELRO
# (GNU_RELRO + BIND_NOW), stack protector, and _FORTIFY_SOURCE (not in the
# sanitizer build, where ASan replaces it).
. "$top_srcdir/t/lib/tap.sh"
command -v readelf >/dev/null || skip_all "readelf not installed"
sanitized=no
grep -q '^SAN_CFLAGS = .*fsanitize' "$top_builddir/Makefile" && sanitized=yes

for prog in llmspam llmspam-milter; do
    bin="$top_builddir/$prog"
    [ -x "$bin" ]
    ok $? "$prog is built" || continue
    readelf -hW "$bin" | grep -q 'Type:.*DYN'
    ok $? "$prog is a position-independent executable"
    readelf -lW "$bin" | grep -q GNU_RELRO
    ok $? "$prog has a RELRO segment"
    readelf -dW "$bin" | grep -Eq 'BIND_NOW|FLAGS.*NOW'
    ok $? "$prog binds now (full RELRO)"
    nm -D "$bin" | grep -q __stack_chk_fail
    ok $? "$prog uses the stack protector"
    if [ "$sanitized" = no ]; then
        nm -D "$bin" | grep -q '_chk@'
        ok $? "$prog uses fortified libc calls"
    fi
done
done_testing
