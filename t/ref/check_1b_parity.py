#!/usr/bin/env python3
"""check_1b_parity: the parity check of t/parity.sh on the real Llama-3.2-1B shapes
(too heavy for make check: a 2.5 GB checkpoint, transformers in float32 needs ~6 GB).
Run by hand with the venv:

  /opt/llmspam-venv/bin/python t/ref/check_1b_parity.py --llmspam BUILDDIR/llmspam [--dir DIR]

It runs `llmspam mkmodel --preset llama-3.2-1b --seed 1` into DIR (kept if it
already holds a model.safetensors), scores a few id sequences (BOS + random ids;
lengths 1, 7, 300 by default) with transformers (dtype=torch.float32,
attn_implementation="eager") and with `llmspam classify --ids --json`, and prints the
largest logit difference per sequence against the 2e-3 tolerance. Exit status 1 if
any exceeds it.
"""
import argparse
import json
import os
import random
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
TOKENIZER = os.path.join(TOP, "models", "tokenizer", "tokenizer.json")
TOL = 2e-3


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--llmspam", default=os.environ.get("LLMSPAM", "llmspam"))
    ap.add_argument("--dir", default="/tmp/llmspam-1b-parity")
    ap.add_argument("--lengths", default="1,7,300")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()

    if not os.path.exists(os.path.join(a.dir, "model.safetensors")):
        subprocess.run([a.llmspam, "mkmodel", "--preset", "llama-3.2-1b", "--seed", "1",
                        "--tokenizer", TOKENIZER, a.dir], check=True)
    import torch
    from transformers import AutoModelForSequenceClassification
    torch.set_num_threads(a.threads)
    model = AutoModelForSequenceClassification.from_pretrained(
        a.dir, dtype=torch.float32, attn_implementation="eager").eval()
    rng = random.Random(7)
    worst = 0.0
    for n in (int(x) for x in a.lengths.split(",")):
        ids = [128000] + [rng.randrange(128000) for _ in range(n - 1)]
        with torch.no_grad():
            ref = model(torch.tensor([ids])).logits[0].tolist()
        out = subprocess.run([a.llmspam, "classify", "--model", a.dir, "--ids", "--json",
                              "--max-tokens", str(max(512, n)), "--threads", str(a.threads)],
                             input=" ".join(map(str, ids)), capture_output=True, text=True,
                             check=True)
        got = json.loads(out.stdout)["logits"]
        d = max(abs(x - y) for x, y in zip(ref, got))
        worst = max(worst, d)
        print("len %4d  transformers %s  llmspam %s  |dlogit| %.2e"
              % (n, " ".join("%.5f" % x for x in ref), " ".join("%.5f" % x for x in got), d))
    print("max |dlogit| %.2e (tolerance %.0e)" % (worst, TOL))
    return 0 if worst <= TOL else 1


if __name__ == "__main__":
    sys.exit(main())
