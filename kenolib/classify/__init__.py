"""The ticket classifier: every ticket judged against the policy, with the rule that decided.

Layers, each importing only those above it: ``spec`` (the signals file's schema) -> ``text``
(text preparation, the vectorised tokeniser) -> ``calibration`` -> ``signals`` (compiled signal
tables) -> ``verdicts`` (rule 4 as a table) -> ``rules`` (one function per judging rule) ->
``model`` (the learned component) -> ``parallel`` (a process pool over record batches) ->
``judge`` (``judge_batch`` and ``crossref``) ->
``evaluation`` (accuracy on labelled sets, the confidence fit) -> ``training``.
"""

from kenolib.classify.calibration import (
    CALIBRATION_FILE,
    calibrated_confidence,
    load_calibration,
    review_threshold,
    write_calibration,
)
from kenolib.classify.evaluation import (
    Evaluation,
    calibrate_confidence,
    evaluate,
    fit_calibration,
    format_evaluation,
)
from kenolib.classify.judge import (
    BATCH_ROWS,
    Judge,
    compile_judge,
    crossref,
    crossref_batches,
    judge_batch,
    judge_pool,
)
from kenolib.classify.rules import DECIDERS
from kenolib.classify.signals import Signals, build_signals
from kenolib.classify.spec import load_ownership_file, load_signals_file
from kenolib.classify.text import quote_cut_pattern
from kenolib.classify.verdicts import VerdictTable, verdict_table

__all__ = [
    "BATCH_ROWS",
    "CALIBRATION_FILE",
    "DECIDERS",
    "Evaluation",
    "Judge",
    "Signals",
    "VerdictTable",
    "build_signals",
    "calibrate_confidence",
    "calibrated_confidence",
    "compile_judge",
    "crossref",
    "crossref_batches",
    "evaluate",
    "fit_calibration",
    "format_evaluation",
    "judge_batch",
    "judge_pool",
    "load_calibration",
    "load_ownership_file",
    "load_signals_file",
    "quote_cut_pattern",
    "review_threshold",
    "verdict_table",
    "write_calibration",
]
