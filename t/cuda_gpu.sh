# cuda_gpu.sh: where a GPU is present, the CUDA backend against the CPU
# (t/cuda_compare: logits within 2e-2, probabilities within 1e-2, batched
# as alone) on generated tiny checkpoints that reach each attention path
# (head_dim 16, 64 and 128 tiled; 8 and 24 generic), F32 weights, three
# labels, a multi-label head; and device=auto choosing the GPU. Elsewhere
# (no module built, no GPU) the whole script is skipped.
. "$top_srcdir/t/lib/tap.sh"
tok="$top_srcdir/models/tokenizer/tokenizer.json"
grep -q '^#define LLMSPAM_CUDA 1' "$top_builddir/config.h" 2>/dev/null || skip_all "no CUDA module built"
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU' || skip_all "no GPU on this host"
[ -f "$tok" ] || skip_all "no $tok"
cmp="$top_builddir/t/cuda_compare"
if [ ! -x "$cmp" ]; then
    (cd "$top_builddir" && make t/cuda_compare >/dev/null 2>&1) || skip_all "t/cuda_compare not built"
fi
LLMSPAM_CUDA_MODULE="$top_builddir/llmspam-cuda.so"
export LLMSPAM_CUDA_MODULE
tmp=$(mktemp -d "${TMPDIR:-/tmp}/llmspam-cudagpu.XXXXXX") || skip_all "no temporary directory"
trap 'rm -rf "$tmp"' EXIT

n=0
check() { # check DESC MAXTOK MKMODEL-ARGS...
    desc=$1 maxtok=$2; shift 2
    n=$((n + 1))
    "$LLMSPAM" mkmodel --preset tiny --seed $n --tokenizer "$tok" "$@" "$tmp/m$n" >"$tmp/mk$n" 2>&1
    ok $? "$desc: model generated"
    "$cmp" "$tmp/m$n" "$maxtok" 16 $n >"$tmp/c$n" 2>&1
    rc=$?
    [ $rc -eq 0 ]; ok $? "$desc: cuda matches cpu ($(grep -c '^ok' "$tmp/c$n") checks)"
    [ $rc -eq 0 ] || sed 's/^/    /' "$tmp/c$n" | grep -v '^    ok' | head -20
    grep '^# cuda vs cpu, worst' "$tmp/c$n"
}
check "tiny, head_dim 16" 300
check "head_dim 64, GQA 4:1" 300 --hidden 256 --heads 4 --kv-heads 1 --head-dim 64
check "head_dim 128" 200 --hidden 256 --heads 2 --kv-heads 2 --head-dim 128
check "head_dim 8 (generic kernel)" 200 --heads 4 --kv-heads 2 --head-dim 8
check "head_dim 24 (generic kernel)" 150 --hidden 96 --heads 4 --kv-heads 4 --head-dim 24
check "f32 weights, three labels" 130 --dtype f32 --labels a,b,c
check "multi-label" 100 --labels x,y --problem-type multi_label_classification

# the opt-in tensor-core attention, on the tiled head dims
for i in 1 2 3; do
    LLMSPAM_CUDA_ATTENTION=tf32 "$cmp" "$tmp/m$i" 200 12 $i >"$tmp/tc$i" 2>&1
    ok $? "tf32 attention, model $i: cuda matches cpu"
    grep '^# cuda vs cpu, worst' "$tmp/tc$i"
done

echo "Free money, click now" >"$tmp/msg"
"$LLMSPAM" classify --text --model "$tmp/m1" --json --device auto "$tmp/msg" >"$tmp/auto" 2>&1
grep -q '"device":"cuda:0' "$tmp/auto"; ok $? "device=auto chooses the GPU"
grep -q '"device":"cuda:0' "$tmp/auto" || diag "$(cat "$tmp/auto")"
done_testing
