"""Honest confidence: the verdict margin mapped to the accuracy observed on held-aside tickets.

The table (``kenolib/data/calibration.yaml``) is fitted by ``kenolib calibrate`` on a labelled
calibration set that the rules and the model are never fitted on. Each bin of the verdict margin
has its observed accuracy; a margin's confidence is read off the line through the bins' centres
(their median margins), so confidence rises smoothly with the margin instead of in six steps.
``review_below`` is the lowest confidence at which the verdicts above it were right at least
``target`` of the time on that set: tickets under it get ``needs_review``.
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from kenolib import config
from kenolib.errors import KenolibError
from kenolib.files import atomic_write, read_yaml

#: The confidence table fitted on the calibration set (``kenolib calibrate``).
CALIBRATION_FILE = config.PACKAGE_DATA / "calibration.yaml"


def load_calibration(signals: dict[str, Any] | None = None) -> dict[str, Any]:
    """The confidence table: ``calibration.yaml`` when present, else the signals file's own.

    Keys: ``edges`` (upper bounds of the raw-margin bins), ``accuracy`` (confidence per bin),
    ``centres`` (each bin's median margin, where its accuracy is placed), ``unmapped``
    (confidence of a ticket without any signal), ``decider_scales``, ``agreement_scales``
    (:func:`agreement_scales`) and ``verdict_scales``,
    ``review_below`` and provenance.
    """
    if CALIBRATION_FILE.exists():
        data = read_yaml(CALIBRATION_FILE, "confidence calibration")
        if not isinstance(data, dict) or "edges" not in data or "accuracy" not in data:
            raise KenolibError(
                f"{CALIBRATION_FILE}: expected edges and accuracy; run `kenolib calibrate`"
            )
        return data
    return dict((signals or {}).get("calibration") or {})


def agreement_scales(doc: Any) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """``agreement_scales`` of ``calibration.yaml`` as (edges, factors, steps): a verdict
    decided by one of ``steps`` has its error (one minus its confidence) multiplied by the
    factor of the bin its learned-model agreement falls in (``edges`` are the bins' upper
    bounds, the last bin open). No entry: no bins, factor 1, no step."""
    if doc is None:
        return np.zeros(0), np.ones(1), ()
    where = f"{CALIBRATION_FILE.name}: agreement_scales"
    if not isinstance(doc, dict) or set(doc) != {"edges", "scales", "steps"}:
        raise KenolibError(f"{where} needs edges, scales and steps; run `kenolib calibrate`")
    try:
        edges = np.array([float(v) for v in doc["edges"]], dtype=np.float64)
        scales = np.array([float(v) for v in doc["scales"]], dtype=np.float64)
    except (TypeError, ValueError):
        raise KenolibError(f"{where}: edges and scales must be numbers") from None
    steps = doc["steps"]
    lo, hi = AGREEMENT_SCALE_RANGE
    if (
        len(scales) != len(edges) + 1
        or np.any(np.diff(edges) <= 0)
        or np.any((edges <= 0) | (edges >= 1))
        or np.any((scales < lo) | (scales > hi))
        or not isinstance(steps, list)
        or not all(isinstance(x, str) for x in steps)
    ):
        raise KenolibError(
            f"{where}: edges must rise within (0, 1), with one more scale than edges, each in"
            f" [{lo}, {hi}], and steps a list of judging steps; run `kenolib calibrate`"
        )
    return edges, scales, tuple(steps)


#: The least and the most an agreement bin may scale a verdict's error by.
AGREEMENT_SCALE_RANGE = (0.1, 3.0)


def agreement_scaled(
    confidence: np.ndarray,
    agreement: np.ndarray,
    scaled: np.ndarray,
    scales: tuple[np.ndarray, np.ndarray, tuple[str, ...]],
) -> np.ndarray:
    """``confidence`` with the error (``1 - confidence``) of each ``scaled`` row multiplied by
    its agreement bin's factor, within [0, 1] (rows without an agreement keep theirs). Scaling
    the error, not the confidence, keeps a sure verdict below certainty."""
    edges, factors, _ = scales
    if not len(edges):
        return confidence
    known = scaled & ~np.isnan(agreement)
    bins = np.searchsorted(edges, np.nan_to_num(agreement), side="right")
    moved = np.clip(1.0 - (1.0 - confidence) * factors[bins], 0.0, 1.0)
    return np.where(known, moved, confidence)


def calibrated_confidence(margin: np.ndarray, calibration: tuple[np.ndarray, ...]) -> np.ndarray:
    """Map verdict margins (``rules.verdict_margin``) to confidences: ``(edges, accuracy,
    centres)`` interpolates linearly between the bins' (centre, accuracy) points, flat beyond
    the first and last centre; ``(edges, accuracy)`` (a table without centres) gives each
    margin its bin's accuracy."""
    edges, acc, *rest = calibration
    if rest and len(rest[0]) == len(acc) > 1:
        return np.interp(margin, rest[0], acc)
    b = np.searchsorted(edges, margin, side="right").clip(0, len(acc) - 1)
    return acc[b]


def _pool_adjacent_violators(right: np.ndarray, tickets: np.ndarray) -> np.ndarray:
    """Add-one smoothed rates per bin, made non-decreasing by pooling violating neighbours."""
    blocks = [[i] for i in range(len(tickets))]

    def rate(block: list[int]) -> float:
        return float((right[block].sum() + 1) / (tickets[block].sum() + 2))

    merged = True
    while merged:
        merged = False
        for i in range(len(blocks) - 1):
            if rate(blocks[i]) > rate(blocks[i + 1]):
                blocks[i : i + 2] = [blocks[i] + blocks[i + 1]]
                merged = True
                break
    acc = np.zeros(len(tickets))
    for block in blocks:
        acc[block] = rate(block)
    return acc


def fit_bins(
    margin: np.ndarray,
    correct: np.ndarray,
    quantiles: tuple[float, ...] = (0.1, 0.3, 0.55, 0.8, 0.9),
) -> pd.DataFrame:
    """Bin margins at the given quantiles; each bin's smoothed, monotone share of right verdicts.

    Ties of quantiles are merged; the lowest decile gets its own bin because near-ties are where
    a rule-based classifier errs, and so does the top one, where the surest verdicts are told
    apart from the merely likely. ``centre`` is each bin's median margin (the middle of its
    edges for a bin without tickets), where :func:`calibrated_confidence` puts its accuracy.
    Only counts and margins are used: no ticket text.
    """
    margin = np.asarray(margin, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    qs = np.quantile(margin, np.array(quantiles, dtype=np.float64)) if len(margin) else []
    inner = np.unique(np.round(qs, 4))
    inner = inner[(inner > 0) & (inner < 1.0)]
    edges = [*inner.tolist(), 1.01]
    b = np.searchsorted(np.array(edges), margin, side="right").clip(0, len(edges) - 1)
    tickets = np.bincount(b, minlength=len(edges)).astype(np.int64)
    right = np.bincount(b, weights=correct, minlength=len(edges)).astype(np.int64)
    acc = _pool_adjacent_violators(right, tickets)
    lower = [0.0, *edges[:-1]]
    centre = [
        float(np.median(margin[b == i])) if tickets[i] else (lower[i] + min(edges[i], 1.0)) / 2
        for i in range(len(edges))
    ]
    return pd.DataFrame(
        {
            "upper_edge": edges,
            "centre": np.round(centre, 4),
            "tickets": tickets,
            "correct": right,
            "accuracy": np.round(acc, 3),
        }
    )


#: The least share of the calibration tickets that must lie at or above the ``needs_review``
#: threshold: the precision of a handful of top tickets says nothing (one miss among the five
#: surest would otherwise flag everything).
REVIEW_MIN_SHARE = 0.05


def review_threshold(
    confidence: np.ndarray,
    correct: np.ndarray,
    target: float = 0.9,
    min_share: float = REVIEW_MIN_SHARE,
) -> float:
    """Lowest confidence level at or above which at least ``target`` of the tickets were right.

    Levels are scanned from the top down over the tickets sorted by confidence; a level counts
    when everything at or above it holds at least ``min_share`` of the tickets and its precision
    reaches ``target``; the lowest such level wins. Tickets below it get ``needs_review``. With
    no level reaching the target, every ticket needs review (1.01).
    """
    conf = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(correct, dtype=bool)
    if not len(conf):
        return 1.01
    order = np.argsort(-conf, kind="stable")
    level = conf[order]
    above = np.arange(1, len(conf) + 1)
    precision = np.cumsum(ok[order]) / above
    last = np.append(level[1:] != level[:-1], True)  # the last ticket of each level
    good = last & (precision >= target) & (above >= min_share * len(conf))
    return float(level[np.flatnonzero(good)[-1]]) if good.any() else 1.01


def write_calibration(
    table: pd.DataFrame,
    unmapped: float,
    out: str | os.PathLike[str],
    source: str,
    n: int,
    review_below: float | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write a fitted confidence table as YAML (atomically), with where it came from."""
    doc: dict[str, Any] = {
        "fitted_on": source,
        "tickets": int(n),
        "fitted_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "signals_sha256": signals_digest(),
        "edges": [float(v) for v in table["upper_edge"]],
        "centres": [float(v) for v in table["centre"]],
        "accuracy": [float(v) for v in table["accuracy"]],
        "bin_tickets": [int(v) for v in table["tickets"]],
        "bin_correct": [int(v) for v in table["correct"]],
        "unmapped": float(unmapped),
    }
    if review_below is not None:
        doc["review_below"] = float(review_below)
    doc.update(extra or {})
    header = (
        "# Confidence calibration of the ticket classifier (kenolib/classify/).\n"
        "# Written by `kenolib calibrate` (classify.training.calibrate): the verdict margin\n"
        "# (best - other) / (best + 1) is binned (best: the top score among topics giving the\n"
        "# ticket's verdict, other: among topics giving another; the model's own gap where it\n"
        "# decided); `accuracy` is the observed share of tickets in\n"
        "# the bin whose verdict is right, add-one smoothed and made\n"
        "# non-decreasing. `edges` are the bins' upper bounds, `centres` their median margins: a\n"
        "# margin's confidence is interpolated between the (centre, accuracy) points.\n"
        "# `decider_scales` and `verdict_scales` scale the confidence of a ticket moved by that\n"
        "# step, or given that verdict, so that their mean is the step's (verdict's) own accuracy;\n"
        "# `agreement_scales` then scale the error (1 - confidence) of a verdict the listed steps\n"
        "# decided by the bin its model_agreement falls in (edges: upper bounds), so that each\n"
        "# bin's mean confidence is its accuracy.\n"
        "# `review_below` is the confidence under which a verdict gets needs_review.\n"
        "# Re-run after changing the signals or the model.\n"
    )

    def writer(tmp: Path) -> None:
        tmp.write_text(header + yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")

    return atomic_write(out, writer)


def signals_digest() -> str:
    """SHA-256 of the data the classifier is built from (signals and ownership files)."""
    h = hashlib.sha256()
    for path in (config.TICKET_SIGNALS_FILE, config.OWNERSHIP_FILE):
        if path.exists():
            h.update(path.read_bytes())
    return h.hexdigest()
