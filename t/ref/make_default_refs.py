#!/usr/bin/env python3
"""make_default_refs: transformers' spam probabilities for a shipped model, on mail files.

    python t/ref/make_default_refs.py --llmspam BUILDDIR/llmspam --model models/default \
        --ham DIR_OR_LIST --spam DIR_OR_LIST [--root DIR] > REF.tsv
    python t/ref/make_default_refs.py ... --compare SCORES   # llmspam eval --scores output

Each message is rendered by `llmspam extract` (the milter's rendering, as
train/data.py does), tokenized with the model's tokenizer.json by HF
`tokenizers` (special-token strings are text), cut at the model's max_tokens
(tokenizer_config.json model_max_length, as llmspam's max_tokens 0 does),
and classified by transformers' AutoModelForSequenceClassification in
float32 on the saved bf16 weights (eager attention). The output is one line
per message: NAME LABEL PROBABILITY TOKENS, NAME relative to --root.

With --compare, the reference is compared with the scores `llmspam eval
--scores` wrote for the same messages instead, and the worst difference is
printed (exit 1 above --tol, 2e-2 as train/'s parity check).
"""
import argparse
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "train"))
import data  # noqa: E402


def paths_of(spec, root):
    """A directory, or a list file of paths relative to root."""
    if os.path.isdir(spec):
        return [spec]
    with open(spec) as f:
        return [os.path.join(root, line.strip()) for line in f if line.strip()]


def load(llmspam, specs, label, root):
    msgs = []
    for spec in specs:
        for p in paths_of(spec, root):
            if os.path.isdir(p):
                msgs += data.load_path(llmspam, p, label)
            else:
                got = data._extract(llmspam, [p], None)
                msgs += [data.Message(n, label, t, None, None) for n, t in got]
    return msgs


def max_tokens_of(model_dir):
    try:
        with open(os.path.join(model_dir, "tokenizer_config.json")) as f:
            n = json.load(f).get("model_max_length")
    except FileNotFoundError:
        n = None
    return int(n) if isinstance(n, (int, float)) and 1 <= n <= (1 << 20) else 512


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--llmspam", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--ham", action="append", default=[])
    p.add_argument("--spam", action="append", default=[])
    p.add_argument("--root", default=".", help="list files' root; names are printed relative to it")
    p.add_argument("--compare", help="llmspam eval --scores file to check against")
    p.add_argument("--tol", type=float, default=2e-2)
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (1: several on a busy machine spin against each other)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    from transformers import AutoModelForSequenceClassification

    msgs = load(args.llmspam, args.ham, 0, args.root) + load(args.llmspam, args.spam, 1, args.root)
    tok = data.load_tokenizer(os.path.join(args.model, "tokenizer.json"))
    data.tokenize(tok, msgs, max_tokens_of(args.model))
    model = AutoModelForSequenceClassification.from_pretrained(
        args.model, dtype=torch.float32, attn_implementation="eager").eval()
    spam = model.config.label2id.get("spam", model.config.num_labels - 1)
    rows = []
    with torch.no_grad():
        for m in msgs:
            if not m.ids:
                continue  # no text: the milter's empty_text policy, never the model
            logits = model(torch.tensor([m.ids])).logits[0]
            rows.append((os.path.relpath(m.name, args.root), m.label,
                         torch.softmax(logits, -1)[spam].item(), len(m.ids)))
    if not args.compare:
        for name, label, prob, n in rows:
            print("%s\t%s\t%.6f\t%d" % (name, "spam" if label else "ham", prob, n))
        return
    got = {}
    with open(args.compare) as f:
        for line in f:
            name, _, score = line.split()
            got[os.path.relpath(name, args.root)] = float(score)
    diffs = []
    for name, _, prob, _ in rows:
        if name not in got:
            sys.exit("%s: not in %s" % (name, args.compare))
        diffs.append((abs(got[name] - prob), name))
    n = len(diffs)
    worst, worst_name = max(diffs) if diffs else (0.0, None)
    print(json.dumps({"n": n, "max_abs_diff": worst, "worst": worst_name, "tol": args.tol,
                      "mean_abs_diff": sum(d for d, _ in diffs) / max(n, 1),
                      "over_1e-2": sum(d > 1e-2 for d, _ in diffs),
                      "over_tol": sum(d > args.tol for d, _ in diffs)}))
    sys.exit(1 if worst > args.tol or n == 0 else 0)


if __name__ == "__main__":
    main()
