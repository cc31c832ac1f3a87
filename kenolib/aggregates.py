"""Aggregates of a judged ticket frame: pure functions from the crossref frame to small tables.

Each takes the frame ``crossref`` returns (CONTRACTS crossref columns) and returns a DataFrame
whose columns are declared in :mod:`kenolib.schemas`.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd

from kenolib.errors import KenolibError
from kenolib.schemas import (
    CROSSREF_COLUMNS,
    MONTHLY_OUT_OF_SCOPE_COLUMNS,
    OUT_OF_SCOPE_HOURS_COLUMNS,
    SILENT_TOPIC_COLUMNS,
    TICKETS_BY_TOPIC_COLUMNS,
    VERDICT_BY_PRODUCT_COLUMNS,
    check_frame,
)
from kenolib.taxonomy import UNKNOWN_PRODUCT, product_ids, topic_labels


def _minutes(xref: pd.DataFrame) -> pd.Series:
    if "agent_minutes" in xref.columns:
        return pd.to_numeric(xref["agent_minutes"], errors="coerce").fillna(0.0)
    return pd.Series(0.0, index=xref.index)


def effort_recorded(xref: pd.DataFrame) -> bool:
    """Whether any ticket has an agent-time figure (else hours and cost are "not recorded")."""
    if "agent_minutes" not in xref.columns:
        return False
    return bool(pd.to_numeric(xref["agent_minutes"], errors="coerce").notna().any())


def _product_order(values: pd.Series) -> list[str]:
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


def monthly_totals(monthly: pd.DataFrame, min_tickets: int = 1) -> pd.DataFrame:
    """All products together, per month of :func:`monthly_out_of_scope`: month (first day),
    tickets, out_of_scope and share, empty months kept (0 tickets); the share is left empty for
    months with fewer than ``min_tickets`` tickets (too few to read). Undated tickets dropped."""
    m = monthly.dropna(subset=["month"])
    if not len(m):
        return pd.DataFrame({"month": [], "tickets": [], "out_of_scope": [], "share": []})
    g = m.groupby("month")[["tickets", "out_of_scope"]].sum()
    g = g.reindex(pd.date_range(g.index.min(), g.index.max(), freq="MS"), fill_value=0)
    share = g["out_of_scope"] / g["tickets"].where(g["tickets"] >= max(min_tickets, 1))
    out = g.astype("int64").rename_axis("month").reset_index()
    out["share"] = share.round(4).to_numpy()
    return out


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
    labels = topic_labels()
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


#: Share of a wrong verdict whose truth is "not supported" when the classifier said otherwise
#: (measured on the labelled sets: most errors grant support the policy refuses).
MISSED_NOT_SUPPORTED = 0.5


def out_of_scope_estimate(
    xref: pd.DataFrame, hourly_rate: float | None = None, z: float = 1.96
) -> pd.DataFrame:
    """The out-of-scope share with a range that reflects the verdicts' confidence.

    Each ticket judged ``not_supported`` is out of scope with probability ``confidence``; each
    other ticket with probability ``(1 - confidence) * MISSED_NOT_SUPPORTED``. The expected
    count is the sum of these probabilities; the range adds ``z`` standard deviations of that
    sum (a Poisson-binomial), widened by the calibration's own uncertainty (the confidence of a
    bin is known to a few points: 5 % of the expected count each way). Agent hours and cost get
    the same treatment with each ticket's minutes as its weight.

    Returns one row: tickets, out_of_scope (as judged), share, expected, low, high (counts),
    share_low, share_high, hours, hours_low, hours_high and, with a rate, cost, cost_low,
    cost_high.
    """
    x = _check_xref(xref)
    judged = (x["verdict"] == "not_supported").to_numpy()
    sums = estimate_sums(x["confidence"], judged, _minutes(x).to_numpy() / 60)
    return estimate_from_sums(sums, hourly_rate, z)


class ExactSum:
    """A sum of floats kept exactly, so any split of the values into batches, added in any
    order, gives the same total to the last bit (float sums depend on their order).

    Each value is ``mantissa * 2**exponent`` with an integer mantissa (``np.frexp``); the
    mantissas are summed per exponent as integers, vectorised: each is split in two 26/27-bit
    halves whose ``np.bincount`` sums stay below 2**53, exact in float64, for 2**24 values a call.
    """

    _CHUNK = 1 << 24

    def __init__(self, values: np.ndarray | None = None) -> None:
        self.total = 0  # the exact sum, in units of 2**self.exp
        self.exp = 0
        if values is not None:
            v = np.asarray(values, dtype=np.float64)
            for start in range(0, len(v), self._CHUNK):
                self._add_values(v[start : start + self._CHUNK])

    def _add_values(self, v: np.ndarray) -> None:
        v = v[v != 0]
        if not len(v):
            return
        if not np.isfinite(v).all():
            raise KenolibError("a sum of the estimate met a value that is not a finite number")
        m, e = np.frexp(v)
        mant = (m * float(1 << 53)).astype(np.int64)  # exact: |m| < 1 has 53 significant bits
        e = e.astype(np.int64) - 53
        low = int(e.min())
        idx = e - low
        hi = np.bincount(idx, weights=(mant >> 26).astype(np.float64))
        lo = np.bincount(idx, weights=(mant & ((1 << 26) - 1)).astype(np.float64))
        total = 0
        for k in np.flatnonzero((hi != 0) | (lo != 0)).tolist():
            total += ((int(hi[k]) << 26) + int(lo[k])) << k
        self._add(total, low)

    def _add(self, total: int, exp: int) -> None:
        if exp < self.exp:
            self.total <<= self.exp - exp
            self.exp = exp
        self.total += total << (exp - self.exp)

    def __iadd__(self, other: ExactSum) -> ExactSum:
        self._add(other.total, other.exp)
        return self

    def __float__(self) -> float:
        return float(Fraction(self.total) * Fraction(2) ** self.exp)


def estimate_sums(
    confidence: pd.Series, judged: np.ndarray, hours: np.ndarray
) -> dict[str, ExactSum]:
    """The sums :func:`estimate_from_sums` needs (``n``, ``judged``, ``p``, ``pq``, ``ph``,
    ``pqhh``, ``hours_judged``) of one frame or batch, exact: batches add up to the whole."""
    conf = pd.to_numeric(confidence, errors="coerce").fillna(0.5).clip(0, 1).to_numpy()
    p = np.where(judged, conf, (1 - conf) * MISSED_NOT_SUPPORTED)
    q = p * (1 - p)
    return {
        "n": ExactSum(np.ones(len(p))),
        "judged": ExactSum(judged.astype(np.float64)),
        "p": ExactSum(p),
        "pq": ExactSum(q),
        "ph": ExactSum(p * hours),
        "pqhh": ExactSum(q * hours * hours),
        "hours_judged": ExactSum(hours[judged]),
    }


def estimate_from_sums(
    exact: dict[str, ExactSum], hourly_rate: float | None = None, z: float = 1.96
) -> pd.DataFrame:
    """The :func:`out_of_scope_estimate` row from its :func:`estimate_sums`: what a whole frame
    and merged batches both give, to the last bit."""
    sums = {k: float(v) for k, v in exact.items()}
    n = int(sums["n"])
    row: dict[str, float] = {"tickets": float(n), "out_of_scope": sums["judged"]}
    row["share"] = row["out_of_scope"] / n if n else 0.0
    for name, mean, var in (("", sums["p"], sums["pq"]), ("hours_", sums["ph"], sums["pqhh"])):
        spread = z * float(np.sqrt(var)) + 0.05 * mean
        row["expected" if not name else "hours_expected"] = mean
        row[f"{name}low"] = max(0.0, mean - spread)
        row[f"{name}high"] = mean + spread
    row["hours"] = sums["hours_judged"]
    row["share_low"] = row["low"] / n if n else 0.0
    row["share_high"] = row["high"] / n if n else 0.0
    if hourly_rate is not None:
        if hourly_rate < 0:
            raise KenolibError(f"hourly rate must be zero or more (got {hourly_rate})")
        for k in ("", "_expected", "_low", "_high"):
            row[f"cost{k}"] = row[f"hours{k}"] * hourly_rate
    return pd.DataFrame([row]).round(4)
