#!/bin/sh
# gpu-check.sh: every check of the CUDA backend that needs a GPU, in one run
# of under 8 minutes on an H100/H200 machine (16 cores, nothing reachable),
# results in $OUT/gpu-check.txt (plus build.log, bench.json, hf.txt,
# sanitizer.txt beside it):
#   1. build: configure --enable-cuda && make -j16 when this machine can;
#      else the prebuilt bundle .gpu-bundle/bundle.tar.xz (t/cuda/gpu-bundle.sh),
#      with the CUDA module rebuilt from source by this machine's nvcc;
#   2. CUDA vs CPU (t/cuda_compare: logits within 2e-2, probabilities within
#      1e-2, batched as alone) on generated tiny checkpoints reaching every
#      attention path, and on a generated llama-3.2-1b checkpoint;
#   3. device=auto picks the GPU; a faulting batch fails alone and the
#      backend recovers (LLMSPAM_CUDA_INJECT_FAULT);
#   4. `llmspam bench --device cuda`: packed batches of 64 x 512 tokens
#      (tokens/s, messages/s, fraction of 989 TFLOP/s), one message alone
#      (median and p99 latency);
#   5. compute-sanitizer memcheck (and racecheck) on a tiny model;
#   each of 2 and 4 also with the opt-in tensor-core attention
#   (LLMSPAM_CUDA_ATTENTION=tf32), to decide whether it becomes the default;
#   6. transformers, when python3 has torch and transformers: fp32 parity
#      (probabilities within 2e-2) and the same benchmark in bf16/sdpa, with
#      the ratio; skipped with a note otherwise.
# A summary ends the file. Exit 0 when every check passed.
# Environment: OUT (default /tmp/gpu-check-out); GPU_CHECK_USE_BUNDLE=1 uses
# the bundle without trying to build; GPU_CHECK_NO_1B=1 stops before the
# llama-3.2-1b part (dry runs of this script on a machine without a GPU).
#
# The next session with a GPU:
#   here (a machine with the build dependencies):  sh t/cuda/gpu-bundle.sh
#   then the device tool:  run command "sh t/cuda/gpu-check.sh",
#                          carry [".gpu-bundle"], timeout_s 560
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-/tmp/gpu-check-out}
mkdir -p "$OUT"
R="$OUT/gpu-check.txt"
: >"$R"
t0=$(date +%s)
passes=0
fails=0
say() { printf '%s\n' "$*" | tee -a "$R"; }
elapsed() { echo $(($(date +%s) - t0)); }
section() { say ""; say "== $* (t=$(elapsed)s)"; }
result() { # result RC DESC
    if [ "$1" -eq 0 ]; then passes=$((passes + 1)); say "PASS  $2"; else fails=$((fails + 1)); say "FAIL  $2 (exit $1)"; fi
}
quote() { sed 's/^/    /' "$1" | head -"${2:-40}" | tee -a "$R" >/dev/null; }

section "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader 2>&1 | tee -a "$R"
GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
say "nvcc: $(nvcc --version 2>/dev/null | tail -1); cores: $(nproc); kernel: $(uname -r)"
say "commit: $(cd "$src" && git rev-parse --short HEAD 2>/dev/null || echo unknown)"

# ---- 1. build --------------------------------------------------------------
section "build"
B=/tmp/llmspam-gpu-build
built=no
if [ -z "${GPU_CHECK_USE_BUNDLE:-}" ] && command -v autoreconf >/dev/null 2>&1 && pkg-config --exists libcjson libpcre2-8 gmime-3.0 libxml-2.0 2>/dev/null; then
    say "building: configure --enable-cuda && make -j16"
    if (cd "$src" && { [ -x configure ] || sh autogen.sh; }) >"$OUT/build.log" 2>&1 &&
        mkdir -p "$B" && (cd "$B" && "$src/configure" --enable-cuda && make -j16 && make -j16 t/cuda_compare) >>"$OUT/build.log" 2>&1; then
        built=yes
        BIN="$B/llmspam" CMP="$B/t/cuda_compare" MOD="$B/llmspam-cuda.so"
    else
        say "the build failed here (see build.log); trying the bundle"
    fi
else
    say "this machine cannot build llmspam (no autotools or no -dev packages); trying the bundle"
fi
if [ $built = no ]; then
    if [ ! -f "$src/.gpu-bundle/bundle.tar.xz" ]; then
        result 1 "no build and no .gpu-bundle/bundle.tar.xz: run t/cuda/gpu-bundle.sh first and carry .gpu-bundle"
        exit 1
    fi
    G=/tmp/llmspam-gpu-bundle
    rm -rf "$G" && mkdir -p "$G" && tar -C "$G" -xJf "$src/.gpu-bundle/bundle.tar.xz"
    say "bundle: commit $(cat "$G/COMMIT"), built with $(cat "$G/NVCC")"
    LD_LIBRARY_PATH="$G/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export LD_LIBRARY_PATH
    BIN="$G/bin/llmspam" CMP="$G/bin/cuda_compare" MOD="$G/bin/llmspam-cuda.so"
    # the module again from source with this machine's nvcc (the same flags
    # as cuda/Makefile.inc): proves it builds here, and matches this CUDA
    gen="-gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90"
    mkdir -p "$G/mod"
    if (cd "$G/mod" && for f in backend_cuda kernels; do
            nvcc -std=c++17 -O3 $gen -I"$src" -Xcompiler -fPIC,-fvisibility=hidden,-Wall,-Wextra -Werror all-warnings \
                -c -o $f.o "$src/cuda/$f.cu" &
        done && wait && [ -f backend_cuda.o ] && [ -f kernels.o ] && cuda=$(dirname "$(dirname "$(command -v nvcc)")") &&
        nvcc -shared $gen -o llmspam-cuda.so backend_cuda.o kernels.o -L"$cuda/lib64" \
            -Xlinker -rpath,"$cuda/lib64" -lcublasLt -Xlinker -z,relro,-z,now,-z,defs) >>"$OUT/build.log" 2>&1; then
        MOD="$G/mod/llmspam-cuda.so"
        result 0 "CUDA module built here by nvcc from source, no warnings"
    else
        result 1 "CUDA module built here by nvcc (see build.log); using the bundle's"
    fi
fi
LLMSPAM_CUDA_MODULE="$MOD"
export LLMSPAM_CUDA_MODULE
if ldd "$MOD" | grep -q 'cublasLt.*not found'; then
    lt=$(find / -xdev -name 'libcublasLt.so.1[0-9]*' 2>/dev/null | head -1)
    [ -n "$lt" ] && LD_LIBRARY_PATH="$(dirname "$lt")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" && export LD_LIBRARY_PATH
    say "cuBLASLt from $(dirname "${lt:-none}")"
fi
"$BIN" mkmodel --help >/dev/null 2>&1
result $? "llmspam runs here ($BIN)"

# ---- 2. CUDA vs CPU ----------------------------------------------------------
M=/tmp/llmspam-gpu-models
ATTN= # LLMSPAM_CUDA_ATTENTION for compare: empty (fp32) or tf32
rm -rf "$M" && mkdir -p "$M"
tok="$src/models/tokenizer/tokenizer.json"
mk() { # mk NAME ARGS...
    name=$1; shift
    timeout 300 "$BIN" mkmodel --tokenizer "$tok" "$@" "$M/$name" >"$M/$name.log" 2>&1 </dev/null
}
compare() { # compare DESC DIR MAXTOK NSEQ SEED LIMIT
    LLMSPAM_CUDA_ATTENTION=$ATTN timeout "$6" "$CMP" "$2" "$3" "$4" "$5" >"$M/cmp.log" 2>&1 </dev/null
    rc=$?
    result $rc "cuda vs cpu: $1 ($(grep -c '^ok' "$M/cmp.log") checks passed, $(grep -c '^not ok' "$M/cmp.log") failed)"
    grep '^# cuda' "$M/cmp.log" | tee -a "$R"
    [ $rc -eq 0 ] || { grep -v '^ok' "$M/cmp.log" >"$M/cmp.bad"; quote "$M/cmp.bad" 30; }
}
section "CUDA vs CPU, tiny checkpoints"
i=0
: >"$M/list"
while read -r desc maxtok args; do
    echo "$desc" >>"$M/list"
    i=$((i + 1))
    # shellcheck disable=SC2086
    mk t$i --preset tiny --seed $i $args || { result 1 "mkmodel $desc"; continue; }
    compare "$desc" "$M/t$i" "$maxtok" 16 $i 120
done <<'EOF'
tiny,hd16 300
hd64,GQA4:1 300 --hidden 256 --heads 4 --kv-heads 1 --head-dim 64
hd128 200 --hidden 256 --heads 2 --kv-heads 2 --head-dim 128
hd8,generic 200 --heads 4 --kv-heads 2 --head-dim 8
hd24,generic 150 --hidden 96 --heads 4 --kv-heads 4 --head-dim 24
f32-weights,3-labels 130 --dtype f32 --labels a,b,c
multi-label 100 --labels x,y --problem-type multi_label_classification
EOF
section "CUDA vs CPU, tensor-core (TF32) attention, LLMSPAM_CUDA_ATTENTION=tf32"
ATTN=tf32
for i in 1 2 3 6; do
    compare "tf32 attention, $(sed -n "${i}p" "$M/list")" "$M/t$i" 300 16 $i 120
done
ATTN=
LLMSPAM_CUDA_INJECT_FAULT=2 timeout 120 "$CMP" "$M/t2" 200 1 1 >"$M/fault.log" 2>&1 </dev/null
rc=$?
result $rc "a batch that faults (illegal address) fails alone; the backend resets and the next batch answers"
[ $rc -eq 0 ] || quote "$M/fault.log" 20
echo "Congratulations, you won a prize: click here" >"$M/msg"
"$BIN" classify --model "$M/t1" --json --device auto "$M/msg" >"$M/auto.json" 2>&1
grep -q '"device":"cuda:0' "$M/auto.json"
result $? "device=auto picks the GPU: $(sed -n 's/.*"device":"\([^"]*\)".*/\1/p' "$M/auto.json")"

if [ -n "${GPU_CHECK_NO_1B:-}" ]; then
    say "NOTE  GPU_CHECK_NO_1B set: the llama-3.2-1b checks are not run (a dry run of this script)"
    exit 0
fi
section "llama-3.2-1b checkpoint (generated)"
mk 1b --preset llama-3.2-1b --seed 1
result $? "llama-3.2-1b checkpoint generated in $(elapsed)s since start"

# ---- 4. benchmark (first: the figure that matters most) ---------------------
section "benchmark: llmspam bench --device cuda (llama-3.2-1b, 64 x 512 tokens)"
say "\$ llmspam bench --model M --tokens 512 --device cuda --batch 64 --runs 10"
timeout 180 "$BIN" bench --model "$M/1b" --tokens 512 --device cuda --batch 64 --runs 10 >"$M/bench.txt" 2>&1
result $? "bench ran"
quote "$M/bench.txt"
timeout 180 "$BIN" bench --model "$M/1b" --tokens 512 --device cuda --batch 64 --runs 10 --json >"$OUT/bench.json" 2>&1
result $? "bench --json ran"

say "\$ LLMSPAM_CUDA_ATTENTION=tf32 llmspam bench --model M --tokens 512 --device cuda --batch 64 --runs 10"
LLMSPAM_CUDA_ATTENTION=tf32 timeout 180 "$BIN" bench --model "$M/1b" --tokens 512 --device cuda --batch 64 --runs 10 \
    >"$M/bench-tf32.txt" 2>&1
result $? "bench ran (tf32 attention)"
quote "$M/bench-tf32.txt"

compare "llama-3.2-1b, 8 sequences up to 512 tokens" "$M/1b" 512 8 1 300
ATTN=tf32
compare "llama-3.2-1b, tf32 attention" "$M/1b" 512 8 1 300
ATTN=

# ---- 5. compute-sanitizer ----------------------------------------------------
section "compute-sanitizer (tiny model)"
if command -v compute-sanitizer >/dev/null 2>&1; then
    timeout 150 compute-sanitizer --tool memcheck --error-exitcode 9 --print-limit 20 \
        "$CMP" "$M/t1" 130 6 1 >"$OUT/sanitizer.txt" 2>&1
    rc=$?
    result $rc "memcheck clean ($(grep -c '^ok' "$OUT/sanitizer.txt") checks ran under it)"
    tail -3 "$OUT/sanitizer.txt" | tee -a "$R"
    timeout 120 compute-sanitizer --tool racecheck --error-exitcode 9 --print-limit 20 \
        "$CMP" "$M/t2" 130 4 2 >>"$OUT/sanitizer.txt" 2>&1
    result $? "racecheck clean (hd64 tiled attention)"
    tail -2 "$OUT/sanitizer.txt" | tee -a "$R"
    LLMSPAM_CUDA_ATTENTION=tf32 timeout 120 compute-sanitizer --tool racecheck --error-exitcode 9 --print-limit 20 \
        "$CMP" "$M/t2" 130 4 2 >>"$OUT/sanitizer.txt" 2>&1
    result $? "racecheck clean (hd64 tf32 attention)"
    LLMSPAM_CUDA_ATTENTION=tf32 timeout 120 compute-sanitizer --tool memcheck --error-exitcode 9 --print-limit 20 \
        "$CMP" "$M/t3" 130 4 3 >>"$OUT/sanitizer.txt" 2>&1
    result $? "memcheck clean (hd128 tf32 attention)"
else
    say "NOTE  compute-sanitizer not on this machine: memcheck not run"
fi

# ---- 6. transformers -----------------------------------------------------------
section "transformers (same checkpoint, same messages)"
if python3 -c 'import torch, transformers; assert torch.cuda.is_available()' >/dev/null 2>&1; then
    timeout 200 python3 "$src/t/cuda/hf_compare.py" --model "$M/1b" --llmspam "$BIN" --parity --bench \
        --tokens 512 --batch 64 --runs 10 --llmspam-json "$OUT/bench.json" >"$OUT/hf.txt" 2>&1
    rc=$?
    grep -E '^(ok|not ok|#)' "$OUT/hf.txt" | tee -a "$R"
    result $rc "transformers fp32 parity: probabilities within 2e-2"
else
    say "NOTE  python3 lacks torch/transformers (or CUDA in torch): transformers parity and comparison skipped"
fi

# ---- summary --------------------------------------------------------------------
section "summary"
j() { sed -n "s/.*\"$1\":\([-0-9.e+]*\).*/\1/p" "$OUT/bench.json" | head -1; }
say "device: $GPU"
say "throughput: $(j tokens_per_s) tokens/s, $(j messages_per_s) messages/s, $(j tflops) TFLOP/s = $(j fraction_of_peak) of 989 (target >= 200000 tokens/s)"
say "with tf32 attention: $(grep -E 'tokens/s|latency' "$M/bench-tf32.txt" 2>/dev/null | tr -s ' ' | tr '\n' ';')"
say "latency, one 512-token message: median $(j latency_ms_median) ms, p99 $(j latency_ms_p99) ms (target <= 5 ms)"
ratio=$(sed -n 's/.*"ratio_llmspam_over_hf": \([0-9.e+-]*\).*/\1/p' "$OUT/hf.txt" 2>/dev/null | head -1)
say "vs transformers bf16 sdpa: ${ratio:-not measured} x (target >= 2)"
say "checks: $passes passed, $fails failed; $(elapsed) s"
[ "$fails" -eq 0 ]
