"""Compatibility names: the classifier lives in :mod:`kenolib.classify`, the aggregates in
:mod:`kenolib.aggregates`. Existing scripts importing ``kenolib.crossref`` keep working; new code
should import from those modules.
"""

from kenolib.aggregates import (
    low_confidence,
    monthly_out_of_scope,
    out_of_scope_hours,
    silent_topics,
    tickets_by_topic,
    verdict_by_product,
)
from kenolib.classify import (
    BATCH_ROWS,
    CALIBRATION_FILE,
    Evaluation,
    build_signals,
    calibrate_confidence,
    crossref,
    evaluate,
    fit_calibration,
    format_evaluation,
    load_calibration,
    load_signals_file,
    write_calibration,
)
from kenolib.taxonomy import load_taxonomy

__all__ = [
    "BATCH_ROWS",
    "CALIBRATION_FILE",
    "Evaluation",
    "build_signals",
    "calibrate_confidence",
    "crossref",
    "evaluate",
    "fit_calibration",
    "format_evaluation",
    "load_calibration",
    "load_signals_file",
    "load_taxonomy",
    "low_confidence",
    "monthly_out_of_scope",
    "out_of_scope_hours",
    "silent_topics",
    "tickets_by_topic",
    "verdict_by_product",
    "write_calibration",
]
