"""Per team, per agent and per repeat requester: who the out-of-scope work lands on and comes from.

The export's optional ``group`` (team or queue), ``assignee`` (agent) and ``requester``
(customer) columns (``schemas.TICKET_PEOPLE_COLUMNS``) are summed into a small partial table,
:func:`people_part`: per column, name, topic and whether out of scope, the tickets and agent
minutes. Partials of batches add up (:func:`merge_people`), so a history read in batches
(:mod:`kenolib.aggregates_stream`) and a whole frame give the same tables:
:func:`teams_and_agents` and :func:`repeat_requesters`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kenolib.schemas import TICKET_PEOPLE_COLUMNS
from kenolib.taxonomy import topic_labels
from kenolib.vocab import Verdict

#: The partial table's columns.
PART_COLUMNS = ["column", "name", "topic", "out", "tickets", "minutes", "timed"]
#: Columns of :func:`teams_and_agents` (``cost`` follows ``out_of_scope_hours`` with a rate).
TEAM_COLUMNS = [
    "kind",
    "name",
    "tickets",
    "out_of_scope",
    "share",
    "agent_hours",
    "out_of_scope_hours",
    "top_out_of_scope_topic",
]
#: Columns of :func:`repeat_requesters` (``cost`` after ``out_of_scope_hours`` with a rate).
REQUESTER_COLUMNS = [
    "requester",
    "tickets",
    "out_of_scope",
    "share",
    "agent_hours",
    "out_of_scope_hours",
    "top_topics",
]
#: How a blank team or agent is shown.
NOT_SET = "(not set)"
KINDS = {"group": "Team", "assignee": "Agent"}


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="int64" if c in ("tickets", "timed") else object)
                         for c in PART_COLUMNS})  # fmt: skip


def people_part(x: pd.DataFrame) -> pd.DataFrame:
    """The partial sums of one judged batch (or a whole frame) over its people columns."""
    present = [c for c in TICKET_PEOPLE_COLUMNS if c in x.columns]
    if not present or not len(x):
        return _empty()
    if "agent_minutes" in x.columns:
        raw = pd.to_numeric(x["agent_minutes"], errors="coerce")
    else:
        raw = pd.Series(np.nan, index=x.index)
    base = {
        "topic": x["topic"].astype(str).to_numpy(),
        "out": (x["verdict"] == Verdict.NOT_SUPPORTED).to_numpy(),
        "minutes": raw.fillna(0.0).to_numpy(),
        "timed": raw.notna().to_numpy().astype("int64"),
    }
    parts = []
    for col in present:
        name = x[col].astype("string").fillna("").str.strip().to_numpy(dtype=object)
        f = pd.DataFrame({"column": col, "name": name, **base})
        g = f.groupby(["column", "name", "topic", "out"], sort=False).agg(
            tickets=("minutes", "size"), minutes=("minutes", "sum"), timed=("timed", "sum")
        )
        parts.append(g.reset_index())
    return pd.concat(parts, ignore_index=True)[PART_COLUMNS]


def merge_people(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Partials of several batches as one (sums per column, name, topic and scope)."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return _empty()
    both = pd.concat(parts, ignore_index=True)
    g = both.groupby(["column", "name", "topic", "out"], sort=True)
    return g[["tickets", "minutes", "timed"]].sum().reset_index()[PART_COLUMNS]


def _labels() -> dict[str, str]:
    return topic_labels()


def _per_name(p: pd.DataFrame, rate: float | None) -> pd.DataFrame:
    """Tickets, out of scope, share, hours (and cost) per name of one column's partial."""
    total = p.groupby("name", sort=True)[["tickets", "minutes", "timed"]].sum()
    oos = p[p["out"]].groupby("name")[["tickets", "minutes"]].sum()
    out = pd.DataFrame(index=total.index)
    out["tickets"] = total["tickets"].astype("int64")
    out["out_of_scope"] = oos["tickets"].reindex(out.index, fill_value=0).astype("int64")
    out["share"] = (out["out_of_scope"] / out["tickets"]).round(4)
    timed = total["timed"] > 0
    out["agent_hours"] = (total["minutes"] / 60).round(2).where(timed)
    oos_h = (oos["minutes"].reindex(out.index, fill_value=0.0) / 60).round(2)
    out["out_of_scope_hours"] = oos_h.where(timed)
    if rate is not None:
        out["cost"] = (out["out_of_scope_hours"] * rate).round(2)
    return out


def _top_topics(p: pd.DataFrame, n: int, out_only: bool) -> pd.Series:
    """Per name, its ``n`` most frequent topics (labels, "; "-joined), ties by topic id."""
    q = p[p["out"]] if out_only else p
    if not len(q):
        return pd.Series(dtype=object)
    t = q.groupby(["name", "topic"])["tickets"].sum().reset_index()
    t = t.sort_values(["name", "tickets", "topic"], ascending=[True, False, True], kind="stable")
    labels = _labels()
    t["label"] = t["topic"].map(lambda k: labels.get(k, k))
    return t.groupby("name", sort=False)["label"].agg(lambda s: "; ".join(s.head(n)))


def teams_and_agents(part: pd.DataFrame, hourly_rate: float | None = None) -> pd.DataFrame:
    """Per team, then per agent: tickets, out-of-scope tickets and share, agent hours (all
    tickets), hours out of scope (and their cost), the largest out-of-scope topic; most tickets
    first. Empty when the history has neither column."""
    frames = []
    for col, kind in KINDS.items():
        p = part[part["column"] == col]
        if not len(p):
            continue
        out = _per_name(p, hourly_rate)
        out["top_out_of_scope_topic"] = _top_topics(p, 1, True).reindex(out.index).fillna("")
        out = out.reset_index().rename(columns={"index": "name"})
        out["name"] = out["name"].replace("", NOT_SET)
        out.insert(0, "kind", kind)
        frames.append(out.sort_values(["tickets", "name"], ascending=[False, True], kind="stable"))
    cols = TEAM_COLUMNS[:7] + (["cost"] if hourly_rate is not None else []) + TEAM_COLUMNS[7:]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    return pd.concat(frames, ignore_index=True)[cols]


def repeat_requesters(
    part: pd.DataFrame, min_tickets: int = 3, hourly_rate: float | None = None, topics: int = 3
) -> pd.DataFrame:
    """Requesters with at least ``min_tickets`` tickets: their tickets, out-of-scope tickets and
    share, hours (and cost), top ``topics`` topics; most out-of-scope hours first (then
    out-of-scope tickets, tickets). Names as given (writers escape or neutralise them)."""
    p = part[(part["column"] == "requester") & (part["name"] != "")]
    cols = REQUESTER_COLUMNS[:6] + (["cost"] if hourly_rate is not None else [])
    cols += REQUESTER_COLUMNS[6:]
    if not len(p):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    out = _per_name(p, hourly_rate)
    out = out[out["tickets"] >= max(int(min_tickets), 1)]
    out["top_topics"] = _top_topics(p, topics, False).reindex(out.index).fillna("")
    out = out.rename_axis("requester").reset_index()
    keys = ["out_of_scope_hours", "out_of_scope", "tickets", "requester"]
    out = out.sort_values(keys, ascending=[False, False, False, True], kind="stable",
                          na_position="last")  # fmt: skip
    return out[cols].reset_index(drop=True)
