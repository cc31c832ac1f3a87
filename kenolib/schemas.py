"""The frames' schemas, written down once and checked at the boundaries."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from kenolib.errors import KenolibTypeError, KenolibValueError
from kenolib.vocab import ClauseStatus, CoverageStatus, FindingKind, ImpactDirection, Verdict

#: One row per source line of a policy (``kenolib.policy``).
ELEMENT_COLUMNS = ["line", "kind", "product", "status", "clause_id", "text", "raw"]

#: The clause table (CONTRACTS ``clauses`` plus ``qualifier``).
CLAUSE_COLUMNS = [
    "clause_id",
    "product",
    "product_label",
    "status",
    "heading",
    "topic",
    "qualifier",
    "text",
    "line_start",
    "line_end",
]

#: The coverage matrix in long form (CONTRACTS ``coverage`` plus descriptive columns).
COVERAGE_COLUMNS = [
    "topic",
    "product",
    "status",
    "inherited",
    "clause_ids",
    "topic_label",
    "qualifiers",
    "note_ids",
    "inherited_clause_ids",
]

#: Findings about the policy: contradictions, sibling gaps, silent cells.
FINDING_COLUMNS = [
    "finding_id",
    "kind",
    "topic",
    "product",
    "other_product",
    "detail",
    "clause_ids",
    "lines",
]

#: Generic ticket input (CONTRACTS): required first, then optional.
TICKET_REQUIRED = ["ticket_id", "created_at", "subject"]
TICKET_COLUMNS = [
    "ticket_id",
    "created_at",
    "product",
    "subject",
    "body",
    "status",
    "priority",
    "agent_minutes",
    "resolved_at",
    "tags",
]
#: Optional generic ticket columns, present when the export has a source for them (team or
#: queue, agent, customer): the loaders add them after ``TICKET_COLUMNS``.
TICKET_PEOPLE_COLUMNS = ["group", "assignee", "requester"]
#: Units an effort (agent time) column can be stored in (``--effort-unit``).
EFFORT_UNITS = ("minutes", "seconds", "hours", "hhmm")

#: Columns ``kenolib.crossref.crossref`` adds to a ticket frame (CONTRACTS ``crossref`` first).
CROSSREF_COLUMNS = [
    "ticket_id",
    "product",
    "topic",
    "verdict",
    "clause_id",
    "clause_product",
    "clause_heading",
    "clause_text",
    "confidence",
    "evidence",
    "decided_by",
    "needs_review",
]
CROSSREF_EXTRA_COLUMNS = [
    "product_label",
    "product_source",
    "topic_label",
    "qualifier",
    "topic_margin",
    "verdict_margin",
    "model_agreement",
]

#: Aggregates of a crossref frame (``kenolib.crossref``).
VERDICT_BY_PRODUCT_COLUMNS = ["product", "supported", "not_supported", "silent", "tickets"]
MONTHLY_OUT_OF_SCOPE_COLUMNS = ["month", "product", "tickets", "out_of_scope", "share"]
OUT_OF_SCOPE_HOURS_COLUMNS = ["product", "topic", "tickets", "agent_hours"]  # + cost with a rate
SILENT_TOPIC_COLUMNS = [
    "topic",
    "topic_label",
    "tickets",
    "agent_hours",
    "share",
    "example_ticket_ids",
    "example_subjects",
]
TICKETS_BY_TOPIC_COLUMNS = ["verdict", "product", "topic", "tickets", "agent_hours"]

#: Labelled tickets for ``kenolib evaluate``: generic columns plus the expected answers.
LABELLED_COLUMNS = ["expected_verdict"]
LABELLED_OPTIONAL = ["expected_topic", "expected_product", "expected_clause_id"]

#: The report's *Out of scope* sheet: ticket columns kept, in order (absent ones are skipped).
REPORT_OUT_OF_SCOPE_COLUMNS = [
    "ticket_id",
    "created_at",
    "product",
    "subject",
    "topic",
    "clause_id",
    "clause_product",
    "clause_heading",
    "confidence",
    "evidence",
    "agent_minutes",
    "status",
    "priority",
]

#: The report's *Ticket detail* sheet (the drill-down): ticket columns kept, absent ones skipped.
TICKET_DETAIL_COLUMNS = [
    "ticket_id",
    "created_at",
    "product",
    "topic",
    "verdict",
    "clause_id",
    "subject",
    "agent_minutes",
]

CLAUSE_STATUSES = {str(v) for v in ClauseStatus}
CELL_STATUSES = {str(v) for v in CoverageStatus}
VERDICTS = {str(v) for v in Verdict}

#: Allowed values per frame and column (pandera's ``isin`` checks, as data; see
#: docs/contracts.md). ``check_values`` enforces them.
FRAME_VALUES: dict[str, dict[str, set[str]]] = {
    "clauses": {"status": CLAUSE_STATUSES},
    "coverage": {"status": CELL_STATUSES},
    "findings": {"kind": {str(v) for v in FindingKind}},
    "crossref": {"verdict": VERDICTS},
    "diff": {"change": {"added", "removed", "status_changed", "text_changed", "heading_changed"}},
    "impact": {"direction": {str(v) for v in ImpactDirection}},
}
#: The kind of each typed column per frame: ``integer``, ``float``, ``bool``, ``datetime``.
FRAME_DTYPES: dict[str, dict[str, str]] = {
    "clauses": {"line_start": "integer", "line_end": "integer"},
    "coverage": {"inherited": "bool"},
    "crossref": {"confidence": "float", "needs_review": "bool"},
    "generic tickets": {"created_at": "datetime", "agent_minutes": "float"},
}
_KIND_CHECKS = {
    "integer": pd.api.types.is_integer_dtype,
    "float": pd.api.types.is_numeric_dtype,
    "bool": pd.api.types.is_bool_dtype,
    "datetime": pd.api.types.is_datetime64_any_dtype,
}


def check_values(df: pd.DataFrame, frame: str) -> pd.DataFrame:
    """Raise unless ``df``'s checked columns hold allowed values and kinds (``FRAME_VALUES``,
    ``FRAME_DTYPES``); the error names the frame, the column and the first bad values."""
    for col, allowed in FRAME_VALUES.get(frame, {}).items():
        if col in df.columns:
            bad = sorted(set(df[col].dropna().astype(str)) - allowed)
            if bad:
                raise KenolibValueError(
                    f"{frame}: column {col!r} holds {', '.join(map(repr, bad[:5]))}; "
                    f"allowed: {', '.join(sorted(allowed))}"
                )
    for col, kind in FRAME_DTYPES.get(frame, {}).items():
        if col in df.columns and not _KIND_CHECKS[kind](df[col]):
            raise KenolibTypeError(f"{frame}: column {col!r} is {df[col].dtype}, expected {kind}")
    return df


def check_frame(df: pd.DataFrame, columns: list[str], name: str) -> pd.DataFrame:
    """Raise if ``df`` is not a frame or lacks any of ``columns``; return it with them first.

    Raises ``KenolibTypeError`` (a ``TypeError``) or ``KenolibValueError`` (a ``ValueError``),
    both ``KenolibError``.
    """
    if not isinstance(df, pd.DataFrame):
        raise KenolibTypeError(f"{name}: expected a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        found = ", ".join(map(str, list(df.columns)[:20])) or "(none)"
        raise KenolibValueError(
            f"{name}: missing column(s) {', '.join(missing)}; columns found: {found}"
        )
    rest = [c for c in df.columns if c not in columns]
    return df[columns + rest]


# --------------------------------------------------------------------------------------------
# Argument checks of the public functions: each raises KenolibTypeError (a TypeError) for a
# wrong type and KenolibValueError (a ValueError) for an unusable value, naming the function
# and the argument. Both are KenolibError: the command line prints them as one line.
# --------------------------------------------------------------------------------------------


def require_frame(value: object, arg: str, func: str, columns: Iterable[str] = ()) -> pd.DataFrame:
    """``value`` as a DataFrame holding ``columns`` (an empty frame with them is fine)."""
    if not isinstance(value, pd.DataFrame):
        raise KenolibTypeError(
            f"{func}: {arg} must be a pandas DataFrame, not {type(value).__name__}"
        )
    missing = [c for c in columns if c not in value.columns]
    if missing:
        found = ", ".join(map(str, list(value.columns)[:20])) or "(none)"
        raise KenolibValueError(
            f"{func}: {arg} lacks column(s) {', '.join(missing)}; columns found: {found}"
        )
    return value


def require_series(value: object, arg: str, func: str) -> pd.Series:
    """``value`` as a Series (a list, tuple or Index of values is converted)."""
    if isinstance(value, pd.Series):
        return value
    if isinstance(value, list | tuple | pd.Index):
        return pd.Series(list(value), dtype=object)
    raise KenolibTypeError(f"{func}: {arg} must be a pandas Series, not {type(value).__name__}")


def require_path(value: object, arg: str, func: str) -> Path:
    """``value`` as a Path (a ``str`` or ``os.PathLike``, not empty)."""
    if not isinstance(value, str | os.PathLike) or isinstance(value, bytes):
        raise KenolibTypeError(f"{func}: {arg} must be a file path, not {type(value).__name__}")
    if str(value) == "":
        raise KenolibValueError(f"{func}: {arg} is an empty path")
    return Path(value)


def optional_path(value: object, arg: str, func: str, default: Path) -> Path:
    """``value`` as a Path, or ``default`` when it is None or an empty string."""
    if value is None or (isinstance(value, str) and not value):
        return Path(default)
    return require_path(value, arg, func)


def require_type(value: object, kind: type | tuple[type, ...], arg: str, func: str) -> None:
    """Raise ``KenolibTypeError`` unless ``value`` is of ``kind`` (``bool`` is not an int)."""
    ints = kind is int or (isinstance(kind, tuple) and int in kind)
    if not isinstance(value, kind) or (ints and isinstance(value, bool)):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise KenolibTypeError(f"{func}: {arg} must be {names}, not {type(value).__name__}")


def require_columns_list(value: object, arg: str, func: str) -> list[str]:
    """A list of column names (a list, tuple or Index; each name made ``str``)."""
    if isinstance(value, str) or not isinstance(value, list | tuple | pd.Index):
        raise KenolibTypeError(
            f"{func}: {arg} must be a list of column names, not {type(value).__name__}"
        )
    return [str(c) for c in value]


def check_crossref_args(tickets: object, clauses: object) -> None:
    """The arguments of ``crossref(tickets, clauses)``: a ticket frame with ``ticket_id`` and
    ``subject`` (the other generic columns are optional) and a clause table."""
    require_frame(tickets, "tickets", "crossref", ["ticket_id", "subject"])
    require_frame(clauses, "clauses", "crossref", CLAUSE_COLUMNS)


def check_evaluate_args(labelled: object, clauses: object) -> None:
    """The arguments of ``evaluate(labelled, clauses)``: labelled tickets and a clause table."""
    require_frame(labelled, "labelled", "evaluate", ["ticket_id", "subject", *LABELLED_COLUMNS])
    require_frame(clauses, "clauses", "evaluate", CLAUSE_COLUMNS)


def check_xref_arg(xref: object, func: str) -> pd.DataFrame:
    """The crossref frame an aggregate (``verdict_by_product``, ``silent_topics``, ...) gets."""
    return require_frame(xref, "xref", func, CROSSREF_COLUMNS)


#: What changed between two policy versions (CONTRACTS ``diff`` plus how each pair was matched).
DIFF_COLUMNS = [
    "product",
    "topic",
    "heading",
    "change",
    "old_status",
    "new_status",
    "old_text",
    "new_text",
    "qualifier",
    "old_heading",
    "new_heading",
    "old_clause_id",
    "new_clause_id",
    "old_lines",
    "new_lines",
    "match",
    "similarity",
]

#: Tickets whose verdict (or deciding clause) changes between two policy versions.
IMPACT_COLUMNS = [
    "ticket_id",
    "created_at",
    "month",
    "product",
    "topic",
    "old_verdict",
    "new_verdict",
    "direction",
    "agent_minutes",
    "old_clause_id",
    "new_clause_id",
]

#: The impact by product, topic, month and direction.
IMPACT_SUMMARY_COLUMNS = [
    "product",
    "topic",
    "month",
    "direction",
    "tickets",
    "agent_hours",
    "tickets_without_minutes",
]

#: Monthly averages of the impact by product, topic and direction.
IMPACT_HEADLINE_COLUMNS = [
    "product",
    "topic",
    "direction",
    "tickets",
    "agent_hours",
    "months",
    "tickets_per_month",
    "agent_hours_per_month",
    "sentence",
]
