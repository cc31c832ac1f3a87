"""The learned component's cheap part: a logistic regression over the signals the rules found.

The full model (:mod:`kenolib.classify.model`) reads every word of a ticket again (terms, word
vectors, character n-grams), which is worth its cost only on the tickets the rules are least
sure of. On the next band of tickets (a rule margin from ``model.below_margin`` up to
``model.signals_below`` in ``ticket_signals.yaml``) this model re-weighs what the rules already
found, learnt from the labelled tickets: which signal entries (the words and phrases of the
signals file) each ticket holds, its product, and the rules' topic scores and ownership votes.
It reads no text, so judging those tickets costs one sparse product.

Features: presence of each signal entry, scaled by ``1 / sqrt(entries in the ticket)``; the
product; :func:`kenolib.classify.model.rule_features`. Stored in the model file beside the full
model (``sig_*`` arrays) with the entries' text, so a changed signals file maps by entry text
(an entry the model never saw weighs nothing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kenolib.classify.text import distinct, row_matrix


@dataclass
class SignalModel:
    """Weights from (signal entries, product, rule features) to the full model's topics."""

    entries: list[str]  # the signal entries it was fitted on, by text
    coef: np.ndarray  # [topics, entries]
    product_coef: np.ndarray  # [topics, products]
    rule_coef: np.ndarray  # [topics, rule features]
    intercept: np.ndarray  # [topics]
    _cols: tuple[int, np.ndarray] | None = field(default=None, init=False, repr=False)
    _coef_t: np.ndarray | None = field(default=None, init=False, repr=False)
    _product_t: np.ndarray | None = field(default=None, init=False, repr=False)

    def columns(self, sig_entries: list[str]) -> np.ndarray:
        """Per entry of the signals compiled now: its column here, -1 if the model never saw it."""
        key = hash(tuple(sig_entries))
        if self._cols is None or self._cols[0] != key:
            pos = {e: i for i, e in enumerate(self.entries)}
            self._cols = (key, np.array([pos.get(e, -1) for e in sig_entries], dtype=np.int64))
        return self._cols[1]

    def present(
        self, row: np.ndarray, entry: np.ndarray, sig_entries: list[str]
    ) -> tuple[np.ndarray, np.ndarray]:
        """(row, column): every distinct known entry of each row, sorted by row."""
        col = self.columns(sig_entries)[entry]
        ok = col >= 0
        width = max(len(self.entries), 1)
        key = distinct(row[ok] * width + col[ok])
        return key // width, key % width

    def logits(
        self, row: np.ndarray, col: np.ndarray, n: int, pi: np.ndarray, rules: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(rows x topics logits, entries present per row) of ``n`` rows from their present
        entries (:meth:`present`), product indices ``pi`` (-1: none) and rule features."""
        if self._coef_t is None or self._product_t is None:
            self._coef_t = np.ascontiguousarray(self.coef.T)
            # each product's weights plus the intercept; a last row for "no product" (index -1)
            self._product_t = (
                np.vstack([self.product_coef.T, np.zeros(len(self.intercept))]) + self.intercept
            )
        counts = np.bincount(row, minlength=n)
        scale = 1.0 / np.sqrt(np.maximum(counts, 1).astype(np.float64))
        out = self._product_t[pi]
        if len(row):
            x = row_matrix(counts, col, scale[row], len(self.entries))
            out += np.asarray(x @ self._coef_t)
        if self.rule_coef.size:
            out += rules @ self.rule_coef.T
        return out, counts

    def top_entries(
        self, row: np.ndarray, col: np.ndarray, topic_cols: np.ndarray, k: int = 3
    ) -> list[str]:
        """Per row of ``topic_cols``, the ``k`` present entries that weigh most for its topic."""
        return strongest(self.coef, self.entries, row, col, topic_cols, k)


def strongest(
    coef: np.ndarray,
    names: list[str],
    row: np.ndarray,
    col: np.ndarray,
    topic_cols: np.ndarray,
    k: int = 3,
) -> list[str]:
    """Per row of ``topic_cols``: the names of the ``k`` present features (``row``, ``col``,
    sorted by row) with the largest positive weight in ``coef`` for that row's topic column,
    comma-joined (the evidence of a ticket a model moved)."""
    n = len(topic_cols)
    w = coef[topic_cols[row], col]
    pos = w > 0
    row, col, w = row[pos], col[pos], w[pos]
    order = np.lexsort((-w, row))
    row, col = row[order], col[order]
    rank = np.arange(len(row)) - np.searchsorted(row, np.arange(n))[row]
    out: list[list[str]] = [[] for _ in range(n)]
    for r, c in zip(row[rank < k].tolist(), col[rank < k].tolist(), strict=True):
        out[r].append(names[c])
    return [", ".join(x) for x in out]


def signal_design(
    row: np.ndarray, entry: np.ndarray, n: int, n_entries: int, pi: np.ndarray, n_products: int
) -> Any:
    """The training design's entry and product blocks (scipy CSR), as :meth:`SignalModel.logits`
    reads them: every signal entry is a column, every product (index ``pi``, -1: none) one."""
    from scipy import sparse

    width = max(n_entries, 1)
    key = distinct(row * width + entry)
    row, col = key // width, key % width
    counts = np.bincount(row, minlength=n).astype(np.float64)
    x_ent = sparse.csr_matrix(
        (1.0 / np.sqrt(np.maximum(counts, 1.0))[row], (row, col)), shape=(n, n_entries)
    )
    return x_ent, product_block(pi, n, n_products)


def product_block(pi: np.ndarray, n: int, width: int) -> Any:
    """A training design's product block (scipy CSR, ``n`` x ``width``): a one in each row's
    product column (``pi``; -1: no product, an empty row)."""
    from scipy import sparse

    ok = np.flatnonzero(pi >= 0)
    return sparse.csr_matrix((np.ones(len(ok)), (ok, pi[ok])), shape=(n, width))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Rows x classes probabilities of rows x classes logits (``logits`` is shifted in place)."""
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)
