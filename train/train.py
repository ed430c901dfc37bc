#!/usr/bin/env python3
"""train: labelled mail -> a LlamaForSequenceClassification that llmspam serves.

    python train/train.py --ham DIR... --spam DIR... --out MODEL_DIR \
        (--base LLAMA_DIR [--lora] | --from-scratch CONFIG.json)

Pipeline: `llmspam extract --json` renders every message (the milter's own
text); the model's tokenizer.json (tokenizers, special tokens split, BOS
added) turns it into ids, cut at --max-tokens and checked against
`llmspam tokenize`; a Message-ID hash splits train from dev; the model is
AutoModelForSequenceClassification (a local base checkpoint, optionally with
a LoRA merged before saving) or, with --from-scratch, a small Llama built
from a config; a class-weighted loss; dev metrics every epoch;
save_pretrained in bf16 with tokenizer.json; finally the dev probabilities
of transformers and of `llmspam classify` on the saved directory are
compared (--parity-tol, 2e-2).

From scratch, the embedding is trained only on the rows of tokens seen in
the training split (a compact table, which is much faster on a CPU) and
scattered into the full vocabulary at save time: every other row is zero, so
real tokenizer ids still fit and unseen tokens carry no signal.
"""
import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
from metrics import binary_metrics, fmt_metrics  # noqa: E402

LABELS = {0: "ham", 1: "spam"}
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_TOKENIZER = os.path.join(HERE, "..", "models", "tokenizer", "tokenizer.json")
# Llama 3's <|finetune_right_pad_id|>: a special token, so never produced from
# mail text (special-token strings are split), hence safe as pad_token_id.
LLAMA3_PAD = 128004


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ham", nargs="+", required=True, help="ham: directories, maildirs, mbox files")
    p.add_argument("--spam", nargs="+", required=True, help="spam: directories, maildirs, mbox files")
    p.add_argument("--learn-dir", metavar="DIR",
                   help="also the learn store of `llmspam learn` (DIR/ham, DIR/spam), beside the corpus")
    p.add_argument("--out", required=True, help="output model directory")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--base", help="local Llama checkpoint directory to fine-tune")
    g.add_argument("--from-scratch", metavar="CONFIG", help="config.json of a small Llama to build")
    p.add_argument("--tokenizer", help="tokenizer.json (default: BASE/tokenizer.json, or models/tokenizer)")
    p.add_argument("--llmspam", default="llmspam", help="the llmspam binary (extract, tokenize, classify)")
    p.add_argument("--headers", help="render_headers (default: llmspam's, Subject,From)")
    p.add_argument("--max-tokens", type=int, default=512)
    p.add_argument("--dev-fraction", type=float, default=0.2)
    p.add_argument("--list-root", help="dev lists are relative to this (default: the inputs' common parent)")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--stop-after", type=int, metavar="N",
                   help="stop after epoch N of the --epochs learning-rate schedule")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--warmup", type=float, default=0.05, help="warm-up, fraction of the steps")
    p.add_argument("--class-weight", default="balanced",
                   help="balanced, sqrt, none, or HAM,SPAM weights of the loss")
    p.add_argument("--lora", action="store_true", help="train a LoRA (peft) on --base, merged before saving")
    p.add_argument("--lora-r", type=int, default=16)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--no-bf16", dest="bf16", action="store_false",
                   help="no bf16 autocast (default: bf16 autocast on cpu and cuda)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--tokenizer-check", type=int, default=0,
                   help="messages compared with `llmspam tokenize` (0: all)")
    p.add_argument("--parity-sample", type=int, default=200,
                   help="dev messages compared with `llmspam classify` (0: all)")
    p.add_argument("--parity-tol", type=float, default=2e-2)
    p.add_argument("--parity-only", action="store_true",
                   help="skip training: only compare the model already in --out")
    return p.parse_args(argv)


def class_weights(spec, n_ham, n_spam):
    if spec == "none":
        return torch.tensor([1.0, 1.0])
    n = n_ham + n_spam
    if spec == "balanced":  # each class weighs as much as the other
        return torch.tensor([n / (2.0 * n_ham), n / (2.0 * n_spam)])
    if spec == "sqrt":  # halfway (geometrically) between none and balanced
        return torch.tensor([math.sqrt(n / (2.0 * n_ham)), math.sqrt(n / (2.0 * n_spam))])
    h, s = (float(x) for x in spec.split(","))
    return torch.tensor([h, s])


def batches(msgs, batch_size, rng):
    """Shuffled batches of similar length (less padding), shuffled again."""
    order = list(msgs)
    rng.shuffle(order)
    chunk = batch_size * 32
    out = []
    for i in range(0, len(order), chunk):
        part = sorted(order[i : i + chunk], key=lambda m: len(m.ids))
        out += [part[j : j + batch_size] for j in range(0, len(part), batch_size)]
    rng.shuffle(out)
    return out


def collate(batch, pad, remap=None):
    n = max(len(m.ids) for m in batch)
    ids = torch.full((len(batch), n), pad, dtype=torch.long)
    mask = torch.zeros((len(batch), n), dtype=torch.long)
    for i, m in enumerate(batch):
        ids[i, : len(m.ids)] = torch.tensor(m.ids)
        mask[i, : len(m.ids)] = 1
    if remap is not None:
        ids = remap[ids]
    return ids, mask, torch.tensor([m.label for m in batch])


def autocast(device, enabled=True):
    """bf16 matmuls (fp32 master weights): much faster on GPUs and on CPUs
    with avx512_bf16."""
    kind = device.split(":")[0]
    return torch.autocast(kind, dtype=torch.bfloat16, enabled=enabled and kind in ("cpu", "cuda"))


# No attention_mask anywhere: padding is on the right and attention is
# causal, so pad tokens never reach the pooled (last real) token; without a
# mask, SDPA takes its fused causal path.
@torch.no_grad()
def predict(model, msgs, pad, device, remap=None, batch_size=32, bf16=True):
    model.eval()
    probs = [0.0] * len(msgs)
    order = sorted(range(len(msgs)), key=lambda i: len(msgs[i].ids))
    for j in range(0, len(order), batch_size):
        idx = order[j : j + batch_size]
        ids, mask, _ = collate([msgs[i] for i in idx], pad, remap)
        with autocast(device, bf16):
            logits = model(input_ids=ids.to(device)).logits
        p = torch.softmax(logits.float(), dim=-1)[:, 1].cpu().tolist()
        for i, v in zip(idx, p):
            probs[i] = v
    model.train()
    return probs


def build_model(args, full_config, train_msgs):
    """The model to train, its pad id, and the vocabulary remap (scratch)."""
    from transformers import AutoConfig, AutoModelForSequenceClassification, LlamaConfig, LlamaForSequenceClassification

    label_kw = dict(num_labels=2, id2label=LABELS, label2id={v: k for k, v in LABELS.items()})
    if args.base:
        cfg = AutoConfig.from_pretrained(args.base)
        pad = cfg.pad_token_id if cfg.pad_token_id is not None else LLAMA3_PAD
        model = AutoModelForSequenceClassification.from_pretrained(
            args.base, dtype=torch.bfloat16, pad_token_id=pad, **label_kw)
        if args.lora:
            try:
                from peft import LoraConfig, get_peft_model
            except ImportError:
                sys.exit("--lora needs peft (pip install peft)")
            lcfg = LoraConfig(task_type="SEQ_CLS", r=args.lora_r, lora_alpha=2 * args.lora_r,
                              lora_dropout=0.05,
                              target_modules=["q_proj", "k_proj", "v_proj", "o_proj",
                                              "gate_proj", "up_proj", "down_proj"])
            model = get_peft_model(model, lcfg)
            model.print_trainable_parameters()
        else:
            # Full fine-tuning: fp32 master weights (small bf16 updates would
            # round away); saved in bf16 again.
            model = model.float()
        return model.to(args.device), pad, None
    # From scratch: a compact vocabulary of the tokens seen in training.
    # Row 0 stands for every unseen token and stays zero, as in the saved
    # model; the pad token gets its own row (it is zeroed at save time).
    pad = full_config["pad_token_id"]
    seen = sorted({t for m in train_msgs for t in m.ids} - {pad})
    remap = torch.zeros(full_config["vocab_size"], dtype=torch.long)
    remap[torch.tensor(seen)] = torch.arange(1, len(seen) + 1)
    remap[pad] = len(seen) + 1
    small = dict(full_config, vocab_size=len(seen) + 2, pad_token_id=len(seen) + 1, **label_kw)
    small.pop("architectures", None)
    small.pop("model_type", None)
    model = LlamaForSequenceClassification(LlamaConfig(**small))
    with torch.no_grad():
        model.model.embed_tokens.weight[0].zero_()
    log("from scratch: %d of %d token rows seen in training" % (len(seen), full_config["vocab_size"]))
    model.seen_ids = torch.tensor(seen)
    return model.to(args.device), len(seen) + 1, remap


def save(args, model, full_config, remap, tokenizer_json):
    from transformers import LlamaConfig, LlamaForSequenceClassification

    os.makedirs(args.out, exist_ok=True)
    label_kw = dict(num_labels=2, id2label=LABELS, label2id={v: k for k, v in LABELS.items()})
    if remap is None:
        if args.lora:
            model = model.merge_and_unload()
        model = model.to(torch.bfloat16)
        model.save_pretrained(args.out)
    else:
        cfg = dict(full_config, **label_kw)
        cfg.pop("architectures", None)
        cfg.pop("model_type", None)
        full = LlamaForSequenceClassification(LlamaConfig(**cfg))
        sd = {k: v for k, v in model.state_dict().items() if k != "model.embed_tokens.weight"}
        emb = torch.zeros(full_config["vocab_size"], full_config["hidden_size"])
        emb[model.seen_ids] = model.model.embed_tokens.weight.detach()[1 : len(model.seen_ids) + 1].cpu()
        sd["model.embed_tokens.weight"] = emb
        missing, unexpected = full.load_state_dict(sd, strict=False)
        if missing or unexpected:
            sys.exit("save: state dict mismatch: missing %s unexpected %s" % (missing, unexpected))
        full = full.to(torch.bfloat16)
        full.config.architectures = ["LlamaForSequenceClassification"]
        full.save_pretrained(args.out)
    shutil.copyfile(tokenizer_json, os.path.join(args.out, "tokenizer.json"))


def parity(args, dev, rng):
    """transformers (fp32 on the saved bf16 weights) vs `llmspam classify`."""
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(args.out, dtype=torch.float32)
    sample = list(dev) if args.parity_sample == 0 or args.parity_sample >= len(dev) \
        else rng.sample(dev, args.parity_sample)
    ref = predict(model, sample, model.config.pad_token_id, "cpu", bf16=False)
    worst, worst_name = 0.0, None
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "text")
        for m, r in zip(sample, ref):
            with open(path, "w", encoding="utf-8", newline="") as f:
                f.write(m.text)
            p = subprocess.run([args.llmspam, "classify", "--text", "--model", args.out, "--json",
                                "--threads", "1", "--max-tokens", str(args.max_tokens), path],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            if p.returncode != 0:
                sys.exit("llmspam classify %s: %s" % (m.name, p.stderr.decode(errors="replace")))
            o = json.loads(p.stdout)
            if o["tokens"] != len(m.ids):
                sys.exit("parity: %s: llmspam read %d tokens, transformers %d" % (m.name, o["tokens"], len(m.ids)))
            d = abs(o["score"] - r)
            if d > worst:
                worst, worst_name = d, m.name
    return len(sample), worst, worst_name


def main(argv=None):
    args = parse_args(argv)
    if args.learn_dir:
        # the store's label directories join the corpus; the dedupe and the
        # split below treat them like any other input
        added = []
        for paths, name in ((args.ham, "ham"), (args.spam, "spam")):
            d = os.path.join(args.learn_dir, name)
            if os.path.isdir(d):
                paths.append(d)
                added.append(d)
        log(f"learn store {args.learn_dir}: added {', '.join(added) or 'nothing (no ham/ or spam/)'}")
    t0 = time.time()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = random.Random(args.seed)

    if args.base:
        tokenizer_json = args.tokenizer or os.path.join(args.base, "tokenizer.json")
        full_config = None
    else:
        tokenizer_json = args.tokenizer or DEFAULT_TOKENIZER
        with open(args.from_scratch) as f:
            full_config = json.load(f)
        full_config.setdefault("pad_token_id", LLAMA3_PAD)

    msgs = []
    for label, paths in ((0, args.ham), (1, args.spam)):
        for path in paths:
            got = data.load_path(args.llmspam, path, label, args.headers)
            log("%s: %d messages (%s)" % (path, len(got), LABELS[label]))
            msgs += got
    merged = data.assign_split(msgs, args.dev_fraction)
    tok = data.load_tokenizer(tokenizer_json)
    data.tokenize(tok, msgs, args.max_tokens)
    check = msgs if args.tokenizer_check == 0 else rng.sample(msgs, min(args.tokenizer_check, len(msgs)))
    bad = data.check_tokenizer_parity(args.llmspam, tokenizer_json, check, args.max_tokens)
    if bad:
        sys.exit("tokenizer parity: %d of %d differ from llmspam tokenize, e.g. %s" % (len(bad), len(check), bad[0]))
    log("tokenizer parity: %d messages, ids identical to llmspam tokenize" % len(check))

    train = [m for m in msgs if m.split == "train"]
    dev = [m for m in msgs if m.split == "dev"]
    n_ham = sum(1 for m in train if m.label == 0)
    n_spam = len(train) - n_ham
    log("split: train %d (ham %d, spam %d), dev %d (ham %d, spam %d); %d duplicate links"
        % (len(train), n_ham, n_spam, len(dev), sum(1 for m in dev if m.label == 0),
           sum(1 for m in dev if m.label == 1), merged))
    root = args.list_root or os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in args.ham + args.spam])
    os.makedirs(args.out, exist_ok=True)
    for label in (0, 1):
        names = sorted(data.relative_list([m for m in dev if m.label == label], root))
        with open(os.path.join(args.out, "dev-%s.txt" % LABELS[label]), "w") as f:
            f.write("".join(n + "\n" for n in names))

    if args.parity_only:
        n, worst, worst_name = parity(args, dev, rng)
        log("parity: %d dev messages, max |p_transformers - p_llmspam| = %.2e (%s)" % (n, worst, worst_name))
        with open(os.path.join(args.out, "parity.json"), "w") as f:
            json.dump({"n": n, "max_abs_diff": worst, "worst": worst_name, "tol": args.parity_tol}, f)
            f.write("\n")
        sys.exit(0 if worst <= args.parity_tol else "parity FAILED: %.2e > %.2e" % (worst, args.parity_tol))

    model, pad, remap = build_model(args, full_config, train)
    weights = class_weights(args.class_weight, n_ham, n_spam).to(args.device)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights)
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr)
    steps_per_epoch = math.ceil(len(train) / args.batch_size)
    total = steps_per_epoch * args.epochs
    warm = max(1, int(args.warmup * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    log("model: %d trainable parameters; %d steps; class weights %s"
        % (sum(p.numel() for p in params), total, [round(w, 3) for w in weights.tolist()]))

    history = []
    step = 0
    model.train()
    for epoch in range(1, args.epochs + 1):
        te = time.time()
        run_loss = 0.0
        for b in batches(train, args.batch_size, rng):
            ids, mask, y = collate(b, pad if remap is None else full_config["pad_token_id"], remap)
            with autocast(args.device, args.bf16):
                logits = model(input_ids=ids.to(args.device)).logits
            loss = loss_fn(logits.float(), y.to(args.device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            if remap is not None:
                with torch.no_grad():
                    model.model.embed_tokens.weight[0].zero_()
            run_loss += loss.item()
            step += 1
            if step % 50 == 0:
                log("epoch %d step %d/%d loss %.4f" % (epoch, step, total, run_loss / 50))
                run_loss = 0.0
        probs = predict(model, dev, pad if remap is None else full_config["pad_token_id"], args.device, remap,
                        bf16=args.bf16)
        m = binary_metrics([d.label for d in dev], probs, 0.5)
        m.update(epoch=epoch, seconds=round(time.time() - te, 1))
        history.append(m)
        log("epoch %d dev: %s (%.0f s)" % (epoch, fmt_metrics(m), time.time() - te))
        save(args, model, full_config, remap, tokenizer_json)  # usable if stopped early
        if args.stop_after and epoch >= args.stop_after:
            log("stopping after epoch %d (--stop-after)" % epoch)
            break

    save(args, model, full_config, remap, tokenizer_json)
    train_s = time.time() - t0
    log("saved %s (%.0f s since start)" % (args.out, train_s))
    n, worst, worst_name = parity(args, dev, rng)
    log("parity: %d dev messages, max |p_transformers - p_llmspam| = %.2e (%s)" % (n, worst, worst_name))
    report = {"args": {k: v for k, v in vars(args).items()}, "epochs": history,
              "train": {"n": len(train), "ham": n_ham, "spam": n_spam},
              "dev": {"n": len(dev), "ham": len(dev) - sum(m.label for m in dev), "spam": sum(m.label for m in dev)},
              "seconds_to_save": round(train_s, 1),
              "parity": {"n": n, "max_abs_diff": worst, "worst": worst_name, "tol": args.parity_tol},
              "torch": torch.__version__}
    with open(os.path.join(args.out, "training.json"), "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    if worst > args.parity_tol:
        sys.exit("parity FAILED: %.2e > %.2e" % (worst, args.parity_tol))
    log("done in %.0f s" % (time.time() - t0))


if __name__ == "__main__":
    main()
