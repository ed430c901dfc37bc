# parity.sh: the engine against transformers (issue 2, section 6). For each
# committed reference t/data/ref/NAME.json: regenerate its model with
# llmspam mkmodel, check the sha256 the references were made from (a
# mismatch means mkmodel changed and the references are stale: rerun
# t/ref/make_model_refs.py), then run every case through t/parity_check.
. "$top_srcdir/t/lib/tap.sh"
check="$top_builddir/t/parity_check"
tok="$top_srcdir/models/tokenizer/tokenizer.json"
list="$top_srcdir/t/ref/models.list"
[ -x "$check" ] || skip_all "t/parity_check not built"
[ -f "$tok" ] || skip_all "no $tok"
command -v sha256sum >/dev/null || skip_all "no sha256sum"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/llmspam-parity.XXXXXX") || skip_all "no temporary directory"
trap 'rm -rf "$tmp"' EXIT
n=0
for fx in "$top_srcdir"/t/data/ref/*.json; do
    [ -f "$fx" ] || continue
    name=$(basename "$fx" .json)
    n=$((n + 1))
    # the fixture carries its own mkmodel arguments; models.list must agree
    args=$("$check" --args "$fx" | tr '\n' ' ' | sed 's/ $//')
    listed=$(awk -v n="$name" '$1 == n { $1 = ""; sub(/^ +/, ""); print }' "$list")
    [ -n "$args" ] && [ "$args" = "$listed" ]
    ok $? "$name: models.list and the fixture agree on the mkmodel arguments"
    set -f # the arguments are words, never globs
    # shellcheck disable=SC2086
    "$LLMSPAM" mkmodel $args --tokenizer "$tok" "$tmp/$name" >/dev/null 2>"$tmp/err"
    rc=$?
    set +f
    ok $rc "$name: llmspam mkmodel $args"
    [ $rc -eq 0 ] || { diag "$(cat "$tmp/err")"; continue; }
    want=$("$check" --sha "$fx" | tr '\n' ' ')
    got="$(sha256sum <"$tmp/$name/model.safetensors" | cut -d' ' -f1) $(sha256sum <"$tmp/$name/config.json" | cut -d' ' -f1) "
    [ "$want" = "$got" ]
    ok $? "$name: model.safetensors and config.json sha256 match the references (else rerun t/ref/make_model_refs.py)"
    "$check" "$tmp/$name" "$fx" >"$tmp/out" 2>&1
    rc=$?
    sed 's/^\([^#]\)/# \1/' "$tmp/out"
    [ $rc -eq 0 ]
    ok $? "$name: logits within 2e-3 of transformers float32, probabilities within 1e-3, within 2e-2 of bf16"
    rm -rf "${tmp:?}/$name"
done
[ "$n" -gt 0 ]; ok $? "references found ($n)"
# every model in the list has its references
for name in $(awk '!/^#/ && NF { print $1 }' "$list"); do
    [ -f "$top_srcdir/t/data/ref/$name.json" ]; ok $? "$name: references committed"
done
done_testing
