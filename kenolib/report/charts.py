"""Plotly figures for the reports and notebooks, as pure functions of frames.

Every text that reaches a figure (topic labels, clause text, ticket subjects) is HTML-escaped
first, because plotly renders a subset of HTML in labels and hover text: a subject such as
``<a href=...>`` is shown as written, never as markup. Colours come from the report theme.
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from kenolib.report.theme import load_theme
from kenolib.vocab import HEATMAP_ORDER
from kenolib.vocab import VERDICT_ORDER as _VERDICTS

#: Coverage statuses in the heatmap's colour-scale order; verdicts in report order.
STATUS_ORDER = [str(s) for s in HEATMAP_ORDER]
VERDICT_ORDER = [str(v) for v in _VERDICTS]


def plain(text: object, limit: int | None = None) -> str:
    """Text made safe for plotly labels and hover: cut to ``limit`` characters, HTML-escaped."""
    s = "" if text is None or (isinstance(text, float) and pd.isna(text)) else str(text)
    if limit is not None and len(s) > limit:
        s = s[: limit - 1] + "…"
    return html.escape(s, quote=False)


def _colour(hex_rgb: str) -> str:
    return "#" + str(hex_rgb).lstrip("#")


def _layout(fig: go.Figure, title: str, height: int | None = None) -> go.Figure:
    fig.update_layout(
        title=plain(title),
        template="plotly_white",
        margin={"l": 10, "r": 10, "t": 80, "b": 10},
        # above the plot, under the title: below it, the legend hid rotated axis labels
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
    )
    if height:
        fig.update_layout(height=height)
    return fig


def _hover_lines(ids: str, clause_text: dict[str, str], limit: int) -> str:
    lines = []
    for cid in [i for i in str(ids or "").split(";") if i]:
        lines.append(f"<b>{plain(cid)}</b>: {plain(clause_text.get(cid, ''), limit)}")
    return "<br>".join(lines) if lines else "no clause"


def _status_scale(st: dict[str, Any]) -> list[list[object]]:
    """A stepped colour scale: one flat band per coverage status, in ``STATUS_ORDER``."""
    n = len(STATUS_ORDER)
    scale: list[list[object]] = []
    for i, s in enumerate(STATUS_ORDER):
        colour = _colour(st[s]["fill"])
        scale += [[i / n, colour], [(i + 1) / n, colour]]
    return scale


def coverage_heatmap(
    coverage: pd.DataFrame,
    clauses: pd.DataFrame | None = None,
    products: dict[str, str] | None = None,
    theme: dict[str, Any] | None = None,
    text_limit: int = 160,
) -> go.Figure:
    """Topics × products heatmap of the coverage matrix; hover shows the clause ids and text.

    ``coverage`` is the long form of :func:`kenolib.coverage.coverage_matrix`; ``clauses``
    (optional) supplies the text shown on hover; ``products`` maps product ids to labels.
    """
    theme = theme or load_theme()
    st = theme["statuses"]
    topics = list(dict.fromkeys(coverage["topic"]))
    prods = list(dict.fromkeys(coverage["product"]))
    code = {s: i for i, s in enumerate(STATUS_ORDER)}
    text_of: dict[str, str] = {}
    if clauses is not None and len(clauses):
        text_of = dict(
            zip(clauses["clause_id"], clauses["heading"] + " — " + clauses["text"], strict=True)
        )
    cells = coverage.set_index(["topic", "product"])
    labels = (
        dict(zip(coverage["topic"], coverage["topic_label"], strict=False))
        if "topic_label" in coverage.columns
        else {}
    )
    z, marks, hover = [], [], []
    for t in topics:
        zr, mr, hr = [], [], []
        for p in prods:
            c = cells.loc[(t, p)]
            status = str(c["status"])
            inherited = bool(c.get("inherited", False))
            zr.append(code.get(status, len(STATUS_ORDER) - 1))
            mr.append(st.get(status, {}).get("mark", "?") + ("°" if inherited else ""))
            head = (
                f"<b>{plain(labels.get(t, t))}</b> × <b>{plain((products or {}).get(p, p))}</b><br>"
                f"{plain(st.get(status, {}).get('label', status))}"
                + (" (inherited from the overview table)" if inherited else "")
            )
            hr.append(head + "<br>" + _hover_lines(c.get("clause_ids", ""), text_of, text_limit))
        z.append(zr)
        marks.append(mr)
        hover.append(hr)
    n = len(STATUS_ORDER)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[plain((products or {}).get(p, p)) for p in prods],
            y=[plain(labels.get(t, t)) for t in topics],
            text=marks,
            texttemplate="%{text}",
            customdata=hover,
            hovertemplate="%{customdata}<extra></extra>",
            colorscale=_status_scale(st),
            zmin=-0.5,
            zmax=n - 0.5,
            xgap=2,
            ygap=2,
            colorbar={
                "tickvals": list(range(n)),
                "ticktext": [f"{st[s]['mark']} {plain(st[s]['short'])}" for s in STATUS_ORDER],
                "title": "",
            },
        )
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(side="top", tickangle=-25)
    fig = _layout(
        fig,
        "Coverage: topics × products (° = inherited from the overview table)",
        24 * len(topics) + 200,
    )
    # product names sit on top: leave room between them and the title
    return fig.update_layout(margin={"t": 130}, title={"y": 0.995, "yanchor": "top"})


def verdicts_by_product(
    counts: pd.DataFrame,
    product: str = "product",
    verdict: str = "verdict",
    value: str = "tickets",
    theme: dict[str, Any] | None = None,
) -> go.Figure:
    """Stacked bars of tickets per product and verdict.

    ``counts`` is long (product, verdict, tickets) or the wide frame of
    :func:`kenolib.crossref.verdict_by_product` (one column per verdict).
    """
    theme = theme or load_theme()
    if verdict not in counts.columns:
        present = [v for v in VERDICT_ORDER if v in counts.columns]
        counts = counts.drop(columns=value, errors="ignore").melt(  # drop the total column
            id_vars=product, value_vars=present, var_name=verdict, value_name=value
        )
    fig = go.Figure()
    for v in [*VERDICT_ORDER, *sorted(set(counts[verdict]) - set(VERDICT_ORDER))]:
        sub = counts[counts[verdict] == v]
        if sub.empty:
            continue
        spec = theme["verdicts"].get(v, {})
        fig.add_bar(
            x=[plain(p) for p in sub[product]],
            y=sub[value],
            name=plain(spec.get("label", v)),
            marker_color=_colour(spec["plot"]) if "plot" in spec else None,
        )
    fig.update_layout(barmode="stack", yaxis_title="tickets")
    return _layout(fig, "Tickets by product and verdict")


def monthly_trend(
    monthly: pd.DataFrame,
    month: str = "month",
    product: str = "product",
    value: str = "share",
) -> go.Figure:
    """Lines of the monthly out-of-scope share (or another ``value``) per product."""
    fig = go.Figure()
    undated = monthly[month].isna()
    note = ""
    if undated.any():  # tickets without a creation date have no month to be drawn at
        n = (
            int(monthly.loc[undated, "tickets"].sum())
            if "tickets" in monthly
            else int(undated.sum())
        )
        note = f" ({n:,} tickets without a date not drawn)"
    monthly = monthly[~undated].sort_values(month)
    labels = monthly[month]
    if pd.api.types.is_datetime64_any_dtype(labels):
        labels = labels.dt.strftime("%Y-%m")
    monthly = monthly.assign(_label=labels.astype(str))
    for p, sub in monthly.groupby(product, sort=False):
        fig.add_scatter(x=sub["_label"], y=sub[value], mode="lines+markers", name=plain(p))
    if value == "share":
        fig.update_yaxes(tickformat=".0%", title="out-of-scope share")
    else:
        fig.update_yaxes(title=plain(value))
    return _layout(fig, "Out-of-scope tickets by month" + note)


def silent_topics_bar(
    silent: pd.DataFrame,
    label: str = "topic",
    value: str = "tickets",
    hover: str | None = None,
    top: int = 20,
    theme: dict[str, Any] | None = None,
) -> go.Figure:
    """Horizontal bars of the topics the policy is silent on, by tickets (largest first)."""
    theme = theme or load_theme()
    agg = silent.groupby(label, as_index=False, sort=False)[value].sum()
    agg = agg.nlargest(top, value).iloc[::-1]
    kwargs: dict[str, Any] = {}
    if hover and hover in silent.columns:
        first = silent.drop_duplicates(label).set_index(label)[hover]
        kwargs = {
            "customdata": [plain(first.get(t, ""), 300) for t in agg[label]],
            "hovertemplate": "%{y}: %{x}<br>%{customdata}<extra></extra>",
        }
    fig = go.Figure(
        go.Bar(
            x=agg[value],
            y=[plain(t) for t in agg[label]],
            orientation="h",
            marker_color=_colour(theme["verdicts"]["silent"]["plot"]),
            **kwargs,
        )
    )
    fig.update_xaxes(title=plain(value))
    return _layout(
        fig, "Policy gaps: tickets on topics the policy is silent about", 28 * len(agg) + 160
    )


def volume_share_trend(trend: pd.DataFrame, theme: dict[str, Any] | None = None) -> go.Figure:
    """Ticket volume per month (bars) with the out-of-scope share (line, right axis).

    ``trend`` has month (label), tickets and share (``kenolib.report.summary.overall_monthly``).
    """
    theme = theme or load_theme()
    fig = go.Figure()
    x = [plain(m) for m in trend["month"]]
    volume = _colour(theme["workbook"].get("volume_colour", "8EA9DB"))
    fig.add_bar(x=x, y=trend["tickets"], name="tickets", marker_color=volume, opacity=0.7)
    oos = _colour(theme["verdicts"]["not_supported"]["plot"])
    fig.add_scatter(
        x=x,
        y=trend["share"],
        name="out-of-scope share",
        yaxis="y2",
        mode="lines+markers",
        line={"color": oos, "width": 3},
    )
    fig.update_layout(
        yaxis={"title": "tickets", "tickformat": ",d"},
        yaxis2={
            "title": "out-of-scope share",
            "overlaying": "y",
            "side": "right",
            "tickformat": ".0%",
            "range": [0, 1],  # a share: fixed, so a sparse (filtered) history never reads 380 %
            "tick0": 0,
            "dtick": 0.25,
            "showgrid": False,
        },
    )
    return _layout(fig, "Tickets and out-of-scope share by month", height=420)


def product_small_multiples(
    monthly: pd.DataFrame,
    products: dict[str, str],
    theme: dict[str, Any] | None = None,
    min_tickets: int = 1,
) -> go.Figure:
    """One small panel per product: the quarterly out-of-scope share, same scale everywhere
    (quarters with fewer than ``min_tickets`` tickets left empty). ``products``: id -> label,
    in panel order."""
    theme = theme or load_theme()
    m = monthly.dropna(subset=["month"]).copy()
    m["quarter"] = pd.to_datetime(m["month"]).dt.to_period("Q").astype(str)
    q = m.groupby(["product", "quarter"], sort=True)[["tickets", "out_of_scope"]].sum()
    q = q.reset_index()
    names = [p for p in products if p in set(m["product"].astype(str))]
    names += [p for p in dict.fromkeys(m["product"].astype(str)) if p not in names]
    cols = 4
    rows = max(1, -(-len(names) // cols))
    titles = [plain(products.get(p, p)) for p in names]
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, shared_yaxes=True)
    oos = _colour(theme["verdicts"]["not_supported"]["plot"])
    for i, p in enumerate(names):
        sub = q[q["product"] == p]
        share = sub["out_of_scope"] / sub["tickets"].where(sub["tickets"] >= min_tickets)
        fig.add_scatter(
            x=sub["quarter"],
            y=share,
            mode="lines+markers",
            showlegend=False,
            line={"color": oos},
            row=i // cols + 1,
            col=i % cols + 1,
            customdata=sub["tickets"],
            hovertemplate="%{x}: %{y:.0%} of %{customdata} tickets",
        )
    fig.update_yaxes(tickformat=".0%", range=[0, 1])
    return _layout(fig, "Out-of-scope share by quarter, per product", height=260 * rows)
