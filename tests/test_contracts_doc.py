"""docs/contracts.md's column table matches kenolib.schemas; the vocabulary matches the data."""

from __future__ import annotations

import re

from kenolib import schemas, vocab
from kenolib.taxonomy import product_ids
from tests.conftest import ROOT


def _doc_tables() -> dict[str, list[str]]:
    text = (ROOT / "docs" / "contracts.md").read_text(encoding="utf-8")
    out = {}
    for m in re.finditer(r"^\| [^|]+ \| `(\w+)` \| (.+) \|$", text, re.M):
        out[m.group(1)] = re.findall(r"`([^`]+)`", m.group(2))
    return out


def test_contracts_doc_columns_match_schemas():
    tables = _doc_tables()
    assert len(tables) >= 10
    for name, columns in tables.items():
        assert columns == getattr(schemas, name), f"docs/contracts.md: {name} differs from schemas"


def test_every_frame_schema_is_documented():
    documented = set(_doc_tables())
    for name in ("CLAUSE_COLUMNS", "COVERAGE_COLUMNS", "CROSSREF_COLUMNS", "DIFF_COLUMNS"):
        assert name in documented


def test_vocabulary_matches_products_file_and_schemas():
    assert list(vocab.PRODUCT_ORDER) == product_ids()
    assert schemas.VERDICTS == set(vocab.Verdict)
    assert schemas.CELL_STATUSES == set(vocab.CoverageStatus)
    assert schemas.CLAUSE_STATUSES == set(vocab.ClauseStatus)


def test_frames_hold_allowed_values_and_kinds():
    import pandas as pd
    import pytest

    from kenolib.coverage import coverage_matrix, policy_findings
    from kenolib.errors import KenolibError
    from kenolib.policy import parse_policy

    clauses = parse_policy().clauses
    cov = coverage_matrix(clauses)
    schemas.check_values(clauses, "clauses")
    schemas.check_values(cov, "coverage")
    schemas.check_values(policy_findings(clauses, cov), "findings")
    with pytest.raises(KenolibError, match="'verdict' holds 'maybe'"):
        schemas.check_values(pd.DataFrame({"verdict": ["supported", "maybe"]}), "crossref")
