"""Benchmark the ticket cross-reference (run by ``make bench``; never by the test suite).

For each size: write a synthetic history to a temporary CSV, then time

1. classification + verdicts: ``kenolib.classify.crossref`` on the in-memory frame (at most
   the first 1,000,000 tickets, so the benchmark itself stays small), once per ``--workers``
   count (1: this process; 2: two worker processes judging its batches);
2. end to end: ``kenolib crossref history.csv --out judged/ --partition month --workers N``
   (streaming) in a subprocess for each N, against ``pyarrow.csv.read_csv(newlines_in_values=
   True)`` of the same file;
3. ``kenolib report --judged judged/`` (the report from the judged dataset, read in batches);
4. the Dask engine on a 2-worker local cluster, on the same history as Parquet (row groups of
   50,000 tickets, one partition each), against the local engine on that Parquet file;

and print tickets/s, the end-to-end / read ratio and the peak memory of each ``kenolib``
command's whole process tree (the command and its worker processes; for Dask, the client, the
scheduler and the cluster's workers): the tree is sampled every 200 ms with psutil, and the
peak of the summed proportional set size (PSS: a page shared by n processes counts 1/n, so
pages a forked worker shares with its parent are not counted twice) is printed beside the
peak of the summed resident set size (RSS, which counts shared pages in every process) and
the command's own peak RSS from ``os.wait4``. Repeated runs: medians (memory: the highest).

    python benchmarks/bench_crossref.py [--sizes 100000 1000000 5000000] [--workers 1 2]
        [--repeat 3] [--no-dask]
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd
import pyarrow.csv as pacsv
import pyarrow.parquet as pq


def _fmt_rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f}" if seconds > 0 else "inf"


class _TreeMemory(threading.Thread):
    """Samples a process and its descendants; keeps the peak summed PSS and RSS in MB."""

    def __init__(self, pid: int, every: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.pss = self.rss = 0.0
        self.done = threading.Event()

    def run(self) -> None:
        try:
            import psutil
        except ImportError:  # without psutil: only the command's own peak (wait4)
            return
        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self.done.wait(self.every):
            pss = rss = 0
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.Error:
                break
            for p in procs:
                try:
                    m = p.memory_full_info()
                except psutil.Error:
                    continue
                pss += m.pss
                rss += m.rss
            self.pss = max(self.pss, pss / 1e6)
            self.rss = max(self.rss, rss / 1e6)


def _run(cmd: list[str]) -> tuple[float, dict[str, float]]:
    """Run a command; return (wall seconds, peak memory in MB: own RSS, tree PSS and RSS)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    tree = _TreeMemory(proc.pid)
    tree.start()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t0
    tree.done.set()
    tree.join()
    err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd[2:4])} failed: {err.strip()}")
    own = usage.ru_maxrss / 1024
    if not tree.pss:  # no psutil: the command's own peak only
        return elapsed, {"own": own, "pss": own, "rss": own}
    return elapsed, {"own": own, "pss": tree.pss, "rss": tree.rss}


def _median_run(
    cmd: list[str], repeat: int, cleanup: Path | None = None
) -> tuple[float, dict[str, float]]:
    """Median wall time and highest peak memory (MB) of ``repeat`` runs of ``cmd``."""
    times, peaks = [], {"own": 0.0, "pss": 0.0, "rss": 0.0}
    for _ in range(repeat):
        if cleanup is not None:
            if cleanup.is_dir():
                shutil.rmtree(cleanup)
            cleanup.unlink(missing_ok=True)
        t, peak = _run(cmd)
        times.append(t)
        peaks = {k: max(v, peak[k]) for k, v in peaks.items()}
    return statistics.median(times), peaks


def _mem(peak: dict[str, float]) -> str:
    return (
        f"peak memory {peak['pss']:,.0f} MB (process tree PSS; tree RSS {peak['rss']:,.0f} MB, "
        f"main process {peak['own']:,.0f} MB)"
    )


def _to_parquet(csv_path: Path, out: Path) -> None:
    """The CSV as Parquet with row groups of 50,000 tickets (streamed: constant memory)."""
    reader = pacsv.open_csv(
        csv_path,
        read_options=pacsv.ReadOptions(block_size=16 << 20),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(column_types={"ticket_id": "string"}),
    )
    writer = None
    for batch in reader:
        if writer is None:
            writer = pq.ParquetWriter(out, batch.schema)
        writer.write_batch(batch, row_group_size=50_000)
    if writer is not None:
        writer.close()


def _classify_rates(
    csv_path: Path, repeat: int, workers: list[int]
) -> tuple[int, dict[int, float]]:
    """Rows judged and the median seconds of in-memory ``crossref`` per worker count."""
    from kenolib.classify import compile_judge, crossref
    from kenolib.policy import parse_policy
    from kenolib.tickets import open_tickets

    clauses = parse_policy().clauses
    j = compile_judge(clauses)
    parts, rows = [], 0
    for batch in open_tickets(csv_path, "generic", batch_rows=100_000):
        parts.append(batch)
        rows += len(batch)
        if rows >= 1_000_000:
            break
    tickets = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
    del parts
    crossref(tickets.head(1000), clauses, judge=j)  # warm up outside the timing
    seconds = {}
    for w in workers:
        times = []
        for _ in range(repeat):
            gc.collect()
            t0 = time.perf_counter()
            out = crossref(tickets, clauses, judge=j, workers=w)
            times.append(time.perf_counter() - t0)
            del out
        seconds[w] = statistics.median(times)
    return len(tickets), seconds


def bench(n: int, workdir: Path, repeat: int, dask: bool, workers: list[int]) -> dict:
    csv_path = workdir / f"tickets_{n}.csv"
    judged = workdir / f"judged_{n}"
    kenolib = [sys.executable, "-m", "kenolib.cli"]
    # Files are written and judged by child processes started while this process is small,
    # so each child's peak memory is its own (a forked child starts with the parent's).
    gen, _ = _run([*kenolib, "synth", "--n", str(n), "--seed", "1", "--out", str(csv_path)])
    size_mb = csv_path.stat().st_size / 1e6
    print(f"\n== {n:,} tickets ({size_mb:,.0f} MB CSV, generated in {gen:.1f} s)", flush=True)
    print(f"load average {os.getloadavg()[0]:.2f} (1 min) before the measurements", flush=True)
    cmd = [*kenolib, "crossref", str(csv_path), "--format", "generic", "--out", str(judged)]
    e2e: dict[int, tuple[float, dict[str, float]]] = {}
    for w in workers:
        e2e[w] = _median_run([*cmd, "--partition", "month", "--workers", str(w)], repeat, judged)
    # before this process reads the CSV itself: arrow keeps the memory it freed, and a child
    # forked from a big parent reports the parent's pages as its own peak
    report, report_mb = _median_run(
        [*kenolib, "report", "--judged", str(judged), "--out-dir", str(workdir / "rep")], repeat
    )
    # the Dask part too, for the same reason
    figures: dict = {"n": n, "report_s": report, "report_mb": report_mb}
    if dask:
        figures.update(_bench_dask(n, csv_path, workdir, repeat))
    reads = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        table = pacsv.read_csv(csv_path, parse_options=pacsv.ParseOptions(newlines_in_values=True))
        reads.append(time.perf_counter() - t0)
        del table
    read = statistics.median(reads)
    m, seconds = _classify_rates(csv_path, repeat, workers)
    gc.collect()
    figures["read_s"] = read
    for w in workers:
        rate = _fmt_rate(m, seconds[w])
        print(
            f"classification + verdicts (in memory, {m:,} tickets, workers {w}): {rate} tickets/s"
        )
        figures[f"classify_rate_w{w}"] = m / seconds[w]
    print(f"pyarrow.csv.read_csv of the same CSV: {read:.2f} s")
    for w, (t, peak) in e2e.items():
        ratio = t / read if read > 0 else float("inf")
        print(
            f"end to end kenolib crossref CSV -> Parquet dataset, workers {w}: {t:.2f} s = "
            f"{_fmt_rate(n, t)} tickets/s, {ratio:.1f}x the plain read; {_mem(peak)}"
        )
        figures.update({f"e2e_s_w{w}": t, f"ratio_w{w}": ratio, f"peak_w{w}": peak})
    print(f"kenolib report --judged: {report:.2f} s, {_mem(report_mb)}", flush=True)
    print(f"load average {os.getloadavg()[0]:.2f} (1 min) after the measurements", flush=True)
    shutil.rmtree(judged, ignore_errors=True)
    csv_path.unlink()
    return figures


def _bench_dask(n: int, csv_path: Path, workdir: Path, repeat: int) -> dict[str, float]:
    parquet = workdir / f"tickets_{n}.parquet"
    _to_parquet(csv_path, parquet)
    out = workdir / f"dask_{n}.parquet"
    kenolib = [sys.executable, "-m", "kenolib.cli", "crossref", str(parquet), "--out", str(out)]
    local, local_mb = _median_run(kenolib, repeat, out)
    dask, dask_mb = _median_run([*kenolib, "--engine", "dask"], repeat, out)
    print(
        f"Parquet input: local engine {local:.2f} s ({_fmt_rate(n, local)} tickets/s, "
        f"{_mem(local_mb)})\nDask engine, 2-worker local cluster {dask:.2f} s "
        f"({_fmt_rate(n, dask)} tickets/s, {_mem(dask_mb)})",
        flush=True,
    )
    parquet.unlink()
    out.unlink(missing_ok=True)
    return {"local_parquet_s": local, "dask_s": dask, "dask_mb": dask_mb}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 5_000_000])
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement (median)")
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask engine")
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2], help="worker processes to compare"
    )
    args = parser.parse_args(argv)
    if len(args.sizes) > 1:
        # one process per size: a child's peak memory includes the pages of the process it was
        # forked from, and this one grows with every in-memory measurement
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs", flush=True)
        extra = ["--repeat", str(args.repeat), *(["--no-dask"] if args.no_dask else [])]
        extra += ["--workers", *map(str, args.workers)]
        for n in sorted(args.sizes):
            done = subprocess.run([sys.executable, __file__, "--sizes", str(n), *extra])
            if done.returncode:
                return done.returncode
        return 0
    with tempfile.TemporaryDirectory(prefix="kenolib-bench-") as tmp:
        bench(args.sizes[0], Path(tmp), max(args.repeat, 1), not args.no_dask, args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
