"""Aggregates of a judged frame: the out-of-scope estimate and its range."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kenolib import aggregates as A
from kenolib.errors import KenolibError
from kenolib.schemas import CROSSREF_COLUMNS


def _frame(verdicts: list[str], conf: list[float], minutes: list[float]) -> pd.DataFrame:
    n = len(verdicts)
    x = pd.DataFrame({c: [""] * n for c in CROSSREF_COLUMNS})
    x["verdict"] = verdicts
    x["confidence"] = conf
    x["needs_review"] = [c < 0.5 for c in conf]
    x["agent_minutes"] = minutes
    return x


def test_certain_verdicts_give_the_judged_figures():
    x = _frame(["not_supported", "supported", "not_supported", "silent"], [1.0] * 4, [60] * 4)
    e = A.out_of_scope_estimate(x, hourly_rate=50).iloc[0]
    assert e["out_of_scope"] == 2 and e["expected"] == 2 and e["share"] == 0.5
    assert e["low"] <= 2 <= e["high"] and e["high"] - e["low"] == pytest.approx(0.2)
    assert e["hours"] == 2 and e["cost"] == 100 and e["cost_expected"] == 100


def test_unsure_verdicts_widen_the_range_and_move_the_expectation():
    sure = _frame(["not_supported"] * 50 + ["supported"] * 50, [0.95] * 100, [30] * 100)
    unsure = _frame(["not_supported"] * 50 + ["supported"] * 50, [0.6] * 100, [30] * 100)
    a, b = A.out_of_scope_estimate(sure).iloc[0], A.out_of_scope_estimate(unsure).iloc[0]
    assert b["high"] - b["low"] > a["high"] - a["low"]
    # 50 * 0.6 judged out of scope really are, 50 * 0.4 * 0.5 of the others are too
    assert b["expected"] == pytest.approx(50 * 0.6 + 50 * 0.4 * A.MISSED_NOT_SUPPORTED)
    assert 0 <= b["share_low"] <= b["expected"] / 100 <= b["share_high"] <= 1
    assert "cost" not in b.index


def test_estimate_refuses_a_negative_rate_and_a_frame_without_verdicts():
    x = _frame(["supported"], [0.9], [10])
    with pytest.raises(KenolibError, match="hourly rate"):
        A.out_of_scope_estimate(x, hourly_rate=-1)
    with pytest.raises(KenolibError, match="verdict"):
        A.out_of_scope_estimate(x.drop(columns="verdict"))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)
        | st.floats(min_value=1e-300, max_value=1e-290),
        max_size=60,
    ),
    st.randoms(use_true_random=False),
)
def test_exact_sum_is_the_correctly_rounded_sum_in_any_batches_and_order(values, rnd):
    """The estimate's sums: any split into batches, added in any order, gives ``math.fsum``
    (the correctly rounded exact sum), bit for bit."""
    cuts = sorted(rnd.sample(range(len(values) + 1), k=min(3, len(values) + 1)))
    parts = [values[a:b] for a, b in zip([0, *cuts], [*cuts, len(values)], strict=True)]
    rnd.shuffle(parts)
    total = A.ExactSum()
    for part in parts:
        total += A.ExactSum(np.array(part, dtype=np.float64))
    assert float(total) == math.fsum(values)


def test_exact_sum_refuses_a_value_that_is_no_number():
    with pytest.raises(KenolibError, match="not a finite number"):
        A.ExactSum(np.array([1.0, np.inf]))
