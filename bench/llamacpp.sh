#!/bin/sh
# bench/llamacpp.sh: llmspam beside llama.cpp, in the same run, on the same
# Llama-3.2-1B-shaped weights: 512 tokens of prompt, THREADS threads (2),
# bf16 weights; prints both tokens/s and the ratio llmspam / llama.cpp.
#
# llama.cpp comes from the sources that the llama-cpp-python sdist on PyPI
# vendors (pinned below), built once into the build tree (CPU only, Release,
# llama-bench only) and reused afterwards. The checkpoint is the one
# bench/engine.sh generates (mkmodel --preset llama-3.2-1b --seed 1); it is
# converted to a bf16 GGUF by llama.cpp's own convert_hf_to_gguf.py.
#
# Why it is the same compute: the GGUF holds the same bf16 tensors (the same
# embedding, 16 layers, final norm; llama.cpp keeps them in bf16 with
# --outtype bf16). llmspam's classifier runs every layer on all 512 tokens and
# its 2-label score head on the last one; `llama-bench -p 512 -n 0` runs every
# layer on all 512 tokens too, and its output head (the tied embedding, 128256
# rows) on the last token only, which is 0.5 GFLOP of the pass's ~960. The
# converter wants a causal LM, so it gets a copy of the config that says
# LlamaForCausalLM with tied embeddings and the weights less score.weight.
#
# Both figures are best-of-RUNS throughputs (llama-bench's fastest repetition,
# llmspam bench's best run); the rounds alternate the two programs and the
# ratio printed is the median of the rounds' ratios.
#
# Environment: top_srcdir, top_builddir, LLMSPAM (as `make bench` sets them);
# THREADS (2), RUNS (3), ROUNDS (2); LLMSPAM_CPU_ISA caps llmspam's SIMD level
# and picks a llama.cpp built for the same level (a second build, cached too);
# LLAMACPP_PYTHON (/opt/llmspam-venv/bin/python: needs pip, torch, numpy,
# transformers and sentencepiece for the converter: its Llama vocabulary
# step imports sentencepiece).
#
# Needs, besides llmspam's build dependencies: cmake, g++, tar, network access
# to PyPI on the first run (Debian: cmake g++ python3-venv; git only to read
# the full commit id).
# Exit status 0 with the summary line, 1 with a message on stderr when a step
# fails (PyPI unreachable, cmake missing, a build or conversion error); a
# ratio is printed only when both sides were measured in this run.
set -eu
: "${top_srcdir:?}" "${top_builddir:?}" "${LLMSPAM:?}"

LLAMACPP_PY_VERSION=0.3.36
THREADS=${THREADS:-2}
RUNS=${RUNS:-3}
ROUNDS=${ROUNDS:-2}
PYTHON=${LLAMACPP_PYTHON:-/opt/llmspam-venv/bin/python}
TOKENS=512

me=bench/llamacpp.sh
die() {
	echo "$me: $*" >&2
	exit 1
}
cache="$top_builddir/bench-llamacpp"
model="$top_builddir/bench-models/llama-3.2-1b"

command -v cmake >/dev/null || die "cmake is missing (Debian: apt-get install cmake)"
command -v c++ >/dev/null || command -v g++ >/dev/null || die "no C++ compiler (Debian: apt-get install g++)"
[ -x "$PYTHON" ] || die "$PYTHON is missing (set LLAMACPP_PYTHON to a python with pip, torch, numpy, transformers and sentencepiece)"
"$PYTHON" -c 'import sentencepiece' 2>/dev/null ||
	die "$PYTHON has no sentencepiece, which llama.cpp's converter imports (pip install sentencepiece)"
mkdir -p "$cache"

# ---- the sources: llama-cpp-python's sdist, unpacked once ------------------
sdist="$cache/llama_cpp_python-$LLAMACPP_PY_VERSION.tar.gz"
if [ ! -f "$sdist" ]; then
	echo "downloading llama-cpp-python==$LLAMACPP_PY_VERSION (sdist) from PyPI (once)"
	rm -rf "$cache/download.tmp"
	mkdir -p "$cache/download.tmp"
	nice -n 10 "$PYTHON" -m pip download --quiet --no-binary :all: --no-deps \
		--dest "$cache/download.tmp" "llama-cpp-python==$LLAMACPP_PY_VERSION" ||
		{ rm -rf "$cache/download.tmp"; die "cannot download llama-cpp-python==$LLAMACPP_PY_VERSION from PyPI (network, or PyPI unreachable?)"; }
	[ -f "$cache/download.tmp/${sdist##*/}" ] || die "pip download wrote no ${sdist##*/}"
	mv "$cache/download.tmp/${sdist##*/}" "$sdist"
	rm -rf "$cache/download.tmp"
fi
src="$cache/src-$LLAMACPP_PY_VERSION"
if [ ! -f "$src/.unpacked" ]; then
	rm -rf "$src"
	mkdir -p "$src"
	tar -xzf "$sdist" -C "$src" --strip-components=1 || die "cannot unpack $sdist"
	: >"$src/.unpacked"
fi
lcpp="$src/vendor/llama.cpp"
[ -f "$lcpp/CMakeLists.txt" ] && [ -f "$lcpp/convert_hf_to_gguf.py" ] ||
	die "$sdist vendors no llama.cpp tree (vendor/llama.cpp)"
# The vendored commit: the sdist carries the submodule's git metadata (a
# shallow clone, so no build number: llama-bench reports 0), else the commit
# the changelog names for this release. Git must not look further up: the
# build tree may lie inside llmspam's own checkout.
GIT_CEILING_DIRECTORIES=$src
export GIT_CEILING_DIRECTORIES
commit=$(git -C "$lcpp" rev-parse HEAD 2>/dev/null || true)
if [ -z "$commit" ]; then
	commit=$(sed -n "/^## \[$LLAMACPP_PY_VERSION\]/,/^## \[/p" "$src/CHANGELOG.md" |
		sed -n 's/.*llama\.cpp@\([0-9a-f]\{7,40\}\).*/\1/p' | head -n 1)
fi
[ -n "$commit" ] || commit=unknown

# ---- the SIMD level: llmspam's cap, and a llama.cpp built to match ---------
flags=$(grep -m 1 '^flags' /proc/cpuinfo 2>/dev/null || true)
has() { case " ${flags#*:} " in *" $1 "*) return 0 ;; esac; return 1; }
if has avx512_bf16 && has avx512f && has avx512bw && has avx512vl; then
	cpu_kind=avx512_bf16
elif has avx512f && has avx512bw && has avx512vl; then
	cpu_kind=avx512
elif has avx2 && has fma; then
	cpu_kind=avx2
else
	cpu_kind=portable
fi
level() {
	case $1 in
	portable) echo 0 ;; avx2) echo 1 ;; avx512) echo 2 ;; avx512_bf16) echo 3 ;; *) echo -1 ;;
	esac
}
cap=${LLMSPAM_CPU_ISA:-}
isa=$cpu_kind
if [ -n "$cap" ]; then
	[ "$(level "$cap")" -ge 0 ] || die "LLMSPAM_CPU_ISA=$cap: expected portable, avx2, avx512 or avx512_bf16"
	[ "$(level "$cap")" -lt "$(level "$cpu_kind")" ] && isa=$cap
fi
# -march=native where the level is the CPU's own; otherwise the ggml options
# of that level only, so that llama.cpp cannot use what llmspam may not.
x86_off="-DGGML_AVX_VNNI=OFF -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF"
case $isa in
"$cpu_kind") variant=native isa_flags="-DGGML_NATIVE=ON" ;;
avx512) variant=avx512 isa_flags="-DGGML_NATIVE=OFF -DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON $x86_off -DGGML_AVX512=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX512_VNNI=ON" ;;
avx2) variant=avx2 isa_flags="-DGGML_NATIVE=OFF -DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON $x86_off" ;;
portable) variant=portable isa_flags="-DGGML_NATIVE=OFF -DGGML_SSE42=OFF -DGGML_AVX=OFF -DGGML_AVX2=OFF -DGGML_FMA=OFF -DGGML_F16C=OFF -DGGML_BMI2=OFF $x86_off" ;;
esac

# ---- llama-bench, built once per level --------------------------------------
build="$cache/build-$LLAMACPP_PY_VERSION-$variant"
lbench="$build/bin/llama-bench"
if [ ! -x "$lbench" ] || [ ! -f "$build/.built" ]; then
	echo "building llama.cpp $commit (llama-cpp-python $LLAMACPP_PY_VERSION) llama-bench, $variant, in $build (once; slow)"
	# shellcheck disable=SC2086 # isa_flags is a list of options
	nice -n 10 cmake -S "$lcpp" -B "$build" -DCMAKE_BUILD_TYPE=Release \
		-DBUILD_SHARED_LIBS=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
		-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF \
		-DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_TOOLS=ON -DGGML_OPENMP=ON \
		-DLLAMA_BUILD_NUMBER=0 -DLLAMA_BUILD_COMMIT="$commit" \
		$isa_flags >"$build.configure.log" 2>&1 ||
		{ tail -n 30 "$build.configure.log" >&2; die "cmake could not configure llama.cpp (log: $build.configure.log)"; }
	nice -n 10 cmake --build "$build" --target llama-bench -j2 >"$build.build.log" 2>&1 ||
		{ tail -n 30 "$build.build.log" >&2; die "building llama-bench failed (log: $build.build.log)"; }
	[ -x "$lbench" ] || die "the build made no $lbench"
	: >"$build/.built"
fi

# ---- the checkpoint (as bench/engine.sh makes it) and its GGUF -------------
if [ ! -f "$model/model.safetensors" ] || [ ! -f "$model/config.json" ]; then
	echo "generating $model (once)"
	rm -rf "$model.tmp"
	mkdir -p "$top_builddir/bench-models"
	nice -n 10 "$LLMSPAM" mkmodel --preset llama-3.2-1b --seed 1 \
		--tokenizer "$top_srcdir/models/tokenizer/tokenizer.json" "$model.tmp" ||
		die "llmspam mkmodel failed"
	rm -rf "$model"
	mv "$model.tmp" "$model"
fi
gguf="$cache/llama-3.2-1b-bf16-$LLAMACPP_PY_VERSION.gguf"
if [ ! -f "$gguf" ] || [ "$model/model.safetensors" -nt "$gguf" ]; then
	echo "converting $model to $gguf with llama.cpp's convert_hf_to_gguf.py (once)"
	"$PYTHON" -c 'import torch, numpy, transformers' 2>/dev/null ||
		die "$PYTHON lacks torch, numpy or transformers, which llama.cpp's converter needs"
	hf="$cache/hf-causal"
	rm -rf "$hf" "$gguf.tmp"
	mkdir -p "$hf"
	# A causal-LM view of the checkpoint: the config renamed, score.weight
	# left out (the converter has no name for it), the tokenizer as it is.
	nice -n 10 "$PYTHON" - "$model" "$hf" <<-'EOF' || die "cannot stage $model for the converter"
		import json, shutil, struct, sys
		src, dst = sys.argv[1], sys.argv[2]
		with open(src + "/config.json") as f:
		    cfg = json.load(f)
		cfg["architectures"] = ["LlamaForCausalLM"]
		cfg["tie_word_embeddings"] = True
		for k in ("id2label", "label2id", "num_labels", "problem_type", "pad_token_id"):
		    cfg.pop(k, None)
		with open(dst + "/config.json", "w") as f:
		    json.dump(cfg, f, indent=2)
		shutil.copyfile(src + "/tokenizer.json", dst + "/tokenizer.json")
		with open(dst + "/tokenizer_config.json", "w") as f:
		    json.dump({"tokenizer_class": "PreTrainedTokenizerFast",
		               "bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>",
		               "model_max_length": cfg.get("max_position_embeddings", 131072)}, f)
		# safetensors: u64 header length, JSON header, then the data; copy
		# every tensor but score.weight and renumber the offsets.
		with open(src + "/model.safetensors", "rb") as fin:
		    (n,) = struct.unpack("<Q", fin.read(8))
		    header = json.loads(fin.read(n))
		    base = 8 + n
		    meta = header.pop("__metadata__", None)
		    keep = sorted((k for k in header if k != "score.weight"),
		                  key=lambda k: header[k]["data_offsets"][0])
		    out, pos = {}, 0
		    if meta is not None:
		        out["__metadata__"] = meta
		    for k in keep:
		        a, b = header[k]["data_offsets"]
		        out[k] = dict(header[k], data_offsets=[pos, pos + b - a])
		        pos += b - a
		    h = json.dumps(out, separators=(",", ":")).encode()
		    h += b" " * (-len(h) % 8)
		    with open(dst + "/model.safetensors", "wb") as fout:
		        fout.write(struct.pack("<Q", len(h)))
		        fout.write(h)
		        for k in keep:
		            a, b = header[k]["data_offsets"]
		            fin.seek(base + a)
		            left = b - a
		            while left:
		                chunk = fin.read(min(left, 1 << 24))
		                if not chunk:
		                    sys.exit("model.safetensors is truncated at " + k)
		                fout.write(chunk)
		                left -= len(chunk)
	EOF
	PYTHONPATH="$lcpp/gguf-py${PYTHONPATH:+:$PYTHONPATH}" nice -n 10 "$PYTHON" \
		"$lcpp/convert_hf_to_gguf.py" --outtype bf16 --outfile "$gguf.tmp" "$hf" \
		>"$cache/convert.log" 2>&1 ||
		{ tail -n 30 "$cache/convert.log" >&2; die "convert_hf_to_gguf.py failed (log: $cache/convert.log)"; }
	mv "$gguf.tmp" "$gguf"
	rm -rf "$hf"
fi

# ---- the measurements, alternating ------------------------------------------
# As bench/engine.sh: a higher priority where allowed, in a session of its
# own; both programs get the same.
prio() {
	if nice -n -5 true 2>/dev/null && command -v setsid >/dev/null; then
		setsid -w sh -c 'echo -5 >/proc/self/autogroup 2>/dev/null; exec nice -n -5 "$@"' sh "$@"
	else
		"$@"
	fi
}
lversion=$("$lbench" --version 2>&1 | grep -m 1 '^version' || true)
echo "llama.cpp: $commit from llama-cpp-python $LLAMACPP_PY_VERSION (sdist), build $variant${lversion:+; llama-bench --version: $lversion}"
echo "CPU: $cpu_kind; LLMSPAM_CPU_ISA=${cap:-unset}; level used: $isa"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/llamacpp-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
round=1
while [ "$round" -le "$ROUNDS" ]; do
	echo "\$ llmspam bench --model $model --tokens $TOKENS --threads $THREADS --runs $RUNS --json"
	prio "$LLMSPAM" bench --model "$model" --tokens "$TOKENS" --threads "$THREADS" --runs "$RUNS" --json \
		>"$tmp/llmspam.$round.json" || die "llmspam bench failed"
	cat "$tmp/llmspam.$round.json"
	echo "\$ llama-bench -m $gguf -p $TOKENS -n 0 -t $THREADS -r $RUNS -o json"
	prio "$lbench" -m "$gguf" -p "$TOKENS" -n 0 -t "$THREADS" -r "$RUNS" -o json \
		>"$tmp/llamacpp.$round.json" 2>"$tmp/llamacpp.$round.err" ||
		{ cat "$tmp/llamacpp.$round.err" >&2; die "llama-bench failed"; }
	round=$((round + 1))
done
"$PYTHON" - "$tmp" "$ROUNDS" "$cpu_kind" "${cap:-unset}" "$variant" "$LLAMACPP_PY_VERSION" <<-'EOF' || die "could not read the measurements"
	import json, statistics, sys
	tmp, rounds = sys.argv[1], int(sys.argv[2])
	cpu_kind, cap, variant, sdist = sys.argv[3:7]
	rows = []
	for r in range(1, rounds + 1):
	    with open(f"{tmp}/llmspam.{r}.json") as f:
	        ours = json.load(f)
	    with open(f"{tmp}/llamacpp.{r}.json") as f:
	        tests = [t for t in json.load(f) if t.get("n_prompt") and not t.get("n_gen")]
	    if len(tests) != 1 or not tests[0].get("samples_ts"):
	        sys.exit("llama-bench gave no prompt-processing result")
	    t = tests[0]
	    theirs = max(t["samples_ts"])
	    rows.append((ours["tokens_per_s"], theirs, ours["tokens_per_s"] / theirs))
	    print(f"round {r}: llmspam {ours['tokens_per_s']:.1f} tokens/s, llama.cpp {theirs:.1f} tokens/s"
	          f" (best of {len(t['samples_ts'])}; mean {t['avg_ts']:.1f} +- {t['stddev_ts']:.1f}),"
	          f" ratio {ours['tokens_per_s'] / theirs:.3f}")
	path = f"kernels {ours.get('kernels', '?')}, GEMM {ours.get('gemm_qkv_impl', '?')}"
	if cap in ("portable", "avx2") and "avx512" in path:
	    print(f"warning: LLMSPAM_CPU_ISA={cap} but llmspam reports {path}:"
	          " this is not the capped comparison", file=sys.stderr)
	print(f"llamacpp: llmspam {statistics.median(x[0] for x in rows):.1f} tokens/s,"
	      f" llama.cpp {statistics.median(x[1] for x in rows):.1f} tokens/s,"
	      f" ratio llmspam/llama.cpp {statistics.median(x[2] for x in rows):.3f}"
	      f" (median of {rounds} rounds; {t['n_prompt']} tokens, {t['n_threads']} threads;"
	      f" CPU {cpu_kind}, LLMSPAM_CPU_ISA={cap}; llmspam {path};"
	      f" llama.cpp {t.get('build_commit', '?')} ({variant} build, llama-cpp-python {sdist} sdist), KV {t.get('type_k', '?')},"
	      f" flash_attn {t.get('flash_attn')})")
EOF
