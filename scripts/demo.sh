#!/bin/sh
# demo.sh: the README's first command. Set everything up, build, and run
# llmspam-milter behind a private Postfix on 127.0.0.1: a ham and a spam are
# sent with swaks, the delivered headers, the reject and the log lines are
# shown, then everything is stopped again (milter/demo.sh).
# The model is the shipped default classifier (models/default/, the one
# `make install` installs); where it is missing, a tiny generated checkpoint
# with random weights stands in, and the demo says so.
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
sh scripts/build.sh release
b=_build/release
if [ -f models/default/model.safetensors ]; then
    echo "== model: models/default (the shipped default classifier)"
    sh milter/demo.sh "$b" models/default
else
    model=$b/demo-models/tiny
    [ -f "$model/model.safetensors" ] ||
        "$b/llmspam" mkmodel --preset tiny --labels ham,spam --seed 1 \
            --tokenizer models/tokenizer/tokenizer.json "$model" >/dev/null
    echo "== model: a generated tiny checkpoint with random weights (models/default/ is missing)"
    sh milter/demo.sh "$b" "$model" generated
fi
