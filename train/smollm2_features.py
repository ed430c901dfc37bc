#!/usr/bin/env python3
"""smollm2_features: run the frozen lower layers once and cache their output per message.

    python train/smollm2_features.py --base BASE_DIR --rendered RENDERED.jsonl \
        --tokenizer tokenizer.json --frozen F --max-tokens T --out FEATURES_DIR

On two CPU cores a forward and backward pass through the whole model costs
seconds per message; the layers that are not trained need only one forward
pass, ever. This runs the token embedding and decoder layers 0..F-1 of the
base checkpoint (bf16 weights, as they will be shipped) on every rendered
message (tokenized with the model's tokenizer.json, special-token strings
split, cut at T tokens) and stores the residual stream after layer F-1 (no
final norm) in bf16: what smollm2_train.py feeds to layers F..N-1.

Chunks of --chunk messages go to FEATURES_DIR/chunk-NNNNN.pt as they are
done, so a stopped run resumes where it was (the same arguments are
checked against FEATURES_DIR/meta.json).
"""
import argparse
import hashlib
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def file_sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def lower_model(base, frozen, dtype=torch.float32):
    """The base's embedding and first `frozen` layers, no final norm."""
    from transformers import AutoConfig, LlamaModel

    cfg = AutoConfig.from_pretrained(base)
    cfg.num_hidden_layers = frozen
    m = LlamaModel.from_pretrained(base, config=cfg, dtype=torch.bfloat16)
    m.norm = torch.nn.Identity()
    return m.to(dtype).eval()


def token_ids(tokenizer_json, msgs, max_tokens):
    tok = data.load_tokenizer(tokenizer_json)
    data.tokenize(tok, msgs, max_tokens)
    return [m.ids for m in msgs]


def load(features_dir):
    """meta, and for every message index its bf16 [len, hidden] tensor."""
    with open(os.path.join(features_dir, "meta.json")) as f:
        meta = json.load(f)
    feats = [None] * meta["n"]
    for c in range(meta["chunks"]):
        d = torch.load(os.path.join(features_dir, "chunk-%05d.pt" % c))
        for i, h in zip(d["index"], torch.split(d["hidden"], d["lengths"])):
            feats[i] = h
    missing = sum(1 for h in feats if h is None)
    if missing:
        sys.exit("%s: %d messages have no features (run smollm2_features.py to the end)" % (features_dir, missing))
    return meta, feats


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--base", required=True, help="smollm2_base.py's output")
    p.add_argument("--rendered", required=True, help="data.save_rendered() JSON lines")
    p.add_argument("--tokenizer", required=True, help="the model's tokenizer.json")
    p.add_argument("--frozen", type=int, required=True, help="layers run here (0..F-1)")
    p.add_argument("--max-tokens", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--chunk", type=int, default=256)
    p.add_argument("--batch-tokens", type=int, default=2048, help="tokens per forward batch")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast (faster on avx512_bf16)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (on a loaded 2-core machine, 1 per process is much faster than 2)")
    p.add_argument("--part", default="0/1", metavar="I/K",
                   help="do only chunks c with c %% K == I (run K processes side by side)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    msgs = data.load_rendered(args.rendered)
    ids = token_ids(args.tokenizer, msgs, args.max_tokens)
    meta = {"base": os.path.abspath(args.base), "rendered": os.path.abspath(args.rendered),
            "rendered_sha256": file_sha256(args.rendered), "tokenizer": os.path.abspath(args.tokenizer),
            "tokenizer_sha256": file_sha256(args.tokenizer), "frozen": args.frozen,
            "max_tokens": args.max_tokens, "n": len(msgs), "chunk": args.chunk,
            "chunks": (len(msgs) + args.chunk - 1) // args.chunk, "bf16_autocast": args.bf16,
            "dtype": "bfloat16"}
    os.makedirs(args.out, exist_ok=True)
    mpath = os.path.join(args.out, "meta.json")
    if os.path.exists(mpath):
        with open(mpath) as f:
            old = json.load(f)
        if old != meta:
            sys.exit("%s: made with other arguments; use another --out" % mpath)
    else:
        with open(mpath + ".%d" % os.getpid(), "w") as f:
            json.dump(meta, f, indent=1)
            f.write("\n")
        os.replace(mpath + ".%d" % os.getpid(), mpath)
    lens = [len(x) for x in ids]
    log("%d messages, %d tokens (mean %.0f, %d%% at %d)" % (len(ids), sum(lens), sum(lens) / len(lens),
        round(100 * sum(1 for n in lens if n >= args.max_tokens) / len(lens)), args.max_tokens))

    model = lower_model(args.base, args.frozen)
    t0 = time.time()
    done_tokens = 0
    part, parts = (int(v) for v in args.part.split("/"))
    for c in range(meta["chunks"]):
        path = os.path.join(args.out, "chunk-%05d.pt" % c)
        if c % parts != part or os.path.exists(path):
            continue
        index = list(range(c * args.chunk, min(len(ids), (c + 1) * args.chunk)))
        out = {}
        order = sorted(index, key=lambda i: lens[i])
        j = 0
        while j < len(order):
            # Similar lengths together, right padding; attention is causal so
            # the padding never reaches a real token.
            k = j + 1
            while k < len(order) and (k - j + 1) * lens[order[k]] <= args.batch_tokens:
                k += 1
            b = order[j:k]
            n = max(lens[i] for i in b)
            x = torch.zeros((len(b), n), dtype=torch.long)
            for r, i in enumerate(b):
                x[r, : lens[i]] = torch.tensor(ids[i])
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
                h = model(input_ids=x, use_cache=False).last_hidden_state
            for r, i in enumerate(b):
                out[i] = h[r, : lens[i]].to(torch.bfloat16).clone()
            done_tokens += sum(lens[i] for i in b)
            j = k
        tmp = path + ".tmp"
        torch.save({"index": index, "lengths": [lens[i] for i in index],
                    "hidden": torch.cat([out[i] for i in index])}, tmp)
        os.replace(tmp, path)
        el = time.time() - t0
        log("chunk %d/%d: %d tokens in %.0f s (%.2f ms/token)" % (c + 1, meta["chunks"], done_tokens, el,
                                                                  1000 * el / max(1, done_tokens)))
    log("done: %s" % args.out)


if __name__ == "__main__":
    main()
