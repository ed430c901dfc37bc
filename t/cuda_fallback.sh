# cuda_fallback.sh: device = auto falls back to the CPU, answers exactly as
# device = cpu, and says why (no GPU visible, no module, a broken module);
# device = cuda without a GPU is an error that says so; a malformed device
# is refused. CUDA_VISIBLE_DEVICES is emptied, so this holds on GPU hosts too.
. "$top_srcdir/t/lib/tap.sh"
tok="$top_srcdir/models/tokenizer/tokenizer.json"
[ -f "$tok" ] || skip_all "no $tok"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/llmspam-cudafb.XXXXXX") || skip_all "no temporary directory"
trap 'rm -rf "$tmp"' EXIT
CUDA_VISIBLE_DEVICES=
export CUDA_VISIBLE_DEVICES
"$LLMSPAM" mkmodel --preset tiny --seed 5 --tokenizer "$tok" "$tmp/m" >"$tmp/mk.out" 2>&1
ok $? "tiny model generated"
echo "Cheap meds, click here to claim your prize" >"$tmp/msg"
mod="$top_builddir/llmspam-cuda.so"
have_mod=0
grep -q '^#define LLMSPAM_CUDA 1' "$top_builddir/config.h" 2>/dev/null && [ -f "$mod" ] && have_mod=1

classify() { # classify DEVICE -> $tmp/out, $tmp/err, $rc
    "$LLMSPAM" classify --text --model "$tmp/m" --threads 1 --json --device "$1" "$tmp/msg" >"$tmp/out" 2>"$tmp/err"
    rc=$?
}
field() { sed -n "s/.*\"$1\":\(\[[^]]*\]\|\"[^\"]*\"\).*/\1/p" "$tmp/out"; }

classify cpu; ok $rc "device=cpu classifies"
cpu_logits=$(field logits)
field device | grep -q '^"cpu'; ok $? "device=cpu reports the cpu backend"

if [ $have_mod -eq 1 ]; then
    LLMSPAM_CUDA_MODULE="$mod" classify auto
    ok $rc "device=auto with the module and no visible GPU classifies"
    dev=$(field device)
    diag "device: $dev"
    echo "$dev" | grep -q '^"cpu.*auto: cuda: no CUDA device.*; using cpu'
    ok $? "auto fell back to the cpu and says why (no CUDA device)"
    [ "$(field logits)" = "$cpu_logits" ]; ok $? "the fallback answers exactly as device=cpu"
    LLMSPAM_CUDA_MODULE="$mod" classify cuda
    [ $rc -ne 0 ] && grep -q 'cuda: no CUDA device' "$tmp/err"
    ok $? "device=cuda without a GPU is an error naming the cause"
    [ $rc -ne 0 ] || diag "$(cat "$tmp/out")"
else
    skip "no CUDA module built: auto with the module"
    skip "no CUDA module built: the reason"
    skip "no CUDA module built: same answer"
    skip "no CUDA module built: device=cuda error"
fi

LLMSPAM_CUDA_MODULE="$tmp/none.so" classify auto
ok $rc "device=auto without the module classifies"
field device | grep -q "^\"cpu.*auto: cuda: module $tmp/none.so not found; using cpu"
ok $? "and says the module was not found"
[ "$(field logits)" = "$cpu_logits" ]; ok $? "same answer as device=cpu"

echo "not an ELF file" >"$tmp/bad.so"
LLMSPAM_CUDA_MODULE="$tmp/bad.so" classify auto
ok $rc "device=auto with a broken module classifies"
field device | grep -q "auto: cuda: cannot load $tmp/bad.so"; ok $? "and says the module cannot be loaded"

LLMSPAM_CUDA_MODULE="$tmp/none.so" classify cuda:1
[ $rc -eq 1 ] && grep -q "module $tmp/none.so not found" "$tmp/err"
ok $? "device=cuda:1 without the module: an error naming the path"

for bad in gpu cuda: cuda:x cuda:256 "cuda:1 " CPU; do
    classify "$bad"
    [ $rc -eq 1 ] && grep -q "is not auto, cpu, cuda or cuda:N" "$tmp/err"
    ok $? "device='$bad' refused"
done
done_testing
