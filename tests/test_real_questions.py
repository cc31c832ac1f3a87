"""Integrity of the real customer questions (tests/fixtures/real): labels, sources, split.

These checks guard the labels against typos and drift from the parsed seed policy; how well the
classifier does on the set is measured by ``kenolib evaluate`` and reported in the README.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pandas as pd
import pytest

from kenolib.taxonomy import load_taxonomy, product_ids
from tests.test_labelled_set import COLUMNS as LABELLED_COLUMNS

REAL = Path(__file__).resolve().parent / "fixtures" / "real"
COLUMNS = [*LABELLED_COLUMNS, "source_url"]  # the labelled sets' columns and the source


def _split_module():
    """``split.py``, which defines the rounds and the questions left out of both parts."""
    spec = importlib.util.spec_from_file_location("real_split", REAL / "split.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


SPLIT = _split_module()
#: collection round -> (its collections, development part, held-out part)
ROUNDS = {k: v[:3] for k, v in SPLIT.ROUNDS.items()}
EXCLUDED = set(SPLIT.EXCLUDED)  # duplicate sources, left out of the split
#: A collection's ticket-id prefix: "R", its round (none for round 1) and a letter for its kind.
KIND_LETTER = {
    "hosting": "H",
    "servers": "S",
    "suites": "Q",
    "google": "G",
    "microsoft": "M",
    "asia": "A",  # Chinese, Korean (round 21) and Japanese (round 23) customers' posts, every product
    "europe": "E",  # Russian, Polish, Dutch, Czech, Spanish... customers' posts (rounds 21, 24)
    "mixed": "X",  # forums, mailing lists and Q&A mirrors, every product
    "world": "W",  # customers writing in other languages (Vietnamese, Turkish...), round 25
}


def _prefix(name: str) -> str:
    m = re.fullmatch(r"real(\d*)_([a-z]+)\.csv", name)
    assert m is not None and m[2] in KIND_LETTER, name
    return f"R{m[1]}{KIND_LETTER[m[2]]}"


#: Every round's collections (``split.py``) -> their ticket-id prefix ("real10_google.csv": "R10G")
COLLECTIONS = {name: _prefix(name) for sources, _, _ in ROUNDS.values() for name in sources}


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
    assert len(collected) >= 300
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


@pytest.mark.parametrize("round_", sorted(ROUNDS))
def test_split_is_a_partition_stratified_by_product_and_verdict(collected, round_):
    sources, dev_name, hold_name = ROUNDS[round_]
    collections = [_read(n) for n in sources]
    pool = pd.concat(collections, ignore_index=True)
    pool = pool[~pool["ticket_id"].isin(EXCLUDED)]
    dev, hold = _read(dev_name), _read(hold_name)
    assert not set(dev["ticket_id"]) & set(hold["ticket_id"])
    assert sorted([*dev["ticket_id"], *hold["ticket_id"]]) == sorted(pool["ticket_id"])
    both = pd.concat([dev, hold]).set_index("ticket_id").sort_index()
    pd.testing.assert_frame_equal(both, pool.set_index("ticket_id").sort_index())
    share, each = SPLIT.ROUNDS[round_][5], SPLIT.ROUNDS[round_][4]
    # each (collection, product, verdict) stratum rounds its development share (half to even),
    # so small collections fall short of the share (round 26: 5 of 36 against a quarter); the
    # development part has exactly the rounded count of every stratum (before exclusions)
    frames = collections if each else [pd.concat(collections)]
    strata = [g for f in frames for _, g in f.groupby(["expected_product", "expected_verdict"])]
    wanted = sum(int(round(share * len(g))) for g in strata)
    dropped = sum(t in EXCLUDED for t in pd.concat(strata)["ticket_id"])
    assert wanted - dropped <= len(dev) <= wanted
    counts = pool["expected_product"].value_counts()
    # a product with a single question can only be in one part, and the small development
    # share (a quarter in later rounds) of a product's few questions may round to none; so may
    # the silent questions of a collection (round 22's development part has none)
    verdicts = {"supported", "not_supported", "silent"}
    for part, least in ((dev, 2 / share), (hold, 2)):
        assert set(part["expected_product"]) >= set(counts.index[counts >= least])
        assert set(part["expected_product"]) <= set(counts.index)
        assert verdicts - {"silent"} <= set(part["expected_verdict"]) <= verdicts
    assert set(hold["expected_verdict"]) == verdicts


def test_split_script_reproduces_the_parts(tmp_path, monkeypatch):
    """``split.py`` run again writes byte-identical parts (each round was split once)."""
    mod = _split_module()
    for name in COLLECTIONS:
        (tmp_path / name).write_bytes((REAL / name).read_bytes())
    monkeypatch.setattr(mod, "HERE", tmp_path)
    mod.main()
    for _, dev_name, hold_name in ROUNDS.values():
        for name in (dev_name, hold_name):
            assert (tmp_path / name).read_bytes() == (REAL / name).read_bytes(), name


#: Second labellers' blind labels of held-out parts (the same written rules, without seeing the
#: collectors' labels; see README, "Agreement"): file -> (labelled parts, questions).
SECOND = {
    "second_labeller_r23_holdout.csv": (("real2_holdout.csv", "real3_holdout.csv"), 115),
    "second_labeller_r8_holdout.csv": (("real8_holdout.csv",), 144),
    "second_labeller_r10_holdout.csv": (("real10_holdout.csv",), 134),
    "second_labeller_r1516_holdout.csv": (("real15_holdout.csv", "real16_holdout.csv"), 167),
    "second_labeller_r1718_holdout.csv": (("real17_holdout.csv", "real18_holdout.csv"), 158),
    "second_labeller_r19_holdout.csv": (("real19_holdout.csv",), 67),
    "second_labeller_r20_holdout.csv": (("real20_holdout.csv",), 60),
    "second_labeller_r21_holdout.csv": (("real21_holdout.csv",), 99),
    "second_labeller_r22_holdout.csv": (("real22_holdout.csv",), 68),
    "second_labeller_round23_holdout.csv": (("real23_holdout.csv",), 94),
    "second_labeller_r24_holdout.csv": (("real24_holdout.csv",), 76),
    "second_labeller_r25_holdout.csv": (("real25_holdout.csv",), 65),
    "second_labeller_r26_holdout.csv": (("real26_holdout.csv",), 31),
    "second_labeller_r27_holdout.csv": (("real27_holdout.csv",), 73),
    "second_labeller_r28_holdout.csv": (("real28_holdout.csv",), 47),
    "second_labeller_r29_holdout.csv": (("real29_holdout.csv",), 59),
    "second_labeller_r30_holdout.csv": (("real30_holdout.csv",), 46),
    "second_labeller_r31_holdout.csv": (("real31_holdout.csv",), 32),
    "second_labeller_r32_holdout.csv": (("real32_holdout.csv",), 47),
    "second_labeller_r33_holdout.csv": (("real33_holdout.csv",), 88),
    "second_labeller_r34_holdout.csv": (("real34_holdout.csv",), 91),
    "second_labeller_r35_holdout.csv": (("real35_holdout.csv",), 108),
    "second_labeller_r36_holdout.csv": (("real36_holdout.csv",), 109),
    "second_labeller_r37_holdout.csv": (("real37_holdout.csv",), 111),
    "second_labeller_r38_holdout.csv": (("real38_holdout.csv",), 111),
    "second_labeller_r39_holdout.csv": (("real39_holdout.csv",), 112),
    "second_labeller_r40_holdout.csv": (("real40_holdout.csv",), 103),
    "second_labeller_r41_holdout.csv": (("real41_holdout.csv",), 110),
    "second_labeller_r42_holdout.csv": (("real42_holdout.csv",), 112),
    "second_labeller_r43_holdout.csv": (("real43_holdout.csv",), 110),
    "second_labeller_r44_holdout.csv": (("real44_holdout.csv",), 105),
    "second_labeller_r45_holdout.csv": (("real45_holdout.csv",), 105),
    "second_labeller_r46_holdout.csv": (("real46_holdout.csv",), 111),
    "second_labeller_r47_holdout.csv": (("real47_holdout.csv",), 106),
    "second_labeller_r48_holdout.csv": (("real48_holdout.csv",), 108),
    "second_labeller_r49_holdout.csv": (("real49_holdout.csv",), 85),
    "second_labeller_r50_holdout.csv": (("real50_holdout.csv",), 79),
    "second_labeller_r51_holdout.csv": (("real51_holdout.csv",), 89),
    "second_labeller_r52_holdout.csv": (("real52_holdout.csv",), 88),
    "second_labeller_r53_holdout.csv": (("real53_holdout.csv",), 92),
    "second_labeller_r54_holdout.csv": (("real54_holdout.csv",), 90),
    "second_labeller_r55_holdout.csv": (("real55_holdout.csv",), 81),
    "second_labeller_r56_holdout.csv": (("real56_holdout.csv",), 90),
    "second_labeller_r57_holdout.csv": (("real57_holdout.csv",), 88),
    "second_labeller_r58_holdout.csv": (("real58_holdout.csv",), 76),
    "second_labeller_r59_holdout.csv": (("real59_holdout.csv",), 91),
    "second_labeller_r60_holdout.csv": (("real60_holdout.csv",), 88),
    "second_labeller_r61_holdout.csv": (("real61_holdout.csv",), 90),
    "second_labeller_r62_holdout.csv": (("real62_holdout.csv",), 91),
    "second_labeller_r63_holdout.csv": (("real63_holdout.csv",), 90),
    "second_labeller_r64_holdout.csv": (("real64_holdout.csv",), 88),
    "second_labeller_r65_holdout.csv": (("real65_holdout.csv",), 92),
    "second_labeller_r66_holdout.csv": (("real66_holdout.csv",), 86),
    "second_labeller_r67_holdout.csv": (("real67_holdout.csv",), 81),
    "second_labeller_r68_holdout.csv": (("real68_holdout.csv",), 80),
}
#: Agreement floors (verdicts, cited clauses) where a pair measured under the usual 97 / 95 %.
FLOORS = {
    "second_labeller_r19_holdout.csv": (0.95, 0.92),
    "second_labeller_r21_holdout.csv": (0.97, 0.92),
    "second_labeller_r22_holdout.csv": (0.94, 0.88),
    "second_labeller_r25_holdout.csv": (0.96, 0.93),
    "second_labeller_r26_holdout.csv": (0.97, 0.93),
    "second_labeller_r27_holdout.csv": (0.94, 0.84),
    "second_labeller_r28_holdout.csv": (0.97, 0.93),
    "second_labeller_r29_holdout.csv": (0.94, 0.89),
    "second_labeller_r30_holdout.csv": (0.93, 0.82),
    "second_labeller_r31_holdout.csv": (0.93, 0.90),
    "second_labeller_r32_holdout.csv": (0.93, 0.89),
    "second_labeller_r33_holdout.csv": (0.93, 0.87),
    "second_labeller_r34_holdout.csv": (0.96, 0.90),
    "second_labeller_r35_holdout.csv": (0.98, 0.92),
    "second_labeller_r38_holdout.csv": (0.95, 0.91),
    "second_labeller_r39_holdout.csv": (0.96, 0.92),
    "second_labeller_r40_holdout.csv": (0.98, 0.95),
    "second_labeller_r41_holdout.csv": (0.97, 0.88),
    "second_labeller_r44_holdout.csv": (0.97, 0.94),
    "second_labeller_r45_holdout.csv": (0.96, 0.93),
    "second_labeller_r46_holdout.csv": (0.94, 0.91),
    "second_labeller_r47_holdout.csv": (0.97, 0.92),
    "second_labeller_r48_holdout.csv": (0.94, 0.92),
    "second_labeller_r50_holdout.csv": (0.96, 0.89),
    "second_labeller_r51_holdout.csv": (0.97, 0.92),
    "second_labeller_r52_holdout.csv": (0.95, 0.93),
    "second_labeller_r53_holdout.csv": (0.95, 0.88),
    "second_labeller_r54_holdout.csv": (0.95, 0.92),
    "second_labeller_r55_holdout.csv": (1.0, 0.96),
    "second_labeller_r56_holdout.csv": (0.98, 0.96),
    "second_labeller_r57_holdout.csv": (0.97, 0.95),
    "second_labeller_r58_holdout.csv": (0.96, 0.96),
    "second_labeller_r59_holdout.csv": (0.98, 0.95),
    "second_labeller_r60_holdout.csv": (0.93, 0.87),
    "second_labeller_r61_holdout.csv": (0.96, 0.92),
    "second_labeller_r62_holdout.csv": (0.94, 0.85),
    "second_labeller_r63_holdout.csv": (0.97, 0.92),
    "second_labeller_r64_holdout.csv": (0.97, 0.95),
    "second_labeller_r65_holdout.csv": (0.95, 0.90),
    "second_labeller_r67_holdout.csv": (0.96, 0.93),
    "second_labeller_r68_holdout.csv": (0.97, 0.91),
}


@pytest.mark.parametrize("name", sorted(SECOND))
def test_second_labeller_agrees_with_the_collectors(clauses, name):
    """Inter-annotator agreement: the labelling rules give the same answer in two hands.

    Measured once: rounds 2-3 verdicts 99.1 %, cited clauses 97.4 % (Cohen's kappa on verdicts
    0.985); round 8 verdicts 98.6 %, cited clauses 97.9 % (kappa 0.977); round 10 verdicts 97.0 %,
    cited clauses 95.5 % (kappa 0.951); rounds 15-16 verdicts 98.8 %, cited clauses 95.8 % (kappa
    0.981); rounds 17-18 verdicts 98.7 %, cited clauses 98.1 % (kappa 0.979); round 19 verdicts
    95.5 %, cited clauses 92.5 % (kappa 0.928: three verdict-changing hard calls, see README);
    round 20 verdicts 98.3 %, cited clauses 98.3 % (kappa 0.973); round 21 verdicts 98.0 %,
    cited clauses 92.9 % (kappa 0.967: five of the seven clause differences are calls the second
    labeller named hard before comparing); round 22 verdicts 94.1 %, cited clauses 88.2 % (kappa
    0.905: all eight differences are calls the second labeller named hard before comparing); round
    23 verdicts 100 %, cited clauses 96.8 % (kappa 1.0; ``second_labeller_round23_holdout.csv``,
    as ``r23`` was taken by rounds 2-3); round 24 verdicts 100 %, cited clauses 98.7 % (kappa
    1.0); round 25 verdicts 96.9 %, cited clauses 93.8 % (kappa 0.949: both verdict differences
    a suite setting asked for a third-party tool, named hard before comparing); round 26 verdicts
    100 %, cited clauses 93.5 % (31 questions: two nginx set-ups broken by the customer's own
    install script, their script or installed software). The floor guards the labels of these files against
    drift.
    """
    from kenolib.classify.evaluation import equivalent_clauses

    parts, n = SECOND[name]
    second = _read(name)
    first = pd.concat([_read(p) for p in parts])
    both = first.merge(second, on="ticket_id", suffixes=("", "_2"), validate="one_to_one")
    assert len(both) == len(first) == len(second) == n
    verdict = both["expected_verdict"] == both["expected_verdict_2"]
    same = both["expected_clause_id"] == both["expected_clause_id_2"]
    equiv = equivalent_clauses(both["expected_clause_id_2"], both["expected_clause_id"], clauses)
    clause = verdict & (same | equiv.to_numpy())
    floor_v, floor_c = FLOORS.get(name, (0.97, 0.95))
    assert verdict.mean() >= floor_v and clause.mean() >= floor_c, (verdict.mean(), clause.mean())
    cited = second[second["expected_verdict"] != "silent"]
    idx = clauses.set_index("clause_id").loc[cited["expected_clause_id"]]
    assert (idx["status"].to_numpy() == cited["expected_verdict"].to_numpy()).all()
    assert (idx["topic"].to_numpy() == cited["expected_topic"].to_numpy()).all()
