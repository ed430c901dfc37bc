"""metrics: precision, recall, F1, FPR at a threshold, and ROC AUC.

Spam (label 1) is the positive class; a score >= threshold is called spam,
the rule the milter applies to tag_threshold.
"""


def auc(labels, scores):
    """ROC AUC by the rank-sum (Mann-Whitney) formula, ties counted half."""
    pairs = sorted(zip(scores, labels))
    n = len(pairs)
    rank_sum, i = 0.0, 0
    while i < n:
        j = i
        while j < n and pairs[j][0] == pairs[i][0]:
            j += 1
        r = (i + 1 + j) / 2.0  # mean rank of the tie block (1-based)
        rank_sum += r * sum(1 for k in range(i, j) if pairs[k][1] == 1)
        i = j
    pos = sum(labels)
    neg = n - pos
    if pos == 0 or neg == 0:
        return float("nan")
    return (rank_sum - pos * (pos + 1) / 2.0) / (pos * neg)


def binary_metrics(labels, scores, threshold):
    tp = fp = tn = fn = 0
    for y, s in zip(labels, scores):
        if s >= threshold:
            tp, fp = (tp + 1, fp) if y == 1 else (tp, fp + 1)
        else:
            fn, tn = (fn + 1, tn) if y == 1 else (fn, tn + 1)
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    fpr = fp / (fp + tn) if fp + tn else 0.0
    return {"tp": tp, "fp": fp, "tn": tn, "fn": fn, "precision": prec, "recall": rec,
            "f1": f1, "fpr": fpr, "auc": auc(labels, scores)}


def fmt_metrics(m):
    return ("P %.4f R %.4f F1 %.4f FPR %.4f AUC %.4f (tp %d fp %d tn %d fn %d)"
            % (m["precision"], m["recall"], m["f1"], m["fpr"], m["auc"],
               m["tp"], m["fp"], m["tn"], m["fn"]))
