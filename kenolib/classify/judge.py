"""Judging tickets: the per-batch function and ``crossref`` over a whole frame.

``judge_batch`` applies the rules of :mod:`kenolib.classify.rules` in order to one batch of
columns and returns whole-column results; ``crossref`` runs it over batches of a frame and
assembles the CONTRACTS crossref columns. The streaming and Dask engines call ``judge_batch``
on their own batches.
"""

from __future__ import annotations

import contextlib
import dataclasses
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

from kenolib.classify import confidence_model as CM
from kenolib.classify import model_step as MS
from kenolib.classify import rules as R
from kenolib.classify.calibration import agreement_scaled, calibrated_confidence
from kenolib.classify.model import TopicModel, load_model
from kenolib.classify.parallel import BatchPool, can_fork, check_workers, single_threaded_blas
from kenolib.classify.signals import Signals, build_signals
from kenolib.classify.spec import below_by_product, model_settings
from kenolib.classify.text import as_text
from kenolib.classify.verdicts import VERDICT_CODES, VerdictTable, verdict_table
from kenolib.errors import KenolibError
from kenolib.schemas import CROSSREF_COLUMNS, CROSSREF_EXTRA_COLUMNS, check_crossref_args
from kenolib.taxonomy import Taxonomy, load_taxonomy, topic_labels

#: Rows judged per batch (bounds memory; the progress bar advances per batch).
BATCH_ROWS = 50_000
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
    #: A band row whose cheap part gives no verdict this much probability is read by the full
    #: model instead (0: never).
    signals_gate: float = 0.0
    #: ``below_margin`` per product (index in ``vt.products``) where ``model_products`` sets
    #: one, NaN elsewhere (``model_below``); ``None``: ``model_below`` everywhere.
    model_below_by: np.ndarray | None = None
    #: The confidence model (``calibration.yaml`` ``confidence_model``) the chain's confidence
    #: is read through; ``None``: the chain's confidence is the verdict's.
    confidence_model: CM.ConfidenceModel | None = None


@functools.lru_cache(maxsize=8)
def _rules_judge(clauses_key: str, taxonomy_source: str) -> Judge:
    """The judge without its learned model: the signals, verdict table and settings."""
    clauses = _CLAUSE_CACHE[clauses_key]
    tax = load_taxonomy(taxonomy_source or None)
    sig = build_signals(clauses, tax)
    vt = verdict_table(clauses, tax, sig.spec)
    m = model_settings(sig.spec)
    return Judge(
        sig=sig,
        vt=vt,
        cm=R.class_maps(sig, vt),
        model=None,
        topic_labels=topic_labels(tax),
        known_words=frozenset(w for e in sig.entries for w in e.split()),
        model_below=m["below_margin"],
        model_min_proba=m["min_proba"],
        signals_below=m["signals_below"],
        signals_min_proba=m["signals_min_proba"],
        signals_gate=m["signals_gate"],
        model_below_by=below_by_product(sig.spec["model_products"], vt.products),
        confidence_model=CM.from_doc(sig.confidence_model_doc),
    )


@functools.lru_cache(maxsize=8)
def _compiled(clauses_key: str, taxonomy_source: str) -> Judge:
    """:func:`_rules_judge` with the stored model: the rules are compiled once for both."""
    return dataclasses.replace(_rules_judge(clauses_key, taxonomy_source), model=load_model())


def model_below_at(j: Judge, prod: np.ndarray) -> np.ndarray:
    """The rule margin under which the full model reads each row (by its product index)."""
    if j.model_below_by is None:
        return np.full(len(prod), j.model_below, dtype=np.float64)
    own = j.model_below_by[prod]  # NaN: the product keeps ``model_below``
    return np.where(np.isnan(own), j.model_below, own)


_CLAUSE_CACHE: dict[str, pd.DataFrame] = {}


def compile_judge(
    clauses: pd.DataFrame, taxonomy: Taxonomy | None = None, *, with_model: bool = True
) -> Judge:
    """The compiled judge for a clause table (cached by the table's content). Training passes
    ``with_model=False``: it reads the rules only, so the stored model is not loaded (it may
    be stale, for example fitted with the word vectors being replaced)."""
    key = str(pd.util.hash_pandas_object(clauses.astype(str), index=False).sum())
    _CLAUSE_CACHE[key] = clauses
    return (_compiled if with_model else _rules_judge)(
        key, taxonomy.source if taxonomy is not None else ""
    )


def _steps(names: tuple[str, ...]) -> np.ndarray:
    """The codes of judging steps named in the calibration (an unknown name is refused)."""
    bad = sorted(set(names) - set(R.D))
    if bad:
        raise KenolibError(
            f"calibration.yaml: agreement_scales names unknown judging step(s) {bad};"
            f" use {list(R.DECIDERS)}"
        )
    return np.array([R.D[n] for n in names], dtype=np.int64)


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


def _apply_learned(
    j: Judge,
    h: R.Hits,
    prod: np.ndarray,
    decided: tuple[np.ndarray, np.ndarray],
    below: np.ndarray,
    extra: dict[int, str],
    rules: tuple[np.ndarray, np.ndarray],
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], MS.Proba | None]:
    """(topic, margin, changed) after the learned step (:mod:`kenolib.classify.model_step`),
    and the cheap part's topic probabilities of every row (``None`` without it).

    The full model reads the rows whose rule margin (``decided``: topic, margin) is under
    ``below``; its cheap part weighs the band from there up to ``signals_below`` and hands the
    band rows it is unsure of (no verdict reaching ``signals_gate``) to the full model too."""
    topic, margin = decided
    state = (topic, margin, np.zeros(h.n, dtype=bool))
    model = j.model
    if model is None or j.model_below <= 0:
        return state, None
    band = np.flatnonzero((margin >= below) & (margin < j.signals_below))
    cheap, p_all = None, None
    if model.signal is not None:
        # every row: the band's choice, and every verdict's agreement for the confidence
        p_all, known, present = MS.signal_proba(model, j.vt, j.sig.entries, (h, prod), rules)
        if len(band):
            chosen = MS.choose(
                j.vt,
                model,
                prod[band],
                topic[band],
                p_all.of(band),
                known[band],
                j.signals_min_proba,
            )
            cheap = (chosen, MS.within(present, band, h.n))
    read = margin < below
    if cheap is not None and j.signals_gate > 0:
        gate = cheap[0].most < j.signals_gate
        read[band[gate]] = True
        cheap = (cheap[0]._replace(take=cheap[0].take & ~gate), cheap[1])
    unsure = np.flatnonzero(read)
    if len(unsure):
        state = MS.apply_model(
            model, j.vt, (h, prod), unsure, state, extra, rules, j.model_min_proba
        )
    if cheap is not None:
        assert model.signal is not None
        state = MS.move(band, cheap[0], state, cheap[1], model.signal.top_entries, extra)
    return state, p_all


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
    (topic, margin, by_model), cheap_p = _apply_learned(
        j, h, prod, (owned, margin), below, extra, rules
    )
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
    agree = np.full(len(prod), np.nan)
    if cheap_p is not None and j.model is not None:
        agree = MS.verdict_agreement(vt, j.model, prod, cheap_p, verdict)
    conf = agreement_scaled(conf, agree, np.isin(decided, _steps(sig.agreement[2])), sig.agreement)
    vscales = np.ones(len(VERDICT_CODES))
    for v, scale in sig.verdict_scales.items():
        vscales[VERDICT_CODES[v]] = scale
    conf = np.where(decided == R.D["colocation"], conf, conf * vscales[verdict])
    if j.confidence_model is not None:
        traits = CM.judged_traits(conf, sure, agree, margin, decided, verdict)
        conf = j.confidence_model.confidence(traits)
    conf = np.where(topic == T - 1, sig.unmapped_confidence, conf)
    return {
        "product": prod,
        "product_source": source,
        "topic": topic,
        "qualifier": qual,
        "clause": chosen,
        "margin": margin,
        "verdict_margin": sure,
        "agreement": agree,
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
            "model_agreement": np.round(res["agreement"], 3),
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
    # BLAS on one thread where batches fan out (worker processes hold it for their whole life)
    with single_threaded_blas(), judge_pool(j, workers if len(starts) > 1 else 1) as pool:
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
