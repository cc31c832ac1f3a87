"""The compiled classifier's lookup tables (built by :mod:`kenolib.classify.signals`).

A plain value object, kept apart so that the tokeniser (:mod:`kenolib.classify.text`) and the
builder both use it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Signals:
    """The compiled classifier: word hash table, phrase keys and per-signal classes."""

    classes: list[str]  # "topic:x", "product:x", "qual:topic:q", "colo", "clause:<id>"
    entries: list[str]  # signal surface text (for evidence)
    entry_class: np.ndarray  # int, per (entry, class) pair: class index
    entry_weight: np.ndarray  # float, per pair
    entry_ptr: np.ndarray  # CSR pointer: pairs of entry e are entry_ptr[e]:entry_ptr[e+1]
    word_keys: np.ndarray  # sorted uint64 keys of vocabulary words
    slot_vid: np.ndarray  # per _prefilter_hash slot: vocabulary id, -1 empty, -2 shared
    vocab_keys: np.ndarray  # key per vocabulary id
    word_ids: np.ndarray  # vocabulary id per sorted key
    word_entry: np.ndarray  # entry id of the single-word signal per vocabulary id, -1 if none
    phrase_keys: dict[int, tuple[np.ndarray, np.ndarray]]  # n -> (sorted n-gram codes, entry ids)
    phrase_starter: np.ndarray  # bool per vocabulary id: first word of some phrase
    phrase_prefixes: dict[int, np.ndarray]  # k -> sorted codes of k-word prefixes of longer phrases
    max_phrase: int
    phrase_gap: int
    bigram_entry: np.ndarray | None  # [V*V] entry id of a two-word phrase, -1 if none
    bigram_prefix: np.ndarray | None  # [V*V] True if the pair starts a longer phrase
    n_vocab: int
    subject_weight: float
    body_chars: int
    calibration: tuple[np.ndarray, ...]  # (edges, accuracy[, centres]): calibrated_confidence
    unmapped_confidence: float
    quote_cut: str
    reply_subject: str  # regex: a subject of a reply/forward ("Re:", "AW:", "Fwd:")
    reply_subject_weight: float  # such a subject names the old thread: it weighs this much
    symptom_topics: np.ndarray  # topic indices whose score yields to a named object
    symptom_factors: np.ndarray  # their scale factor when another topic has evidence
    symptom_min_other: float
    colocation_labels: set[str]
    topic_ids: list[str]
    review_below: float = 0.0  # confidence under which a verdict needs a human look
    decider_scales: dict[str, float] = field(default_factory=dict)  # judging step -> factor
    verdict_scales: dict[str, float] = field(default_factory=dict)  # verdict -> factor
    #: (upper edges of the learned model's agreement bins, one factor per bin, the judging
    #: steps scaled): see ``agreement_scales`` in ``calibration.yaml``; empty: none
    agreement: tuple[np.ndarray, np.ndarray, tuple[str, ...]] = field(
        default_factory=lambda: (np.zeros(0), np.ones(1), ())
    )
    #: The ``confidence_model`` entry of ``calibration.yaml`` as read with the rest of it (the
    #: judge validates and compiles it); ``None``: no entry.
    confidence_model_doc: Any = None
    spec: dict[str, Any] = field(default_factory=dict)  # the validated signals file
    ownership: dict[str, Any] = field(default_factory=dict)  # the validated ownership lexicon
