"""Character n-grams in the topic model (``kenolib/classify/chargrams.py``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from kenolib import config
from kenolib.classify import chargrams as C
from kenolib.classify.judge import compile_judge
from kenolib.classify.model import load_model
from kenolib.classify.signals import term_signals
from kenolib.classify.text import all_words, read_words, word_bytes
from kenolib.classify.training import training_text
from kenolib.policy import parse_policy

_K = 0xC2B2AE3D27D4EB4F


def _reference(word: str, bits: int = C.BUCKET_BITS) -> list[int]:
    """The n-gram buckets of one word, written the slow and obvious way."""
    padded = b" " + bytes(c | 32 for c in word.encode("utf-8")) + b" "
    out = []
    for n in C.NGRAMS:
        for k in range(len(padded) - n + 1):
            v = int.from_bytes(padded[k : k + n], "little")
            out.append((((v ^ n) * _K) & (2**64 - 1)) >> (64 - bits))
    return out


def test_buckets_of_ticket_words_match_the_slow_reference():
    # texts as classification_text makes them: each ends with a space
    text = pa.array(["Hello GAMADV-XTD3 error 0x80070005 ", "ab c ", "", "Überweisung é "])
    words = all_words(text)
    got = [
        bytes(words.data[s : s + n]).decode("utf-8", "replace")
        for s, n in zip(words.start, words.length, strict=True)
    ]
    assert len(got) == 9 and got[:5] == ["hello", "gamadv", "xtd3", "error", "0x80070005"]
    assert list(words.row) == [0, 0, 0, 0, 0, 1, 1, 3, 3]
    widx, bucket, per = C.gram_buckets(words)
    plain = ["hello", "gamadv", "xtd3", "error", "0x80070005", "ab", "c", "überweisung", "é"]
    for i, w in enumerate(plain):
        assert bucket[widx == i].tolist() == _reference(w), w
    # a word of L bytes padded with spaces has L + 3 - n n-grams of each length n (none if <= 0)
    assert per[6] == 1 and per[0] == 5 + 4 + 3
    # the same words given as strings give the same buckets
    widx2, bucket2, per2 = C.gram_buckets(word_bytes(plain))
    np.testing.assert_array_equal(bucket2, bucket)
    np.testing.assert_array_equal(per2, per)


def test_gram_matrix_counts_every_occurrence_and_scales_by_the_root_of_the_count():
    text = pa.array(["spam spam eggs ", "zz "])
    x = C.gram_matrix(all_words(text), 2).toarray()
    per_word = {"spam": 4 + 3 + 2, "eggs": 4 + 3 + 2, "zz": 2 + 1}
    n0 = 2 * per_word["spam"] + per_word["eggs"]
    assert x[0].sum() == pytest.approx(n0 / np.sqrt(n0))
    assert x[1].sum() == pytest.approx(per_word["zz"] / np.sqrt(per_word["zz"]))
    assert x[0].max() >= 2 / np.sqrt(n0)  # a repeated word counts twice


def test_read_words_returns_every_word_that_is_not_a_one_word_signal():
    sig = term_signals(["backup", "restore now"])
    text = pa.array(["Backup failed, restore now please ", "nothing known "])
    tok, rest = read_words(text, np.zeros(2, dtype=np.int64), sig)
    assert sorted(sig.entries[e] for e in tok.entry) == ["backup", "restore now"]
    words = [
        bytes(rest.data[s : s + n]).decode() for s, n in zip(rest.start, rest.length, strict=True)
    ]
    # "restore" and "now" are words of a phrase only: the n-grams read them as other words
    assert words == ["failed", "restore", "now", "please", "nothing", "known"]
    assert list(rest.row) == [0, 0, 0, 0, 1, 1]


def test_a_phrase_never_spans_two_tickets():
    """Tickets are read as one byte run: a phrase's words must come from one ticket, and every
    word keeps its own ticket's row (rows with no word at all included)."""
    sig = term_signals(["back up", "up", "restore now"])
    text = pa.array(["please put it back ", "", "up front, restore now ", "now "])
    tok, rest = read_words(text, np.zeros(4, dtype=np.int64), sig)
    found = sorted((int(r), sig.entries[e]) for r, e in zip(tok.row, tok.entry, strict=True))
    assert found == [(2, "restore now"), (2, "up")]
    words = [
        bytes(rest.data[s : s + n]).decode() for s, n in zip(rest.start, rest.length, strict=True)
    ]
    assert list(zip(rest.row.tolist(), words, strict=True)) == [
        (0, "please"),
        (0, "put"),
        (0, "it"),
        (0, "back"),
        (2, "front"),
        (2, "restore"),
        (2, "now"),
        (3, "now"),
    ]


def test_judging_time_logits_equal_the_training_features_times_the_weights():
    """The model folds its n-gram weights into its known words and splits only the others:
    the logits must be what the training design matrix gives."""
    model = load_model()
    if model is None or not model.char_coef.size:
        pytest.skip("the shipped model has no character n-grams")
    j = compile_judge(parse_policy().clauses)
    tickets = pd.read_csv(config.REAL_QUESTIONS_DIR / "real_dev.csv").head(60)
    text = training_text(tickets, j)
    row, u, rest = model._tokens(text)
    got = model.char_logits(row, u, rest, len(text))
    want = np.asarray(
        C.gram_matrix(all_words(text), len(text), model.char_bits) @ model.char_coef.T
    )
    np.testing.assert_allclose(got, want, atol=1e-9)
    assert np.abs(want).max() > 0.1  # the weights are not all zero


def test_unknown_tool_names_share_ngrams_with_known_ones():
    text = pa.array(["imapsync ", "imapsync2 ", "zzzz "])
    x = C.gram_matrix(all_words(text), 3).toarray() > 0
    shared = (x[0] & x[1]).sum()
    assert shared >= 15 and (x[0] & x[2]).sum() == 0
