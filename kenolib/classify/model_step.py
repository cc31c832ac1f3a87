"""The learned step of judging: where the model weighs in on the rules' topic.

:func:`apply_model` lets the full model (:mod:`kenolib.classify.model`) read the rows the rules
are unsure of; :func:`signal_proba` gives its cheap part's view (:mod:`kenolib.classify.signal_model`)
of every row from the signals the rules found, which weighs the next band and, through
:func:`verdict_agreement`, every rule-decided verdict's confidence. Both choose a verdict first
(:func:`choose`) and move the rows they are sure enough of (:func:`move`).
:func:`kenolib.classify.judge.judge_batch` decides which rows each reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from kenolib.classify import rules as R
from kenolib.classify.model import TopicModel, model_rule_features
from kenolib.classify.signal_model import softmax
from kenolib.classify.verdicts import VERDICT_CODES, VerdictTable

#: Terms of the model a ticket the rules found nothing in needs before the model may move it.
UNMAPPED_MIN_TERMS = 2

#: (topic, margin, changed) of every row of a batch, as judging goes.
State = tuple[np.ndarray, np.ndarray, np.ndarray]


class Choice(NamedTuple):
    """What the model chose for each row it scored."""

    take: np.ndarray  # bool: the row moves to ``new``
    new: np.ndarray  # the model's topic (index in ``vt.topics``)
    gap: np.ndarray  # the chosen verdict's probability minus the next verdict's
    best: np.ndarray  # the chosen topic's column in the model
    most: np.ndarray  # the chosen verdict's probability


def _topic_columns(
    vt: VerdictTable, model: TopicModel
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(each model topic's column in ``vt.topics``, -1 if none; products x model topics: may a
    product's tickets be judged on it; its verdict code on each product)."""
    tpos = {t: i for i, t in enumerate(vt.topics)}
    cols = np.array([tpos.get(t, -1) for t in model.topics], dtype=np.int64)
    allowed = vt.topic_allowed[:, np.maximum(cols, 0)] & (cols >= 0)
    return cols, allowed, vt.verdict_code[:, np.maximum(cols, 0)]


def _verdict_mass(
    vt: VerdictTable, model: TopicModel, prod: np.ndarray, p: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(each model topic's column in ``vt.topics``, ``p`` with the topics a row's product may
    not be judged on zeroed, each topic's verdict code on the row's product, rows x verdicts
    probability in sum)."""
    cols, allowed, code = _topic_columns(vt, model)
    p = np.where(allowed[prod], p, 0.0)
    code = code[prod]  # rows x model topics
    mass = np.stack([np.where(code == v, p, 0.0).sum(axis=1) for v in range(len(VERDICT_CODES))], 1)
    return cols, p, code, mass


def verdict_agreement(
    vt: VerdictTable, model: TopicModel, prod: np.ndarray, p: Proba, verdict: np.ndarray
) -> np.ndarray:
    """The probability ``p`` gives the judged ``verdict`` (codes) on each row's product: the
    sum over the topics the product may be judged on that give it (one matrix product over
    every (product, verdict) pair, then each row's own)."""
    cols, allowed, code = _topic_columns(vt, model)
    nv = len(VERDICT_CODES)
    pairs = allowed[:, None, :] & (code[:, None, :] == np.arange(nv)[None, :, None])
    sums = p.weight @ pairs.reshape(-1, len(cols)).T.astype(np.float64)  # rows x (P * V)
    return sums[np.arange(len(prod)), prod * nv + verdict] / p.total


def choose(
    vt: VerdictTable,
    model: TopicModel,
    prod: np.ndarray,
    topic: np.ndarray,
    p: np.ndarray,
    known: np.ndarray,
    min_proba: float,
) -> Choice:
    """The model's choice for rows it scored ``p`` (rows x model topics).

    The verdict is what the ticket is judged on, so the model first chooses a verdict: the one
    its topics on the ticket's product give the most probability in sum (several refusing
    topics, each unsure, add up), then its likeliest topic giving that verdict. It takes a row
    when that verdict's probability reaches ``min_proba``, the topic differs from the rules'
    and the row holds enough of its features (``known``). The gap is the chosen verdict's
    probability minus the next verdict's."""
    cols, p, code, mass = _verdict_mass(vt, model, prod, p)
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
    return Choice(take, new, gap, best, top)


def move(
    idx: np.ndarray,
    chosen: Choice,
    decided: State,
    present: tuple[np.ndarray, np.ndarray],
    top: Callable[[np.ndarray, np.ndarray, np.ndarray], list[str]],
    extra: dict[int, str],
) -> State:
    """``decided`` with the rows ``idx[chosen.take]`` moved to the model's topic, its
    probability gap as their margin (``chosen`` is over ``idx``); the strongest of their present
    features (``present``: position in ``idx``, feature column; ranked by ``top``) become their
    ``model: ...`` evidence."""
    topic, margin, changed = (a.copy() for a in decided)
    rows = idx[chosen.take]
    topic[rows] = chosen.new[chosen.take]
    margin[rows] = chosen.gap[chosen.take]
    changed[rows] = True
    if len(rows):
        sub = np.flatnonzero(chosen.take)  # the moved rows among ``idx``
        at = np.full(len(idx), -1, dtype=np.int64)
        at[sub] = np.arange(len(sub))
        prow, pcol = present
        mine = at[prow] >= 0
        for r, w in zip(rows, top(at[prow[mine]], pcol[mine], chosen.best[sub]), strict=True):
            extra[int(r)] = f"model: {w}" if w else "model"
    return topic, margin, changed


def apply_model(
    model: TopicModel,
    vt: VerdictTable,
    found: tuple[R.Hits, np.ndarray],
    rows: np.ndarray,
    decided: State,
    extra: dict[int, str],
    rules: tuple[np.ndarray, np.ndarray],
    min_proba: float,
) -> State:
    """The full model reads ``rows`` (of the batch whose hits and product indices are
    ``found``) with the rules' topic scores and ownership votes (``rules``) among its features,
    and moves those it is sure enough of; its strongest words go to ``extra`` evidence."""
    h, prod = found
    topic = decided[0]
    products = np.array(vt.products, dtype=object)[prod[rows]]
    feats = None
    if model.rule_topics:
        feats = model_rule_features(model, vt.topics, rules[0][rows], rules[1][rows])
    p, known, present = model.scores(h.text.take(pa.array(rows)), products, feats)
    chosen = choose(vt, model, prod[rows], topic[rows], p, known, min_proba)
    return move(rows, chosen, decided, present, model.top_terms, extra)


Present = tuple[np.ndarray, np.ndarray]


class Proba(NamedTuple):
    """Topic probabilities kept as unnormalised weights (rows x model topics) and their row
    sums: most rows need only a sum over some topics (:func:`verdict_agreement`), so no cell is
    divided until :meth:`of` asks for rows."""

    weight: np.ndarray
    total: np.ndarray

    def of(self, idx: np.ndarray) -> np.ndarray:
        """The probabilities of rows ``idx``."""
        return self.weight[idx] / self.total[idx, None]


#: Logits are capped here before ``exp`` (38 topics at e^600 still sum to a finite number).
LOGIT_CAP = 600.0


def exp_weights(logits: np.ndarray) -> Proba:
    """:class:`Proba` of rows x topics ``logits`` (changed in place): ``exp`` without the row
    maximum subtracted, which costs more than the rest on a 50,000-row batch; a row whose
    weights all underflow is shifted by its maximum as :func:`softmax` does."""
    np.minimum(logits, LOGIT_CAP, out=logits)
    weight = np.exp(logits)
    total = weight @ np.ones(weight.shape[1])
    low = np.flatnonzero(~(total > 0))
    if len(low):
        weight[low] = softmax(logits[low])
        total[low] = 1.0
    return Proba(weight, total)


def signal_proba(
    model: TopicModel,
    vt: VerdictTable,
    entries: list[str],
    found: tuple[R.Hits, np.ndarray],
    rules: tuple[np.ndarray, np.ndarray],
) -> tuple[Proba, np.ndarray, Present]:
    """The cheap part's topic probabilities for every row of the batch, from the signal
    ``entries`` the rules found there; the count of its features each row holds; and the (row,
    entry) pairs present, for :func:`move` (through :func:`within`)."""
    sm = model.signal
    assert sm is not None
    h, prod = found
    row, col = sm.present(h.row, h.entry, entries)
    pidx = {p: i for i, p in enumerate(model.products)}
    pmap = np.array([pidx.get(p, -1) for p in vt.products], dtype=np.int64)
    feats = model_rule_features(model, vt.topics, rules[0], rules[1])
    logits, known = sm.logits(row, col, h.n, pmap[prod], feats)
    return exp_weights(logits), known, (row, col)


def within(present: Present, pos: np.ndarray, n: int) -> Present:
    """The (position, entry) pairs of ``present`` (positions among ``n`` rows) whose row is at
    ``pos``, renumbered as positions in ``pos``."""
    at = np.full(n, -1, dtype=np.int64)
    at[pos] = np.arange(len(pos))
    row, col = present
    mine = at[row] >= 0
    return at[row[mine]], col[mine]
