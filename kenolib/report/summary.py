"""What a manager reads first: the period covered, summary sentences and human labels.

Pure functions of a :class:`~kenolib.report.data.ReportData`, shared by the workbook and the
HTML page: :func:`period_line`, :func:`summary_sentences`, :func:`human_header` (column ids to
words) and :func:`human_frame` (product and topic ids to their labels from the data files).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

import pandas as pd

from kenolib.aggregates import monthly_totals
from kenolib.report.data import (
    UNKNOWN_PRODUCT_LABEL,
    ReportData,
    out_of_scope_by_topic,
    ticket_gaps,
)
from kenolib.taxonomy import UNKNOWN_PRODUCT, load_taxonomy
from kenolib.taxonomy import topic_labels as taxonomy_topic_labels
from kenolib.vocab import OVERVIEW, FindingKind, Verdict

#: Column ids whose plain-words header is not just the id with spaces.
HEADERS: dict[str, str] = {
    "topic": "Topic",
    "topic_label": "Topic",
    "topic_id": "Topic id",
    "product": "Product",
    "product_label": "Product",
    "other_product": "Other product",
    "clause_id": "Clause",
    "clause_ids": "Clauses",
    "note_ids": "Notes",
    "clause_product": "Clause product",
    "clause_heading": "Clause heading",
    "clause_text": "Clause text",
    "ticket_id": "Ticket",
    "created_at": "Created",
    "agent_minutes": "Agent minutes",
    "agent_hours": "Agent hours",
    "not_supported": "Not supported",
    "out_of_scope": "Out of scope",
    "share": "Share",
    "example_ticket_ids": "Example tickets",
    "example_subjects": "Example subjects",
    "line_start": "First line",
    "line_end": "Last line",
    "finding_id": "Finding",
    "finding_ids": "Findings",
    "tickets_before": "Tickets before",
    "tickets_now": "Tickets now",
    "share_before": "Share before",
    "share_now": "Share now",
    "share_change": "Change in share",
    "figure": "Figure",
    "value": "Value",
    "item": "Item",
    "needs_review": "Needs review",
    "decided_by": "Decided by",
    "kind": "Kind",
    "tickets_list": "Tickets list",
    "month": "Month",
    "name": "Name",
    "out_of_scope_hours": "Out-of-scope hours",
    "cost": "Out-of-scope cost",
    "top_out_of_scope_topic": "Largest out-of-scope topic",
    "top_topics": "Top topics",
    "requester": "Requester",
}
#: Columns holding a product id, shown as the product's label.
PRODUCT_COLUMNS = ("product", "other_product", "clause_product", "product_label")
#: Values of the status and verdict columns, in words.
WORDS = {
    "supported": "supported",
    "not_supported": "not supported",
    "conditional": "conditional",
    "silent": "silent",
    "contradiction": "contradiction",
    "sibling_gap": "sibling gap",
}


def human_header(column: object) -> str:
    """A column id in plain words: ``topic_label`` → "Topic", ``agent_hours`` → "Agent hours"."""
    c = str(column)
    if c in HEADERS:
        return HEADERS[c]
    if re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)+|[a-z]+", c):
        return c.replace("_", " ").capitalize()
    return c


@functools.cache
def topic_labels() -> dict[str, str]:
    """Topic id → label (``taxonomy.yaml``)."""
    return taxonomy_topic_labels()


@functools.cache
def qualifier_labels() -> dict[str, str]:
    """Qualifier id → label (``taxonomy.yaml``), e.g. a topic's variants."""
    return {q.id: q.label for t in load_taxonomy().topics for q in t.qualifiers}


def product_label(data: ReportData, product: object) -> str:
    """A product id (or a policy heading such as "G CONTINUED") as its label."""
    p = str(product)
    if p in data.products:
        return str(data.products[p])
    if p == UNKNOWN_PRODUCT:
        return UNKNOWN_PRODUCT_LABEL
    by_heading = _heading_products(data)
    return by_heading.get(p.upper(), p.replace("_", " ").capitalize() if "_" in p else p)


def _heading_products(data: ReportData) -> dict[str, str]:
    clauses = data.clauses
    if "product_label" not in clauses.columns:
        return {}
    pairs = zip(clauses["product_label"].astype(str), clauses["product"].astype(str), strict=True)
    return {h.upper(): str(data.products.get(p, p)) for h, p in pairs}


#: Columns of agent time and its cost: left out when the history records no agent time.
EFFORT_COLUMNS = ("agent_minutes", "agent_hours", "out_of_scope_hours", "cost")


def human_frame(df: pd.DataFrame, data: ReportData) -> pd.DataFrame:
    """``df`` with product and topic ids as labels and statuses in words (columns kept, but
    hours and cost left out when the history records no agent time)."""
    out = df.copy()
    if data.tickets is not None and not data.tickets.effort_recorded:
        out = out.drop(columns=[c for c in EFFORT_COLUMNS if c in out.columns])
    topics = {**topic_labels(), **_coverage_topics(data)}
    for c in out.columns:
        if c in PRODUCT_COLUMNS and len(out):
            out[c] = out[c].map(lambda p: "" if pd.isna(p) else product_label(data, p))
        elif c == "topic" and "topic_label" not in out.columns and len(out):
            out[c] = out[c].map(lambda t: topics.get(str(t), str(t)))
        elif c == "qualifier" and len(out):
            out[c] = out[c].map(lambda q: q if pd.isna(q) else qualifier_labels().get(str(q), q))
        elif c in ("status", "verdict", "kind") and len(out):
            out[c] = out[c].map(lambda v: WORDS.get(str(v), v))
    if "topic" in out.columns and "topic_label" in out.columns:
        out = out.drop(columns=["topic"])
    if "product" in out.columns and "product_label" in out.columns:
        out = out.drop(columns=["product_label"])  # the policy's heading, e.g. "G CONTINUED"
    return out


def _coverage_topics(data: ReportData) -> Mapping[str, str]:
    cov = data.coverage
    return dict(zip(cov["topic"].astype(str), cov["topic_label"].astype(str), strict=False))


def period(data: ReportData) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """First and last ticket date of the report, None without dated tickets."""
    t = data.tickets
    if t is None or t.first_date is None or t.last_date is None:
        return None
    return pd.Timestamp(t.first_date), pd.Timestamp(t.last_date)


def _day(ts: pd.Timestamp) -> str:
    return f"{ts.day} {ts:%b %Y}"


def period_line(data: ReportData) -> str:
    """ "Period: 3 Jan 2024 – 28 Jun 2025 (1,234 tickets)", or why there is none."""
    t = data.tickets
    if t is None:
        return "Period: none (policy only, no ticket history analysed)"
    scope = f" — {data.scope}" if data.scope else ""
    p = period(data)
    if p is None:
        return f"Period: not dated ({t.tickets:,} tickets without creation dates){scope}"
    return f"Period: {_day(p[0])} – {_day(p[1])} ({t.tickets:,} tickets){scope}"


def money(amount: float, currency: str) -> str:
    """An amount with its currency and thousands separators: "EUR 5,535"."""
    return f"{currency} {amount:,.0f}".strip()


def _share_sentence(data: ReportData) -> str:
    t = data.tickets
    assert t is not None
    v = t.verdicts
    total = int(v["tickets"].sum())
    oos = int(v[Verdict.NOT_SUPPORTED].sum())
    share = oos / total if total else 0.0
    text = f"{total:,} tickets were analysed; {oos:,} ({share:.1%}) asked for work the policy "
    text += "does not support"
    est = t.out_of_scope_estimate
    if est is not None and len(est):
        e = est.iloc[0]
        text += (
            f"; allowing for the verdicts' confidence, the true share is likely between "
            f"{e['share_low']:.1%} and {e['share_high']:.1%}"
        )
    return text + "."


def _cost_sentence(data: ReportData, currency: str) -> str | None:
    t = data.tickets
    if t is None:
        return None
    if t.out_of_scope_hours is None or not t.effort_recorded:
        return (
            "Agent time is not recorded in this ticket history, so hours and cost are not shown "
            "(name a time-tracking column with --effort-column)."
        )
    text = f"That out-of-scope work took {t.out_of_scope_hours:,.0f} agent hours"
    if t.hourly_rate is None:
        return text + " (give --hourly-rate to put a cost on it)."
    cost = t.out_of_scope_hours * t.hourly_rate
    return text + (
        f", costing {money(cost, currency)} at {money(t.hourly_rate, currency)} per hour."
    )


def _topics_sentence(data: ReportData) -> str | None:
    parts = []
    by_topic = out_of_scope_by_topic(data)
    if by_topic is not None and len(by_topic):
        g = by_topic.groupby("topic", sort=False)["tickets"].sum().sort_values(ascending=False)
        topic = topic_labels().get(str(g.index[0]), str(g.index[0]))
        parts.append(f"the largest out-of-scope topic is {topic} ({int(g.iloc[0]):,} tickets)")
    gaps = ticket_gaps(data)
    if gaps is not None and len(gaps):
        top = gaps.nlargest(1, "tickets").iloc[0]
        label = top.get("topic_label", top["topic"])
        parts.append(
            f"the biggest policy gap is {label}: no clause decides its {int(top['tickets']):,} "
            "tickets"
        )
    if not parts:
        return None
    text = "; ".join(parts) + "."
    return text[0].upper() + text[1:]


def _change_sentence(data: ReportData, months: int = 3) -> str | None:
    """The out-of-scope share of the last ``months`` months against the months before."""
    t = data.tickets
    if t is None or t.monthly is None or not len(t.monthly):
        return None
    m = t.monthly.dropna(subset=["month"]).groupby("month")[["tickets", "out_of_scope"]].sum()
    if len(m) < 2 * months:
        return None
    last, before = m.iloc[-months:].sum(), m.iloc[-2 * months : -months].sum()
    if not last["tickets"] or not before["tickets"]:
        return None
    now, then = last["out_of_scope"] / last["tickets"], before["out_of_scope"] / before["tickets"]
    way = "up" if now > then + 0.005 else "down" if now < then - 0.005 else "steady"
    return (
        f"In the last {months} months the out-of-scope share was {now:.1%}, {way} from "
        f"{then:.1%} in the {months} months before."
    )


def _policy_sentence(data: ReportData) -> str:
    p = data.policy
    kinds = p.findings["kind"].value_counts()
    products = int((p.coverage["product"].drop_duplicates() != OVERVIEW).sum())
    return (
        f"The policy has {len(p.clauses):,} clauses over {products} products; it contradicts its "
        f"overview table {int(kinds.get(FindingKind.CONTRADICTION, 0))} times and is silent on "
        f"{int(kinds.get(FindingKind.SILENT, 0))} topic × product cells."
    )


def summary_sentences(data: ReportData, currency: str = "") -> list[str]:
    """Two to four sentences in plain words: tickets, out-of-scope share and its range, hours and
    cost, the largest out-of-scope topic, the biggest gap, the change against the period before."""
    if data.tickets is None:
        return [_policy_sentence(data), "No ticket history was analysed for this report."]
    found = [
        _share_sentence(data),
        _cost_sentence(data, currency),
        _topics_sentence(data),
        _change_sentence(data),
    ]
    return [s for s in found if s]


def overall_monthly(data: ReportData, min_tickets: int = 1) -> pd.DataFrame | None:
    """Tickets, out-of-scope share and count per month over all products, empty months kept;
    the share is left empty for months with fewer than ``min_tickets`` (too few to read)."""
    t = data.tickets
    if t is None or t.monthly is None:
        return None
    m = monthly_totals(t.monthly, min_tickets)
    if not len(m):
        return None
    return pd.DataFrame(
        {
            "month": [f"{d:%b %Y}" for d in m["month"]],
            "tickets": m["tickets"].to_numpy(),
            "share": m["share"].to_numpy(),
            "out_of_scope": m["out_of_scope"].to_numpy(),
        }
    )


def _topic_tickets(data: ReportData) -> pd.Series | None:
    if data.tickets is None or not len(data.tickets.tickets_by_topic):
        return None
    return data.tickets.tickets_by_topic.groupby("topic")["tickets"].sum()


def _say_products(text: str, data: ReportData) -> str:
    for p, label in data.products.items():
        text = re.sub(rf"\b{re.escape(p)}\b", str(label), text)
    return text


def readable_findings(data: ReportData) -> pd.DataFrame:
    """The findings for reading: one row per silent topic (its products listed) instead of one
    per cell, products as labels, ranked by the tickets on the topic (most first) then kind."""
    f = data.findings
    silent = f[f["kind"] == FindingKind.SILENT]
    rest = f[f["kind"] != FindingKind.SILENT]
    topics = {**topic_labels(), **_coverage_topics(data)}
    rows = []
    for _, r in rest.iterrows():
        other = r["other_product"]
        rows.append(
            {
                "kind": WORDS.get(str(r["kind"]), str(r["kind"])),
                "topic": str(r["topic"]),
                "products": ", ".join(
                    product_label(data, p) for p in (r["product"], other) if p and not pd.isna(p)
                ),
                "detail": _say_products(str(r["detail"]), data),
                "clause_ids": r["clause_ids"],
                "finding_ids": r["finding_id"],
            }
        )
    for topic, g in silent.groupby("topic", sort=False):
        names = [product_label(data, p) for p in g["product"]]
        label = topics.get(str(topic), str(topic))
        rows.append(
            {
                "kind": "silent",
                "topic": str(topic),
                "products": ", ".join(names),
                "detail": f"Neither the product sections nor the overview table mention {label} "
                f"({len(names)} products).",
                "clause_ids": "",
                "finding_ids": ", ".join(g["finding_id"].astype(str)),
            }
        )
    out = pd.DataFrame(
        rows, columns=["kind", "topic", "products", "detail", "clause_ids", "finding_ids"]
    )
    counts = _topic_tickets(data)
    if counts is not None:
        out.insert(3, "tickets", out["topic"].map(counts).fillna(0).astype("int64"))
    order = {"contradiction": 0, "sibling gap": 1, "silent": 2}
    out["_k"] = out["kind"].map(order).fillna(3)
    keys = (["tickets"] if counts is not None else []) + ["_k"]
    out = out.sort_values(keys, ascending=[False] * (len(keys) - 1) + [True], kind="stable")
    out["topic"] = out["topic"].map(lambda t: topics.get(t, t))
    return out.drop(columns="_k").reset_index(drop=True)


def coverage_tickets(data: ReportData) -> pd.DataFrame | None:
    """Tickets per coverage cell (topic × product): its status, tickets, out of scope and agent
    hours, most tickets first; tickets naming no product count under the overview column. None
    without tickets."""
    t = data.tickets
    if t is None:
        return None
    cols = ["topic", "topic_label", "product", "status", "tickets", "out_of_scope", "agent_hours"]
    if not len(t.tickets_by_topic):
        return pd.DataFrame({c: pd.Series([], dtype="object") for c in cols})
    tbt = t.tickets_by_topic.assign(
        product=t.tickets_by_topic["product"].replace({UNKNOWN_PRODUCT: OVERVIEW}),
        out=lambda d: d["tickets"].where(d["verdict"] == Verdict.NOT_SUPPORTED, 0),
    )
    g = tbt.groupby(["topic", "product"], as_index=False).agg(
        tickets=("tickets", "sum"), out_of_scope=("out", "sum"), agent_hours=("agent_hours", "sum")
    )
    cov = data.coverage[["topic", "topic_label", "product", "status"]]
    out = cov.merge(g, on=["topic", "product"], how="inner")
    out["agent_hours"] = out["agent_hours"].round(1)
    return out.sort_values(["tickets", "agent_hours"], ascending=False).reset_index(drop=True)


def top_movers(data: ReportData, months: int = 3, min_tickets: int = 1) -> pd.DataFrame | None:
    """Per product: tickets and out-of-scope share in the last ``months`` months against the
    ``months`` before, largest change in share first (products with fewer than ``min_tickets``
    tickets in either period left out). None without two full periods of dated tickets."""
    t = data.tickets
    if t is None or t.monthly is None:
        return None
    m = t.monthly.dropna(subset=["month"])
    all_months = sorted(m["month"].unique())
    if len(all_months) < 2 * months:
        return None
    now_m, before_m = all_months[-months:], all_months[-2 * months : -months]
    rows = []
    for p, g in m.groupby("product", sort=False):
        now, before = g[g["month"].isin(now_m)], g[g["month"].isin(before_m)]
        n_now, n_before = int(now["tickets"].sum()), int(before["tickets"].sum())
        if min(n_now, n_before) < max(min_tickets, 1):
            continue
        s_now = now["out_of_scope"].sum() / n_now
        s_before = before["out_of_scope"].sum() / n_before
        rows.append((product_label(data, p), n_before, n_now, s_before, s_now, s_now - s_before))
    cols = ["product", "tickets_before", "tickets_now", "share_before", "share_now", "share_change"]
    out = pd.DataFrame(rows, columns=cols)
    out = out.reindex(out["share_change"].abs().sort_values(ascending=False).index)
    return out.round(4).reset_index(drop=True)


def quarterly_by_product(data: ReportData, min_tickets: int = 1) -> pd.DataFrame | None:
    """Out-of-scope share per quarter (rows) and product (columns, labels), plus all products;
    a quarter with fewer than ``min_tickets`` tickets of a product is left empty."""
    t = data.tickets
    if t is None or t.monthly is None:
        return None
    m = t.monthly.dropna(subset=["month"])
    if not len(m):
        return None
    m = m.assign(quarter=pd.to_datetime(m["month"]).dt.to_period("Q").astype(str))
    q = m.groupby(["quarter", "product"])[["tickets", "out_of_scope"]].sum()
    share = (q["out_of_scope"] / q["tickets"].where(q["tickets"] >= max(min_tickets, 1))).unstack()
    tot = m.groupby("quarter")[["tickets", "out_of_scope"]].sum()
    order = [p for p in t.verdicts["product"].astype(str) if p in share.columns]
    out = share[order].round(4)
    out.columns = [product_label(data, p) for p in order]
    out.insert(0, "All products", (tot["out_of_scope"] / tot["tickets"]).round(4))
    out.insert(0, "Tickets", tot["tickets"].astype("int64"))
    return out.rename_axis("Quarter").reset_index()
