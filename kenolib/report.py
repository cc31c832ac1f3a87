"""The management reports: one Excel workbook and one offline HTML page from one call.

``write_reports()`` parses the policy, loads and cross-references the tickets (the bundled
sample by default), assembles a :class:`ReportData` and writes both files atomically: each is
built under a temporary name and moved into place only when both succeeded.
"""

from __future__ import annotations

import contextlib
import html
import os
import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from kenolib import __version__, config, schemas
from kenolib.aggregates_stream import Accumulator, accumulate_judged
from kenolib.errors import KenolibError
from kenolib.export import EXCEL_MAX_ROWS, WorkbookStats, load_theme, write_report_workbook
from kenolib.files import atomic_path, check_output_path

XLSX_NAME = "kenotronix_support_report.xlsx"
HTML_NAME = "kenotronix_support_report.html"
OVERVIEW = "overview"


#: Columns of the Out of scope sheet, in order (those the ticket history lacks are skipped).
OUT_OF_SCOPE_COLUMNS = schemas.REPORT_OUT_OF_SCOPE_COLUMNS


@dataclass
class ReportData:
    """Everything the workbook and the HTML page show, as frames (no I/O)."""

    policy_source: str
    policy_sha256: str
    clauses: pd.DataFrame
    coverage: pd.DataFrame
    findings: pd.DataFrame
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    products: dict[str, str] = field(default_factory=dict)
    tickets_source: str | None = None
    tickets: int = 0
    verdicts: pd.DataFrame | None = None  # crossref.verdict_by_product: one column a verdict
    tickets_by_topic: pd.DataFrame | None = None
    out_of_scope: pd.DataFrame | None = None
    policy_gaps: pd.DataFrame | None = None
    monthly: pd.DataFrame | None = None
    out_of_scope_hours: float | None = None
    out_of_scope_estimate: pd.DataFrame | None = None  # aggregates.out_of_scope_estimate
    needs_review: int = 0  # tickets whose verdict is below the review threshold
    hourly_rate: float | None = None
    policy_changes: pd.DataFrame | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def has_tickets(self) -> bool:
        return self.verdicts is not None


def product_labels(products: list[str]) -> dict[str, str]:
    """Display labels of product ids (``products.yaml``), the id itself for unknown sections."""
    from kenolib.taxonomy import load_products

    known = {p.id: getattr(p, "label", p.id) or p.id for p in load_products()}
    return {p: known.get(p, p) for p in products}


def policy_report_data(parsed: Any, policy_changes: pd.DataFrame | None = None) -> ReportData:
    """The policy half of a report: clauses, coverage matrix and findings."""
    from kenolib.coverage import coverage_matrix, policy_findings

    clauses = schemas.check_frame(parsed.clauses, schemas.CLAUSE_COLUMNS, "clauses")
    cov = coverage_matrix(clauses)
    return ReportData(
        policy_source=str(parsed.source),
        policy_sha256=parsed.sha256,
        clauses=clauses,
        coverage=cov,
        findings=policy_findings(clauses, cov),
        products=product_labels(list(dict.fromkeys(cov["product"]))),
        policy_changes=policy_changes,
        warnings=list(parsed.warnings),
    )


def silent_cells(coverage: pd.DataFrame) -> pd.DataFrame:
    """Coverage cells where a product's section and the overview table are both silent."""
    cells = coverage[(coverage["status"] == "silent") & (coverage["product"] != OVERVIEW)]
    return cells[["topic", "topic_label", "product"]].reset_index(drop=True)


def key_figures(data: ReportData, stats: WorkbookStats | None = None) -> pd.DataFrame:
    """The Summary's key figures as a two-column frame (figure, value)."""
    kinds = data.findings["kind"].value_counts()
    rows: list[tuple[str, object]] = [
        ("Policy source", data.policy_source),
        ("Policy SHA-256", data.policy_sha256),
        ("Generated (UTC)", data.generated_at.strftime("%Y-%m-%d %H:%M:%S")),
        ("Products", int((data.coverage["product"].drop_duplicates() != OVERVIEW).sum())),
        ("Clauses", len(data.clauses)),
        ("Contradictions with the overview table", int(kinds.get("contradiction", 0))),
        ("Sibling-product gaps", int(kinds.get("sibling_gap", 0))),
        ("Silent cells (topic × product)", int(kinds.get("silent", 0))),
    ]
    if data.has_tickets:
        v = data.verdicts
        total = int(v["tickets"].sum())
        oos = int(v["not_supported"].sum())
        silent = int(v["silent"].sum())
        rows += [
            ("Ticket history", data.tickets_source or ""),
            ("Tickets analysed", total),
            ("Tickets out of scope (not supported)", oos),
            ("Out-of-scope share", round(oos / total, 4) if total else 0.0),
        ]
        est = data.out_of_scope_estimate
        if est is not None and len(est):
            e = est.iloc[0]
            rows.append(
                (
                    "Out-of-scope share, calibrated estimate and likely range",
                    f"{100 * e['expected'] / max(total, 1):.1f} % "
                    f"({100 * e['share_low']:.1f}–{100 * e['share_high']:.1f} %)",
                )
            )
        rows += [
            ("Tickets on topics the policy is silent about", silent),
            ("Verdicts flagged for review (low confidence)", data.needs_review),
        ]
        if data.out_of_scope_hours is not None:
            rows.append(("Agent hours on out-of-scope work", round(data.out_of_scope_hours, 1)))
            if data.hourly_rate is not None:
                rows.append(
                    (
                        f"Cost of out-of-scope work at {data.hourly_rate:g} per hour",
                        round(data.out_of_scope_hours * data.hourly_rate, 2),
                    )
                )
                if est is not None and "cost_low" in est.columns:
                    rows.append(
                        (
                            "Cost of out-of-scope work, likely range",
                            f"{est.iloc[0]['cost_low']:,.0f}–{est.iloc[0]['cost_high']:,.0f}",
                        )
                    )
    else:
        rows.append(("Tickets analysed", "none (policy only)"))
    if stats is not None:
        rows.append(
            (
                "Cells cut at 32,767 characters (marked …[truncated by kenolib])",
                stats.truncated_cells,
            )
        )
        rows.append(("Cells with control characters removed", stats.cleaned_cells))
        split = "; ".join(f"{k} continues on {', '.join(v)}" for k, v in stats.split.items())
        rows.append(("Detail sheets split at Excel's row limit", split or "none"))
    return pd.DataFrame(rows, columns=["figure", "value"])


def top_gaps(data: ReportData, n: int = 10) -> pd.DataFrame:
    """The gaps to read first: silent topics most asked about, else the policy's own findings."""
    gaps = data.policy_gaps
    if data.has_tickets and gaps is not None and len(gaps) and "tickets" in gaps.columns:
        keep = [
            c
            for c in (
                "topic",
                "topic_label",
                "product",
                "tickets",
                "share",
                "agent_hours",
                "example_subjects",
            )
            if c in gaps.columns
        ]
        return gaps.nlargest(n, "tickets")[keep].reset_index(drop=True)
    f = data.findings[data.findings["kind"].isin(["contradiction", "sibling_gap"])]
    return f[["kind", "topic", "product", "other_product", "detail", "clause_ids"]].head(n)


def coverage_counts(coverage: pd.DataFrame) -> pd.DataFrame:
    """Coverage cells per product and status (wide, statuses as columns)."""
    counts = pd.crosstab(coverage["product"], coverage["status"])
    for s in ("supported", "not_supported", "conditional", "silent"):
        if s not in counts.columns:
            counts[s] = 0
    order = list(dict.fromkeys(coverage["product"]))
    counts = counts.loc[order, ["supported", "not_supported", "conditional", "silent"]]
    return counts.reset_index()


def about_rows(data: ReportData, stats: WorkbookStats | None = None) -> pd.DataFrame:
    """How the report was made: command, parameters, versions, policy fingerprint, warnings."""
    import openpyxl
    import plotly

    rows: list[tuple[str, str]] = [
        ("Made by", f"kenolib {__version__} (kenolib report)"),
        ("Generated (UTC)", data.generated_at.strftime("%Y-%m-%d %H:%M:%S")),
        ("Policy source", data.policy_source),
        ("Policy SHA-256", data.policy_sha256),
    ]
    rows += [(f"Parameter: {k}", str(v)) for k, v in data.parameters.items()]
    rows += [
        ("kenolib version", __version__),
        ("pandas version", pd.__version__),
        ("openpyxl version", openpyxl.__version__),
        ("plotly version", plotly.__version__),
        ("Python version", platform.python_version()),
    ]
    if stats is not None:
        rows += [
            ("Cells cut at 32,767 characters", str(stats.truncated_cells)),
            ("Cells with control characters removed", str(stats.cleaned_cells)),
        ]
    rows += [
        (
            "Security",
            "Every text cell is stored as text (never a formula); ticket text in the HTML is escaped.",
        )
    ]
    rows += [(f"Warning {i}", w) for i, w in enumerate(data.warnings, 1)]
    return pd.DataFrame(rows, columns=["item", "value"])


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------


def html_table(df: pd.DataFrame, max_rows: int = 200, caption: str | None = None) -> str:
    """An HTML table with every header and cell escaped (ticket text never becomes markup)."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = []
    for row in df.head(max_rows).itertuples(index=False, name=None):
        cells = "".join(
            f"<td>{'' if v is None or (isinstance(v, float) and pd.isna(v)) else html.escape(str(v))}</td>"
            for v in row
        )
        body.append(f"<tr>{cells}</tr>")
    more = ""
    if len(df) > max_rows:
        more = f'<p class="muted">First {max_rows:,} of {len(df):,} rows; the workbook has all.</p>'
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}"


def _plotlyjs_script() -> str:
    """plotly.js, inlined once in the page (works offline, no CDN)."""
    from plotly.offline import get_plotlyjs

    js = get_plotlyjs()
    if "</script" in js.lower():  # cannot happen with plotly's bundle; never emit a broken page
        raise RuntimeError("plotly.js contains '</script'; cannot inline it")
    return f'<script type="text/javascript">{js}</script>'


def _figure_html(fig: Any) -> str:
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
    return frag


def _readable_figures(figures: pd.DataFrame) -> pd.DataFrame:
    """Key figures for reading: shares as percentages, counts with thousands separators."""

    def fmt(name: str, v: object) -> object:
        if isinstance(v, float) and "share" in name.lower():
            return f"{v:.1%}"
        if isinstance(v, int | float) and not isinstance(v, bool):
            return f"{v:,}"
        return v

    values = [fmt(f, v) for f, v in zip(figures["figure"], figures["value"], strict=True)]
    return figures.assign(value=values)


def build_html(data: ReportData, theme: dict[str, Any] | None = None) -> str:
    """The offline HTML report: figures, key figures and gap tables, all text escaped."""
    from kenolib import charts

    theme = theme or load_theme()
    h = theme["html"]
    esc = html.escape
    figs = [
        (
            "Coverage",
            "Hover a cell to read its clauses.",
            charts.coverage_heatmap(data.coverage, data.clauses, data.products, theme),
        )
    ]
    if data.has_tickets:
        v = data.verdicts.assign(
            product=data.verdicts["product"].map(lambda p: data.products.get(p, p))
        )
        figs.append(("Verdicts by product", "", charts.verdicts_by_product(v, theme=theme)))
        if data.monthly is not None and len(data.monthly):
            figs.append(
                (
                    "Out-of-scope trend",
                    "Share of each month's tickets that the policy does not support, per product.",
                    charts.monthly_trend(data.monthly),
                )
            )
        if data.policy_gaps is not None and len(data.policy_gaps) and "tickets" in data.policy_gaps:
            label = "topic_label" if "topic_label" in data.policy_gaps.columns else "topic"
            hover = next(
                (c for c in ("example_subjects", "examples") if c in data.policy_gaps), None
            )
            figs.append(
                (
                    "Silent topics",
                    "Tickets no clause decides, by topic; hover for example subjects.",
                    charts.silent_topics_bar(data.policy_gaps, label, hover=hover, theme=theme),
                )
            )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(h['title'])}</title>",
        "<style>",
        f"body{{font-family:{h['font_family']};color:#{h['text']};margin:2rem auto;max-width:1200px;padding:0 1rem}}",
        f"h1,h2{{color:#{h['accent']}}} .muted{{color:#{h['muted']}}}",
        f"table{{border-collapse:collapse;margin:1rem 0;font-size:.9rem}} th,td{{border:1px solid #{h['table_border']};padding:.25rem .5rem;text-align:left;vertical-align:top}}",
        f"th{{background:#{h['table_header']}}} caption{{text-align:left;font-weight:bold;padding:.25rem 0}}",
        "</style>",
        _plotlyjs_script(),
        "</head><body>",
        f"<h1>{esc(h['title'])}</h1>",
        f'<p class="muted">Policy {esc(data.policy_source)} (SHA-256 {esc(data.policy_sha256)}), '
        f"generated {esc(data.generated_at.strftime('%Y-%m-%d %H:%M UTC'))} by kenolib {esc(__version__)}.</p>",
        "<h2>Key figures</h2>",
        html_table(_readable_figures(key_figures(data))),
    ]
    for name, note, fig in figs:
        parts.append(f"<h2>{esc(name)}</h2>")
        if note:
            parts.append(f'<p class="muted">{esc(note)}</p>')
        parts.append(_figure_html(fig))
    rows = h.get("max_table_rows", 200)
    if data.policy_gaps is not None and len(data.policy_gaps):
        parts += ["<h2>Policy gaps</h2>", html_table(data.policy_gaps, rows)]
    f = data.findings
    contested = f[f["kind"].isin(["contradiction", "sibling_gap"])]
    parts += ["<h2>Contradictions and sibling gaps</h2>", html_table(contested, rows)]
    if data.tickets_by_topic is not None and len(data.tickets_by_topic):
        tbt = data.tickets_by_topic
        if "verdict" in tbt.columns:
            tbt = tbt[tbt["verdict"] == "not_supported"]
        sort = "tickets" if "tickets" in tbt.columns else tbt.columns[0]
        parts += [
            "<h2>Out-of-scope tickets by topic</h2>",
            html_table(tbt.sort_values(sort, ascending=False), rows),
        ]
    if data.out_of_scope is not None and len(data.out_of_scope):
        parts += [
            "<h2>Out-of-scope tickets (examples)</h2>",
            html_table(data.out_of_scope.head(50), 50),
        ]
    if data.policy_changes is not None:
        parts += ["<h2>Policy changes</h2>", html_table(data.policy_changes, rows)]
    parts += ["<h2>About</h2>", html_table(about_rows(data)), "</body></html>"]
    return "\n".join(parts)


def write_html(
    data: ReportData, path: str | os.PathLike[str], theme: dict[str, Any] | None = None
) -> Path:
    """Write the HTML report to ``path`` (not atomic by itself; see :func:`write_reports`)."""
    text = build_html(data, theme)
    Path(path).write_text(text, encoding="utf-8")
    return Path(path)


# --------------------------------------------------------------------------------------------
# One call
# --------------------------------------------------------------------------------------------


def prepare_out_dir(out_dir: str | os.PathLike[str]) -> Path:
    """Create the report directory (parents too), or say in one line why it cannot be used."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise KenolibError(f"{out}: is a file, not a directory; give --out-dir a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise KenolibError(
            f"{out}: cannot write the reports ({reason}); choose another --out-dir"
        ) from None
    return out


def write_report_files(
    data: ReportData,
    out_dir: str | os.PathLike[str] = config.REPORTS_DIR,
    max_rows: int = EXCEL_MAX_ROWS,
    progress: bool = False,
    inputs: tuple[str | os.PathLike[str] | None, ...] = (),
) -> tuple[list[Path], WorkbookStats]:
    """Write the workbook and the HTML page for ``data`` into ``out_dir``, both or neither."""
    out = prepare_out_dir(out_dir)
    targets = [
        check_output_path(out / name, inputs, suffixes=(".xlsx", ".html"))
        for name in (XLSX_NAME, HTML_NAME)
    ]
    theme = load_theme()
    try:
        with contextlib.ExitStack() as stack:
            tmp_xlsx = stack.enter_context(atomic_path(targets[0]))
            tmp_html = stack.enter_context(atomic_path(targets[1]))
            stats = write_report_workbook(
                data, tmp_xlsx, theme, max_rows=max_rows, progress=progress
            )
            write_html(data, tmp_html, theme)
    except OSError as exc:  # unwritable directory, disk full: no report half-written
        reason = exc.strerror or str(exc)
        raise KenolibError(
            f"{out}: cannot write the reports ({reason}); choose another --out-dir"
        ) from None
    return targets, stats


def write_reports(
    policy: str | os.PathLike[str] | None = None,
    tickets: str | os.PathLike[str] | None = None,
    fmt: str = "auto",
    out_dir: str | os.PathLike[str] = config.REPORTS_DIR,
    hourly_rate: float | None = None,
    baseline: str | os.PathLike[str] | None = None,
    progress: bool = True,
    max_rows: int = EXCEL_MAX_ROWS,
    use_tickets: bool = True,
    on_warning: Callable[[str], None] | None = None,
    judged: str | os.PathLike[str] | None = None,
) -> list[Path]:
    """Parse the policy, cross-reference the tickets and write the workbook and the HTML page.

    ``tickets`` defaults to the bundled sample history; ``use_tickets=False`` gives a
    policy-only report. Warnings (parser, ticket loader) go to ``on_warning``. Returns the
    paths written: the workbook and the HTML page. ``judged``: an already judged file or
    dataset (``kenolib crossref`` output), read in batches instead of judging ``tickets``.
    """
    from kenolib.policy import parse_policy

    if hourly_rate is not None and not hourly_rate >= 0:
        raise KenolibError(f"--hourly-rate {hourly_rate:g}: give a rate of 0 or more")
    prepare_out_dir(out_dir)  # fail before the long steps, not after them
    show = progress and sys.stderr.isatty()
    steps = tqdm(total=4, desc="report", unit="step", disable=not show)
    steps.set_postfix_str("parsing the policy")
    parsed = parse_policy(policy)
    changes = None
    if baseline is not None:
        changes = policy_changes(baseline, parsed)
    data = policy_report_data(parsed, changes)
    steps.update(1)
    data.parameters = {
        "policy": str(policy or "embedded Kenotronix policy"),
        "tickets": str(tickets or ("bundled sample" if use_tickets else "none")),
        "format": fmt,
        "hourly rate": "" if hourly_rate is None else f"{hourly_rate:g}",
        "baseline": str(baseline or ""),
        "rows per sheet": f"{max_rows:,}",
    }
    if use_tickets and tickets is None and not config.SAMPLE_TICKETS.exists():
        data.warnings.append("the bundled sample ticket history is missing: policy-only report")
        data.parameters["tickets"] = "none (sample missing)"
        use_tickets = False
    if judged is not None:
        steps.set_postfix_str("reading the judged history")
        data.parameters["tickets"] = f"judged: {judged}"
        add_accumulated(data, accumulate_judged(judged), str(judged), hourly_rate)
    elif use_tickets:
        steps.set_postfix_str("cross-referencing tickets")
        add_tickets(data, parsed, tickets, fmt, hourly_rate, progress=show)
    steps.update(1)
    for w in data.warnings if on_warning else ():
        on_warning(w)
    steps.set_postfix_str("writing the reports")
    written, _ = write_report_files(
        data, out_dir, max_rows=max_rows, progress=show, inputs=(policy, tickets, baseline, judged)
    )
    steps.update(2)
    steps.close()
    return written


def policy_changes(baseline: str | os.PathLike[str], parsed: Any) -> pd.DataFrame:
    """What changed from the ``baseline`` policy to ``parsed`` (``kenolib.diff``)."""
    from kenolib.diff import diff_policies
    from kenolib.policy import parse_policy

    old = parse_policy(baseline)
    return diff_policies(old, parsed)


def add_tickets(
    data: ReportData,
    parsed: Any,
    tickets: str | os.PathLike[str] | None,
    fmt: str,
    hourly_rate: float | None,
    progress: bool = False,
) -> ReportData:
    """Load and cross-reference a ticket history and add its frames to ``data``."""
    from kenolib.classify import crossref
    from kenolib.tickets import load_tickets

    source = tickets if tickets is not None else config.SAMPLE_TICKETS
    df = load_tickets(source, fmt=fmt)
    data.warnings += list(df.attrs.get("warnings", []))
    with tqdm(total=len(df), desc="cross-reference", unit="ticket", disable=not progress) as bar:
        xref = crossref(df, parsed.clauses, progress=bar.update)
    del df
    return add_crossref(data, xref, str(source), hourly_rate)


def add_crossref(
    data: ReportData, xref: pd.DataFrame, source: str, hourly_rate: float | None = None
) -> ReportData:
    """Add a cross-referenced ticket history's frames (verdicts, gaps, out of scope) to ``data``.

    ``xref`` is :func:`kenolib.crossref.crossref` output (CONTRACTS crossref columns).
    """
    from kenolib import aggregates as xr

    xref = schemas.check_frame(xref, schemas.CROSSREF_COLUMNS, "crossref frame")
    data.tickets_source = source
    data.tickets = len(xref)
    data.hourly_rate = hourly_rate
    data.verdicts = xr.verdict_by_product(xref)
    data.tickets_by_topic = xr.tickets_by_topic(xref)
    data.policy_gaps = xr.silent_topics(xref, examples=3)
    data.monthly = xr.monthly_out_of_scope(xref)
    data.out_of_scope_estimate = xr.out_of_scope_estimate(xref, hourly_rate)
    data.needs_review = int(xref["needs_review"].sum())
    oos = (xref["verdict"] == "not_supported").to_numpy()
    cols = [c for c in OUT_OF_SCOPE_COLUMNS if c in xref.columns]
    data.out_of_scope = xref.loc[oos, cols].reset_index(drop=True)
    if "agent_minutes" in xref.columns:
        minutes = pd.to_numeric(xref.loc[oos, "agent_minutes"], errors="coerce")
        data.out_of_scope_hours = float(minutes.sum() / 60)
    return data


def add_accumulated(
    data: ReportData, acc: Accumulator, source: str, hourly_rate: float | None = None
) -> ReportData:
    """Fill ``data``'s ticket frames from accumulated aggregates (as :func:`add_crossref`)."""
    data.tickets_source = source
    data.tickets = acc.rows
    data.hourly_rate = hourly_rate
    data.verdicts = acc.verdict_by_product()
    data.tickets_by_topic = acc.tickets_by_topic()
    data.policy_gaps = acc.silent_topics()
    data.monthly = acc.monthly_out_of_scope()
    data.out_of_scope_estimate = acc.out_of_scope_estimate(hourly_rate)
    data.needs_review = acc.needs_review
    data.out_of_scope = acc.out_of_scope_detail()
    if acc.detail_rows < acc.out_of_scope_total:
        data.warnings.append(
            f"{source}: the Out of scope sheet lists the first {acc.detail_rows:,} of "
            f"{acc.out_of_scope_total:,} out-of-scope tickets; the judged dataset has them all"
        )
    if acc.has_minutes:
        data.out_of_scope_hours = acc.sums["hours_judged"]
    return data
