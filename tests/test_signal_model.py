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
    model_below_at,
    rule_scores,
)
from kenolib.classify.model import load_model, model_rule_features
from kenolib.classify.signal_model import SignalModel, signal_design
from kenolib.classify.spec import below_by_product, load_signals_file, model_settings
from kenolib.classify.training import training_hits
from kenolib.errors import KenolibError
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
    # moved: another topic, or the same one reached by the model instead of a rule (a band
    # ticket the gate hands to the full model may land on the topic the product rule gave)
    differ = (
        (with_part["topic"] != without["topic"])
        | (with_part["decided_by"] != without["decided_by"])
    ).to_numpy()
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


def test_band_tickets_the_cheap_part_is_unsure_of_are_read_by_the_full_model(clauses):
    """With ``signals_gate`` a band ticket whose cheap part gives no verdict that much
    probability is judged as the full model judges it; the other band tickets as the cheap part
    judges them, and the rest as without the gate. Real questions hold both kinds."""
    j = compile_judge(clauses)
    assert 0 < j.signals_gate <= 1
    d = pd.concat(
        [pd.read_csv(config.REAL_QUESTIONS_DIR / f"real{n}_holdout.csv") for n in (20, 21, 22)],
        ignore_index=True,
    )
    off = dataclasses.replace(j, signals_gate=0.0)
    full = dataclasses.replace(j, model_below=j.signals_below, model_below_by=None)
    cols = ["topic", "clause_id", "verdict", "decided_by", "confidence", "evidence"]
    gated, cheap, read = (crossref(d, clauses, judge=x)[cols] for x in (j, off, full))
    as_cheap = (gated == cheap).all(axis=1)
    as_full = (gated == read).all(axis=1)
    assert (as_cheap | as_full).all()
    assert (~as_cheap).any() and (~as_full).any()
    # where the gate changed a judgment, one of the two models had moved the ticket
    by_model = (gated["decided_by"] == "model") | (cheap["decided_by"] == "model")
    assert by_model[~as_cheap].all()


def test_rule_features_are_aligned_like_the_full_model(clauses):
    j = compile_judge(clauses)
    model = load_model()
    scores = np.ones((2, len(j.vt.topics)))
    owners = np.zeros((2, 3))
    feats = model_rule_features(model, j.vt.topics, scores, owners)
    assert feats.shape[1] == model.signal.rule_coef.shape[1]


def test_model_products_gives_the_suites_their_own_band(clauses):
    """``model_products`` (ticket_signals.yaml) lets the full model read suite tickets up to its
    own rule margin; a product it does not name keeps ``model.below_margin``, even when that
    default is changed later."""
    j = compile_judge(clauses)
    products = list(j.vt.products)
    every = np.arange(len(products))
    at = dict(zip(products, model_below_at(j, every), strict=True))
    assert at["g_suite"] == at["office_365"] == 0.8
    assert at["shared_hosting"] == at["unknown"] == j.model_below
    lowered = model_below_at(dataclasses.replace(j, model_below=0.3), every)
    moved = dict(zip(products, lowered, strict=True))
    assert moved["g_suite"] == 0.8 and moved["vps_dedicated"] == 0.3
    off = dataclasses.replace(j, model_below_by=None)
    assert (model_below_at(off, every) == j.model_below).all()


def test_model_products_changes_only_the_products_it_names(clauses):
    """Real suite questions between the two margins are read by the full model instead of its
    cheap part; every other product's verdicts are the same as without the setting."""
    d = pd.concat(
        [
            pd.read_csv(p, dtype=str, keep_default_na=False)
            for p in config.REAL_QUESTIONS_DIR.glob("real2*_dev.csv")
        ]
    ).reset_index(drop=True)
    j = compile_judge(clauses)
    with_it = crossref(d, clauses, judge=j)
    without = crossref(d, clauses, judge=dataclasses.replace(j, model_below_by=None))
    suite = with_it["product"].isin(["g_suite", "office_365"]).to_numpy()
    assert suite.any() and (~suite).any()
    pd.testing.assert_frame_equal(with_it.loc[~suite], without.loc[~suite])
    differ = (with_it["evidence"] != without["evidence"]).to_numpy()
    assert differ[suite].any()


def test_model_products_refuses_unknown_names(tmp_path):
    """An unknown product is refused when the judge is built, an unknown or ill-typed setting
    when the signals file is loaded, each naming it."""
    with pytest.raises(KenolibError, match="unknown product 'gsuite'"):
        below_by_product({"gsuite": {"below_margin": 0.8}}, ["shared_hosting", "g_suite"])
    bad = tmp_path / "signals.yaml"
    for entry, message in [
        ("{g_suite: {below: 0.8}}", r"model_products: g_suite: unknown key 'below'"),
        ("{g_suite: {below_margin: high}}", r"model_products: g_suite: below_margin"),
    ]:
        bad.write_text(f"topics: {{}}\nmodel_products: {entry}\n", encoding="utf-8")
        with pytest.raises(KenolibError, match=message):
            load_signals_file(str(bad))
    ok = {"g_suite": {"below_margin": 0.8}, "office_365": {}}
    assert below_by_product(ok, ["shared_hosting", "g_suite", "office_365"])[1] == 0.8


def test_model_settings_refuse_an_unknown_key_and_fill_defaults(tmp_path):
    spec = load_signals_file()
    assert model_settings(spec)["signals_gate"] == spec["model"]["signals_gate"]
    assert model_settings({})["signals_gate"] == 0.0
    assert model_settings({"model": {"min_proba": 0.4}})["signals_min_proba"] == 0.4
    bad = tmp_path / "signals.yaml"
    bad.write_text("topics: {}\nmodel: {below_margin: 0.5, signal_gate: 0.8}\n", encoding="utf-8")
    with pytest.raises(KenolibError, match="signal_gate"):
        load_signals_file(str(bad))


def test_model_agreement_is_the_cheap_parts_probability_of_the_verdict(clauses):
    """``model_agreement``: the probability the model's cheap part gives the judged verdict on
    the ticket's product; none without a model; an unknown step in the calibration's
    ``agreement_scales`` is refused naming it."""
    t = synth_tickets(400, seed=21)
    j = compile_judge(clauses)
    x = crossref(t, clauses, judge=j)
    agree = x["model_agreement"]
    assert agree.between(0, 1).all()
    # the rules and the cheap part agree on most synthetic tickets, not on all
    assert 0.5 < (agree >= 0.5).mean() < 1.0
    # the cheap part is sure of nearly every synthetic ticket the signals decided
    assert agree[x["decided_by"] == "signals"].median() > 0.9
    bare = crossref(t, clauses, judge=dataclasses.replace(j, model=None))
    assert bare["model_agreement"].isna().all()
    assert bare["verdict"].notna().all()
    edges, scales, _ = j.sig.agreement
    odd = dataclasses.replace(j.sig, agreement=(edges, scales, ("signals", "hunch")))
    with pytest.raises(KenolibError, match="unknown judging step.*hunch"):
        crossref(t.head(5), clauses, judge=dataclasses.replace(j, sig=odd))
