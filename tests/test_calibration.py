"""The confidence table: interpolation between the bins' centres, the steps' scales and the
``needs_review`` threshold (kenolib/classify/calibration.py, evaluation.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kenolib.classify.calibration import (
    agreement_scaled,
    agreement_scales,
    calibrated_confidence,
    fit_bins,
    review_threshold,
)
from kenolib.classify.evaluation import (
    fit_agreement_scales,
    fit_decider_scales,
    fit_verdict_scales,
)
from kenolib.errors import KenolibError

EDGES = np.array([0.2, 0.5, 1.01])
ACC = np.array([0.6, 0.8, 0.9])
CENTRES = np.array([0.1, 0.35, 0.7])


def test_confidence_is_interpolated_between_the_centres():
    m = np.array([0.0, 0.1, 0.225, 0.35, 0.525, 0.7, 0.95])
    got = calibrated_confidence(m, (EDGES, ACC, CENTRES))
    # flat beyond the first and last centre, the bin's accuracy at its centre, linear between
    assert got.tolist() == pytest.approx([0.6, 0.6, 0.7, 0.8, 0.85, 0.9, 0.9])
    fine = np.linspace(0, 1, 1001)
    assert np.all(np.diff(calibrated_confidence(fine, (EDGES, ACC, CENTRES))) >= 0)


def test_a_table_without_centres_keeps_its_steps():
    m = np.array([0.0, 0.19, 0.2, 0.49, 0.5, 0.99, 1.2])
    got = calibrated_confidence(m, (EDGES, ACC))
    assert got.tolist() == [0.6, 0.6, 0.8, 0.8, 0.9, 0.9, 0.9]


def test_fitted_centres_are_the_bins_median_margins():
    rng = np.random.default_rng(3)
    margin = rng.random(1000)
    correct = rng.random(1000) < 0.5 + margin / 2
    table = fit_bins(margin, correct)
    edges = table["upper_edge"].to_numpy()
    b = np.searchsorted(edges, margin, side="right")
    for i, centre in enumerate(table["centre"]):
        assert centre == pytest.approx(np.median(margin[b == i]), abs=1e-4)
    # many distinct confidences, not six: the knife edge between fits came from a few large levels
    assert (
        len(
            np.unique(
                calibrated_confidence(
                    margin, (edges, table["accuracy"].to_numpy(), table["centre"].to_numpy())
                )
            )
        )
        > 900
    )


def test_review_threshold_ignores_the_precision_of_a_handful_of_top_tickets():
    conf = np.linspace(0.99, 0.5, 200)
    correct = np.ones(200, dtype=bool)
    correct[1] = False  # one miss among the two surest: 50 % precision up there
    correct[150:] = False  # the least sure quarter is wrong
    below = review_threshold(conf, correct, target=0.9)
    above = conf >= below
    assert correct[above].mean() >= 0.9 and above.sum() >= 10
    # the lowest level whose tickets at and above it reach the target (149 right of 165): one
    # level lower would not (149 of 166)
    assert below == conf[164]
    assert correct[conf >= conf[165]].mean() < 0.9


def test_review_threshold_flags_everything_when_no_level_reaches_the_target():
    conf = np.linspace(0.9, 0.5, 100)
    correct = np.arange(100) % 2 == 0  # the surest is right, then every other one
    assert review_threshold(conf, correct, target=0.9) == 1.01
    # the surest ticket alone reaches 100 %, but it is under 5 % of the tickets
    assert review_threshold(conf, correct, target=0.9, min_share=0.0) == conf[0]
    assert review_threshold(np.array([]), np.array([], dtype=bool)) == 1.01


def test_review_threshold_is_the_lowest_of_tied_levels():
    conf = np.array([0.9] * 50 + [0.8] * 50 + [0.7] * 50)
    correct = np.array([True] * 50 + [True] * 45 + [False] * 5 + [False] * 50)
    assert review_threshold(conf, correct, target=0.9) == 0.8


def test_scales_bring_a_steps_mean_confidence_to_its_accuracy():
    frame = pd.DataFrame(
        {
            "decided_by": ["model"] * 10 + ["ownership"] * 10 + ["signals"] * 10,
            "verdict": ["supported"] * 25 + ["silent"] * 5,
            "_correct": [True] * 5 + [False] * 5 + [True] * 10 + [True] * 10,
        }
    )
    conf = np.full(30, 0.9)
    steps = fit_decider_scales(frame, conf)
    assert steps["model"] == pytest.approx((5 + 1) / (10 + 2) / 0.9, abs=1e-3)
    assert steps["ownership"] == 1.0  # never raised above the margin's confidence
    assert steps["scope"] == pytest.approx(0.5 / 1.0)  # nothing observed, nothing claimed
    # all five silent verdicts right: smoothed 6 / 7, under the 0.9 claimed
    assert fit_verdict_scales(frame, conf)["silent"] == pytest.approx(6 / 7 / 0.9, abs=1e-3)


def test_agreement_scales_bring_each_bins_mean_confidence_to_its_accuracy():
    """The model's agreement with a rule-decided verdict splits the verdicts into bins; each
    bin's factor on the error makes its mean confidence its smoothed accuracy."""
    agree = np.array([0.2] * 10 + [0.97] * 20 + [0.97] * 4)
    frame = pd.DataFrame(
        {
            "decided_by": ["signals"] * 30 + ["model"] * 4,
            "_correct": [True] * 5 + [False] * 5 + [True] * 20 + [False] * 4,
            "model_agreement": agree,
        }
    )
    conf = np.full(34, 0.8)
    fitted = fit_agreement_scales(frame, conf, edges=(0.5, 0.95))
    assert fitted["edges"] == [0.5, 0.95] and "model" not in fitted["steps"]
    low, middle, high = fitted["scales"]
    assert middle == 1.0  # no ticket in the bin: nothing moves
    assert low == pytest.approx((1 - 6 / 12) / 0.2, abs=1e-3)  # half right: error 0.2 -> 0.5
    assert high == pytest.approx((1 - 21 / 22) / 0.2, abs=5e-3)  # all 20 right (three places)
    scales = agreement_scales(fitted)
    ruled = frame["decided_by"].isin(scales[2]).to_numpy()
    got = agreement_scaled(conf, agree, ruled, scales)
    assert got[:10].mean() == pytest.approx(6 / 12, abs=1e-3)
    assert got[10:30].mean() == pytest.approx(21 / 22, abs=1e-3)
    assert (got[30:] == 0.8).all()  # the model's own verdicts keep their confidence
    # a row without an agreement (no model) keeps its confidence; nothing leaves [0, 1]
    nan = agreement_scaled(conf[:2], np.array([np.nan, 0.1]), np.array([True, True]), scales)
    assert nan[0] == 0.8 and 0 <= nan[1] <= 1
    # no table: unchanged
    assert (agreement_scaled(conf, agree, ruled, agreement_scales(None)) == conf).all()


@pytest.mark.parametrize(
    "doc",
    [
        {"edges": [0.5], "scales": [1.0]},  # steps missing
        {"edges": [0.5], "scales": [1.0], "steps": ["signals"]},  # one scale short
        {"edges": [0.7, 0.5], "scales": [1, 1, 1], "steps": ["signals"]},  # edges fall
        {"edges": [0.5], "scales": [1, 9], "steps": ["signals"]},  # out of range
        {"edges": ["x"], "scales": [1, 1], "steps": ["signals"]},
        {"edges": [0.5], "scales": [1, 1], "steps": "signals"},
        [0.5, 1.0],
    ],
)
def test_a_malformed_agreement_table_is_refused_naming_the_file(doc):
    with pytest.raises(KenolibError, match="calibration.yaml: agreement_scales"):
        agreement_scales(doc)
