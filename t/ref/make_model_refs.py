#!/usr/bin/env python3
"""make_model_refs: reference outputs of transformers' LlamaForSequenceClassification
for the generated models of t/ref/models.list, written as t/data/ref/NAME.json and
checked by t/parity.sh (through t/parity_check). Run by hand with the venv, never by
make check:

  /opt/llmspam-venv/bin/python t/ref/make_model_refs.py --llmspam BUILDDIR/llmspam
  /opt/llmspam-venv/bin/python t/ref/make_model_refs.py --llmspam ... --only pad wide

For each model: `llmspam mkmodel ARGS --tokenizer models/tokenizer/tokenizer.json DIR`,
then transformers loads DIR twice with attn_implementation="eager":
  - dtype=torch.float32: float32 arithmetic on the bf16 weights (for --dtype f16/f32
    models the weights are first rounded to bf16, as llmspam does at load);
  - dtype=torch.bfloat16: transformers' own bf16 arithmetic.
Each case is a sequence of token ids (lengths 1, 7, 300, 2048; the pad model adds
sequences with pad_token_id in the middle, at the end and at the start). Per case the
fixture holds the pooled logits and the probabilities (softmax for single-label,
sigmoid for multi-label, the raw value for regression) of both runs.

The fixture records the sha256 of model.safetensors and config.json: t/parity.sh
regenerates the model with the same arguments and fails if either changed (the
references would be stale: rerun this script).

"emulated_bf16_activation_error" is informative only: the largest logit difference
between the float32 run and the same run with every nn.Linear input rounded to bf16
(what a bf16 GEMM with fp32 accumulation sees). It is the floor any bf16-activation
engine should expect against the float32 reference.
"""
import argparse
import copy
import hashlib
import json
import os
import random
import shlex
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
TOKENIZER = os.path.join(TOP, "models", "tokenizer", "tokenizer.json")
MODELS = os.path.join(HERE, "models.list")
OUT = os.path.join(TOP, "t", "data", "ref")
LENGTHS = (1, 7, 300, 2048)


def read_models(path):
    models = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            words = shlex.split(line)
            models.append((words[0], words[1:]))
    return models


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def make_cases(name, vocab, pad):
    """Token id sequences for one model, reproducible from the model name."""
    rng = random.Random("llmspam-parity-" + name)

    def ids(n, avoid=None):
        out = []
        while len(out) < n:
            t = rng.randrange(vocab)
            if t != avoid:
                out.append(t)
        return out

    cases = [("len%d" % n, ids(n, pad)) for n in LENGTHS]
    if pad is not None:
        p = pad
        mid = ids(7, p)
        mid[2] = p
        mid[4:] = [p, p, p]  # pads in the middle and trailing: pooled token is index 3
        cases.append(("pad-middle-trailing", mid))
        cases.append(("pad-leading", [p, p] + ids(5, p)))  # left padding: pooled is the last
        long = ids(300, p)
        for i in rng.sample(range(1, 250), 20):
            long[i] = p
        long[260:] = [p] * 40
        cases.append(("pad-len300-trailing40", long))
        long = ids(2048, p)
        long[2000:] = [p] * 48
        cases.append(("pad-len2048-trailing48", long))
        cases.append(("pad-only-last", ids(6, p) + [p]))
    return cases


def probs_of(logits, problem):
    import torch
    if problem == "single_label_classification":
        return torch.softmax(logits, dim=-1)
    if problem == "multi_label_classification":
        return torch.sigmoid(logits)
    return logits  # regression: the raw value


def problem_of(config):
    if config.problem_type:
        return config.problem_type
    return "regression" if config.num_labels == 1 else "single_label_classification"


def round_to_bf16_(model):
    import torch
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(torch.bfloat16).to(torch.float32))


def emulate_bf16_activations(model):
    import torch
    m = copy.deepcopy(model)

    def hook(_mod, args):
        return (args[0].to(torch.bfloat16).to(torch.float32),) + tuple(args[1:])

    for mod in m.modules():
        if isinstance(mod, torch.nn.Linear):
            mod.register_forward_pre_hook(hook)
    return m


def floats(t):
    return [float(x) for x in t.reshape(-1).tolist()]


def reference(name, args, llmspam, workdir):
    import torch
    import transformers
    from transformers import AutoModelForSequenceClassification

    mdir = os.path.join(workdir, name)
    cmd = [llmspam, "mkmodel"] + args + ["--tokenizer", TOKENIZER, mdir]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    st = os.path.join(mdir, "model.safetensors")
    cfg = os.path.join(mdir, "config.json")

    f32 = AutoModelForSequenceClassification.from_pretrained(
        mdir, dtype=torch.float32, attn_implementation="eager").eval()
    round_to_bf16_(f32)  # a no-op on bf16 checkpoints
    b16 = AutoModelForSequenceClassification.from_pretrained(
        mdir, dtype=torch.bfloat16, attn_implementation="eager").eval()
    emu = emulate_bf16_activations(f32)
    config = f32.config
    problem = problem_of(config)
    pad = config.pad_token_id

    out_cases = []
    emu_err = 0.0
    for cname, ids in make_cases(name, config.vocab_size, pad):
        x = torch.tensor([ids], dtype=torch.long)
        with torch.no_grad():
            l32 = f32(x).logits[0].float()
            l16 = b16(x).logits[0].float()
            lem = emu(x).logits[0].float()
        emu_err = max(emu_err, float((l32 - lem).abs().max()))
        out_cases.append({
            "name": cname,
            "ids": ids,
            "f32": {"logits": floats(l32), "probs": floats(probs_of(l32, problem))},
            "bf16": {"logits": floats(l16), "probs": floats(probs_of(l16, problem))},
        })
        print("  %-24s len %4d  f32 logits %s" % (cname, len(ids),
              " ".join("%.4f" % v for v in floats(l32))), file=sys.stderr)

    return {
        "name": name,
        "mkmodel_args": args,
        "model_sha256": sha256(st),
        "config_sha256": sha256(cfg),
        "num_labels": config.num_labels,
        "id2label": [config.id2label[i] for i in range(config.num_labels)],
        "problem_type": problem,
        "pad_token_id": pad,
        "reference": {
            "transformers": transformers.__version__,
            "torch": torch.__version__,
            "attn_implementation": "eager",
            "f32": "dtype=torch.float32 on the bf16 (or bf16-rounded) weights",
            "bf16": "dtype=torch.bfloat16",
        },
        "emulated_bf16_activation_error": emu_err,
        "cases": out_cases,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--llmspam", default=os.environ.get("LLMSPAM", "llmspam"),
                    help="the built llmspam (default $LLMSPAM or llmspam on PATH)")
    ap.add_argument("--models", default=MODELS)
    ap.add_argument("--out", default=OUT)
    ap.add_argument("--only", nargs="*", help="only these model names")
    a = ap.parse_args()

    import torch
    torch.manual_seed(0)
    torch.set_num_threads(max(1, (os.cpu_count() or 2) // 2))
    os.makedirs(a.out, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="llmspam-refs-") as work:
        for name, args in read_models(a.models):
            if a.only and name not in a.only:
                continue
            print(name, " ".join(args), file=sys.stderr)
            ref = reference(name, args, a.llmspam, work)
            path = os.path.join(a.out, name + ".json")
            with open(path, "w") as f:
                json.dump(ref, f, separators=(",", ":"))
                f.write("\n")
            print("  -> %s (emulated bf16-activation logit error %.2e)"
                  % (path, ref["emulated_bf16_activation_error"]), file=sys.stderr)


if __name__ == "__main__":
    main()
