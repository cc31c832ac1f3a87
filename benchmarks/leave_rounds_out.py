"""Judge recent real-question rounds with a model that never saw them, and print the figures.

    python benchmarks/leave_rounds_out.py 55 60 [--also 49 54]

Fits the model on every training ticket except the development and held-out parts of rounds
LO..HI, judges those rounds' held-out parts with it and with today's rules and signals file, and
prints per round the verdicts and cited clauses right. Run it before and after a change to the
signals file or to the model's settings (a fit takes a few minutes): a change is worth keeping
when the totals rise and no round falls. How a signals edit (``licences`` keeping its meaning on
the suites) was chosen this way is in docs/accuracy.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kenolib.classify.training import leave_rounds_out  # noqa: E402
from kenolib.errors import KenolibError  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("lo", type=int, help="first round left out")
    ap.add_argument("hi", type=int, help="last round left out")
    ap.add_argument("--also", type=int, nargs=2, metavar=("LO", "HI"), help="a second span")
    args = ap.parse_args(argv)
    spans = [(args.lo, args.hi)] + ([tuple(args.also)] if args.also else [])
    for lo, hi in spans:
        t0 = time.perf_counter()
        try:
            table = leave_rounds_out(range(lo, hi + 1))
        except KenolibError as exc:
            print(f"leave_rounds_out: error: {exc}", file=sys.stderr)
            return 2
        total = table.iloc[-1]
        print(
            f"rounds {lo}-{hi} judged by a model fitted without them "
            f"({time.perf_counter() - t0:.0f} s):"
        )
        for r in table.itertuples(index=False):
            print(
                f"  {r.round:>4}  {r.verdicts:4d} / {r.clauses:4d} of {r.n:4d}"
                f"  ({100 * r.verdicts / r.n:.1f} / {100 * r.clauses / r.n:.1f} %)"
            )
        print(f"  total verdicts {total.verdicts} / clauses {total.clauses} of {total.n}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
