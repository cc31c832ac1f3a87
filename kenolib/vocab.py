"""The project's vocabulary: verdicts, statuses, product and topic orders, spelt once.

Strings spelt here and nowhere else (outside the classifier package, which adopts them later).
Each is a :class:`enum.StrEnum`, so ``Verdict.SUPPORTED == "supported"`` and a frame column of
plain strings compares equal to the members: frames keep plain strings, code names the members.
"""

from __future__ import annotations

from enum import StrEnum


class Verdict(StrEnum):
    """A ticket's verdict against the policy (CONTRACTS *Statuses and verdicts*)."""

    SUPPORTED = "supported"
    NOT_SUPPORTED = "not_supported"
    SILENT = "silent"  # no clause applies: a policy gap


class ClauseStatus(StrEnum):
    """A policy clause's status."""

    SUPPORTED = "supported"
    NOT_SUPPORTED = "not_supported"
    NOTE = "note"


class CoverageStatus(StrEnum):
    """A coverage cell's status (topic × product)."""

    SUPPORTED = "supported"
    NOT_SUPPORTED = "not_supported"
    CONDITIONAL = "conditional"  # both kinds of clause, told apart by a qualifier
    SILENT = "silent"


class FindingKind(StrEnum):
    """The kinds of policy finding (``coverage.policy_findings``)."""

    CONTRADICTION = "contradiction"
    SIBLING_GAP = "sibling_gap"
    SILENT = "silent"


class ImpactDirection(StrEnum):
    """Where a ticket moves when a policy changes (``diff.verdict_impact``)."""

    INTO_SCOPE = "into_scope"
    OUT_OF_SCOPE = "out_of_scope"
    OTHER = "other"


#: Verdicts in report order (workbook columns, chart series).
VERDICT_ORDER: tuple[Verdict, ...] = (Verdict.SUPPORTED, Verdict.NOT_SUPPORTED, Verdict.SILENT)
#: Coverage statuses in the order of the Summary's counts and the theme.
COVERAGE_ORDER: tuple[CoverageStatus, ...] = (
    CoverageStatus.SUPPORTED,
    CoverageStatus.NOT_SUPPORTED,
    CoverageStatus.CONDITIONAL,
    CoverageStatus.SILENT,
)
#: Coverage statuses in the heatmap's colour-scale order (supported … silent).
HEATMAP_ORDER: tuple[CoverageStatus, ...] = (
    CoverageStatus.SUPPORTED,
    CoverageStatus.CONDITIONAL,
    CoverageStatus.NOT_SUPPORTED,
    CoverageStatus.SILENT,
)
CLAUSE_STATUSES = frozenset(ClauseStatus)
CELL_STATUSES = frozenset(CoverageStatus)
VERDICTS = frozenset(Verdict)

#: The overview table's pseudo-product: applies to every product unless a section says otherwise.
OVERVIEW = "overview"
#: The product of a ticket whose label and text name no known product.
UNKNOWN_PRODUCT = "unknown"
#: Canonical product ids in report order (``products.yaml`` is the source; a test keeps them equal).
PRODUCT_ORDER: tuple[str, ...] = (
    OVERVIEW,
    "shared_hosting",
    "managed_wordpress",
    "vps_dedicated",
    "vps_developer",
    "g_suite",
    "office_365",
)
#: The topic of a ticket with no signal at all (and of a clause no taxonomy topic matches).
UNMAPPED_TOPIC = "unmapped"
#: Topic order is data, not code: ``taxonomy.topic_order()`` reads it from ``taxonomy.yaml``.
