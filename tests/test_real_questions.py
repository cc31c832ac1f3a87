"""Integrity of the real customer questions (tests/fixtures/real): labels, sources, split.

These checks guard the labels against typos and drift from the parsed seed policy; how well the
classifier does on the set is measured by ``kenolib evaluate`` and reported in the README.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from kenolib.taxonomy import load_taxonomy, product_ids
from tests.test_labelled_set import COLUMNS as LABELLED_COLUMNS

REAL = Path(__file__).resolve().parent / "fixtures" / "real"
COLLECTIONS = {"real_hosting.csv": "RH", "real_servers.csv": "RS", "real_suites.csv": "RQ"}
COLUMNS = [*LABELLED_COLUMNS, "source_url"]  # the labelled sets' columns and the source


EXCLUDED = {"RS-0032", "RS-0056"}  # duplicate sources, left out of the split (split.py)


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(REAL / name, dtype=str, keep_default_na=False, encoding="utf-8")


@pytest.fixture(scope="module")
def collected() -> pd.DataFrame:
    df = pd.concat([_read(n) for n in COLLECTIONS], ignore_index=True)
    return df[~df["ticket_id"].isin(EXCLUDED)].reset_index(drop=True)


def test_columns_ids_and_sources(collected):
    for name, prefix in COLLECTIONS.items():
        df = _read(name)
        assert list(df.columns) == COLUMNS, name
        assert df["ticket_id"].str.fullmatch(rf"{prefix}-\d{{4}}").all(), name
    assert len(collected) >= 150
    assert collected["ticket_id"].is_unique
    assert collected["source_url"].str.match(r"https?://[^\s/]+/").all()
    assert collected["source_url"].is_unique, "two questions from one source"
    assert (collected[["subject", "body"]] != "").all().all()


def test_labels_follow_the_policy(collected, clauses):
    topics = set(load_taxonomy().topic_ids())
    assert set(collected["expected_topic"]) <= topics
    assert set(collected["expected_product"]) <= (set(product_ids()) - {"overview"}) | {"unknown"}
    silent = collected["expected_verdict"] == "silent"
    assert (collected.loc[silent, "expected_clause_id"] == "").all()
    cited = collected[~silent]
    idx = clauses.set_index("clause_id")
    assert set(cited["expected_clause_id"]) <= set(idx.index)
    clause = idx.loc[cited["expected_clause_id"]]
    assert (clause["status"].to_numpy() == cited["expected_verdict"].to_numpy()).all()
    assert (clause["topic"].to_numpy() == cited["expected_topic"].to_numpy()).all()
    own = clause["product"].to_numpy() == cited["expected_product"].to_numpy()
    assert (own | (clause["product"].to_numpy() == "overview")).all()


def test_every_product_and_verdict_is_covered(collected):
    counts = collected.groupby("expected_product")["expected_verdict"].nunique()
    for p in (set(product_ids()) - {"overview"}) | {"unknown"}:
        assert counts.get(p, 0) >= 2, p
    shares = collected["expected_verdict"].value_counts(normalize=True)
    assert shares["not_supported"] > 0.3 and shares["supported"] > 0.25 and shares["silent"] > 0.1


def test_split_is_a_partition_stratified_by_product_and_verdict(collected):
    dev, hold = _read("real_dev.csv"), _read("real_holdout.csv")
    assert not set(dev["ticket_id"]) & set(hold["ticket_id"])
    assert sorted([*dev["ticket_id"], *hold["ticket_id"]]) == sorted(collected["ticket_id"])
    both = pd.concat([dev, hold]).set_index("ticket_id").sort_index()
    pd.testing.assert_frame_equal(both, collected.set_index("ticket_id").sort_index())
    assert 0.55 <= len(dev) / len(collected) <= 0.65
    for part in (dev, hold):
        assert set(part["expected_product"]) == set(collected["expected_product"])
        assert set(part["expected_verdict"]) == {"supported", "not_supported", "silent"}
