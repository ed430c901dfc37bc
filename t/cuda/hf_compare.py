#!/usr/bin/env python3
"""hf_compare: transformers' LlamaForSequenceClassification on the checkpoint
and messages llmspam uses, on the GPU. Run by t/cuda/gpu-check.sh.

  --parity  a few deterministic id sequences (lengths 1 .. --tokens) through
            `llmspam classify --ids --device cuda --json` and through
            transformers on the same bf16 weights, in float32 (TF32 off)
            and in bfloat16: probabilities within 2e-2 (the issue's
            tolerance) for each; max logit difference printed.
  --bench   transformers in bf16 with sdpa attention on batches of --batch
            messages of --tokens ids each: the very ids of `llmspam bench
            --device` (tools/bench_device.c gives the generator), median of
            --runs timed forwards after warm-up, with cuda synchronisation.
            Given --llmspam-json (llmspam bench --json output of the same
            run), prints the ratio llmspam / transformers in tokens/s.

Prints TAP-like 'ok' / 'not ok' lines and one 'HF_RESULT {json}' line.
Exit 1 when a parity check fails, 0 otherwise.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

M64 = (1 << 64) - 1


def bench_ids(m, tokens, vocab, pad):
    """The ids of message m, exactly as tools/bench_device.c draws them."""
    x = 0x9E3779B97F4A7C15 ^ (((m + 1) * 0xBF58476D1CE4E5B9) & M64)
    out = []
    for _ in range(tokens):
        x ^= (x << 13) & M64
        x ^= x >> 7
        x ^= (x << 17) & M64
        v = x % vocab
        out.append(0 if v == pad else v)
    if vocab > 128000:
        out[0] = 128000
    return out


def probs(logits, problem, torch):
    if logits.numel() == 1 or problem == "regression":
        return logits
    if problem == "multi_label_classification":
        return torch.sigmoid(logits)
    return torch.softmax(logits, dim=-1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--llmspam", help="the llmspam program (for --parity)")
    ap.add_argument("--parity", action="store_true")
    ap.add_argument("--bench", action="store_true")
    ap.add_argument("--tokens", type=int, default=512)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--llmspam-json")
    ap.add_argument("--device", default="cuda", help="torch and llmspam device (cpu: a dry run of this script)")
    a = ap.parse_args()

    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    cfg = AutoConfig.from_pretrained(a.model)
    vocab = cfg.vocab_size
    pad = cfg.pad_token_id if cfg.pad_token_id is not None else -1
    problem = cfg.problem_type or ("regression" if cfg.num_labels == 1 else "single_label_classification")
    result = {"transformers": __import__("transformers").__version__, "torch": torch.__version__,
              "gpu": torch.cuda.get_device_name(0) if a.device == "cuda" else "none"}
    dev = a.device

    def sync():
        if dev == "cuda":
            torch.cuda.synchronize()

    failed = 0

    if a.parity:
        # llmspam once per length, then transformers in float32 (TF32 off:
        # the strict reference) and in bfloat16 (the comparison)
        lengths = sorted({1, 37, min(200, a.tokens), a.tokens})
        cases = []
        for k, n in enumerate(lengths):
            ids = bench_ids(1000 + k, n, vocab, pad)
            with tempfile.NamedTemporaryFile("w", suffix=".ids", delete=False) as f:
                f.write(" ".join(map(str, ids)) + "\n")
            r = subprocess.run([a.llmspam, "classify", "--model", a.model, "--ids", "--device", dev,
                                "--json", "--max-tokens", str(a.tokens), f.name],
                               capture_output=True, text=True)
            os.unlink(f.name)
            if r.returncode != 0:
                print(f"not ok - llmspam classify ({n} tokens): {r.stderr.strip()}")
                failed += 1
                continue
            cases.append((n, ids, json.loads(r.stdout)))
        names = [cfg.id2label[i] for i in range(cfg.num_labels)]
        for dtype, tag in ((torch.float32, "fp32"), (torch.bfloat16, "bf16")):
            model = AutoModelForSequenceClassification.from_pretrained(a.model, dtype=dtype).to(dev).eval()
            worst_p = worst_l = 0.0
            for n, ids, ours in cases:
                with torch.no_grad():
                    logits = model(input_ids=torch.tensor([ids], device=dev)).logits[0].float()
                p_ref = probs(logits, problem, torch).cpu().tolist()
                l_ref = logits.cpu().tolist()
                p_ours = [ours["probs"][nm] for nm in names]
                dp = max(abs(x - y) for x, y in zip(p_ours, p_ref))
                dl = max(abs(x - y) for x, y in zip(ours["logits"], l_ref))
                worst_p, worst_l = max(worst_p, dp), max(worst_l, dl)
                good = dp <= 2e-2
                failed += not good
                print(f"{'ok' if good else 'not ok'} - transformers {tag} vs llmspam {dev}, {n} tokens: "
                      f"probabilities within 2e-2 ({dp:.3g}); logits differ by {dl:.3g}")
            result[f"parity_{tag}_worst_prob"] = worst_p
            result[f"parity_{tag}_worst_logit"] = worst_l
            result["parity_lengths"] = [n for n, _, _ in cases]
            del model
            if dev == "cuda":
                torch.cuda.empty_cache()

    if a.bench:
        model = AutoModelForSequenceClassification.from_pretrained(
            a.model, dtype=torch.bfloat16, attn_implementation="sdpa").to(dev).eval()
        batch = [bench_ids(m, a.tokens, vocab, pad) for m in range(a.batch)]
        if model.config.pad_token_id is None:
            # batches of more than one need a pad id; pick one no message ends with
            ends = {row[-1] for row in batch}
            model.config.pad_token_id = next(v for v in range(vocab - 1, -1, -1) if v not in ends)
        ids = torch.tensor(batch, device=dev)
        mask = torch.ones_like(ids)
        with torch.no_grad():
            for _ in range(3):
                model(input_ids=ids, attention_mask=mask)
            sync()
            times = []
            for _ in range(a.runs):
                t = time.perf_counter()
                model(input_ids=ids, attention_mask=mask)
                sync()
                times.append(time.perf_counter() - t)
        med = statistics.median(times)
        tps = a.batch * a.tokens / med
        result.update(hf_batch_ms_median=med * 1e3, hf_tokens_per_s=tps, batch=a.batch, tokens=a.tokens)
        print(f"# transformers bf16 sdpa, batches of {a.batch} x {a.tokens}: {med * 1e3:.1f} ms per batch "
              f"(median of {a.runs}), {tps:.0f} tokens/s")
        if a.llmspam_json and os.path.exists(a.llmspam_json):
            with open(a.llmspam_json) as f:
                ours = json.loads(f.read().strip().splitlines()[-1])
            ratio = ours["tokens_per_s"] / tps
            result.update(llmspam_tokens_per_s=ours["tokens_per_s"], ratio_llmspam_over_hf=ratio)
            print(f"# llmspam {ours.get('device', '?')} {ours['tokens_per_s']:.0f} tokens/s = {ratio:.2f} x transformers (same run)")
    print("HF_RESULT " + json.dumps(result))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
