# mkmodel.sh: llmspam mkmodel writes deterministic, loadable checkpoints and
# refuses option sets that make an invalid model.
. "$top_srcdir/t/lib/tap.sh"
tok="$top_srcdir/models/tokenizer/tokenizer.json"
[ -f "$tok" ] || skip_all "no $tok"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/llmspam-mkmodel.XXXXXX") || skip_all "no temporary directory"
trap 'rm -rf "$tmp"' EXIT
mk() { "$LLMSPAM" mkmodel --preset tiny --vocab 1000 --tokenizer "$tok" "$@" >"$tmp/out" 2>&1; }

mk --seed 3 "$tmp/a"; ok $? "tiny model written (and self-validated)"
mk --seed 3 "$tmp/b"; ok $? "written again"
cmp -s "$tmp/a/model.safetensors" "$tmp/b/model.safetensors" && cmp -s "$tmp/a/config.json" "$tmp/b/config.json"
ok $? "same arguments, byte-identical files"
mk --seed 4 "$tmp/c"; ok $? "another seed"
! cmp -s "$tmp/a/model.safetensors" "$tmp/c/model.safetensors"; ok $? "another seed, other weights"
cmp -s "$tok" "$tmp/a/tokenizer.json"; ok $? "tokenizer.json copied"
grep -q '"LlamaForSequenceClassification"' "$tmp/a/config.json" && grep -q '"rope_type": "llama3"' "$tmp/a/config.json" &&
    grep -q '"rms_norm_eps": 1e-05' "$tmp/a/config.json" && grep -q '"rope_theta": 500000.0' "$tmp/a/config.json"
ok $? "config.json: architecture, llama3 rope, eps and theta as transformers writes them"
for dt in f16 f32; do
    mk --seed 3 --dtype $dt "$tmp/$dt"; ok $? "--dtype $dt model loads"
done
mk --seed 3 --rope none --heads 2 --kv-heads 1 --head-dim 8 --labels a,b,c --pad-token-id 7 \
    --problem-type multi_label_classification "$tmp/d"
ok $? "every option at once"
grep -q '"rope_type": "default"' "$tmp/d/config.json" && grep -q '"pad_token_id": 7' "$tmp/d/config.json" &&
    grep -q '"2": "c"' "$tmp/d/config.json" && grep -q '"head_dim": 8' "$tmp/d/config.json" &&
    grep -q '"problem_type": "multi_label_classification"' "$tmp/d/config.json"
ok $? "the options reach config.json"

# refusals: exit 2, and the message names what is wrong
refuse() { # refuse DESC PATTERN ARGS...
    d=$1 p=$2; shift 2
    mk "$@" "$tmp/bad"; rc=$?
    [ $rc -eq 2 ] && grep -q -- "$p" "$tmp/out"; ok $? "refused: $d"
    [ $rc -eq 2 ] || diag "exit $rc: $(cat "$tmp/out")"
}
refuse "kv heads do not divide heads" num_key_value_heads --kv-heads 3
refuse "pad id outside the vocabulary" pad_token_id --pad-token-id 1000
refuse "odd head_dim" head_dim --head-dim 7
refuse "unknown preset" preset --preset huge
refuse "unknown dtype" dtype --dtype i8
refuse "duplicate labels" labels --labels ham,ham
refuse "bad seed" seed --seed -1
"$LLMSPAM" mkmodel --preset tiny "$tmp/bad" >"$tmp/out" 2>&1
[ $? -eq 2 ] && grep -q -- --tokenizer "$tmp/out"; ok $? "refused: no --tokenizer"
"$LLMSPAM" mkmodel --help | grep -q -- '--preset tiny|llama-3.2-1b'; ok $? "--help"
done_testing
