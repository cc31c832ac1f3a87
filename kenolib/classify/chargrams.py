"""Character n-grams of words, hashed: what the model reads in words it has no weight for.

A tool, a host name or an error code the model never saw in training ("gamadv", "xtd3",
"0x80070005") gets nothing from its terms or the word vectors; its character 3-, 4- and 5-grams
("gam", "xtd", "0x8") are shared with names it did see. Each word occurrence, padded with a space
either side, gives its n-grams; each n-gram is hashed to one of ``2**BUCKET_BITS`` buckets; a
ticket's feature is its bucket counts over all its word occurrences, divided by the square root
of its n-gram count, times the model's ``char_scale``.

At judging time the model never builds that matrix for words it knows: their n-gram weights are
folded once into a words x topics table (:func:`gram_table`), and only the other words of the
unsure tickets are split into n-grams (:func:`gram_buckets`), vectorised over their bytes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kenolib.classify.text import Words, row_matrix, word_bytes

#: n-gram lengths, and bits of the hashed n-gram buckets.
NGRAMS = (3, 4, 5)
BUCKET_BITS = 14
_K = np.uint64(0xC2B2AE3D27D4EB4F)
_SPACE = np.uint64(0x20)
_BYTE = np.uint64(0xFF)


def gram_buckets(
    words: Words, bits: int = BUCKET_BITS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(word index, bucket, n-grams per word) of every n-gram of every word, in word order.

    A word of ``L`` bytes padded with a space either side has ``L + 3 - n`` n-grams of length
    ``n`` (none when that is not positive). The bytes are those of ``words.data`` (folded as
    the tokeniser folds them); the pad bytes are spaces whatever byte stands there.
    """
    ns = np.array(NGRAMS, dtype=np.int64)
    per = np.maximum(words.length[:, None] + 3 - ns[None, :], 0)  # words x n-gram lengths
    counts = per.ravel()
    total = int(counts.sum())
    widx = np.repeat(np.repeat(np.arange(len(words.start)), len(ns)), counts)
    n = np.repeat(np.tile(ns, len(words.start)), counts)
    k = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)  # n-gram in word
    d = words.data
    view = np.ndarray(shape=(d.size - 7,), dtype="<u8", buffer=d.data, strides=(1,))
    v = view[words.start[widx] - 1 + k]
    v &= (np.uint64(1) << (8 * n).astype(np.uint64)) - np.uint64(1)
    first = k == 0
    v[first] = (v[first] & ~_BYTE) | _SPACE
    last = np.flatnonzero(k == np.repeat(counts - 1, counts))
    shift = (8 * (n[last] - 1)).astype(np.uint64)
    v[last] = (v[last] & ~(_BYTE << shift)) | (_SPACE << shift)
    with np.errstate(over="ignore"):
        bucket = ((v ^ n.astype(np.uint64)) * _K) >> np.uint64(64 - bits)
    return widx, bucket.astype(np.int64), per.sum(axis=1)


def gram_matrix(words: Words, n_rows: int, bits: int = BUCKET_BITS) -> Any:
    """Rows x buckets: each row's n-gram counts over its word occurrences (``words`` sorted by
    row), divided by the square root of the row's n-gram count."""
    widx, bucket, _ = gram_buckets(words, bits)
    row = words.row[widx]
    counts = np.bincount(row, minlength=n_rows)
    scale = 1.0 / np.sqrt(np.maximum(counts, 1).astype(np.float64))
    x = row_matrix(counts, bucket, scale[row], 1 << bits)
    x.sum_duplicates()
    return x


def gram_table(
    words: list[str], coef: np.ndarray, bits: int = BUCKET_BITS
) -> tuple[np.ndarray, np.ndarray]:
    """(words x topics n-gram weights, n-grams per word) of a word list: a word's row is the sum
    of ``coef``'s columns (topics x buckets) over its n-grams."""
    w = word_bytes(words)
    widx, bucket, per = gram_buckets(w, bits)
    table = np.zeros((len(words), coef.shape[0]))
    if len(widx):
        x = row_matrix(
            np.bincount(widx, minlength=len(words)), bucket, np.ones(len(widx)), 1 << bits
        )
        table = np.asarray(x @ coef.T)
    return table, per
