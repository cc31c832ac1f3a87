"""Every ticket against the policy: product, topic, qualifier, verdict and the clause that decided.

How a ticket is judged (the rules the labelled sets follow):

1. **Product**: the ticket's product/department label through ``products.yaml`` labels; when the
   label is blank or names no product, the product the text names ("my dev vps"); else
   ``unknown``. ``product_source`` says which (``label``, ``text``, ``none``).
2. **Topic**: the taxonomy topic with the highest signal score (``ticket_signals.yaml``) over the
   subject (weighted ``subject_weight``×) and the start of the body, after HTML, quoted replies
   (``On ... wrote:``, ``>`` lines, forwarded headers) and signatures are cut. ``evidence`` lists
   the signals that decided. No signal at all gives topic ``unmapped``.
3. **Qualifier** (topics with variants): the variant whose signals score highest, else the
   topic's ``default``.
4. **Verdict**: clauses of the product's section with that topic (qualifier equal or empty), else
   the overview table's, else ``silent``. Several candidates: the one whose distinctive words
   best overlap the ticket, else the first in the policy. Hardware requests about a colocation
   customer's own equipment are ``silent`` (the overview excludes colocation).
5. **Confidence**: the raw score margin of the topic, mapped through the calibration table
   ``calibration.yaml`` (observed verdict+clause accuracy per margin bin on the calibration set,
   ``labelled_holdout.csv``, which the signals are never tuned on), fitted by
   ``benchmarks/calibrate.py`` (``fit_calibration``).

All of it runs on whole columns: one lower-casing and word split of the bytes with numpy, one
vectorised lookup of every word in a hash table of signal words, numpy ``bincount`` for the
tickets × topics score matrix, and array lookups into a precomputed (product, topic, qualifier)
-> clause table. No Python runs per ticket.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from kenolib import config
from kenolib.errors import KenolibError
from kenolib.files import read_yaml
from kenolib.schemas import (
    CLAUSE_COLUMNS,
    CROSSREF_COLUMNS,
    CROSSREF_EXTRA_COLUMNS,
    LABELLED_COLUMNS,
    MONTHLY_OUT_OF_SCOPE_COLUMNS,
    OUT_OF_SCOPE_HOURS_COLUMNS,
    SILENT_TOPIC_COLUMNS,
    TICKETS_BY_TOPIC_COLUMNS,
    VERDICT_BY_PRODUCT_COLUMNS,
    VERDICTS,
    check_frame,
)
from kenolib.taxonomy import (
    UNKNOWN_PRODUCT,
    UNMAPPED,
    Taxonomy,
    heading_key,
    load_taxonomy,
    normalise,
    products_of_labels,
)

#: Rows classified per batch (bounds memory; the progress bar advances per batch).
BATCH_ROWS = 50_000
#: Threads classifying batches at once (numpy and pyarrow release the GIL).
WORKERS = min(4, os.cpu_count() or 1)
#: Cut quoted replies, forwarded messages and signatures: everything from the first marker on.
#: The markers live in ``ticket_signals.yaml`` (``quote_markers``, ``signature_lines``); this
#: pattern is only the fallback for a signals file without them.
_QUOTE_CUT = (
    r"(?ism)^[ \t]*(>|on [^\n]{0,160}wrote:|-{2,}|_{5,}|from: [^\n]*\n(sent|to|date):|"
    r"sent from my |(kind |best |warm )?regards\b|thanks?( you)?,? *$|cheers,? *$).*"
)


def quote_cut_pattern(data: dict[str, Any]) -> str:
    """The regex that cuts quoted replies and signatures, built from the signals file.

    ``quote_markers`` are regular expressions that start a quoted or forwarded part at the
    start of a line; ``signature_lines`` are plain words that open a signature or closing line
    ("sent from my", "enviado desde mi", "mit freundlichen grüßen"); a closing word alone on its
    line ("thanks", "merci") comes from ``closing_words``.
    """
    markers = [str(m) for m in data.get("quote_markers") or []]
    sigs = [re.escape(str(s_)).replace("\\ ", " +") for s_ in data.get("signature_lines") or []]
    closing = [re.escape(str(s_)) for s_ in data.get("closing_words") or []]
    if not (markers or sigs or closing):
        return _QUOTE_CUT
    alts = markers + [rf"{s_}\b" for s_ in sigs]
    if closing:
        alts.append(rf"(?:{'|'.join(closing)})[ ,.!]*$")
    pattern = rf"(?ism)^[ \t]*(?:{'|'.join(alts)}).*"
    try:
        re.compile(pattern)
    except re.error as exc:
        raise KenolibError(f"ticket_signals.yaml: quote_markers: bad pattern ({exc})") from None
    return pattern


_STOPWORDS = frozenset(
    "a an the and or of to in on for with by from at as is are be we our your you it its this that "
    "all any not no will can may must should their his her them they us which who what when how "
    "such including include includes provided customer client kenotronix".split()
)
_WORD = re.compile(r"[a-z0-9\x80-\uffff]+")
_MASKS = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [(1 << 64) - 1], dtype=np.uint64)
_K1 = np.uint64(0x9E3779B97F4A7C15)
_K2 = np.uint64(0xC2B2AE3D27D4EB4F)
_BLOOM_BITS = 14
_BYTES = np.uint64(0x0101010101010101)
_HIGH = np.uint64(0x8080808080808080)
_LOW7 = np.uint64(0x7F7F7F7F7F7F7F7F)
_FOLD = np.uint64(0x2020202020202020)


def _words(text: str) -> list[str]:
    """Split text into classifier words exactly as tickets are split (lower-case, alnum runs)."""
    return _WORD.findall(normalise(text).replace("'", " "))


def _word_keys(words: list[str]) -> np.ndarray:
    """64-bit keys of words, computed as ``_token_keys`` computes them on ticket bytes."""
    out = np.zeros(len(words), dtype=np.uint64)
    for i, w in enumerate(words):
        b = bytes(c | 32 for c in w.encode("utf-8"))
        first = int.from_bytes(b[:8].ljust(8, b"\0"), "little")
        last = int.from_bytes(b[-8:], "little") if len(b) > 8 else 0
        out[i] = _mix(np.uint64(first), np.uint64(last), np.uint64(len(b)))
    return out


def _mix(first, last, length):
    with np.errstate(over="ignore"):
        return (first ^ (last * _K1)) * _K2 + length


# ---------------------------------------------------------------------------------------------
# Signals


@dataclass
class Signals:
    """The compiled classifier: word hash table, phrase keys and per-signal classes."""

    classes: list[str]  # "topic:x", "product:x", "qual:topic:q", "colo", "clause:<id>"
    entries: list[str]  # signal surface text (for evidence)
    entry_class: np.ndarray  # int, per (entry, class) pair: class index
    entry_weight: np.ndarray  # float, per pair
    entry_ptr: np.ndarray  # CSR pointer: pairs of entry e are entry_ptr[e]:entry_ptr[e+1]
    word_keys: np.ndarray  # sorted uint64 keys of vocabulary words
    slot_vid: np.ndarray  # per _prefilter_hash slot: vocabulary id, -1 empty, -2 shared
    vocab_keys: np.ndarray  # key per vocabulary id
    word_ids: np.ndarray  # vocabulary id per sorted key
    word_entry: np.ndarray  # entry id of the single-word signal per vocabulary id, -1 if none
    phrase_keys: dict[int, tuple[np.ndarray, np.ndarray]]  # n -> (sorted n-gram codes, entry ids)
    phrase_starter: np.ndarray  # bool per vocabulary id: first word of some phrase
    phrase_prefixes: dict[int, np.ndarray]  # k -> sorted codes of k-word prefixes of longer phrases
    max_phrase: int
    phrase_gap: int
    bigram_entry: np.ndarray | None  # [V*V] entry id of a two-word phrase, -1 if none
    bigram_prefix: np.ndarray | None  # [V*V] True if the pair starts a longer phrase
    n_vocab: int
    subject_weight: float
    body_chars: int
    calibration: tuple[np.ndarray, np.ndarray]
    unmapped_confidence: float
    quote_cut: str
    reply_subject: str  # regex: a subject of a reply/forward ("Re:", "AW:", "Fwd:")
    reply_subject_weight: float  # such a subject names the old thread: it weighs this much
    symptom_topics: np.ndarray  # topic indices whose score yields to a named object
    symptom_factors: np.ndarray  # their scale factor when another topic has evidence
    symptom_min_other: float
    colocation_labels: set[str]
    topic_ids: list[str]
    meta: dict[str, Any] = field(default_factory=dict)


def load_signals_file(path: str | None = None) -> dict[str, Any]:
    """The raw signal lists (``kenolib/data/ticket_signals.yaml``)."""
    return _load_signals_cached(str(Path(path) if path else config.TICKET_SIGNALS_FILE))


@functools.lru_cache(maxsize=4)
def _load_signals_cached(path: str) -> dict[str, Any]:
    p = Path(path)
    data = read_yaml(p, "ticket signals")
    if not isinstance(data, dict) or not isinstance(data.get("topics"), dict):
        raise KenolibError(f"{p}: expected a mapping with a 'topics' section")
    return data


def build_signals(
    clauses: pd.DataFrame, taxonomy: Taxonomy | None = None, path: str | None = None
) -> Signals:
    """Compile the signal lists (+ taxonomy synonyms + clause cue words) into lookup arrays."""
    tax = taxonomy or load_taxonomy()
    data = load_signals_file(path)
    weights = {k: float(v) for k, v in (data.get("weights") or {}).items()}
    tax_w = float(data.get("taxonomy_weight", 1.0))
    exclude = {normalise(s) for s in data.get("exclude_taxonomy_synonyms") or []}
    known = set(tax.topic_ids())
    unknown = (set(data["topics"]) | set(data.get("symptom_topics") or {})) - known
    if unknown:
        raise KenolibError(f"ticket_signals.yaml: unknown topic(s) {sorted(unknown)}")

    pairs: dict[tuple[str, ...], dict[str, float]] = {}  # words -> class -> weight

    stop = {w for s_ in data.get("stopwords") or [] for w in _words(str(s_))}

    def add(phrase: str, cls: str, weight: float, plural: bool = True) -> None:
        raw = _words(phrase)
        words = tuple(w for w in raw if w not in stop)
        if len(raw) > 1 and len(words) < 2:
            return  # "is down" would become "down": a different, weaker signal
        if not words or len(words) > 5:
            return
        variants = [words]
        if plural and len(words) == 1 and not words[0].endswith("s") and words[0].isalpha():
            variants.append((words[0] + "s",))
        for v in variants:
            slot = pairs.setdefault(v, {})
            slot[cls] = max(slot.get(cls, 0.0), weight)

    for t in tax.topics:
        for syn in t.synonyms:
            if normalise(syn) not in exclude:
                add(syn, f"topic:{t.id}", tax_w)
    for tid, levels in data["topics"].items():
        for level, phrases in (levels or {}).items():
            if level not in weights:
                raise KenolibError(f"ticket_signals.yaml: topic {tid}: unknown strength {level!r}")
            for ph in phrases or []:
                add(str(ph), f"topic:{tid}", weights[level])
    for pid, phrases in (data.get("products") or {}).items():
        for ph in phrases:  # a longer name wins: "dev vps" over "vps"
            add(str(ph), f"product:{pid}", float(len(_words(str(ph)))), plural=False)
    for ph in data.get("colocation") or []:
        add(str(ph), "colo", 1.0, plural=False)
    for tid, quals in (data.get("qualifiers") or {}).items():
        topic = tax.by_id.get(tid)
        if topic is None:
            raise KenolibError(f"ticket_signals.yaml: qualifiers for unknown topic {tid!r}")
        ids = {q.id for q in topic.qualifiers}
        for qid, phrases in quals.items():
            if qid not in ids:
                raise KenolibError(f"ticket_signals.yaml: {tid} has no qualifier {qid!r}")
            for ph in phrases:
                # a longer cue is more specific: "bought from you" (3) beats "bought from" (2)
                n_words = len([w for w in _words(str(ph)) if w not in stop]) or 1
                add(str(ph), f"qual:{tid}:{qid}", float(n_words), plural=False)
    for cid, words in _clause_cues(clauses).items():
        for w in words:
            add(w, f"clause:{cid}", 1.0, plural=False)
    known_ids = set(clauses["clause_id"])
    for cid, phrases in (data.get("clause_hints") or {}).items():
        if cid in known_ids:  # hints for clauses another policy version does not have are unused
            for ph in phrases:
                add(str(ph), f"clause:{cid}", 3.0)

    classes = sorted({c for slot in pairs.values() for c in slot})
    cindex = {c: i for i, c in enumerate(classes)}
    entries = [" ".join(w) for w in pairs]
    ptr = [0]
    e_cls: list[int] = []
    e_w: list[float] = []
    for slot in pairs.values():
        for c, w in slot.items():
            e_cls.append(cindex[c])
            e_w.append(w)
        ptr.append(len(e_cls))
    vocab = sorted({w for words in pairs for w in words})
    vid = {w: i for i, w in enumerate(vocab)}
    keys = _word_keys(vocab)
    if len(np.unique(keys)) != len(keys):
        raise KenolibError("ticket_signals.yaml: two signal words hash alike; rename one")
    order = np.argsort(keys)
    slot_vid = np.full(1 << _BLOOM_BITS, -1, dtype=np.int64)
    for i, w in enumerate(vocab):
        b = bytes(c | 32 for c in w.encode("utf-8"))
        first = np.array([int.from_bytes(b[:8].ljust(8, b"\0"), "little")], dtype=np.uint64)
        h = int(_prefilter_hash(first, np.array([len(b)], dtype=np.uint64))[0])
        slot_vid[h] = i if slot_vid[h] == -1 else -2
    word_entry = np.full(len(vocab), -1, dtype=np.int64)
    by_n: dict[int, tuple[list[int], list[int]]] = {}
    V = len(vocab) + 1
    for e, words in enumerate(pairs):
        if len(words) == 1:
            word_entry[vid[words[0]]] = e
            continue
        code = 0
        for w in words:
            code = code * V + vid[w]
        codes, ents = by_n.setdefault(len(words), ([], []))
        codes.append(code)
        ents.append(e)
    starter = np.zeros(len(vocab) + 1, dtype=bool)
    prefixes: dict[int, set[int]] = {}
    for words in pairs:
        if len(words) < 2:
            continue
        starter[vid[words[0]]] = True
        code = vid[words[0]]
        for k in range(2, len(words)):
            code = code * V + vid[words[k - 1]]
            prefixes.setdefault(k, set()).add(code)
    phrase_keys = {}
    for n, (codes, ents) in by_n.items():
        arr = np.array(codes, dtype=np.int64)
        o = np.argsort(arr)
        phrase_keys[n] = (arr[o], np.array(ents, dtype=np.int64)[o])
    bigram_entry = bigram_prefix = None
    if V * V <= 1 << 24:  # a direct table up to 16 M pairs (80 MB); else binary search
        bigram_entry = np.full(V * V, -1, dtype=np.int32)
        bigram_prefix = np.zeros(V * V, dtype=bool)
        if 2 in phrase_keys:
            bigram_entry[phrase_keys[2][0]] = phrase_keys[2][1]
        if 2 in prefixes:
            bigram_prefix[np.array(sorted(prefixes[2]), dtype=np.int64)] = True
    cal = load_calibration(data)
    edges = np.array(cal.get("edges") or [1.01], dtype=np.float64)
    acc = np.array(cal.get("accuracy") or [0.5], dtype=np.float64)
    if len(edges) != len(acc) or not np.all(np.diff(edges) > 0):
        raise KenolibError(
            "calibration: edges must increase and have one accuracy each; "
            "re-run benchmarks/calibrate.py"
        )
    return Signals(
        classes=classes,
        entries=entries,
        entry_class=np.array(e_cls, dtype=np.int64),
        entry_weight=np.array(e_w, dtype=np.float64),
        entry_ptr=np.array(ptr, dtype=np.int64),
        word_keys=keys[order],
        slot_vid=slot_vid,
        vocab_keys=keys,
        word_ids=np.arange(len(vocab), dtype=np.int64)[order],
        word_entry=word_entry,
        phrase_keys=phrase_keys,
        phrase_starter=starter,
        phrase_prefixes={k: np.array(sorted(v), dtype=np.int64) for k, v in prefixes.items()},
        max_phrase=max(by_n, default=1),
        phrase_gap=int(data.get("phrase_gap", 3)),
        bigram_entry=bigram_entry,
        bigram_prefix=bigram_prefix,
        n_vocab=V,
        subject_weight=float(data.get("subject_weight", 2.5)),
        body_chars=int(data.get("body_chars", 600)),
        calibration=(edges, acc),
        unmapped_confidence=float(cal.get("unmapped", 0.3)),
        quote_cut=quote_cut_pattern(data),
        reply_subject=_reply_subject_pattern(data),
        reply_subject_weight=float(data.get("reply_subject_weight", 1.0)),
        symptom_topics=np.array(
            [tax.topic_ids().index(t) for t in (data.get("symptom_topics") or {})],
            dtype=np.int64,
        ),
        symptom_factors=np.array(
            [float(f) for f in (data.get("symptom_topics") or {}).values()], dtype=np.float64
        ),
        symptom_min_other=float(data.get("symptom_min_other", 4.0)),
        colocation_labels={heading_key(s) for s in data.get("colocation_labels") or []},
        topic_ids=tax.topic_ids(),
    )


def _reply_subject_pattern(data: dict[str, Any]) -> str:
    """Regex matching a subject that starts with a reply/forward prefix (``reply_prefixes``)."""
    prefixes = [re.escape(str(p_)) for p_ in data.get("reply_prefixes") or []]
    if not prefixes:
        return r"^\b\B"  # matches nothing
    return rf"(?i)^\s*(?:\[[^\]]*\]\s*)?(?:{'|'.join(prefixes)})\s*(?:\[\d+\])?\s*:"


def _clause_cues(clauses: pd.DataFrame) -> dict[str, list[str]]:
    """Distinctive heading words of clauses sharing a (product, topic) cell, for tie-breaking.

    Headings only: body words of clauses are common ("site", "support", "best") and would
    match most tickets without telling the clauses apart; ``clause_hints`` add the rest.
    """
    out: dict[str, list[str]] = {}
    c = clauses[clauses["status"] != "note"]
    for _, grp in c.groupby(["product", "topic"], sort=False):
        if len(grp) < 2:
            continue
        words = {r.clause_id: set(_words(str(r.heading))) - _STOPWORDS for r in grp.itertuples()}
        common = set.intersection(*words.values())
        for cid, ws in words.items():
            out[cid] = sorted(w for w in ws - common if len(w) > 2)
    return out


# ---------------------------------------------------------------------------------------------
# Text preparation and tokenising (whole columns)


def _as_text(s: pd.Series | pa.Array | pa.ChunkedArray) -> pa.Array:
    arr = s if isinstance(s, pa.Array | pa.ChunkedArray) else pa.array(s, from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not pa.types.is_string(arr.type):
        arr = pc.cast(arr, pa.string())  # one batch is far below the 2 GiB string limit
    return pc.fill_null(arr, "")


_TAG = r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?>"


def classification_text(
    subject: pa.Array, body: pa.Array, body_chars: int, quote_cut: str | None = None
) -> pa.Array:
    """``subject \\n body-start `` with quoted replies, signatures and leftover tags removed."""
    # Cutting only ever removes a suffix, so cutting the first ``body_chars`` is enough.
    b = pc.utf8_slice_codeunits(body, 0, body_chars)
    _, _, data = b.buffers()
    if data is not None and (np.frombuffer(data, dtype=np.uint8) == 60).any():  # "<"
        b = pc.replace_substring_regex(b, _TAG, " ")
    b = pc.replace_substring_regex(b, quote_cut or _QUOTE_CUT, "")
    return pc.binary_join_element_wise(subject, " \n ", b, " ", "")


@dataclass
class _Tokens:
    row: np.ndarray  # row of each matched signal occurrence
    entry: np.ndarray  # entry id
    in_subject: np.ndarray  # bool


def _lookup_words(keys: np.ndarray, sig: Signals) -> np.ndarray:
    """Vocabulary id of each key, -1 if the word is no signal word."""
    pos = np.searchsorted(sig.word_keys, keys)
    pos[pos >= len(sig.word_keys)] = 0
    hit = sig.word_keys[pos] == keys
    return np.where(hit, sig.word_ids[pos], -1)


def _prefilter_hash(first: np.ndarray, length: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return ((first ^ length) * _K2) >> np.uint64(64 - _BLOOM_BITS)


def _tokenise(text: pa.Array, subject_len: np.ndarray, sig: Signals) -> _Tokens:
    """Find every signal (word or phrase) in ``text``; vectorised over the text's bytes.

    Bytes are case-folded by setting bit 5 (exact for ASCII letters; signal words get the same
    folding), words are maximal runs of letters, digits and non-ASCII bytes, and each word's
    first and last eight bytes plus its length make a 64-bit key looked up in the sorted keys
    of the signal words (after a 16 kB bitmap filter that discards most non-signal words).
    """
    text = text.cast(pa.large_string()) if not pa.types.is_large_string(text.type) else text
    _, off_buf, data_buf = text.buffers()
    n = len(text)
    offsets = np.frombuffer(off_buf, dtype=np.int64)[text.offset : text.offset + n + 1]
    base = int(offsets[0])
    end = int(offsets[-1])
    empty = _Tokens(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, bool))
    if data_buf is None or end == base:
        return empty
    raw = np.frombuffer(data_buf, dtype=np.uint8)[base:end]
    offsets = offsets - base + 1  # one leading space byte below
    pad = (-(raw.size + 9)) % 8
    d = np.empty(raw.size + 9 + pad, dtype=np.uint8)
    d[0] = 32
    d[1 : raw.size + 1] = raw
    d[raw.size + 1 :] = 32
    # SWAR: eight bytes per uint64. Fold case, then set the high bit of every byte that is a
    # letter, a digit or non-ASCII; a word edge is a byte whose bit differs from the previous.
    w = d.view(np.uint64)
    np.bitwise_or(w, _FOLD, out=w)
    x = np.bitwise_and(w, _LOW7)
    x |= _HIGH
    m = np.subtract(x, _BYTES * np.uint64(0x61))
    m &= ~np.subtract(x, _BYTES * np.uint64(0x7B))
    tmp = np.subtract(x, _BYTES * np.uint64(0x30))
    tmp &= ~np.subtract(x, _BYTES * np.uint64(0x3A))
    m |= tmp
    m |= w
    m &= _HIGH
    del x, tmp
    prev = np.left_shift(m, np.uint64(8))
    prev[1:] |= m[:-1] >> np.uint64(56)
    m ^= prev
    del prev
    m >>= np.uint64(7)  # edge bytes become 1: a valid bool view (numpy's fast nonzero path)
    edges = np.flatnonzero(m.view(np.bool_))
    del m
    starts = edges[0::2]
    length = edges[1::2] - starts
    del edges
    words = np.ndarray(shape=(d.size - 7,), dtype="<u8", buffer=d.data, strides=(1,))
    first = words[starts]
    first &= _MASKS.take(np.minimum(length, 8))
    ulen = length.astype(np.uint64)
    slot = sig.slot_vid[_prefilter_hash(first, ulen)]
    keep = np.flatnonzero(slot != -1)
    first = first[keep]
    ulen = ulen[keep]
    starts = starts[keep]
    slot = slot[keep]
    long_ = ulen > 8
    last = np.zeros(len(keep), dtype=np.uint64)
    last[long_] = words[(starts[long_] + ulen[long_].astype(np.int64) - 8)]
    keys = _mix(first, last, ulen)
    # A slot holding one signal word: compare keys; a shared slot (-2): binary search.
    vid = np.where(sig.vocab_keys[slot.clip(0, None)] == keys, slot, -1)
    shared = np.flatnonzero(slot == -2)
    if len(shared):
        vid[shared] = _lookup_words(keys[shared], sig)
    found = vid >= 0
    hit = keep[found]  # token indices of signal words
    h_vid = vid[found]
    h_start = starts[found]
    del first, last, ulen, starts, vid, keep
    found_pos: list[np.ndarray] = []
    found_entry: list[np.ndarray] = []
    uni = sig.word_entry[h_vid]
    ok = uni >= 0
    found_pos.append(h_start[ok])
    found_entry.append(uni[ok])
    # Phrases: runs of consecutive signal words (token indices i, i+1, ...) whose words so far
    # are the start of some phrase; the candidate set shrinks with every extra word.
    V = sig.n_vocab
    L = len(hit)
    cand = (
        np.flatnonzero(sig.phrase_starter[h_vid[:-1]] & (np.diff(hit) <= sig.phrase_gap))
        if L > 1
        else hit[:0]
    )
    # two-word phrases: a direct lookup table indexed by the pair code
    code = h_vid[cand] * V + h_vid[cand + 1]
    if sig.bigram_entry is not None:
        ent = sig.bigram_entry[code]
        m = ent >= 0
        found_pos.append(h_start[cand[m]])
        found_entry.append(ent[m].astype(np.int64))
        ok = sig.bigram_prefix[code]
    else:
        ok = np.zeros(len(code), dtype=bool)
        if 2 in sig.phrase_keys:
            pk, pe = sig.phrase_keys[2]
            pos = np.searchsorted(pk, code).clip(0, len(pk) - 1)
            m = pk[pos] == code
            found_pos.append(h_start[cand[m]])
            found_entry.append(pe[pos[m]])
        prefixes = sig.phrase_prefixes.get(2)
        if prefixes is not None and len(prefixes):
            pos = np.searchsorted(prefixes, code).clip(0, len(prefixes) - 1)
            ok = prefixes[pos] == code
    cand, code = cand[ok], code[ok]
    # two-word phrases with one other signal word between them ("install the imunify
    # extension" is the phrase "install extension" although "imunify" is a signal word too)
    if L > 2:
        c2 = np.flatnonzero(sig.phrase_starter[h_vid[:-2]] & (hit[2:] - hit[:-2] <= sig.phrase_gap))
        code2 = h_vid[c2] * V + h_vid[c2 + 2]
        if sig.bigram_entry is not None:
            ent2 = sig.bigram_entry[code2].astype(np.int64)
        else:
            ent2 = np.full(len(code2), -1, dtype=np.int64)
            if 2 in sig.phrase_keys:
                pk, pe = sig.phrase_keys[2]
                pos = np.searchsorted(pk, code2).clip(0, len(pk) - 1)
                ent2 = np.where(pk[pos] == code2, pe[pos], -1)
        m2 = ent2 >= 0
        found_pos.append(h_start[c2[m2]])
        found_entry.append(ent2[m2])
    # longer phrases: few candidates remain; binary search in the sorted phrase codes
    for k in range(3, sig.max_phrase + 1):
        if not len(cand):
            break
        nxt = cand + k - 1
        ok = nxt < L
        cand, code, nxt = cand[ok], code[ok], nxt[ok]
        ok = hit[nxt] - hit[nxt - 1] <= sig.phrase_gap
        cand, code, nxt = cand[ok], code[ok] * V + h_vid[nxt[ok]], nxt[ok]
        if not len(cand):
            break
        if k in sig.phrase_keys:
            pk, pe = sig.phrase_keys[k]
            pos = np.searchsorted(pk, code).clip(0, len(pk) - 1)
            m = pk[pos] == code
            found_pos.append(h_start[cand[m]])
            found_entry.append(pe[pos[m]])
        prefixes = sig.phrase_prefixes.get(k)
        if prefixes is None or not len(prefixes):
            break
        pos = np.searchsorted(prefixes, code).clip(0, len(prefixes) - 1)
        ok = prefixes[pos] == code
        cand, code = cand[ok], code[ok]
    pos = np.concatenate(found_pos)
    entry = np.concatenate(found_entry)
    row = np.searchsorted(offsets, pos, side="right") - 1
    in_subject = (pos - offsets[row]) < subject_len[row]
    return _Tokens(row, entry, in_subject)


# ---------------------------------------------------------------------------------------------
# Verdict table


@dataclass
class VerdictTable:
    """(product, topic, qualifier) -> candidate clauses, precomputed from the clause table."""

    products: list[str]  # product ids incl. "unknown" (last)
    topics: list[str]  # taxonomy topic ids + "unmapped" (last)
    qualifiers: dict[str, list[str]]  # topic -> qualifier ids (index 0.. ; default marked)
    default_q: np.ndarray  # per topic: index of the default qualifier (0 if none)
    cand: np.ndarray  # [P, T, Qmax, K] clause row indices, -1 padded
    topic_remap: np.ndarray  # [P, T] -> topic index: product-specific meaning of a topic
    clauses: pd.DataFrame  # the clause table (non-notes), positional


def verdict_table(clauses: pd.DataFrame, taxonomy: Taxonomy | None = None) -> VerdictTable:
    """Candidate clauses for every (product, topic, qualifier) cell, per rule 4."""
    tax = taxonomy or load_taxonomy()
    cl = check_frame(clauses, CLAUSE_COLUMNS, "clauses")
    cl = cl[cl["status"].isin(["supported", "not_supported"])].reset_index(drop=True)
    sections = [p for p in dict.fromkeys(cl["product"]) if p != "overview"]
    products = [*sections, UNKNOWN_PRODUCT]
    topics = [*tax.topic_ids(), UNMAPPED]
    quals = {t.id: [q.id for q in t.qualifiers] for t in tax.topics}
    qmax = max([1, *(len(v) for v in quals.values())])
    default_q = np.array(
        [quals[t.id].index(t.default_qualifier) if t.default_qualifier else 0 for t in tax.topics]
        + [0],
        dtype=np.int64,
    )
    cells: dict[tuple[int, int, int], list[int]] = {}
    kmax = 1
    by_pt = {k: list(g.index) for k, g in cl.groupby(["product", "topic"], sort=False)}
    for pi, p in enumerate(products):
        for ti, t in enumerate(topics[:-1]):
            qs = quals.get(t) or [""]
            for qi, q in enumerate(qs):
                chosen: list[int] = []
                for source in (p, "overview"):
                    rows = by_pt.get((source, t), [])
                    ok = [r for r in rows if not q or cl.at[r, "qualifier"] in ("", q)]
                    if ok:
                        chosen = ok
                        break
                if chosen:
                    cells[(pi, ti, qi)] = chosen
                    kmax = max(kmax, len(chosen))
    cand = np.full((len(products), len(topics), qmax, kmax), -1, dtype=np.int64)
    for (pi, ti, qi), rows in cells.items():
        cand[pi, ti, qi, : len(rows)] = rows
    remap = np.tile(np.arange(len(topics)), (len(products), 1))
    tpos = {t: i for i, t in enumerate(topics)}
    for pid, mapping in (load_signals_file().get("product_topics") or {}).items():
        if pid not in products:
            continue
        for a, b in (mapping or {}).items():
            if a not in tpos or b not in tpos:
                raise KenolibError(f"ticket_signals.yaml: product_topics {pid}: unknown topic")
            remap[products.index(pid), tpos[a]] = tpos[b]
    return VerdictTable(products, topics, quals, default_q, cand, remap, cl)


# ---------------------------------------------------------------------------------------------
# Classification


def _product_from_labels(labels: pd.Series, sections: list[str]) -> np.ndarray:
    """Product index per row from its label (via aliases), -1 when the label names none."""
    idx = {p: i for i, p in enumerate(sections)}
    return products_of_labels(labels).map(lambda p: idx.get(p, -1)).to_numpy(dtype=np.int64)


def _colocation_label(labels: pd.Series, sig: Signals) -> np.ndarray:
    codes, uniq = pd.factorize(labels.fillna("").astype(str), sort=False)
    flag = np.array([heading_key(u) in sig.colocation_labels for u in uniq] or [False])
    return flag[np.maximum(codes, 0)] & (codes >= 0)


@dataclass
class _ClassMaps:
    """Per-class lookups shared by every batch: signal class -> topic, product, qualifier..."""

    topic_of_class: np.ndarray  # class -> topic index, -1 if no topic class
    prod_of_class: np.ndarray  # class -> product section index, -1
    qual_of_class: np.ndarray  # class -> qualifier class number, -1
    qual_topic: np.ndarray  # qualifier class number -> topic index
    qual_index: np.ndarray  # qualifier class number -> qualifier index within its topic
    n_qual: int
    colo_classes: np.ndarray  # class indices of colocation cues
    clause_of_class: np.ndarray  # class -> clause row in vt.clauses, -1
    hardware: int  # topic index of "hardware", -1 if the taxonomy has none


def _class_maps(sig: Signals, vt: VerdictTable) -> _ClassMaps:
    """Build the per-class lookups once per crossref call (not once per batch)."""
    C = len(sig.classes)
    kind = np.array([c.split(":", 1)[0] for c in sig.classes])
    cname = np.array([c.split(":", 1)[-1] for c in sig.classes])
    tpos = {t: i for i, t in enumerate(vt.topics)}
    topic_of_class = np.full(C, -1, dtype=np.int64)
    for ci in np.flatnonzero(kind == "topic"):
        topic_of_class[ci] = tpos[cname[ci]]
    ppos = {p: i for i, p in enumerate(vt.products[:-1])}
    prod_of_class = np.full(C, -1, dtype=np.int64)
    for ci in np.flatnonzero(kind == "product"):
        prod_of_class[ci] = ppos.get(cname[ci], -1)
    qual_classes = np.flatnonzero(kind == "qual")
    qt = np.array([tpos[cname[c].split(":")[0]] for c in qual_classes], dtype=np.int64)
    qq = np.array(
        [vt.qualifiers[cname[c].split(":")[0]].index(cname[c].split(":")[1]) for c in qual_classes],
        dtype=np.int64,
    )
    qmap = np.full(C, -1, dtype=np.int64)
    qmap[qual_classes] = np.arange(len(qual_classes))
    clause_ids = vt.clauses["clause_id"].to_numpy()
    cmap = np.full(C, -1, dtype=np.int64)
    for ci in np.flatnonzero(kind == "clause"):
        for r in np.flatnonzero(clause_ids == cname[ci]):
            cmap[ci] = int(r)
    return _ClassMaps(
        topic_of_class=topic_of_class,
        prod_of_class=prod_of_class,
        qual_of_class=qmap,
        qual_topic=qt,
        qual_index=qq,
        n_qual=len(qual_classes),
        colo_classes=np.flatnonzero(kind == "colo"),
        clause_of_class=cmap,
        hardware=tpos.get("hardware", -1),
    )


def _classify_batch(
    subject: pa.Array,
    body: pa.Array,
    labels: pd.Series,
    sig: Signals,
    vt: VerdictTable,
    maps: _ClassMaps | None = None,
) -> dict[str, np.ndarray]:
    n = len(subject)
    text = classification_text(subject, body, sig.body_chars, sig.quote_cut)
    subject_len = pc.binary_length(subject).to_numpy(zero_copy_only=False).astype(np.int64)
    tok = _tokenise(text, subject_len, sig)
    # expand entries to (class, weight) pairs
    cnt = sig.entry_ptr[tok.entry + 1] - sig.entry_ptr[tok.entry]
    rep = np.repeat(np.arange(len(tok.entry)), cnt)
    pair = np.repeat(sig.entry_ptr[tok.entry], cnt) + (
        np.arange(len(rep)) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    )
    cls = sig.entry_class[pair]
    # a reply's subject names the old thread ("Re: DNS issue"): it weighs less than a new one
    reply = pc.match_substring_regex(subject, sig.reply_subject)
    reply = reply.to_numpy(zero_copy_only=False).astype(bool)
    subject_w = np.where(reply, sig.reply_subject_weight, sig.subject_weight)
    w = sig.entry_weight[pair] * np.where(tok.in_subject[rep], subject_w[tok.row[rep]], 1.0)
    row = tok.row[rep]
    entry = tok.entry[rep]

    cm = maps if maps is not None else _class_maps(sig, vt)
    T = len(vt.topics)
    topic_of_class = cm.topic_of_class
    # topic scores (n x T)
    is_t = topic_of_class[cls] >= 0
    scores = np.bincount(
        row[is_t] * T + topic_of_class[cls[is_t]], weights=w[is_t], minlength=n * T
    ).reshape(n, T)
    # symptom topics ("slow", "down", "doesn't open") yield to the thing that is broken: when
    # another topic has at least ``symptom_min_other`` points, their score is scaled down
    if len(sig.symptom_topics):
        scores = scores.astype(np.float64, copy=False)  # bincount of nothing is int
        other = scores.copy()
        other[:, sig.symptom_topics] = 0
        has_object = np.flatnonzero(other.max(axis=1) >= sig.symptom_min_other)
        del other
        scores[np.ix_(has_object, sig.symptom_topics)] *= sig.symptom_factors
    # colocation-only topic preference: the winner is the best scored topic
    best = scores.argmax(axis=1)
    top = scores[np.arange(n), best]
    scores[np.arange(n), best] = -1
    second = scores.max(axis=1).clip(0, None)
    del scores
    topic = np.where(top > 0, best, T - 1)
    margin = np.where(top > 0, (top - second) / (top + 1.0), 0.0)

    # product: label first, then text
    P = len(vt.products)
    sections = vt.products[:-1]
    prod = _product_from_labels(labels, sections)
    source = np.where(prod >= 0, 1, 0)
    prod_of_class = cm.prod_of_class
    is_p = prod_of_class[cls] >= 0
    if is_p.any():
        pscore = np.bincount(
            row[is_p] * (P - 1) + prod_of_class[cls[is_p]], weights=w[is_p], minlength=n * (P - 1)
        ).reshape(n, P - 1)
        tprod = pscore.argmax(axis=1)
        has = pscore[np.arange(n), tprod] > 0
        use = (prod < 0) & has
        prod = np.where(use, tprod, prod)
        source = np.where(use, 2, source)
    prod = np.where(prod < 0, P - 1, prod)
    topic_raw = topic
    topic = vt.topic_remap[prod, topic]

    # qualifier: per topic, the best scored variant else the default
    qual = vt.default_q[topic].copy()
    if cm.n_qual:
        qt, qq, qmap = cm.qual_topic, cm.qual_index, cm.qual_of_class
        is_q = qmap[cls] >= 0
        if is_q.any():
            qi = qmap[cls[is_q]]
            rq = row[is_q]
            ok = qt[qi] == topic[rq]  # only the variants of the ticket's own topic count
            Qn = cm.n_qual
            qscore = np.bincount(rq[ok] * Qn + qi[ok], weights=w[is_q][ok], minlength=n * Qn)
            qscore = qscore.reshape(n, Qn)
            bq = qscore.argmax(axis=1)
            hasq = qscore[np.arange(n), bq] > 0
            qual = np.where(hasq, qq[bq], qual)

    # colocation: label or text cue
    colo = _colocation_label(labels, sig)
    colo_c = cm.colo_classes
    if len(colo_c):
        colo_rows = np.unique(row[np.isin(cls, colo_c)])
        colo[colo_rows] = True

    # candidate clauses and tie-break by clause cue overlap
    cand = vt.cand[prod, topic, qual]  # n x K
    chosen = cand[:, 0].copy()
    if cand.shape[1] > 1:
        multi = np.flatnonzero(cand[:, 1] >= 0)
        if len(multi):
            cmap = cm.clause_of_class
            is_c = cmap[cls] >= 0
            R = len(vt.clauses)
            if is_c.any():
                in_multi = np.zeros(n, dtype=bool)
                in_multi[multi] = True
                is_c &= in_multi[row]
                key = row[is_c] * R + cmap[cls[is_c]]
                order = np.argsort(key, kind="stable")
                key = key[order]
                first_k = np.flatnonzero(np.diff(key, prepend=-1) != 0)
                uk = key[first_k]
                cntk = (
                    np.add.reduceat(sig.entry_weight[pair][is_c][order], first_k)
                    if len(first_k)
                    else np.zeros(0)
                )
                if len(uk):
                    lookup_rows = cand[multi]  # m x K
                    flat_keys = multi[:, None] * R + np.where(lookup_rows >= 0, lookup_rows, 0)
                    pos = np.searchsorted(uk, flat_keys).clip(0, len(uk) - 1)
                    hitk = (uk[pos] == flat_keys) & (lookup_rows >= 0)
                    ov = np.where(hitk, cntk[pos], 0.0)
                    ov = np.where(lookup_rows >= 0, ov, -1.0)
                    chosen[multi] = lookup_rows[np.arange(len(multi)), ov.argmax(axis=1)]
    hardware = cm.hardware
    chosen = np.where(colo & (topic == hardware), -1, chosen)
    # evidence: the signals of the winning topic
    win = (topic_of_class[cls] == topic_raw[row]) & (topic_raw[row] != T - 1)
    ev_key = _sorted_unique(row[win] * len(sig.entries) + entry[win])
    ev_row = ev_key // len(sig.entries)
    ev_entry = ev_key % len(sig.entries)
    return {
        "product": prod,
        "product_source": source,
        "topic": topic,
        "qualifier": qual,
        "clause": chosen,
        "margin": margin,
        "colo": colo,
        "ev_row": ev_row,
        "ev_entry": ev_entry,
    }


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    """``np.unique`` for int arrays by sorting (much faster here than numpy's hash unique)."""
    a = np.sort(a)
    return a[np.diff(a, prepend=a[:1] - 1) != 0] if len(a) else a


def _evidence(n: int, ev_row: np.ndarray, ev_entry: np.ndarray, entries: list[str]) -> pa.Array:
    counts = np.bincount(ev_row, minlength=n)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    values = pa.array(entries, type=pa.string()).take(pa.array(ev_entry))
    lists = pa.ListArray.from_arrays(pa.array(offsets), values)
    return pc.binary_join(lists, ", ")


#: The confidence table fitted on the calibration set (``benchmarks/calibrate.py``).
CALIBRATION_FILE = config.PACKAGE_DATA / "calibration.yaml"


def load_calibration(signals: dict[str, Any] | None = None) -> dict[str, Any]:
    """The confidence table: ``calibration.yaml`` when present, else the signals file's own.

    Keys: ``edges`` (upper bounds of the raw-margin bins), ``accuracy`` (confidence per bin),
    ``unmapped`` (confidence of a ticket without any signal) and provenance fields.
    """
    if CALIBRATION_FILE.exists():
        from kenolib.files import read_yaml

        data = read_yaml(CALIBRATION_FILE, "confidence calibration")
        if not isinstance(data, dict) or "edges" not in data or "accuracy" not in data:
            raise KenolibError(
                f"{CALIBRATION_FILE}: expected edges and accuracy; re-run benchmarks/calibrate.py"
            )
        return data
    return dict((signals if signals is not None else load_signals_file()).get("calibration") or {})


def fit_calibration(
    labelled: pd.DataFrame,
    clauses: pd.DataFrame,
    quantiles: tuple[float, ...] = (0.1, 0.3, 0.55, 0.8),
    taxonomy: Taxonomy | None = None,
) -> tuple[pd.DataFrame, float]:
    """Fit the confidence table on a labelled calibration set: (bin table, unmapped confidence).

    The raw topic margin of every ticket is binned at the given quantiles of the set's margins
    (ties merged; the lowest decile gets its own bin because near-ties are where a rule-based
    classifier errs); each bin's confidence is the observed share of tickets whose
    verdict and cited clause are right, add-one smoothed (``(correct + 1) / (tickets + 2)``)
    and made non-decreasing in the margin by pooling adjacent bins that violate it (pool
    adjacent violators). Tickets without any signal (topic ``unmapped``) are counted apart;
    with none in the set, their confidence stays 0.3. Only counts are used: no ticket text.
    """
    ev = evaluate(labelled, clauses, taxonomy)
    x = ev.frame
    mapped = (x["topic"] != UNMAPPED).to_numpy()
    margin = x["topic_margin"].to_numpy(dtype=np.float64)[mapped]
    correct = x["_correct"].to_numpy(dtype=bool)
    qs = np.quantile(margin, np.array(quantiles, dtype=np.float64)) if len(margin) else []
    inner = np.unique(np.round(qs, 4))
    inner = inner[(inner > 0) & (inner < 1.0)]
    edges = [*inner.tolist(), 1.01]
    b = np.searchsorted(np.array(edges), margin, side="right").clip(0, len(edges) - 1)
    tickets = np.bincount(b, minlength=len(edges)).astype(np.int64)
    right = np.bincount(b, weights=correct[mapped], minlength=len(edges)).astype(np.int64)
    # pool adjacent violators on the smoothed rates
    blocks = [[i] for i in range(len(edges))]

    def rate(block: list[int]) -> float:
        return (right[block].sum() + 1) / (tickets[block].sum() + 2)

    merged = True
    while merged:
        merged = False
        for i in range(len(blocks) - 1):
            if rate(blocks[i]) > rate(blocks[i + 1]):
                blocks[i : i + 2] = [blocks[i] + blocks[i + 1]]
                merged = True
                break
    acc = np.zeros(len(edges))
    for block in blocks:
        acc[block] = rate(block)
    table = pd.DataFrame(
        {
            "upper_edge": edges,
            "tickets": tickets,
            "correct": right,
            "accuracy": np.round(acc, 3),
        }
    )
    n_un = int((~mapped).sum())
    unmapped = round((int(correct[~mapped].sum()) + 1) / (n_un + 2), 3) if n_un else 0.3
    return table, min(unmapped, float(table["accuracy"].min()))


def write_calibration(
    table: pd.DataFrame, unmapped: float, out: str | os.PathLike[str], source: str, n: int
) -> Path:
    """Write a fitted confidence table as YAML (atomically), with where it came from."""
    from datetime import UTC, datetime

    from kenolib.files import atomic_write

    doc = {
        "fitted_on": source,
        "tickets": int(n),
        "fitted_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "signals_sha256": _signals_digest(),
        "edges": [float(v) for v in table["upper_edge"]],
        "accuracy": [float(v) for v in table["accuracy"]],
        "bin_tickets": [int(v) for v in table["tickets"]],
        "bin_correct": [int(v) for v in table["correct"]],
        "unmapped": float(unmapped),
    }
    header = (
        "# Confidence calibration of the ticket classifier (kenolib/crossref.py).\n"
        "# Written by benchmarks/calibrate.py (crossref.fit_calibration): the raw topic margin\n"
        "# (top - second) / (top + 1) is binned; `accuracy` is the observed share of tickets in\n"
        "# the bin whose verdict and cited clause are right, add-one smoothed and made\n"
        "# non-decreasing. `edges` are the bins' upper bounds. Re-run after changing the signals.\n"
    )

    def writer(tmp: Path) -> None:
        tmp.write_text(header + yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")

    return atomic_write(out, writer)


def _signals_digest() -> str:
    import hashlib

    return hashlib.sha256(config.TICKET_SIGNALS_FILE.read_bytes()).hexdigest()


def calibrate_confidence(
    labelled: pd.DataFrame, clauses: pd.DataFrame, edges: list[float] | None = None
) -> pd.DataFrame:
    """Observed verdict+clause accuracy per bin of the raw topic margin on a labelled set.

    A diagnostic with fixed edges (the stored table's by default); the shipped table is
    made by ``fit_calibration`` on the calibration set. Accuracy is add-one smoothed,
    ``(correct + 1) / (tickets + 2)``, so a bin with few tickets stays near 0.5 rather than
    claiming certainty it has not earned.
    """
    ev = evaluate(labelled, clauses)
    x = ev.frame
    edges = list(edges or load_calibration().get("edges") or [1.01])
    b = np.searchsorted(np.array(edges), x["topic_margin"].to_numpy(), side="right")
    b = b.clip(0, len(edges) - 1)
    frame = pd.DataFrame({"bin": b, "correct": x["_correct"].to_numpy()})
    g = frame.groupby("bin")["correct"].agg(tickets="size", correct="sum")
    g = g.reindex(range(len(edges)), fill_value=0)
    out = pd.DataFrame(
        {
            "upper_edge": edges,
            "tickets": g["tickets"].to_numpy(),
            "correct": g["correct"].to_numpy(),
        }
    )
    out["accuracy"] = ((out["correct"] + 1) / (out["tickets"] + 2)).round(3)
    return out


def calibrated_confidence(margin: np.ndarray, sig: Signals) -> np.ndarray:
    """Map raw topic margins to the observed accuracy of their bin (ticket_signals.yaml)."""
    edges, acc = sig.calibration
    b = np.searchsorted(edges, margin, side="right").clip(0, len(acc) - 1)
    return acc[b]


@functools.lru_cache(maxsize=8)
def _compiled(clauses_key: str, taxonomy_source: str) -> tuple[Signals, VerdictTable]:
    clauses = _CLAUSE_CACHE[clauses_key]
    tax = load_taxonomy(taxonomy_source or None)
    return build_signals(clauses, tax), verdict_table(clauses, tax)


_CLAUSE_CACHE: dict[str, pd.DataFrame] = {}


def _prepare(clauses: pd.DataFrame, taxonomy: Taxonomy | None) -> tuple[Signals, VerdictTable]:
    key = str(pd.util.hash_pandas_object(clauses.astype(str), index=False).sum())
    _CLAUSE_CACHE[key] = clauses
    return _compiled(key, taxonomy.source if taxonomy is not None else "")


def crossref(
    tickets: pd.DataFrame,
    clauses: pd.DataFrame,
    taxonomy: Taxonomy | None = None,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Every ticket with its product, topic, verdict and the clause that decided (CONTRACTS).

    Returns the input rows (same order and count, original columns kept) with the crossref
    columns first. The ticket's own ``product`` label moves to ``product_label``. ``progress``
    is called with the number of rows done after each batch.
    """
    tax = taxonomy or load_taxonomy()
    missing = [c for c in ("ticket_id", "subject") if c not in tickets.columns]
    if missing:
        raise KenolibError(
            f"tickets: missing column(s) {', '.join(missing)}; "
            f"columns found: {', '.join(map(str, tickets.columns))}"
        )
    sig, vt = _prepare(clauses, tax)
    n = len(tickets)
    labels = (
        tickets["product"]
        if "product" in tickets.columns
        else pd.Series("", index=tickets.index, dtype="string")
    )
    body_col = tickets["body"] if "body" in tickets.columns else pd.Series("", index=tickets.index)
    parts: dict[str, list[np.ndarray]] = {}
    evidence: list[pa.Array] = []
    maps = _class_maps(sig, vt)

    def run(start: int) -> tuple[int, dict[str, Any], pa.Array]:
        stop = min(n, start + BATCH_ROWS)
        res = _classify_batch(
            _as_text(tickets["subject"].iloc[start:stop]),
            _as_text(body_col.iloc[start:stop]),
            labels.iloc[start:stop],
            sig,
            vt,
            maps,
        )
        ev = _evidence(stop - start, res.pop("ev_row"), res.pop("ev_entry"), sig.entries)
        return stop - start, res, ev

    # numpy and pyarrow release the GIL on whole-array work: batches run on WORKERS threads.
    from concurrent.futures import ThreadPoolExecutor

    starts = list(range(0, n, BATCH_ROWS))
    with ThreadPoolExecutor(max_workers=max(1, min(WORKERS, len(starts)))) as pool:
        for done, res, ev in pool.map(run, starts):
            evidence.append(ev)
            for k, v in res.items():
                parts.setdefault(k, []).append(v)
            if progress is not None:
                progress(done)
    if n == 0:
        parts = {
            k: [np.zeros(0, dtype=np.int64)]
            for k in ("product", "product_source", "topic", "qualifier", "clause")
        }
        parts["margin"] = [np.zeros(0)]
        evidence = [pa.array([], type=pa.string())]
    res = {k: np.concatenate(v) for k, v in parts.items()}
    cl = vt.clauses
    chosen = res["clause"]
    # Index len(cl) is an extra empty row: "no clause" (silent).
    clause_idx = pa.array(np.where(chosen >= 0, chosen, len(cl)))

    def take(values: list[str], idx: pa.Array | np.ndarray) -> pd.Series:
        arr = pa.array(values, type=pa.string()).take(pa.array(idx))
        return pd.Series(pd.arrays.ArrowStringArray(arr))

    def clause_col(col: str) -> pd.Series:
        return take([*cl[col].astype(str).tolist(), ""], clause_idx)

    verdict_values = [*cl["status"].astype(str).tolist(), "silent"]
    tax_labels = {t.id: t.label for t in tax.topics}
    topic_labels = [tax_labels.get(t, "Unmapped") for t in vt.topics]
    qmax = vt.cand.shape[2]
    qual_values = [
        (vt.qualifiers.get(t) or [""] * qmax)[q]
        if q < len(vt.qualifiers.get(t) or [""] * qmax)
        else ""
        for t in vt.topics
        for q in range(qmax)
    ]
    margin = res["margin"]
    conf = calibrated_confidence(margin, sig)
    conf = np.where(res["topic"] == len(vt.topics) - 1, sig.unmapped_confidence, conf)
    ids = tickets["ticket_id"]
    if not isinstance(ids.dtype, pd.StringDtype):
        ids = ids.astype("string[pyarrow]")
    plabels = (
        labels if isinstance(labels.dtype, pd.StringDtype) else labels.astype("string[pyarrow]")
    )
    out = pd.DataFrame(
        {
            "ticket_id": ids.reset_index(drop=True),
            "product": take(vt.products, res["product"]),
            "topic": take(vt.topics, res["topic"]),
            "verdict": take(verdict_values, clause_idx),
            "clause_id": clause_col("clause_id"),
            "clause_product": clause_col("product"),
            "clause_heading": clause_col("heading"),
            "clause_text": clause_col("text"),
            "confidence": np.round(conf, 3),
            "evidence": pd.Series(
                pd.arrays.ArrowStringArray(pa.chunked_array(evidence, type=pa.string()))
            ),
            "product_label": plabels.fillna("").reset_index(drop=True),
            "product_source": take(["none", "label", "text"], res["product_source"]),
            "topic_label": take(topic_labels, res["topic"]),
            "qualifier": take(qual_values, res["topic"] * qmax + res["qualifier"]),
            "topic_margin": np.round(margin, 4),
        }
    )
    # The ticket's own columns follow. ticket_id is the same column and product moved to
    # product_label; any other name the crossref columns use (say, a "topic" column of an
    # earlier run) is kept as source_<name> rather than dropped.
    taken = set(CROSSREF_COLUMNS) | set(CROSSREF_EXTRA_COLUMNS)
    rest = tickets.drop(columns=[c for c in ("ticket_id", "product") if c in tickets.columns])
    renames = {}
    for c in rest.columns:
        if c in taken:
            new = f"source_{c}"
            while new in rest.columns or new in taken or new in renames.values():
                new = f"source_{new}"
            renames[c] = new
    rest = rest.rename(columns=renames).reset_index(drop=True)
    result = pd.concat([out, rest], axis=1)
    result.attrs = dict(tickets.attrs)
    return result


# ---------------------------------------------------------------------------------------------
# Aggregates (pure functions of a crossref frame)


def _minutes(xref: pd.DataFrame) -> pd.Series:
    if "agent_minutes" in xref.columns:
        return pd.to_numeric(xref["agent_minutes"], errors="coerce").fillna(0.0)
    return pd.Series(0.0, index=xref.index)


def _product_order(values: pd.Series) -> list[str]:
    from kenolib.taxonomy import product_ids

    known = [p for p in product_ids() if p != "overview"] + [UNKNOWN_PRODUCT]
    seen = list(dict.fromkeys(values.astype(str)))
    return [p for p in known if p in seen] + [p for p in seen if p not in known]


def _check_xref(xref: pd.DataFrame) -> pd.DataFrame:
    return check_frame(xref, CROSSREF_COLUMNS, "crossref frame")


def verdict_by_product(xref: pd.DataFrame) -> pd.DataFrame:
    """Tickets per product and verdict: product, supported, not_supported, silent, tickets."""
    x = _check_xref(xref)
    tab = pd.crosstab(x["product"].astype(str), x["verdict"].astype(str))
    for v in ("supported", "not_supported", "silent"):
        if v not in tab.columns:
            tab[v] = 0
    tab = tab[["supported", "not_supported", "silent"]]
    tab = tab.reindex(_product_order(x["product"])).fillna(0).astype("int64")
    tab["tickets"] = tab.sum(axis=1)
    out = tab.reset_index().rename(columns={"index": "product"})
    out.columns.name = None
    out = out.rename(columns={out.columns[0]: "product"})
    return check_frame(out, VERDICT_BY_PRODUCT_COLUMNS, "verdict_by_product")


def monthly_out_of_scope(xref: pd.DataFrame) -> pd.DataFrame:
    """Per month and product: tickets, out_of_scope (verdict not_supported) and their share.

    Tickets without a creation date are counted under month ``NaT``, not dropped.
    """
    x = _check_xref(xref)
    if "created_at" in x.columns:
        created = pd.to_datetime(x["created_at"], errors="coerce")
    else:
        created = pd.Series(pd.NaT, index=x.index, dtype="datetime64[ns]")
    month = created.dt.to_period("M").dt.to_timestamp()
    frame = pd.DataFrame(
        {
            "month": month,
            "product": x["product"].astype(str),
            "out": (x["verdict"] == "not_supported").astype("int64"),
        }
    )
    g = frame.groupby(["month", "product"], dropna=False, sort=True)
    out = g["out"].agg(tickets="size", out_of_scope="sum").reset_index()
    out["share"] = (out["out_of_scope"] / out["tickets"]).round(4)
    return check_frame(out, MONTHLY_OUT_OF_SCOPE_COLUMNS, "monthly_out_of_scope")


def out_of_scope_hours(xref: pd.DataFrame, hourly_rate: float | None = None) -> pd.DataFrame:
    """Agent hours on out-of-scope (not_supported) tickets per product and topic (+ cost)."""
    x = _check_xref(xref)
    if hourly_rate is not None and hourly_rate < 0:
        raise KenolibError(f"hourly rate must be zero or more (got {hourly_rate})")
    m = x["verdict"] == "not_supported"
    frame = pd.DataFrame(
        {
            "product": x.loc[m, "product"].astype(str),
            "topic": x.loc[m, "topic"].astype(str),
            "minutes": _minutes(x)[m],
        }
    )
    out = (
        frame.groupby(["product", "topic"], sort=False)["minutes"]
        .agg(tickets="size", agent_minutes="sum")
        .reset_index()
    )
    out["agent_hours"] = (out.pop("agent_minutes") / 60).round(2)
    if hourly_rate is not None:
        out["cost"] = (out["agent_hours"] * hourly_rate).round(2)
    out = check_frame(out, OUT_OF_SCOPE_HOURS_COLUMNS, "out_of_scope_hours")
    return out.sort_values(["agent_hours", "tickets"], ascending=False, kind="stable").reset_index(
        drop=True
    )


def silent_topics(xref: pd.DataFrame, examples: int = 3) -> pd.DataFrame:
    """Topics of policy-silent tickets ranked by volume, with example ticket ids and subjects."""
    x = _check_xref(xref)
    total = max(len(x), 1)
    m = x["verdict"] == "silent"
    s = x[m]
    if not len(s):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in SILENT_TOPIC_COLUMNS})
    frame = pd.DataFrame(
        {
            "topic": s["topic"].astype(str),
            "minutes": _minutes(x)[m],
        }
    )
    g = frame.groupby("topic", sort=False)["minutes"].agg(tickets="size", agent_minutes="sum")
    out = g.reset_index()
    out["agent_hours"] = (out.pop("agent_minutes") / 60).round(2)
    out["share"] = (out["tickets"] / total).round(4)
    tax = load_taxonomy()
    labels = {t.id: t.label for t in tax.topics}
    out.insert(1, "topic_label", out["topic"].map(labels).fillna("Unmapped"))
    subj = s["subject"].astype(str) if "subject" in s.columns else pd.Series("", index=s.index)
    head = pd.DataFrame(
        {"topic": s["topic"].astype(str), "id": s["ticket_id"].astype(str), "subject": subj}
    )
    head = head.groupby("topic", sort=False).head(max(examples, 0))
    ex = head.groupby("topic", sort=False).agg(
        example_ticket_ids=("id", "; ".join), example_subjects=("subject", " | ".join)
    )
    out = out.merge(ex, left_on="topic", right_index=True, how="left")
    out = check_frame(out, SILENT_TOPIC_COLUMNS, "silent_topics")
    return out.sort_values(["tickets", "agent_hours"], ascending=False, kind="stable").reset_index(
        drop=True
    )


def tickets_by_topic(xref: pd.DataFrame) -> pd.DataFrame:
    """Tickets and agent hours per verdict, product and topic."""
    x = _check_xref(xref)
    frame = pd.DataFrame(
        {
            "verdict": x["verdict"].astype(str),
            "product": x["product"].astype(str),
            "topic": x["topic"].astype(str),
            "minutes": _minutes(x),
        }
    )
    out = (
        frame.groupby(["verdict", "product", "topic"], sort=True)["minutes"]
        .agg(tickets="size", agent_minutes="sum")
        .reset_index()
    )
    out["agent_hours"] = (out.pop("agent_minutes") / 60).round(2)
    return check_frame(out, TICKETS_BY_TOPIC_COLUMNS, "tickets_by_topic")


def low_confidence(xref: pd.DataFrame, threshold: float = 0.6) -> pd.DataFrame:
    """Tickets whose confidence is below ``threshold`` (least confident first): for review."""
    x = _check_xref(xref)
    cols = [c for c in (*CROSSREF_COLUMNS, "product_label", "subject") if c in x.columns]
    low = x.loc[x["confidence"] < threshold, cols]
    return low.sort_values("confidence", kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Evaluation against a labelled set


@dataclass
class Evaluation:
    """How well crossref reproduces a labelled set."""

    n: int
    verdict_accuracy: float
    topic_accuracy: float
    clause_accuracy: (
        float | None
    )  # the cited clause, or an equivalent one (see _equivalent_clauses)
    product_accuracy: float | None
    clause_exact_accuracy: float | None
    per_class: pd.DataFrame  # verdict, precision, recall, f1, support
    confusion: pd.DataFrame  # expected verdict x predicted verdict
    mistakes: pd.DataFrame  # rows where verdict, topic or clause differ
    calibration: pd.DataFrame  # confidence bin, tickets, verdict accuracy
    frame: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)  # crossref + _correct

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "verdict_accuracy": self.verdict_accuracy,
            "topic_accuracy": self.topic_accuracy,
            "clause_accuracy": self.clause_accuracy,
            "clause_exact_accuracy": self.clause_exact_accuracy,
            "product_accuracy": self.product_accuracy,
        }


def _equivalent_clauses(pred: pd.Series, expected: pd.Series, clauses: pd.DataFrame) -> pd.Series:
    """True where two different clause ids are interchangeable citations.

    Interchangeable: same product section, topic, status and qualifier (e.g. the overview's
    "Access to my account" and "Billing question" rows for a billing question). The labelled
    set's README lists these groups and asks scorers to accept any clause of a group.
    """
    c = clauses.drop_duplicates("clause_id").set_index("clause_id")
    key = c["product"].astype(str) + "|" + c["topic"].astype(str) + "|" + c["status"].astype(str)
    key = key + "|" + c["qualifier"].astype(str)
    kp = pred.map(key)
    ke = expected.map(key)
    return (kp.notna() & ke.notna() & (kp == ke)).astype(bool)


def _blank(s: pd.Series) -> pd.Series:
    return s.astype("string").fillna("").str.strip()


def evaluate(
    labelled: pd.DataFrame, clauses: pd.DataFrame, taxonomy: Taxonomy | None = None
) -> Evaluation:
    """Run crossref on labelled tickets and compare with ``expected_*`` columns."""
    missing = [c for c in LABELLED_COLUMNS if c not in labelled.columns]
    if missing:
        raise KenolibError(
            f"labelled tickets: missing column(s) {', '.join(missing)}; "
            f"columns found: {', '.join(map(str, labelled.columns))}"
        )
    x = crossref(labelled, clauses, taxonomy)
    exp_v = _blank(labelled["expected_verdict"]).str.lower().reset_index(drop=True)
    bad = sorted(set(exp_v) - VERDICTS)
    if bad:
        raise KenolibError(
            f"labelled tickets: expected_verdict has value(s) {bad}; use {sorted(VERDICTS)}"
        )
    exp_t = _blank(labelled["expected_topic"]).reset_index(drop=True)
    pv = x["verdict"].astype(str)
    pt = x["topic"].astype(str)
    ok_v = pv == exp_v
    ok_t = pt == exp_t
    n = len(x)
    clause_acc = product_acc = clause_exact = None
    ok_c = pd.Series(True, index=x.index)
    if "expected_clause_id" in labelled.columns:
        exp_c = _blank(labelled["expected_clause_id"]).reset_index(drop=True)
        pred_c = _blank(x["clause_id"])
        exact = pred_c == exp_c
        clause_exact = float(exact.mean()) if n else 0.0
        ok_c = exact | _equivalent_clauses(pred_c, exp_c, clauses)
        clause_acc = float(ok_c.mean()) if n else 0.0
    ok_p = pd.Series(True, index=x.index)
    if "expected_product" in labelled.columns:
        exp_p = _blank(labelled["expected_product"]).reset_index(drop=True)
        ok_p = x["product"].astype(str) == exp_p
        product_acc = float(ok_p.mean()) if n else 0.0
    rows = []
    for v in ("supported", "not_supported", "silent"):
        tp = int(((pv == v) & (exp_v == v)).sum())
        pred = int((pv == v).sum())
        sup = int((exp_v == v).sum())
        prec = tp / pred if pred else float("nan")
        rec = tp / sup if sup else float("nan")
        f1 = 2 * prec * rec / (prec + rec) if pred and sup and (prec + rec) else float("nan")
        rows.append(
            {
                "verdict": v,
                "precision": prec,
                "recall": rec,
                "f1": f1,
                "support": sup,
                "predicted": pred,
            }
        )
    per_class = pd.DataFrame(rows)
    order = ["supported", "not_supported", "silent"]
    confusion = (
        pd.crosstab(exp_v.rename("expected"), pv.rename("predicted"))
        .reindex(index=order, columns=order)
        .fillna(0)
        .astype("int64")
    )
    wrong = ~(ok_v & ok_t & ok_c)
    cols = ["ticket_id", "product", "topic", "verdict", "clause_id", "confidence", "evidence"]
    mistakes = x.loc[wrong, cols].copy()
    mistakes.insert(1, "subject", labelled["subject"].reset_index(drop=True)[wrong].to_numpy())
    mistakes["expected_verdict"] = exp_v[wrong]
    mistakes["expected_topic"] = exp_t[wrong]
    if "expected_clause_id" in labelled.columns:
        mistakes["expected_clause_id"] = _blank(labelled["expected_clause_id"]).reset_index(
            drop=True
        )[wrong]
    if "expected_product" in labelled.columns:
        mistakes["expected_product"] = _blank(labelled["expected_product"]).reset_index(drop=True)[
            wrong
        ]
    x["_correct"] = (ok_v & ok_c).to_numpy()
    cal = pd.DataFrame({"confidence": x["confidence"], "correct": ok_v & ok_c})
    calibration = (
        cal.groupby("confidence")["correct"].agg(tickets="size", accuracy="mean").reset_index()
    )
    return Evaluation(
        n=n,
        verdict_accuracy=float(ok_v.mean()) if n else 0.0,
        topic_accuracy=float(ok_t.mean()) if n else 0.0,
        clause_accuracy=clause_acc,
        product_accuracy=product_acc,
        clause_exact_accuracy=clause_exact,
        per_class=per_class,
        confusion=confusion,
        mistakes=mistakes.reset_index(drop=True),
        calibration=calibration,
        frame=x,
    )


def format_evaluation(ev: Evaluation, source: str = "", mistakes: int = 15) -> str:
    """The evaluation as text for the terminal."""
    pct = lambda v: "n/a" if v is None else f"{100 * v:.1f} %"  # noqa: E731
    lines = [
        f"evaluated {ev.n} labelled tickets{f' from {source}' if source else ''}",
        f"verdict accuracy: {pct(ev.verdict_accuracy)}",
        f"topic accuracy:   {pct(ev.topic_accuracy)}",
        f"clause accuracy:  {pct(ev.clause_accuracy)} (exact id {pct(ev.clause_exact_accuracy)};"
        " an equivalent clause of the same section, topic, status and qualifier counts)",
        f"product accuracy: {pct(ev.product_accuracy)}",
        "",
        "per verdict:",
        ev.per_class.to_string(index=False, float_format=lambda v: f"{v:.3f}"),
        "",
        "confusion (rows expected, columns predicted):",
        ev.confusion.to_string(),
        "",
        "confidence vs observed accuracy (verdict and clause right):",
        ev.calibration.to_string(index=False, float_format=lambda v: f"{v:.3f}"),
    ]
    if mistakes and len(ev.mistakes):
        lines += ["", f"first {min(mistakes, len(ev.mistakes))} of {len(ev.mistakes)} mistakes:"]
        for r in ev.mistakes.head(mistakes).itertuples():
            lines.append(
                f"  {r.ticket_id}: {str(r.subject)[:60]!r} -> {r.product}/{r.topic}/{r.verdict}"
                f" {r.clause_id or '-'}; expected {r.expected_topic}/{r.expected_verdict}"
                f" {getattr(r, 'expected_clause_id', '') or '-'} [{r.evidence}]"
            )
    return "\n".join(lines)
