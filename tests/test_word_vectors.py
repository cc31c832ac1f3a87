"""The static word vectors the topic model reads (``kenolib/classify/embedding.py``)."""

from __future__ import annotations

import dataclasses
import importlib.util
from importlib.metadata import version

import numpy as np
import pyarrow as pa
import pytest

from kenolib.classify import embedding as E
from kenolib.classify import model as M
from kenolib.errors import KenolibError


@pytest.fixture(scope="module")
def wv() -> E.WordVectors:
    return E.load_word_vectors()


def test_stored_vectors_cover_the_vocabulary_as_unit_vectors(wv):
    assert len(wv.words) == len(set(wv.words)) > 25_000
    assert wv.vectors.shape == (len(wv.words), E.DIMENSIONS)
    norms = np.linalg.norm(wv.vectors, axis=1)
    assert np.all(np.abs(norms - 1.0) < 0.03)  # int8 steps of 1/127 per dimension
    assert wv.meta["config"] == E.WORDLLAMA_CONFIG and wv.meta["words"] == str(len(wv.words))
    if f"wordfreq {version('wordfreq')}," in wv.meta["vocabulary"]:
        assert wv.words == E.vocabulary()


@pytest.mark.skipif(importlib.util.find_spec("wordllama") is None, reason="needs wordllama")
def test_stored_vectors_rebuild_exactly_and_building_never_downloads(wv, tmp_path, monkeypatch):
    """``kenolib train --word-vectors`` gives the shipped file's words and int8 vectors again,
    with every network call refused."""
    import requests

    def no_network(*args, **kwargs):
        raise AssertionError("word vectors must not download anything")

    monkeypatch.setattr(requests, "get", no_network)
    monkeypatch.setattr(requests.Session, "request", no_network)
    rebuilt = E.load_word_vectors(E.build_word_vectors(tmp_path / "word_vectors.npz"))
    assert rebuilt.words == wv.words
    np.testing.assert_array_equal(rebuilt.vectors, wv.vectors)
    assert rebuilt.meta == wv.meta


def test_mean_rows_weigh_each_distinct_vocabulary_word_once(wv):
    # texts as classification_text makes them: each ends with a space (the tokeniser reads the
    # batch's bytes as one run)
    text = pa.array(
        [
            "Restore the backup, restore it now ",
            "zzqx vvbn ",  # no vocabulary word
            "",
        ],
        pa.string(),
    )
    row, word, weight = wv.mean_rows(text)
    first = sorted(wv.words[w] for w in word[row == 0])
    assert first == sorted({"restore", "the", "backup", "it", "now"})
    np.testing.assert_allclose(weight[row == 0], 1 / len(first))
    assert not (row >= 1).any()
    mean = wv.mean_product(text, wv.vectors)
    expect = wv.vectors[[wv.words.index(w) for w in first]].mean(axis=0)
    np.testing.assert_allclose(mean[0], expect, atol=1e-6)
    assert not mean[1:].any()


def test_the_model_reads_words_it_never_learnt_through_their_vectors(wv):
    model = M.load_model()
    assert model is not None and model.emb_coef.size
    # words outside the model's terms but in the vocabulary move the probabilities
    candidates = ("salvage", "misplaced", "unintentionally", "recuperate", "vanished", "retrieve")
    words = [w for w in candidates if w in wv.words and w not in model.terms]
    assert len(words) >= 3
    text = pa.array([" ".join(words) + " "], pa.string())
    with_vectors = model.proba(text, ["g_suite"])
    without = dataclasses.replace(model, emb_coef=np.zeros((0, 0)), emb_scale=0.0).proba(
        text, ["g_suite"]
    )
    assert np.abs(with_vectors - without).max() > 0.01
    logits = model.emb_scale * wv.mean_product(text, wv.vectors) @ model.emb_coef.T
    base = np.log(without)
    mixed = base + logits
    mixed = np.exp(mixed - mixed.max()) / np.exp(mixed - mixed.max()).sum()
    np.testing.assert_allclose(with_vectors, mixed, atol=1e-6)


def test_a_model_fitted_with_other_vectors_is_refused(tmp_path):
    model = M.load_model()
    assert model is not None
    other = dataclasses.replace(model, meta={**model.meta, "word_vectors_sha256": "0" * 64})
    path = M.save_model(other, tmp_path / "model.npz")
    with pytest.raises(KenolibError, match="other word vectors"):
        M.load_model(path)


def test_missing_or_broken_vectors_say_what_to_run(tmp_path):
    with pytest.raises(KenolibError, match="kenolib train --word-vectors"):
        E.load_word_vectors(tmp_path / "none.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(KenolibError, match="kenolib train --word-vectors"):
        E.load_word_vectors(bad)
