"""The frames' schemas, written down once and checked at the boundaries."""

from __future__ import annotations

import pandas as pd

from kenolib.errors import KenolibError

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

CLAUSE_STATUSES = {"supported", "not_supported", "note"}
CELL_STATUSES = {"supported", "not_supported", "conditional", "silent"}
VERDICTS = {"supported", "not_supported", "silent"}


def check_frame(df: pd.DataFrame, columns: list[str], name: str) -> pd.DataFrame:
    """Raise if ``df`` lacks any of ``columns``; return the frame with them first, in order."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise KenolibError(f"{name}: missing column(s) {', '.join(missing)}")
    rest = [c for c in df.columns if c not in columns]
    return df[columns + rest]


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
