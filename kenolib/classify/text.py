"""Text preparation and the vectorised tokeniser: quoted replies cut, words hashed, signals found.

Bytes are case-folded eight at a time (SWAR), words are maximal runs of letters, digits and
non-ASCII bytes, and each word's first and last eight bytes plus its length make a 64-bit key
looked up in the sorted keys of the signal words. No Python runs per ticket.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kenolib.errors import KenolibError
from kenolib.taxonomy import normalise

if TYPE_CHECKING:
    import pandas as pd

    from kenolib.classify.compiled import Signals

#: Cut quoted replies, forwarded messages and signatures: everything from the first marker on.
#: The markers live in ``ticket_signals.yaml`` (``quote_markers``, ``signature_lines``); this
#: pattern is only the fallback for a signals file without them.
_QUOTE_CUT = (
    r"(?ism)^[ \t]*(?:>|on [^\n]{0,160}wrote:|-{2,}|_{5,}|from: [^\n]*\n(?:sent|to|date):|"
    r"sent from my |(?:kind |best |warm )?regards\b|thanks?(?: you)?,? *$|cheers,? *$).*"
)


def quote_cut_pattern(data: dict[str, Any]) -> str:
    """The regex that cuts quoted replies and signatures, built from the signals file.

    ``quote_markers`` are regular expressions that start a quoted or forwarded part at the
    start of a line; ``signature_lines`` are plain words that open a signature or closing line
    ("sent from my", "enviado desde mi", "mit freundlichen grüßen"); a closing word alone on its
    line ("thanks", "merci") comes from ``closing_words``.
    """
    markers = [str(m) for m in data.get("quote_markers") or []]
    sigs = [re.escape(str(s_)).replace("\\ ", " +") for s_ in data.get("signature_lines") or []]
    closing = [re.escape(str(s_)) for s_ in data.get("closing_words") or []]
    if not (markers or sigs or closing):
        return _QUOTE_CUT
    alts = markers + [rf"{s_}\b" for s_ in sigs]
    if closing:
        alts.append(rf"(?:{'|'.join(closing)})[ ,.!]*$")
    pattern = non_capturing(rf"(?ism)^[ \t]*(?:{'|'.join(alts)}).*")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise KenolibError(f"ticket_signals.yaml: quote_markers: bad pattern ({exc})") from None
    return pattern


def non_capturing(pattern: str) -> str:
    """``pattern`` with every capturing group made non-capturing: the same matches, and RE2
    replaces without tracking groups (the quote cut of 100,000 tickets 121 -> 86 ms)."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = c != "]" or pattern[i - 1] == "["  # "[]...]": a literal first "]"
        elif c == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "^":
                out.append("[^")
                i += 2
                if pattern[i : i + 1] == "]":  # "[^]...]": a literal first "]"
                    out.append("]")
                    i += 1
                continue
        elif c == "(" and pattern[i + 1 : i + 2] != "?":
            out.append("(?:")
            i += 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


STOPWORDS = frozenset(
    "a an the and or of to in on for with by from at as is are be we our your you it its this that "
    "all any not no will can may must should their his her them they us which who what when how "
    "such including include includes provided customer client kenotronix".split()
)
_WORD = re.compile(r"[a-z0-9\x80-\uffff]+")
_MASKS = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [(1 << 64) - 1], dtype=np.uint64)
_K1 = np.uint64(0x9E3779B97F4A7C15)
_K2 = np.uint64(0xC2B2AE3D27D4EB4F)
#: The prefilter bitmap has 2**18 slots (2 MB) for any vocabulary: the rules' 2,700 words in 2**14
#: slots let a sixth of ticket words through as false or shared hits (2**18: reading 100,000
#: tickets 286 -> 249 ms), and a 30,000-word vocabulary in 16 k slots shared nearly every slot.
PREFILTER_BITS = 18
_BYTES = np.uint64(0x0101010101010101)
_HIGH = np.uint64(0x8080808080808080)
_LOW7 = np.uint64(0x7F7F7F7F7F7F7F7F)
_FOLD = np.uint64(0x2020202020202020)


def words_of(text: str) -> list[str]:
    """Split text into classifier words exactly as tickets are split (lower-case, alnum runs,
    :func:`separate_scripts`)."""
    if not text.isascii():
        text = separate_scripts(pa.array([text])).to_pylist()[0]
    return _WORD.findall(normalise(text).replace("'", " "))


#: A character outside ASCII that is no letter, digit or mark: typographic quotes and dashes,
#: no-break spaces, ellipses, bullets, emoji, CJK punctuation. The tokeniser counts every byte
#: outside ASCII as a letter, so “Plesk” would be one word with its quotes.
_NON_WORD = r"[^\x00-\x7F\p{L}\p{N}\p{M}]"
#: A run of CJK letters, which are written without spaces: "SSHで入れない" would be one word.
_CJK_RUN = r"([\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}]+)"


def separate_scripts(text: pa.Array) -> pa.Array:
    """``text`` with every non-ASCII character that is no letter, digit or mark made a space
    and every run of CJK letters set apart by spaces, so that the ASCII words around them are
    words of their own. Only rows holding a byte outside ASCII are rewritten."""
    other = pc.invert(pc.string_is_ascii(text))
    if not pc.any(other).as_py():
        return text
    part = pc.replace_substring_regex(text.filter(other), _NON_WORD, " ")
    part = pc.replace_substring_regex(part, _CJK_RUN, r" \1 ")
    return pc.replace_with_mask(text, other, part)


def word_keys(words: list[str]) -> np.ndarray:
    """64-bit keys of words, computed as ``_token_keys`` computes them on ticket bytes."""
    out = np.zeros(len(words), dtype=np.uint64)
    for i, w in enumerate(words):
        b = bytes(c | 32 for c in w.encode("utf-8"))
        first = int.from_bytes(b[:8].ljust(8, b"\0"), "little")
        last = int.from_bytes(b[-8:], "little") if len(b) > 8 else 0
        out[i] = mix(np.uint64(first), np.uint64(last), np.uint64(len(b)))
    return out


def mix(first, last, length):
    with np.errstate(over="ignore"):
        return (first ^ (last * _K1)) * _K2 + length


# ---------------------------------------------------------------------------------------------
# Signals


def reply_subject_pattern(data: dict[str, Any]) -> str:
    """Regex matching a subject that starts with a reply/forward prefix (``reply_prefixes``)."""
    prefixes = [re.escape(str(p_)) for p_ in data.get("reply_prefixes") or []]
    if not prefixes:
        return r"^\b\B"  # matches nothing
    return rf"(?i)^\s*(?:\[[^\]]*\]\s*)?(?:{'|'.join(prefixes)})\s*(?:\[\d+\])?\s*:"


def as_text(s: pd.Series | pa.Array | pa.ChunkedArray) -> pa.Array:
    arr = s if isinstance(s, pa.Array | pa.ChunkedArray) else pa.array(s, from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not pa.types.is_string(arr.type):
        arr = pc.cast(arr, pa.string())  # one batch is far below the 2 GiB string limit
    return pc.fill_null(arr, "")


_TAG = r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?>"


def classification_text(
    subject: pa.Array, body: pa.Array, body_chars: int, quote_cut: str | None = None
) -> pa.Array:
    """``subject \\n body-start `` with quoted replies, signatures and leftover tags removed,
    scripts separated (:func:`separate_scripts`; the subject too: see :func:`classification_parts`)."""
    return classification_parts(subject, body, body_chars, quote_cut)[0]


def classification_parts(
    subject: pa.Array, body: pa.Array, body_chars: int, quote_cut: str | None = None
) -> tuple[pa.Array, np.ndarray]:
    """:func:`classification_text` and the byte length of its subject part on every row."""
    # Cutting only ever removes a suffix, so cutting the first ``body_chars`` is enough.
    b = pc.utf8_slice_codeunits(body, 0, body_chars)
    _, _, data = b.buffers()
    if data is not None and (np.frombuffer(data, dtype=np.uint8) == 60).any():  # "<"
        b = pc.replace_substring_regex(b, _TAG, " ")
    b = separate_scripts(pc.replace_substring_regex(b, quote_cut or _QUOTE_CUT, ""))
    subject = separate_scripts(subject)
    subject_len = pc.binary_length(subject).to_numpy(zero_copy_only=False).astype(np.int64)
    return pc.binary_join_element_wise(subject, " \n ", b, " ", ""), subject_len


@dataclass
class Tokens:
    row: np.ndarray  # row of each matched signal occurrence
    entry: np.ndarray  # entry id
    in_subject: np.ndarray  # bool


def _lookup_words(keys: np.ndarray, sig: Signals) -> np.ndarray:
    """Vocabulary id of each key, -1 if the word is no signal word."""
    pos = np.searchsorted(sig.word_keys, keys)
    pos[pos >= len(sig.word_keys)] = 0
    hit = sig.word_keys[pos] == keys
    return np.where(hit, sig.word_ids[pos], -1)


def prefilter_hash(first: np.ndarray, length: np.ndarray, bits: int) -> np.ndarray:
    with np.errstate(over="ignore"):
        return ((first ^ length) * _K2) >> np.uint64(64 - bits)


def tokenise(text: pa.Array, subject_len: np.ndarray, sig: Signals) -> Tokens:
    """Find every signal (word or phrase) in ``text``; vectorised over the text's bytes.

    Bytes are case-folded by setting bit 5 (exact for ASCII letters; signal words get the same
    folding), words are maximal runs of letters, digits and non-ASCII bytes, and each word's
    first and last eight bytes plus its length make a 64-bit key looked up in the sorted keys
    of the signal words (after a bitmap filter that discards most non-signal words).
    """
    return read_words(text, subject_len, sig, rest=False)[0]


@dataclass
class Words:
    """Word occurrences: their row, first byte and length in ``data``, the texts' bytes folded
    as the tokeniser folds them, with a space before the first and at least nine after the last
    byte (so an eight-byte read from any word byte stays inside)."""

    row: np.ndarray
    start: np.ndarray
    length: np.ndarray
    data: np.ndarray

    @classmethod
    def none(cls) -> Words:
        """No word at all."""
        empty = np.zeros(0, np.int64)
        return cls(empty, empty, empty, np.zeros(16, np.uint8))


def word_bytes(words: list[str]) -> Words:
    """Words as :class:`Words` (one row each), their bytes folded as the tokeniser folds text."""
    enc = [bytes(c | 32 for c in w.encode("utf-8")) for w in words]
    length = np.array([len(b) for b in enc], dtype=np.int64)
    start = 1 + np.concatenate([[0], np.cumsum(length + 1)[:-1]]).astype(np.int64)
    data = np.frombuffer(b" " + b" ".join(enc) + b" " * 16, dtype=np.uint8).copy()
    return Words(np.arange(len(words), dtype=np.int64), start[: len(words)], length, data)


def all_words(text: pa.Array) -> Words:
    """Every word occurrence of the texts, in text order (each text ends with a space)."""
    padded = _padded(text)
    if padded is None:
        return Words.none()
    d, offsets = padded
    edges = _word_edges(d)
    starts = edges[0::2]
    return Words(_word_rows(offsets, starts), starts, edges[1::2] - starts, d)


def _padded(text: pa.Array) -> tuple[np.ndarray, np.ndarray] | None:
    """(padded bytes, row offsets into them) of the texts; None when they hold no byte."""
    text = text.cast(pa.large_string()) if not pa.types.is_large_string(text.type) else text
    _, off_buf, data_buf = text.buffers()
    n = len(text)
    offsets = np.frombuffer(off_buf, dtype=np.int64)[text.offset : text.offset + n + 1]
    base = int(offsets[0])
    end = int(offsets[-1])
    if data_buf is None or end == base:
        return None
    raw = np.frombuffer(data_buf, dtype=np.uint8)[base:end]
    pad = (-(raw.size + 9)) % 8
    d = np.empty(raw.size + 9 + pad, dtype=np.uint8)
    d[0] = 32
    d[1 : raw.size + 1] = raw
    d[raw.size + 1 :] = 32
    return d, offsets - base + 1  # one leading space byte


def read_words(
    text: pa.Array, subject_len: np.ndarray, sig: Signals, rest: bool = True
) -> tuple[Tokens, Words]:
    """:func:`tokenise`, and every word occurrence that is not a one-word signal (in text
    order) for what reads the words themselves (the model's character n-grams); none when
    ``rest`` is false."""
    empty = np.zeros(0, np.int64)
    padded = _padded(text)
    if padded is None:
        return Tokens(empty, empty, np.zeros(0, bool)), Words.none()
    d, offsets = padded
    edges = _word_edges(d)
    starts = edges[0::2]
    length = edges[1::2] - starts
    del edges
    hit, h_vid = _signal_word_hits(d, starts, length, sig)
    # rows of every word when the other words are wanted too, else of the signal words only
    word_row = _word_rows(offsets, starts) if rest else None
    h_row = word_row[hit] if word_row is not None else _word_rows(offsets, starts[hit])
    found, found_entry = _signal_hits(hit, h_vid, h_row, sig)
    idx = np.concatenate(found)  # positions in ``hit`` of each signal's first word
    entry = np.concatenate(found_entry)
    pos = starts[hit[idx]]
    row = h_row[idx]
    in_subject = (pos - offsets[row]) < subject_len[row]
    tokens = Tokens(row, entry, in_subject)
    if word_row is None:  # not ``rest``
        return tokens, Words.none()
    other = np.ones(len(starts), dtype=bool)
    other[hit[sig.word_entry[h_vid] >= 0]] = False
    return tokens, Words(word_row[other], starts[other], length[other], d)


def _word_rows(offsets: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The row of each word from its first byte (``starts`` ascending): one binary search per
    row instead of one per word."""
    first = np.searchsorted(starts, offsets[:-1], side="left")
    counts = np.diff(first, append=len(starts))
    return np.repeat(np.arange(len(first), dtype=np.int64), counts)


# ---------------------------------------------------------------------------------------------


def _word_edges(d: np.ndarray) -> np.ndarray:
    """Byte positions where words start and end (alternating) in the padded, folded bytes."""
    # SWAR: eight bytes per uint64. Fold case, then set the high bit of every byte that is a
    # letter, a digit or non-ASCII; a word edge is a byte whose bit differs from the previous.
    w = d.view(np.uint64)
    np.bitwise_or(w, _FOLD, out=w)
    x = np.bitwise_and(w, _LOW7)
    x |= _HIGH
    m = np.subtract(x, _BYTES * np.uint64(0x61))
    m &= ~np.subtract(x, _BYTES * np.uint64(0x7B))
    tmp = np.subtract(x, _BYTES * np.uint64(0x30))
    tmp &= ~np.subtract(x, _BYTES * np.uint64(0x3A))
    m |= tmp
    m |= w
    m &= _HIGH
    del x, tmp
    prev = np.left_shift(m, np.uint64(8))
    prev[1:] |= m[:-1] >> np.uint64(56)
    m ^= prev
    del prev
    m >>= np.uint64(7)  # edge bytes become 1: a valid bool view (numpy's fast nonzero path)
    edges = np.flatnonzero(m.view(np.bool_))
    del m
    return edges


def _signal_word_hits(
    d: np.ndarray, starts: np.ndarray, length: np.ndarray, sig: Signals
) -> tuple[np.ndarray, np.ndarray]:
    """(word index, vocabulary id) of every word that is a signal word."""
    words = np.ndarray(shape=(d.size - 7,), dtype="<u8", buffer=d.data, strides=(1,))
    first = words[starts]
    first &= _MASKS.take(np.minimum(length, 8))
    ulen = length.astype(np.uint64)
    bits = len(sig.slot_vid).bit_length() - 1
    slot = sig.slot_vid[prefilter_hash(first, ulen, bits)]
    keep = np.flatnonzero(slot != -1)
    first = first[keep]
    ulen = ulen[keep]
    starts = starts[keep]
    slot = slot[keep]
    long_ = ulen > 8
    last = np.zeros(len(keep), dtype=np.uint64)
    last[long_] = words[(starts[long_] + ulen[long_].astype(np.int64) - 8)]
    keys = mix(first, last, ulen)
    # A slot holding one signal word: compare keys; a shared slot (-2): binary search.
    vid = np.where(sig.vocab_keys[slot.clip(0, None)] == keys, slot, -1)
    shared = np.flatnonzero(slot == -2)
    if len(shared):
        vid[shared] = _lookup_words(keys[shared], sig)
    found = vid >= 0
    return keep[found], vid[found]  # word indices of signal words, their vocabulary ids


def _pair_lookup(code: np.ndarray, sig: Signals) -> tuple[np.ndarray, np.ndarray]:
    """(entry id or -1, starts a longer phrase) of two-word codes ``first * n_vocab + second``:
    a direct table for a small vocabulary, binary search in the sorted codes for a large one."""
    if sig.bigram_entry is not None:
        ent = sig.bigram_entry[code].astype(np.int64)
        prefix = sig.bigram_prefix[code] if sig.bigram_prefix is not None else ent < -1
        return ent, prefix
    ent = np.full(len(code), -1, dtype=np.int64)
    if 2 in sig.phrase_keys:
        pk, pe = sig.phrase_keys[2]
        pos = np.searchsorted(pk, code).clip(0, len(pk) - 1)
        ent = np.where(pk[pos] == code, pe[pos], -1)
    prefix = np.zeros(len(code), dtype=bool)
    prefixes = sig.phrase_prefixes.get(2)
    if prefixes is not None and len(prefixes):
        pos = np.searchsorted(prefixes, code).clip(0, len(prefixes) - 1)
        prefix = prefixes[pos] == code
    return ent, prefix


def _signal_hits(
    hit: np.ndarray, h_vid: np.ndarray, h_row: np.ndarray, sig: Signals
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Position in ``hit`` of the first word, and entry id, of every word and phrase signal
    among the signal words (``hit``: their word indices, ``h_row``: their rows; a phrase never
    spans two rows)."""
    uni = sig.word_entry[h_vid]
    ok = uni >= 0
    found_pos: list[np.ndarray] = [np.flatnonzero(ok)]
    found_entry: list[np.ndarray] = [uni[ok]]
    # Phrases: runs of consecutive signal words (token indices i, i+1, ...) whose words so far
    # are the start of some phrase; the candidate set shrinks with every extra word.
    V = sig.n_vocab
    L = len(hit)
    gap = sig.phrase_gap
    hit = hit + h_row * (gap + 1)  # the next row's first word is more than ``gap`` words away
    cand = (
        np.flatnonzero(sig.phrase_starter[h_vid[:-1]] & (np.diff(hit) <= gap)) if L > 1 else hit[:0]
    )
    code = h_vid[cand] * V + h_vid[cand + 1]
    ent, ok = _pair_lookup(code, sig)
    m = ent >= 0
    found_pos.append(cand[m])
    found_entry.append(ent[m])
    cand, code = cand[ok], code[ok]
    # two-word phrases with one other signal word between them ("install the imunify
    # extension" is the phrase "install extension" although "imunify" is a signal word too)
    if L > 2:
        c2 = np.flatnonzero(sig.phrase_starter[h_vid[:-2]] & (hit[2:] - hit[:-2] <= gap))
        ent2 = _pair_lookup(h_vid[c2] * V + h_vid[c2 + 2], sig)[0]
        m2 = ent2 >= 0
        found_pos.append(c2[m2])
        found_entry.append(ent2[m2])
    # longer phrases: few candidates remain; binary search in the sorted phrase codes
    for k in range(3, sig.max_phrase + 1):
        if not len(cand):
            break
        nxt = cand + k - 1
        ok = nxt < L
        cand, code, nxt = cand[ok], code[ok], nxt[ok]
        ok = hit[nxt] - hit[nxt - 1] <= gap
        cand, code, nxt = cand[ok], code[ok] * V + h_vid[nxt[ok]], nxt[ok]
        if not len(cand):
            break
        if k in sig.phrase_keys:
            pk, pe = sig.phrase_keys[k]
            pos = np.searchsorted(pk, code).clip(0, len(pk) - 1)
            m = pk[pos] == code
            found_pos.append(cand[m])
            found_entry.append(pe[pos[m]])
        prefixes = sig.phrase_prefixes.get(k)
        if prefixes is None or not len(prefixes):
            break
        pos = np.searchsorted(prefixes, code).clip(0, len(prefixes) - 1)
        ok = prefixes[pos] == code
        cand, code = cand[ok], code[ok]
    return found_pos, found_entry


def distinct(keys: np.ndarray) -> np.ndarray:
    """The sorted distinct values of an integer array: ``np.unique`` without its cost.

    numpy 2's hash-based ``np.unique`` took 0.66 s for the ~1M (row, term) keys of a 50,000-ticket
    batch; a stable (radix) sort and a neighbour comparison take 0.013 s for the same result.
    """
    if not len(keys):
        return keys
    s = np.sort(keys, kind="stable")
    keep = np.empty(len(s), dtype=bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]


def row_matrix(counts: np.ndarray, cols: np.ndarray, values: np.ndarray, width: int) -> Any:
    """A CSR matrix (rows x ``width``) from column hits sorted by row, as :func:`distinct` keys
    give them, with ``counts`` hits per row. scipy is imported here: only scoring needs it."""
    from scipy import sparse

    indptr = np.concatenate([[0], np.cumsum(counts)])
    return sparse.csr_matrix((values, cols, indptr), shape=(len(counts), width))
