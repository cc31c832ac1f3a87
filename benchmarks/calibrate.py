"""Fit the classifier's confidence table on the calibration set and write it.

    python benchmarks/calibrate.py [LABELLED] [--quantiles 0.1 0.3 0.55 0.8] [--out kenolib/data/calibration.yaml]
                                   [--check]

LABELLED defaults to ``tests/fixtures/labelled/labelled_holdout.csv``, the calibration set: the
signals are never tuned on it, it only maps the raw topic margin to the accuracy observed in each
margin bin (``kenolib.crossref.fit_calibration``). The script prints the aggregate accuracy and
the bin table (counts only, never a ticket's text) and writes ``kenolib/data/calibration.yaml``.
``--check`` writes nothing and exits 1 when the stored table differs from a fresh fit (run it
after changing ``ticket_signals.yaml``).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "tests" / "fixtures" / "labelled" / "labelled_holdout.csv"


def main(argv: list[str] | None = None) -> int:
    from kenolib import crossref as X
    from kenolib.policy import parse_policy
    from kenolib.tickets import load_tickets

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("labelled", nargs="?", default=str(DEFAULT), help="calibration set (CSV)")
    ap.add_argument(
        "--quantiles",
        type=float,
        nargs="+",
        default=[0.1, 0.3, 0.55, 0.8],
        help="bin edges as quantiles of the set's margins",
    )
    ap.add_argument("--out", default=str(X.CALIBRATION_FILE), help="YAML file to write")
    ap.add_argument("--check", action="store_true", help="compare with the stored table only")
    args = ap.parse_args(argv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # label warnings name helpdesk labels; not needed here
        labelled = load_tickets(args.labelled)
    clauses = parse_policy().clauses
    ev = X.evaluate(labelled, clauses)
    print(
        f"calibration set: {ev.n} tickets; verdicts {100 * ev.verdict_accuracy:.1f} %, "
        f"topics {100 * ev.topic_accuracy:.1f} %, clauses {100 * (ev.clause_accuracy or 0):.1f} %"
    )
    table, unmapped = X.fit_calibration(labelled, clauses, quantiles=tuple(args.quantiles))
    print(table.to_string(index=False))
    print(f"unmapped: {unmapped}")
    try:
        source = Path(args.labelled).resolve().relative_to(ROOT).as_posix()
    except ValueError:
        source = Path(args.labelled).name
    if args.check:
        stored = X.load_calibration()
        same = [float(v) for v in stored.get("edges", [])] == table["upper_edge"].tolist() and [
            float(v) for v in stored.get("accuracy", [])
        ] == table["accuracy"].tolist()
        print("stored table is up to date" if same else "stored table differs: re-run")
        return 0 if same else 1
    out = X.write_calibration(table, unmapped, args.out, source, ev.n)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
