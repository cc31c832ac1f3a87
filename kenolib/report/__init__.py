"""The management reports: one Excel workbook and one offline HTML page from one call.

``write_reports()`` parses the policy, loads and cross-references the tickets (the bundled
sample by default), builds a :class:`ReportData` once (:mod:`kenolib.report.data`, a pure
builder) and hands it to the renderers (:mod:`~kenolib.report.workbook`,
:mod:`~kenolib.report.html`, with :mod:`~kenolib.report.charts` and the theme of
:mod:`~kenolib.report.theme`). Both files are built under temporary names and moved into place
only when both succeeded.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.std import tqdm  # bars on a terminal only; tqdm.auto warns without ipywidgets

from kenolib import config
from kenolib.aggregates_stream import accumulate_judged
from kenolib.classify import crossref
from kenolib.classify.labels import load_accuracy
from kenolib.diff import diff_policies
from kenolib.errors import KenolibError
from kenolib.feedback import crossref_with_labels
from kenolib.files import atomic_path, check_output_path
from kenolib.filters import TicketFilter, filter_frame
from kenolib.policy import parse_policy
from kenolib.report.data import (
    OUT_OF_SCOPE_COLUMNS,
    PolicyPart,
    ReportData,
    TicketPart,
    about_rows,
    accumulated_part,
    add_crossref,
    build_report_data,
    coverage_counts,
    filter_period,
    key_figures,
    policy_report_data,
    product_labels,
    silent_cells,
    top_gaps,
)
from kenolib.report.html import build_html, html_table, write_html
from kenolib.report.theme import load_theme
from kenolib.report.workbook import write_report_workbook
from kenolib.tickets import load_tickets
from kenolib.vocab import OVERVIEW
from kenolib.xlsx import EXCEL_MAX_ROWS, WorkbookStats

__all__ = [
    "HTML_NAME",
    "OUT_OF_SCOPE_COLUMNS",
    "OVERVIEW",
    "XLSX_NAME",
    "PolicyPart",
    "ReportData",
    "TicketPart",
    "about_rows",
    "add_crossref",
    "add_tickets",
    "build_html",
    "build_report_data",
    "coverage_counts",
    "html_table",
    "key_figures",
    "load_theme",
    "policy_changes",
    "policy_report_data",
    "prepare_out_dir",
    "product_labels",
    "silent_cells",
    "top_gaps",
    "write_html",
    "write_report_files",
    "write_report_workbook",
    "write_reports",
]

XLSX_NAME = "kenotronix_support_report.xlsx"
HTML_NAME = "kenotronix_support_report.html"


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


def _parameters(
    policy: Any,
    tickets: Any,
    use_tickets: bool,
    fmt: str,
    rate: float | None,
    baseline: Any,
    rows: int,
) -> dict[str, str]:
    return {
        "policy": str(policy or "embedded Kenotronix policy"),
        "tickets": str(tickets or ("bundled sample" if use_tickets else "none")),
        "format": fmt,
        "hourly rate": "" if rate is None else f"{rate:g}",
        "baseline": str(baseline or ""),
        "rows per sheet": f"{rows:,}",
    }


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
    labels: str | os.PathLike[str] | None = None,
    judged: str | os.PathLike[str] | None = None,
    since: date | None = None,
    until: date | None = None,
    currency: str = "",
    ticket_filter: TicketFilter | None = None,
    effort: tuple[str, str] | None = None,
    repeat_min: int = config.REPEAT_REQUESTER_TICKETS,
) -> list[Path]:
    """Parse the policy, cross-reference the tickets and write the workbook and the HTML page.

    ``tickets`` defaults to the bundled sample history; ``use_tickets=False`` gives a
    policy-only report. Warnings (parser, ticket loader) go to ``on_warning``. ``labels`` (a
    labels directory) applies the analyst's decisions and adds the accuracy they measured to the
    key figures. ``judged``: an already judged file or dataset (``kenolib crossref`` output),
    read in batches instead of judging ``tickets``; ``since``/``until``: the days kept;
    ``currency``: of costs; ``ticket_filter``: the products, teams and agents kept;
    ``effort``: (column, unit) of agent time instead of the format's; ``repeat_min``: tickets a
    repeat requester has at least. Returns the paths written: the workbook and the HTML page."""
    if judged is not None and (since or until):
        raise KenolibError("--since/--until filter --tickets; a --judged history is read whole")
    if hourly_rate is not None and not hourly_rate >= 0:
        raise KenolibError(f"--hourly-rate {hourly_rate:g}: give a rate of 0 or more")
    prepare_out_dir(out_dir)  # fail before the long steps, not after them
    show = progress and sys.stderr.isatty()
    steps = tqdm(total=4, desc="report", unit="step", disable=not show)
    steps.set_postfix_str("parsing the policy")
    parsed = parse_policy(policy)
    changes = policy_changes(baseline, parsed) if baseline is not None else None
    steps.update(1)
    params = _parameters(policy, tickets, use_tickets, fmt, hourly_rate, baseline, max_rows)
    params["currency"] = currency or "the theme's"
    warnings: list[str] = []
    if use_tickets and tickets is None and not config.SAMPLE_TICKETS.exists():
        warnings.append("the bundled sample ticket history is missing: policy-only report")
        params["tickets"] = "none (sample missing)"
        use_tickets = False
    xref, source, part, loaded = _ticket_history(
        parsed, tickets, fmt, use_tickets, judged, hourly_rate, labels, effort, ticket_filter,
        since, until, params, show,
    )  # fmt: skip
    warnings += loaded
    checked = load_accuracy(labels) if labels is not None else None
    params.update({"labels": str(labels)} if labels is not None else {})
    if ticket_filter:
        params["tickets kept"] = ticket_filter.describe(xref)
    if effort is not None:
        params["effort column"] = f"{effort[0]} ({effort[1]})"
    data = build_report_data(
        parsed, xref, source, changes, hourly_rate, params, tuple(warnings), None, checked
    )
    scope = ticket_filter.describe(xref) if ticket_filter else ""
    del xref
    data = dataclasses.replace(
        data, tickets=part or data.tickets, currency=currency, scope=scope, repeat_min=repeat_min
    )
    steps.update(1)
    for w in data.warnings if on_warning is not None else ():
        on_warning(w)  # type: ignore[misc]
    steps.set_postfix_str("writing the reports")
    inputs = (policy, tickets, baseline, judged)
    written, _ = write_report_files(data, out_dir, max_rows, show, inputs)
    steps.update(2)
    steps.close()
    return written


def _ticket_history(
    parsed: Any,
    tickets: Any,
    fmt: str,
    use_tickets: bool,
    judged: Any,
    hourly_rate: float | None,
    labels: Any,
    effort: tuple[str, str] | None,
    ticket_filter: TicketFilter | None,
    since: date | None,
    until: date | None,
    params: dict[str, str],
    show: bool,
) -> tuple[pd.DataFrame | None, str, TicketPart | None, list[str]]:
    """The tickets of a report: judged now (a frame) or read from a judged dataset (a part),
    narrowed to the period and the filter; with the loader's warnings."""
    if judged is not None:
        params["tickets"] = f"judged: {judged}"
        acc = accumulate_judged(judged, ticket_filter=ticket_filter)
        part, loaded = accumulated_part(acc, str(judged), hourly_rate)
        return None, "", part, loaded
    if not use_tickets:
        return None, "", None, []
    xref, source, loaded = judge_tickets(
        parsed, tickets, fmt, progress=show, labels=labels, effort=effort
    )
    xref = filter_frame(filter_period(xref, since, until), ticket_filter)
    params.update({k: v.isoformat() for k, v in (("since", since), ("until", until)) if v})
    return xref, source, None, loaded


def policy_changes(baseline: str | os.PathLike[str], parsed: Any) -> pd.DataFrame:
    """What changed from the ``baseline`` policy to ``parsed`` (``kenolib.diff``)."""
    return diff_policies(parse_policy(baseline), parsed)


def judge_tickets(
    parsed: Any,
    tickets: str | os.PathLike[str] | None,
    fmt: str,
    progress: bool = False,
    labels: str | os.PathLike[str] | None = None,
    effort: tuple[str, str] | None = None,
) -> tuple[pd.DataFrame, str, list[str]]:
    """Load a ticket history (the bundled sample by default) and cross-reference it, with the
    analyst's ``labels`` directory when given.

    Returns the crossref frame, the source named in the report and the loader's warnings.
    """
    source = tickets if tickets is not None else config.SAMPLE_TICKETS
    df = load_tickets(source, fmt=fmt, effort=effort)
    warnings = list(df.attrs.get("warnings", []))
    with tqdm(total=len(df), desc="cross-reference", unit="ticket", disable=not progress) as bar:
        if labels is not None:
            xref = crossref_with_labels(df, parsed, labels, progress=bar.update)
        else:
            xref = crossref(df, parsed.clauses, progress=bar.update)
    return xref, str(source), warnings


def add_tickets(
    data: ReportData,
    parsed: Any,
    tickets: str | os.PathLike[str] | None,
    fmt: str,
    hourly_rate: float | None,
    progress: bool = False,
    labels: str | os.PathLike[str] | None = None,
) -> ReportData:
    """``data`` with a ticket history loaded, cross-referenced (with the analyst's ``labels``
    when given) and aggregated (a new value)."""
    xref, source, warnings = judge_tickets(parsed, tickets, fmt, progress, labels)
    data = add_crossref(data, xref, source, hourly_rate)
    return ReportData(
        data.policy,
        data.tickets,
        data.changes,
        data.generated_at,
        data.parameters,
        data.warnings + tuple(warnings),
        data.checked_accuracy,
    )
