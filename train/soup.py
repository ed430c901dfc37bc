#!/usr/bin/env python3
"""soup: the weight average of fine-tunes of one base ("model soup"), saved as they were.

    python train/soup.py --out DIR MODEL_DIR MODEL_DIR [MODEL_DIR ...]

Each MODEL_DIR is a save_pretrained directory of smollm2_train.py (or
train.py) fine-tuned from the same base with the same shape, tokenizer and
max_tokens, differing only in training (seed, --ham-weight, ...). OUT gets
the element-wise mean of their weights (computed in float32, stored in the
inputs' dtype), the first directory's config.json, tokenizer files and dev
lists, and a training.json that records every input's training.json. OUT
is still an ordinary LlamaForSequenceClassification directory: transformers
and llmspam load it as any other.

Why: fine-tunes of one pretrained model stay in one basin of the loss, so
their mean is a model too, and typically ranks unseen data at least as
well as its parts (Wortsman et al., "Model soups", 2022). The soup shipped
as models/default, and the runs it was chosen over, are in its MODEL_CARD.md.
"""
import argparse
import json
import os
import shutil
import sys

import torch
from safetensors.torch import load_file, save_file

WEIGHTS = "model.safetensors"
REQUIRED = (WEIGHTS, "training.json", "config.json", "tokenizer.json")
SAME = ("config.json", "tokenizer.json", "tokenizer_config.json")  # alike byte for byte, or absent in all
COPIED = SAME + ("dev-ham.txt", "dev-spam.txt")
# training.json keys that must agree, and that OUT's training.json repeats
# (max_tokens first: t/default_model.sh reads it there); train.py writes none
RECORDED = ("max_tokens", "layers", "frozen", "split")


def read_json(path):
    with open(path) as f:
        return json.load(f)


def read_bytes(path):
    """The file's bytes, None where it does not exist."""
    if not os.path.exists(path):
        return None
    with open(path, "rb") as f:
        return f.read()


def check_alike(dirs):
    """Refuse inputs that are not fine-tunes of one shape, tokenizer and length."""
    for d in dirs:
        for name in REQUIRED:
            if not os.path.isfile(os.path.join(d, name)):
                sys.exit("soup: %s: missing (not a save_pretrained directory of train/?)"
                         % os.path.join(d, name))
    for name in SAME:
        first = read_bytes(os.path.join(dirs[0], name))
        for d in dirs[1:]:
            if read_bytes(os.path.join(d, name)) != first:
                sys.exit("soup: %s differs between %s and %s" % (name, dirs[0], d))
    trained = [read_json(os.path.join(d, "training.json")) for d in dirs]
    for key in RECORDED:
        values = {json.dumps(t.get(key)) for t in trained}
        if len(values) > 1:
            sys.exit("soup: training.json %s differs between the inputs: %s" % (key, ", ".join(sorted(values))))
    return trained


def mean_weights(dirs):
    tensors = [load_file(os.path.join(d, WEIGHTS)) for d in dirs]
    first = tensors[0]
    for d, t in zip(dirs[1:], tensors[1:]):
        if t.keys() != first.keys():
            sys.exit("soup: %s and %s hold different tensors" % (dirs[0], d))
        for k in first:
            if t[k].shape != first[k].shape or t[k].dtype != first[k].dtype:
                sys.exit("soup: %s differs in shape or dtype in %s" % (k, d))
    out = {}
    for k in first:
        total = sum(t[k].float() for t in tensors)
        out[k] = (total / len(tensors)).to(first[k].dtype).contiguous()
    identical = sum(all(torch.equal(t[k], first[k]) for t in tensors[1:]) for k in first)
    return out, identical


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("models", nargs="+")
    args = p.parse_args()
    if len(args.models) < 2:
        sys.exit("soup: give at least two model directories")
    if any(os.path.abspath(args.out) == os.path.abspath(d) for d in args.models):
        sys.exit("soup: --out must not be one of the inputs")
    trained = check_alike(args.models)
    weights, identical = mean_weights(args.models)
    os.makedirs(args.out, exist_ok=True)
    for name in COPIED:
        src = os.path.join(args.models[0], name)
        if os.path.exists(src):
            shutil.copy(src, args.out)
    save_file(weights, os.path.join(args.out, WEIGHTS), metadata={"format": "pt"})
    first = trained[0]
    record = {key: first[key] for key in RECORDED if key in first}
    record["soup"] = {"method": "element-wise mean of the weights (float32, stored %s)"
                      % str(next(iter(weights.values())).dtype).replace("torch.", ""),
                      "inputs": [{"dir": os.path.abspath(d), "training": t}
                                 for d, t in zip(args.models, trained)]}
    with open(os.path.join(args.out, "training.json"), "w") as f:
        json.dump(record, f, indent=1)
    print("soup: %d models, %d tensors (%d the same in every input, such as frozen layers) -> %s"
          % (len(args.models), len(weights), identical, args.out))


if __name__ == "__main__":
    main()
