"""The confidence model: how often a verdict with these traits is right on a fresh question.

The calibration chain (:mod:`kenolib.classify.calibration`: margin bins, then the step's, the
model agreement's and the verdict's scales) gives each verdict a first confidence. Those scales
are fitted one after another, each on its own trait, and on the real questions that arrived
later the chain's surest verdicts were right less often than it promised: of the verdicts it put
at 0.9 or more on rounds 43-50, 90.3 % were right. The confidence model reads the chain's
confidence together with the traits it was built from (the verdict margin, the learned model's
agreement, the topic margin, the judging step and the verdict) and gives the probability that
the verdict is right.

It is an additive logistic model: boosted one-split trees, so each trait adds a step function
to the log-odds, stored as plain edges and values in ``calibration.yaml`` (readable, and a few
array look-ups per batch at judging time). It is fitted on the calibration pool, whose questions
the rules were written beside (the same collection rounds' development parts); fresh questions
are harder. One ``offset`` on the log-odds moves it to fresh questions: it is fitted on the
*arrival ledger*, every held-out part as the classifier of its day judged it on arrival, so that
the ledger's mean confidence is its accuracy. Recent arrivals weigh more (``OFFSET_HALF_LIFE``):
the questions get harder as collectors reach new trackers, and an offset that follows the whole
ledger trails them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kenolib import config
from kenolib.classify import rules as R
from kenolib.classify.verdicts import VERDICT_CODES
from kenolib.errors import KenolibError
from kenolib.files import atomic_write, read_yaml

#: Numeric traits (in this order), each with a non-decreasing effect: a surer chain, a wider
#: margin or a model that agrees more never lowers the confidence.
NUMERIC = ("confidence", "verdict_margin", "model_agreement", "topic_margin")
#: Categorical traits and their levels (codes as the judge uses them).
CATEGORICAL: dict[str, tuple[str, ...]] = {
    "decided_by": tuple(R.DECIDERS),
    "verdict": tuple(sorted(VERDICT_CODES, key=VERDICT_CODES.get)),  # type: ignore[arg-type]
}
#: A verdict without a model agreement (no model loaded) reads as this agreement.
NO_AGREEMENT = -1.0
#: Steps whose verdicts keep their own confidence (no signal at all: ``unmapped``).
UNMODELLED_STEPS = ("no_signal",)
#: Boosting settings (chosen on rounds 4-42's pool, judged against rounds 43-50 on arrival).
TREES = 300
LEARNING_RATE = 0.05
L2 = 1.0
#: The offset is kept within this range (a ledger far off means something else is wrong).
OFFSET_RANGE = (-3.0, 3.0)
#: A ledger set's weight in the offset halves with every this many sets that arrived after it.
#: Fitted before each pair of rounds 45-54 from the sets before it and judged on that pair
#: (with the shapes of 2026-12-02): mean confidence over accuracy +0.040 with equal weights,
#: +0.033 with a half-life of 4 sets, +0.027 with 2; Brier 0.1630 / 0.1624 / 0.1621; of the
#: verdicts at 0.9 or more 93.4 / 93.2 / 93.4 % right. 4 is the steadier of the two.
OFFSET_HALF_LIFE = 4.0

#: Every held-out part of the real questions as the classifier of its day judged it on arrival
#: (``kenolib evaluate --ledger``): the offset's data.
ARRIVAL_LEDGER = config.REAL_QUESTIONS_DIR / "arrival_ledger.csv"
LEDGER_COLUMNS = [
    "ticket_id",
    "set",
    "judged_with",
    *NUMERIC,
    *CATEGORICAL,
    "correct",
]


@dataclasses.dataclass(frozen=True)
class ConfidenceModel:
    """Log-odds = ``base + offset`` + one step function per numeric trait (``edges``: where the
    step changes, ``values``: one more than edges) + one value per categorical level."""

    base: float
    offset: float
    numeric: dict[str, tuple[np.ndarray, np.ndarray]]
    categorical: dict[str, np.ndarray]

    def log_odds(self, traits: Mapping[str, np.ndarray]) -> np.ndarray:
        """The model's log-odds for arrays of traits (numeric floats, categorical codes)."""
        z = np.full(len(traits["confidence"]), self.base + self.offset, dtype=np.float64)
        for name, (edges, values) in self.numeric.items():
            x = np.asarray(traits[name], dtype=np.float64)
            z += values[np.searchsorted(edges, x, side="right")]
        for name, values in self.categorical.items():
            z += values[np.asarray(traits[name], dtype=np.int64)]
        return z

    def confidence(self, traits: Mapping[str, np.ndarray]) -> np.ndarray:
        """The probability the verdict is right."""
        return _probability(self.log_odds(traits))


def _probability(log_odds: np.ndarray) -> np.ndarray:
    """The logistic function: log-odds to probability."""
    return 1.0 / (1.0 + np.exp(-log_odds))


def judged_traits(
    confidence: np.ndarray,
    verdict_margin: np.ndarray,
    agreement: np.ndarray,
    topic_margin: np.ndarray,
    decided: np.ndarray,
    verdict: np.ndarray,
) -> dict[str, np.ndarray]:
    """The traits from the judge's arrays (codes for step and verdict)."""
    return {
        "confidence": np.asarray(confidence, dtype=np.float64),
        "verdict_margin": np.asarray(verdict_margin, dtype=np.float64),
        "model_agreement": np.nan_to_num(np.asarray(agreement, dtype=np.float64), nan=NO_AGREEMENT),
        "topic_margin": np.asarray(topic_margin, dtype=np.float64),
        "decided_by": np.asarray(decided, dtype=np.int64),
        "verdict": np.asarray(verdict, dtype=np.int64),
    }


def frame_traits(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The traits from a judged frame (crossref columns) or an arrival ledger."""
    missing = [c for c in (*NUMERIC, *CATEGORICAL) if c not in frame.columns]
    if missing:
        raise KenolibError(f"confidence model: the frame lacks {missing}")
    codes = {}
    for name, levels in CATEGORICAL.items():
        values = frame[name].astype(str)
        unknown = sorted(set(values) - set(levels))
        if unknown:
            raise KenolibError(f"confidence model: unknown {name} {unknown}; use {list(levels)}")
        codes[name] = values.map({v: i for i, v in enumerate(levels)}).to_numpy(dtype=np.int64)
    return judged_traits(
        frame["confidence"].to_numpy(dtype=np.float64),
        frame["verdict_margin"].to_numpy(dtype=np.float64),
        frame["model_agreement"].to_numpy(dtype=np.float64),
        frame["topic_margin"].to_numpy(dtype=np.float64),
        codes["decided_by"],
        codes["verdict"],
    )


def _design(traits: Mapping[str, np.ndarray]) -> np.ndarray:
    """Numeric traits then one column per categorical level (0/1)."""
    cols = [np.asarray(traits[n], dtype=np.float64) for n in NUMERIC]
    for name, levels in CATEGORICAL.items():
        code = np.asarray(traits[name], dtype=np.int64)
        cols += [(code == i).astype(np.float64) for i in range(len(levels))]
    return np.column_stack(cols)


def fit_shapes(traits: Mapping[str, np.ndarray], correct: np.ndarray) -> ConfidenceModel:
    """Boosted one-split trees on the traits; each trait's step function read back off the
    fitted model (it is additive, so varying one trait moves the log-odds by its own effect
    alone). Offset 0."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    X = _design(traits)
    y = np.asarray(correct, dtype=np.int64)
    n_num = len(NUMERIC)
    gbm = HistGradientBoostingClassifier(
        max_iter=TREES,
        learning_rate=LEARNING_RATE,
        max_depth=1,
        l2_regularization=L2,
        early_stopping=False,
        monotonic_cst=[1] * n_num + [0] * (X.shape[1] - n_num),
        random_state=0,
    ).fit(X, y)
    ref = np.concatenate([X[:, :n_num].min(axis=0), np.zeros(X.shape[1] - n_num)])
    base = float(gbm.decision_function(ref[None, :])[0])
    numeric = {}
    for i, name in enumerate(NUMERIC):
        grid = np.unique(X[:, i])
        rows = np.repeat(ref[None, :], len(grid), axis=0)
        rows[:, i] = grid
        effect = gbm.decision_function(rows) - base
        change = np.flatnonzero(np.abs(np.diff(effect)) > 1e-12)
        edges = (grid[change] + grid[change + 1]) / 2
        values = np.concatenate([effect[:1], effect[change + 1]])
        numeric[name] = (np.round(edges, 6), np.round(values, 6))
    categorical = {}
    col = n_num
    for name, levels in CATEGORICAL.items():
        rows = np.repeat(ref[None, :], len(levels), axis=0)
        rows[np.arange(len(levels)), col + np.arange(len(levels))] = 1.0
        categorical[name] = np.round(gbm.decision_function(rows) - base, 6)
        col += len(levels)
    model = ConfidenceModel(round(base, 6), 0.0, numeric, categorical)
    read_back = model.log_odds(traits)
    if not np.allclose(read_back, gbm.decision_function(X), atol=1e-4):
        raise KenolibError("confidence model: the boosted trees are not additive")  # a bug
    return model


def fit_offset(
    model: ConfidenceModel,
    traits: Mapping[str, np.ndarray],
    correct: np.ndarray,
    weights: np.ndarray | None = None,
) -> float:
    """The log-odds offset under which the (weighted) mean confidence equals the (weighted)
    accuracy (bisection)."""
    from scipy.optimize import brentq

    z = dataclasses.replace(model, offset=0.0).log_odds(traits)
    target = float(np.average(correct, weights=weights))  # weights None: the plain mean
    lo, hi = OFFSET_RANGE

    def gap(d: float) -> float:
        return float(np.average(_probability(z + d), weights=weights)) - target

    if gap(lo) > 0 or gap(hi) < 0:
        raise KenolibError(
            f"confidence model: no offset within {OFFSET_RANGE} fits the arrival ledger"
            f" (accuracy {target:.3f}); check it"
        )
    return round(float(brentq(gap, lo, hi, xtol=1e-8)), 4)


def load_ledger(path: str | Path = ARRIVAL_LEDGER) -> pd.DataFrame:
    """The arrival ledger, checked (columns, numbers, known steps and verdicts)."""
    path = Path(path)
    if not path.exists():
        raise KenolibError(f"{path}: no arrival ledger; `kenolib evaluate --ledger` writes one")
    df = pd.read_csv(path, dtype={"ticket_id": str, "set": str, "judged_with": str})
    missing = [c for c in LEDGER_COLUMNS if c not in df.columns]
    if missing:
        raise KenolibError(f"{path}: the arrival ledger lacks columns {missing}")
    if df.empty or df["correct"].isna().any() or not df["correct"].isin([0, 1, True, False]).all():
        raise KenolibError(f"{path}: `correct` must be 0 or 1 on every row")
    frame_traits(df)  # unknown steps or verdicts are refused
    return df


def ledger_rows(judged: pd.DataFrame, set_name: str, judged_with: str) -> pd.DataFrame:
    """Rows of the arrival ledger from an evaluated frame (``evaluate(...).frame``) judged
    without the confidence model: its ``confidence`` is the chain's, the model's input."""
    out = judged[["ticket_id", *NUMERIC, *CATEGORICAL]].copy()
    out.insert(1, "set", set_name)
    out.insert(2, "judged_with", judged_with)
    out["correct"] = judged["_correct"].astype(int).to_numpy()
    for name in CATEGORICAL:
        out[name] = out[name].astype(str)
    return out[LEDGER_COLUMNS]


def _refuse_again(path: Path, names: set[str], arrived: set[str]) -> None:
    """An arrival is measured once: a set the ledger already holds is refused."""
    again = sorted(names & arrived)
    if again:
        raise KenolibError(
            f"{path}: {', '.join(again)} already arrived; an arrival is recorded once (rename"
            " the set only if it holds new questions)"
        )


def check_new_arrival(set_name: str, path: str | Path = ARRIVAL_LEDGER) -> None:
    """Refuse a set the ledger already holds: an arrival is measured once."""
    path = Path(path)
    _refuse_again(path, {set_name}, set(load_ledger(path)["set"]) if path.exists() else set())


def append_ledger(rows: pd.DataFrame, path: str | Path = ARRIVAL_LEDGER) -> Path:
    """Add ``rows`` to the ledger (written atomically, the ledger read once); a set already in
    it is refused: an arrival is measured once."""
    path = Path(path)
    old = load_ledger(path) if path.exists() else None
    _refuse_again(path, set(rows["set"]), set() if old is None else set(old["set"]))
    both = rows if old is None else pd.concat([old, rows], ignore_index=True)

    def writer(tmp: Path) -> None:
        both.to_csv(tmp, index=False, float_format="%.4f")

    return atomic_write(path, writer)


def arrival_weights(ledger: pd.DataFrame, half_life: float = OFFSET_HALF_LIFE) -> np.ndarray:
    """Each ledger row's weight in the offset: its set's, halving with every ``half_life`` sets
    recorded after it (sets in the order the ledger received them)."""
    order = pd.unique(ledger["set"])
    age = pd.Series(np.arange(len(order))[::-1], index=order)
    return np.power(0.5, ledger["set"].map(age).to_numpy(dtype=np.float64) / half_life)


def describe(calibration_file: str | Path) -> str:
    """One line on a written calibration's confidence model (``kenolib calibrate``)."""
    doc = (read_yaml(Path(calibration_file), "confidence calibration") or {}).get(
        "confidence_model"
    )
    if not doc:
        return "no confidence model: the calibration chain's confidence is the verdict's"
    return (
        f"confidence model: log-odds offset {doc['offset']} for fresh questions, fitted on"
        f" {doc['offset_fitted_on']}"
    )


def fit_confidence_model(
    pooled: pd.DataFrame, ledger: pd.DataFrame | None = None
) -> ConfidenceModel:
    """Shapes from the judged calibration pool (``confidence`` there is the chain's), offset
    from the ledger (none: 0)."""
    use = ~pooled["decided_by"].isin(UNMODELLED_STEPS).to_numpy()
    model = fit_shapes(frame_traits(pooled[use]), pooled["_correct"].to_numpy(dtype=bool)[use])
    if ledger is None:
        return model
    keep = ~ledger["decided_by"].isin(UNMODELLED_STEPS).to_numpy()
    offset = fit_offset(
        model,
        frame_traits(ledger[keep]),
        ledger["correct"].to_numpy()[keep],
        arrival_weights(ledger)[keep],
    )
    return dataclasses.replace(model, offset=offset)


def to_doc(model: ConfidenceModel, ledger: str, ledger_rows_n: int) -> dict[str, Any]:
    """The model as a YAML-ready mapping (the ``confidence_model`` entry of calibration.yaml)."""
    weighting = (
        f"; a set's weight halves every {OFFSET_HALF_LIFE:g} sets recorded after it"
        if ledger_rows_n
        else ""
    )
    return {
        "base": float(model.base),
        "offset": float(model.offset),
        "offset_fitted_on": f"{ledger} ({ledger_rows_n} verdicts judged on arrival{weighting})",
        "numeric": {
            name: {"edges": [float(v) for v in e], "values": [float(v) for v in val]}
            for name, (e, val) in model.numeric.items()
        },
        "categorical": {
            name: {lvl: float(v) for lvl, v in zip(CATEGORICAL[name], values, strict=True)}
            for name, values in model.categorical.items()
        },
    }


def from_doc(doc: Any, where: str = "calibration.yaml: confidence_model") -> ConfidenceModel | None:
    """The stored model (``None``: no entry), validated: every trait, rising edges, numbers."""
    if doc is None:
        return None
    fix = "; run `kenolib calibrate`"
    if not isinstance(doc, dict) or not {"base", "offset", "numeric", "categorical"} <= set(doc):
        raise KenolibError(f"{where} needs base, offset, numeric and categorical{fix}")
    try:
        numeric = {}
        for name in NUMERIC:
            part = doc["numeric"][name]
            edges = np.array([float(v) for v in part["edges"]], dtype=np.float64)
            values = np.array([float(v) for v in part["values"]], dtype=np.float64)
            if len(values) != len(edges) + 1 or np.any(np.diff(edges) <= 0):
                raise KenolibError(f"{where}: {name} needs rising edges and one more value{fix}")
            numeric[name] = (edges, values)
        categorical = {}
        for name, levels in CATEGORICAL.items():
            part = doc["categorical"][name]
            unknown = sorted(set(part) - set(levels))
            if unknown:
                raise KenolibError(f"{where}: unknown {name} {unknown}{fix}")
            categorical[name] = np.array([float(part.get(lvl, 0.0)) for lvl in levels])
        base, offset = float(doc["base"]), float(doc["offset"])
    except (KeyError, TypeError, ValueError) as exc:
        raise KenolibError(f"{where}: malformed ({exc}){fix}") from None
    numbers = [np.array([base, offset]), *categorical.values(), *(v for _, v in numeric.values())]
    if not all(np.isfinite(v).all() for v in numbers):
        raise KenolibError(f"{where}: numbers must be finite{fix}")
    return ConfidenceModel(base, offset, numeric, categorical)
