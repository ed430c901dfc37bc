#!/bin/sh
# bench/tokenizer.sh: tokenizer throughput, single thread, on the text of the
# SpamAssassin corpus (each message's bytes, as UTF-8 with replacement), and in
# the same run Hugging Face tokenizers on the same texts, single-threaded
# (RAYON_NUM_THREADS=1, encode_batch), when the venv has it; then the ratio.
# Target: >= 2x. Ratios by the clock and in CPU time (this shared machine's
# load inflates the clock). Also: the load time of tokenizer.json (target < 150 ms, the
# best and the median of 7 loads), and early stopping: a 100 MB text with
# --max-tokens 512 against a 2 KB one. Run by `make bench`; environment:
# top_srcdir, top_builddir, LLMSPAM, LLMSPAM_TOKENIZER (another tokenizer.json
# than Llama 3's, e.g. t/data/tokenizer/smollm2/tokenizer.json). Throughputs
# count encoding time only (files are read first), in both tools.
set -e
: "${top_srcdir:?}" "${top_builddir:?}"
LLMSPAM=${LLMSPAM:-$top_builddir/llmspam}
PY=${LLMSPAM_PYTHON:-/opt/llmspam-venv/bin/python}
tokjson=${LLMSPAM_TOKENIZER:-$top_srcdir/models/tokenizer/tokenizer.json}
corpus="${LLMSPAM_SHARED:-$top_srcdir/../shared}/corpus/spamassassin"
if [ ! -d "$corpus" ]; then
	echo "bench/tokenizer.sh: no corpus at $corpus; skipped"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ls "$corpus"/ham/* "$corpus"/spam/* > "$tmp/files"
hf=no
if [ -x "$PY" ] && RAYON_NUM_THREADS=1 "$PY" -c 'import tokenizers' 2>/dev/null; then hf=yes; fi
cat > "$tmp/hf.py" <<'PYEOF'
import sys, time
from tokenizers import Tokenizer
t0 = time.perf_counter()
tok = Tokenizer.from_file(sys.argv[1])
load = time.perf_counter() - t0
tok.encode_special_tokens = True
texts = [open(f.strip(), "rb").read().decode("utf-8", "replace") for f in open(sys.argv[2])]
n = sum(len(open(f.strip(), "rb").read()) for f in open(sys.argv[2]))
t0, c0 = time.perf_counter(), time.process_time()
tok.encode_batch(texts, add_special_tokens=True)
dt, dc = time.perf_counter() - t0, time.process_time() - c0
print("load_ms=%.1f texts=%d bytes=%d encode_s=%.3f MB_per_s=%.2f cpu_MB_per_s=%.2f"
      % (load * 1e3, len(texts), n, dt, n / dt / 1e6, n / dc / 1e6))
PYEOF

field() { sed -n "s/.* *\<$1=\([0-9.]*\).*/\1/p"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "tokenizer.json: $tokjson"
echo "corpus: $corpus ($(wc -l < "$tmp/files") messages)"
echo "\$ llmspam tokenize --tokenizer tokenizer.json --time FILE...   (3 rounds, each beside HF)"
: > "$tmp/ratios"
: > "$tmp/cpu_ratios"
for round in 1 2 3; do
	# shellcheck disable=SC2046
	"$LLMSPAM" tokenize --tokenizer "$tokjson" --time $(cat "$tmp/files") 2> "$tmp/ours" > /dev/null
	ours=$(field MB_per_s < "$tmp/ours")
	line="round $round: llmspam $ours MB/s"
	if [ $hf = yes ]; then
		RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false "$PY" "$tmp/hf.py" "$tokjson" "$tmp/files" > "$tmp/hf"
		theirs=$(field MB_per_s < "$tmp/hf")
		ratio=$(awk -v a="$ours" -v b="$theirs" 'BEGIN {printf "%.1f", a / b}')
		echo "$ratio" >> "$tmp/ratios"
		cpu_ratio=$(awk -v a="$(field cpu_MB_per_s < "$tmp/ours")" -v b="$(field cpu_MB_per_s < "$tmp/hf")" \
			'BEGIN {printf "%.1f", a / b}')
		echo "$cpu_ratio" >> "$tmp/cpu_ratios"
		line="$line, HF tokenizers $theirs MB/s (single thread), ratio ${ratio}x; in CPU time ${cpu_ratio}x"
	fi
	echo "$line"
done
if [ $hf = yes ]; then
	echo "tokenizer throughput ratio (median of 3): $(median < "$tmp/ratios")x HF tokenizers by the clock," \
		"$(median < "$tmp/cpu_ratios")x in CPU time (target >= 2x)"
else
	echo "HF tokenizers not importable from $PY: no comparison"
fi

echo "\$ llmspam tokenize --time < /dev/null   (7 loads)"
: > "$tmp/loads"
: > "$tmp/loads_cpu"
for i in 1 2 3 4 5 6 7; do
	"$LLMSPAM" tokenize --tokenizer "$tokjson" --time < /dev/null 2> "$tmp/l"
	field load_ms < "$tmp/l" >> "$tmp/loads"
	field load_cpu_ms < "$tmp/l" >> "$tmp/loads_cpu"
done
echo "uptime:$(uptime | sed 's/.*load average/ load average/')"
echo "load time: best $(sort -n "$tmp/loads" | head -1) ms, median $(median < "$tmp/loads") ms by the clock;" \
	"CPU time best $(sort -n "$tmp/loads_cpu" | head -1) ms, median $(median < "$tmp/loads_cpu") ms (target < 150 ms)"
if [ $hf = yes ]; then
	hl=$(field load_ms < "$tmp/hf")
	echo "HF tokenizers load (same file, last round): $hl ms;" \
		"ratio $(awk -v a="$hl" -v b="$(median < "$tmp/loads")" 'BEGIN {printf "%.1f", a / b}')x (HF / llmspam median)"
fi

# Early stopping: cost follows --max-tokens, not the text size.
head -c 2048 "$(head -1 "$tmp/files")" > "$tmp/small"
: > "$tmp/big"
while [ "$(wc -c < "$tmp/big")" -lt 100000000 ]; do
	# shellcheck disable=SC2046
	cat $(head -400 "$tmp/files") >> "$tmp/big"
done
for f in small big; do
	"$LLMSPAM" tokenize --tokenizer "$tokjson" --max-tokens 512 --time "$tmp/$f" 2> "$tmp/t_$f" > "$tmp/ids_$f"
done
echo "early stop, --max-tokens 512: $(wc -c < "$tmp/small") bytes in $(field encode_ms < "$tmp/t_small") ms," \
	"$(wc -c < "$tmp/big") bytes in $(field encode_ms < "$tmp/t_big") ms" \
	"($(tr ',' '\n' < "$tmp/ids_big" | wc -l) ids)"
