"""Policy versions: what changed between two policies, and which tickets it moves in or out of scope.

Clauses are matched across versions within one product (product ids come from
``products.yaml``, so a renamed section spelling is the same product) and never by position, so
moved clauses and sections are no change. Text is compared after ``normalise()`` (case, curly
quotes, dashes, spaces), so a change of line endings, BOM, trailing blanks or apostrophes is no
change either. Each candidate pair of an old and a new clause gets a *match tier*; pairs are
assigned greedily, best tier first and most similar first, one-to-one, so each clause is reported
once:

1. ``identical``      same status, same heading, same text
2. ``same_text``      same status, same text, heading reworded
3. ``same_heading``   same status, same heading, text reworded             -> text_changed
4. ``status_heading`` other status, same heading, same topic               -> status_changed
5. ``same_text_other_status`` other status, same text                      -> status_changed
6. ``fuzzy``          same topic and qualifier, heading + text similarity >= ``threshold``
7. ``fuzzy_topic``    same status, any topic, similarity >= ``loose_threshold``

Whatever is left unmatched is ``removed`` (old) or ``added`` (new).
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from kenolib import schemas
from kenolib.errors import KenolibError, KenolibTypeError
from kenolib.policy import SUPPORTED, ParsedPolicy, parse_policy
from kenolib.taxonomy import (
    heading_key,
    load_products,
    normalise,
    product_labels,
    topic_labels,
)

ADDED, REMOVED = "added", "removed"
STATUS_CHANGED, TEXT_CHANGED = "status_changed", "text_changed"
HEADING_CHANGED, UNCHANGED = "heading_changed", "unchanged"
CHANGE_KINDS = (ADDED, REMOVED, STATUS_CHANGED, TEXT_CHANGED)

INTO_SCOPE, OUT_OF_SCOPE, OTHER = "into_scope", "out_of_scope", "other"
#: How a chart names each direction of change.
DIRECTION_LABELS = {
    INTO_SCOPE: "moves into scope (now supported)",
    OUT_OF_SCOPE: "moves out of scope (no longer supported)",
    OTHER: "other change (clause or silence)",
}

#: Similarity (difflib ratio of normalised heading + text) for a same-topic fuzzy match.
FUZZY_THRESHOLD = 0.6
#: Similarity for a fuzzy match across topics (a reworded heading can change the topic).
LOOSE_THRESHOLD = 0.8

TIERS = (
    "identical",
    "same_text",
    "same_heading",
    "status_heading",
    "same_text_other_status",
    "fuzzy",
    "fuzzy_topic",
)

PolicyLike: TypeAlias = ParsedPolicy | pd.DataFrame | str | os.PathLike[str]

_REQUIRED = ["clause_id", "product", "status", "heading", "topic", "text"]


def as_clauses(policy: PolicyLike, name: str = "policy") -> pd.DataFrame:
    """The clause table of a parsed policy, a clause frame or a policy file path."""
    if isinstance(policy, ParsedPolicy):
        df = policy.clauses
    elif isinstance(policy, pd.DataFrame):
        df = policy
    elif isinstance(policy, str | os.PathLike):
        df = parse_policy(Path(policy)).clauses
    else:
        raise KenolibTypeError(f"{name}: expected a policy file, a parsed policy or a clause table")
    df = schemas.check_frame(df, _REQUIRED, f"{name} clauses").copy()
    for col, default in (("qualifier", ""), ("line_start", pd.NA), ("line_end", pd.NA)):
        if col not in df.columns:
            df[col] = default
    df["qualifier"] = df["qualifier"].fillna("").astype(str)
    for col in ("heading", "text", "topic", "status", "product", "clause_id"):
        df[col] = df[col].fillna("").astype(str)
    return df.reset_index(drop=True)


def _lines(start: object, end: object) -> str:
    if pd.isna(start):
        return ""
    s, e = int(start), int(end) if not pd.isna(end) else int(start)  # type: ignore[call-overload]
    return f"{s}" if s == e else f"{s}-{e}"


def _similarity(a: str, b: str, floor: float = 0.0) -> float:
    """difflib ratio of two strings; 0.0 when its cheap upper bounds are already below ``floor``."""
    if a == b:
        return 1.0
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    if sm.real_quick_ratio() < floor or sm.quick_ratio() < floor:
        return 0.0
    return sm.ratio()


def _exact_tier(o: dict, n: dict) -> int | None:
    """Tiers 0-4: equal normalised headings or texts."""
    same_status = o["status"] == n["status"]
    same_heading = o["_hkey"] == n["_hkey"]
    same_text = o["_tkey"] == n["_tkey"]
    if same_status and same_heading and same_text:
        return 0
    if same_status and same_text:
        return 1
    if same_status and same_heading:
        return 2
    if same_heading and o["topic"] == n["topic"]:
        return 3
    if same_text:
        return 4
    return None


def _fuzzy_tier(o: dict, n: dict, sim: float, threshold: float, loose: float) -> int | None:
    """Tiers 5-6: similar heading + text, same topic and qualifier (or very similar)."""
    if o["topic"] == n["topic"] and o["qualifier"] == n["qualifier"] and sim >= threshold:
        return 5
    if o["status"] == n["status"] and sim >= loose:
        return 6
    return None


def _change_kind(o: pd.Series, n: pd.Series) -> str:
    """What changed between two matched clauses (status first, then text, then heading)."""
    if o["status"] != n["status"]:
        return STATUS_CHANGED
    if o["_tkey"] != n["_tkey"]:
        return TEXT_CHANGED
    if o["_hkey"] != n["_hkey"]:
        return HEADING_CHANGED
    return UNCHANGED


def match_clauses(
    old: PolicyLike,
    new: PolicyLike,
    threshold: float = FUZZY_THRESHOLD,
    loose_threshold: float = LOOSE_THRESHOLD,
) -> pd.DataFrame:
    """Every clause of both versions, paired one-to-one, with its change (``unchanged`` included).

    Returns the ``DIFF_COLUMNS`` frame with ``change`` one of ``added``, ``removed``,
    ``status_changed``, ``text_changed``, ``heading_changed`` (same status and text, heading
    reworded) or ``unchanged``.
    """
    o_df, n_df = as_clauses(old, "old policy"), as_clauses(new, "new policy")
    for df in (o_df, n_df):
        df["_hkey"] = df["heading"].map(heading_key)
        df["_tkey"] = df["text"].map(normalise)
        df["_full"] = df["_hkey"] + " | " + df["_tkey"]
        df["_pos"] = df.groupby("product").cumcount()
    o_recs, n_recs = o_df.to_dict("index"), n_df.to_dict("index")
    pairs = [
        (oi, ni)
        for product, o_grp in o_df.groupby("product", sort=False)
        for oi in o_grp.index
        for ni in n_df.index[n_df["product"] == product]
    ]
    o_used: dict[int, tuple[int, int, float]] = {}
    n_used: set[int] = set()

    def assign(candidates: list[tuple[int, float, int, int, int]]) -> None:
        for tier, neg_sim, _, oi, ni in sorted(candidates):
            if oi not in o_used and ni not in n_used:
                o_used[oi] = (ni, tier, -neg_sim)
                n_used.add(ni)

    def candidate(oi: int, ni: int, sim: float | None) -> tuple | None:
        o, n = o_recs[oi], n_recs[ni]
        exact = _exact_tier(o, n)
        if exact is None and sim is None:
            return None
        if exact is None:
            exact = _fuzzy_tier(o, n, sim or 0.0, threshold, loose_threshold)
            if exact is None:
                return None
        elif sim is None:
            sim = _similarity(o["_full"], n["_full"])
        return (exact, -(sim or 0.0), abs(o["_pos"] - n["_pos"]), oi, ni)

    # exact tiers first (cheap), then fuzzy similarity among the clauses still unmatched
    assign([c for oi, ni in pairs if (c := candidate(oi, ni, None)) is not None])
    floor = min(threshold, loose_threshold)
    rest = [(oi, ni) for oi, ni in pairs if oi not in o_used and ni not in n_used]
    fuzzy = []
    for oi, ni in rest:
        sim = _similarity(o_recs[oi]["_full"], n_recs[ni]["_full"], floor)
        c = candidate(oi, ni, sim)
        if c is not None:
            fuzzy.append(c)
    assign(fuzzy)

    rows = []
    for oi, (ni, tier, sim) in o_used.items():
        o, n = o_df.loc[oi], n_df.loc[ni]
        rows.append(_row(_change_kind(o, n), o, n, TIERS[tier], round(sim, 3)))
    rows += [_row(REMOVED, o, None, "", np.nan) for i, o in o_df.iterrows() if i not in o_used]
    rows += [_row(ADDED, None, n, "", np.nan) for i, n in n_df.iterrows() if i not in n_used]
    out = pd.DataFrame(rows, columns=[*schemas.DIFF_COLUMNS, "_old_line", "_new_line"])
    order = {p.id: i for i, p in enumerate(load_products())}
    out["_p"] = out["product"].map(order).fillna(len(order))
    out["_line"] = pd.to_numeric(out["_new_line"].fillna(out["_old_line"]), errors="coerce")
    out = out.sort_values(["_p", "_line"], kind="stable").drop(
        columns=["_p", "_line", "_old_line", "_new_line"]
    )
    return schemas.check_frame(out.reset_index(drop=True), schemas.DIFF_COLUMNS, "diff")


def _row(change: str, o: pd.Series | None, n: pd.Series | None, match: str, sim: float) -> dict:
    def g(s: pd.Series | None, col: str) -> object:
        return s[col] if s is not None else None

    base = n if n is not None else o
    assert base is not None
    return {
        "product": base["product"],
        "topic": base["topic"],
        "heading": base["heading"],
        "change": change,
        "old_status": g(o, "status"),
        "new_status": g(n, "status"),
        "old_text": g(o, "text"),
        "new_text": g(n, "text"),
        "qualifier": base["qualifier"],
        "old_heading": g(o, "heading"),
        "new_heading": g(n, "heading"),
        "old_clause_id": g(o, "clause_id"),
        "new_clause_id": g(n, "clause_id"),
        "old_lines": _lines(o["line_start"], o["line_end"]) if o is not None else "",
        "new_lines": _lines(n["line_start"], n["line_end"]) if n is not None else "",
        "match": match,
        "similarity": sim,
        "_old_line": g(o, "line_start"),
        "_new_line": g(n, "line_start"),
    }


def diff_policies(
    old: PolicyLike,
    new: PolicyLike,
    threshold: float = FUZZY_THRESHOLD,
    loose_threshold: float = LOOSE_THRESHOLD,
    include_heading_changes: bool = False,
) -> pd.DataFrame:
    """What changed from ``old`` to ``new``: one row per added, removed or changed clause.

    Identical policies give an empty frame (with the columns). A heading reworded with the
    clause's status and text unchanged is not a change unless ``include_heading_changes``.
    """
    matched = match_clauses(old, new, threshold, loose_threshold)
    kinds = [*CHANGE_KINDS, *([HEADING_CHANGED] if include_heading_changes else [])]
    return matched[matched["change"].isin(kinds)].reset_index(drop=True)


def change_counts(diff: pd.DataFrame) -> dict[str, int]:
    """Number of diff rows of each change kind (all four kinds, zeros included)."""
    diff = schemas.require_frame(diff, "diff", "change_counts", ["change"])
    counts = diff["change"].value_counts()
    kinds = list(dict.fromkeys([*CHANGE_KINDS, *counts.index]))
    return {k: int(counts.get(k, 0)) for k in kinds}


def clause_map(matched: pd.DataFrame) -> dict[str, str]:
    """Old clause id -> new clause id for every clause matched across versions."""
    pairs = matched.dropna(subset=["old_clause_id", "new_clause_id"])
    return dict(zip(pairs["old_clause_id"], pairs["new_clause_id"], strict=True))


# ---------------------------------------------------------------------------------------------
# Impact on a ticket history

_XREF_REQUIRED = ["ticket_id", "product", "topic", "verdict", "clause_id"]


def impact_from_crossrefs(
    old_xref: pd.DataFrame,
    new_xref: pd.DataFrame,
    clause_ids: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Tickets whose verdict or deciding clause differs between two cross-references.

    ``old_xref`` and ``new_xref`` are ``crossref()`` outputs for the same tickets under the old
    and the new policy. ``clause_ids`` maps old clause ids to their new ids (``clause_map``); a
    ticket decided by the matched counterpart of its old clause has not changed clause.
    """
    o = schemas.check_frame(old_xref, _XREF_REQUIRED, "old cross-reference").reset_index(drop=True)
    n = schemas.check_frame(new_xref, _XREF_REQUIRED, "new cross-reference").reset_index(drop=True)
    if len(o) != len(n) or not o["ticket_id"].astype(str).equals(n["ticket_id"].astype(str)):
        raise KenolibError(
            "cross-references: the old and new cross-references must cover the same tickets in "
            "the same order; run crossref on one ticket table under both policies"
        )
    old_clause = o["clause_id"].astype("string")
    expected = old_clause.map(clause_ids) if clause_ids is not None else old_clause
    new_clause = n["clause_id"].astype("string")
    same_clause = (expected.fillna("") == new_clause.fillna("")).to_numpy()
    old_v, new_v = o["verdict"].astype(str), n["verdict"].astype(str)
    changed = (old_v != new_v).to_numpy() | ~same_clause
    direction = np.select(
        [
            (new_v == SUPPORTED) & (old_v != SUPPORTED),
            (old_v == SUPPORTED) & (new_v != SUPPORTED),
        ],
        [INTO_SCOPE, OUT_OF_SCOPE],
        default=OTHER,
    )
    created = o["created_at"] if "created_at" in o.columns else pd.Series(pd.NaT, index=o.index)
    stamp = pd.to_datetime(created, errors="coerce", utc=True)
    minutes = (
        pd.to_numeric(o["agent_minutes"], errors="coerce")
        if "agent_minutes" in o.columns
        else pd.Series(np.nan, index=o.index)
    )
    out = pd.DataFrame(
        {
            "ticket_id": o["ticket_id"],
            "created_at": created,
            "month": stamp.dt.strftime("%Y-%m").fillna(""),
            "product": o["product"],
            "topic": o["topic"],
            "old_verdict": old_v,
            "new_verdict": new_v,
            "direction": direction,
            "agent_minutes": minutes.astype("float64"),
            "old_clause_id": o["clause_id"],
            "new_clause_id": n["clause_id"],
        }
    )[changed]
    return schemas.check_frame(out.reset_index(drop=True), schemas.IMPACT_COLUMNS, "impact")


def history_months(tickets: pd.DataFrame, column: str = "created_at") -> int:
    """Calendar months spanned by a ticket history, first to last inclusive (0 if no dates)."""
    schemas.require_frame(tickets, "tickets", "history_months")
    if column not in tickets.columns:
        return 0
    stamp = pd.to_datetime(tickets[column], errors="coerce", utc=True).dropna()
    if stamp.empty:
        return 0
    first, last = stamp.min(), stamp.max()
    return (last.year - first.year) * 12 + last.month - first.month + 1


def impact_summary(impact: pd.DataFrame) -> pd.DataFrame:
    """Tickets and agent hours by product, topic, month and direction."""
    impact = schemas.check_frame(impact, schemas.IMPACT_COLUMNS, "impact")
    out = (
        impact.assign(
            _hours=impact["agent_minutes"] / 60.0,
            _missing=impact["agent_minutes"].isna(),
        )
        .groupby(["product", "topic", "month", "direction"], sort=True)
        .agg(
            tickets=("ticket_id", "size"),
            agent_hours=("_hours", "sum"),
            tickets_without_minutes=("_missing", "sum"),
        )
        .reset_index()
    )
    out["agent_hours"] = out["agent_hours"].round(2)
    out["tickets_without_minutes"] = out["tickets_without_minutes"].astype("int64")
    return schemas.check_frame(out, schemas.IMPACT_SUMMARY_COLUMNS, "impact summary")


def impact_headline(impact: pd.DataFrame, months: int | None = None) -> pd.DataFrame:
    """Monthly averages by product, topic and direction, with a sentence for the report.

    ``months`` is the length of the ticket history (``history_months(tickets)``); by default the
    span of the months present in ``impact``.
    """
    impact = schemas.check_frame(impact, schemas.IMPACT_COLUMNS, "impact")
    if months is None:
        dated = impact.loc[impact["month"] != "", "month"]
        months = 0
        if not dated.empty:
            first, last = pd.Period(dated.min(), "M"), pd.Period(dated.max(), "M")
            months = (last - first).n + 1
    span = max(int(months), 1)
    out = (
        impact.assign(_hours=impact["agent_minutes"] / 60.0)
        .groupby(["product", "topic", "direction"], sort=True)
        .agg(tickets=("ticket_id", "size"), agent_hours=("_hours", "sum"))
        .reset_index()
    )
    out["months"] = span
    out["tickets_per_month"] = (out["tickets"] / span).round(2)
    out["agent_hours"] = out["agent_hours"].round(2)
    out["agent_hours_per_month"] = (out["agent_hours"] / span).round(2)
    words = {INTO_SCOPE: "move into scope", OUT_OF_SCOPE: "move out of scope"}
    # one sentence per group (a handful of rows: product x topic x direction)
    out["sentence"] = pd.Series(
        [
            f"{str(p).replace('_', ' ')} / {str(t).replace('_', ' ')}: {per:g} tickets a month "
            f"{words.get(d, 'change clause or verdict')} ({n} over {span} months, "
            f"{h:g} agent hours)"
            for p, t, d, n, per, h in zip(
                out["product"],
                out["topic"],
                out["direction"],
                out["tickets"],
                out["tickets_per_month"],
                out["agent_hours"],
                strict=True,
            )
        ],
        index=out.index,
        dtype=object,
    )
    out = out.sort_values(["tickets", "product", "topic"], ascending=[False, True, True])
    return schemas.check_frame(
        out.reset_index(drop=True), schemas.IMPACT_HEADLINE_COLUMNS, "impact headline"
    )


def month_range(months: pd.Series, tickets: pd.DataFrame | None = None) -> list[str]:
    """Every month ("YYYY-MM") from the first to the last of ``months`` (or of the ``tickets``'
    creation dates when given), empty months included."""
    stamps = pd.to_datetime(pd.Series(months)[lambda m: m != ""], format="%Y-%m", errors="coerce")
    if tickets is not None and "created_at" in tickets.columns:
        created = pd.to_datetime(tickets["created_at"], errors="coerce", utc=True)
        stamps = created.dt.tz_localize(None)
    stamps = stamps.dropna()
    if stamps.empty:
        return []
    first, last = stamps.min().to_period("M"), stamps.max().to_period("M")
    return [str(p) for p in pd.period_range(first, last, freq="M")]


def impact_figure(
    summary: pd.DataFrame, title: str | None = None, tickets: pd.DataFrame | None = None
) -> Any:
    """A plotly bar chart of the tickets moving per month (from ``impact_summary``): every month
    of the history (``tickets``, else the summary's span) on the axis, empty ones at zero."""
    import plotly.express as px

    summary = schemas.check_frame(summary, schemas.IMPACT_SUMMARY_COLUMNS, "impact summary")
    months = month_range(summary["month"], tickets)
    empty = [m for m in months if m not in set(summary["month"])]
    if empty and len(summary):  # zero-height rows, so the axis keeps every month
        first = summary.iloc[[0] * len(empty)].assign(month=empty, tickets=0, agent_hours=0.0)
        summary = pd.concat([summary, first], ignore_index=True)
    products, topics = product_labels(), topic_labels()
    product = summary["product"].map(lambda p: products.get(p, str(p).replace("_", " ")))
    topic = summary["topic"].map(lambda t: topics.get(t, str(t).replace("_", " ")))
    data = summary.assign(
        change=summary["direction"].map(lambda d: DIRECTION_LABELS.get(d, d)),
        what=product + " / " + topic,
        product=product,
        topic=topic,
    )
    fig = px.bar(
        data,
        x="month",
        y="tickets",
        color="change",
        pattern_shape="what",
        hover_data=["product", "topic", "agent_hours"],
        category_orders={
            "change": [DIRECTION_LABELS[d] for d in (INTO_SCOPE, OUT_OF_SCOPE, OTHER)]
        },
        labels={
            "change": "verdict change",
            "what": "product / topic",
            "agent_hours": "agent hours",
        },
        title=title or "Tickets whose verdict changes under the new policy, by month",
    )
    fig.update_xaxes(type="category", title="month", categoryorder="array", categoryarray=months)
    fig.update_yaxes(title="tickets")
    return fig
