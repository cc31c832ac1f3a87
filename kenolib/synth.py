"""A reproducible synthetic helpdesk history in the generic ticket format.

Everything is drawn with numpy from one seeded generator and assembled column-wise (no per-row
Python), so a million tickets take seconds. The phrasings come from
``kenolib/data/synth_vocabulary.yaml``, written independently of the classifier's signals.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from kenolib import config
from kenolib import datafiles as df_
from kenolib.errors import KenolibError, KenolibValueError
from kenolib.schemas import TICKET_COLUMNS, require_type

#: First day of the default history; it spans ``DEFAULT_DAYS`` days (about two and a half years).
DEFAULT_START = "2023-07-01"
DEFAULT_DAYS = 913
MAX_TICKETS = 20_000_000


_INTENT_SCHEMA: df_.Schema = {
    "id": (df_.text, None),
    "topic": (df_.text, None),
    "products": (df_.str_list, None),
    "weight": (df_.number, 1),
    "minutes": (df_.number, None),
    "subjects": (df_.str_list, None),
    "bodies": (df_.str_list, None),
}
#: ``synth_vocabulary.yaml``: products, phrasings and noise of the synthetic history.
VOCABULARY_SCHEMA: df_.Schema = {
    "products": (
        df_.mapping_of(
            df_.record(
                {
                    "weight": (df_.number, None),
                    "labels": (df_.str_list, []),
                    "mentions": (df_.str_list, []),
                }
            ),
            "product -> weight, labels, mentions",
        ),
        None,
    ),
    "label_noise": (
        df_.record(
            {
                "blank": (df_.number, 0),
                "other": (df_.number, 0),
                "other_labels": (df_.str_list, []),
            }
        ),
        {},
    ),
    "greetings": (df_.str_list, None),
    "closings": (df_.str_list, None),
    "names": (df_.str_list, []),
    "signatures": (df_.str_list, None),
    "companies": (df_.str_list, []),
    "fillers": (df_.str_list, []),
    "typos": (df_.mapping_of(df_.text, "word -> misspelling"), {}),
    "intents": (df_.list_of(df_.record(_INTENT_SCHEMA)), None),
}


@functools.lru_cache(maxsize=4)
def load_vocabulary(path: str | None = None) -> dict[str, Any]:
    """The synthetic-ticket vocabulary (``kenolib/data/synth_vocabulary.yaml``)."""
    p = Path(path) if path else config.SYNTH_VOCABULARY_FILE
    data = df_.load(p, VOCABULARY_SCHEMA, "synthetic vocabulary")
    for key in ("products", "intents", "greetings", "closings", "signatures"):
        if not data.get(key):
            raise KenolibError(f"{p}: missing section {key!r}")
    known = set(data["products"])
    for it in data["intents"]:
        bad = [p_ for p_ in it["products"] if p_ not in known]
        if bad:
            raise KenolibError(f"{p}: intent {it['id']!r} names unknown product(s) {bad}")
    return data


def _take(options: list[str], idx: np.ndarray) -> pa.Array:
    """``options[idx]`` as an arrow string array (a C-level take, no Python strings per row)."""
    return pa.array(options, type=pa.string()).take(pa.array(idx))


def _pick(rng: np.random.Generator, options: list[str], n: int) -> pa.Array:
    return _take(options, rng.integers(0, len(options), n))


def _grouped_index(
    rng: np.random.Generator, groups: list[list[str]], group_idx: np.ndarray
) -> tuple[list[str], np.ndarray]:
    """For each row, the index of a random element of ``groups[group_idx[row]]`` in the flat list."""
    flat = [s for g in groups for s in g]
    counts = np.array([len(g) for g in groups])
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    within = np.floor(rng.random(len(group_idx)) * counts[group_idx]).astype(np.int64)
    return flat, offsets[group_idx] + within


def _grouped_pick(
    rng: np.random.Generator, groups: list[list[str]], group_idx: np.ndarray
) -> pa.Array:
    flat, idx = _grouped_index(rng, groups, group_idx)
    return _take(flat, idx)


def _keep(arr: pa.Array, keep: np.ndarray) -> pa.Array:
    """Rows where ``keep`` is False become null (skipped when joining parts)."""
    return pc.if_else(pa.array(keep), arr, pa.scalar(None, pa.string()))


def _mask_apply(arr: pa.Array, mask: np.ndarray, fn) -> pa.Array:
    """Apply ``fn`` (array -> array) to the masked rows only."""
    if not mask.any():
        return arr
    m = pa.array(mask)
    return pc.replace_with_mask(arr, m, fn(arr.filter(m)))


def _pick_intents(
    rng: np.random.Generator,
    intents: list[dict[str, Any]],
    products: list[str],
    prod: np.ndarray,
    n: int,
) -> np.ndarray:
    """Each ticket's intent, weighted among the intents of its product."""
    intent = np.zeros(n, dtype=np.int64)
    for pi, pid in enumerate(products):
        rows = np.flatnonzero(prod == pi)
        eligible = [i for i, it in enumerate(intents) if pid in it["products"]]
        if not len(rows) or not eligible:
            continue
        w = np.array([float(intents[i]["weight"]) for i in eligible])
        intent[rows] = np.asarray(eligible)[rng.choice(len(eligible), len(rows), p=w / w.sum())]
    return intent


def _texts(
    rng: np.random.Generator,
    voc: dict[str, Any],
    intents: list[dict[str, Any]],
    products: list[str],
    prod: np.ndarray,
    intent: np.ndarray,
    n: int,
) -> tuple[pa.Array, pa.Array]:
    """Subjects and bodies: the intent's phrasing, greetings, signatures, quoted replies."""
    subject = _grouped_pick(rng, [it["subjects"] for it in intents], intent)
    flat_bodies, body_idx = _grouped_index(rng, [it["bodies"] for it in intents], intent)
    pre = [b.split("{mention}", 1)[0] for b in flat_bodies]
    post = [b.split("{mention}", 1)[1] if "{mention}" in b else "" for b in flat_bodies]
    has_slot = np.array(["{mention}" in b for b in flat_bodies])[body_idx]
    mention = _grouped_pick(rng, [voc["products"][p]["mentions"] for p in products], prod)
    # A body sentence names the product through {mention}; elsewhere some customers add it.
    core = pc.binary_join_element_wise(
        _take(pre, body_idx),
        pc.if_else(pa.array(has_slot), mention, ""),
        _take(post, body_idx),
        "",
    )
    extra_mention = (~has_slot) & (rng.random(n) < 0.25)
    about = pc.binary_join_element_wise("This is for ", mention, ".", "")

    sig_templates = [
        s.format(name=name, company=company)
        for s in voc["signatures"]
        for name in voc.get("names") or ["Alex"]
        for company in voc.get("companies") or ["Example Ltd"]
    ]
    quote_bodies = [b.replace("{mention}", "your service") for b in flat_bodies]
    qdates = [
        d.strftime("%a, %d %b %Y") for d in pd.date_range("2023-06-01", periods=900, freq="D")
    ]
    quoted = pc.binary_join_element_wise(
        "On ",
        _pick(rng, qdates, n),
        ", Kenotronix Support <support@kenotronix.example> wrote:\n> ",
        _pick(rng, quote_bodies, n),
        "",
    )
    long_log = "Error log below:\n" + "\n".join(
        f"[{h:02d}:1{h % 10}:0{h % 6}] php-fpm: worker exited on signal 9" for h in range(12)
    )
    greeting = _pick(rng, voc["greetings"], n)
    parts = [
        _keep(greeting, pc.not_equal(greeting, "").to_numpy(zero_copy_only=False)),
        core,
        _keep(about, extra_mention),
        _keep(_pick(rng, voc.get("fillers") or [""], n), rng.random(n) < 0.3),
        _keep(_take([long_log], np.zeros(n, dtype=np.int64)), rng.random(n) < 0.04),
        _keep(_pick(rng, voc["closings"], n), rng.random(n) < 0.75),
        _keep(_pick(rng, sig_templates, n), rng.random(n) < 0.45),
        _keep(quoted, rng.random(n) < 0.12),
    ]
    body = pc.binary_join_element_wise(*parts, "\n\n", null_handling="skip")
    return subject, body


def _sloppy(
    rng: np.random.Generator, voc: dict[str, Any], subject: pa.Array, body: pa.Array, n: int
) -> tuple[pa.Array, pa.Array]:
    """Sloppy writing: typos, lower case and shouting on a share of tickets."""
    typos = voc.get("typos") or {}

    def typo(arr: pa.Array) -> pa.Array:
        for word, bad in typos.items():
            arr = pc.replace_substring_regex(arr, rf"\b{word}\b", bad)
        return arr

    typo_rows = rng.random(n) < 0.12
    body = _mask_apply(body, typo_rows, typo)
    subject = _mask_apply(subject, typo_rows, typo)
    u = rng.random(n)
    subject = _mask_apply(subject, u < 0.15, pc.utf8_lower)
    subject = _mask_apply(subject, (u >= 0.15) & (u < 0.18), pc.utf8_upper)
    body = _mask_apply(body, rng.random(n) < 0.08, pc.utf8_lower)
    return subject, body


def _labels(
    rng: np.random.Generator, voc: dict[str, Any], products: list[str], prod: np.ndarray, n: int
) -> pa.Array:
    """Product labels: the product's own spellings, some blank, some unrelated departments."""
    label = _grouped_pick(rng, [voc["products"][p]["labels"] for p in products], prod)
    noise = voc.get("label_noise") or {}
    r = rng.random(n)
    blank_p = float(noise.get("blank", 0.0))
    other_p = float(noise.get("other", 0.0))
    label = _mask_apply(label, r < blank_p, lambda a: pc.if_else(pc.is_valid(a), "", ""))
    other = (r >= blank_p) & (r < blank_p + other_p)
    if noise.get("other_labels"):
        label = _mask_apply(label, other, lambda a: _pick(rng, noise["other_labels"], len(a)))
    return label


#: Rows whose texts are generated at once: a few hundred bytes a ticket stays far below the
#: 2 GiB limit of one arrow string array.
TEXT_CHUNK = 1_000_000


def _all_texts(
    rng: np.random.Generator,
    voc: dict[str, Any],
    intents: list[dict[str, Any]],
    products: list[str],
    prod: np.ndarray,
    intent: np.ndarray,
    n: int,
) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
    """Subjects and bodies of ``n`` tickets, made ``TEXT_CHUNK`` rows at a time (one chunk, so
    the same draws as before, for histories up to a million tickets)."""
    subjects, bodies = [], []
    for lo in range(0, max(n, 1), TEXT_CHUNK):
        hi = min(n, lo + TEXT_CHUNK)
        s_, b_ = _texts(rng, voc, intents, products, prod[lo:hi], intent[lo:hi], hi - lo)
        s_, b_ = _sloppy(rng, voc, s_, b_, hi - lo)
        subjects.append(s_)
        bodies.append(b_)
    return pa.chunked_array(subjects, type=pa.string()), pa.chunked_array(bodies, type=pa.string())


def synth_tickets(
    n: int,
    seed: int = 0,
    start: str = DEFAULT_START,
    days: int = DEFAULT_DAYS,
    with_truth: bool = False,
) -> pd.DataFrame:
    """``n`` synthetic tickets in the generic format, identical for the same ``(n, seed)``.

    With ``with_truth`` two more columns say what the generator meant: ``synth_intent`` and
    ``synth_topic`` (useful for sanity checks; never an input to the classifier).
    """
    require_type(n, int, "n", "synth_tickets")
    require_type(seed, int, "seed", "synth_tickets")
    if not 0 <= n <= MAX_TICKETS:
        raise KenolibValueError(f"--n must be between 0 and {MAX_TICKETS:,} (got {n:,})")
    voc = load_vocabulary()
    rng = np.random.default_rng(seed)
    products = list(voc["products"])
    pweights = np.array([float(voc["products"][p]["weight"]) for p in products])
    prod = rng.choice(len(products), n, p=pweights / pweights.sum())

    intents = voc["intents"]
    intent = _pick_intents(rng, intents, products, prod, n)

    subject, body = _all_texts(rng, voc, intents, products, prod, intent, n)
    label = _labels(rng, voc, products, prod, n)

    # Dates: volume grows over time, business hours and weekdays busier.
    day = np.floor(days * np.sqrt(rng.random(n))).astype(np.int64)
    hours = np.array(
        [1, 1, 1, 1, 1, 2, 4, 8, 12, 14, 14, 13, 10, 12, 13, 12, 10, 8, 6, 5, 4, 3, 2, 1.0]
    )
    hour = rng.choice(24, n, p=hours / hours.sum())
    secs = day * 86400 + hour * 3600 + rng.integers(0, 3600, n)
    order = np.argsort(secs, kind="stable")
    created = pd.Timestamp(start) + pd.to_timedelta(secs, unit="s")

    medians = np.array([float(it.get("minutes", 20)) for it in intents])
    minutes = np.round(medians[intent] * rng.lognormal(0.0, 0.8, n)).clip(1, None)
    wall = pd.to_timedelta(minutes * rng.uniform(2.0, 40.0, n), unit="m")
    status = rng.choice(["Solved", "Closed", "Open", "Pending"], n, p=[0.8, 0.12, 0.05, 0.03])
    open_ = np.isin(status, ["Open", "Pending"])
    resolved = pd.Series(created + wall).dt.floor("s").where(~open_)
    minutes = np.where(open_ & (rng.random(n) < 0.5), np.nan, minutes)
    priority = rng.choice(["Low", "Normal", "High", "Urgent"], n, p=[0.2, 0.55, 0.2, 0.05])
    tags = rng.choice(["", "", "", "email", "phone", "chat", "vip", "callback"], n)

    def text(arr: pa.Array | pa.ChunkedArray) -> pd.Series:
        # taken slice by slice: one arrow string array holds at most 2 GiB of text
        pieces = [arr.take(pa.array(order[lo : lo + TEXT_CHUNK])) for lo in range(0, n, TEXT_CHUNK)]
        chunks = [c for p in pieces for c in getattr(p, "chunks", [p])]
        joined = pa.chunked_array(chunks, type=pa.string())
        return pd.Series(joined.to_pandas(types_mapper=pd.ArrowDtype)).astype("string[pyarrow]")

    df = pd.DataFrame(
        {
            "created_at": pd.Series(created).to_numpy()[order],
            "product": text(label),
            "subject": text(subject),
            "body": text(body),
            "status": status[order],
            "priority": priority[order],
            "agent_minutes": minutes[order],
            "resolved_at": resolved.to_numpy()[order],
            "tags": tags[order],
        }
    )
    for c in ("status", "priority", "tags"):
        df[c] = df[c].astype("string[pyarrow]")
    df.insert(0, "ticket_id", "KT-" + pd.Series(np.arange(1, n + 1)).astype(str).str.zfill(7))
    df = df[TICKET_COLUMNS]
    if with_truth:
        df["synth_intent"] = np.asarray([it["id"] for it in intents], dtype=object)[intent][order]
        df["synth_topic"] = np.asarray([it["topic"] for it in intents], dtype=object)[intent][order]
        df["synth_product"] = np.asarray(products, dtype=object)[prod][order]
    return df
