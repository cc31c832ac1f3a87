"""The analyst's views of a report: per team and agent, repeat requesters, and the tickets behind
each coverage cell and topic (the drill-down). Pure functions of a ``ReportData``."""

from __future__ import annotations

import re

import pandas as pd

from kenolib.people import repeat_requesters, teams_and_agents
from kenolib.report.data import ReportData
from kenolib.report.summary import product_label, topic_labels
from kenolib.taxonomy import UNKNOWN_PRODUCT
from kenolib.vocab import OVERVIEW, VERDICT_ORDER

#: The drill-down's columns, in order (those the history lacks are skipped).
DETAIL_COLUMNS = ["product", "topic", "verdict", "ticket_id", "month", "subject", "clause_id",
                  "agent_hours"]  # fmt: skip


def _has(data: ReportData, *columns: str) -> bool:
    t = data.tickets
    return t is not None and t.people is not None and t.people["column"].isin(columns).any()


def people_note(data: ReportData, columns: tuple[str, ...]) -> str | None:
    """One line saying why a people view is empty (None when the history has the columns)."""
    if data.tickets is None:
        return "No ticket history was analysed for this report."
    if not _has(data, *columns):
        what = "team or agent" if "group" in columns else "requester (customer)"
        return f"This ticket export has no {what} column, so this view is empty."
    return None


def teams_view(data: ReportData) -> pd.DataFrame | None:
    """Per team then per agent (:func:`kenolib.people.teams_and_agents`), None without."""
    t = data.tickets
    if t is None or t.people is None or not _has(data, "group", "assignee"):
        return None
    return teams_and_agents(t.people, t.hourly_rate)


def requesters_view(data: ReportData) -> pd.DataFrame | None:
    """Repeat requesters (:func:`kenolib.people.repeat_requesters`), None without."""
    t = data.tickets
    if t is None or t.people is None or not _has(data, "requester"):
        return None
    return repeat_requesters(t.people, data.repeat_min, t.hourly_rate)


def cell_key(product: object, topic: object) -> str:
    """An anchor-safe key of a (product, topic) block: "cell-managed_wordpress--ssl"."""
    p = UNKNOWN_PRODUCT if str(product) == OVERVIEW else str(product)
    return "cell-" + re.sub(r"[^A-Za-z0-9_-]", "_", f"{p}--{topic}")


def ticket_detail(data: ReportData) -> pd.DataFrame | None:
    """The tickets kept for the drill-down, sorted by product (report order), topic (label)
    and verdict, with ``key`` (:func:`cell_key`) and hours; None without tickets."""
    t = data.tickets
    if t is None or t.ticket_detail is None:
        return None
    d = t.ticket_detail
    if not len(d):
        return None
    order = {p: i for i, p in enumerate(t.verdicts["product"].astype(str))}
    labels = topic_labels()
    verdicts = {str(v): i for i, v in enumerate(VERDICT_ORDER)}
    out = pd.DataFrame(
        {
            "product": d["product"].astype(str),
            "topic": d["topic"].astype(str),
            "verdict": d["verdict"].astype(str),
            "ticket_id": d["ticket_id"].astype(str),
        }
    )
    if "created_at" in d.columns:
        month = pd.to_datetime(d["created_at"], errors="coerce").dt.strftime("%Y-%m")
        out["month"] = month.fillna("")
    for c in ("subject", "clause_id"):
        if c in d.columns:
            out[c] = d[c].astype("string").fillna("")
    if "agent_minutes" in d.columns:
        out["agent_hours"] = (pd.to_numeric(d["agent_minutes"], errors="coerce") / 60).round(2)
    out["key"] = [cell_key(p, k) for p, k in zip(out["product"], out["topic"], strict=True)]
    sort = pd.DataFrame(
        {
            "p": out["product"].map(order).fillna(len(order)),
            "t": out["topic"].map(lambda k: labels.get(k, k)),
            "v": out["verdict"].map(verdicts).fillna(9),
        }
    )
    idx = sort.sort_values(["p", "t", "v"], kind="stable").index
    return out.loc[idx].reset_index(drop=True)


def detail_capped(data: ReportData) -> str:
    """The sentence saying the drill-down lists only the first tickets ("" when it has all)."""
    t = data.tickets
    if t is None or t.ticket_detail is None or len(t.ticket_detail) >= t.tickets:
        return ""
    return (
        f" Capped: the first {len(t.ticket_detail):,} of {t.tickets:,} tickets (in the order "
        "of the history) are listed; the counts elsewhere include them all."
    )


def block_starts(detail: pd.DataFrame) -> dict[str, int]:
    """Each block key -> the position of its first row in ``detail``."""
    first = detail.reset_index().groupby("key", sort=False)["index"].min()
    return {str(k): int(v) for k, v in first.items()}


def block_title(data: ReportData, key_row: pd.Series) -> str:
    """ "Managed WordPress — SSL certificates" for a detail block."""
    topic = topic_labels().get(str(key_row["topic"]), str(key_row["topic"]))
    return f"{product_label(data, key_row['product'])} — {topic}"


def detail_blocks(data: ReportData, per_block: int) -> list[dict[str, object]]:
    """The drill-down as blocks for the HTML page: key, title, tickets, out-of-scope tickets,
    headers and the first ``per_block`` rows as text, and how many more there are."""
    detail = ticket_detail(data)
    if detail is None:
        return []
    shown = [c for c in ("ticket_id", "month", "subject", "verdict", "clause_id", "agent_hours")
             if c in detail.columns]  # fmt: skip
    if data.tickets is not None and not data.tickets.effort_recorded and "agent_hours" in shown:
        shown.remove("agent_hours")
    headers = ["Ticket", "Month", "Subject", "Verdict", "Clause", "Agent hours"]
    names = dict(zip(["ticket_id", "month", "subject", "verdict", "clause_id", "agent_hours"],
                     headers, strict=True))  # fmt: skip
    words = {"not_supported": "not supported"}
    blocks = []
    for key, g in detail.groupby("key", sort=False):
        rows = g[shown].head(per_block).astype(object)
        rows = rows.where(rows.notna(), "")
        if "verdict" in rows.columns:
            rows["verdict"] = rows["verdict"].map(lambda v: words.get(v, v))
        blocks.append(
            {
                "key": str(key),
                "title": block_title(data, g.iloc[0]),
                "tickets": len(g),
                "out_of_scope": int((g["verdict"] == "not_supported").sum()),
                "columns": [names[c] for c in shown],
                "rows": [[str(v) for v in r] for r in rows.itertuples(index=False, name=None)],
                "more": max(len(g) - per_block, 0),
            }
        )
    return blocks
