#!/bin/sh
# demo.sh: set everything up, build, and run llmspam on a sample.
# Until the milter and the trained demo model land, this generates a tiny
# random checkpoint and classifies a sample text with it (the score is
# meaningless: the weights are random).
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
sh scripts/build.sh release
b=_build/release
model=$b/demo-models/tiny
if [ ! -f "$model/model.safetensors" ]; then
    "$b/llmspam" mkmodel --preset tiny --labels ham,spam --seed 1 \
        --tokenizer models/tokenizer/tokenizer.json "$model"
fi
echo "== llmspam classify (tiny generated checkpoint, random weights)"
printf 'Subject: You have WON a FREE prize!!!\n\nClick here to claim your $1,000,000 today.\n' |
    "$b/llmspam" classify --model "$model" --json -
