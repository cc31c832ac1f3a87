"""The confidence model: additive step functions read back off boosted stumps, the arrival
ledger's offset, validation of the stored entry, and ``kenolib evaluate --ledger``."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from kenolib.classify import confidence_model as CM
from kenolib.cli import main
from kenolib.errors import KenolibError
from tests.conftest import FIXTURES


def _traits(n: int, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Synthetic verdicts: right more often the surer the chain and the more the model agrees,
    less often when the model decided."""
    rng = np.random.default_rng(seed)
    conf = rng.uniform(0.3, 1.0, n)
    agree = np.where(rng.random(n) < 0.1, np.nan, rng.uniform(0, 1, n))
    decided = rng.integers(0, len(CM.CATEGORICAL["decided_by"]), n)
    model = CM.CATEGORICAL["decided_by"].index("model")
    logit = -4 + 6 * conf + 1.5 * np.nan_to_num(agree, nan=0.3) - 0.8 * (decided == model)
    right = rng.random(n) < 1 / (1 + np.exp(-logit))
    traits = CM.judged_traits(
        conf, rng.uniform(0, 1, n), agree, rng.uniform(0, 1, n), decided, rng.integers(0, 3, n)
    )
    return traits, right


def test_shapes_are_the_boosted_model_and_rise_with_sureness():
    traits, right = _traits(3000, 1)
    model = CM.fit_shapes(traits, right)  # raises when the read-back differs from the trees
    for name, (edges, values) in model.numeric.items():
        assert len(values) == len(edges) + 1 and (np.diff(edges) > 0).all()
        assert (np.diff(values) >= -1e-9).all(), name
    conf = model.numeric["confidence"][1]
    assert conf[-1] - conf[0] > 2  # the chain's confidence carries most of the signal
    levels = dict(zip(CM.CATEGORICAL["decided_by"], model.categorical["decided_by"], strict=True))
    assert levels["model"] < levels["signals"]
    p = model.confidence(traits)
    assert ((p > 0) & (p < 1)).all()
    # better than the chain alone at telling right from wrong (Brier score)
    assert np.mean((p - right) ** 2) < np.mean((traits["confidence"] - right) ** 2)


def test_offset_makes_the_mean_confidence_the_accuracy():
    traits, right = _traits(3000, 2)
    model = CM.fit_shapes(traits, right)
    fresh, fresh_right = _traits(800, 3)
    harder = fresh_right & (np.random.default_rng(4).random(800) < 0.85)  # fresh: harder
    offset = CM.fit_offset(model, fresh, harder)
    assert offset < 0
    moved = dataclasses.replace(model, offset=offset).confidence(fresh)
    assert moved.mean() == pytest.approx(harder.mean(), abs=1e-3)  # offset kept to 4 places
    with pytest.raises(KenolibError, match="no offset"):
        CM.fit_offset(model, fresh, np.zeros(800, dtype=bool))


def test_recent_arrivals_weigh_more_in_the_offset():
    sets = pd.DataFrame({"set": ["r1", "r1", "r2", "r3", "r3"]})
    assert CM.arrival_weights(sets, half_life=1).tolist() == [0.25, 0.25, 0.5, 1.0, 1.0]
    traits, right = _traits(3000, 2)
    model = CM.fit_shapes(traits, right)
    fresh, fresh_right = _traits(800, 3)
    # the later half of the ledger is harder than the earlier half
    later = np.arange(800) >= 400
    harder = fresh_right & ~(later & (np.random.default_rng(6).random(800) < 0.3))
    ledger = pd.DataFrame({"set": np.where(later, "new", "old")})
    equal = CM.fit_offset(model, fresh, harder)
    weighted = CM.fit_offset(model, fresh, harder, CM.arrival_weights(ledger, half_life=1))
    assert weighted < equal  # follows the harder, recent arrivals
    only_new = CM.fit_offset(model, {k: v[later] for k, v in fresh.items()}, harder[later])
    assert only_new < weighted


def test_stored_entry_round_trips_and_is_validated():
    traits, right = _traits(2000, 5)
    model = dataclasses.replace(CM.fit_shapes(traits, right), offset=-0.25)
    doc = CM.to_doc(model, "ledger.csv", 10)
    back = CM.from_doc(doc)
    assert back is not None and np.allclose(
        back.log_odds(traits), model.log_odds(traits), atol=1e-6
    )
    assert CM.from_doc(None) is None
    bad_edges = {
        **doc,
        "numeric": {**doc["numeric"], "confidence": {"edges": [0.5, 0.4], "values": [0, 1, 2]}},
    }
    unknown = {**doc, "categorical": {**doc["categorical"], "verdict": {"maybe": 1.0}}}
    for broken, words in [
        ({"base": 0}, "needs base"),
        (bad_edges, "rising edges"),
        (unknown, "unknown verdict"),
        ({**doc, "offset": "x"}, "malformed"),
    ]:
        with pytest.raises(KenolibError, match=words):
            CM.from_doc(broken)


def test_frame_traits_refuse_unknown_steps():
    frame = pd.DataFrame(
        {
            "confidence": [0.9],
            "verdict_margin": [0.5],
            "model_agreement": [np.nan],
            "topic_margin": [0.5],
            "decided_by": ["guesswork"],
            "verdict": ["supported"],
        }
    )
    with pytest.raises(KenolibError, match="unknown decided_by"):
        CM.frame_traits(frame)
    assert CM.frame_traits(frame.assign(decided_by="signals"))["model_agreement"][0] == -1.0


def test_shipped_ledger_is_every_arrival_once():
    ledger = CM.load_ledger()
    assert not ledger.duplicated(["set", "ticket_id"]).any()
    for name, part in ledger.groupby("set"):
        held = pd.read_csv(FIXTURES / "real" / name, dtype=str)
        assert sorted(part["ticket_id"]) == sorted(held["ticket_id"]), name


def test_evaluate_records_an_arrival_once(tmp_path, capsys):
    ledger = tmp_path / "ledger.csv"
    labelled = str(FIXTURES / "labelled" / "labelled_holdout2.csv")
    assert main(["evaluate", labelled, "--ledger", str(ledger), "--judged-with", "abc1234"]) == 0
    rows = CM.load_ledger(ledger)
    n = len(pd.read_csv(labelled))
    assert len(rows) == n and set(rows["judged_with"]) == {"abc1234"}
    assert set(rows["set"]) == {"labelled_holdout2.csv"}
    assert f"recorded {n} verdicts" in capsys.readouterr().out
    # measured once: the same set again is refused with one line, the ledger unchanged
    assert main(["evaluate", labelled, "--ledger", str(ledger)]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "already arrived" in err[0]  # refused before judging: no warnings
    assert len(CM.load_ledger(ledger)) == n
