# shipped_model.sh: the checks that every committed classifier under models/
# gets (t/demo_model.sh, t/default_model.sh). Source after tap.sh; each
# function takes the model directory and reports through ok.

# shipped_model_files MODEL MAX_BYTES: the size budget, the labels, the
# dev lists and the model card.
shipped_model_files() {
    size=$(wc -c <"$1/model.safetensors")
    [ "$size" -le "$2" ]; ok $? "model.safetensors is $size bytes, at most $(($2 / 1048576)) MiB"
    grep -q '"0": "ham"' "$1/config.json" && grep -q '"1": "spam"' "$1/config.json"
    ok $? "id2label 0 ham, 1 spam"
    miss=0
    for f in dev-ham.txt dev-spam.txt MODEL_CARD.md; do
        [ -s "$1/$f" ] || { echo "# missing $f"; miss=1; }
    done
    [ $miss -eq 0 ]; ok $? "dev lists and model card present"
}

# shipped_model_fixtures MODEL DATA: every message under DATA/ham and
# DATA/spam is in the model's dev lists, so it was never trained on.
shipped_model_fixtures() {
    bad=0
    for f in "$2"/ham/* "$2"/spam/*; do
        c=$(basename "$(dirname "$f")")
        grep -qx "$c/$(basename "$f")" "$1/dev-$c.txt" || { echo "# $f not in dev-$c.txt"; bad=1; }
    done
    [ $bad -eq 0 ]; ok $? "every fixture is from the dev split (never trained on)"
}

# shipped_model_eval MODEL DATA OUT: llmspam eval on the fixtures; the
# report in OUT/j, the scores (NAME LABEL PROBABILITY) in OUT/scores.
shipped_model_eval() {
    "$LLMSPAM" eval --model "$1" --threads 1 --spam "$2/spam" --ham "$2/ham" --json \
        --scores "$3/scores" >"$3/j" 2>"$3/err"
    ok $? "llmspam eval loads $(basename "$1") and scores the fixtures" || cat "$3/err"
    sed 's/^/# /' "$3/scores"
}
