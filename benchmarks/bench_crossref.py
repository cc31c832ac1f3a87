"""Benchmark the ticket cross-reference (run by ``make bench``; never by the test suite).

For each size: write a synthetic history to a temporary CSV, then time

1. classification + verdicts: ``kenolib.crossref.crossref`` on the in-memory frame;
2. end to end: ``kenolib crossref history.csv --out history.parquet`` in a subprocess, against
   ``pyarrow.csv.read_csv`` of the same file (the plain read the target is stated against);

and print tickets/s, the end-to-end / read ratio and the peak memory of the ``kenolib crossref``
process (its maximum resident set size, from ``os.wait4``'s resource usage of that child).

    python benchmarks/bench_crossref.py [--sizes 100000 1000000] [--repeat 2]
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.csv as pacsv


def _fmt_rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f}" if seconds > 0 else "inf"


def _run(cmd: list[str]) -> tuple[float, float]:
    """Run a command; return (wall seconds, its own peak RSS in MB from wait4)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t0
    err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd[2:4])} failed: {err.strip()}")
    return elapsed, usage.ru_maxrss / 1024


def bench(n: int, workdir: Path, repeat: int) -> dict[str, float]:
    csv_path = workdir / f"tickets_{n}.csv"
    out_path = workdir / f"tickets_{n}.parquet"
    kenolib = [sys.executable, "-m", "kenolib.cli"]
    # The files are written and judged by child processes started while this process is still
    # small, so each child's peak memory is its own (a forked child starts with the parent's).
    gen, _ = _run([*kenolib, "synth", "--n", str(n), "--seed", "1", "--out", str(csv_path)])
    size_mb = csv_path.stat().st_size / 1e6
    print(f"\n== {n:,} tickets ({size_mb:,.0f} MB CSV, generated in {gen:.1f} s)")
    cmd = [*kenolib, "crossref", str(csv_path), "--format", "generic", "--out", str(out_path)]
    e2e, peak_mb = float("inf"), 0.0
    for _ in range(repeat):
        t, peak = _run(cmd)
        e2e, peak_mb = min(e2e, t), max(peak_mb, peak)
    read = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        table = pacsv.read_csv(csv_path, parse_options=pacsv.ParseOptions(newlines_in_values=True))
        read = min(read, time.perf_counter() - t0)
        del table
    ratio = e2e / read if read > 0 else float("inf")

    from kenolib.crossref import crossref
    from kenolib.policy import parse_policy
    from kenolib.tickets import load_tickets

    clauses = parse_policy().clauses
    tickets = load_tickets(csv_path, fmt="generic")
    crossref(tickets.head(1000), clauses)  # compile the signals once, outside the timing
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        out = crossref(tickets, clauses)
        best = min(best, time.perf_counter() - t0)
        assert len(out) == n
        del out
    del tickets
    gc.collect()
    print(f"classification + verdicts (in memory): {best:.2f} s = {_fmt_rate(n, best)} tickets/s")
    print(f"pyarrow.csv.read_csv of the same CSV: {read:.2f} s")
    print(
        f"end to end kenolib crossref CSV -> Parquet: {e2e:.2f} s = {_fmt_rate(n, e2e)} "
        f"tickets/s end to end, {ratio:.1f}x the plain read"
    )
    print(f"peak memory of the kenolib crossref run: {peak_mb:,.0f} MB")
    csv_path.unlink()
    out_path.unlink(missing_ok=True)
    return {"n": n, "classify_s": best, "read_s": read, "e2e_s": e2e, "peak_mb": peak_mb}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement (best kept)")
    args = parser.parse_args(argv)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="kenolib-bench-") as tmp:
        for n in sorted(args.sizes):
            bench(n, Path(tmp), max(args.repeat, 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
