"""The offline HTML report, rendered from ``templates/report.html.j2`` (Jinja2, autoescaped).

The page is one file that works offline: plotly.js is inlined once, each figure is a ``<div>``
and one ``<script>`` holding its data. Every value from the policy or the tickets reaches the
page through the template's autoescape (ticket text never becomes live HTML); only plotly.js
and the figures, checked here for an early ``</script>``, are marked safe.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from plotly.offline import get_plotlyjs

from kenolib import __version__, config
from kenolib.report import charts
from kenolib.report.data import (
    ReportData,
    about_rows,
    contested_findings,
    key_figures,
    labelled_verdicts,
    out_of_scope_by_topic,
    ticket_gaps,
)
from kenolib.report.drill import (
    cell_key,
    detail_blocks,
    detail_capped,
    people_note,
    requesters_view,
    teams_view,
)
from kenolib.report.summary import (
    coverage_tickets,
    human_frame,
    human_header,
    money,
    overall_monthly,
    period_line,
    product_label,
    quarterly_by_product,
    summary_sentences,
    top_movers,
)
from kenolib.report.theme import load_theme

TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE = "report.html.j2"

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,  # every value escaped unless marked safe in the template
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=False,
)


def _cell(v: object) -> str:
    return "" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v)


def table(
    df: pd.DataFrame,
    max_rows: int = 200,
    caption: str | None = None,
    links: list[str] | None = None,
    link_col: int = 0,
) -> dict[str, Any]:
    """A frame as the template's table: headers, the first ``max_rows`` rows as text, the total;
    ``links``: per row, the anchor its first cell links to ("" for none)."""
    rows = [[_cell(v) for v in row] for row in df.head(max_rows).itertuples(index=False, name=None)]
    return {
        "columns": [str(c) for c in df.columns],
        "rows": rows,
        "links": list(links or [])[:max_rows] or [""] * len(rows),
        "link_col": link_col,
        "total": len(df),
        "max_rows": max_rows,
        "caption": caption,
    }


def _anchors(frame: pd.DataFrame, keys: set[str]) -> list[str]:
    """Per row of a frame with product and topic columns, its drill-down anchor ("" if none)."""
    if not {"product", "topic"} <= set(frame.columns):
        return []
    pairs = zip(frame["product"], frame["topic"], strict=True)
    return [k if k in keys else "" for k in (cell_key(p, t) for p, t in pairs)]


def html_table(df: pd.DataFrame, max_rows: int = 200, caption: str | None = None) -> str:
    """An HTML table with every header and cell escaped (ticket text never becomes markup)."""
    macro = _ENV.get_template(TEMPLATE).module.table  # type: ignore[attr-defined]
    return str(macro(table(df, max_rows, caption)))


def plotlyjs() -> str:
    """plotly.js, inlined once in the page (works offline, no CDN)."""
    js = get_plotlyjs()
    if "</script" in js.lower():  # cannot happen with plotly's bundle; never emit a broken page
        raise RuntimeError("plotly.js contains '</script'; cannot inline it")
    return js


def figure_html(fig: Any) -> str:
    """A figure as a <div> and exactly one <script> holding its data."""
    frag = fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        config={"displaylogo": False, "responsive": True},
    )
    # plotly's JSON escapes '<', '>' and '/', so data cannot close the script early; check anyway
    low = frag.lower()
    if low.count("<script") != 1 or low.count("</script") != 1:
        raise RuntimeError("plot data would end its <script> block; refusing to write the HTML")
    return str(frag)


def readable_figures(figures: pd.DataFrame, currency: str = "") -> pd.DataFrame:
    """Key figures for reading (Figure, Value): shares as percentages, counts with thousands
    separators, money with its currency."""

    def fmt(v: object, kind: str) -> object:
        if not isinstance(v, int | float) or isinstance(v, bool):
            return v
        if kind == "share":
            return f"{v:.1%}"
        if kind == "money":
            return money(float(v), currency)
        if kind == "hours":
            return f"{v:,.1f}"
        return f"{v:,.0f}"

    kinds = figures["kind"] if "kind" in figures.columns else ["count"] * len(figures)
    values = [fmt(v, k) for v, k in zip(figures["value"], kinds, strict=True)]
    return pd.DataFrame({"Figure": figures["figure"], "Value": values})


def readable(df: pd.DataFrame, data: ReportData, formats: Mapping[str, str]) -> pd.DataFrame:
    """A table for reading: labels instead of ids, headers in words, shares as %, separators."""
    out = human_frame(df, data)
    for c in out.columns:
        kind = formats.get(str(c))
        if kind == "money" and pd.api.types.is_numeric_dtype(out[c]):
            cur = data.currency or str(load_theme().get("currency", ""))
            out[c] = out[c].map(lambda v, k=cur: "" if pd.isna(v) else money(float(v), k))
        elif kind in ("share", "count", "hours", "minutes") and pd.api.types.is_numeric_dtype(
            out[c]
        ):
            pattern = {"share": "{:.1%}", "hours": "{:,.1f}"}.get(kind, "{:,.0f}")
            out[c] = out[c].map(lambda v, p=pattern: "" if pd.isna(v) else p.format(v))
    return out.rename(columns={c: human_header(c) for c in out.columns})


def figures(data: ReportData, look: Mapping[str, Any]) -> list[dict[str, str]]:
    """The page's figures: name, note and HTML fragment, in order."""
    theme = dict(look)
    out = []
    trend = overall_monthly(data, theme["workbook"].get("trend_min_tickets", 20))
    if trend is not None and len(trend) > 1:
        note = (
            "Bars: tickets per month; line: the share the policy does not support (not drawn "
            "for months with too few tickets to read)."
        )
        out.append(("Out-of-scope trend", note, charts.volume_share_trend(trend, theme)))
    verdicts = labelled_verdicts(data)
    if verdicts is not None:
        out.append(("Verdicts by product", "", charts.verdicts_by_product(verdicts, theme=theme)))
    if trend is not None and len(trend) > 1 and data.tickets is not None:
        note = "Each product on its own panel, same scale; hover for the tickets behind a point."
        order = labelled_products(data)
        least = theme["workbook"].get("trend_min_tickets", 20)
        bars = charts.product_small_multiples(data.tickets.monthly, order, theme, least)
        out.append(("Trend per product", note, bars))
    heatmap = charts.coverage_heatmap(data.coverage, data.clauses, dict(data.products), theme)
    out.append(("Coverage", "Hover a cell to read its clauses.", heatmap))
    gaps = ticket_gaps(data)
    if gaps is not None:
        label = "topic_label" if "topic_label" in gaps.columns else "topic"
        hover = next((c for c in ("example_subjects", "examples") if c in gaps), None)
        note = "Tickets no clause decides, by topic; hover for example subjects."
        bar = charts.silent_topics_bar(gaps, label, hover=hover, theme=theme)
        out.append(("Silent topics", note, bar))
    return [{"name": n, "note": note, "html": figure_html(f)} for n, note, f in out]


def tables(
    data: ReportData,
    rows: int,
    examples: int,
    kinds: Mapping[str, str] | None = None,
    theme_min: int = 20,
) -> list[dict[str, Any]]:
    """The page's tables after the figures: name and table, in order (``theme_min``: tickets a
    product needs in each period to appear among the top movers)."""
    kinds = kinds or {}
    out = []
    gaps = data.tickets.policy_gaps if data.tickets is not None else None
    if gaps is not None and len(gaps):
        out.append(("Policy gaps", table(readable(gaps, data, kinds), rows)))
    quarters = quarterly_by_product(data, int(theme_min))
    if quarters is not None and len(quarters):
        q = quarters.copy()
        for c in q.columns[2:]:
            q[c] = q[c].map(lambda v: "" if pd.isna(v) else f"{v:.1%}")
        q["Tickets"] = q["Tickets"].map(lambda v: f"{v:,}")
        out.append(("Out-of-scope share by quarter and product", table(q, rows)))
    movers = top_movers(data, 3, int(theme_min))
    if movers is not None and len(movers):
        name = "Top movers: out-of-scope share, last 3 months against the 3 before"
        out.append((name, table(readable(movers, data, kinds), rows)))
    keys = {str(b["key"]) for b in detail_blocks(data, 0)}
    per_cell = coverage_tickets(data)
    if per_cell is not None:
        links = _anchors(per_cell, keys)
        per_cell_table = table(readable(per_cell, data, kinds), rows, links=links)
        out.append(("Tickets per coverage cell (click a topic for its tickets)", per_cell_table))
    out += people_tables(data, rows, kinds)
    contested = readable(contested_findings(data), data, kinds)
    out.append(("Contradictions and sibling gaps", table(contested, rows)))
    by_topic = out_of_scope_by_topic(data)
    if by_topic is not None:
        links = _anchors(by_topic, keys)
        by_topic = readable(by_topic.drop(columns=["verdict"], errors="ignore"), data, kinds)
        at = list(by_topic.columns).index("Topic") if "Topic" in by_topic.columns else 0
        out.append(
            ("Out-of-scope tickets by topic", table(by_topic, rows, links=links, link_col=at))
        )
    if data.tickets is not None and len(data.tickets.out_of_scope):
        oos = readable(out_of_scope_examples(data.tickets.out_of_scope, examples), data, kinds)
        out.append(("Out-of-scope tickets (examples by cost, across topics)", table(oos, examples)))
    if data.changes is not None:
        out.append(("Policy changes", table(readable(data.changes, data, kinds), rows)))
    about = about_rows(data).rename(columns={"item": "Item", "value": "Value"})
    out.append(("About", table(about)))
    return [{"name": n, "table": t} for n, t in out]


def people_tables(
    data: ReportData, rows: int, kinds: Mapping[str, str]
) -> list[tuple[str, dict[str, Any]]]:
    """Teams & agents and Repeat requesters (each a one-line note when the export lacks it)."""
    if data.tickets is None:
        return []
    out = []
    for name, frame, columns in (
        ("Teams & agents", teams_view(data), ("group", "assignee")),
        (f"Repeat requesters ({data.repeat_min} tickets or more)", requesters_view(data),
         ("requester",)),
    ):  # fmt: skip
        note = people_note(data, columns)
        if frame is None:
            out.append((name, table(pd.DataFrame({"Note": [note]}), rows)))
        else:
            out.append((name, table(readable(frame, data, kinds), rows)))
    return out


def labelled_products(data: ReportData) -> dict[str, str]:
    """Product id -> label of the ticket history's products, in report order."""
    if data.tickets is None:
        return dict(data.products)
    ids = list(data.tickets.verdicts["product"].astype(str))
    return {p: product_label(data, p) for p in ids}


def out_of_scope_examples(oos: pd.DataFrame, n: int) -> pd.DataFrame:
    """``n`` out-of-scope tickets, the costliest of each topic first, spread over topics."""
    if "agent_minutes" in oos.columns:
        cost = pd.to_numeric(oos["agent_minutes"], errors="coerce").fillna(0)
        oos = oos.assign(_cost=cost).sort_values("_cost", ascending=False, kind="stable")
        oos = oos.drop(columns="_cost")
    if "topic" in oos.columns:
        rank = oos.groupby("topic", sort=False).cumcount()
        oos = oos.iloc[rank.argsort(kind="stable")]
    return oos.head(n).reset_index(drop=True)


def build_html(data: ReportData, theme: dict[str, Any] | None = None) -> str:
    """The offline HTML report: figures, key figures and gap tables, all text escaped."""
    theme = theme or load_theme()
    h = theme["html"]
    currency = data.currency or str(theme.get("currency", ""))
    kinds = theme["workbook"].get("column_kinds", {})
    return _ENV.get_template(TEMPLATE).render(
        h=h,
        plotlyjs=plotlyjs(),
        period=period_line(data),
        sentences=summary_sentences(data, currency),
        generated=data.generated_at.strftime("%Y-%m-%d %H:%M UTC"),
        version=__version__,
        key_figures=table(readable_figures(key_figures(data), currency)),
        figures=figures(data, theme),
        tables=tables(
            data,
            h.get("max_table_rows", 200),
            h.get("out_of_scope_examples", 50),
            kinds,
            theme["workbook"].get("trend_min_tickets", 20),
        ),
        blocks=detail_blocks(data, config.HTML_CELL_TICKETS),
        capped=detail_capped(data),
        max_block=config.HTML_CELL_TICKETS,
    )


def write_html(
    data: ReportData, path: str | os.PathLike[str], theme: dict[str, Any] | None = None
) -> Path:
    """Write the HTML report to ``path`` (not atomic by itself; see ``write_reports``)."""
    Path(path).write_text(build_html(data, theme), encoding="utf-8")
    return Path(path)
