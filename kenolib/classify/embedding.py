"""Static word vectors for the learned component: what a ticket's ordinary words mean.

The topic model learns weights for the words and phrases of its training tickets; a fresh
ticket that says "retrieve" where the training tickets said "restore", or names a tool by words
the model never saw, gets nothing from them. Static word vectors close part of that gap: each
ticket's *mean word vector* is a feature beside the terms, so words near in meaning weigh alike.

The vectors come from WordLlama (its ``l2_supercat`` token embeddings ship inside its wheel; no
download), one vector per word of a fixed vocabulary: the 30,000 most frequent English words of
``wordfreq`` that the classifier's tokeniser reads as one word. They are computed once by
:func:`build_word_vectors` (``kenolib train --word-vectors``; WordLlama is needed only there) and
stored as int8 in ``kenolib/data/word_vectors.npz``, which judging and training read.

At judging time the model needs no vector arithmetic per ticket: its embedding weights ``W`` (topics
x dimensions) are folded into the vocabulary once, ``U = V W^T`` (words x topics), and a ticket's
embedding logits are the mean of ``U`` over its distinct vocabulary words: one sparse product.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa

from kenolib import config
from kenolib.classify.signals import Signals, term_signals
from kenolib.classify.text import distinct, row_matrix, tokenise, words_of
from kenolib.errors import KenolibError
from kenolib.files import atomic_write

WORD_VECTORS_FILE = config.PACKAGE_DATA / "word_vectors.npz"
#: How many of wordfreq's most frequent English words make the vocabulary (before filtering).
VOCABULARY_SIZE = 30_000
#: WordLlama configuration and dimensions used.
WORDLLAMA_CONFIG = "l2_supercat"
DIMENSIONS = 256
_QUANT = 127.0  # int8 steps per unit: the vectors are L2-normalised, so |v_i| <= 1


def vocabulary(size: int = VOCABULARY_SIZE) -> list[str]:
    """wordfreq's ``size`` most frequent English words that the tokeniser reads as one word."""
    from wordfreq import top_n_list

    return [w for w in top_n_list("en", size) if words_of(w) == [w]]


@dataclass
class WordVectors:
    """A vocabulary and its unit vectors (words x dimensions)."""

    words: list[str]
    vectors: np.ndarray  # float32 [words, dims]
    sha256: str
    meta: dict[str, str]
    _sig: Signals | None = field(default=None, repr=False)

    @property
    def signals(self) -> Signals:
        """The vocabulary compiled for the tokeniser (built once, about 0.4 s)."""
        if self._sig is None:
            self._sig = term_signals(self.words)
        return self._sig

    def _rows(self, text: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row, word) of each text's distinct vocabulary words, sorted by row; words per row."""
        sig = self.signals
        tok = tokenise(text, np.zeros(len(text), dtype=np.int64), sig)
        word = sig.entry_class[sig.entry_ptr[tok.entry]]
        key = distinct(tok.row * len(self.words) + word)
        row = key // len(self.words)
        return row, key % len(self.words), np.bincount(row, minlength=len(text))

    def mean_rows(self, text: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row, word, weight) of a sparse rows x words matrix: each text's distinct vocabulary
        words, weighted ``1 / count`` so a product with the vectors is the mean vector. Texts as
        ``classification_text`` makes them (each ends with a space, as the tokeniser needs)."""
        row, word, counts = self._rows(text)
        return row, word, 1.0 / counts[row]

    def mean_product(self, text: pa.Array, matrix: np.ndarray) -> np.ndarray:
        """Rows x columns: the mean of ``matrix``'s rows (one per vocabulary word) over each
        text's distinct vocabulary words; zeros for a text with none."""
        row, word, _ = self._rows(text)
        return self.mean_of(row, word, len(text), matrix)

    def mean_of(self, row: np.ndarray, word: np.ndarray, n: int, matrix: np.ndarray) -> np.ndarray:
        """:meth:`mean_product` of ``n`` texts whose distinct vocabulary words, sorted by row,
        are (``row``, ``word``)."""
        counts = np.bincount(row, minlength=n)
        x = row_matrix(counts, word, 1.0 / counts[row], len(self.words))
        return np.asarray(x @ matrix)


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return ""


@lru_cache(maxsize=4)
def _load(path: str, mtime_ns: int) -> WordVectors:
    p = Path(path)
    try:
        data = p.read_bytes()  # read once: hashed, then parsed
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            words = [str(w) for w in z["words"]]
            vectors = z["vectors"].astype(np.float32) / np.float32(z["scale"])
            meta = {str(k): str(v) for k, v in zip(z["meta_keys"], z["meta_values"], strict=True)}
    except (OSError, KeyError, ValueError) as exc:
        raise KenolibError(
            f"{p}: cannot read the word vectors ({exc}); run `kenolib train --word-vectors`"
        ) from None
    if vectors.shape != (len(words), int(meta.get("dimensions", vectors.shape[1]))):
        raise KenolibError(f"{p}: {vectors.shape} vectors for {len(words)} words; rebuild them")
    return WordVectors(words, vectors, hashlib.sha256(data).hexdigest(), meta)


def load_word_vectors(path: str | os.PathLike[str] | None = None) -> WordVectors:
    """The stored word vectors (cached per file version)."""
    p = Path(path) if path else WORD_VECTORS_FILE
    if not p.exists():
        raise KenolibError(f"{p}: no word vectors; run `kenolib train --word-vectors`")
    return _load(str(p), p.stat().st_mtime_ns)


def embed_words(words: list[str]) -> tuple[np.ndarray, dict[str, str]]:
    """Unit WordLlama vectors of ``words`` (needs the ``wordllama`` package; never downloads)."""
    try:
        import wordllama
        from wordllama import WordLlama
    except ImportError:
        raise KenolibError(
            "building word vectors needs the wordllama package: pip install -e '.[dev]'"
        ) from None
    # Its weights and tokenizer ship inside the wheel: point the loader at the package so it
    # never looks elsewhere, and refuse any download.
    here = Path(wordllama.__file__).resolve().parent
    wl = WordLlama.load(
        config=WORDLLAMA_CONFIG, trunc_dim=DIMENSIONS, cache_dir=here, disable_download=True
    )
    vectors = np.asarray(wl.embed(words, norm=True), dtype=np.float32)
    return vectors, {"wordllama": _version("wordllama"), "config": WORDLLAMA_CONFIG}


def build_word_vectors(path: str | os.PathLike[str] | None = None) -> Path:
    """Compute the vocabulary's vectors with WordLlama and write them (int8, atomically)."""
    out = Path(path) if path else WORD_VECTORS_FILE
    words = vocabulary()
    vectors, source = embed_words(words)
    meta = {
        **source,
        "dimensions": str(DIMENSIONS),
        "vocabulary": f"wordfreq {_version('wordfreq')}, top {VOCABULARY_SIZE} English words",
        "words": str(len(words)),
    }
    quant = np.clip(np.rint(vectors * _QUANT), -127, 127).astype(np.int8)

    def writer(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(
                fh,
                words=np.array(words, dtype=str),
                vectors=quant,
                scale=np.float32(_QUANT),
                meta_keys=np.array(list(meta), dtype=str),
                meta_values=np.array(list(meta.values()), dtype=str),
            )

    written = atomic_write(out, writer)
    _load.cache_clear()
    return written
