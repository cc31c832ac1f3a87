"""The model's cheap part: a regression over the signals the rules found (signal_model.py)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from kenolib import config
from kenolib.classify import rules as R
from kenolib.classify.judge import (
    _labels,
    compile_judge,
    crossref,
    model_rule_features,
    rule_scores,
)
from kenolib.classify.model import load_model
from kenolib.classify.signal_model import SignalModel, signal_design
from kenolib.classify.training import training_hits
from kenolib.policy import parse_policy
from kenolib.synth import synth_tickets


@pytest.fixture(scope="module")
def clauses():
    return parse_policy().clauses


def test_entries_map_by_text_and_unknown_ones_weigh_nothing():
    sm = SignalModel(
        entries=["backup", "restore now"],
        coef=np.array([[1.0, 2.0], [3.0, -1.0]]),
        product_coef=np.zeros((2, 1)),
        rule_coef=np.zeros((0, 0)),
        intercept=np.zeros(2),
    )
    assert sm.columns(["restore now", "dns", "backup"]).tolist() == [1, -1, 0]
    # rows 0 and 1; row 0 holds "backup" twice and the unknown "dns" once
    row, col = sm.present(
        np.array([0, 0, 0, 1]), np.array([2, 2, 1, 0]), ["restore now", "dns", "backup"]
    )
    assert list(zip(row.tolist(), col.tolist(), strict=True)) == [(0, 0), (1, 1)]
    logits, known = sm.logits(row, col, 3, np.array([-1, -1, -1]), np.zeros((3, 0)))
    assert known.tolist() == [1, 1, 0]
    np.testing.assert_allclose(logits, [[1.0, 3.0], [2.0, -1.0], [0.0, 0.0]])
    assert sm.top_entries(row, col, np.array([1, 0, 0])) == ["backup", "restore now", ""]


def test_judging_time_logits_equal_the_training_design_times_the_weights(clauses):
    """What the judge computes for a ticket is what the fit saw for it."""
    j = compile_judge(clauses)
    sm = j.model.signal
    assert sm is not None and sm.entries == list(j.sig.entries)
    d = pd.read_csv(config.REAL_QUESTIONS_DIR / "real13_holdout.csv")
    h, rules = training_hits(d, j)
    products = list(j.model.products)
    pi = np.array([products.index(p) if p in products else -1 for p in d["expected_product"]])
    x_ent, x_prod = signal_design(h.row, h.entry, h.n, len(sm.entries), pi, len(products))
    want = x_ent @ sm.coef.T + x_prod @ sm.product_coef.T + rules @ sm.rule_coef.T + sm.intercept
    row, col = sm.present(h.row, h.entry, j.sig.entries)
    got, _ = sm.logits(row, col, h.n, pi, rules)
    np.testing.assert_allclose(got, np.asarray(want), atol=1e-9)


def test_the_cheap_part_moves_only_tickets_between_the_two_margins(clauses):
    """Tickets the full model reads (rule margin under ``below_margin``) and tickets the rules
    are sure of (``signals_below`` and over) are judged as without it."""
    j = compile_judge(clauses)
    assert j.model_below < j.signals_below
    t = synth_tickets(3000, seed=17)
    off = dataclasses.replace(j, signals_below=j.model_below)
    with_part, without = crossref(t, clauses, judge=j), crossref(t, clauses, judge=off)
    differ = (with_part["topic"] != without["topic"]).to_numpy()
    s = pa.array(t["subject"].astype(str).tolist())
    b = pa.array(t["body"].astype(str).tolist())
    _, _, _, _, _, scoped = rule_scores(s, b, _labels(t), j)
    _, margin, _ = R.pick_topic(scoped)
    assert differ.any()
    assert ((margin[differ] >= j.model_below) & (margin[differ] < j.signals_below)).all()
    moved = with_part[differ]
    assert (moved["decided_by"] == "model").all()
    assert moved["evidence"].str.startswith("model").all()
    pd.testing.assert_frame_equal(with_part.loc[~differ], without.loc[~differ])


def test_rule_features_are_aligned_like_the_full_model(clauses):
    j = compile_judge(clauses)
    model = load_model()
    scores = np.ones((2, len(j.vt.topics)))
    owners = np.zeros((2, 3))
    feats = model_rule_features(model, j.vt.topics, scores, owners)
    assert feats.shape[1] == model.signal.rule_coef.shape[1]
