"""The judging rules, one function each, applied in order to a batch of tickets.

Every rule takes whole columns (numpy arrays of a batch) and returns whole columns; the rule
that last changed a ticket's outcome is recorded in ``decided_by``:

============== =================================================================================
``signals``    the topic with the highest signal score (words and phrases of the signals file)
``symptom``    a symptom topic ("down", "slow") yielded to the thing that is broken
``scope``      the product may not be judged on the best-scored topic (a suite ticket is never
               judged on hosting-only rows); the best topic within the product's scope won
``product``    the topic means something else on this product (``product_topics``)
``ownership``  the thing the ticket is about belongs to the customer or a third party, not to the
               platform (``ownership.yaml``), so the ticket goes to that owner's topic
``model``      the rules were unsure and the learned component's topic was taken
``qualifier``  a qualifier cue chose between the supported and not supported variant of a topic
``colocation`` a colocation customer's own equipment: no clause applies (silent)
``no_signal``  no signal at all: judged as unmapped (silent)
``analyst``    a reviewed label from the labels store decided (set by the judging pipeline)
============== =================================================================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from wordfreq import zipf_frequency

from kenolib.classify.signals import OWNERS, Signals
from kenolib.classify.text import classification_parts, distinct, tokenise, words_of
from kenolib.classify.verdicts import VerdictTable
from kenolib.taxonomy import heading_key, products_of_labels

#: ``decided_by`` codes in the order of the table above (stored as small ints per batch).
DECIDERS = (
    "signals",
    "symptom",
    "scope",
    "product",
    "ownership",
    "model",
    "qualifier",
    "colocation",
    "no_signal",
    "analyst",
)
D = {name: i for i, name in enumerate(DECIDERS)}


@dataclass
class ClassMaps:
    """Per-class lookups shared by every batch: signal class -> topic, product, qualifier..."""

    topic_of_class: np.ndarray  # class -> topic index, -1 if no topic class
    prod_of_class: np.ndarray  # class -> product section index, -1
    qual_of_class: np.ndarray  # class -> qualifier class number, -1
    qual_topic: np.ndarray  # qualifier class number -> topic index
    qual_index: np.ndarray  # qualifier class number -> qualifier index within its topic
    n_qual: int
    colo_classes: np.ndarray  # class indices of colocation cues
    clause_of_class: np.ndarray  # class -> clause row in vt.clauses, -1
    owner_of_class: np.ndarray  # class -> index in OWNERS, -1
    platform_topic: np.ndarray  # per topic: True if the broken thing is the platform's
    redirect: np.ndarray  # [owner, product] -> topic index a non-platform owner's ticket goes to
    saas_product: np.ndarray  # per product: a hosted suite (runs nothing of the customer's)
    contested_topic: np.ndarray  # per topic: a suite ticket leaves it for a named third party
    hardware: int  # topic index of "hardware", -1 if the taxonomy has none


def class_maps(sig: Signals, vt: VerdictTable) -> ClassMaps:
    """Build the per-class lookups once per judging run (not once per batch)."""
    C = len(sig.classes)
    kind = np.array([c.split(":", 1)[0] for c in sig.classes])
    cname = np.array([c.split(":", 1)[-1] for c in sig.classes])
    tpos = {t: i for i, t in enumerate(vt.topics)}
    ppos = {p: i for i, p in enumerate(vt.products[:-1])}

    def lookup(k: str, index: dict[str, int]) -> np.ndarray:
        out = np.full(C, -1, dtype=np.int64)
        for ci in np.flatnonzero(kind == k):
            out[ci] = index.get(str(cname[ci]), -1)
        return out

    qual_classes = np.flatnonzero(kind == "qual")
    qsplit = [str(cname[c]).split(":") for c in qual_classes]
    qmap = np.full(C, -1, dtype=np.int64)
    qmap[qual_classes] = np.arange(len(qual_classes))
    rows = {cid: i for i, cid in enumerate(vt.clauses["clause_id"].astype(str))}
    own = sig.ownership
    platform = np.zeros(len(vt.topics), dtype=bool)
    platform[[tpos[t] for t in own.get("platform_topics", []) if t in tpos]] = True
    redirect = np.full((len(OWNERS), len(vt.products)), -1, dtype=np.int64)
    for oi, owner in enumerate(OWNERS):
        targets = (own.get("redirect") or {}).get(owner) or {}
        for pi, p in enumerate(vt.products):
            t = targets.get(p, targets.get("default"))
            redirect[oi, pi] = tpos.get(t, -1) if t else -1
    saas = np.isin(np.array(vt.products, dtype=object), list(own.get("saas_products", [])))
    contested = np.zeros(len(vt.topics), dtype=bool)
    contested[[tpos[t] for t in own.get("saas_contested_topics", []) if t in tpos]] = True
    return ClassMaps(
        topic_of_class=lookup("topic", tpos),
        prod_of_class=lookup("product", ppos),
        qual_of_class=qmap,
        qual_topic=np.array([tpos[t] for t, _ in qsplit], dtype=np.int64),
        qual_index=np.array([vt.qualifiers[t].index(q) for t, q in qsplit], dtype=np.int64),
        n_qual=len(qual_classes),
        colo_classes=np.flatnonzero(kind == "colo"),
        clause_of_class=lookup("clause", rows),
        owner_of_class=lookup("own", {o: i for i, o in enumerate(OWNERS)}),
        platform_topic=platform,
        redirect=redirect,
        saas_product=saas,
        contested_topic=contested,
        hardware=tpos.get("hardware", -1),
    )


@dataclass
class Hits:
    """Every (ticket row, signal class) vote of a batch, with its weight."""

    n: int
    text: pa.Array  # the classification text (subject + cleaned body start)
    row: np.ndarray
    cls: np.ndarray
    weight: np.ndarray  # entry weight x subject weight
    raw_weight: np.ndarray  # entry weight alone
    entry: np.ndarray


def signal_hits(subject: pa.Array, body: pa.Array, sig: Signals) -> Hits:
    """Find the signals of every ticket and expand them into (row, class, weight) votes."""
    text, subject_len = classification_parts(subject, body, sig.body_chars, sig.quote_cut)
    tok = tokenise(text, subject_len, sig)
    cnt = sig.entry_ptr[tok.entry + 1] - sig.entry_ptr[tok.entry]
    rep = np.repeat(np.arange(len(tok.entry)), cnt)
    pair = np.repeat(sig.entry_ptr[tok.entry], cnt) + (
        np.arange(len(rep)) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    )
    # a reply's subject names the old thread ("Re: DNS issue"): it weighs less than a new one
    reply = pc.match_substring_regex(subject, sig.reply_subject)
    reply = reply.to_numpy(zero_copy_only=False).astype(bool)
    subject_w = np.where(reply, sig.reply_subject_weight, sig.subject_weight)
    row = tok.row[rep]
    raw = sig.entry_weight[pair]
    w = raw * np.where(tok.in_subject[rep], subject_w[row], 1.0)
    return Hits(len(subject), text, row, sig.entry_class[pair], w, raw, tok.entry[rep])


def _scores(h: Hits, of_class: np.ndarray, width: int, weights: np.ndarray | None = None):
    """Rows x classes score matrix of the votes whose class maps to a column (``of_class``)."""
    sel = of_class[h.cls] >= 0
    w = (h.weight if weights is None else weights)[sel]
    flat = np.bincount(h.row[sel] * width + of_class[h.cls[sel]], weights=w, minlength=h.n * width)
    return flat.astype(np.float64, copy=False).reshape(h.n, width)


def rule_product(
    labels: pd.Series, h: Hits, vt: VerdictTable, cm: ClassMaps
) -> tuple[np.ndarray, np.ndarray]:
    """Product per row: the helpdesk label first, else the product the text names, else unknown.

    Returns (product index, source: 0 none, 1 label, 2 text).
    """
    sections = vt.products[:-1]
    idx = {p: i for i, p in enumerate(sections)}
    codes, uniq = pd.factorize(products_of_labels(labels).astype(str), sort=False)
    lookup = np.array([idx.get(u, -1) for u in uniq] or [-1], dtype=np.int64)
    prod = np.where(codes >= 0, lookup[np.maximum(codes, 0)], -1)
    source = np.where(prod >= 0, 1, 0)
    pscore = _scores(h, cm.prod_of_class, len(sections))
    if pscore.size:
        tprod = pscore.argmax(axis=1)
        use = (prod < 0) & (pscore[np.arange(h.n), tprod] > 0)
        prod = np.where(use, tprod, prod)
        source = np.where(use, 2, source)
    return np.where(prod < 0, len(vt.products) - 1, prod), source


def topic_scores(h: Hits, vt: VerdictTable, cm: ClassMaps) -> np.ndarray:
    """Rows x topics: the summed weights of each topic's signals."""
    return _scores(h, cm.topic_of_class, len(vt.topics))


def rule_symptoms(scores: np.ndarray, sig: Signals) -> np.ndarray:
    """Symptom topics yield to a named object: scaled down when another topic scores enough."""
    if not len(sig.symptom_topics):
        return scores
    other = scores.copy()
    other[:, sig.symptom_topics] = 0
    has_object = np.flatnonzero(other.max(axis=1) >= sig.symptom_min_other)
    out = scores.copy()
    out[np.ix_(has_object, sig.symptom_topics)] *= sig.symptom_factors
    return out


def rule_scope(scores: np.ndarray, prod: np.ndarray, vt: VerdictTable) -> np.ndarray:
    """Topics outside the product's scope score nothing (suite tickets, hosting-only rows)."""
    return np.where(vt.topic_allowed[prod], scores, 0.0)


def pick_topic(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(topic, margin, top score): the best scored topic; unmapped (last) when nothing scored.

    The margin ``(top - second) / (top + 1)`` says how sure the topic is; the confidence rests on
    the verdict margin (:func:`verdict_margin`).
    """
    n, T = scores.shape
    r = np.arange(n)
    best = scores.argmax(axis=1)
    top = scores[r, best]
    rest = scores.copy()
    rest[r, best] = -1
    second = rest.max(axis=1).clip(0, None) if T > 1 else np.zeros(n)
    topic = np.where(top > 0, best, T - 1)
    margin = np.where(top > 0, (top - second) / (top + 1.0), 0.0)
    return topic, margin, top


def top_topic(scores: np.ndarray) -> np.ndarray:
    """:func:`pick_topic`'s topic alone (no margin: a second maximum over every row saved)."""
    n, T = scores.shape
    best = scores.argmax(axis=1)
    return np.where(scores[np.arange(n), best] > 0, best, T - 1)


def verdict_margin(
    scores: np.ndarray,
    prod: np.ndarray,
    topic: np.ndarray,
    verdict: np.ndarray,
    vt: VerdictTable,
) -> np.ndarray:
    """How far the ticket's verdict is from changing: ``(best - other) / (best + 1)`` where
    ``best`` is the highest score among the row's ``topic`` and the topics that give the row's
    ``verdict`` (codes) on its product, and ``other`` the highest among topics that give another
    one. Two topics close in score that lead to the same verdict leave the verdict sure; 0 when
    none of them scored or another verdict's topic scored higher."""
    same = vt.gives_verdict[prod, verdict] | vt.reads_as[prod, topic]
    other = np.where(same, 0.0, scores).max(axis=1, initial=0.0)
    best = scores.max(axis=1, initial=0.0)  # the top score gives the verdict unless it is other's
    tied = np.flatnonzero(other >= best)
    if len(tied):
        best[tied] = np.where(same[tied], scores[tied], 0.0).max(axis=1, initial=0.0)
    return np.where(best > 0, (best - other) / (best + 1.0), 0.0).clip(0.0, None)


def owner_scores(h: Hits, cm: ClassMaps, prod: np.ndarray) -> np.ndarray:
    """Rows x owners (platform, customer, third party): ownership lexicon votes.

    Software customers run themselves (``self_hosted``: Nextcloud, a Docker container, pm2) is
    the customer's on our hosting and servers, and a third party's from a hosted suite's point of
    view (``saas_products``): the suite runs nothing of the customer's.
    """
    s = _scores(h, cm.owner_of_class, len(OWNERS))
    saas = cm.saas_product[prod]
    s[:, 1] += np.where(saas, 0.0, s[:, 3])
    s[:, 2] += np.where(saas, s[:, 3], 0.0)
    return s[:, :3]


#: Camel-case humps of a name: three or more make an identifier (a setting, a parameter).
_HUMP = re.compile(r"[A-Z][a-z0-9]+|[A-Z]+(?![a-z])")
_NAME = re.compile(r"\b(?:[A-Z][a-z0-9]+[A-Z][A-Za-z0-9]*|[A-Z][a-z0-9]{2,}|[A-Z]{2,}[a-z]+\w*)\b")


def unknown_names(
    text: pa.Array,
    rows: np.ndarray,
    known: frozenset[str],
    max_zipf: float,
    min_len: int,
    context: frozenset[str] = frozenset(),
) -> list[str]:
    """Per row of ``rows``: the first product name nobody here knows, or "".

    Such a name is a capitalised or camel-case word that is neither an English word
    (``wordfreq`` Zipf frequency under ``max_zipf``) nor a word the signals or the ownership
    lexicon know (platform components, named products). Runs per row in Python, so the judge
    calls it only on the few unsure platform-topic rows.
    """
    out = [""] * len(rows)
    for i, t in enumerate(text.take(pa.array(rows)).to_pylist()):
        for m in _NAME.finditer(t or ""):
            name = m.group(0)
            if len(_HUMP.findall(name)) >= 3:
                continue  # OnPremisesDL, AllowRecordingStorage...: a setting or cmdlet name
            low = name.lower()
            if len(low) < min_len or low in known or not _rare(low, max_zipf):
                continue
            if context and not _near(t, m.start(), m.end(), context):
                continue
            out[i] = name
            break
    return out


def _near(text: str, start: int, end: int, context: frozenset[str], span: int = 3) -> bool:
    """Whether a word or two-word phrase of ``context`` is within ``span`` words of the name."""
    before = words_of(text[max(0, start - 80) : start])[-span:]
    after = words_of(text[end : end + 80])[:span]
    words = [*before, *after]
    pairs = {f"{a} {b}" for a, b in zip(words, words[1:], strict=False)}
    return bool(context & (set(words) | pairs))


_ZIPF: dict[str, float] = {}


def _rare(word: str, max_zipf: float) -> bool:
    z = _ZIPF.get(word)
    if z is None:
        z = _ZIPF[word] = zipf_frequency(word, "en")
    return z < max_zipf


def rule_ownership(
    topic: np.ndarray,
    margin: np.ndarray,
    owners: np.ndarray,
    prod: np.ndarray,
    cm: ClassMaps,
    keep_margin: np.ndarray | float,
) -> np.ndarray:
    """Send a platform-topic ticket to its owner's topic when the broken thing is not ours.

    A ticket whose topic is a platform component (panel, MySQL service, incidents, certificates
    we sell...) but whose text names customer or third-party software more strongly than any
    platform component, and whose topic margin is below ``keep_margin``, goes to the owner's
    topic for its product (``redirect`` in ``ownership.yaml``): third party -> third-party
    software, customer -> the customer's own scripts or server administration.
    """
    plat, cust, third = owners[:, 0], owners[:, 1], owners[:, 2]
    owner = np.where(third >= cust, 2, 1)
    strength = np.maximum(cust, third)
    # a suite ticket on the customer's-scripts topic that names a third party's software more
    # strongly than the customer's own code is about that third party's application
    contested = cm.saas_product[prod] & cm.contested_topic[topic] & (third > cust)
    movable = cm.platform_topic[topic] | contested
    moves = movable & (strength > plat) & (margin < keep_margin)
    target = cm.redirect[owner, prod]
    moves &= (target >= 0) & (target != topic)
    return np.where(moves, target, topic)


def rule_qualifier(
    h: Hits, topic: np.ndarray, vt: VerdictTable, cm: ClassMaps
) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the best scored variant of its topic, else the topic's default. (qual, cued)."""
    qual = vt.default_q[topic].copy()
    cued = np.zeros(h.n, dtype=bool)
    if not cm.n_qual:
        return qual, cued
    is_q = cm.qual_of_class[h.cls] >= 0
    qi = cm.qual_of_class[h.cls[is_q]]
    rq = h.row[is_q]
    ok = cm.qual_topic[qi] == topic[rq]  # only the variants of the ticket's own topic count
    Qn = cm.n_qual
    qscore = np.bincount(rq[ok] * Qn + qi[ok], weights=h.weight[is_q][ok], minlength=h.n * Qn)
    qscore = qscore.reshape(h.n, Qn)
    bq = qscore.argmax(axis=1)
    cued = qscore[np.arange(h.n), bq] > 0
    return np.where(cued, cm.qual_index[bq], qual), cued


def rule_colocation(labels: pd.Series, h: Hits, sig: Signals, cm: ClassMaps) -> np.ndarray:
    """True where the ticket is a colocation customer's (label or text cue)."""
    codes, uniq = pd.factorize(labels.fillna("").astype(str), sort=False)
    flag = np.array([heading_key(u) in sig.colocation_labels for u in uniq] or [False])
    colo = flag[np.maximum(codes, 0)] & (codes >= 0)
    if len(cm.colo_classes):
        colo[np.unique(h.row[np.isin(h.cls, cm.colo_classes)])] = True
    return colo


def choose_clause(
    h: Hits, prod: np.ndarray, topic: np.ndarray, qual: np.ndarray, vt: VerdictTable, cm: ClassMaps
) -> np.ndarray:
    """The clause row deciding each ticket (-1: silent); ties broken by clause cue overlap."""
    cand = vt.cand[prod, topic, qual]  # n x K
    chosen = cand[:, 0].copy()
    if cand.shape[1] < 2:
        return chosen
    multi = np.flatnonzero(cand[:, 1] >= 0)
    is_c = cm.clause_of_class[h.cls] >= 0
    if not len(multi) or not is_c.any():
        return chosen
    R = len(vt.clauses)
    in_multi = np.zeros(h.n, dtype=bool)
    in_multi[multi] = True
    is_c &= in_multi[h.row]
    key = h.row[is_c] * R + cm.clause_of_class[h.cls[is_c]]
    order = np.argsort(key, kind="stable")
    key = key[order]
    first_k = np.flatnonzero(np.diff(key, prepend=-1) != 0)
    if not len(first_k):
        return chosen
    uk = key[first_k]
    cntk = np.add.reduceat(h.raw_weight[is_c][order], first_k)
    lookup_rows = cand[multi]  # m x K
    flat_keys = multi[:, None] * R + np.where(lookup_rows >= 0, lookup_rows, 0)
    pos = np.searchsorted(uk, flat_keys).clip(0, len(uk) - 1)
    hitk = (uk[pos] == flat_keys) & (lookup_rows >= 0)
    ov = np.where(hitk, cntk[pos], 0.0)
    ov = np.where(lookup_rows >= 0, ov, -1.0)
    chosen[multi] = lookup_rows[np.arange(len(multi)), ov.argmax(axis=1)]
    return chosen


def evidence_keys(
    h: Hits, topic_raw: np.ndarray, owned: np.ndarray, sig: Signals, cm: ClassMaps, T: int
):
    """(row, entry) of the signals that decided each ticket, sorted.

    The signals of its winning topic; for a ticket the ownership rule moved (``owned`` True),
    the ownership words that moved it.
    """
    win = (cm.topic_of_class[h.cls] == topic_raw[h.row]) & (topic_raw[h.row] != T - 1)
    win = np.where(owned[h.row], cm.owner_of_class[h.cls] > 0, win)
    E = len(sig.entries)
    key = distinct(h.row[win] * E + h.entry[win])
    return key // E, key % E


def evidence_text(
    n: int,
    ev_row: np.ndarray,
    ev_entry: np.ndarray,
    entries: list[str],
    extra: dict[int, str] | None = None,
) -> pa.Array:
    """One comma-separated evidence string per row; ``extra`` adds words to some rows."""
    counts = np.bincount(ev_row, minlength=n)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    values = pa.array(entries, type=pa.string()).take(pa.array(ev_entry))
    lists = pa.ListArray.from_arrays(pa.array(offsets), values)
    text = pc.binary_join(lists, ", ")
    if not extra:
        return text
    rows = np.fromiter(extra, dtype=np.int64, count=len(extra))
    add = np.full(n, None, dtype=object)
    add[rows] = list(extra.values())
    joined = pc.binary_join_element_wise(text, pa.array(add, type=pa.string()), ", ")
    joined = pc.replace_substring_regex(joined, "^, ", "")
    return pc.coalesce(joined, text)
