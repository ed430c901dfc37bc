"""data: labelled mail -> rendered texts -> token ids, and the train/dev split.

Mail is rendered by `llmspam extract --json` (mime_render(), the function the
milter calls), so the model is trained on the very text it will be served.
Token ids come from the model's tokenizer.json through the `tokenizers`
library with special-token strings treated as ordinary text (the engine's
rule, transformers' split_special_tokens=True); check_tokenizer_parity()
compares them with `llmspam tokenize`.

The split is a hash of the Message-ID (the file's bytes when there is none),
so a message lands on the same side whatever else is in the corpus. Messages
that share a Message-ID or a body are one group and share one side.
"""
import hashlib
import json
import mailbox
import os
import re
import subprocess
import sys

# What the milter scans by default (llmspam.conf max_message_bytes = 1M).
MAX_MESSAGE_BYTES = 1 << 20


class Message:
    __slots__ = ("name", "label", "text", "msgid", "raw_sha", "ids", "split")

    def __init__(self, name, label, text, msgid, raw_sha):
        self.name, self.label, self.text = name, label, text
        self.msgid, self.raw_sha = msgid, raw_sha
        self.ids = None
        self.split = None


_MSGID = re.compile(rb"^message-id:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.I | re.M)


def message_id(raw):
    """The Message-ID of raw message bytes (header block only), or None."""
    end = re.search(rb"\r?\n\r?\n", raw)
    head = raw[: end.start()] if end else raw
    m = _MSGID.search(head)
    if not m:
        return None
    v = b" ".join(m.group(1).split()).strip().lower()
    return v.decode("latin-1") if v else None


def _extract(llmspam, args, headers):
    cmd = [llmspam, "extract", "--json", "--max-message-bytes", str(MAX_MESSAGE_BYTES)]
    if headers:
        cmd += ["--headers", headers]
    p = subprocess.run(cmd + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode not in (0, 1):
        sys.exit("llmspam extract failed: %s" % p.stderr.decode(errors="replace"))
    if p.stderr:
        sys.stderr.write(p.stderr.decode(errors="replace"))
    out = []
    for line in p.stdout.splitlines():
        o = json.loads(line)
        out.append((o["file"], o["text"]))
    return out


def _files_under(d):
    names = []
    for root, dirs, files in os.walk(d):
        dirs.sort()
        for f in sorted(files):
            if not f.startswith("."):
                names.append(os.path.join(root, f))
    return names


def _is_maildir(d):
    return os.path.isdir(os.path.join(d, "cur")) and os.path.isdir(os.path.join(d, "new"))


def load_path(llmspam, path, label, headers=None):
    """Every message of PATH (a directory of files, a maildir or an mbox)."""
    msgs = []
    if os.path.isdir(path):
        if _is_maildir(path):
            rendered = _extract(llmspam, ["--maildir", path], headers)
        else:
            files = _files_under(path)
            rendered = []
            for i in range(0, len(files), 400):
                rendered += _extract(llmspam, files[i : i + 400], headers)
        for name, text in rendered:
            with open(name, "rb") as f:
                raw = f.read()
            msgs.append(Message(name, label, text, message_id(raw),
                                hashlib.sha256(raw).hexdigest()))
    elif os.path.isfile(path):
        rendered = _extract(llmspam, ["--mbox", path], headers)
        box = list(mailbox.mbox(path, create=False))
        raws = [m.as_bytes() for m in box] if len(box) == len(rendered) else None
        for i, (name, text) in enumerate(rendered):
            raw = raws[i] if raws else text.encode()  # fallback: hash the rendering
            msgs.append(Message(name, label, text, message_id(raw) if raws else None,
                                hashlib.sha256(raw).hexdigest()))
    else:
        sys.exit("%s: no such file or directory" % path)
    return msgs


def _body_key(text):
    # The rendering is headers, a blank line, then the body.
    body = text.split("\n\n", 1)[1] if "\n\n" in text else text
    norm = " ".join(body.split())
    return hashlib.sha256(norm.encode()).hexdigest() if norm else None


def _unit(key):
    h = hashlib.sha256(("llmspam-split\0" + key).encode()).digest()
    return int.from_bytes(h[:8], "big") / 2.0**64


def assign_split(msgs, dev_fraction):
    """Set m.split to "train" or "dev"; returns the number of groups merged."""
    parent = list(range(len(msgs)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first = {}
    merged = 0
    for i, m in enumerate(msgs):
        for k in (("id", m.msgid), ("body", _body_key(m.text))):
            if k[1] is None:
                continue
            if k in first:
                a, b = find(i), find(first[k])
                if a != b:
                    parent[a] = b
                    merged += 1
            else:
                first[k] = i
    # A group's key: the smallest split key of its members; a message alone
    # is split by its own Message-ID (or content hash).
    gkey = {}
    for i, m in enumerate(msgs):
        k = m.msgid or ("sha256:" + m.raw_sha)
        r = find(i)
        if r not in gkey or k < gkey[r]:
            gkey[r] = k
    for i, m in enumerate(msgs):
        m.split = "dev" if _unit(gkey[find(i)]) < dev_fraction else "train"
    return merged


def load_tokenizer(path):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(path)
    # Special-token strings in mail are text (split_special_tokens=True).
    tok.encode_special_tokens = True
    return tok


def tokenize(tok, msgs, max_tokens):
    encs = tok.encode_batch([m.text for m in msgs], add_special_tokens=True)
    for m, e in zip(msgs, encs):
        m.ids = e.ids[:max_tokens]


def check_tokenizer_parity(llmspam, tokenizer_json, msgs, max_tokens):
    """Compare our ids with `llmspam tokenize` on msgs; returns mismatches."""
    inp = "".join(json.dumps({"text": m.text}) + "\n" for m in msgs)
    p = subprocess.run([llmspam, "tokenize", "--tokenizer", tokenizer_json,
                        "--max-tokens", str(max_tokens)],
                       input=inp.encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        sys.exit("llmspam tokenize failed: %s" % p.stderr.decode(errors="replace"))
    bad = []
    lines = p.stdout.decode().splitlines()
    if len(lines) != len(msgs):
        sys.exit("llmspam tokenize: %d lines for %d texts" % (len(lines), len(msgs)))
    for m, line in zip(msgs, lines):
        if json.loads(line)["ids"] != m.ids:
            bad.append(m.name)
    return bad


def relative_list(msgs, root):
    return [os.path.relpath(m.name, root) for m in msgs]


def save_rendered(msgs, path):
    """Write rendered messages as JSON lines (a cache: rendering is the slow part)."""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for m in msgs:
            f.write(json.dumps({"name": m.name, "label": m.label, "text": m.text,
                                "msgid": m.msgid, "raw_sha": m.raw_sha}) + "\n")
    os.replace(tmp, path)


def load_rendered(path):
    """The messages save_rendered() wrote, in the same order."""
    msgs = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            o = json.loads(line)
            msgs.append(Message(o["name"], o["label"], o["text"], o["msgid"], o["raw_sha"]))
    return msgs
