"""The learned component: a multinomial logistic regression from words to topics.

Trained (``kenolib train``) with scikit-learn on every labelled set the project owns except the
calibration set and the held-out sets; stored as plain arrays (``verdict_model.npz``: terms,
topics, coefficients; no pickle). At judging time no scikit-learn runs: the model's terms are
compiled into the same vectorised tokeniser as the signals, so scoring a batch is a lookup and
one sparse product (scipy's CSR), and it runs only on the tickets the rules are unsure of.

Features: presence of each term (a word or a two-word phrase) in the subject and body start,
scaled by ``1 / sqrt(terms in the ticket)``, the ticket's product, and what the rules found: each
topic's signal score and the ownership lexicon's votes, each scaled by ``1 / (row maximum + 1)``
(:func:`rule_features`). The model so learns when to trust a rule's word and when the other words
of the ticket overrule it (stacking), instead of relearning the rules from too few tickets. And
the ticket's mean static word vector (:mod:`kenolib.classify.embedding`) times ``emb_scale``:
words the model never saw weigh like the words near them in meaning. And the hashed character
n-grams of its words (:mod:`kenolib.classify.chargrams`) times ``char_scale``: a tool or error
code the model never saw shares the weights of names that look alike.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from kenolib import config
from kenolib.classify.chargrams import BUCKET_BITS, gram_buckets, gram_table
from kenolib.classify.embedding import WordVectors, load_word_vectors
from kenolib.classify.signal_model import SignalModel, softmax, strongest
from kenolib.classify.signals import Signals, term_signals
from kenolib.classify.text import STOPWORDS, Words, distinct, read_words, row_matrix, words_of
from kenolib.errors import KenolibError
from kenolib.files import atomic_write


@dataclass
class TopicModel:
    """A fitted model: terms, topic classes, products and the weights between them."""

    terms: list[str]
    topics: list[str]
    products: list[str]
    coef: np.ndarray  # [topics, terms]
    product_coef: np.ndarray  # [topics, products]
    intercept: np.ndarray  # [topics]
    meta: dict[str, str]
    rule_topics: list[str] = field(default_factory=list)  # the rule score columns, by topic
    rule_coef: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # [topics, rules+3]
    emb_coef: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # [topics, dims]
    emb_scale: float = 0.0  # the mean word vector's scale in the features
    char_coef: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # [topics, buckets]
    char_scale: float = 0.0  # the character n-grams' scale in the features
    #: the cheap part for the next band of rule margins (:mod:`kenolib.classify.signal_model`)
    signal: SignalModel | None = None
    # caches, built on first use; never copied by dataclasses.replace (a replaced weight would
    # otherwise keep the old folded table)
    _coef_t: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)
    _wv: WordVectors | None = field(default=None, init=False, repr=False, compare=False)
    _emb_u: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)
    _reading: tuple[Signals, np.ndarray, np.ndarray] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    _chars: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    _both: list[str] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def word_vectors(self) -> WordVectors:
        """The word vectors the model was fitted with (loaded once)."""
        if self._wv is None:
            self._wv = load_word_vectors()
        return self._wv

    @property
    def emb_u(self) -> np.ndarray:
        """The embedding weights folded into the vocabulary: words x topics (built once)."""
        if self._emb_u is None:
            self._emb_u = np.ascontiguousarray(self.word_vectors.vectors @ self.emb_coef.T)
        return self._emb_u

    @property
    def coef_t(self) -> np.ndarray:
        """The term weights as (terms x topics), contiguous (built once)."""
        if self._coef_t is None:
            self._coef_t = np.ascontiguousarray(self.coef.T)
        return self._coef_t

    @property
    def reading(self) -> tuple[Signals, np.ndarray, np.ndarray]:
        """One tokeniser table for the terms and the word vectors' vocabulary together, with
        each of its entries' term index and vocabulary index (-1: not one), so a text is read
        once for both (built once, about 0.5 s)."""
        if self._reading is None:
            both = self._reading_words()
            words = self.word_vectors.words if self.emb_coef.size else []
            tpos = {t: i for i, t in enumerate(self.terms)}
            wpos = {w: i for i, w in enumerate(words)}
            self._reading = (
                term_signals(both),
                np.array([tpos.get(x, -1) for x in both], dtype=np.int64),
                np.array([wpos.get(x, -1) for x in both], dtype=np.int64),
            )
        return self._reading

    def _reading_words(self) -> list[str]:
        """The terms and the vocabulary, sorted: the reading table's entries (built once)."""
        if self._both is None:
            words = self.word_vectors.words if self.emb_coef.size else []
            self._both = sorted(set(self.terms) | set(words))
        return self._both

    @property
    def chars(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The character n-gram weights folded into the reading table's entries: (entries x
        topics, n-grams per entry (0 for a phrase), buckets x topics) (built once)."""
        if self._chars is None:
            both = self._reading_words()
            single = np.array([" " not in x for x in both], dtype=bool)
            table, per = np.zeros((len(both), len(self.topics))), np.zeros(len(both), np.int64)
            words = [x for x, one in zip(both, single, strict=True) if one]
            table[single], per[single] = gram_table(words, self.char_coef, self.char_bits)
            self._chars = (table, per, np.ascontiguousarray(self.char_coef.T))
        return self._chars

    @property
    def char_bits(self) -> int:
        """Bits of the n-gram buckets the model was fitted with."""
        return int(self.char_coef.shape[1]).bit_length() - 1 if self.char_coef.size else BUCKET_BITS

    def prepare(self) -> None:
        """Compile what scoring needs (the tokeniser table, the folded embedding weights) now
        rather than at the first unsure ticket."""
        _ = self.reading
        if self.emb_coef.size:
            _ = self.emb_u
        if self.char_coef.size:
            _ = self.chars

    def _tokens(self, text: pa.Array) -> tuple[np.ndarray, np.ndarray, Words]:
        """(row, reading entry) of every occurrence of a reading entry, and the other words."""
        sig = self.reading[0]
        tok, rest = read_words(text, np.zeros(len(text), dtype=np.int64), sig)
        return tok.row, sig.entry_class[sig.entry_ptr[tok.entry]], rest

    def _distinct(
        self, row: np.ndarray, u: np.ndarray
    ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        _, term_of, word_of = self.reading
        width = max(len(term_of), 1)
        key = distinct(row * width + u)
        row, u = key // width, key % width
        term, word = term_of[u], word_of[u]
        t, w = term >= 0, word >= 0
        return (row[t], term[t]), (row[w], word[w])

    def read(
        self, text: pa.Array
    ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """((row, term index), (row, vocabulary index)): every distinct term and vocabulary word
        present in each text, sorted by row, from one pass of the tokeniser."""
        return self._distinct(*self._tokens(text)[:2])

    def char_logits(self, row: np.ndarray, u: np.ndarray, rest: Words, n: int) -> np.ndarray:
        """Rows x topics: the character n-gram logits of ``n`` texts from their reading entries'
        occurrences (``row``, ``u``; the one-word entries first, in text order) and their other
        words (``rest``), as :func:`kenolib.classify.chargrams.gram_matrix` times the n-gram
        weights gives them."""
        table, per, coef_t = self.chars
        known = per[u] > 0  # one-word entries: their n-gram weights are folded in ``table``
        kr, ku = row[known], u[known]
        counts = np.bincount(kr, minlength=n)
        logits = np.asarray(row_matrix(counts, ku, np.ones(len(ku)), len(per)) @ table)
        widx, bucket, _ = gram_buckets(rest, self.char_bits)
        rrow = rest.row[widx]
        rcounts = np.bincount(rrow, minlength=n)
        x = row_matrix(rcounts, bucket, np.ones(len(bucket)), coef_t.shape[0])
        logits += np.asarray(x @ coef_t)
        grams = np.bincount(kr, weights=per[ku], minlength=n) + rcounts
        return logits / np.sqrt(np.maximum(grams, 1.0))[:, None]

    def features(self, text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """(row, term index) of every distinct term present in each text."""
        return self.read(text)[0]

    def proba(
        self, text: pa.Array, products: list[str] | np.ndarray, rules: np.ndarray | None = None
    ) -> np.ndarray:
        """Rows x topics probabilities; ``rules`` are :func:`rule_features` in ``rule_topics``
        order (ignored by a model fitted without them)."""
        return self.scores(text, products, rules)[0]

    def scores(
        self, text: pa.Array, products: list[str] | np.ndarray, rules: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """(rows x topics probabilities, number of the model's terms present in each row, and
        the (row, term index) pairs present, sorted by row, for :meth:`top_terms`)."""
        n = len(text)
        trow, u, rest = self._tokens(text)
        (row, term), (wrow, word) = self._distinct(trow, u)
        counts = np.bincount(row, minlength=n)
        scale = 1.0 / np.sqrt(np.maximum(counts, 1).astype(np.float64))
        K = len(self.topics)
        logits = np.zeros((n, K)) + self.intercept
        if len(row):
            # a sparse (rows x terms) matrix times the (terms x topics) weights: scipy's CSR
            # product took 0.012 s for a 50,000-ticket batch, one bincount per topic 0.16 s
            x = row_matrix(counts, term, scale[row], len(self.terms))
            logits += np.asarray(x @ self.coef_t)
        codes, uniq = pd.factorize(pd.Series(products, dtype=object).astype(str), sort=False)
        pidx = {p: i for i, p in enumerate(self.products)}
        pi = np.array([pidx.get(u, -1) for u in uniq] or [-1], dtype=np.int64)[codes]
        known = pi >= 0
        logits[known] += self.product_coef[:, pi[known]].T
        if rules is not None and self.rule_coef.size:
            logits += rules @ self.rule_coef.T
        if self.emb_coef.size:
            logits += self.emb_scale * self.word_vectors.mean_of(wrow, word, n, self.emb_u)
        if self.char_coef.size:
            logits += self.char_scale * self.char_logits(trow, u, rest, n)
        return softmax(logits), counts, (row, term)

    def top_terms(
        self, row: np.ndarray, term: np.ndarray, topic_cols: np.ndarray, k: int = 3
    ) -> list[str]:
        """Per row of ``topic_cols``, the ``k`` present terms (``row``, ``term``: as
        :meth:`scores` returns them) that weigh most for the model topic column given."""
        return strongest(self.coef, self.terms, row, term, topic_cols, k)


def rule_features(scores: np.ndarray, owners: np.ndarray) -> np.ndarray:
    """Rows x (topics + owners): the rules' topic scores and ownership votes, each scaled by its
    row maximum + 1 (a ticket with one strong signal and one with many weigh alike)."""
    t = scores.shape[1]
    out = np.empty((len(scores), t + owners.shape[1]), dtype=np.float64)
    np.divide(scores, scores.max(axis=1, keepdims=True, initial=0.0) + 1.0, out=out[:, :t])
    np.divide(owners, owners.max(axis=1, keepdims=True, initial=0.0) + 1.0, out=out[:, t:])
    return out


def model_rule_features(
    model: TopicModel, topics: list[str], scores: np.ndarray, owners: np.ndarray
) -> np.ndarray:
    """The rules' scores in the model's ``rule_topics`` order (a topic the judge does not know
    scores 0), as :func:`rule_features`."""
    if list(model.rule_topics) == list(topics):
        return rule_features(scores, owners)
    pos = {t: i for i, t in enumerate(topics)}
    cols = np.array([pos.get(t, -1) for t in model.rule_topics], dtype=np.int64)
    aligned = np.where(cols >= 0, scores[:, np.maximum(cols, 0)], 0.0)
    return rule_features(aligned, owners)


def load_model(path: str | os.PathLike[str] | None = None) -> TopicModel | None:
    """The stored model, or None when the package ships none (rules then decide alone)."""
    p = Path(path) if path else config.MODEL_FILE
    if not p.exists():
        return None
    try:
        with np.load(p, allow_pickle=False) as z:
            model = TopicModel(
                terms=[str(t) for t in z["terms"]],
                topics=[str(t) for t in z["topics"]],
                products=[str(t) for t in z["products"]],
                coef=z["coef"].astype(np.float64),
                product_coef=z["product_coef"].astype(np.float64),
                intercept=z["intercept"].astype(np.float64),
                meta={
                    str(k): str(v) for k, v in zip(z["meta_keys"], z["meta_values"], strict=True)
                },
                rule_topics=[str(t) for t in z["rule_topics"]] if "rule_topics" in z else [],
                rule_coef=(
                    z["rule_coef"].astype(np.float64) if "rule_coef" in z else np.zeros((0, 0))
                ),
                emb_coef=(
                    z["emb_coef"].astype(np.float64) if "emb_coef" in z else np.zeros((0, 0))
                ),
                emb_scale=float(z["emb_scale"]) if "emb_scale" in z else 0.0,
                char_coef=(
                    z["char_coef"].astype(np.float64) if "char_coef" in z else np.zeros((0, 0))
                ),
                char_scale=float(z["char_scale"]) if "char_scale" in z else 0.0,
                signal=_load_signal_model(z),
            )
    except (OSError, KeyError, ValueError) as exc:
        raise KenolibError(f"{p}: cannot read the model ({exc}); run `kenolib train`") from None
    if model.emb_coef.size:
        wv = load_word_vectors()
        if model.meta.get("word_vectors_sha256") != wv.sha256:
            raise KenolibError(
                f"{p}: fitted with other word vectors than {config.PACKAGE_DATA / 'word_vectors.npz'};"
                " run `kenolib train`"
            )
        if wv.vectors.shape[1] != model.emb_coef.shape[1]:
            raise KenolibError(f"{p}: word vector dimensions differ from the model's; retrain")
        model._wv = wv
    return model


def _load_signal_model(z: Any) -> SignalModel | None:
    if "sig_coef" not in z:
        return None
    return SignalModel(
        entries=[str(e) for e in z["sig_entries"]],
        coef=z["sig_coef"].astype(np.float64),
        product_coef=z["sig_product_coef"].astype(np.float64),
        rule_coef=z["sig_rule_coef"].astype(np.float64),
        intercept=z["sig_intercept"].astype(np.float64),
    )


def _signal_arrays(model: TopicModel) -> dict[str, np.ndarray]:
    s = model.signal
    if s is None:
        return {}
    return {
        "sig_entries": np.array(s.entries, dtype=str),
        "sig_coef": s.coef.astype(np.float32),
        "sig_product_coef": s.product_coef.astype(np.float32),
        "sig_rule_coef": s.rule_coef.astype(np.float32),
        "sig_intercept": s.intercept.astype(np.float32),
    }


def save_model(model: TopicModel, path: str | os.PathLike[str] | None = None) -> Path:
    """Write the model's arrays (atomically)."""
    out = Path(path) if path else config.MODEL_FILE

    arrays: dict[str, Any] = {
        "terms": np.array(model.terms, dtype=str),
        "topics": np.array(model.topics, dtype=str),
        "products": np.array(model.products, dtype=str),
        "coef": model.coef.astype(np.float32),
        "product_coef": model.product_coef.astype(np.float32),
        "intercept": model.intercept.astype(np.float32),
        "rule_topics": np.array(model.rule_topics, dtype=str),
        "rule_coef": model.rule_coef.astype(np.float32),
        "emb_coef": model.emb_coef.astype(np.float32),
        "emb_scale": np.float32(model.emb_scale),
        "char_coef": model.char_coef.astype(np.float32),
        "char_scale": np.float32(model.char_scale),
        "meta_keys": np.array(list(model.meta), dtype=str),
        "meta_values": np.array(list(model.meta.values()), dtype=str),
        **_signal_arrays(model),
    }

    def writer(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)

    return atomic_write(out, writer)


#: Stopwords the model's terms keep: who owns the thing ("your server", "our app") and what is
#: asked ("can you", "how", "not working") tell verdicts apart. Five-fold on the calibration
#: pool's 1,427 real questions, verdicts 82.3 -> 82.5 %, other real questions 87.7 -> 87.9 %.
TERM_WORDS = frozenset("we our your you us can how what when not no".split())
TERM_STOPWORDS = STOPWORDS - TERM_WORDS


def choose_terms(texts: list[str], min_df: int = 2, max_terms: int = 4000) -> list[str]:
    """Words and two-word phrases present in at least ``min_df`` texts (``TERM_STOPWORDS``
    dropped)."""
    df: Counter[str] = Counter()
    for t in texts:
        words = [
            w for w in words_of(t) if w not in TERM_STOPWORDS and not w.isdigit() and len(w) > 1
        ]
        grams = set(words) | {f"{a} {b}" for a, b in zip(words, words[1:], strict=False)}
        df.update(grams)
    ranked = sorted((g for g, c in df.items() if c >= min_df), key=lambda g: (-df[g], g))
    return sorted(ranked[:max_terms])
