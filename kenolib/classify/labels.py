"""The analyst's labels store and how its decisions override the classifier's.

A label is one reviewed ticket: the verdict and topic an analyst confirmed or corrected, the
clause that verdict rests on and the policy version it was made under. Labels are keyed by the
ticket id and a hash of the ticket's normalised text (:func:`text_hashes`, the one definition
used by the review workbook, ``kenolib learn`` and crossref), so a label applies to the same text
wherever it reappears, and to nothing else.

The store is one CSV file (``labels.csv`` in the labels directory) with history: a later,
different decision for the same ticket text marks the earlier row ``superseded`` instead of
deleting it; :func:`current_labels` keeps the rows in force. Beside it live the model retrained
with the labels (``model.npz``), the measured accuracy (``accuracy.json``) and a copy of every
policy version a label was made under (``policies/<sha256>.txt``).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from kenolib import config
from kenolib.classify.text import as_text
from kenolib.classify.verdicts import VerdictTable
from kenolib.errors import KenolibError
from kenolib.files import FORMULA_PREFIXES, atomic_write, neutralise_frame
from kenolib.taxonomy import UNKNOWN_PRODUCT, UNMAPPED, normalise

LABELS_FILE = "labels.csv"
MODEL_FILE = "model.npz"
ACCURACY_FILE = "accuracy.json"
POLICIES_DIR = "policies"
ANALYST = "analyst"

#: The store's columns: the CONTRACTS ones first, then what the loop needs.
LABEL_COLUMNS = [
    "ticket_id",
    "text_hash",
    "verdict",
    "topic",
    "note",
    "reviewer",
    "reviewed_at",
    "policy_sha256",
    "clause_id",  # the clause the verdict rests on ("" for silent)
    "clause_hash",  # its status, heading and text, hashed: tells a changed clause without the old policy
    "sample_part",  # review / costly / stratified
    "product",  # as judged (the analyst does not correct it)
    "judged_verdict",
    "judged_topic",
    "text_chars",  # length of the normalised text: a cheap filter before hashing
    "workbook",
    "superseded",
    "subject",  # the text the analyst read (body cut): the retrained model learns from it
    "body",
]
#: Fields that make two labels of one ticket text the same decision.
DECISION = ["verdict", "topic", "clause_id", "note", "reviewer"]
KEY = ["ticket_id", "text_hash"]
_Z95 = 1.959963984540054


def labels_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """The labels directory: ``path`` or the configured default (``data/labels``)."""
    p = Path(path) if path is not None else config.LABELS_DIR
    if p.suffix.lower() in (".csv", ".parquet", ".xlsx"):
        raise KenolibError(f"{p}: --labels takes a directory (the store is {LABELS_FILE} in it)")
    if p.exists() and not p.is_dir():
        raise KenolibError(f"{p}: is a file; --labels takes a directory")
    return p


def normalised_text(subject: pd.Series | pa.Array, body: pd.Series | pa.Array) -> pa.Array:
    """Subject and body, NFKC, lower case, runs of white space as one space, joined by a newline."""

    def norm(a: pa.Array) -> pa.Array:
        a = pc.utf8_normalize(pc.fill_null(a, ""), form="NFKC")
        a = pc.replace_substring_regex(pc.utf8_lower(a), r"\s+", " ")
        return pc.utf8_trim_whitespace(a)

    subj = subject if isinstance(subject, pa.Array) else as_text(subject)
    bod = body if isinstance(body, pa.Array) else as_text(body)
    return pc.binary_join_element_wise(norm(subj), norm(bod), "\n")


def _sha(values: Sequence[str | None]) -> list[str]:
    return [hashlib.sha256((v or "").encode("utf-8")).hexdigest() for v in values]


def text_hashes(
    subject: pd.Series | pa.Array,
    body: pd.Series | pa.Array,
    only_chars: Sequence[int] | None = None,
) -> tuple[pd.Series, np.ndarray]:
    """SHA-256 of each ticket's normalised text, and the normalised text's length.

    With ``only_chars``, only texts of those lengths are hashed (the others get ``""``): the
    lengths of the labelled texts make a cheap filter, so a big frame is not hashed row by row.
    """
    text = normalised_text(subject, body)
    chars = pc.utf8_length(text).to_numpy(zero_copy_only=False).astype(np.int64)
    rows = np.arange(len(text))
    if only_chars is not None:
        rows = np.flatnonzero(np.isin(chars, np.asarray(list(only_chars), dtype=np.int64)))
    hashes = np.full(len(text), "", dtype=object)
    hashes[rows] = _sha(text.take(pa.array(rows, type=pa.int64())).to_pylist())
    return pd.Series(hashes, dtype="string"), chars


def clause_hashes(clauses: pd.DataFrame) -> pd.Series:
    """SHA-256 of each clause's normalised status, heading and text (a changed clause differs)."""
    key = (
        clauses["status"].astype(str)
        + "\n"
        + clauses["heading"].fillna("").astype(str).map(normalise)
        + "\n"
        + clauses["text"].fillna("").astype(str).map(normalise)
    )
    return pd.Series(_sha(key.tolist()), index=clauses.index, dtype="string")


# ---------------------------------------------------------------------------------------------
# The store on disk


def empty_labels() -> pd.DataFrame:
    """A store with the columns and no rows."""
    return pd.DataFrame({c: pd.Series(dtype="string") for c in LABEL_COLUMNS}).astype(
        {"superseded": bool, "text_chars": "int64"}
    )


def _restore_text(s: pd.Series) -> pd.Series:
    """Undo the apostrophe :func:`kenolib.files.neutralise_frame` put before formula-like text."""
    starts = tuple("'" + p for p in FORMULA_PREFIXES)
    risky = s.str.startswith(starts).fillna(False)
    return s.where(~risky, s.str.slice(1))


def read_labels(directory: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The whole store (history included), or an empty one when the directory has none."""
    path = labels_dir(directory) / LABELS_FILE
    if not path.exists():
        return empty_labels()
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise KenolibError(f"{path}: cannot read the labels store ({exc})") from None
    missing = [c for c in ("ticket_id", "text_hash", "verdict", "topic") if c not in df.columns]
    if missing:
        raise KenolibError(f"{path}: not a labels store (missing {', '.join(missing)})")
    for c in LABEL_COLUMNS:
        if c not in df.columns:
            df[c] = ""
    df = df[LABEL_COLUMNS].astype("string").apply(_restore_text)
    df["superseded"] = df["superseded"].str.lower().isin(["true", "1", "yes"])
    df["text_chars"] = pd.to_numeric(df["text_chars"], errors="coerce").fillna(-1).astype("int64")
    return df


def write_labels(store: pd.DataFrame, directory: str | os.PathLike[str] | None = None) -> Path:
    """Write the store atomically (every field quoted, formula-like text neutralised)."""
    path = labels_dir(directory) / LABELS_FILE
    safe = neutralise_frame(store[LABEL_COLUMNS])
    return atomic_write(
        path, lambda tmp: safe.to_csv(tmp, index=False, encoding="utf-8", quoting=1)
    )


def current_labels(store: pd.DataFrame) -> pd.DataFrame:
    """The labels in force: not superseded, one per ticket text (the latest)."""
    cur = store[~store["superseded"].astype(bool)]
    cur = cur.sort_values("reviewed_at", kind="stable").drop_duplicates("text_hash", keep="last")
    return cur.reset_index(drop=True)


def merge_labels(store: pd.DataFrame, new: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Add ``new`` labels to ``store``: a decision already in force adds nothing; a different
    decision for the same ticket text supersedes the one in force (kept as history).

    Returns the new store and counts ``added``, ``replaced``, ``unchanged``.
    """
    new = new.drop_duplicates(KEY, keep="last").reset_index(drop=True)
    live = store[~store["superseded"].astype(bool)].drop_duplicates(KEY, keep="last")
    cmp = new[KEY + DECISION].merge(
        live[KEY + DECISION].reset_index(names="_store_row"),
        on=KEY,
        how="left",
        suffixes=("", "_old"),
        indicator=True,
    )
    known = (cmp["_merge"] == "both").to_numpy()
    same = known.copy()
    for c in DECISION:
        old = cmp[f"{c}_old"].fillna("").astype(str).to_numpy()
        same &= cmp[c].fillna("").astype(str).to_numpy() == old
    out = store.copy()
    replaced = cmp.loc[known & ~same, "_store_row"].astype(int).to_numpy()
    out.loc[replaced, "superseded"] = True
    fresh = new.loc[~same, LABEL_COLUMNS].assign(superseded=False)
    merged = pd.concat([out, fresh], ignore_index=True) if len(fresh) else out
    counts = {
        "added": int((~known).sum()),
        "replaced": int((known & ~same).sum()),
        "unchanged": int(same.sum()),
    }
    return merged.astype({"superseded": bool}), counts


# ---------------------------------------------------------------------------------------------
# Applying labels to a judged frame


def _indices(values: pd.Series, names: list[str], fallback: str) -> np.ndarray:
    pos = {n: i for i, n in enumerate(names)}
    default = pos[fallback]
    return np.array([pos.get(str(v), default) for v in values], dtype=np.int64)


def derive_clauses(
    products: pd.Series,
    topics: pd.Series,
    verdicts: pd.Series | None,
    vt: VerdictTable,
    prefer: pd.Series | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The clause (row of ``vt.clauses``, -1 none) a (product, topic, verdict) rests on.

    Candidates are the verdict table's clauses of the product and topic, default qualifier
    first; with ``verdicts`` only those of that status count, and ``prefer`` (clause ids, e.g.
    the judged clause) wins when it is one of them. Without ``verdicts`` the first candidate
    decides. Returns (verdict, clause row); no candidate means ``silent`` without ``verdicts``.
    """
    n = len(topics)
    p = _indices(products, vt.products, UNKNOWN_PRODUCT)
    t = _indices(topics, vt.topics, UNMAPPED)
    cand = vt.cand[p, t]  # n, Q, K
    q = cand.shape[1]
    order = (np.arange(q)[None, :] + vt.default_q[t][:, None]) % q  # default qualifier first
    flat = np.take_along_axis(cand, order[:, :, None], axis=1).reshape(n, -1)
    status = np.array([*vt.clauses["status"].astype(str), ""], dtype=object)
    ok = flat >= 0
    if verdicts is not None:
        ok &= status[flat] == verdicts.astype(str).to_numpy()[:, None]
    chosen = np.where(ok.any(axis=1), flat[np.arange(n), ok.argmax(axis=1)], -1)
    if prefer is not None:
        ids = {c: i for i, c in enumerate(vt.clauses["clause_id"].astype(str))}
        pref = np.array([ids.get(str(c), -1) for c in prefer], dtype=np.int64)
        hit = ((flat == pref[:, None]) & ok).any(axis=1) & (pref >= 0)
        chosen = np.where(hit, pref, chosen)
    if verdicts is not None:
        return verdicts.astype(str).to_numpy(dtype=object), chosen
    return np.where(chosen >= 0, status[chosen], "silent"), chosen


def stale_labels(labels: pd.DataFrame, clauses: pd.DataFrame) -> np.ndarray:
    """Labels whose clause is gone from ``clauses`` or changed (status, heading or text)."""
    now = pd.Series(clause_hashes(clauses).to_numpy(), index=clauses["clause_id"].astype(str))
    cid = labels["clause_id"].fillna("").astype(str)
    current = cid.map(now).fillna("").astype(str).to_numpy()
    has = (cid != "").to_numpy()
    return has & (current != labels["clause_hash"].fillna("").astype(str).to_numpy())


def _set(out: pd.DataFrame, col: str, rows: np.ndarray, values: Any) -> None:
    s = out[col].copy()
    s.iloc[rows] = values
    out[col] = s


def apply_labels(
    xref: pd.DataFrame, labels: pd.DataFrame, clauses: pd.DataFrame, vt: VerdictTable
) -> pd.DataFrame:
    """``xref`` with every ticket whose text is labelled decided by the label.

    The label's topic and verdict replace the judged ones, with the clause the label rests on
    (``decided_by = analyst``, confidence 1.0, ``needs_review`` False). A label whose clause
    changed since (:func:`stale_labels`) keeps its topic but takes the current policy's verdict
    for it, and is flagged ``label_stale`` and ``needs_review``. Adds the ``label_stale`` column.
    """
    cur = current_labels(labels)
    out = xref.drop(columns=["label_stale"], errors="ignore").copy(deep=False)
    last = next(
        (c for c in ("model_agreement", "verdict_margin", "topic_margin") if c in out),
        "topic_margin",
    )
    at = list(out.columns).index(last) + 1 if last in out else len(out.columns)
    out.insert(at, "label_stale", False)
    if cur.empty or out.empty:
        return out
    hashes, _ = text_hashes(
        out["subject"],
        out.get("body", pd.Series("", index=out.index)),
        only_chars=cur["text_chars"].tolist(),
    )
    m = pd.DataFrame({"text_hash": hashes, "_row": np.arange(len(out))})
    m = m[m["text_hash"] != ""].merge(cur, on="text_hash", how="inner")
    if m.empty:
        return out
    rows = m["_row"].to_numpy()
    stale = stale_labels(m, clauses)
    prod = out["product"].iloc[rows].reset_index(drop=True)
    verdict_now, clause_now = derive_clauses(prod, m["topic"], None, vt)
    ids = {c: i for i, c in enumerate(vt.clauses["clause_id"].astype(str))}
    kept = np.array([ids.get(c, -1) for c in m["clause_id"].astype(str)], dtype=np.int64)
    clause = np.where(stale, clause_now, kept)
    verdict = np.where(stale, verdict_now, m["verdict"].astype(str).to_numpy(dtype=object))
    cl = vt.clauses
    for col, src in (
        ("clause_id", "clause_id"),
        ("clause_product", "product"),
        ("clause_heading", "heading"),
        ("clause_text", "text"),
        ("qualifier", "qualifier"),
    ):
        if col in out.columns:
            values = np.array([*cl[src].fillna("").astype(str), ""], dtype=object)
            _set(out, col, rows, values[clause])
    _set(out, "topic", rows, m["topic"].astype(str).to_numpy(dtype=object))
    _set(out, "verdict", rows, verdict)
    _set(out, "confidence", rows, 1.0)
    _set(out, "decided_by", rows, ANALYST)
    _set(out, "needs_review", rows, stale)
    _set(out, "label_stale", rows, stale)
    note = m["note"].fillna("").astype(str)
    _set(out, "evidence", rows, ("analyst label " + note.str.strip()).str.strip().to_numpy())
    return out


# ---------------------------------------------------------------------------------------------
# Accuracy measured on the stratified part of a review


def wilson_interval(right: int, n: int, z: float = _Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``right / n`` (95 % by default); (0, 1) if n = 0."""
    if n <= 0:
        return 0.0, 1.0
    p = right / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _figure(right: int, n: int) -> dict[str, float | int]:
    low, high = wilson_interval(right, n)
    return {
        "tickets": n,
        "right": right,
        "accuracy": round(right / n, 4) if n else float("nan"),
        "low": round(low, 4),
        "high": round(high, 4),
    }


def measured_accuracy(reviewed: pd.DataFrame) -> dict[str, Any]:
    """Verdict accuracy of the stratified rows of a review, overall and per product.

    ``reviewed`` has ``sample_part``, ``product``, ``verdict`` (the analyst's) and
    ``judged_verdict``. The interval is Wilson's 95 % score interval.
    """
    s = reviewed[reviewed["sample_part"].astype(str) == "stratified"]
    right = (s["verdict"].astype(str) == s["judged_verdict"].astype(str)).to_numpy()
    per = (
        pd.DataFrame({"product": s["product"].astype(str).to_numpy(), "right": right})
        .groupby("product", sort=True)["right"]
        .agg(["sum", "size"])
    )
    return {
        "overall": _figure(int(right.sum()), len(s)),
        "per_product": {str(p): _figure(int(r["sum"]), int(r["size"])) for p, r in per.iterrows()},
    }


def format_accuracy(acc: Mapping[str, Any]) -> str:
    """ "Verdicts checked on 200 tickets: 91 % ± 4 % (95 % interval 87–94 %)"."""
    o = acc["overall"]
    if not o["tickets"]:
        return "no stratified tickets checked"
    half = 100 * (o["high"] - o["low"]) / 2
    return (
        f"Verdicts checked on {o['tickets']} tickets: {100 * o['accuracy']:.0f} % ± {half:.0f} % "
        f"(95 % interval {100 * o['low']:.0f}–{100 * o['high']:.0f} %)"
    )


def write_accuracy(acc: dict[str, Any], directory: str | os.PathLike[str] | None = None) -> Path:
    """Store the measured accuracy as ``accuracy.json`` in the labels directory (atomically)."""
    path = labels_dir(directory) / ACCURACY_FILE
    text = json.dumps(acc, indent=2, sort_keys=True)

    def writer(tmp: Path) -> None:
        tmp.write_text(text + "\n", encoding="utf-8")

    return atomic_write(path, writer)


def load_accuracy(directory: str | os.PathLike[str] | None = None) -> dict[str, Any] | None:
    """The stored measured accuracy, or None when the labels directory has none."""
    path = labels_dir(directory) / ACCURACY_FILE
    if not path.exists():
        return None
    try:
        acc = json.loads(path.read_text(encoding="utf-8"))
        acc["overall"]["tickets"]  # noqa: B018 - the shape is checked here
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise KenolibError(f"{path}: cannot read the measured accuracy ({exc})") from None
    return acc
