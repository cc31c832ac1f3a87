"""Run every hostile case of ``tests/hostile_corpus.py`` through the command line and print,
per category: cases tried, tracebacks, hangs, rows lost, corrupt outputs, injections.

    python benchmarks/hostile_census.py [--jobs 2] [--only NAME]

Exit status 1 when any case did not end as promised (the failing cases are listed).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.hostile_corpus import CASES, Outcome, run_case  # noqa: E402

COLUMNS = (
    "cases",
    "skipped",
    "tracebacks",
    "hangs",
    "rows lost",
    "corrupt outputs",
    "injections",
    "failed",
)


def census(outcomes: list[Outcome]) -> dict[str, dict[str, int]]:
    """Per category (and in all): the counts of the closing note."""
    table: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COLUMNS, 0))
    for o in outcomes:
        for key in (o.case.category, "all"):
            row = table[key]
            row["cases"] += not o.skipped
            row["skipped"] += o.skipped
            row["tracebacks"] += o.traceback
            row["hangs"] += o.hang
            row["rows lost"] += o.rows_lost
            row["corrupt outputs"] += o.corrupt
            row["injections"] += o.injections
            row["failed"] += not o.ok
    return dict(table)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", default=None, help="run the cases whose name holds this")
    parser.add_argument("--verbose", action="store_true", help="print each case's last message")
    args = parser.parse_args()
    cases = [c for c in CASES if args.only is None or args.only in c.name]
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(args.jobs) as pool:
        dirs = [Path(tmp) / f"case{i}" for i in range(len(cases))]
        outcomes = list(pool.map(run_case, cases, dirs))
    table = census(outcomes)
    print(f"{'category':<16}" + "".join(f"{c:>17}" for c in COLUMNS))
    for cat, row in table.items():
        print(f"{cat:<16}" + "".join(f"{row[c]:>17}" for c in COLUMNS))
    for o in outcomes:
        if args.verbose:
            last = (o.stderr.strip().splitlines() or ["(nothing on stderr)"])[-1]
            print(f"{o.case.name:<34} exit {o.returncode}: {last[:240]}")
        if not o.ok:
            print(f"FAILED {o.case.category} / {o.case.name}: {'; '.join(o.problems)[:500]}")
    return 1 if any(not o.ok for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
