# man_commands.sh: llmspam(1) documents every command that llmspam --help
# lists, and every long option that each command's --help lists.
. "$top_srcdir/t/lib/tap.sh"
page="$top_srcdir/man/llmspam.1"
cmds=$("$LLMSPAM" --help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }')
[ -n "$cmds" ]
ok $? "llmspam --help lists commands: $(echo $cmds)"
for c in $cmds; do
    grep -q "^\.B $c\b" "$page"
    ok $? "llmspam(1) documents $c"
    [ "$c" = version ] && continue
    missing=""
    for o in $("$LLMSPAM" "$c" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
        [ "$o" = --help ] && continue
        # roff escapes each hyphen as \-
        esc=$(printf '%s' "$o" | sed 's/-/\\\\-/g')
        grep -q -- "$esc" "$page" || missing="$missing $o"
    done
    [ -z "$missing" ]
    ok $? "llmspam(1) names every option of $c${missing:+ (missing:$missing)}"
done
done_testing
