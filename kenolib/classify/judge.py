"""Judging tickets: the per-batch function and ``crossref`` over a whole frame.

``judge_batch`` applies the rules of :mod:`kenolib.classify.rules` in order to one batch of
columns and returns whole-column results; ``crossref`` runs it over batches of a frame and
assembles the CONTRACTS crossref columns. The streaming and Dask engines call ``judge_batch``
on their own batches.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from kenolib.classify import rules as R
from kenolib.classify.calibration import calibrated_confidence
from kenolib.classify.model import TopicModel, load_model, model_rule_features
from kenolib.classify.parallel import BatchPool, can_fork, check_workers
from kenolib.classify.signal_model import softmax
from kenolib.classify.signals import Signals, build_signals
from kenolib.classify.spec import below_by_product
from kenolib.classify.text import as_text
from kenolib.classify.verdicts import VERDICT_CODES, VerdictTable, verdict_table
from kenolib.schemas import CROSSREF_COLUMNS, CROSSREF_EXTRA_COLUMNS, check_crossref_args
from kenolib.taxonomy import Taxonomy, load_taxonomy, topic_labels

#: Rows judged per batch (bounds memory; the progress bar advances per batch).
BATCH_ROWS = 50_000
#: Terms of the model a ticket the rules found nothing in needs before the model may move it.
UNMAPPED_MIN_TERMS = 2
#: Threads judging batches at once (numpy and pyarrow release the GIL).
WORKERS = min(4, os.cpu_count() or 1)


@dataclass
class Judge:
    """Everything a batch is judged with, compiled once per (policy, taxonomy)."""

    sig: Signals
    vt: VerdictTable
    cm: R.ClassMaps
    model: TopicModel | None
    topic_labels: dict[str, str]
    known_words: frozenset[str]  # every word of a signal: not an unknown product name
    #: The model weighs in below this rule margin, and wins when its probability reaches
    #: ``model_min_proba`` (``ticket_signals.yaml`` ``model``; 0 disables it).
    model_below: float = 0.0
    model_min_proba: float = 1.01
    #: From ``model_below`` up to this rule margin the model's cheap part, which reads only
    #: the rules' signals (:mod:`kenolib.classify.signal_model`), weighs in the same way.
    signals_below: float = 0.0
    signals_min_proba: float = 1.01  # the probability the cheap part needs to move a ticket
    #: ``below_margin`` per product (index in ``vt.products``) where ``model_products`` sets
    #: one, NaN elsewhere (``model_below``); ``None``: ``model_below`` everywhere.
    model_below_by: np.ndarray | None = None


@functools.lru_cache(maxsize=8)
def _compiled(clauses_key: str, taxonomy_source: str) -> Judge:
    clauses = _CLAUSE_CACHE[clauses_key]
    tax = load_taxonomy(taxonomy_source or None)
    sig = build_signals(clauses, tax)
    vt = verdict_table(clauses, tax, sig.spec)
    model = load_model()
    m = sig.spec.get("model") or {}
    return Judge(
        sig=sig,
        vt=vt,
        cm=R.class_maps(sig, vt),
        model=model,
        topic_labels=topic_labels(tax),
        known_words=frozenset(w for e in sig.entries for w in e.split()),
        model_below=float(m.get("below_margin", 0.0)),
        model_min_proba=float(m.get("min_proba", 1.01)),
        signals_below=float(m.get("signals_below", 0.0)),
        signals_min_proba=float(m.get("signals_min_proba", m.get("min_proba", 1.01))),
        model_below_by=below_by_product(sig.spec["model_products"], vt.products),
    )


def model_below_at(j: Judge, prod: np.ndarray) -> np.ndarray:
    """The rule margin under which the full model reads each row (by its product index)."""
    if j.model_below_by is None:
        return np.full(len(prod), j.model_below, dtype=np.float64)
    own = j.model_below_by[prod]  # NaN: the product keeps ``model_below``
    return np.where(np.isnan(own), j.model_below, own)


_CLAUSE_CACHE: dict[str, pd.DataFrame] = {}


def compile_judge(clauses: pd.DataFrame, taxonomy: Taxonomy | None = None) -> Judge:
    """The compiled judge for a clause table (cached by the table's content)."""
    key = str(pd.util.hash_pandas_object(clauses.astype(str), index=False).sum())
    _CLAUSE_CACHE[key] = clauses
    return _compiled(key, taxonomy.source if taxonomy is not None else "")


def rule_scores(
    subject: pa.Array, body: pa.Array, labels: pd.Series, j: Judge
) -> tuple[R.Hits, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The rules' first steps: (hits, product, product source, signal scores, scores after the
    symptom rule, scores after the product-scope rule)."""
    h = R.signal_hits(subject, body, j.sig)
    prod, source = R.rule_product(labels, h, j.vt, j.cm)
    raw = R.topic_scores(h, j.vt, j.cm)
    after_symptom = R.rule_symptoms(raw, j.sig)
    return h, prod, source, raw, after_symptom, R.rule_scope(after_symptom, prod, j.vt)


def _apply_model(
    j: Judge,
    h: R.Hits,
    prod: np.ndarray,
    topic: np.ndarray,
    margin: np.ndarray,
    extra: dict[int, str],
    rules: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where the rules are unsure, the model's topic wins when it is confident enough.

    Returns (topic, margin, changed). Only the unsure rows are scored, with the rules' topic
    scores and ownership votes (``rules``) among the model's features; the model's strongest
    words for the topic it chose go to ``extra`` evidence.
    """
    changed = np.zeros(h.n, dtype=bool)
    if j.model is None or j.model_below <= 0:
        return topic, margin, changed
    unsure = np.flatnonzero(margin < model_below_at(j, prod))
    if not len(unsure):
        return topic, margin, changed
    vt = j.vt
    products = np.array(vt.products, dtype=object)[prod[unsure]]
    feats = None
    if rules is not None and j.model.rule_topics:
        feats = model_rule_features(j.model, j.vt.topics, rules[0][unsure], rules[1][unsure])
    p, known, (prow, pterm) = j.model.scores(h.text.take(pa.array(unsure)), products, feats)
    chosen = _choose(j, j.model, prod[unsure], topic[unsure], p, known, j.model_min_proba)
    return _move(unsure, chosen, (topic, margin, changed), (prow, pterm), j.model.top_terms, extra)


def _move(
    idx: np.ndarray,
    chosen: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    decided: tuple[np.ndarray, np.ndarray, np.ndarray],
    present: tuple[np.ndarray, np.ndarray],
    top: Callable[[np.ndarray, np.ndarray, np.ndarray], list[str]],
    extra: dict[int, str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(topic, margin, changed) with the rows ``idx[take]`` moved to the model's topic, its
    probability gap as their margin (``chosen``: :func:`_choose`'s result over ``idx``); the
    strongest of their present features (``present``: position in ``idx``, feature column;
    ranked by ``top``) become their ``model: ...`` evidence."""
    take, new, gap, best = chosen
    topic, margin, changed = (a.copy() for a in decided)
    rows = idx[take]
    topic[rows] = new[take]
    margin[rows] = gap[take]
    changed[rows] = True
    if len(rows):
        sub = np.flatnonzero(take)  # the moved rows among ``idx``
        at = np.full(len(idx), -1, dtype=np.int64)
        at[sub] = np.arange(len(sub))
        prow, pcol = present
        mine = at[prow] >= 0
        for r, w in zip(rows, top(at[prow[mine]], pcol[mine], best[sub]), strict=True):
            extra[int(r)] = f"model: {w}" if w else "model"
    return topic, margin, changed


def _choose(
    j: Judge,
    model: TopicModel,
    prod: np.ndarray,
    topic: np.ndarray,
    p: np.ndarray,
    known: np.ndarray,
    min_proba: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(take, new topic, verdict probability gap, model column) of rows the model scored ``p``.

    The verdict is what the ticket is judged on, so the model first chooses a verdict: the one
    its topics on the ticket's product give the most probability in sum (several refusing
    topics, each unsure, add up), then its likeliest topic giving that verdict. It takes a row
    when that verdict's probability reaches ``min_proba``, the topic differs from the rules'
    and the row holds enough of its features (``known``). The gap is the chosen verdict's
    probability minus the next verdict's."""
    vt = j.vt
    tpos = {t: i for i, t in enumerate(vt.topics)}
    cols = np.array([tpos.get(t, -1) for t in model.topics], dtype=np.int64)
    allowed = vt.topic_allowed[:, np.maximum(cols, 0)] & (cols >= 0)  # products x model topics
    p = np.where(allowed[prod], p, 0.0)
    code = vt.verdict_code[:, np.maximum(cols, 0)][prod]  # rows x model topics
    mass = np.stack([np.where(code == v, p, 0.0).sum(axis=1) for v in range(len(VERDICT_CODES))], 1)
    verdict = mass.argmax(axis=1)
    best = np.where(code == verdict[:, None], p, -1.0).argmax(axis=1)
    n = len(p)
    top = mass[np.arange(n), verdict]
    mass[np.arange(n), verdict] = -1
    gap = top - mass.max(axis=1).clip(0, None)
    new = cols[best]
    # a ticket needs one of the model's terms (word vectors alone are no evidence of a topic),
    # two when the rules found nothing ("http" in a pasted formula and look-alike n-grams)
    need = np.where(topic == len(vt.topics) - 1, UNMAPPED_MIN_TERMS, 1)
    take = (top >= min_proba) & (new != topic) & (known >= need)
    return take, new, gap, best


def _apply_signal_model(
    j: Judge,
    h: R.Hits,
    prod: np.ndarray,
    band: np.ndarray,
    decided: tuple[np.ndarray, np.ndarray, np.ndarray],
    extra: dict[int, str],
    rules: tuple[np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The model's cheap part on the ``band`` rows (rule margin from ``model_below`` to
    ``signals_below``): as :func:`_apply_model`, from the signals the rules found.

    ``decided`` is (topic, margin, changed) so far; returns them updated."""
    topic, margin, changed = decided
    model = j.model
    sm = model.signal if model is not None else None
    if model is None or sm is None or not len(band) or j.model_below <= 0:
        return topic, margin, changed
    at = np.full(h.n, -1, dtype=np.int64)  # each row's position in ``band``, -1 outside it
    at[band] = np.arange(len(band))
    mine = at[h.row] >= 0
    row, col = sm.present(at[h.row[mine]], h.entry[mine], j.sig.entries)
    pidx = {p: i for i, p in enumerate(model.products)}
    pmap = np.array([pidx.get(p, -1) for p in j.vt.products], dtype=np.int64)
    feats = model_rule_features(model, j.vt.topics, rules[0][band], rules[1][band])
    logits, known = sm.logits(row, col, len(band), pmap[prod[band]], feats)
    p = softmax(logits)
    chosen = _choose(j, model, prod[band], topic[band], p, known, j.signals_min_proba)
    return _move(band, chosen, (topic, margin, changed), (row, col), sm.top_entries, extra)


def _owners(
    j: Judge,
    h: R.Hits,
    owners: np.ndarray,
    topic: np.ndarray,
    margin: np.ndarray,
    extra: dict[int, str],
) -> np.ndarray:
    """Owner votes per row; unsure platform-topic rows without any also get the unknown-name
    test (a name found is a third-party vote, and is added to ``extra`` evidence). The test does
    not reach a suite's contested topics, where a library the customer's own code uses
    (PHPMailer) is named as often as a third party's product."""
    owners = owners.copy()
    own = j.sig.ownership
    ask = np.flatnonzero(
        j.cm.platform_topic[topic]
        & (margin < float(own["min_margin_keep"]))
        & (owners.max(axis=1) == 0)
    )
    if len(ask):
        named = R.unknown_names(
            h.text,
            ask,
            j.known_words,
            float(own["unknown_name_max_zipf"]),
            int(own["unknown_name_min_length"]),
            frozenset(own["unknown_name_context"]),
        )
        for row, name in zip(ask, named, strict=True):
            if name:
                owners[row, 2] = float(own["weight"])
                extra[int(row)] = f"{name} (unknown product)"
    return owners


def judge_batch(subject: pa.Array, body: pa.Array, labels: pd.Series, j: Judge) -> dict[str, Any]:
    """Judge one batch: product, topic, qualifier, clause, margin, decided_by (arrays), the
    evidence keys and ``ev_extra`` (row -> extra evidence words, for the few rows moved by the
    ownership rule or the model)."""
    sig, vt, cm = j.sig, j.vt, j.cm
    T = len(vt.topics)
    h, prod, source, raw, after_symptom, scoped = rule_scores(subject, body, labels, j)
    signals_topic, symptom_topic = R.top_topic(raw), R.top_topic(after_symptom)
    topic, margin, _ = R.pick_topic(scoped)
    decided = np.where(signals_topic != symptom_topic, R.D["symptom"], R.D["signals"])
    decided = np.where(topic != symptom_topic, R.D["scope"], decided)
    topic_raw = topic
    topic = vt.topic_remap[prod, topic]
    own = sig.ownership
    decided = np.where(topic != topic_raw, R.D["product"], decided)
    extra: dict[int, str] = {}
    lexicon = R.owner_scores(h, cm, prod)
    named = lexicon[:, 1:].max(axis=1) > 0  # the lexicon named customer or third-party software
    keep = np.where(named, float(own["min_margin_keep_named"]), float(own["min_margin_keep"]))
    owners = _owners(j, h, lexicon, topic, margin, extra)
    owned = R.rule_ownership(topic, margin, owners, prod, cm, keep)
    moved = owned != topic
    extra = {r: w for r, w in extra.items() if moved[r]}
    decided = np.where(moved, R.D["ownership"], decided)
    rules = (scoped, lexicon)
    below = model_below_at(j, prod)
    band = np.flatnonzero((margin >= below) & (margin < j.signals_below))
    decided_m = _apply_model(j, h, prod, owned, margin, extra, rules)
    topic, margin, by_model = _apply_signal_model(j, h, prod, band, decided_m, extra, rules)
    topic = vt.topic_remap[prod, topic]
    decided = np.where(by_model, R.D["model"], decided)
    qual, cued = R.rule_qualifier(h, topic, vt, cm)
    conditional = vt.cand[prod, topic, 0, 0] != vt.cand[prod, topic, qual, 0]
    decided = np.where(cued & conditional & ~by_model, R.D["qualifier"], decided)
    colo = R.rule_colocation(labels, h, sig, cm)
    chosen = R.choose_clause(h, prod, topic, qual, vt, cm)
    is_colo = colo & (topic == cm.hardware)
    chosen = np.where(is_colo, -1, chosen)
    decided = np.where(is_colo, R.D["colocation"], decided)
    decided = np.where(topic == T - 1, R.D["no_signal"], decided)
    ev_row, ev_entry = R.evidence_keys(
        h, np.where(by_model, T - 1, topic_raw), moved & ~by_model, sig, cm, T
    )
    verdict = vt.clause_verdict[np.where(chosen >= 0, chosen, len(vt.clause_verdict) - 1)]
    sure = np.where(
        (decided == R.D["model"]) | (decided == R.D["ownership"]),
        margin,
        R.verdict_margin(scoped, prod, topic, verdict, vt),
    )
    conf = calibrated_confidence(sure, sig.calibration)
    conf = conf * np.array([sig.decider_scales.get(d, 1.0) for d in R.DECIDERS])[decided]
    vscales = np.ones(len(VERDICT_CODES))
    for v, scale in sig.verdict_scales.items():
        vscales[VERDICT_CODES[v]] = scale
    conf = np.where(decided == R.D["colocation"], conf, conf * vscales[verdict])
    conf = np.where(topic == T - 1, sig.unmapped_confidence, conf)
    return {
        "product": prod,
        "product_source": source,
        "topic": topic,
        "qualifier": qual,
        "clause": chosen,
        "margin": margin,
        "verdict_margin": sure,
        "confidence": conf,
        "decided_by": decided,
        "ev_row": ev_row,
        "ev_entry": ev_entry,
        "ev_extra": extra,
    }


def _take(values: list[str], idx: pa.Array | np.ndarray) -> pd.Series:
    arr = pa.array(values, type=pa.string()).take(pa.array(idx))
    return pd.Series(pd.arrays.ArrowStringArray(arr))


def result_frame(res: dict[str, np.ndarray], evidence: pa.ChunkedArray, j: Judge) -> pd.DataFrame:
    """The CONTRACTS crossref columns (plus extras) from concatenated batch results."""
    vt, sig = j.vt, j.sig
    cl = vt.clauses
    chosen = res["clause"]
    clause_idx = pa.array(np.where(chosen >= 0, chosen, len(cl)))  # last row: no clause

    def clause_col(col: str) -> pd.Series:
        return _take([*cl[col].astype(str).tolist(), ""], clause_idx)

    qmax = vt.cand.shape[2]
    qual_values = [
        (vt.qualifiers.get(t) or [])[q] if q < len(vt.qualifiers.get(t) or []) else ""
        for t in vt.topics
        for q in range(qmax)
    ]
    conf = np.round(res["confidence"], 3)
    return pd.DataFrame(
        {
            "product": _take(vt.products, res["product"]),
            "topic": _take(vt.topics, res["topic"]),
            "verdict": _take([*cl["status"].astype(str).tolist(), "silent"], clause_idx),
            "clause_id": clause_col("clause_id"),
            "clause_product": clause_col("product"),
            "clause_heading": clause_col("heading"),
            "clause_text": clause_col("text"),
            "confidence": conf,
            "evidence": pd.Series(pd.arrays.ArrowStringArray(evidence)),
            "decided_by": _take(list(R.DECIDERS), res["decided_by"]),
            "needs_review": conf < sig.review_below,
            "product_source": _take(["none", "label", "text"], res["product_source"]),
            "topic_label": _take(
                [j.topic_labels.get(t, "Unmapped") for t in vt.topics], res["topic"]
            ),
            "qualifier": _take(qual_values, res["topic"] * qmax + res["qualifier"]),
            "topic_margin": np.round(res["margin"], 4),
            "verdict_margin": np.round(res["verdict_margin"], 4),
        }
    )


def judge_columns(
    subject: pa.Array, body: pa.Array, labels: pd.Series, j: Judge
) -> tuple[dict[str, np.ndarray], pa.Array]:
    """``judge_batch`` with its evidence keys made the evidence text: the judged arrays of a
    batch (product, topic, clause ... as codes) and the evidence strings."""
    res = judge_batch(subject, body, labels, j)
    ev = R.evidence_text(
        len(subject), res.pop("ev_row"), res.pop("ev_entry"), j.sig.entries, res.pop("ev_extra")
    )
    return res, ev


def _labels(tickets: pd.DataFrame) -> pd.Series:
    if "product" in tickets.columns:
        return tickets["product"]
    return pd.Series("", index=tickets.index)


def _text_batch(tickets: pd.DataFrame, start: int, stop: int) -> pa.RecordBatch:
    """What a worker process needs to judge rows ``start:stop``: subject, body, label text."""
    body = tickets["body"] if "body" in tickets.columns else pd.Series("", index=tickets.index)
    # the rules read labels as ``fillna("").astype(str)``: the same text, sent as strings
    labels = _labels(tickets).iloc[start:stop].fillna("").astype(str)
    return pa.record_batch(
        {
            "subject": as_text(tickets["subject"].iloc[start:stop]),
            "body": as_text(body.iloc[start:stop]),
            "label": as_text(labels),
        }
    )


def _judge_record(batch: pa.RecordBatch, j: Judge) -> pa.RecordBatch:
    """A worker's job: judge a :func:`_text_batch`; the codes and evidence as a record batch."""
    labels = pd.Series(batch.column("label").to_pandas(), dtype=object)
    res, ev = judge_columns(batch.column("subject"), batch.column("body"), labels, j)
    return pa.record_batch({**{k: pa.array(v) for k, v in res.items()}, "evidence": ev})


def _from_record(batch: pa.RecordBatch) -> tuple[dict[str, np.ndarray], pa.Array]:
    res = {
        name: batch.column(i).to_numpy(zero_copy_only=False)
        for i, name in enumerate(batch.schema.names)
        if name != "evidence"
    }
    return res, batch.column("evidence")


@contextlib.contextmanager
def judge_pool(j: Judge, workers: int | None = 1) -> Iterator[BatchPool | None]:
    """Worker processes judging with ``j`` (``None`` for one worker, or where processes cannot
    be forked: judging then stays in this process)."""
    n = check_workers(workers)
    if n <= 1 or not can_fork():
        yield None
        return
    if j.model is not None:
        j.model.prepare()  # compiled once here, inherited by every forked worker
    with BatchPool(functools.partial(_judge_record, j=j), n) as pool:
        yield pool


def _parts(
    tickets: pd.DataFrame, j: Judge, starts: list[int], pool: BatchPool | None
) -> Iterator[tuple[int, dict[str, Any], pa.Array]]:
    """(rows, judged arrays, evidence) of every ``BATCH_ROWS`` slice of ``tickets``, in order."""
    n = len(tickets)
    if pool is not None:
        slices = (_text_batch(tickets, s, min(n, s + BATCH_ROWS)) for s in starts)
        for out in pool.imap(slices):
            res, ev = _from_record(out)
            yield len(ev), res, ev
        return
    labels, body = _labels(tickets), tickets.get("body", pd.Series("", index=tickets.index))

    def run(start: int) -> tuple[int, dict[str, Any], pa.Array]:
        stop = min(n, start + BATCH_ROWS)
        res, ev = judge_columns(
            as_text(tickets["subject"].iloc[start:stop]),
            as_text(body.iloc[start:stop]),
            labels.iloc[start:stop],
            j,
        )
        return stop - start, res, ev

    with ThreadPoolExecutor(max_workers=max(1, min(WORKERS, len(starts)))) as threads:
        yield from threads.map(run, starts)


def _judge_frame(
    tickets: pd.DataFrame,
    j: Judge,
    progress: Callable[[int], None] | None,
    workers: int | None = 1,
) -> tuple[dict[str, np.ndarray], pa.ChunkedArray]:
    parts: dict[str, list[np.ndarray]] = {}
    evidence: list[pa.Array] = [pa.array([], type=pa.string())]
    starts = list(range(0, len(tickets), BATCH_ROWS)) or [0]
    with judge_pool(j, workers if len(starts) > 1 else 1) as pool:
        for done, res, ev in _parts(tickets, j, starts, pool):
            evidence.append(ev)
            for k, v in res.items():
                parts.setdefault(k, []).append(v)
            if progress is not None and done:
                progress(done)
    res = {k: np.concatenate(v) for k, v in parts.items()}
    return res, pa.chunked_array(evidence, type=pa.string())


def crossref(
    tickets: pd.DataFrame,
    clauses: pd.DataFrame,
    taxonomy: Taxonomy | None = None,
    progress: Callable[[int], None] | None = None,
    judge: Judge | None = None,
    workers: int | None = None,
) -> pd.DataFrame:
    """Every ticket with its product, topic, verdict and the clause that decided (CONTRACTS).

    Returns the input rows (same order and count, original columns kept) with the crossref
    columns first. The ticket's own ``product`` label moves to ``product_label``. ``progress``
    is called with the number of rows done after each batch. ``judge`` replaces the compiled
    judge of ``clauses`` (e.g. with another model, for cross-validation). ``workers`` processes
    judge the batches of a frame of more than one batch (``None``: one per usable core; 1: all
    in this process, on threads).
    """
    check_crossref_args(tickets, clauses)
    j = judge or compile_judge(clauses, taxonomy)
    res, evidence = _judge_frame(tickets, j, progress, workers)
    return _assemble(tickets, res, evidence, j)


def crossref_batches(
    frames: Iterable[pd.DataFrame],
    clauses: pd.DataFrame,
    judge: Judge | None = None,
    pool: BatchPool | None = None,
) -> Iterator[pd.DataFrame]:
    """``crossref`` of every frame, in order; judged on ``pool`` (:func:`judge_pool`) if given,
    with a bounded number of frames in flight."""
    j = judge or compile_judge(clauses)
    if pool is None:
        for frame in frames:
            yield crossref(frame, clauses, judge=j, workers=1)
        return
    held: deque[pd.DataFrame] = deque()

    def sent() -> Iterator[pa.RecordBatch]:
        for frame in frames:
            check_crossref_args(frame, clauses)
            held.append(frame)
            yield _text_batch(frame, 0, len(frame))

    for out in pool.imap(sent()):
        frame = held.popleft()
        res, ev = _from_record(out)
        yield _assemble(frame, res, pa.chunked_array([ev], type=pa.string()), j)


def _assemble(
    tickets: pd.DataFrame, res: dict[str, np.ndarray], evidence: pa.ChunkedArray, j: Judge
) -> pd.DataFrame:
    """The crossref frame: judged columns, ``ticket_id`` and ``product_label``, then the rest."""
    judged = result_frame(res, evidence, j)
    ids = tickets["ticket_id"]
    if not isinstance(ids.dtype, pd.StringDtype):
        ids = ids.astype("string[pyarrow]")
    labels = _labels(tickets)
    if not isinstance(labels.dtype, pd.StringDtype):
        labels = labels.astype("string[pyarrow]")
    judged.insert(0, "ticket_id", ids.reset_index(drop=True))
    judged.insert(
        judged.columns.get_loc("product_source"),
        "product_label",
        labels.fillna("").reset_index(drop=True),
    )
    return _with_ticket_columns(judged, tickets)


def _with_ticket_columns(judged: pd.DataFrame, tickets: pd.DataFrame) -> pd.DataFrame:
    """The ticket's own columns after the crossref ones; a clashing name becomes source_<name>."""
    taken = set(CROSSREF_COLUMNS) | set(CROSSREF_EXTRA_COLUMNS)
    rest = tickets.drop(columns=[c for c in ("ticket_id", "product") if c in tickets.columns])
    renames: dict[str, str] = {}
    for c in rest.columns:
        if c in taken:
            new = f"source_{c}"
            while new in rest.columns or new in taken or new in renames.values():
                new = f"source_{new}"
            renames[c] = new
    rest = rest.rename(columns=renames).reset_index(drop=True)
    result = pd.concat([judged, rest], axis=1)
    result.attrs = dict(tickets.attrs)
    return result
