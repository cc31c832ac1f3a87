"""The compiled classifier: signal lists, ownership lexicon and clause cues as lookup arrays.

``build_signals`` turns the validated data files into a word hash table, phrase codes and, per
signal, the classes it votes for (``topic:x``, ``product:x``, ``qual:topic:q``, ``colo``,
``clause:<id>``, ``own:platform|customer|third_party|self_hosted``) with a weight.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kenolib.classify.calibration import agreement_scales, load_calibration
from kenolib.classify.compiled import Signals
from kenolib.classify.spec import load_ownership_file, load_signals_file
from kenolib.classify.text import (
    PREFILTER_BITS,
    STOPWORDS,
    prefilter_hash,
    quote_cut_pattern,
    reply_subject_pattern,
    word_keys,
    words_of,
)
from kenolib.errors import KenolibError
from kenolib.taxonomy import Taxonomy, heading_key, load_taxonomy, normalise

#: Owners of the thing a ticket is about (``ownership.yaml``), in class order.
OWNERS = ("platform", "customer", "third_party", "self_hosted")


class _Pairs:
    """Signal phrases being collected: words -> class -> weight (the highest weight wins)."""

    def __init__(self, stopwords: list[Any], owner_words: list[Any] | None = None) -> None:
        self.stop = {w for s_ in stopwords for w in words_of(str(s_))}
        self.keep = {w for s_ in owner_words or [] for w in words_of(str(s_))}
        idle = sorted(self.keep - self.stop)
        if idle:
            raise KenolibError(
                f"ticket_signals.yaml: owner_words: {idle[0]!r} is not a stopword; an owner word "
                "is a stopword that a phrase keeps (add it to stopwords, or remove it here)"
            )
        self.pairs: dict[tuple[str, ...], dict[str, float]] = {}
        self.dead: list[str] = []  # "where: phrase" of listed phrases that can never match

    def nwords_of(self, phrase: str) -> int:
        return len([w for w in words_of(phrase) if w not in self.stop]) or 1

    def add(
        self, phrase: str, cls: str, weight: float, plural: bool = True, whose: bool = False
    ) -> bool:
        """Collect ``phrase`` for ``cls``; False when it is left out (it can never match).

        ``whose``: the phrase says whose thing it is (a qualifier or ownership cue), so it keeps
        its owner words wherever they stand ("your cache plugin" is not any "cache plugin").
        """
        raw = words_of(phrase)
        words = tuple(w for w in raw if w not in self.stop or (whose and w in self.keep))
        if len(raw) > 1 and len(words) < 2:
            # Without its stopwords the phrase would be one word of another meaning. It keeps
            # them when they are all owner words ("my script", "your server", "i installed":
            # whose thing it is); any other is left out ("is down" is not "down").
            if not set(raw) - set(words) <= self.keep:
                return False
            words = tuple(raw)
        if not words or len(words) > 5:
            return False
        variants = [words]
        if plural and len(words) == 1 and not words[0].endswith("s") and words[0].isalpha():
            variants.append((words[0] + "s",))
        for v in variants:
            slot = self.pairs.setdefault(v, {})
            slot[cls] = max(slot.get(cls, 0.0), weight)
        return True

    def listed(
        self,
        where: str,
        phrase: str,
        cls: str,
        weight: float,
        plural: bool = True,
        whose: bool = False,
    ) -> None:
        """``add`` a phrase someone listed in a data file; one that can never match is noted."""
        if not self.add(phrase, cls, weight, plural, whose):
            self.dead.append(f"{where}: {phrase!r}")


def _check_topics(data: dict[str, Any], tax: Taxonomy) -> None:
    known = set(tax.topic_ids())
    named = set(data["topics"]) | set(data["symptom_topics"]) | set(data["qualifiers"])
    named |= {t for scope in data["product_scope"].values() for t in scope}
    named |= {t for m in data["product_topics"].values() for kv in m.items() for t in kv}
    unknown = named - known
    if unknown:
        raise KenolibError(f"ticket_signals.yaml: unknown topic(s) {sorted(unknown)}")


def _topic_signals(acc: _Pairs, data: dict[str, Any], tax: Taxonomy) -> None:
    weights = {k: float(v) for k, v in data["weights"].items()}
    exclude = {normalise(s) for s in data["exclude_taxonomy_synonyms"]}
    for t in tax.topics:
        for syn in t.synonyms:
            if normalise(syn) not in exclude:
                where = f"taxonomy.yaml: {t.id}: synonyms"
                acc.listed(where, syn, f"topic:{t.id}", float(data["taxonomy_weight"]))
    for tid, levels in data["topics"].items():
        for level, phrases in (levels or {}).items():
            if level not in weights:
                raise KenolibError(f"ticket_signals.yaml: topic {tid}: unknown strength {level!r}")
            for ph in phrases or []:
                acc.listed(
                    f"ticket_signals.yaml: topics: {tid}: {level}",
                    str(ph),
                    f"topic:{tid}",
                    weights[level],
                )


def _other_signals(acc: _Pairs, data: dict[str, Any], tax: Taxonomy) -> None:
    for pid, phrases in data["products"].items():
        for ph in phrases:  # a longer name wins: "dev vps" over "vps"
            weight = float(len(words_of(str(ph))))
            acc.listed(
                f"ticket_signals.yaml: products: {pid}",
                str(ph),
                f"product:{pid}",
                weight,
                plural=False,
            )
    for ph in data["colocation"]:
        acc.listed("ticket_signals.yaml: colocation", str(ph), "colo", 1.0, plural=False)
    for tid, quals in data["qualifiers"].items():
        ids = {q.id for q in tax.by_id[tid].qualifiers}
        for qid, phrases in quals.items():
            if qid not in ids:
                raise KenolibError(f"ticket_signals.yaml: {tid} has no qualifier {qid!r}")
            for ph in phrases:
                # a longer cue is more specific: "bought from you" (3) beats "bought from" (2)
                weight = float(acc.nwords_of(str(ph)))
                where = f"ticket_signals.yaml: qualifiers: {tid}: {qid}"
                cls = f"qual:{tid}:{qid}"
                acc.listed(where, str(ph), cls, weight, plural=False, whose=True)


def _ownership_signals(acc: _Pairs, own: dict[str, Any]) -> None:
    """The ownership lexicon's phrases, each keeping its owner words ("my own app")."""
    for owner in OWNERS:
        for ph in own[owner]:
            where = f"ownership.yaml: {owner}"
            acc.listed(
                where, str(ph), f"own:{owner}", float(own["weight"]), plural=False, whose=True
            )


def _clause_signals(acc: _Pairs, data: dict[str, Any], clauses: pd.DataFrame) -> None:
    for cid, words in _clause_cues(clauses).items():
        for w in words:
            acc.add(w, f"clause:{cid}", 1.0, plural=False)
    # hints are keyed by (product, heading): they survive renumbering; a heading another
    # policy version does not have leaves its hints unused
    key = clauses["product"].astype(str) + "|" + clauses["heading"].map(heading_key)
    by_key = dict(zip(key, clauses["clause_id"].astype(str), strict=False))
    for product, headings in data["clause_hints"].items():
        for heading, phrases in headings.items():
            found = by_key.get(f"{product}|{heading_key(heading)}")
            if found is not None:
                for ph in phrases:
                    acc.listed(
                        f"ticket_signals.yaml: clause_hints: {product}: {heading}",
                        str(ph),
                        f"clause:{found}",
                        3.0,
                    )


def build_signals(
    clauses: pd.DataFrame, taxonomy: Taxonomy | None = None, path: str | None = None
) -> Signals:
    """Compile the signal lists (+ taxonomy synonyms, ownership lexicon, clause cues)."""
    tax = taxonomy or load_taxonomy()
    data = load_signals_file(path)
    own = load_ownership_file()
    _check_topics(data, tax)
    acc = _Pairs(data["stopwords"], data["owner_words"])
    _topic_signals(acc, data, tax)
    _other_signals(acc, data, tax)
    _ownership_signals(acc, own)
    _clause_signals(acc, data, clauses)
    if acc.dead:
        # nothing listed is dropped unseen: a phrase that shrinks to one word of another
        # meaning without its stopwords ("is down", "in plesk") would silently never match
        more = f" (and {len(acc.dead) - 1} more)" if len(acc.dead) > 1 else ""
        raise KenolibError(
            f"{acc.dead[0]} can never match{more}: without its stopwords "
            "it is one word of another meaning, or it has more than five words; write it "
            "without them, or with an owner word (owner_words), or remove it (a taxonomy "
            "synonym: list it under exclude_taxonomy_synonyms)"
        )
    tables = _compile(acc.pairs)
    return _assemble(tables, data, own, tax)


def _prefilter_slots(vocab: list[str]) -> np.ndarray:
    """Per prefilter slot: the vocabulary id of its one word, -1 if empty, -2 if shared."""
    bits = PREFILTER_BITS
    slot_vid = np.full(1 << bits, -1, dtype=np.int64)
    for i, word in enumerate(vocab):
        b = bytes(c | 32 for c in word.encode("utf-8"))
        first = np.array([int.from_bytes(b[:8].ljust(8, b"\0"), "little")], dtype=np.uint64)
        h = int(prefilter_hash(first, np.array([len(b)], dtype=np.uint64), bits)[0])
        slot_vid[h] = i if slot_vid[h] == -1 else -2
    return slot_vid


def _compile(pairs: dict[tuple[str, ...], dict[str, float]]) -> dict[str, Any]:
    """Lookup arrays of the collected pairs: classes, entries, word keys, phrase codes."""
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
    keys = word_keys(vocab)
    if len(np.unique(keys)) != len(keys):
        raise KenolibError("ticket_signals.yaml: two signal words hash alike; rename one")
    order = np.argsort(keys)
    slot_vid = _prefilter_slots(vocab)
    word_entry = np.full(len(vocab), -1, dtype=np.int64)
    by_n: dict[int, tuple[list[int], list[int]]] = {}
    V = len(vocab) + 1
    for e, words in enumerate(pairs):
        if len(words) == 1:
            word_entry[vid[words[0]]] = e
            continue
        code = 0
        for word in words:
            code = code * V + vid[word]
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
    return {
        "classes": classes,
        "entries": entries,
        "entry_class": np.array(e_cls, dtype=np.int64),
        "entry_weight": np.array(e_w, dtype=np.float64),
        "entry_ptr": np.array(ptr, dtype=np.int64),
        "word_keys": keys[order],
        "slot_vid": slot_vid,
        "vocab_keys": keys,
        "word_ids": np.arange(len(vocab), dtype=np.int64)[order],
        "word_entry": word_entry,
        "phrase_keys": phrase_keys,
        "phrase_starter": starter,
        "phrase_prefixes": {k: np.array(sorted(v), dtype=np.int64) for k, v in prefixes.items()},
        "max_phrase": max(by_n, default=1),
        "bigram_entry": bigram_entry,
        "bigram_prefix": bigram_prefix,
        "n_vocab": V,
    }


def _assemble(
    tables: dict[str, Any], data: dict[str, Any], own: dict[str, Any], tax: Taxonomy
) -> Signals:
    cal = load_calibration(data)
    edges = np.array(cal.get("edges") or [1.01], dtype=np.float64)
    acc = np.array(cal.get("accuracy") or [0.5], dtype=np.float64)
    if len(edges) != len(acc) or not np.all(np.diff(edges) > 0):
        raise KenolibError(
            "calibration: edges must increase and have one accuracy each; run `kenolib calibrate`"
        )
    table: tuple[np.ndarray, ...] = (edges, acc)
    if cal.get("centres") is not None:
        centres = np.array(cal["centres"], dtype=np.float64)
        if len(centres) != len(acc) or not np.all(np.diff(centres) > 0):
            raise KenolibError(
                "calibration: centres must increase and have one accuracy each;"
                " run `kenolib calibrate`"
            )
        table = (edges, acc, centres)
    topic_ids = tax.topic_ids()
    return Signals(
        **tables,
        phrase_gap=int(data["phrase_gap"]),
        subject_weight=float(data["subject_weight"]),
        body_chars=int(data["body_chars"]),
        calibration=table,
        unmapped_confidence=float(cal.get("unmapped", 0.3)),
        review_below=float(cal.get("review_below", 0.0)),
        decider_scales={str(k): float(v) for k, v in (cal.get("decider_scales") or {}).items()},
        verdict_scales={str(k): float(v) for k, v in (cal.get("verdict_scales") or {}).items()},
        agreement=agreement_scales(cal.get("agreement_scales")),
        confidence_model_doc=cal.get("confidence_model"),
        quote_cut=quote_cut_pattern(data),
        reply_subject=reply_subject_pattern(data),
        reply_subject_weight=float(data["reply_subject_weight"]),
        symptom_topics=np.array([topic_ids.index(t) for t in data["symptom_topics"]], np.int64),
        symptom_factors=np.array([float(f) for f in data["symptom_topics"].values()]),
        symptom_min_other=float(data["symptom_min_other"]),
        colocation_labels={heading_key(s) for s in data["colocation_labels"]},
        topic_ids=topic_ids,
        spec=data,
        ownership=own,
    )


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
        words = {r.clause_id: set(words_of(str(r.heading))) - STOPWORDS for r in grp.itertuples()}
        common = set.intersection(*words.values())
        for cid, ws in words.items():
            out[cid] = sorted(w for w in ws - common if len(w) > 2)
    return out


def term_signals(terms: list[str]) -> Signals:
    """A tokeniser table for plain terms (the learned model's words and two-word phrases).

    Each entry votes for one class whose index is the term's position in ``terms``.
    """
    acc = _Pairs([])
    for t in terms:
        acc.add(t, f"term:{t}", 1.0, plural=False)
    tables = _compile(acc.pairs)
    pos = {t: i for i, t in enumerate(terms)}
    to_term = np.array([pos[c[5:]] for c in tables["classes"]], dtype=np.int64)
    tables["entry_class"] = to_term[tables["entry_class"]]
    return Signals(
        **tables,
        phrase_gap=2,
        subject_weight=1.0,
        body_chars=0,
        calibration=(np.array([1.01]), np.array([0.5])),
        unmapped_confidence=0.0,
        quote_cut="",
        reply_subject=r"^\b\B",
        reply_subject_weight=1.0,
        symptom_topics=np.zeros(0, dtype=np.int64),
        symptom_factors=np.zeros(0),
        symptom_min_other=0.0,
        colocation_labels=set(),
        topic_ids=[],
    )
