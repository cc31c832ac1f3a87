"""The analyst's review loop: sample for review, learn the corrections, judge with them.

``write_review`` judges a ticket history and writes the review workbook (:mod:`kenolib.review`);
``learn`` reads it back, appends the decisions to the labels store
(:mod:`kenolib.classify.labels`), retrains the learned component with them into the labels
directory and measures the verdicts' accuracy on the stratified rows; ``crossref_with_labels``
judges with that model and lets the labels decide the tickets they cover. A label made under an
older policy version follows its clause through :func:`kenolib.diff.match_clauses` when that
version is stored in the labels directory, and is flagged ``label_stale`` when the clause changed.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kenolib.classify import labels as L
from kenolib.classify.judge import Judge, compile_judge, crossref
from kenolib.classify.model import load_model, save_model
from kenolib.classify.training import TRAINING_SETS, fit_model, load_training
from kenolib.diff import match_clauses
from kenolib.errors import KenolibError
from kenolib.files import atomic_write, check_output_path
from kenolib.policy import ParsedPolicy, parse_policy
from kenolib.review import (
    CUT_MARKER,
    read_review_workbook,
    review_rows,
    select_sample,
    validate_review,
    write_review_workbook,
)
from kenolib.taxonomy import Taxonomy

#: Diff changes after which a label's clause is still the same clause.
_SAME_CLAUSE = ("unchanged", "heading_changed")


def labelled_judge(
    parsed: ParsedPolicy, directory: str | os.PathLike[str], taxonomy: Taxonomy | None = None
) -> Judge:
    """The compiled judge, with the model retrained on the labels when the directory has one."""
    judge = compile_judge(parsed.clauses, taxonomy)
    path = L.labels_dir(directory) / L.MODEL_FILE
    return dataclasses.replace(judge, model=load_model(path)) if path.exists() else judge


def follow_policy(
    labels: pd.DataFrame, parsed: ParsedPolicy, directory: str | os.PathLike[str]
) -> pd.DataFrame:
    """Labels made under another policy version, their clauses mapped onto ``parsed``.

    Where that version is stored (``policies/<sha256>.txt``), a clause the diff finds unchanged
    (or only re-headed) takes its id and hash in the current policy; a changed or removed one
    keeps the old hash, so :func:`kenolib.classify.labels.stale_labels` flags it.
    """
    out = labels.copy()
    store = L.labels_dir(directory) / L.POLICIES_DIR
    now = pd.Series(
        L.clause_hashes(parsed.clauses).to_numpy(), index=parsed.clauses["clause_id"].astype(str)
    )
    for sha in sorted(set(out["policy_sha256"].astype(str)) - {parsed.sha256, ""}):
        old_file = store / f"{sha}.txt"
        if not old_file.is_file():
            continue
        m = match_clauses(parse_policy(old_file), parsed)
        m = m[m["change"].isin(_SAME_CLAUSE)]
        mapping = pd.Series(m["new_clause_id"].to_numpy(), index=m["old_clause_id"].astype(str))
        sel = (out["policy_sha256"].astype(str) == sha).to_numpy()
        new_id = out["clause_id"].astype(str).map(mapping)
        hit = sel & new_id.notna().to_numpy()
        out.loc[hit, "clause_id"] = new_id[hit].astype(str)
        out.loc[hit, "clause_hash"] = out.loc[hit, "clause_id"].map(now).astype(str)
    return out


def crossref_with_labels(
    tickets: pd.DataFrame,
    parsed: ParsedPolicy,
    directory: str | os.PathLike[str],
    taxonomy: Taxonomy | None = None,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> pd.DataFrame:
    """``crossref`` with the labels directory's model, then its labels applied (``label_stale``
    flags labels whose clause changed since they were made); ``workers`` as in ``crossref``."""
    if not L.labels_dir(directory).is_dir():
        raise KenolibError(f"{directory}: no labels directory; run `kenolib learn` first")
    judge = labelled_judge(parsed, directory, taxonomy)
    xref = crossref(tickets, parsed.clauses, taxonomy, progress, judge=judge, workers=workers)
    store = L.read_labels(directory)
    current = follow_policy(L.current_labels(store), parsed, directory)
    return L.apply_labels(xref, current, parsed.clauses, judge.vt)


def write_review(
    tickets: pd.DataFrame,
    parsed: ParsedPolicy,
    out: str | os.PathLike[str],
    n: int = 200,
    seed: int = 0,
    directory: str | os.PathLike[str] | None = None,
    inputs: Sequence[str | os.PathLike[str] | None] = (),
) -> pd.DataFrame:
    """Judge ``tickets`` (with the labels of ``directory`` when given) and write the review
    workbook ``out`` atomically. Returns the sampled rows as written."""
    target = check_output_path(out, tuple(inputs), suffixes=(".xlsx",))
    if directory is not None:
        xref = crossref_with_labels(tickets, parsed, directory)
    else:
        xref = crossref(tickets, parsed.clauses)
    sample = select_sample(xref, n, seed)
    body = sample["body"] if "body" in sample.columns else pd.Series("", index=sample.index)
    hashes, chars = L.text_hashes(sample["subject"], body)
    rows = review_rows(sample.assign(text_hash=hashes.to_numpy(), text_chars=chars))
    topics = compile_judge(parsed.clauses).vt.topics
    meta = {
        "policy_sha256": parsed.sha256,
        "policy_source": parsed.source,
        "tickets": str(tickets.attrs.get("source", "")),
        "n": str(n),
        "seed": str(seed),
    }
    atomic_write(target, lambda tmp: write_review_workbook(rows, tmp, topics, meta))
    return rows


@dataclass
class Learned:
    """What ``learn`` did: the store's counts, the model written, the measured accuracy."""

    counts: dict[str, int]
    reviewed: int
    corrected: int
    store: Path
    model: Path | None
    accuracy: dict[str, Any] | None


def decisions(
    rows: pd.DataFrame, parsed: ParsedPolicy, meta: dict[str, str], source: str
) -> pd.DataFrame:
    """Labels (store columns) from validated workbook rows: blank corrections keep the judged
    topic and verdict; a corrected topic without a verdict takes the policy's verdict for it."""
    vt = compile_judge(parsed.clauses).vt
    product = rows["product"]
    topic = rows["correct_topic"].where(rows["correct_topic"] != "", rows["topic"])
    moved = (topic != rows["topic"]).to_numpy()
    policy_verdict, _ = L.derive_clauses(product, topic, None, vt)
    verdict = np.where(
        rows["correct_verdict"] != "",
        rows["correct_verdict"],
        np.where(moved, policy_verdict, rows["verdict"]),
    )
    verdict = pd.Series(verdict, index=rows.index, dtype=object)
    _, derived = L.derive_clauses(product, topic, verdict, vt, prefer=rows["clause_id"])
    ids = np.array([*vt.clauses["clause_id"].astype(str), ""], dtype=object)
    same = (~moved) & (verdict == rows["verdict"]).to_numpy()
    clause_id = np.where(same, rows["clause_id"], ids[derived])
    hashes = pd.Series(
        L.clause_hashes(parsed.clauses).to_numpy(), index=parsed.clauses["clause_id"].astype(str)
    )
    body = rows["body_excerpt"].str.removesuffix(CUT_MARKER)
    return pd.DataFrame(
        {
            "ticket_id": rows["ticket_id"],
            "text_hash": rows["text_hash"],
            "verdict": verdict.astype(str),
            "topic": topic,
            "note": rows["note"],
            "reviewer": rows["reviewer"],
            "reviewed_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "policy_sha256": meta.get("policy_sha256", parsed.sha256),
            "clause_id": clause_id,
            "clause_hash": pd.Series(clause_id).map(hashes).fillna("").to_numpy(),
            "sample_part": rows["sample_part"],
            "product": product,
            "judged_verdict": rows["verdict"],
            "judged_topic": rows["topic"],
            "text_chars": pd.to_numeric(rows["text_chars"], errors="coerce")
            .fillna(-1)
            .astype("int64"),
            "workbook": Path(source).name,
            "superseded": False,
            "subject": rows["subject"],
            "body": body,
        }
    )[L.LABEL_COLUMNS]


def keep_policy(parsed: ParsedPolicy, directory: str | os.PathLike[str]) -> Path:
    """A copy of the policy text labels were made under (``policies/<sha256>.txt``), so a later
    version can be compared clause by clause."""
    path = L.labels_dir(directory) / L.POLICIES_DIR / f"{parsed.sha256}.txt"
    if not path.exists():

        def writer(tmp: Path) -> None:
            tmp.write_text(parsed.text, encoding="utf-8")

        atomic_write(path, writer)
    return path


def retrain(
    store: pd.DataFrame,
    clauses: pd.DataFrame,
    directory: str | os.PathLike[str],
    base: Sequence[str | os.PathLike[str]] = TRAINING_SETS,
) -> Path:
    """Fit the topic model on the project's training sets plus the labels in force, and write
    it to the labels directory (never over the package's model). Same store, same model."""
    cur = L.current_labels(store).sort_values(L.KEY, kind="stable")
    extra = pd.DataFrame(
        {
            "ticket_id": cur["ticket_id"].astype(str),
            "subject": cur["subject"].astype(str),
            "body": cur["body"].astype(str),
            "product": cur["product"].astype(str),
            "expected_product": cur["product"].astype(str),
            "expected_topic": cur["topic"].astype(str),
            "_set": "labels",
        }
    )
    training = pd.concat([load_training(base), extra], ignore_index=True)
    model = fit_model(training, clauses)
    model.meta["labels"] = str(len(extra))
    return save_model(model, L.labels_dir(directory) / L.MODEL_FILE)


def learn(
    workbook: str | os.PathLike[str],
    directory: str | os.PathLike[str] | None = None,
    parsed: ParsedPolicy | None = None,
    retrain_model: bool = True,
) -> Learned:
    """Read a filled review workbook into the labels store, retrain, measure the accuracy.

    Raises KenolibError (one line naming the sheet row) for an unknown verdict or topic, and
    when the workbook was judged under another policy than ``parsed``.
    """
    d = L.labels_dir(directory)
    parsed = parsed or parse_policy()
    filled = read_review_workbook(workbook)
    sha = filled.meta.get("policy_sha256", "")
    if sha and sha != parsed.sha256:
        raise KenolibError(
            f"{workbook}: reviewed under policy {sha[:12]}…, not {parsed.sha256[:12]}… "
            f"({parsed.source}); give that policy with --policy"
        )
    rows = validate_review(filled, compile_judge(parsed.clauses).vt.topics)
    new = decisions(rows, parsed, filled.meta, filled.source)
    store, counts = L.merge_labels(L.read_labels(d), new)
    keep_policy(parsed, d)
    written = L.write_labels(store, d)
    model = retrain(store, parsed.clauses, d) if retrain_model and len(store) else None
    accuracy = None
    if (new["sample_part"] == "stratified").any():
        accuracy = L.measured_accuracy(new) | {
            "workbook": Path(workbook).name,
            "policy_sha256": parsed.sha256,
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        L.write_accuracy(accuracy, d)
    corrected = int(
        ((new["verdict"] != new["judged_verdict"]) | (new["topic"] != new["judged_topic"])).sum()
    )
    return Learned(counts, len(new), corrected, written, model, accuracy)
