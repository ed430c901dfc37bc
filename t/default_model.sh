# default_model.sh: the shipped default classifier (models/default, the one
# `make install` installs) is what its MODEL_CARD.md says and gives the
# answers transformers gives: it passes the engine's checks, carries
# SmolLM2's own tokenizer and its training length, fits the size budget, and
# through `llmspam eval` (render, tokenize, classify: the milter's pipeline)
# scores the committed dev-split messages of t/data/demo within 2e-2 of the
# transformers float32 probabilities committed in t/data/default/ref.tsv
# (made by t/ref/make_default_refs.py), on whichever CPU path is in use.
. "$top_srcdir/t/lib/tap.sh"
. "$top_srcdir/t/lib/shipped_model.sh"
model="$top_srcdir/models/default"
data="$top_srcdir/t/data/demo"
ref="$top_srcdir/t/data/default/ref.tsv"
[ -f "$model/model.safetensors" ] || skip_all "no $model/model.safetensors"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/llmspam-default.XXXXXX") || skip_all "no temporary directory"
trap 'rm -rf "$tmp"' EXIT

shipped_model_files "$model" 157286400
cmp -s "$model/tokenizer.json" "$top_srcdir/t/data/tokenizer/smollm2/tokenizer.json"
ok $? "tokenizer.json is SmolLM2's own (t/data/tokenizer/smollm2, digits split)"
grep -q '"LlamaForSequenceClassification"' "$model/config.json" &&
    grep -q '"vocab_size": 49152' "$model/config.json"
ok $? "a LlamaForSequenceClassification over SmolLM2's 49152 tokens"
trained_at=$(tr -d ' \n' <"$model/training.json" | sed -n 's/^{"max_tokens":\([0-9][0-9]*\),.*/\1/p')
[ -n "$trained_at" ] && grep -Eq "\"model_max_length\": *$trained_at([^0-9]|\$)" "$model/tokenizer_config.json"
ok $? "tokenizer_config.json model_max_length ${trained_at:-?}: the length training.json says it was trained at"

shipped_model_fixtures "$model" "$data"

shipped_model_eval "$model" "$data" "$tmp"
# ref.tsv: NAME LABEL PROBABILITY TOKENS, NAME relative to the source tree
awk -v top="$top_srcdir/" 'NR == FNR { ref[$1] = $3; n++; next }
     { name = $1; sub("^" top, "", name)
       if (!(name in ref)) { print "# no reference for", name; bad = 1; next }
       d = $3 - ref[name]; if (d < 0) d = -d
       if (d > worst) worst = d
       if (d > 0.02) { print "# off by", d, name; bad = 1 }
       seen++ }
     END { printf "# worst |llmspam - transformers| %.2e over %d messages\n", worst, seen
           exit bad || seen != n || seen == 0 }' "$ref" "$tmp/scores"
ok $? "every probability within 2e-2 of transformers float32 (t/data/default/ref.tsv)"
# A message far longer than that: a fixture with its body said 20 times.
f=$(ls "$data/spam" | head -n 1)
{ cat "$data/spam/$f"; for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19; do
      sed '1,/^$/d' "$data/spam/$f"; done; } >"$tmp/long"
"$LLMSPAM" classify --model "$model" --threads 1 --json "$tmp/long" >"$tmp/c" 2>"$tmp/err"
grep -q "\"tokens\":${trained_at:-?}," "$tmp/c"
ok $? "classify cuts a long message at the model's own ${trained_at:-?} tokens (max_tokens 0)" || cat "$tmp/c" "$tmp/err"
done_testing
