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

from kenolib import __version__
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


def table(df: pd.DataFrame, max_rows: int = 200, caption: str | None = None) -> dict[str, Any]:
    """A frame as the template's table: headers, the first ``max_rows`` rows as text, the total."""
    rows = [[_cell(v) for v in row] for row in df.head(max_rows).itertuples(index=False, name=None)]
    return {
        "columns": [str(c) for c in df.columns],
        "rows": rows,
        "total": len(df),
        "max_rows": max_rows,
        "caption": caption,
    }


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


def readable_figures(figures: pd.DataFrame) -> pd.DataFrame:
    """Key figures for reading: shares as percentages, counts with thousands separators."""

    def fmt(name: str, v: object) -> object:
        if isinstance(v, float) and "share" in name.lower():
            return f"{v:.1%}"
        if isinstance(v, int | float) and not isinstance(v, bool):
            return f"{v:,}"
        return v

    values = [fmt(f, v) for f, v in zip(figures["figure"], figures["value"], strict=True)]
    return figures.assign(value=values)


def figures(data: ReportData, look: Mapping[str, Any]) -> list[dict[str, str]]:
    """The page's figures: name, note and HTML fragment, in order."""
    theme = dict(look)
    out = [
        (
            "Coverage",
            "Hover a cell to read its clauses.",
            charts.coverage_heatmap(data.coverage, data.clauses, dict(data.products), theme),
        )
    ]
    verdicts = labelled_verdicts(data)
    if verdicts is not None:
        out.append(("Verdicts by product", "", charts.verdicts_by_product(verdicts, theme=theme)))
    monthly = data.tickets.monthly if data.tickets is not None else None
    if monthly is not None and len(monthly):
        note = "Share of each month's tickets that the policy does not support, per product."
        out.append(("Out-of-scope trend", note, charts.monthly_trend(monthly)))
    gaps = ticket_gaps(data)
    if gaps is not None:
        label = "topic_label" if "topic_label" in gaps.columns else "topic"
        hover = next((c for c in ("example_subjects", "examples") if c in gaps), None)
        note = "Tickets no clause decides, by topic; hover for example subjects."
        bar = charts.silent_topics_bar(gaps, label, hover=hover, theme=theme)
        out.append(("Silent topics", note, bar))
    return [{"name": n, "note": note, "html": figure_html(f)} for n, note, f in out]


def tables(data: ReportData, rows: int, examples: int) -> list[dict[str, Any]]:
    """The page's tables after the figures: name and table, in order."""
    out = []
    gaps = data.tickets.policy_gaps if data.tickets is not None else None
    if gaps is not None and len(gaps):
        out.append(("Policy gaps", table(gaps, rows)))
    out.append(("Contradictions and sibling gaps", table(contested_findings(data), rows)))
    by_topic = out_of_scope_by_topic(data)
    if by_topic is not None:
        out.append(("Out-of-scope tickets by topic", table(by_topic, rows)))
    if data.tickets is not None and len(data.tickets.out_of_scope):
        oos = data.tickets.out_of_scope.head(examples)
        out.append(("Out-of-scope tickets (examples)", table(oos, examples)))
    if data.changes is not None:
        out.append(("Policy changes", table(data.changes, rows)))
    out.append(("About", table(about_rows(data))))
    return [{"name": n, "table": t} for n, t in out]


def build_html(data: ReportData, theme: dict[str, Any] | None = None) -> str:
    """The offline HTML report: figures, key figures and gap tables, all text escaped."""
    theme = theme or load_theme()
    h = theme["html"]
    return _ENV.get_template(TEMPLATE).render(
        h=h,
        plotlyjs=plotlyjs(),
        policy_source=data.policy_source,
        policy_sha256=data.policy_sha256,
        generated=data.generated_at.strftime("%Y-%m-%d %H:%M UTC"),
        version=__version__,
        key_figures=table(readable_figures(key_figures(data))),
        figures=figures(data, theme),
        tables=tables(data, h.get("max_table_rows", 200), h.get("out_of_scope_examples", 50)),
    )


def write_html(
    data: ReportData, path: str | os.PathLike[str], theme: dict[str, Any] | None = None
) -> Path:
    """Write the HTML report to ``path`` (not atomic by itself; see ``write_reports``)."""
    Path(path).write_text(build_html(data, theme), encoding="utf-8")
    return Path(path)
