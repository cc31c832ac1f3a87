"""How well the classifier reproduces labelled tickets, and the confidence fit on them.

A labelled set needs ``expected_verdict``; ``expected_topic``, ``expected_clause_id`` and
``expected_product`` are scored when present (a real-question set may carry only the verdict and
the clause).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from kenolib.classify.calibration import fit_bins, load_calibration
from kenolib.classify.judge import crossref
from kenolib.errors import KenolibError
from kenolib.schemas import VERDICTS, check_evaluate_args
from kenolib.taxonomy import UNMAPPED, Taxonomy

#: Columns a labelled set must have (besides the ticket input's own).
REQUIRED_LABELLED = ("ticket_id", "subject", "expected_verdict")


@dataclass
class Evaluation:
    """How well crossref reproduces a labelled set."""

    n: int
    verdict_accuracy: float
    topic_accuracy: float | None  # None: the set has no expected_topic
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


def equivalent_clauses(pred: pd.Series, expected: pd.Series, clauses: pd.DataFrame) -> pd.Series:
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
    check_evaluate_args(labelled, clauses)
    missing = [c for c in REQUIRED_LABELLED if c not in labelled.columns]
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
    has_topic = "expected_topic" in labelled.columns
    exp_t = (
        _blank(labelled["expected_topic"]).reset_index(drop=True)
        if has_topic
        else x["topic"].astype(str)
    )
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
        ok_c = exact | equivalent_clauses(pred_c, exp_c, clauses)
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
    cols = ["ticket_id", "product", "topic", "verdict", "clause_id", "confidence", "decided_by"]
    cols += ["evidence"]
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
        topic_accuracy=(float(ok_t.mean()) if n else 0.0) if has_topic else None,
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
                f" {getattr(r, 'expected_clause_id', '') or '-'} ({r.decided_by}) [{r.evidence}]"
            )
    return "\n".join(lines)


def fit_calibration(
    labelled: pd.DataFrame,
    clauses: pd.DataFrame,
    quantiles: tuple[float, ...] = (0.1, 0.3, 0.55, 0.8),
    taxonomy: Taxonomy | None = None,
) -> tuple[pd.DataFrame, float]:
    """Fit the confidence table on a labelled calibration set: (bin table, unmapped confidence).

    The raw margin of every mapped ticket is binned (``calibration.fit_bins``); tickets without
    any signal (topic ``unmapped``) are counted apart; with none in the set, their confidence
    stays 0.3. Only counts are used: no ticket text.
    """
    ev = evaluate(labelled, clauses, taxonomy)
    x = ev.frame
    mapped = (x["topic"] != UNMAPPED).to_numpy()
    correct = x["_correct"].to_numpy(dtype=bool)
    table = fit_bins(
        x["topic_margin"].to_numpy(dtype=np.float64)[mapped], correct[mapped], quantiles
    )
    n_un = int((~mapped).sum())
    unmapped = round((int(correct[~mapped].sum()) + 1) / (n_un + 2), 3) if n_un else 0.3
    return table, min(unmapped, float(table["accuracy"].min()))


def calibrate_confidence(
    labelled: pd.DataFrame, clauses: pd.DataFrame, edges: list[float] | None = None
) -> pd.DataFrame:
    """Observed verdict+clause accuracy per bin of the raw topic margin on a labelled set.

    A diagnostic with fixed edges (the stored table's by default). Accuracy is add-one
    smoothed, ``(correct + 1) / (tickets + 2)``.
    """
    x = evaluate(labelled, clauses).frame
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


#: Judging steps whose confidence is capped by their own accuracy on the calibration set: the
#: margin of the rules says little about a ticket another step moved.
CAPPED_DECIDERS = ("scope", "product", "ownership", "model")


def fit_decider_caps(frame: pd.DataFrame) -> dict[str, float]:
    """Per capped judging step: its add-one smoothed accuracy on an evaluated frame.

    ``frame`` is ``evaluate(...).frame``. A step that decided no ticket of the set gets 0.5:
    nothing was observed, so nothing is claimed.
    """
    out = {}
    for d in CAPPED_DECIDERS:
        m = (frame["decided_by"] == d).to_numpy()
        right = int(frame["_correct"].to_numpy(dtype=bool)[m].sum())
        out[d] = round((right + 1) / (int(m.sum()) + 2), 3)
    return out
