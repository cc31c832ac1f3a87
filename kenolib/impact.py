"""A new policy version's impact on a ticket history: every ticket judged under both versions.

Above the classifier in the layers (it runs ``crossref``), so it lives apart from
:mod:`kenolib.diff`, which matches clauses and compares two cross-references without judging.
"""

from __future__ import annotations

import pandas as pd

from kenolib import schemas
from kenolib.classify import crossref
from kenolib.diff import (
    PolicyLike,
    as_clauses,
    clause_map,
    diff_policies,
    history_months,
    impact_from_crossrefs,
    impact_headline,
    impact_summary,
    match_clauses,
)
from kenolib.taxonomy import Taxonomy


def verdict_impact(
    tickets: pd.DataFrame,
    old_clauses: PolicyLike,
    new_clauses: PolicyLike,
    taxonomy: Taxonomy | None = None,
) -> pd.DataFrame:
    """Cross-reference ``tickets`` under both policies; the tickets whose verdict or clause changes."""
    schemas.require_frame(tickets, "tickets", "verdict_impact", ["ticket_id", "subject"])
    old_c, new_c = as_clauses(old_clauses, "old policy"), as_clauses(new_clauses, "new policy")
    ids = clause_map(match_clauses(old_c, new_c))
    return impact_from_crossrefs(
        crossref(tickets, old_c, taxonomy), crossref(tickets, new_c, taxonomy), ids
    )


def policy_changes_section(
    old: PolicyLike,
    new: PolicyLike,
    tickets: pd.DataFrame | None = None,
    taxonomy: Taxonomy | None = None,
) -> dict[str, pd.DataFrame]:
    """The frames of a *Policy changes* report section: ``diff`` and, given tickets, ``impact``,
    ``impact_summary`` and ``impact_headline``."""
    old_c, new_c = as_clauses(old, "old policy"), as_clauses(new, "new policy")
    frames = {"diff": diff_policies(old_c, new_c)}
    if tickets is not None:
        impact = verdict_impact(tickets, old_c, new_c, taxonomy)
        frames["impact"] = impact
        frames["impact_summary"] = impact_summary(impact)
        frames["impact_headline"] = impact_headline(impact, history_months(tickets) or None)
    return frames
