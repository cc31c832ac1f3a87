"""The topic × product coverage matrix and the findings drawn from it.

A cell is ``supported`` / ``not_supported`` when the product's own section has only clauses of
that status for the topic, ``conditional`` when it has both (told apart by their qualifiers),
and ``silent`` when neither the section nor the overview table says anything. A product
section that says nothing about a topic inherits the overview table's status (``inherited``);
one that speaks for some variants of a topic only (SSL bought from Kenotronix) inherits the
overview's clauses on the other variants (third-party SSL), listed in ``inherited_clause_ids``.
"""

from __future__ import annotations

import itertools

import pandas as pd

from kenolib import schemas
from kenolib.policy import NOT_SUPPORTED, NOTE, SUPPORTED
from kenolib.taxonomy import (
    Taxonomy,
    load_products,
    load_taxonomy,
    product_families,
    topic_labels,
)

OVERVIEW = "overview"
CONDITIONAL, SILENT = "conditional", "silent"


_WIDE_COLUMNS = ["topic", "product", "status", "inherited"]


def policy_products(clauses: pd.DataFrame) -> list[str]:
    """Products present in a clause table, canonical ones in report order, new sections after."""
    clauses = schemas.require_frame(clauses, "clauses", "policy_products", ["product"])
    present = list(dict.fromkeys(clauses["product"]))
    canonical = [p.id for p in load_products()]
    return [p for p in canonical if p in present] + [p for p in present if p not in canonical]


def _cell_status(statuses: set[str]) -> str:
    if statuses == {SUPPORTED}:
        return SUPPORTED
    if statuses == {NOT_SUPPORTED}:
        return NOT_SUPPORTED
    return CONDITIONAL


def _qualifier_summary(rows: pd.DataFrame) -> str:
    parts = [
        f"{q or 'all'}={s}"
        for q, s in dict.fromkeys(zip(rows["qualifier"].fillna(""), rows["status"], strict=True))
    ]
    return "; ".join(parts)


def coverage_matrix(clauses: pd.DataFrame, taxonomy: Taxonomy | None = None) -> pd.DataFrame:
    """The coverage matrix in long form: one row per topic × product (CONTRACTS columns first)."""
    tax = taxonomy or load_taxonomy()
    clauses = schemas.check_frame(clauses, schemas.CLAUSE_COLUMNS, "clauses")
    products = policy_products(clauses)
    if OVERVIEW not in products:
        products = [OVERVIEW, *products]
    topics = tax.topic_ids() + sorted(set(clauses["topic"]) - set(tax.topic_ids()))
    labels = topic_labels(tax)
    stated = clauses[clauses["status"].isin([SUPPORTED, NOT_SUPPORTED])]
    groups = {k: g for k, g in stated.groupby(["topic", "product"], sort=False)}
    notes = {
        k: ";".join(g["clause_id"])
        for k, g in clauses[clauses["status"] == NOTE].groupby(["topic", "product"], sort=False)
    }
    rows = []
    for topic in topics:
        overview_rows = groups.get((topic, OVERVIEW))
        for product in products:
            own = groups.get((topic, product))
            inherited, extra_ids = False, ""
            if product != OVERVIEW and overview_rows is not None:
                if own is None:
                    own, inherited = overview_rows, True
                else:
                    # the section speaks for some variants only: the overview covers the rest
                    own_q = set(own["qualifier"])
                    if "" not in own_q:
                        extra = overview_rows[
                            (overview_rows["qualifier"] != "")
                            & ~overview_rows["qualifier"].isin(own_q)
                        ]
                        if len(extra):
                            own = pd.concat([own, extra])
                            extra_ids = ";".join(extra["clause_id"])
            if own is None:
                status, ids, quals = SILENT, "", ""
            else:
                status = _cell_status(set(own["status"]))
                ids, quals = ";".join(own["clause_id"]), _qualifier_summary(own)
            rows.append(
                {
                    "topic": topic,
                    "product": product,
                    "status": status,
                    "inherited": inherited,
                    "clause_ids": ids,
                    "topic_label": labels.get(topic, topic),
                    "qualifiers": quals,
                    "note_ids": notes.get((topic, product), ""),
                    "inherited_clause_ids": ";".join(own["clause_id"]) if inherited else extra_ids,  # type: ignore[index]
                }
            )
    return schemas.check_frame(pd.DataFrame(rows), schemas.COVERAGE_COLUMNS, "coverage")


def coverage_wide(coverage: pd.DataFrame) -> pd.DataFrame:
    """Topics as rows, products as columns, cell statuses as values (inherited marked ``*``)."""
    coverage = schemas.require_frame(coverage, "coverage", "coverage_wide", _WIDE_COLUMNS)
    marked = coverage.assign(
        cell=coverage["status"] + coverage["inherited"].map({True: "*", False: ""})
    )
    wide = marked.pivot(index="topic", columns="product", values="cell")
    return wide.loc[
        list(dict.fromkeys(coverage["topic"])), list(dict.fromkeys(coverage["product"]))
    ]


def _lines(clauses: pd.DataFrame, ids: list[str]) -> str:
    sub = clauses.set_index("clause_id").loc[ids]
    return "; ".join(
        f"{a}" if a == b else f"{a}-{b}"
        for a, b in zip(sub["line_start"], sub["line_end"], strict=True)
    )


def _compatible(q1: str, q2: str) -> bool:
    return not q1 or not q2 or q1 == q2


def _contradictions(clauses: pd.DataFrame, stated: pd.DataFrame) -> list[dict]:
    """The overview table says one thing, a product section the opposite (same variant)."""
    found: list[dict] = []
    overview = stated[stated["product"] == OVERVIEW]
    sections = stated[stated["product"] != OVERVIEW]
    pairs = overview.merge(sections, on="topic", suffixes=("_o", "_p"))
    pairs = pairs[pairs["status_o"] != pairs["status_p"]]
    for r in pairs.itertuples(index=False):
        if not _compatible(r.qualifier_o, r.qualifier_p):
            continue
        ids = [r.clause_id_o, r.clause_id_p]
        found.append(
            {
                "kind": "contradiction",
                "topic": r.topic,
                "product": r.product_p,
                "other_product": OVERVIEW,
                "detail": (
                    f"The overview table marks {r.heading_o!r} as {r.status_o.replace('_', ' ')}, "
                    f"but the {r.product_label_p} section's {r.heading_p!r} says "
                    f"{r.status_p.replace('_', ' ')}."
                ),
                "clause_ids": ";".join(ids),
                "lines": _lines(clauses, ids),
            }
        )
    return found


def _sibling_gaps(clauses: pd.DataFrame, coverage: pd.DataFrame) -> list[dict]:
    """One product covers a topic, a sibling in the same family does not."""
    found: list[dict] = []
    families = product_families()
    cells = coverage.set_index(["topic", "product"])
    products = list(dict.fromkeys(coverage["product"]))
    for topic in dict.fromkeys(coverage["topic"]):
        for a, b in itertools.permutations([p for p in products if p != OVERVIEW], 2):
            if families.get(a, a) != families.get(b, b):
                continue
            ca, cb = cells.loc[(topic, a)], cells.loc[(topic, b)]
            if ca["inherited"] or ca["status"] not in (SUPPORTED, CONDITIONAL):
                continue
            if cb["status"] not in (NOT_SUPPORTED, SILENT):
                continue
            ids = [i for i in f"{ca['clause_ids']};{cb['clause_ids']}".split(";") if i]
            found.append(
                {
                    "kind": "sibling_gap",
                    "topic": topic,
                    "product": a,
                    "other_product": b,
                    "detail": (
                        f"{a} is {ca['status'].replace('_', ' ')} on {ca['topic_label']}; its sibling "
                        f"{b} is {cb['status'].replace('_', ' ')}"
                        + (" (inherited from the overview table)." if cb["inherited"] else ".")
                    ),
                    "clause_ids": ";".join(ids),
                    "lines": _lines(clauses, ids),
                }
            )
    return found


def _silent_findings(coverage: pd.DataFrame) -> list[dict]:
    """Nothing in the product's section nor in the overview table."""
    found: list[dict] = []
    silent = coverage[(coverage["status"] == SILENT) & (coverage["product"] != OVERVIEW)]
    for r in silent.itertuples(index=False):
        found.append(
            {
                "kind": "silent",
                "topic": r.topic,
                "product": r.product,
                "other_product": "",
                "detail": f"Neither the {r.product} section nor the overview table mentions {r.topic_label}.",
                "clause_ids": "",
                "lines": "",
            }
        )
    return found


def policy_findings(clauses: pd.DataFrame, coverage: pd.DataFrame | None = None) -> pd.DataFrame:
    """Contradictions with the overview table, sibling-product gaps and silent cells.

    Every finding cites the clause ids and source lines it rests on.
    """
    coverage = coverage if coverage is not None else coverage_matrix(clauses)
    stated = clauses[clauses["status"].isin([SUPPORTED, NOT_SUPPORTED])]
    found: list[dict] = []

    found += _contradictions(clauses, stated)
    found += _sibling_gaps(clauses, coverage)
    found += _silent_findings(coverage)
    df = pd.DataFrame(found, columns=[c for c in schemas.FINDING_COLUMNS if c != "finding_id"])
    df.insert(0, "finding_id", [f"F{i:03d}" for i in range(1, len(df) + 1)])
    return schemas.check_frame(df, schemas.FINDING_COLUMNS, "findings")


def siblings(product: str, products: list[str]) -> list[str]:
    """Products of the same family as ``product`` (all other products if it has none)."""
    families = product_families()
    others = [p for p in products if p not in (product, OVERVIEW)]
    same = [p for p in others if families.get(p, p) == families.get(product, product)]
    return same or others


def product_contrasts(coverage: pd.DataFrame, product: str) -> pd.DataFrame:
    """What ``product`` covers that its siblings do not (``only_here``), and vice versa.

    "Covers" means a supported or conditional cell; "does not" a not-supported or silent one.
    """
    coverage = schemas.require_frame(coverage, "coverage", "product_contrasts", _WIDE_COLUMNS)
    schemas.require_type(product, str, "product", "product_contrasts")
    products = list(dict.fromkeys(coverage["product"]))
    if product not in products:
        raise KeyError(f"unknown product {product!r}; known: {', '.join(products)}")
    covers = coverage["status"].isin([SUPPORTED, CONDITIONAL])
    cells = coverage.assign(covers=covers).set_index(["topic", "product"])
    rows = []
    for sib in siblings(product, products):
        for topic in dict.fromkeys(coverage["topic"]):
            here, there = cells.loc[(topic, product)], cells.loc[(topic, sib)]
            if here["covers"] == there["covers"]:
                continue
            rows.append(
                {
                    "topic": topic,
                    "topic_label": here["topic_label"],
                    "sibling": sib,
                    "direction": "only_here" if here["covers"] else "only_sibling",
                    "product_status": here["status"] + (" (overview)" if here["inherited"] else ""),
                    "sibling_status": there["status"]
                    + (" (overview)" if there["inherited"] else ""),
                    "clause_ids": ";".join(
                        i for i in (here["clause_ids"], there["clause_ids"]) if i
                    ),
                }
            )
    columns = [
        "topic",
        "topic_label",
        "sibling",
        "direction",
        "product_status",
        "sibling_status",
        "clause_ids",
    ]
    return pd.DataFrame(rows, columns=columns)
