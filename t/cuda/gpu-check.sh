#!/bin/sh
# gpu-check.sh: every check of the CUDA backend that needs a GPU, in one run
# on an H100/H200 machine (16 cores, nothing reachable). Every figure goes
# to ONE file, $OUT/gpu-check.json; $OUT/gpu-check.txt is the same run for
# people (logs beside them: build.log, work/*.log).
#
# Time: the steps share a budget of GPU_CHECK_BUDGET seconds (default 450).
# Each step runs under `timeout` with its own limit, cut to what is left of
# the budget (less 10 s); a step that finds under 3 s left is SKIP. So the
# whole run ends within the budget plus a few seconds of bookkeeping: under
# 8 minutes by construction. The steps come in order of importance, so what
# a short budget drops are the optional ones at the end.
#
# Results: each step is PASS, FAIL or SKIP (with the reason: no GPU, no
# compute-sanitizer, no torch, no time left...). A check that cannot run
# here is SKIP, never PASS. Exit 0 when no step failed.
#
#   1. build: configure --enable-cuda && make -j16 when this machine can;
#      else the prebuilt bundle .gpu-bundle/bundle.tar.xz (t/cuda/gpu-bundle.sh),
#      with the CUDA module rebuilt from source by this machine's nvcc;
#   2. CUDA vs CPU (t/cuda_compare: logits within 2e-2, probabilities within
#      1e-2, batched as alone) on generated tiny checkpoints reaching every
#      attention path; a faulting batch fails alone and the backend recovers
#      (LLMSPAM_CUDA_INJECT_FAULT); device=auto picks the GPU;
#   3. on a generated llama-3.2-1b checkpoint: `llmspam bench --device cuda`
#      (packed batches of 64 x 512 tokens: tokens/s, messages/s, fraction
#      of 989 TFLOP/s; one message alone: median and p99 latency), then
#      CUDA vs CPU as in 2;
#   4. compute-sanitizer memcheck on a tiny model;
#   5. transformers, when python3 has torch (with CUDA) and transformers:
#      parity in fp32 and bf16 (probabilities within 2e-2) and the same
#      benchmark in bf16/sdpa, padded batches of 64, with the ratio;
#   6. optional, while time is left: the tensor-core attention
#      (LLMSPAM_CUDA_ATTENTION=tf32) compared and benchmarked, racecheck.
# Environment: OUT (default /tmp/gpu-check-out); GPU_CHECK_BUDGET (seconds);
# GPU_CHECK_USE_BUNDLE=1 uses the bundle without trying to build;
# GPU_CHECK_NO_1B=1 skips the llama-3.2-1b steps; GPU_CHECK_NO_NVCC=1 skips
# rebuilding the module (a dry run where nvcc is slow).
#
# The next session with a GPU:
#   here (a machine with the build dependencies):  sh t/cuda/gpu-bundle.sh
#   then the device tool:  run command "sh t/cuda/gpu-check.sh",
#                          carry [".gpu-bundle"], timeout_s 540
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-/tmp/gpu-check-out}
BUDGET=${GPU_CHECK_BUDGET:-450}
mkdir -p "$OUT"
R="$OUT/gpu-check.txt"
J="$OUT/gpu-check.json"
W="$OUT/work"
rm -rf "$W" && mkdir -p "$W"
: >"$R"
t0=$(date +%s)
deadline=$((t0 + BUDGET))
passes=0 fails=0 skips=0
say() { printf '%s\n' "$*" | tee -a "$R"; }
elapsed() { echo $(($(date +%s) - t0)); }
section() { say ""; say "== $* (t=$(elapsed)s)"; }
quote() { sed 's/^/    /' "$1" | head -"${2:-40}" | tee -a "$R" >/dev/null; }
# a JSON string: control characters dropped, \ and " escaped
jstr() { printf '"%s"' "$(printf '%s' "$1" | tr -d '\000-\037' | sed 's/\\/\\\\/g; s/"/\\"/g')"; }
# a JSON number, or null when $1 is not one
jnum() { case $1 in '' | *[!-0-9.e+]*) printf null ;; *) printf '%s' "$1" ;; esac; }
# the last "# json {...}" line of a cuda_compare log, or null
cmpjson() { v=$(sed -n 's/^# json //p' "$1" 2>/dev/null | tail -1); printf '%s' "${v:-null}"; }

# ---- steps: budget, limits, results --------------------------------------------
# budget NAME LIMIT: sets LIM (LIMIT cut to the budget left) and STEP_T0;
# false (the step is recorded as SKIP) when under 3 s are left.
budget() {
    STEP=$1
    left=$((deadline - $(date +%s) - 10))
    LIM=$2
    [ "$left" -lt "$LIM" ] && LIM=$left
    STEP_T0=$(date +%s)
    if [ "$LIM" -lt 3 ]; then
        LIM=0
        record 77 "$STEP" "no time left in the ${BUDGET}s budget"
        return 1
    fi
    return 0
}
# record RC NAME DESC: 0 PASS, 77 SKIP, 124/137 FAIL (timed out), else FAIL.
record() {
    # sh has no locals: names of their own, so callers' variables survive
    r_rc=$1 r_name=$2 r_desc=$3
    r_secs=$(($(date +%s) - ${STEP_T0:-$(date +%s)}))
    case $r_rc in
    0) r_st=pass passes=$((passes + 1)); say "PASS  $r_desc" ;;
    77) r_st=skip skips=$((skips + 1)); say "SKIP  $r_desc" ;;
    124 | 137) r_st=fail fails=$((fails + 1)); r_desc="$r_desc (timed out after ${LIM}s)"; say "FAIL  $r_desc" ;;
    *) r_st=fail fails=$((fails + 1)); r_desc="$r_desc (exit $r_rc)"; say "FAIL  $r_desc" ;;
    esac
    printf '{"step":%s,"status":"%s","seconds":%s,"limit_s":%s,"detail":%s}\n' "$(jstr "$r_name")" "$r_st" \
        "$r_secs" "${LIM:-0}" "$(jstr "$r_desc")" >>"$W/steps.jsonl"
    STEP_T0=
    LAST=$r_st
}
# skip NAME WHY: a step that cannot run here.
skip() { STEP_T0=$(date +%s) LIM=0; record 77 "$1" "$1: $2"; }

section "machine"
GPU=
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader 2>&1 | tee -a "$R"
    GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
    DRIVER=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -1)
    GPUMEM=$(nvidia-smi --query-gpu=memory.total --format=csv,noheader 2>/dev/null | head -1)
    nogpu=
else
    DRIVER= GPUMEM=
    nogpu="no GPU on this machine (nvidia-smi -L lists none)"
    say "$nogpu: every GPU step is SKIP"
fi
NVCCV=$(nvcc --version 2>/dev/null | tail -1)
COMMIT=$(cd "$src" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
say "nvcc: ${NVCCV:-none}; cores: $(nproc); kernel: $(uname -r); commit: $COMMIT; budget: ${BUDGET}s"
# need_gpu NAME: false (and SKIP) without a GPU
need_gpu() { [ -z "$nogpu" ] || { skip "$1" "$nogpu"; return 1; }; }

# ---- 1. build --------------------------------------------------------------
section "build"
B=/tmp/llmspam-gpu-build
built=no BUNDLE_COMMIT=
if [ -z "${GPU_CHECK_USE_BUNDLE:-}" ] && command -v autoreconf >/dev/null 2>&1 &&
    pkg-config --exists libcjson libpcre2-8 gmime-3.0 libxml-2.0 2>/dev/null; then
    if budget build 240; then
        say "building: configure --enable-cuda && make -j16"
        (cd "$src" && { [ -x configure ] || sh autogen.sh; }) >"$OUT/build.log" 2>&1 && mkdir -p "$B" &&
            timeout -k 5 "$LIM" sh -c "cd '$B' && '$src/configure' --enable-cuda && make -j16 && make -j16 t/cuda_compare" \
                >>"$OUT/build.log" 2>&1
        rc=$?
        record $rc build "configure --enable-cuda && make here"
        if [ $rc -eq 0 ]; then
            built=yes
            BIN="$B/llmspam" CMP="$B/t/cuda_compare" MOD="$B/llmspam-cuda.so"
        else
            say "the build failed here (see build.log); trying the bundle"
        fi
    fi
else
    if [ -n "${GPU_CHECK_USE_BUNDLE:-}" ]; then
        say "GPU_CHECK_USE_BUNDLE set: using the bundle"
    else
        say "this machine cannot build llmspam (no autotools or no -dev packages); using the bundle"
    fi
fi
if [ $built = no ]; then
    if [ ! -f "$src/.gpu-bundle/bundle.tar.xz" ]; then
        STEP_T0=$(date +%s) LIM=0
        record 1 bundle "no build and no .gpu-bundle/bundle.tar.xz: run t/cuda/gpu-bundle.sh first and carry .gpu-bundle"
        printf '{"schema":"llmspam-gpu-check/1","error":"no build and no bundle","steps":[%s]}\n' \
            "$(paste -sd, "$W/steps.jsonl")" >"$J"
        exit 1
    fi
    G=/tmp/llmspam-gpu-bundle
    rm -rf "$G" && mkdir -p "$G" && tar -C "$G" -xJf "$src/.gpu-bundle/bundle.tar.xz"
    BUNDLE_COMMIT=$(cat "$G/COMMIT")
    say "bundle: commit $BUNDLE_COMMIT, built with $(cat "$G/NVCC")"
    LD_LIBRARY_PATH="$G/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export LD_LIBRARY_PATH
    BIN="$G/bin/llmspam" CMP="$G/bin/cuda_compare" MOD="$G/bin/llmspam-cuda.so"
    # the module again from source with this machine's nvcc (the same flags
    # as cuda/Makefile.inc): proves it builds here, and matches this CUDA
    if [ -n "${GPU_CHECK_NO_NVCC:-}" ]; then
        skip nvcc-module "GPU_CHECK_NO_NVCC set: the bundle's module is used"
    elif ! command -v nvcc >/dev/null 2>&1; then
        skip nvcc-module "no nvcc here: the bundle's module is used"
    elif budget nvcc-module 180; then
        gen="-gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90"
        mkdir -p "$G/mod"
        (cd "$G/mod" && for f in backend_cuda kernels; do
                timeout -k 5 "$LIM" nvcc -std=c++17 -O3 $gen -I"$src" -Xcompiler -fPIC,-fvisibility=hidden,-Wall,-Wextra \
                    -Werror all-warnings -c -o $f.o "$src/cuda/$f.cu" &
            done && wait && [ -f backend_cuda.o ] && [ -f kernels.o ] && cuda=$(dirname "$(dirname "$(command -v nvcc)")") &&
            nvcc -shared $gen -o llmspam-cuda.so backend_cuda.o kernels.o -L"$cuda/lib64" \
                -Xlinker -rpath,"$cuda/lib64" -lcublasLt -Xlinker -z,relro,-z,now,-z,defs) >>"$OUT/build.log" 2>&1
        rc=$?
        [ $rc -eq 0 ] && [ ! -f "$G/mod/llmspam-cuda.so" ] && rc=1
        if [ $rc -eq 0 ]; then
            MOD="$G/mod/llmspam-cuda.so"
            record 0 nvcc-module "CUDA module built here by nvcc from source, no warnings"
        else
            record $rc nvcc-module "CUDA module built here by nvcc (see build.log); using the bundle's"
        fi
    fi
fi
LLMSPAM_CUDA_MODULE="$MOD"
export LLMSPAM_CUDA_MODULE
if ldd "$MOD" 2>/dev/null | grep -q 'cublasLt.*not found'; then
    lt=$(timeout 30 find / -xdev -name 'libcublasLt.so.1[0-9]*' 2>/dev/null | head -1)
    [ -n "$lt" ] && LD_LIBRARY_PATH="$(dirname "$lt")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" && export LD_LIBRARY_PATH
    say "cuBLASLt from $(dirname "${lt:-none}")"
fi
STEP_T0=$(date +%s) LIM=10
timeout 10 "$BIN" mkmodel --help >/dev/null 2>&1
record $? runs "llmspam runs here ($BIN)"

# ---- 2. CUDA vs CPU, tiny ---------------------------------------------------------
M=/tmp/llmspam-gpu-models
rm -rf "$M" && mkdir -p "$M"
tok="$src/models/tokenizer/tokenizer.json"
mk() { # mk NAME LIMIT ARGS...: a generated checkpoint in $M/NAME
    mk_name=$1 mk_lim=$2; shift 2
    budget "mkmodel-$mk_name" "$mk_lim" || return 1
    timeout -k 5 "$LIM" "$BIN" mkmodel --tokenizer "$tok" "$@" "$M/$mk_name" >"$W/mk-$mk_name.log" 2>&1 </dev/null
    mk_rc=$?
    record $mk_rc "mkmodel-$mk_name" "mkmodel $mk_name: $*"
    [ $mk_rc -eq 0 ]
}
compare() { # compare NAME DESC DIR MAXTOK NSEQ SEED LIMIT [ATTN]: cuda_compare, figures to compare.jsonl
    c_name=$1 c_desc=$2 c_attn=${8:-}
    budget "$c_name" "$7" || return 0
    c_log="$W/$c_name.log"
    LLMSPAM_CUDA_ATTENTION=$c_attn timeout -k 5 "$LIM" "$CMP" "$3" "$4" "$5" "$6" >"$c_log" 2>&1 </dev/null
    c_rc=$?
    c_ok=$(grep -c '^ok' "$c_log") c_bad=$(grep -c '^not ok' "$c_log")
    if [ $c_rc -eq 77 ]; then
        record 77 "$c_name" "cuda vs cpu: $c_desc: $(sed -n 's/^1\.\.0 # SKIP //p' "$c_log" | head -1)"
    else
        record $c_rc "$c_name" "cuda vs cpu: $c_desc ($c_ok checks passed, $c_bad failed)"
    fi
    grep '^# cuda' "$c_log" | tee -a "$R"
    [ $c_rc -eq 0 ] || [ $c_rc -eq 77 ] || { grep -v '^ok' "$c_log" >"$W/$c_name.bad"; quote "$W/$c_name.bad" 30; }
    printf '{"check":%s,"model":%s,"attention":"%s","status":"%s","checks_passed":%s,"checks_failed":%s,"figures":%s}\n' \
        "$(jstr "$c_name")" "$(jstr "$c_desc")" "${c_attn:-fp32}" "$LAST" "$c_ok" "$c_bad" "$(cmpjson "$c_log")" >>"$W/compare.jsonl"
}
section "CUDA vs CPU, tiny checkpoints"
i=0
: >"$M/list"
while read -r desc maxtok args; do
    i=$((i + 1))
    echo "$desc $maxtok" >>"$M/list"
    # shellcheck disable=SC2086
    mk t$i 30 --preset tiny --seed $i $args || continue
    compare cmp-t$i "$desc" "$M/t$i" "$maxtok" 16 $i 45
done <<'EOF'
tiny,hd16 300
hd64,GQA4:1 300 --hidden 256 --heads 4 --kv-heads 1 --head-dim 64
hd128 200 --hidden 256 --heads 2 --kv-heads 2 --head-dim 128
hd8,generic 200 --heads 4 --kv-heads 2 --head-dim 8
hd24,generic 150 --hidden 96 --heads 4 --kv-heads 4 --head-dim 24
f32-weights,3-labels 130 --dtype f32 --labels a,b,c
multi-label 100 --labels x,y --problem-type multi_label_classification
EOF

section "fault injection and device=auto"
FAULT=null AUTO=
if [ -d "$M/t2" ] && budget fault-recovery 45; then
    LLMSPAM_CUDA_INJECT_FAULT=2 timeout -k 5 "$LIM" "$CMP" "$M/t2" 200 1 1 >"$W/fault.log" 2>&1 </dev/null
    rc=$?
    if [ $rc -eq 77 ]; then
        record 77 fault-recovery "fault injection: $(sed -n 's/^1\.\.0 # SKIP //p' "$W/fault.log" | head -1)"
    else
        record $rc fault-recovery "a batch that faults (illegal address) fails alone; the backend resets and the next batch answers"
        [ $rc -eq 0 ] || quote "$W/fault.log" 20
    fi
    FAULT=$(cmpjson "$W/fault.log")
fi
if [ -d "$M/t1" ]; then
    echo "Congratulations, you won a prize: click here" >"$M/msg"
    if budget device-auto 30; then
        timeout -k 5 "$LIM" "$BIN" classify --model "$M/t1" --json --device auto "$M/msg" >"$W/auto.json" 2>&1 </dev/null
        rc=$?
        AUTO=$(sed -n 's/.*"device":"\([^"]*\)".*/\1/p' "$W/auto.json" | head -1)
        if [ -n "$nogpu" ]; then
            [ $rc -eq 0 ] && rc=77
            record $rc device-auto "device=auto without a GPU chose: ${AUTO:-nothing}"
        else
            [ $rc -eq 0 ] && grep -q '"device":"cuda:0' "$W/auto.json"
            record $? device-auto "device=auto picks the GPU: $AUTO"
        fi
    fi
fi

# ---- 3. llama-3.2-1b ------------------------------------------------------------
BENCH=null BENCH_TF32=null HF=null
have1b=no
section "llama-3.2-1b checkpoint (generated)"
if [ -n "${GPU_CHECK_NO_1B:-}" ]; then
    for s in mkmodel-1b bench-1b cmp-1b transformers bench-1b-tf32 cmp-1b-tf32; do skip $s "GPU_CHECK_NO_1B set"; done
elif need_gpu mkmodel-1b; then
    mk 1b 90 --preset llama-3.2-1b --seed 1 && have1b=yes
else
    for s in bench-1b cmp-1b transformers bench-1b-tf32 cmp-1b-tf32; do skip $s "$nogpu"; done
fi
if [ $have1b = yes ]; then
    section "benchmark: llmspam bench --device cuda (llama-3.2-1b, 64 x 512 tokens)"
    say "\$ llmspam bench --model M --tokens 512 --device cuda --batch 64 --runs 10 --json"
    if budget bench-1b 120; then
        timeout -k 5 "$LIM" "$BIN" bench --model "$M/1b" --tokens 512 --device cuda --batch 64 --runs 10 --json \
            >"$W/bench.out" 2>&1 </dev/null
        rc=$?
        grep '^{' "$W/bench.out" | tail -1 >"$OUT/bench.json"
        [ $rc -eq 0 ] && [ -s "$OUT/bench.json" ] || { [ $rc -eq 0 ] && rc=1; }
        record $rc bench-1b "bench ran"
        quote "$W/bench.out"
        [ -s "$OUT/bench.json" ] && BENCH=$(cat "$OUT/bench.json")
    fi
    compare cmp-1b "llama-3.2-1b, 8 sequences up to 512 tokens" "$M/1b" 512 8 1 150
fi

# ---- 4. compute-sanitizer ----------------------------------------------------------
section "compute-sanitizer (tiny model)"
SAN=
sanitize() { # sanitize NAME TOOL DIR MAXTOK NSEQ SEED LIMIT [ATTN]
    budget "$1" "$7" || return 0
    LLMSPAM_CUDA_ATTENTION=${8:-} timeout -k 5 "$LIM" compute-sanitizer --tool "$2" --error-exitcode 9 --print-limit 20 \
        "$CMP" "$3" "$4" "$5" "$6" >"$W/$1.log" 2>&1 </dev/null
    s_rc=$?
    s_errs=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) error.*/\1/p' "$W/$1.log" | tail -1)
    record $s_rc "$1" "$2 clean on ${3##*/}${8:+ ($8 attention)}: ${s_errs:-?} errors, $(grep -c '^ok' "$W/$1.log") checks ran under it"
    tail -3 "$W/$1.log" | tee -a "$R"
    SAN="$SAN${SAN:+,}{\"check\":$(jstr "$1"),\"tool\":\"$2\",\"status\":\"$LAST\",\"errors\":$(jnum "$s_errs")}"
}
if ! command -v compute-sanitizer >/dev/null 2>&1; then
    skip memcheck "compute-sanitizer not on this machine"
elif ! [ -d "$M/t1" ]; then
    skip memcheck "no tiny model"
elif need_gpu memcheck; then
    sanitize memcheck memcheck "$M/t1" 130 6 1 120
fi

# ---- 5. transformers -------------------------------------------------------------------
section "transformers (same checkpoint, same messages)"
if [ $have1b = yes ]; then
    if ! python3 -c 'import torch, transformers; assert torch.cuda.is_available()' >/dev/null 2>&1; then
        skip transformers "python3 lacks torch/transformers (or CUDA in torch)"
    elif budget transformers 180; then
        timeout -k 5 "$LIM" python3 "$src/t/cuda/hf_compare.py" --model "$M/1b" --llmspam "$BIN" --parity --bench \
            --tokens 512 --batch 64 --runs 10 --llmspam-json "$OUT/bench.json" >"$W/hf.txt" 2>&1 </dev/null
        rc=$?
        grep -E '^(ok|not ok|#)' "$W/hf.txt" | tee -a "$R"
        record $rc transformers "transformers fp32 and bf16 parity: probabilities within 2e-2; bf16 sdpa benchmark"
        [ $rc -eq 0 ] || quote "$W/hf.txt" 20
        v=$(sed -n 's/^HF_RESULT //p' "$W/hf.txt" | tail -1)
        # json.dumps writes NaN/Infinity, which JSON lacks
        HF=$(printf '%s' "${v:-null}" | sed 's/-\{0,1\}Infinity/null/g; s/NaN/null/g')
    fi
fi

# ---- 6. optional, while time is left ---------------------------------------------------
section "optional: tensor-core (TF32) attention, racecheck"
if [ -n "$nogpu" ]; then
    for s in 1 2 3 6; do skip cmp-t$s-tf32 "$nogpu"; done
    skip racecheck "$nogpu"
    skip racecheck-tf32 "$nogpu"
    skip memcheck-tf32 "$nogpu"
else
    for s in 1 2 3 6; do
        [ -d "$M/t$s" ] && compare cmp-t$s-tf32 "tf32 attention, $(sed -n "${s}p" "$M/list" | cut -d' ' -f1)" \
            "$M/t$s" 300 16 $s 40 tf32
    done
    if [ $have1b = yes ]; then
        if budget bench-1b-tf32 90; then
            LLMSPAM_CUDA_ATTENTION=tf32 timeout -k 5 "$LIM" "$BIN" bench --model "$M/1b" --tokens 512 --device cuda \
                --batch 64 --runs 10 --json >"$W/bench-tf32.out" 2>&1 </dev/null
            rc=$?
            v=$(grep '^{' "$W/bench-tf32.out" | tail -1)
            [ $rc -eq 0 ] && [ -z "$v" ] && rc=1
            record $rc bench-1b-tf32 "bench ran (tf32 attention)"
            BENCH_TF32=${v:-null}
        fi
        compare cmp-1b-tf32 "llama-3.2-1b, tf32 attention" "$M/1b" 512 8 1 120 tf32
    fi
    if command -v compute-sanitizer >/dev/null 2>&1 && [ -d "$M/t2" ]; then
        sanitize racecheck racecheck "$M/t2" 130 4 2 90
        sanitize racecheck-tf32 racecheck "$M/t2" 130 4 2 90 tf32
        [ -d "$M/t3" ] && sanitize memcheck-tf32 memcheck "$M/t3" 130 4 3 90 tf32
    else
        skip racecheck "compute-sanitizer not on this machine, or no tiny model"
    fi
fi

# ---- the one JSON file, and the summary ---------------------------------------------------
section "summary"
bj() { printf '%s' "$BENCH" | sed -n "s/.*\"$1\":\([-0-9.e+]*\).*/\1/p" | head -1; }
hj() { printf '%s' "$HF" | sed -n "s/.*\"$1\": \([-0-9.e+]*\).*/\1/p" | head -1; }
tps=$(bj tokens_per_s) lat=$(bj latency_ms_median) p99=$(bj latency_ms_p99) frac=$(bj fraction_of_peak)
ratio=$(hj ratio_llmspam_over_hf)
# target TEST VALUE LIMIT: true/false, null when not measured
target() { [ -n "$2" ] && awk -v x="$2" -v y="$3" "BEGIN { print (x $1 y) ? \"true\" : \"false\" }" || printf null; }
cmp_all=null
if [ -s "$W/compare.jsonl" ]; then
    if grep -q '"status":"fail"' "$W/compare.jsonl"; then cmp_all=false
    elif grep -q '"attention":"fp32","status":"pass"' "$W/compare.jsonl"; then cmp_all=true; fi
fi
verdict=pass
[ $skips -gt 0 ] && verdict=incomplete
[ $fails -gt 0 ] && verdict=fail
{
    printf '{"schema":"llmspam-gpu-check/1",\n'
    printf '"machine":{"gpu":%s,"gpu_memory":%s,"driver":%s,"nvcc":%s,"cores":%s,"kernel":%s,"commit":%s,"bundle_commit":%s,"built_here":%s},\n' \
        "$(jstr "$GPU")" "$(jstr "$GPUMEM")" "$(jstr "$DRIVER")" "$(jstr "$NVCCV")" "$(nproc)" "$(jstr "$(uname -r)")" \
        "$(jstr "$COMMIT")" "$(jstr "$BUNDLE_COMMIT")" "$([ $built = yes ] && echo true || echo false)"
    printf '"budget_s":%s,"elapsed_s":%s,\n' "$BUDGET" "$(elapsed)"
    printf '"summary":{"verdict":"%s","passed":%s,"failed":%s,"skipped":%s},\n' "$verdict" $passes $fails $skips
    printf '"targets":{"parity_cuda_vs_cpu":%s,"tokens_per_s_ge_200000":%s,"latency_median_le_5ms":%s,"ratio_vs_transformers_ge_2":%s},\n' \
        "$cmp_all" "$(target '>=' "$tps" 200000)" "$(target '<=' "$lat" 5)" "$(target '>=' "$ratio" 2)"
    printf '"figures":{"tokens_per_s":%s,"fraction_of_989_tflops":%s,"latency_ms_median":%s,"latency_ms_p99":%s,"ratio_llmspam_over_transformers":%s},\n' \
        "$(jnum "$tps")" "$(jnum "$frac")" "$(jnum "$lat")" "$(jnum "$p99")" "$(jnum "$ratio")"
    printf '"steps":[\n%s\n],\n' "$(paste -sd, "$W/steps.jsonl" | sed 's/},{/},\n{/g')"
    printf '"cuda_vs_cpu":[\n%s\n],\n' "$( [ -s "$W/compare.jsonl" ] && paste -sd, "$W/compare.jsonl" | sed 's/},{"check"/},\n{"check"/g')"
    printf '"fault_recovery":%s,\n' "$FAULT"
    printf '"device_auto":%s,\n' "$(jstr "$AUTO")"
    printf '"bench":%s,\n"bench_tf32_attention":%s,\n' "$BENCH" "$BENCH_TF32"
    printf '"sanitizer":[%s],\n' "$SAN"
    printf '"transformers":%s\n}\n' "$HF"
} >"$J"
say "device: ${GPU:-none}"
say "throughput: ${tps:-not measured} tokens/s, fraction of 989 TFLOP/s: ${frac:-not measured} (target >= 200000 tokens/s)"
say "latency, one 512-token message: median ${lat:-not measured} ms, p99 ${p99:-not measured} ms (target <= 5 ms)"
say "vs transformers bf16 sdpa: ${ratio:-not measured} x (target >= 2)"
say "steps: $passes passed, $fails failed, $skips skipped ($verdict); $(elapsed) s of a ${BUDGET} s budget"
say "figures: $J"
[ "$fails" -eq 0 ]
