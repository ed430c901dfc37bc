#!/bin/sh
# mime_mime4j.sh: where mime4j ships the expected decoded body of a text
# part (NAME_decoded_X.txt, named by a <text-body> of NAME_decoded.xml),
# our rendering of NAME.msg contains it, once both are converted to UTF-8
# (from the part's charset) and their whitespace is collapsed. Parts our
# rendering leaves out by design are skipped: text/html (rendered to text,
# not copied), text attachments, and the non-chosen side of a
# multipart/alternative. Known differences are skipped, with their reason.
. "$top_srcdir/t/lib/tap.sh"
shared=$(shared_dir)
m4j="$shared/mime-fixtures/mime4j"
[ -n "$shared" ] && [ -d "$m4j" ] || skip_all "no ../shared/mime-fixtures/mime4j"
command -v iconv > /dev/null || skip_all "no iconv(1)"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
norm() { tr -d '\r' | tr -s ' \t\n' '   ' | sed 's/^ //; s/ $//'; }
checked=0
for xml in "$m4j"/testmsgs/*_decoded.xml "$m4j"/mimetools-testmsgs/*_decoded.xml; do
    base=${xml%_decoded.xml}
    [ -f "$base.msg" ] || continue
    # name, content type, disposition and enclosing multipart of each text body
    awk '
        /<multipart>/ { depth++ }
        /<\/multipart>/ { depth-- }
        /^Content-Type:/ { ct = tolower($0); if (ct ~ /multipart\/alternative/) alt[depth + 1] = 1 }
        /^Content-Disposition:/ { cd = tolower($0) }
        /<header>/ { ct = ""; cd = "" }
        /<text-body name=/ {
            n = $0; sub(/.*name="/, "", n); sub(/".*/, "", n)
            print n "\t" ct "\t" cd "\t" (alt[depth] ? "alt" : "")
        }' "$xml" > "$tmp/parts"
    "$LLMSPAM" extract "$base.msg" 2>/dev/null | norm > "$tmp/ours"
    while IFS="$(printf '\t')" read -r name ct cd alt; do
        file="$(dirname "$xml")/$name"
        [ -f "$file" ] || continue
        case "$ct" in *text/html*|*text/enriched*) continue ;; esac
        case "$cd" in *attachment*) continue ;; esac
        [ -n "$alt" ] && continue
        case "$(basename "$base")" in
        # An invalid line inside the header block: mime4j starts the body
        # there; GMime drops the line and goes on with the headers.
        malformedHeaderStartsBody-nocrlfcrlf) skip "$(basename "$base"): GMime drops an invalid header line"; continue ;;
        esac
        # Inline uuencoded blocks become attachment lines by design.
        if grep -qE '^begin [0-7]{3,4} ' "$file"; then
            skip "$(basename "$base"): inline uuencode becomes [attachment: ...]"
            continue
        fi
        cs=$(printf '%s' "$ct" | sed -n 's/.*charset="\{0,1\}\([^";]*\).*/\1/p')
        case "$cs" in ''|us-ascii|iso-8859-1) cs=windows-1252 ;; esac
        iconv -f "$cs" -t UTF-8 < "$file" 2>/dev/null | norm > "$tmp/want" || continue
        [ -s "$tmp/want" ] || continue
        checked=$((checked + 1))
        if grep -qF -- "$(cat "$tmp/want")" "$tmp/ours"; then
            ok 0 "$(basename "$base"): contains $name"
        else
            ok 1 "$(basename "$base"): contains $name"
            printf '# want: %.200s\n# ours: %.200s\n' "$(cat "$tmp/want")" "$(cat "$tmp/ours")"
        fi
    done < "$tmp/parts"
done
[ "$checked" -ge 20 ]
ok $? "checked $checked expected bodies"
done_testing
