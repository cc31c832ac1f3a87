"""Time ``kenolib report`` on the bundled sample and on a large synthetic history.

Each case runs in its own process, so its peak memory (``ru_maxrss``) is its own. Prints run
time, peak memory and the sizes of the two files written. Usage::

    python benchmarks/bench_report.py             # bundled sample, then 1,000,000 tickets
    python benchmarks/bench_report.py --n 200000  # a smaller synthetic history
    python benchmarks/bench_report.py --sample-only
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _peak_mib() -> float:
    # ru_maxrss is in KiB on Linux, bytes on macOS
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def run_case(case: str, n: int, out_dir: Path) -> dict:
    """Run one case in this process and return its figures."""
    from kenolib.report import write_reports

    figures: dict = {"case": case}
    tickets = None
    if case == "synthetic":
        from kenolib.synth import synth_tickets

        t0 = time.perf_counter()
        df = synth_tickets(n, seed=1)
        tickets = out_dir / f"synth_{n}.parquet"
        df.to_parquet(tickets, index=False)
        figures["synth_seconds"] = round(time.perf_counter() - t0, 1)
        figures["tickets_file_mib"] = round(tickets.stat().st_size / 2**20, 1)
        del df
    t0 = time.perf_counter()
    written = write_reports(tickets=tickets, out_dir=out_dir / "reports", progress=False)
    figures["report_seconds"] = round(time.perf_counter() - t0, 1)
    figures["peak_rss_mib"] = round(_peak_mib(), 0)
    for p in written:
        figures[p.suffix.lstrip(".") + "_mib"] = round(p.stat().st_size / 2**20, 2)
    from openpyxl import load_workbook

    wb = load_workbook(written[0], read_only=True)
    figures["sheets"] = wb.sheetnames
    wb.close()
    return figures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="synthetic tickets (default 1M)")
    ap.add_argument("--sample-only", action="store_true", help="skip the synthetic history")
    ap.add_argument("--case", choices=["sample", "synthetic"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.case:  # child process: one case, figures as JSON on stdout
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(run_case(args.case, args.n, Path(tmp))))
        return 0
    cases = ["sample"] if args.sample_only else ["sample", "synthetic"]
    for case in cases:
        res = subprocess.run(
            [sys.executable, __file__, "--case", case, "--n", str(args.n)],
            capture_output=True,
            text=True,
        )
        if res.returncode:
            print(res.stderr, file=sys.stderr)
            return res.returncode
        f = json.loads(res.stdout.strip().splitlines()[-1])
        label = "bundled sample" if case == "sample" else f"synthetic {args.n:,} tickets"
        extra = ""
        if case == "synthetic":
            extra = f"  (generating + writing parquet: {f['synth_seconds']} s, {f['tickets_file_mib']} MiB)"
        print(
            f"{label}: report {f['report_seconds']} s, peak RSS {f['peak_rss_mib']:.0f} MiB, "
            f"xlsx {f['xlsx_mib']} MiB, html {f['html_mib']} MiB, "
            f"{len(f['sheets'])} sheets{extra}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
