"""The review loop's learning curve on the real-question development set.

Simulates an analyst who reviews ``k`` of the real customer questions of
``tests/fixtures/real/real_dev.csv`` (their labels taken as the analyst's corrections), then
``kenolib learn``: the model is refitted on the hand-written training sets plus the ``k``
reviewed tickets, and the reviewed tickets' labels go to a labels store. Accuracy is measured on
the *rest* of real_dev (the tickets not reviewed, so no label's own hash match counts), each
figure next to the base model's on the same tickets (paired: the difference is the gain).

The base model is fitted WITHOUT real_dev (the shipped model has it in its training sets, so it
would flatter the curve). The held-out sets are never read. Usage::

    python benchmarks/bench_review_loop.py [--seeds 10] [--sizes 0 25 50 100]
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import pandas as pd

from kenolib import config
from kenolib.classify import labels as L
from kenolib.classify.evaluation import equivalent_clauses
from kenolib.classify.judge import Judge, compile_judge, crossref
from kenolib.classify.training import fit_model, load_training
from kenolib.policy import parse_policy

HAND_WRITTEN = (
    config.LABELLED_DIR / "labelled_dev.csv",
    config.LABELLED_DIR / "labelled_train_extra.csv",
)
REAL_DEV = config.REAL_QUESTIONS_DIR / "real_dev.csv"


def reviewed_labels(reviewed: pd.DataFrame, clauses: pd.DataFrame) -> pd.DataFrame:
    """The labels store an analyst's review of ``reviewed`` would hold."""
    hashes, chars = L.text_hashes(reviewed["subject"], reviewed["body"])
    clause_id = reviewed["expected_clause_id"].fillna("").astype(str)
    now = pd.Series(L.clause_hashes(clauses).to_numpy(), index=clauses["clause_id"].astype(str))
    store = L.empty_labels()
    rows = pd.DataFrame(
        {
            "ticket_id": reviewed["ticket_id"].astype(str).to_numpy(),
            "text_hash": hashes.to_numpy(),
            "verdict": reviewed["expected_verdict"].astype(str).to_numpy(),
            "topic": reviewed["expected_topic"].astype(str).to_numpy(),
            "clause_id": clause_id.to_numpy(),
            "clause_hash": clause_id.map(now).fillna("").to_numpy(),
            "text_chars": chars,
            "superseded": False,
        }
    )
    return pd.concat([store, rows], ignore_index=True).fillna("")


def score(x: pd.DataFrame, truth: pd.DataFrame, clauses: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per ticket: verdict right, verdict and clause right, topic right."""
    verdict = (
        x["verdict"].astype(str).to_numpy() == truth["expected_verdict"].astype(str).to_numpy()
    )
    exp_c = truth["expected_clause_id"].fillna("").astype(str).reset_index(drop=True)
    got_c = x["clause_id"].fillna("").astype(str).reset_index(drop=True)
    clause = ((got_c == exp_c) | equivalent_clauses(got_c, exp_c, clauses)).to_numpy()
    topic = x["topic"].astype(str).to_numpy() == truth["expected_topic"].astype(str).to_numpy()
    return {"verdict": verdict, "clause": verdict & clause, "topic": topic}


def one_round(
    dev: pd.DataFrame,
    base: pd.DataFrame,
    order: np.ndarray,
    k: int,
    judge: Judge,
    base_judge: Judge,
    clauses: pd.DataFrame,
) -> dict[str, float]:
    """Review the first ``k`` of ``order``, learn, and score the rest against the base model."""
    reviewed, rest = dev.iloc[order[:k]], dev.iloc[order[k:]].reset_index(drop=True)
    if k:
        model = fit_model(pd.concat([base, reviewed], ignore_index=True), clauses)
        judge = dataclasses.replace(judge, model=model)
    after = crossref(rest, clauses, judge=judge)
    after = L.apply_labels(after, reviewed_labels(reviewed, clauses), clauses, judge.vt)
    before = crossref(rest, clauses, judge=base_judge)
    a, b = score(after, rest, clauses), score(before, rest, clauses)
    out = {"rest": float(len(rest)), "label_hits": float((after["decided_by"] == "analyst").sum())}
    for m in a:
        out[m] = float(a[m].mean())
        out[f"base_{m}"] = float(b[m].mean())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10, help="random review orders")
    ap.add_argument("--sizes", type=int, nargs="+", default=[0, 25, 50, 100])
    args = ap.parse_args()
    t0 = time.perf_counter()
    clauses = parse_policy().clauses
    base = load_training(HAND_WRITTEN)
    dev = load_training([REAL_DEV]).reset_index(drop=True)
    rules = compile_judge(clauses)
    base_judge = dataclasses.replace(rules, model=fit_model(base, clauses))
    rows = []
    for seed in range(args.seeds):
        order = np.random.default_rng(seed).permutation(len(dev))
        for k in args.sizes:
            r = one_round(dev, base, order, k, base_judge, base_judge, clauses)
            rows.append({"seed": seed, "reviewed": k, **r})
    table = (
        pd.DataFrame(rows)
        .groupby("reviewed")
        .agg(
            rest=("rest", "mean"),
            verdict=("verdict", "mean"),
            verdict_sd=("verdict", "std"),
            base_verdict=("base_verdict", "mean"),
            clause=("clause", "mean"),
            base_clause=("base_clause", "mean"),
            topic=("topic", "mean"),
            base_topic=("base_topic", "mean"),
            label_hits=("label_hits", "sum"),
        )
    )
    for c in table.columns:
        if c not in ("rest", "label_hits"):
            table[c] = (100 * table[c]).round(1)
    print(
        f"real_dev: {len(dev)} tickets; base model on {len(base)} hand-written tickets; "
        f"{args.seeds} review orders; accuracy (%) on the unreviewed rest, mean over orders; "
        "base_* = the base model on the same tickets"
    )
    print(table.to_string())
    print(f"{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
