#!/usr/bin/env python3
"""smollm2_probe: issue 15's linear probe on the frozen features, the floor a fine-tune must beat.

    python train/smollm2_probe.py --features FEATURES_DIR --split random|source \
        [--dev-ham LIST --dev-spam LIST] [--train-sample N] [--l2 L] [--also-score NAME=FEATURES]

For every message of smollm2_features.py's cache (the residual stream after
the frozen layers, no final norm) it takes the mean over the message's
positions and the last position, standardises them on the training side,
and fits an L2-regularised logistic regression to convergence (L-BFGS).
It prints the test side's metrics at 0.5, its recall at FPR <= 0.5% and its
AUC, on the same splits smollm2_train.py uses, so that the two can be read
side by side. The probe is a measurement, not a shippable model:
LlamaForSequenceClassification scores the last position alone, and has no
mean pool.
"""
import argparse
import os
import random
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import smollm2_features  # noqa: E402
import smollm2_train  # noqa: E402
from metrics import binary_metrics, fmt_metrics  # noqa: E402


def pooled(feats):
    """[messages, 2 * hidden]: each message's mean position, then its last one."""
    return torch.stack([torch.cat([h.float().mean(0), h[-1].float()]) for h in feats])


class Probe:
    def __init__(self, x, y, l2, max_iter=300):
        self.mu = x.mean(0)
        self.sd = x.std(0) + 1e-4  # a feature constant on the training side stays finite
        z = (x - self.mu) / self.sd
        self.w = torch.zeros(z.shape[1], requires_grad=True)
        self.b = torch.zeros(1, requires_grad=True)
        opt = torch.optim.LBFGS([self.w, self.b], max_iter=max_iter, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(z @ self.w + self.b, y)
            loss = loss + l2 * (self.w * self.w).sum()
            loss.backward()
            return loss

        opt.step(closure)

    def scores(self, x):
        with torch.no_grad():
            return torch.sigmoid(((x - self.mu) / self.sd) @ self.w + self.b).tolist()


def report(name, labels, scores):
    m = binary_metrics(labels, scores, 0.5)
    r, thr = smollm2_train.recall_at_fpr(labels, scores, 0.005)
    print("%s: %s; recall at FPR<=0.5%% %.4f (threshold %.4f)" % (name, fmt_metrics(m), r, thr), flush=True)


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--features", required=True, help="smollm2_features.py's output (the corpus)")
    p.add_argument("--split", choices=("random", "source"), required=True)
    p.add_argument("--dev-ham", default=os.path.join(here, "..", "models", "default", "dev-ham.txt"))
    p.add_argument("--dev-spam", default=os.path.join(here, "..", "models", "default", "dev-spam.txt"))
    p.add_argument("--list-root", help="the dev lists' root (default: parent of the rendered files' dirs)")
    p.add_argument("--train-sample", type=int, help="fit on a random sample of this many training messages")
    p.add_argument("--l2", type=float, default=0.1, help="weight of the squared weights in the loss")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--also-score", action="append", default=[], metavar="NAME=FEATURES",
                   help="score these features too (never fitted on)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    meta, feats = smollm2_features.load(args.features)
    msgs = data.load_rendered(meta["rendered"])
    root = args.list_root or os.path.dirname(os.path.dirname(os.path.abspath(msgs[0].name)))
    tr, te = smollm2_train.split(msgs, args.split, [args.dev_ham, args.dev_spam], root)
    if args.train_sample:
        if args.train_sample > len(tr):
            sys.exit("--train-sample %d: the split has %d training messages" % (args.train_sample, len(tr)))
        tr = random.Random(args.seed).sample(tr, args.train_sample)
    x = pooled(feats)
    labels = [m.label for m in msgs]
    probe = Probe(x[tr], torch.tensor([labels[i] for i in tr], dtype=torch.float32), args.l2)
    print("probe: %d frozen layers, max_tokens %d, %s split, fitted on %d messages (%d spam), l2 %g"
          % (meta["frozen"], meta["max_tokens"], args.split, len(tr), sum(labels[i] for i in tr), args.l2))
    scores = probe.scores(x)
    report("test (%d)" % len(te), [labels[i] for i in te], [scores[i] for i in te])
    for spec in args.also_score:
        name, _, path = spec.partition("=")
        ameta, afeats = smollm2_features.load(path)
        amsgs = data.load_rendered(ameta["rendered"])
        # the fitted positions must be the same: cut the other cache as this one
        afeats = [h[: meta["max_tokens"]] for h in afeats]
        report(name, [m.label for m in amsgs], probe.scores(pooled(afeats)))


if __name__ == "__main__":
    main()
