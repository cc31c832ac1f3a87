"""The report as data: what the workbook and the HTML page show, built once by a pure builder.

:class:`ReportData` is ``(policy, tickets | None, changes | None)`` plus provenance:

- :class:`PolicyPart`: clauses, coverage matrix, findings, product labels (always present);
- :class:`TicketPart`: the cross-referenced ticket history's aggregates (``None`` for a
  policy-only report);
- ``changes``: the clause diff against a baseline policy (``None`` without ``--baseline``).

:func:`build_report_data` is pure (frames in, frozen data out; no files read, nothing
printed). The derived tables every renderer shows (key figures, top gaps, coverage counts, the
detail sheets, About) are functions of a ``ReportData`` here, so that whether a report has
tickets is decided in this module and nowhere else.
"""

from __future__ import annotations

import dataclasses
import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import openpyxl
import pandas as pd
import plotly

from kenolib import __version__, config, schemas
from kenolib import aggregates as xr
from kenolib.aggregates_stream import Accumulator
from kenolib.classify.labels import format_accuracy
from kenolib.coverage import coverage_matrix, policy_findings
from kenolib.errors import KenolibError
from kenolib.people import merge_people, people_part
from kenolib.taxonomy import UNKNOWN_PRODUCT
from kenolib.taxonomy import product_labels as taxonomy_product_labels
from kenolib.vocab import COVERAGE_ORDER, OVERVIEW, FindingKind, Verdict
from kenolib.xlsx import WorkbookStats

#: Columns of the Out of scope sheet, in order (those the ticket history lacks are skipped).
OUT_OF_SCOPE_COLUMNS = schemas.REPORT_OUT_OF_SCOPE_COLUMNS
#: Columns of the top-gaps table when tickets decide the gaps, in order (absent ones skipped).
TOP_GAP_COLUMNS = [
    "topic",
    "topic_label",
    "product",
    "tickets",
    "share",
    "agent_hours",
    "example_subjects",
]
CONTESTED = [FindingKind.CONTRADICTION, FindingKind.SIBLING_GAP]
#: How tickets naming no known product are labelled in the reports.
UNKNOWN_PRODUCT_LABEL = "No product named"


@dataclass(frozen=True)
class PolicyPart:
    """The policy half of a report: clauses, coverage matrix and findings."""

    source: str
    sha256: str
    clauses: pd.DataFrame
    coverage: pd.DataFrame
    findings: pd.DataFrame
    products: Mapping[str, str]  # product id -> display label


@dataclass(frozen=True)
class TicketPart:
    """The ticket half: aggregates of a cross-referenced history (``kenolib.aggregates``)."""

    source: str
    tickets: int
    verdicts: pd.DataFrame  # aggregates.verdict_by_product: one column a verdict
    tickets_by_topic: pd.DataFrame
    out_of_scope: pd.DataFrame
    policy_gaps: pd.DataFrame  # aggregates.silent_topics
    monthly: pd.DataFrame
    out_of_scope_estimate: pd.DataFrame
    needs_review: int  # tickets whose verdict is below the review threshold
    out_of_scope_hours: float | None = None
    hourly_rate: float | None = None
    first_date: date | None = None  # the first and last ticket creation dates
    last_date: date | None = None
    #: whether any ticket has an agent-time figure (else hours and cost are "not recorded")
    effort_recorded: bool = True
    #: per team, agent and requester partial sums (:func:`kenolib.people.people_part`)
    people: pd.DataFrame | None = None
    #: the tickets behind each cell (the first ``config.TICKET_DETAIL_ROWS``), and how many
    #: tickets there were in all
    ticket_detail: pd.DataFrame | None = None


@dataclass(frozen=True)
class ReportData:
    """Everything the workbook and the HTML page show, as frames (no I/O)."""

    policy: PolicyPart
    tickets: TicketPart | None = None
    changes: pd.DataFrame | None = None
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    parameters: Mapping[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    #: The verdict accuracy an analyst measured (``kenolib learn``: the labels' accuracy file).
    checked_accuracy: Mapping[str, Any] | None = None
    #: The currency of costs ("EUR"); empty: the theme's.
    currency: str = ""
    #: What the tickets were narrowed to ("Managed WordPress only; team Billing"); empty: all.
    scope: str = ""
    #: Tickets a requester needs to be listed among the repeat requesters.
    repeat_min: int = config.REPEAT_REQUESTER_TICKETS

    # the policy half's names, read by notebooks and older scripts
    @property
    def policy_source(self) -> str:
        return self.policy.source

    @property
    def policy_sha256(self) -> str:
        return self.policy.sha256

    @property
    def clauses(self) -> pd.DataFrame:
        return self.policy.clauses

    @property
    def coverage(self) -> pd.DataFrame:
        return self.policy.coverage

    @property
    def findings(self) -> pd.DataFrame:
        return self.policy.findings

    @property
    def products(self) -> Mapping[str, str]:
        return self.policy.products

    @property
    def has_tickets(self) -> bool:
        return self.tickets is not None


@dataclass(frozen=True)
class DetailSheet:
    """A detail sheet of the workbook: theme key, rows, table name, note after the explanation."""

    key: str
    frame: pd.DataFrame
    table: str
    note: str = ""


def product_labels(products: list[str]) -> dict[str, str]:
    """Display labels of product ids (``products.yaml``), the id itself for unknown sections."""
    known = taxonomy_product_labels()
    known[UNKNOWN_PRODUCT] = UNKNOWN_PRODUCT_LABEL
    return {p: known.get(p, p) for p in products}


def policy_part(parsed: Any) -> PolicyPart:
    """Clauses, coverage matrix and findings of a parsed policy (``kenolib.policy``)."""
    clauses = schemas.check_frame(parsed.clauses, schemas.CLAUSE_COLUMNS, "clauses")
    cov = coverage_matrix(clauses)
    return PolicyPart(
        source=str(parsed.source),
        sha256=parsed.sha256,
        clauses=clauses,
        coverage=cov,
        findings=policy_findings(clauses, cov),
        products=product_labels(list(dict.fromkeys(cov["product"]))),
    )


def ticket_part(xref: pd.DataFrame, source: str, hourly_rate: float | None = None) -> TicketPart:
    """The aggregates of a cross-referenced ticket history (CONTRACTS crossref columns)."""
    xref = schemas.check_frame(xref, schemas.CROSSREF_COLUMNS, "crossref frame")
    oos = (xref["verdict"] == Verdict.NOT_SUPPORTED).to_numpy()
    cols = [c for c in OUT_OF_SCOPE_COLUMNS if c in xref.columns]
    hours = None
    first, last = dated_range(xref.get("created_at"))
    recorded = xr.effort_recorded(xref)
    if recorded:
        minutes = pd.to_numeric(xref.loc[oos, "agent_minutes"], errors="coerce")
        hours = float(minutes.sum() / 60)
    detail = [c for c in schemas.TICKET_DETAIL_COLUMNS if c in xref.columns]
    return TicketPart(
        source=source,
        tickets=len(xref),
        verdicts=xr.verdict_by_product(xref),
        tickets_by_topic=xr.tickets_by_topic(xref),
        out_of_scope=xref.loc[oos, cols].reset_index(drop=True),
        policy_gaps=xr.silent_topics(xref, examples=3),
        monthly=xr.monthly_out_of_scope(xref),
        out_of_scope_estimate=xr.out_of_scope_estimate(xref, hourly_rate),
        needs_review=int(xref["needs_review"].sum()),
        out_of_scope_hours=hours,
        hourly_rate=hourly_rate,
        first_date=first,
        last_date=last,
        effort_recorded=recorded,
        people=merge_people([people_part(xref)]),
        ticket_detail=xref[detail].head(config.TICKET_DETAIL_ROWS).reset_index(drop=True),
    )


def dated_range(created: pd.Series | None) -> tuple[date | None, date | None]:
    """The first and last date of a creation-date column (None, None when nothing is dated)."""
    if created is None:
        return None, None
    when = pd.to_datetime(created, errors="coerce", utc=True).dropna()
    if not len(when):
        return None, None
    return when.min().date(), when.max().date()


def filter_period(xref: pd.DataFrame, since: date | None, until: date | None) -> pd.DataFrame:
    """The tickets created from ``since`` to ``until`` (both days included; None: open)."""
    if since is None and until is None:
        return xref
    if "created_at" not in xref.columns:
        raise KenolibError("--since/--until: the ticket history has no creation dates")
    day = pd.to_datetime(xref["created_at"], errors="coerce", utc=True).dt.tz_localize(None)
    keep = day.notna()
    if since is not None:
        keep &= day >= pd.Timestamp(since)
    if until is not None:
        keep &= day < pd.Timestamp(until) + pd.Timedelta(days=1)
    return xref.loc[keep.to_numpy()].reset_index(drop=True)


def build_report_data(
    parsed: Any,
    xref: pd.DataFrame | None = None,
    tickets_source: str = "",
    changes: pd.DataFrame | None = None,
    hourly_rate: float | None = None,
    parameters: Mapping[str, str] | None = None,
    warnings: tuple[str, ...] = (),
    generated_at: datetime | None = None,
    checked_accuracy: Mapping[str, Any] | None = None,
) -> ReportData:
    """The report's data, once: the policy, the tickets (``xref``, optional), the changes and
    the accuracy an analyst measured (optional)."""
    return ReportData(
        policy=policy_part(parsed),
        tickets=None if xref is None else ticket_part(xref, tickets_source, hourly_rate),
        changes=changes,
        generated_at=generated_at or datetime.now(UTC),
        parameters=dict(parameters or {}),
        warnings=tuple(parsed.warnings) + tuple(warnings),
        checked_accuracy=checked_accuracy,
    )


# --------------------------------------------------------------------------------------------
# Derived tables, shared by the workbook and the HTML page
# --------------------------------------------------------------------------------------------


def silent_cells(coverage: pd.DataFrame) -> pd.DataFrame:
    """Coverage cells where a product's section and the overview table are both silent."""
    cells = coverage[(coverage["status"] == "silent") & (coverage["product"] != OVERVIEW)]
    return cells[["topic", "topic_label", "product"]].reset_index(drop=True)


#: How each key figure's value is formatted: count, share, hours, money or text.
FIGURE_KINDS = ("count", "share", "hours", "money", "text")


def _ticket_figures(t: TicketPart) -> list[tuple[str, object, str]]:
    v = t.verdicts
    total = int(v["tickets"].sum())
    oos = int(v[Verdict.NOT_SUPPORTED].sum())
    rows: list[tuple[str, object, str]] = [
        ("Tickets analysed", total, "count"),
        ("Tickets out of scope (not supported)", oos, "count"),
        ("Out-of-scope share", round(oos / total, 4) if total else 0.0, "share"),
    ]
    est = t.out_of_scope_estimate
    if est is not None and len(est):
        e = est.iloc[0]
        rows.append(("Out-of-scope share, likely low", float(e["share_low"]), "share"))
        rows.append(("Out-of-scope share, likely high", float(e["share_high"]), "share"))
    rows += [
        ("Tickets on topics the policy is silent about", int(v[Verdict.SILENT].sum()), "count"),
        ("Verdicts flagged for review (low confidence)", t.needs_review, "count"),
    ]
    if t.out_of_scope_hours is None or not t.effort_recorded:
        rows.append(("Agent hours on out-of-scope work", "not recorded", "text"))
        if t.hourly_rate is not None:
            rows.append(("Cost of out-of-scope work", "not recorded", "text"))
        return rows
    rows.append(("Agent hours on out-of-scope work", round(t.out_of_scope_hours, 1), "hours"))
    if t.hourly_rate is not None:
        rows.append(("Cost of an agent hour", t.hourly_rate, "money"))
        cost = round(t.out_of_scope_hours * t.hourly_rate, 2)
        rows.append(("Cost of out-of-scope work", cost, "money"))
        if est is not None and "cost_low" in est.columns:
            rows.append(("Cost, likely low", float(est.iloc[0]["cost_low"]), "money"))
            rows.append(("Cost, likely high", float(est.iloc[0]["cost_high"]), "money"))
    return rows


def key_figures(data: ReportData, stats: WorkbookStats | None = None) -> pd.DataFrame:
    """The Summary's key figures: figure (human label), value, kind (how to format the value).

    Provenance (policy file, fingerprint, cut cells) is in :func:`about_rows`."""
    p = data.policy
    kinds = p.findings["kind"].value_counts()
    rows: list[tuple[str, object, str]] = []
    if data.tickets is not None:
        rows += _ticket_figures(data.tickets)
    else:
        rows.append(("Tickets analysed", "none (policy only)", "text"))
    rows += [
        ("Products", int((p.coverage["product"].drop_duplicates() != OVERVIEW).sum()), "count"),
        ("Clauses", len(p.clauses), "count"),
        (
            "Contradictions with the overview table",
            int(kinds.get(FindingKind.CONTRADICTION, 0)),
            "count",
        ),
        ("Sibling-product gaps", int(kinds.get(FindingKind.SIBLING_GAP, 0)), "count"),
        ("Silent cells (topic × product)", int(kinds.get(FindingKind.SILENT, 0)), "count"),
    ]
    if data.checked_accuracy is not None:
        rows.append(
            ("Verdicts checked by an analyst", format_accuracy(data.checked_accuracy), "text")
        )
    return pd.DataFrame(rows, columns=["figure", "value", "kind"])


def ticket_gaps(data: ReportData) -> pd.DataFrame | None:
    """The silent topics the tickets ask about (None without tickets or without counts)."""
    gaps = data.tickets.policy_gaps if data.tickets is not None else None
    if gaps is None or not len(gaps) or "tickets" not in gaps.columns:
        return None
    return gaps


def top_gaps(data: ReportData, n: int = 10) -> pd.DataFrame:
    """The gaps to read first: silent topics most asked about, else the policy's own findings."""
    gaps = ticket_gaps(data)
    if gaps is not None:
        keep = [c for c in TOP_GAP_COLUMNS if c in gaps.columns]
        return gaps.nlargest(n, "tickets")[keep].reset_index(drop=True)
    f = contested_findings(data)
    return f[["kind", "topic", "product", "other_product", "detail", "clause_ids"]].head(n)


def top_gaps_heading(data: ReportData) -> str:
    """The heading of :func:`top_gaps` (what decided the gaps)."""
    if data.tickets is not None:
        return "Top gaps: topics the policy is silent about, most asked first"
    return "Top gaps: contradictions and sibling-product gaps"


def contested_findings(data: ReportData) -> pd.DataFrame:
    """Contradictions with the overview table and sibling-product gaps."""
    f = data.policy.findings
    return f[f["kind"].isin(CONTESTED)]


def coverage_counts(coverage: pd.DataFrame) -> pd.DataFrame:
    """Coverage cells per product and status (wide, statuses as columns)."""
    statuses = [str(s) for s in COVERAGE_ORDER]
    counts = pd.crosstab(coverage["product"], coverage["status"])
    for s in statuses:
        if s not in counts.columns:
            counts[s] = 0
    order = list(dict.fromkeys(coverage["product"]))
    counts = counts.loc[order, statuses]
    return counts.reset_index()


def labelled_verdicts(data: ReportData) -> pd.DataFrame | None:
    """Tickets by product (display label) and verdict, None without tickets."""
    if data.tickets is None:
        return None
    v = data.tickets.verdicts
    labels = {**product_labels(list(v["product"].astype(str))), **data.products}
    return v.assign(product=v["product"].map(lambda p: labels.get(p, p)))


def out_of_scope_by_topic(data: ReportData) -> pd.DataFrame | None:
    """Out-of-scope tickets per product and topic, most first (None without tickets)."""
    if data.tickets is None or not len(data.tickets.tickets_by_topic):
        return None
    tbt = data.tickets.tickets_by_topic
    if "verdict" in tbt.columns:
        tbt = tbt[tbt["verdict"] == Verdict.NOT_SUPPORTED]
    sort = "tickets" if "tickets" in tbt.columns else tbt.columns[0]
    return tbt.sort_values(sort, ascending=False)


def detail_sheets(data: ReportData) -> list[DetailSheet]:
    """The workbook's detail sheets in order (theme key, rows, table name, note)."""
    sheets = [
        DetailSheet("clauses", data.clauses, "tblClauses"),
        DetailSheet("findings", data.findings, "tblFindings"),
    ]
    if data.tickets is not None:
        t = data.tickets
        sheets += [
            DetailSheet("tickets_by_topic", t.tickets_by_topic, "tblTicketsByTopic"),
            DetailSheet("out_of_scope", t.out_of_scope, "tblOutOfScope"),
            DetailSheet("policy_gaps", t.policy_gaps, "tblPolicyGaps"),
        ]
    else:
        none = " No ticket history was analysed for this report."
        empty = pd.DataFrame({"ticket_id": pd.Series([], dtype="string")})
        sheets += [
            DetailSheet("tickets_by_topic", empty, "tblTicketsByTopic", none),
            DetailSheet("out_of_scope", empty, "tblOutOfScope", none),
            DetailSheet(
                "policy_gaps",
                silent_cells(data.coverage),
                "tblPolicyGaps",
                " Without tickets: the silent cells of the coverage matrix.",
            ),
        ]
    if data.changes is not None:
        sheets.append(DetailSheet("policy_changes", data.changes, "tblPolicyChanges"))
    return sheets


def about_rows(data: ReportData, stats: WorkbookStats | None = None) -> pd.DataFrame:
    """How the report was made: command, parameters, versions, policy fingerprint, warnings."""
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
    if data.tickets is not None:
        rows.append(("Ticket history", data.tickets.source))
    if stats is not None:
        split = "; ".join(f"{k} continues on {', '.join(v)}" for k, v in stats.split.items())
        rows += [
            (
                "Cells cut at 32,767 characters (marked …[truncated by kenolib])",
                str(stats.truncated_cells),
            ),
            ("Cells with control characters removed", str(stats.cleaned_cells)),
            ("Detail sheets split at Excel's row limit", split or "none"),
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
# Compatibility with the former mutable builder (scripts and other branches call these)
# --------------------------------------------------------------------------------------------


def policy_report_data(parsed: Any, policy_changes: pd.DataFrame | None = None) -> ReportData:
    """The policy half of a report (:func:`build_report_data` without tickets)."""
    return build_report_data(parsed, changes=policy_changes)


def accumulated_part(
    acc: Accumulator, source: str, hourly_rate: float | None = None
) -> tuple[TicketPart, list[str]]:
    """The ticket half from aggregates accumulated over a judged dataset read in batches
    (:mod:`kenolib.aggregates_stream`), and its warnings."""
    warnings = []
    if acc.detail_rows < acc.out_of_scope_total:
        warnings.append(
            f"{source}: the Out of scope sheet lists the first {acc.detail_rows:,} of "
            f"{acc.out_of_scope_total:,} out-of-scope tickets; the judged dataset has them all"
        )
    months = acc.monthly_out_of_scope()["month"].dropna()
    first = months.min().date() if len(months) else None  # batches keep months, not days
    last = (months.max() + pd.offsets.MonthEnd(0)).date() if len(months) else None
    part = TicketPart(
        source=source,
        tickets=acc.rows,
        verdicts=acc.verdict_by_product(),
        tickets_by_topic=acc.tickets_by_topic(),
        out_of_scope=acc.out_of_scope_detail(),
        policy_gaps=acc.silent_topics(),
        monthly=acc.monthly_out_of_scope(),
        out_of_scope_estimate=acc.out_of_scope_estimate(hourly_rate),
        needs_review=acc.needs_review,
        out_of_scope_hours=float(acc.sums["hours_judged"]) if acc.has_minutes else None,
        hourly_rate=hourly_rate,
        first_date=first,
        last_date=last,
        effort_recorded=acc.has_minutes,
        people=acc.people(),
        ticket_detail=acc.ticket_detail(),
    )
    return part, warnings


def add_crossref(
    data: ReportData, xref: pd.DataFrame, source: str, hourly_rate: float | None = None
) -> ReportData:
    """``data`` with a cross-referenced ticket history's part (a new value; ``data`` unchanged)."""
    return dataclasses.replace(data, tickets=ticket_part(xref, source, hourly_rate))
