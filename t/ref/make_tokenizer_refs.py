#!/usr/bin/env python3
"""make_tokenizer_refs: reference outputs of Hugging Face `tokenizers` for the
C tokenizer (engine/tokenizer.c). Run by hand with the venv, never by make check:

  PY=/opt/llmspam-venv/bin/python
  $PY t/ref/make_tokenizer_refs.py tables  > engine/pretokenizer_classes.c
  $PY t/ref/make_tokenizer_refs.py edge    > t/data/tokenizer/edge.tsv
  $PY t/ref/make_tokenizer_refs.py random  > t/data/tokenizer/random.tsv
  $PY t/ref/make_tokenizer_refs.py corpus --every 20 | gzip -9n > t/data/tokenizer/corpus-sample.tsv.gz
  $PY t/ref/make_tokenizer_refs.py corpus-full > FILE   (make check-tokenizer-full)
  $PY t/ref/make_tokenizer_refs.py fixtures             (the small gpt2*/ and metaspace/ tokenizers)

--tokenizer NAME (before the command) picks another tokenizer than Llama 3's
(models/tokenizer): smollm2, gpt2 or gpt2-prefix, i.e. t/data/tokenizer/NAME/
tokenizer.json, whose references go to t/data/tokenizer/NAME/ (see t/ref/README.md).

Special-token strings in the text are ordinary text (encode_special_tokens = True,
what transformers does with split_special_tokens=True). Text = the bytes decoded as
UTF-8 with errors="replace".

Formats (one case per line, tab-separated, ids space-separated):
  edge / random / corpus-full:  ESCAPED-BYTES  IDS-WITH-SPECIAL  IDS-WITHOUT
  corpus:              NAME  IDS-WITHOUT    (with special = the post-processor's prefix,
                       e.g. 128000, + these; asserted here); a message with a byte the
                       vocabulary has no token for (dropped, so the ids do not carry the
                       text) is written in the three-column form instead
ESCAPED-BYTES: printable ASCII as is except backslash; every other byte as \\xHH.
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
TOKENIZER = os.path.join(TOP, "models", "tokenizer", "tokenizer.json")
FIXTURES = os.path.join(TOP, "t", "data", "tokenizer")
CORPUS = os.path.join(TOP, "..", "shared", "corpus", "spamassassin")
NAME = "llama3"


def tokenizer_path(name):
    return TOKENIZER if name == "llama3" else os.path.join(FIXTURES, name, "tokenizer.json")


def load():
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(tokenizer_path(NAME))
    tok.encode_special_tokens = True
    return tok


def escape(b):
    out = []
    for c in b:
        if 0x20 <= c < 0x7F and c != 0x5C:
            out.append(chr(c))
        else:
            out.append("\\x%02x" % c)
    return "".join(out)


def ids_str(ids):
    return " ".join(str(i) for i in ids)


def encode_both(tok, raw):
    text = raw.decode("utf-8", errors="replace")
    a = tok.encode(text, add_special_tokens=True).ids
    b = tok.encode(text, add_special_tokens=False).ids
    return a, b


# ---------------------------------------------------------------- tables
def cmd_tables(_args):
    """Character classes of the Llama 3 Split regex as the reference (Oniguruma
    inside tokenizers) sees them, probed code point by code point, so the C
    matcher agrees with it on every code point rather than on a Unicode version."""
    from tokenizers import Regex, pre_tokenizers
    j = json.load(open(TOKENIZER, encoding="utf-8"))
    pat = j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"]
    sp = pre_tokenizers.Split(Regex(pat), "isolated")

    def n(s):
        return len(sp.pre_tokenize_str(s))

    def first(s):
        return sp.pre_tokenize_str(s)[0][0]

    OTHER, LETTER, NUMBER, SPACE = 0, 1, 2, 3
    cls = bytearray(0x110000)
    for c in range(0x110000):
        if 0xD800 <= c < 0xE000:
            continue  # never reaches the matcher (not valid UTF-8)
        ch = chr(c)
        is_l = n("a" + ch) == 1
        is_n = n("1" + ch) == 1
        is_ws = n("\t" + ch) == 1 and not is_l
        is_o = n("!" + ch) == 1 and not is_l and ch not in "\r\n"
        k = [is_l, is_n, is_ws, is_o].count(True)
        if k != 1:
            sys.exit("code point U+%04X falls in %d classes" % (c, k))
        cls[c] = LETTER if is_l else NUMBER if is_n else SPACE if is_ws else OTHER

    # (?i:'s|'t|'re|'ve|'m|'ll|'d): which letters stand for each letter. A probe
    # that stops after the apostrophe + letters proves alternative 1 matched,
    # since alternative 2 would have taken the whole letter run.
    letters = [c for c in range(0x110000) if cls[c] == LETTER]
    probes = {
        "stmd": lambda ch: ("'" + ch + "a", "'" + ch),
        "rv": lambda ch: ("'" + ch + "ea", "'" + ch + "e"),
        "e": lambda ch: ("'r" + ch + "a", "'r" + ch),
        "l": lambda ch: ("'l" + ch + "a", "'l" + ch),
    }
    folds = {}
    for name, probe in probes.items():
        folds[name] = []
        for c in letters:
            s, want = probe(chr(c))
            if first(s) == want:
                folds[name].append(c)
    folds["l"] = [c for c in folds["l"] if first("'" + chr(c) + "la") == "'" + chr(c) + "l"]

    # The Digits pre-tokenizer asks Rust's char::is_numeric, whose Unicode
    # version may differ from Oniguruma's \p{N}: the code points where they
    # disagree, probed as "a" + c + "a" splitting in three.
    digits = pre_tokenizers.Digits(individual_digits=True)
    digits_diff = []
    for c in range(0x110000):
        if 0xD800 <= c < 0xE000:
            continue
        numeric = len(digits.pre_tokenize_str("a" + chr(c) + "a")) == 3
        if numeric != (cls[c] == NUMBER):
            digits_diff.append(c)

    # Two-stage table: 256-code-point blocks, duplicates shared; 2 bits per code point.
    blocks, index = [], []
    seen = {}
    for hi in range(0x1100):
        blk = bytes(cls[hi * 256:(hi + 1) * 256])
        packed = bytearray(64)
        for i, v in enumerate(blk):
            packed[i >> 2] |= v << ((i & 3) * 2)
        packed = bytes(packed)
        if packed not in seen:
            seen[packed] = len(blocks)
            blocks.append(packed)
        index.append(seen[packed])

    import tokenizers
    w = sys.stdout.write
    w("/*\n * pretokenizer_classes: GENERATED by t/ref/make_tokenizer_refs.py tables"
      " (tokenizers %s);\n * do not edit. The character classes of the Llama 3 pre-tokenizer"
      " regex, probed\n * from the reference code point by code point: 0 other, 1 \\p{L},"
      " 2 \\p{N}, 3 \\s.\n * Surrogates are class 0 (they never reach the matcher). pretok_digits_diff:\n"
      " * where the Digits pre-tokenizer's is_numeric disagrees with \\p{N}.\n */\n"
      % tokenizers.__version__)
    w('#include "engine/pretokenizer.h"\n\n')
    w("const uint8_t pretok_class_index[0x1100] = {\n")
    for i in range(0, len(index), 16):
        w("    " + ", ".join("%d" % v for v in index[i:i + 16]) + ",\n")
    w("};\n\nconst uint8_t pretok_class_blocks[%d][64] = {\n" % len(blocks))
    for b in blocks:
        w("    {" + ", ".join("0x%02x" % v for v in b) + "},\n")
    w("};\n\n")
    for letter in ("stmd", "rv", "e", "l"):
        m = folds[letter]
        w("const uint32_t pretok_fold_%s[%d] = {%s, 0};\n"
          % (letter, len(m) + 1, ", ".join("0x%04X" % c for c in m)))
    w("const uint32_t pretok_digits_diff[%d] = {%s0};\n"
      % (len(digits_diff) + 1, "".join("0x%04X, " % c for c in digits_diff)))
    if len(blocks) > 255:
        sys.exit("too many blocks for a uint8_t index")


# ---------------------------------------------------------------- edge cases
def edge_cases():
    cases = []
    add = lambda s: cases.append(s.encode("utf-8") if isinstance(s, str) else s)
    add("")
    add("Hello world")
    add(" ")
    add("  ")
    add("\n")
    add("a")
    # runs of spaces, tabs, newlines, CRLF
    for ws in [" ", "  ", "   ", "    ", "\t", "\t\t", "\n", "\n\n", "\r\n", "\r\n\r\n",
               " \n", "\n ", " \r\n ", "\t \n\t", "\r", "\r\r\n", "\n\r"]:
        add("a" + ws + "b")
        add(ws + "b")
        add("a" + ws)
        add(ws * 3 + "x" + ws * 2)
    add("word   \n\n   word\t\t\tword \r\n\r\n  end  ")
    add(" " * 40 + "x")
    add("x" + " " * 40)
    add("\n" * 30)
    add("line1\r\nline2\r\n\r\nline3\r\n")
    add("  leading and trailing  ")
    add("tabs\tin\ttext\t")
    # Unicode spaces
    for u in ["\u00a0", "\u2003", "\u3000", "\u0085", "\u2028", "\u2029", "\u1680",
              "\u200b", "\u202f", "\u205f", "\u180e", "\ufeff", "\u000b", "\u000c"]:
        add("a" + u + "b")
        add(u + u + "x")
        add("x" + u)
        add("a " + u + " b")
        add(u + "\n" + u)
    # contractions in every case
    for c in ["s", "t", "re", "ve", "m", "ll", "d"]:
        for v in sorted({c, c.upper(), c.capitalize(), c[0] + c[1:].upper()}):
            add("it'" + v)
            add("it'" + v + " x")
            add("'" + v)
            add("'" + v + "a")
            add(" '" + v)
            add("x'" + v + "'" + v)
    add("I'm we're they've she'll he'd it's don't")
    add("I'M WE'RE THEY'VE SHE'LL HE'D IT'S DON'T")
    add("'ſ 'ſa 'K 'Ｓ ‘s ’s ʼs")
    add("rock'n'roll o'clock ''s '''")
    # digits 1-10 and non-ASCII digits
    for k in range(1, 11):
        add("1234567890"[:k])
        add("x" + "9876543210"[:k] + "y")
        add(" " + "1234567890"[:k])
    add("١٢٣٤٥٦٧٨٩٠ ०१२३४५६७८९ １２３４５ ⅠⅡⅢⅣ ½¾ ²³ ①②③ 𝟘𝟙𝟚")
    add("3.14159 1,000,000 10:30 2024-01-15 $99.99 50% +1-555-0100")
    # scripts
    add("日本語のテキストです。中文文本。")
    add("한국어 텍스트입니다")
    add("ภาษาไทยเป็นภาษาที่สวยงาม")
    add("اللغة العربية جميلة مَرْحَبًا")
    add("हिन्दी भाषा में पाठ क्षत्रिय")
    add("Ελληνικά Русский текст עברית")
    add("e\u0301 a\u0308 n\u0303 \u0915\u094d\u0937")
    # emoji
    add("👍 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 ❤️ 🇫🇷 👩🏾‍💻")
    add("hello👋world🌍!")
    # mathematical alphanumerics
    add("𝐀𝐁𝐂 𝑎𝑏𝑐 𝔸𝔹ℂ 𝕒𝕓𝕔 𝟎𝟏𝟐 ℝⁿ ∑∫∂")
    # punctuation runs followed by newlines
    for p in ["!!!", "...", "?!?!", "---", "***", "$$$", "(!)", ">>>", "!!!\n", "...\r\n",
              "?!\n\n", "--\n--\n", "!!! \n", ". \n\n"]:
        add(p)
        add("word" + p + "\n")
        add(" " + p + "\nnext")
    add("Hello, world! How are you? I'm fine... Thanks!!!\n\n")
    add("<html><body><p>Click &amp; win!</p></body></html>\r\n")
    add("http://example.com/path?q=1&x=y#frag mailto:a@b.c")
    # special-token strings are ordinary text
    add("<|begin_of_text|>")
    add("<|begin_of_text|>hello<|eot_id|><|end_of_text|>")
    add("text <|start_header_id|>user<|end_header_id|> <|reserved_special_token_5|>")
    # a 5000-char word
    add("a" * 5000)
    add("supercalifragilistic" * 250)
    add("x" + "ab" * 2500 + " tail")
    add("!" * 5000)
    add(" " * 5000)
    add("日" * 5000)
    # NUL and controls
    add(b"a\x00b\x00\x00c")
    add(b"\x00")
    add(b"\x01\x02\x03\x1b[31mred\x1b[0m\x7f")
    # invalid UTF-8: one U+FFFD per maximal subpart
    for b in [b"\xff", b"\xfe\xff", b"\x80", b"\xc0\x80", b"\xc1\xbf", b"\xc2", b"\xc2 ",
              b"\xe0\x80\x80", b"\xe0\xa0", b"\xe0\xa0 ", b"\xed\xa0\x80", b"\xed\x9f\xbf",
              b"\xef\xbf\xbd", b"\xf0\x80\x80\x80", b"\xf0\x90\x80", b"\xf0\x90\x80 x",
              b"\xf4\x8f\xbf\xbf", b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xf8\x88\x80\x80\x80",
              b"\xe2\x82", b"\xe2\x82\xac", b"caf\xe9", b"na\xefve r\xe9sum\xe9",
              b"\x80\x80\x80abc", b"abc\xc3", b"\xc3\xa9\xc3", b"a\xf0\x9f\x98", b"\xf0\x9f\x98\x80"]:
        add(b)
        add(b"x" + b + b"y")
        add(b" " + b + b"\n")
    for c in extra_cases():
        add(c)
    return cases


def extra_cases():
    """Cases for the Digits and GPT-2 pre-tokenizers, bytes without a token
    (SmolLM2 has none for 04 06 13 14 16 1d c0 c1 f1 f2 f5..ff) and other
    models' special-token strings. Appended after the Llama 3 cases."""
    cases = []
    add = lambda s: cases.append(s.encode("utf-8") if isinstance(s, str) else s)
    # digits: runs, with spaces, signs, separators, other scripts
    for d in ["0", "12", "123", "1234", "12345678901234567890"]:
        add(d)
        add(" " + d)
        add("  " + d)
        add("x" + d + "y")
        add("\t" + d + "\n")
        add(d + " " + d)
        add("-" + d + ".5")
    add("in 2024, 3.14 of $1,000,000 (+44 20 7946 0958) at 10:30:00Z")
    add("\u0661\u0662\u0663 \u0967\u0968 \uff11\uff12 \u2160\u2161 \u00bd\u00b2 \u2460\u2461 \U0001d7ce\U0001d7cf")
    # where Rust's is_numeric and Oniguruma's \p{N} disagree (newer Unicode)
    add("a\U00011de0\U00011de1b \U00016ff4 9\U00011de9")
    # GPT-2 contractions are ASCII and case-sensitive; apostrophe runs
    add("it's IT'S it'S we're WE'RE they've I'm he'll she'd don't ''s 'x")
    add("'" * 3 + "ll " + "'" * 2 + "re")
    add(" 's  'll\t're 'S 'Ll")
    # spaces before letters, numbers, other; whitespace at the end
    add("a  b   c    1  !  \u00e9")
    add("end   ")
    add(" \t x")
    add("\t\tb")
    # bytes with no SmolLM2 token, alone and between mergeable neighbours
    for b in [b"\x04", b"\x06", b"\x13", b"\x14", b"\x16", b"\x1d"]:
        add(b)
        add(b"a" + b + b"b")
        add(b"!" + b + b"!")
        add(b"-" + b + b"-" + b"\n")
        add(b" " + b + b" the" + b + b"re")
    add("\U00040000 \U00080000 \U0004ffff! x\U00050000y")
    add(b"\x04\x06\x13\x14\x16\x1d" * 50)
    # other models' special-token strings are text too
    add("<|endoftext|><|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant")
    add("<repo_name>x<file_sep><filename>y<gh_stars>5<issue_start><jupyter_code>")
    add("<s> </s> <unk> <pad> [CLS] [SEP] <|end_of_text|>")
    # a long digit run and a long other run between letters
    add("7" * 3000)
    add("x" + "9" * 1000 + "y" + "!" * 1000)
    return cases


def cmd_edge(_args):
    tok = load()
    for raw in edge_cases():
        a, b = encode_both(tok, raw)
        sys.stdout.write("%s\t%s\t%s\n" % (escape(raw), ids_str(a), ids_str(b)))


# ---------------------------------------------------------------- random
def random_cases(n, seed, extra=False):
    """Random strings over pieces the split regex treats differently, in every
    mix: the matcher's order of alternatives and its backtracking get tested
    on neighbours that fixed cases do not reach. extra adds pieces for the
    Digits and GPT-2 pre-tokenizers and bytes without a token (not in the
    Llama 3 fixture, which predates them)."""
    import random
    rnd = random.Random(seed)
    pieces = [" ", "  ", "\t", "\n", "\r", "\r\n", "\x0b", "\x0c", "\u00a0", "\u0085", "\u2028",
              "\u3000", "\u2003", "\u180e", "\u200b", "\ufeff", "'", "'s", "'S", "'ll", "'Ll", "'re",
              "'VE", "'d", "'m", "'t", "'\u017f", "\u2019s", "a", "Z", "word", "Hello", "\u00e9",
              "\u00df", "\u0130", "\u03a3\u03c3", "\u0436", "\u05d0", "\u0627\u064e", "\u0915\u094d",
              "\u0e01\u0e34", "\u65e5\u672c", "\uac00", "\u3042", "\U0001d400", "\u0301", "\u200d",
              "0", "7", "12", "345", "6789", "\u0661", "\u0967", "\uff11", "\u2160", "\u00bd", "\u00b2",
              "\u2460", "!", "?", ".", ",", "...", "--", "$", "%", "<", ">", "@", "#", "_", "\\", "/",
              "\"", "(", ")", "\u00bf", "\u2014", "\u20ac", "\U0001f44d", "\U0001f3fd", "\u2764\ufe0f",
              "\U0001f1eb\U0001f1f7", "\x00", "\x01", "\x7f", "\ufffd", "\U0010ffff", "\ue000"]
    raw_pieces = [b"\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xf0\x9f", b"\x80"]
    if extra:
        pieces += ["\x04", "\x06", "\x13", "\x14", "\x16", "\x1d", "\U00040000", "\U00080001",
                   "1", "23", "2024", " 5", "\U00011de0", "\U00016ff5", "'re", "'ll", "'ve",
                   "the", " the", "ing", "<|im_start|>", "<|endoftext|>", " ", "  "]
        raw_pieces += [b"\xf1", b"\xf2\x80", b"\xc0\x80", b"\xf5"]
    cases = []
    for _ in range(n):
        k = rnd.randint(1, 24)
        out = b""
        for _ in range(k):
            if rnd.random() < 0.04:
                out += rnd.choice(raw_pieces)
            else:
                p = rnd.choice(pieces)
                out += (p * rnd.choice([1, 1, 1, 2, 3, 7])).encode("utf-8")
        cases.append(out)
    return cases


def cmd_random(args):
    tok = load()
    for raw in random_cases(args.n, args.seed, extra=NAME != "llama3"):
        a, b = encode_both(tok, raw)
        sys.stdout.write("%s\t%s\t%s\n" % (escape(raw), ids_str(a), ids_str(b)))


# ---------------------------------------------------------------- corpus
def corpus_files():
    for sub in ("ham", "spam"):
        d = os.path.join(CORPUS, sub)
        for name in sorted(os.listdir(d)):
            yield sub + "/" + name, os.path.join(d, name)


def byte_spelling():
    """GPT-2's bytes_to_unicode: the character each byte is written as."""
    keep = set(range(33, 127)) | set(range(161, 173)) | set(range(174, 256))
    out, k = {}, 0
    for b in range(256):
        if b in keep:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + k)
            k += 1
    return out


def dropped_bytes(tok):
    """The bytes with no token in the vocabulary: encoding drops them."""
    vocab = tok.get_vocab(with_added_tokens=False)
    spelled = byte_spelling()
    return {b for b in range(256) if spelled[b] not in vocab}


def cmd_corpus(args):
    tok = load()
    prefix = tok.encode("", add_special_tokens=True).ids
    drops = dropped_bytes(tok)
    for i, (name, path) in enumerate(corpus_files()):
        if i % args.every:
            continue
        raw = open(path, "rb").read()
        a, b = encode_both(tok, raw)
        if a != prefix + b:
            sys.exit("%s: ids with special tokens are not the prefix + ids without" % name)
        text = raw.decode("utf-8", errors="replace").encode("utf-8")
        if drops & set(text):
            sys.stdout.write("%s\t%s\t%s\n" % (escape(raw), ids_str(a), ids_str(b)))
        else:
            sys.stdout.write("%s\t%s\n" % (name, ids_str(b)))


def cmd_corpus_full(_args):
    tok = load()
    for name, path in corpus_files():
        raw = open(path, "rb").read()
        a, b = encode_both(tok, raw)
        sys.stdout.write("%s\t%s\t%s\n" % (escape(raw), ids_str(a), ids_str(b)))


# ---------------------------------------------------------------- fixtures
def fixture_texts():
    """Training text for the small fixtures: this project's own test strings."""
    out = [c.decode("utf-8", errors="replace") for c in edge_cases()]
    out += [c.decode("utf-8", errors="replace") for c in random_cases(3000, 7, extra=True)]
    out += [open(__file__, encoding="utf-8").read()] * 3
    return out


def cmd_fixtures(_args):
    """Small byte-level BPE tokenizers trained here on fixture_texts() (the
    vocabulary is ours, not any model's): gpt2/ (ByteLevel with the GPT-2
    regex alone, GPT-2's shape: ByteLevel post-processor, no BOS),
    gpt2-prefix/ (Digits in runs, then ByteLevel with add_prefix_space, and
    a TemplateProcessing that adds <s>), and metaspace/ (SentencePiece style:
    Metaspace, byte_fallback; the engine must refuse it)."""
    from tokenizers import Tokenizer, models, trainers, pre_tokenizers, decoders, processors
    texts = fixture_texts()
    shapes = {
        "gpt2": pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        "gpt2-prefix": pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=False),
                                               pre_tokenizers.ByteLevel(add_prefix_space=True,
                                                                        use_regex=True)]),
    }
    for name, pre in shapes.items():
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre
        tok.decoder = decoders.ByteLevel()
        specials = ["<|endoftext|>"] if name == "gpt2" else ["<s>", "</s>"]
        trainer = trainers.BpeTrainer(vocab_size=1500, min_frequency=2, special_tokens=specials,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                      show_progress=False)
        tok.train_from_iterator(texts, trainer)
        if name == "gpt2":
            tok.post_processor = processors.ByteLevel(trim_offsets=False)
        else:
            tok.post_processor = processors.TemplateProcessing(
                single="<s> $A", special_tokens=[("<s>", tok.token_to_id("<s>"))])
        os.makedirs(os.path.join(FIXTURES, name), exist_ok=True)
        tok.save(tokenizer_path(name))
    # SentencePiece style, written out: a few pieces, <0xNN> byte fallback.
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab["<0x%02X>" % b] = len(vocab)
    for piece in ["\u2581", "e", "t", "h", "\u2581t", "he", "\u2581the"]:
        vocab[piece] = len(vocab)
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for t, i in list(vocab.items())[:3]]
    sp = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first",
                          "split": False},
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                      {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [{"Sequence": {"id": "A", "type_id": 0}}],
                           "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True,
                  "ignore_merges": False, "vocab": vocab,
                  "merges": [["\u2581", "t"], ["h", "e"], ["\u2581t", "he"]]},
    }
    path = os.path.join(FIXTURES, "metaspace", "tokenizer.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(sp, f, ensure_ascii=False, indent=1)
        f.write("\n")
    # the reference itself takes it: a real tokenizer, not a broken file
    got = Tokenizer.from_file(path).encode("the \x01").tokens
    if got != ["<s>", "\u2581the", "\u2581", "<0x01>"]:
        sys.exit("metaspace fixture: unexpected reference tokens %r" % got)


def main():
    global NAME
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tokenizer", default="llama3", choices=["llama3", "smollm2", "gpt2", "gpt2-prefix"])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("fixtures")
    sub.add_parser("tables")
    sub.add_parser("edge")
    c = sub.add_parser("corpus")
    c.add_argument("--every", type=int, default=20)
    sub.add_parser("corpus-full")
    r = sub.add_parser("random")
    r.add_argument("--n", type=int, default=3000)
    r.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    NAME = args.tokenizer
    {"tables": cmd_tables, "edge": cmd_edge, "corpus": cmd_corpus, "fixtures": cmd_fixtures,
     "corpus-full": cmd_corpus_full, "random": cmd_random}[args.cmd](args)


if __name__ == "__main__":
    main()
