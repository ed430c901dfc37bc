#!/usr/bin/env python3
"""smollm2_train: train the upper layers of SmolLM2 on cached features; save the classifier.

    python train/smollm2_train.py --base BASE_DIR --features FEATURES_DIR \
        --layers N --split random|source --ckpt CKPT_DIR [--out MODEL_DIR]

The model is a LlamaForSequenceClassification made of the first N layers of
the base checkpoint (smollm2_base.py). Layers 0..F-1 are frozen and were run
once by smollm2_features.py; here layers F..N-1, the final norm and a new
`score` head (2 labels, 0 ham, 1 spam) are trained on those cached
activations, pooled at the last token as transformers does (padding on the
right, causal attention, so the last real token sees only real tokens).

Splits (both over the rendered corpus of the features):
- random: the dev lists of models/demo (--dev-ham, --dev-spam: the Message-ID
  hash split of train/data.py, 20%) are held out, the rest is trained on;
- source: train on spam/ + easy_ham/ files, test on spam_2/ + hard_ham/ +
  easy_ham_2/ (other sources and a later year: an estimate of how the model
  does on mail unlike its training set).

AdamW, linear warm-up and decay, gradient clipping, float32 master weights
(--bf16 for bf16 autocast). After every epoch: the held-out metrics (at
threshold 0.5, recall at FPR <= 0.5%, AUC) go to CKPT_DIR/history.json and
the trainable state to CKPT_DIR/last.pt, from which --resume continues.
--out saves the model after the last epoch run (save_pretrained in bf16,
config.json with id2label/label2id/pad_token_id, the tokenizer.json of the
features and its tokenizer_config.json when there is one next to it, and the
held-out messages as dev-ham.txt / dev-spam.txt for either split).
--max-tokens T trains and tests on the first T tokens of features cached at
more: exact, since with causal attention a position never sees later ones.
--extra-train FEATURES adds messages to the training side of either split
(train/synthetic: modern mail the 2002 corpus lacks); --also-score
NAME=FEATURES scores more messages after every epoch without training on
them (bench/modern-mail).
"""
import argparse
import json
import math
import os
import random
import shutil
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import smollm2_features  # noqa: E402
from metrics import binary_metrics, fmt_metrics  # noqa: E402

LABELS = {0: "ham", 1: "spam"}
HERE = os.path.dirname(os.path.abspath(__file__))


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def source_of(name):
    """spam_2, spam, easy_ham_2, easy_ham, hard_ham: the corpus file's prefix."""
    return os.path.basename(name).split(".", 1)[0]


def split(msgs, kind, dev_lists, root):
    """Indices (train, test) of msgs."""
    if kind == "source":
        tr = [i for i, m in enumerate(msgs) if source_of(m.name) in ("spam", "easy_ham")]
        te = [i for i, m in enumerate(msgs) if source_of(m.name) in ("spam_2", "hard_ham", "easy_ham_2")]
        return tr, te
    dev = set()
    for path in dev_lists:
        with open(path) as f:
            dev.update(os.path.abspath(os.path.join(root, line.strip())) for line in f if line.strip())
    # the rendered names may be relative (to where the corpus was rendered)
    tr = [i for i, m in enumerate(msgs) if os.path.abspath(m.name) not in dev]
    te = [i for i, m in enumerate(msgs) if os.path.abspath(m.name) in dev]
    if len(te) != len(dev):
        sys.exit("random split: %d of %d dev files found in the rendered corpus" % (len(te), len(dev)))
    return tr, te


class Upper(torch.nn.Module):
    """Layers F..N-1 + final norm of the base, and the score head."""

    def __init__(self, base, frozen, layers):
        super().__init__()
        from transformers import AutoConfig, LlamaForCausalLM, LlamaModel

        cfg = AutoConfig.from_pretrained(base)
        full = LlamaForCausalLM.from_pretrained(base, dtype=torch.bfloat16).float()
        ucfg = AutoConfig.from_pretrained(base)
        ucfg.num_hidden_layers = layers - frozen
        ucfg.vocab_size = 1  # inputs_embeds only: no token table
        ucfg.pad_token_id = None
        self.model = LlamaModel(ucfg)
        sd = {"norm.weight": full.model.norm.weight}
        for j in range(layers - frozen):
            for k, v in full.model.layers[frozen + j].state_dict().items():
                sd["layers.%d.%s" % (j, k)] = v
        sd["embed_tokens.weight"] = torch.zeros(1, cfg.hidden_size)
        self.model.load_state_dict(sd, strict=True)
        self.model.embed_tokens.weight.requires_grad_(False)
        self.score = torch.nn.Linear(cfg.hidden_size, 2, bias=False)
        torch.nn.init.normal_(self.score.weight, std=cfg.initializer_range)
        self.frozen, self.layers = frozen, layers

    def forward(self, h, lengths, every=False):
        out = self.model(inputs_embeds=h, use_cache=False).last_hidden_state
        if every:  # the score of every position, [batch, tokens, 2]
            return self.score(out)
        last = out[torch.arange(out.shape[0]), lengths - 1]
        return self.score(last)


def collate(feats, idx, dtype=torch.float32):
    n = max(feats[i].shape[0] for i in idx)
    h = torch.zeros((len(idx), n, feats[idx[0]].shape[1]), dtype=dtype)
    for r, i in enumerate(idx):
        h[r, : feats[i].shape[0]] = feats[i]
    return h, torch.tensor([feats[i].shape[0] for i in idx])


def batches(idx, feats, batch_size, rng):
    order = list(idx)
    rng.shuffle(order)
    chunk = batch_size * 32
    out = []
    for i in range(0, len(order), chunk):
        part = sorted(order[i : i + chunk], key=lambda j: feats[j].shape[0])
        out += [part[j : j + batch_size] for j in range(0, len(part), batch_size)]
    rng.shuffle(out)
    return out


@torch.no_grad()
def predict(model, feats, idx, bf16, batch_tokens=4096):
    model.eval()
    probs = {}
    order = sorted(idx, key=lambda i: feats[i].shape[0])
    j = 0
    while j < len(order):
        k = j + 1
        while k < len(order) and (k - j + 1) * feats[order[k]].shape[0] <= batch_tokens:
            k += 1
        b = order[j:k]
        h, lens = collate(feats, b)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(h, lens)
        for i, p in zip(b, torch.softmax(logits.float(), -1)[:, 1].tolist()):
            probs[i] = p
        j = k
    model.train()
    return [probs[i] for i in idx]


def recall_at_fpr(labels, scores, max_fpr):
    """The best recall with FPR <= max_fpr, and its threshold (spam when >=)."""
    ham = sorted((s for y, s in zip(labels, scores) if y == 0), reverse=True)
    spam = [s for y, s in zip(labels, scores) if y == 1]
    k = int(math.floor(max_fpr * len(ham)))  # ham allowed above the threshold
    # Threshold just above the (k+1)-th highest ham score.
    t = math.nextafter(ham[k], math.inf) if k < len(ham) else -math.inf
    return sum(1 for s in spam if s >= t) / len(spam), t


def evaluate(labels, scores):
    m = binary_metrics(labels, scores, 0.5)
    r, t = recall_at_fpr(labels, scores, 0.005)
    m.update(recall_at_fpr_0_5pct=r, threshold_at_fpr_0_5pct=t)
    return m


def save_model(args, model, meta, history, msgs, held_out, list_root):
    """The N-layer LlamaForSequenceClassification, bf16, with its tokenizer."""
    from transformers import AutoConfig, LlamaForCausalLM, LlamaForSequenceClassification

    full = LlamaForCausalLM.from_pretrained(args.base, dtype=torch.bfloat16)
    cfg = AutoConfig.from_pretrained(args.base)
    cfg.num_hidden_layers = args.layers
    cfg.num_labels = 2
    cfg.id2label = dict(LABELS)
    cfg.label2id = {v: k for k, v in LABELS.items()}
    cfg.pad_token_id = args.pad_token_id
    cfg.tie_word_embeddings = False  # a classifier has no lm_head to tie
    cfg.architectures = ["LlamaForSequenceClassification"]
    cls = LlamaForSequenceClassification(cfg)
    sd = {"model.embed_tokens.weight": full.model.embed_tokens.weight}
    for i in range(model.frozen):
        for k, v in full.model.layers[i].state_dict().items():
            sd["model.layers.%d.%s" % (i, k)] = v
    for k, v in model.model.state_dict().items():
        if k == "embed_tokens.weight":
            continue
        if k.startswith("layers."):
            j, rest = k[len("layers."):].split(".", 1)
            k = "layers.%d.%s" % (model.frozen + int(j), rest)
        sd["model." + k] = v
    sd["score.weight"] = model.score.weight
    missing, unexpected = cls.load_state_dict({k: v.detach().float() for k, v in sd.items()}, strict=False)
    if missing or unexpected:
        sys.exit("save: state dict mismatch: missing %s unexpected %s" % (missing, unexpected))
    cls = cls.to(torch.bfloat16)
    cls.save_pretrained(args.out)
    shutil.copyfile(meta["tokenizer"], os.path.join(args.out, "tokenizer.json"))
    # model_max_length = the length it was trained at, so that transformers
    # (truncation=True) and llmspam (max_tokens = 0) both cut there.
    tc = os.path.join(os.path.dirname(meta["tokenizer"]), "tokenizer_config.json")
    tok_cfg = {}
    if os.path.exists(tc):
        with open(tc) as f:
            tok_cfg = json.load(f)
    tok_cfg["model_max_length"] = meta["max_tokens"]
    with open(os.path.join(args.out, "tokenizer_config.json"), "w") as f:
        json.dump(tok_cfg, f, indent=2)
        f.write("\n")
    # The held-out lists, for llmspam eval and bench/compare-spamassassin.sh
    # (which trains SpamAssassin's Bayes on every other corpus file).
    if args.split == "random":
        for path, name in ((args.dev_ham, "dev-ham.txt"), (args.dev_spam, "dev-spam.txt")):
            if os.path.abspath(path) != os.path.abspath(os.path.join(args.out, name)):
                shutil.copyfile(path, os.path.join(args.out, name))
    else:
        for label, name in ((0, "dev-ham.txt"), (1, "dev-spam.txt")):
            with open(os.path.join(args.out, name), "w") as f:
                for i in held_out:
                    if msgs[i].label == label:
                        f.write(os.path.relpath(os.path.abspath(msgs[i].name), list_root) + "\n")
    with open(os.path.join(args.out, "training.json"), "w") as f:
        json.dump({"max_tokens": meta["max_tokens"], "layers": args.layers, "frozen": model.frozen,
                   "split": args.split, "args": vars(args), "features": meta, "epochs": history,
                   "torch": torch.__version__}, f, indent=1)
        f.write("\n")
    log("saved %s" % args.out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--base", required=True)
    p.add_argument("--features", required=True, help="smollm2_features.py's output")
    p.add_argument("--layers", type=int, default=12, help="N: layers kept (0..N-1)")
    p.add_argument("--split", choices=("random", "source"), required=True)
    p.add_argument("--dev-ham", default=os.path.join(HERE, "..", "models", "demo", "dev-ham.txt"))
    p.add_argument("--dev-spam", default=os.path.join(HERE, "..", "models", "demo", "dev-spam.txt"))
    p.add_argument("--list-root", help="the dev lists' root (default: parent of the rendered files' dirs)")
    p.add_argument("--ckpt", required=True, help="checkpoint directory (last.pt, history.json)")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--out", help="save_pretrained directory, written after the last epoch run")
    p.add_argument("--train-layers", type=int,
                   help="train only the top K layers (default: every layer F..N-1; 0: norm and head only)")
    p.add_argument("--freeze-norm", action="store_true", help="with --train-layers 0: the head alone")
    p.add_argument("--pool-last", action="store_true",
                   help="start the top layer as a mean pool: its k_proj zero, so that every position "
                        "attends evenly to its whole prefix (the last one: to the whole message)")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--stop-after", type=int, help="stop after epoch N of the --epochs schedule")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-4, help="peak lr of the decoder layers and norm")
    p.add_argument("--head-lr", type=float, default=1e-3, help="peak lr of the score head")
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--warmup", type=float, default=0.05)
    p.add_argument("--pad-token-id", type=int, default=2,
                   help="config.json pad_token_id: a special token mail text never yields")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast")
    p.add_argument("--allpos-weight", type=float, default=0.5,
                   help="share of the loss from every position's prediction of the label (0: the "
                        "pooled last position alone, as transformers' own fine-tuning)")
    p.add_argument("--ham-weight", type=float, default=1.0,
                   help="loss weight of a ham message against a spam's 1: above 1 a false positive "
                        "costs more, so the 0.5 threshold sits at a lower false-positive rate")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--max-train", type=int, help="train on a random sample of this many (timing)")
    p.add_argument("--extra-train", action="append", default=[], metavar="FEATURES",
                   help="features of more messages (smollm2_features.py, same base, tokenizer and "
                        "frozen layers) to train on in either split, never tested on (repeatable)")
    p.add_argument("--extra-spam-weight", type=float, default=1.0,
                   help="the loss weight of an --extra-train spam message (ham: --ham-weight, as in "
                        "the corpus); a few modern spam against as many modern ham weighed "
                        "--ham-weight each would teach that modern mail is ham")
    p.add_argument("--also-score", action="append", default=[], metavar="NAME=FEATURES",
                   help="after every epoch, also score these features (never trained on): metrics in "
                        "the log and history.json, scores in CKPT/scores-NAME-epochN.txt (repeatable)")
    p.add_argument("--max-tokens", type=int,
                   help="cut every message at T tokens (at most the features' max_tokens; default: theirs)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)

    meta, feats = smollm2_features.load(args.features)
    if args.max_tokens:
        # Exact: with causal attention the first T positions of a longer cache
        # are what a run cut at T would have cached.
        if args.max_tokens > meta["max_tokens"]:
            sys.exit("--max-tokens %d: the features were cut at %d" % (args.max_tokens, meta["max_tokens"]))
        feats = [h[: args.max_tokens] for h in feats]
        meta = dict(meta, max_tokens=args.max_tokens, features_max_tokens=meta["max_tokens"])
    msgs = data.load_rendered(meta["rendered"])
    labels = [m.label for m in msgs]
    root = args.list_root or os.path.dirname(os.path.dirname(os.path.abspath(msgs[0].name)))
    tr, te = split(msgs, args.split, [args.dev_ham, args.dev_spam], root)
    if args.max_train:
        tr = rng.sample(tr, min(args.max_train, len(tr)))
    extra_spam = set()
    for extra in args.extra_train:
        emeta, efeats = smollm2_features.load(extra)
        for key in ("tokenizer_sha256", "frozen", "dtype"):
            if emeta[key] != meta[key]:
                sys.exit("--extra-train %s: %s %s, the features have %s" % (extra, key, emeta[key], meta[key]))
        if emeta["max_tokens"] < meta["max_tokens"]:
            sys.exit("--extra-train %s: cut at %d tokens, under the %d trained at"
                     % (extra, emeta["max_tokens"], meta["max_tokens"]))
        emsgs = data.load_rendered(emeta["rendered"])
        tr += range(len(msgs), len(msgs) + len(emsgs))
        extra_spam.update(i for i, m in enumerate(emsgs, len(msgs)) if m.label == 1)
        msgs += emsgs
        labels += [m.label for m in emsgs]
        feats += [h[: meta["max_tokens"]] for h in efeats]
        log("extra training messages: %d (spam %d) from %s" % (len(emsgs), sum(m.label for m in emsgs), extra))
    also = []
    for spec in args.also_score:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            sys.exit("--also-score %s: expected NAME=FEATURES" % spec)
        ameta, afeats = smollm2_features.load(path)
        for key in ("tokenizer_sha256", "frozen", "dtype"):
            if ameta[key] != meta[key]:
                sys.exit("--also-score %s: %s %s, the features have %s" % (path, key, ameta[key], meta[key]))
        if ameta["max_tokens"] < meta["max_tokens"]:
            sys.exit("--also-score %s: cut at %d tokens, under the %d trained at"
                     % (path, ameta["max_tokens"], meta["max_tokens"]))
        also.append((name, data.load_rendered(ameta["rendered"]), [h[: meta["max_tokens"]] for h in afeats]))
    log("split %s: train %d (spam %d), test %d (spam %d); features: %d frozen layers, max_tokens %d"
        % (args.split, len(tr), sum(labels[i] for i in tr), len(te), sum(labels[i] for i in te),
           meta["frozen"], meta["max_tokens"]))

    model = Upper(args.base, meta["frozen"], args.layers)
    if args.train_layers is not None:  # freeze the lower ones of the uncached layers too
        for j in range(args.layers - meta["frozen"] - args.train_layers):
            model.model.layers[j].requires_grad_(False)
        if args.train_layers == 0 and args.freeze_norm:
            model.model.norm.requires_grad_(False)
    if args.pool_last:
        # With k = 0 every attention score is 0: softmax spreads each position
        # evenly over its prefix, so the last token starts out holding the
        # mean of the message (a mean-pooled probe, which ranks far better
        # than the last token alone). q keeps its weights, so k gets a
        # gradient and the pool can learn to weigh tokens; nothing here is
        # outside LlamaForSequenceClassification.
        with torch.no_grad():
            model.model.layers[-1].self_attn.k_proj.weight.zero_()
    head = [model.score.weight]
    body = [p_ for n, p_ in model.model.named_parameters() if p_.requires_grad]
    groups = [{"params": [p_ for p_ in body if p_.dim() >= 2], "weight_decay": args.weight_decay, "lr": args.lr},
              {"params": [p_ for p_ in body if p_.dim() < 2], "weight_decay": 0.0, "lr": args.lr},
              {"params": head, "weight_decay": args.weight_decay, "lr": args.head_lr}]
    opt = torch.optim.AdamW(groups)
    steps_per_epoch = math.ceil(len(tr) / args.batch_size)
    total = steps_per_epoch * args.epochs
    warm = max(1, int(args.warmup * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    loss_fn_each = torch.nn.CrossEntropyLoss(reduction="none")
    os.makedirs(args.ckpt, exist_ok=True)
    history, start = [], 1
    last = os.path.join(args.ckpt, "last.pt")
    if args.resume and os.path.exists(last):
        st = torch.load(last, weights_only=False)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        sched.load_state_dict(st["sched"])
        rng.setstate(st["rng"])
        torch.set_rng_state(st["torch_rng"])
        history, start = st["history"], st["epoch"] + 1
        log("resumed after epoch %d" % st["epoch"])
    trained = [meta["frozen"] + j for j, l in enumerate(model.model.layers) if l.input_layernorm.weight.requires_grad]
    log("trainable: %d parameters (layers %s, norm %s, score); %d steps"
        % (sum(p_.numel() for p_ in body + head), trained or "none",
           "yes" if model.model.norm.weight.requires_grad else "no", total))

    model.train()
    step = (start - 1) * steps_per_epoch
    end = min(args.epochs, args.stop_after or args.epochs)
    for epoch in range(start, end + 1):
        te0 = time.time()
        run = 0.0
        for b in batches(tr, feats, args.batch_size, rng):
            h, lens = collate(feats, b)
            y = torch.tensor([labels[i] for i in b])
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
                every = model(h, lens, every=True).float()
            # Every real position predicts the message's label from its prefix
            # (causal attention): that teaches the trained layers to gather the
            # whole text's evidence into the last position, the one pooled.
            n = every.shape[1]
            real = (torch.arange(n)[None, :] < lens[:, None]).float()
            ce = loss_fn_each(every.reshape(-1, 2), y.repeat_interleave(n)).view(-1, n)
            per_message = (ce * real).sum(1) / real.sum(1)
            pooled = ce[torch.arange(ce.shape[0]), lens - 1]
            weight = torch.tensor([args.ham_weight if labels[i] == 0 else
                                   args.extra_spam_weight if i in extra_spam else 1.0 for i in b])
            loss = ((args.allpos_weight * per_message + (1 - args.allpos_weight) * pooled) * weight).sum() \
                / weight.sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(body + head, 1.0)
            opt.step()
            sched.step()
            run += loss.item()
            step += 1
            if step % 25 == 0:
                log("epoch %d step %d/%d loss %.4f (%.0f ms/message)"
                    % (epoch, step, total, run / 25, 1000 * (time.time() - te0)
                       / ((step - (epoch - 1) * steps_per_epoch) * args.batch_size)))
                run = 0.0
        train_s = time.time() - te0
        scores = predict(model, feats, te, args.bf16)
        m = evaluate([labels[i] for i in te], scores)
        m.update(epoch=epoch, train_seconds=round(train_s, 1), eval_seconds=round(time.time() - te0 - train_s, 1))
        history.append(m)
        log("epoch %d test (%s split): %s; recall at FPR<=0.5%% %.4f (threshold %.4g)"
            % (epoch, args.split, fmt_metrics(m), m["recall_at_fpr_0_5pct"], m["threshold_at_fpr_0_5pct"]))
        with open(os.path.join(args.ckpt, "scores-epoch%d.txt" % epoch), "w") as f:
            for i, s in zip(te, scores):
                f.write("%s %s %.6f\n" % (msgs[i].name, LABELS[labels[i]], s))
        for name, amsgs, afeats in also:
            alabels = [am.label for am in amsgs]
            ascores = predict(model, afeats, range(len(afeats)), args.bf16)
            ametrics = binary_metrics(alabels, ascores, 0.5)
            m.setdefault("also", {})[name] = ametrics
            log("epoch %d %s: %s" % (epoch, name, fmt_metrics(ametrics)))
            with open(os.path.join(args.ckpt, "scores-%s-epoch%d.txt" % (name, epoch)), "w") as f:
                for amsg, s in zip(amsgs, ascores):
                    f.write("%s %s %.6f\n" % (amsg.name, LABELS[amsg.label], s))
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                    "rng": rng.getstate(), "torch_rng": torch.get_rng_state(), "epoch": epoch,
                    "history": history}, last + ".tmp")
        os.replace(last + ".tmp", last)
        with open(os.path.join(args.ckpt, "history.json"), "w") as f:
            json.dump({"args": vars(args), "features": meta, "epochs": history}, f, indent=1)
            f.write("\n")
    if args.out:
        save_model(args, model, meta, history, msgs, te, root)


if __name__ == "__main__":
    main()
