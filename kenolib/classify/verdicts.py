"""Rule 4 as a table: (product, topic, qualifier) -> the candidate clauses that decide a verdict.

Candidates are the product section's clauses of that topic whose qualifier matches or is empty,
else the overview table's; a cell with none is ``silent``. The table also holds the topics a
product reads differently (``product_topics``) and the topics a product may be judged on at all
(``product_scope``: a suite ticket is never judged on hosting-only topics).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from kenolib.errors import KenolibError
from kenolib.schemas import CLAUSE_COLUMNS, check_frame
from kenolib.taxonomy import UNKNOWN_PRODUCT, UNMAPPED, Taxonomy, load_taxonomy

#: Verdicts as small integer codes (the order of no importance; silent is "no clause").
VERDICT_CODES = {"silent": 0, "supported": 1, "not_supported": 2}


@dataclass
class VerdictTable:
    """(product, topic, qualifier) -> candidate clauses, precomputed from the clause table."""

    products: list[str]  # product ids incl. "unknown" (last)
    topics: list[str]  # taxonomy topic ids + "unmapped" (last)
    qualifiers: dict[str, list[str]]  # topic -> qualifier ids (index 0.. ; default marked)
    default_q: np.ndarray  # per topic: index of the default qualifier (0 if none)
    cand: np.ndarray  # [P, T, Qmax, K] clause row indices, -1 padded
    topic_remap: np.ndarray  # [P, T] -> topic index: product-specific meaning of a topic
    topic_allowed: np.ndarray  # [P, T] bool: topics a product's tickets may be judged on
    clauses: pd.DataFrame  # the clause table (non-notes), positional

    @functools.cached_property
    def clause_verdict(self) -> np.ndarray:
        """Verdict code per clause row (:data:`VERDICT_CODES`), one more (silent) for "none"."""
        codes = self.clauses["status"].map(VERDICT_CODES).to_numpy(dtype=np.int8)
        return np.append(codes, np.int8(VERDICT_CODES["silent"]))

    @functools.cached_property
    def verdict_code(self) -> np.ndarray:
        """[P, T] verdict code of each topic on each product, read as the product reads it and
        with the topic's default qualifier (a conditional topic's other variant is not here)."""
        T = len(self.topics)
        t = self.topic_remap  # [P, T]
        q = self.default_q[t]
        first = self.cand[np.arange(len(self.products))[:, None], t, q, 0]
        codes = self.clause_verdict
        return codes[np.where(first >= 0, first, len(codes) - 1)].reshape(-1, T)

    @functools.cached_property
    def gives_verdict(self) -> np.ndarray:
        """[P, verdicts, T] bool: the topic gives that verdict code on that product."""
        codes = np.arange(len(VERDICT_CODES))
        return self.verdict_code[:, None, :] == codes[None, :, None]

    @functools.cached_property
    def reads_as(self) -> np.ndarray:
        """[P, T, T] bool: on product p, topic column t is read as topic u (``topic_remap``)."""
        T = len(self.topics)
        return self.topic_remap[:, None, :] == np.arange(T)[None, :, None]


def verdict_table(
    clauses: pd.DataFrame, taxonomy: Taxonomy | None = None, spec: dict[str, Any] | None = None
) -> VerdictTable:
    """Candidate clauses for every (product, topic, qualifier) cell, per rule 4.

    ``spec`` is the validated signals file (its ``product_topics`` and ``product_scope``).
    """
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
    spec = spec or {}
    for pid, mapping in (spec.get("product_topics") or {}).items():
        if pid not in products:
            continue
        for a, b in (mapping or {}).items():
            if a not in tpos or b not in tpos:
                raise KenolibError(f"ticket_signals.yaml: product_topics {pid}: unknown topic")
            remap[products.index(pid), tpos[a]] = tpos[b]
    allowed = np.ones((len(products), len(topics)), dtype=bool)
    for pid, scope in (spec.get("product_scope") or {}).items():
        if pid in products:
            row = np.zeros(len(topics), dtype=bool)
            row[[tpos[t] for t in scope if t in tpos]] = True
            row[tpos[UNMAPPED]] = True
            allowed[products.index(pid)] = row
    return VerdictTable(products, topics, quals, default_q, cand, remap, allowed, cl)
