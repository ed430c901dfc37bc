#!/usr/bin/env python3
"""scores_report: the per-source figures of the model card from a scores file.

    python train/scores_report.py [--threshold T] CKPT/scores-epoch2.txt [CKPT/scores-modern-epoch2.txt ...]

Each file is NAME LABEL PROBABILITY per line (smollm2_train.py's
scores-epochN.txt, its --also-score scores-NAME-epochN.txt, or `llmspam eval
--scores`). For each file: AUC, F1, precision, recall and FPR at T
(default 0.5), and recall at FPR <= 0.5%, over the whole file, and over
the subsets the card reports where the file has them:
- new-year: easy_ham_2/ ham against spam_2/ spam (the source split's closest
  thing to later mail from the same kind of senders);
- hard_ham: hard_ham/ ham against spam_2/ spam;
- phishing: bench/modern-mail's spam-01..spam-16, caught at T.
"""
import argparse
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from metrics import binary_metrics  # noqa: E402

PHISHING = {"spam-%02d" % i for i in range(1, 17)}


def recall_at_fpr(labels, scores, max_fpr=0.005):
    """The best recall with FPR <= max_fpr (spam when score >= threshold)."""
    ham = sorted((s for y, s in zip(labels, scores) if y == 0), reverse=True)
    spam = [s for y, s in zip(labels, scores) if y == 1]
    if not ham or not spam:
        return float("nan")
    k = int(math.floor(max_fpr * len(ham)))  # ham allowed at or over the threshold
    t = math.nextafter(ham[k], math.inf) if k < len(ham) else -math.inf
    return sum(1 for s in spam if s >= t) / len(spam)


def load(path):
    rows = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if len(parts) < 3 or parts[1] not in ("ham", "spam"):
                sys.exit("%s:%d: expected NAME ham|spam PROBABILITY" % (path, n))
            rows.append((parts[0], 1 if parts[1] == "spam" else 0, float(parts[2])))
    return rows


def stem(name):
    """easy_ham_2, spam_2, hard_ham, ... of a corpus file; spam-01 of a modern-mail one."""
    return os.path.basename(name).split(".", 1)[0]


def line(tag, rows, threshold):
    labels = [r[1] for r in rows]
    scores = [r[2] for r in rows]
    m = binary_metrics(labels, scores, threshold)
    return ("%-10s n %4d  AUC %.4f  F1 %.3f  P %.3f  R %.3f  FPR %.2f%% (%d of %d)  recall at FPR<=0.5%% %.3f"
            % (tag, len(rows), m["auc"], m["f1"], m["precision"], m["recall"], 100 * m["fpr"], m["fp"],
               m["fp"] + m["tn"], recall_at_fpr(labels, scores)))


def report(path, threshold):
    rows = load(path)
    print("==", path)
    print(line("all", rows, threshold))
    subsets = {"new-year": ("easy_ham_2", "spam_2"), "hard_ham": ("hard_ham", "spam_2")}
    for tag, (ham, spam) in subsets.items():
        sub = [r for r in rows if stem(r[0]) == (ham if r[1] == 0 else spam)]
        if any(r[1] == 0 for r in sub) and any(r[1] == 1 for r in sub):
            print(line(tag, sub, threshold))
    phish = [r for r in rows if r[1] == 1 and stem(r[0]) in PHISHING]
    if phish:
        print("phishing   caught at %g: %d of %d" % (threshold, sum(r[2] >= threshold for r in phish), len(phish)))


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    p.add_argument("--threshold", type=float, default=0.5, help="spam at or over it (default 0.5)")
    p.add_argument("scores", nargs="+", help="NAME LABEL PROBABILITY files")
    args = p.parse_args(argv)
    for path in args.scores:
        report(path, args.threshold)


if __name__ == "__main__":
    main(sys.argv[1:])
