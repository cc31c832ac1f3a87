"""The streaming crossref engine: read a ticket input in batches, judge, write as it goes.

``judged_batches`` yields each normalised batch of a :class:`kenolib.tickets.TicketStream`
judged by :func:`kenolib.classify.crossref` (the same per-batch function as a whole frame), in
input order, with a bounded number of batches in flight, so memory does not grow with the
history. With ``workers`` above 1 the batches are judged by that many worker processes
(:func:`kenolib.classify.judge_pool`) while this process reads, assembles and writes; with 1
they are judged here, on two threads that overlap reading and writing.
``stream_crossref`` connects that to a sink (:mod:`kenolib.sinks`): Parquet, CSV, xlsx or a
dataset partitioned by month.
"""

from __future__ import annotations

import os
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from kenolib.classify import Judge, compile_judge, crossref, crossref_batches, judge_pool
from kenolib.classify.parallel import BatchPool, check_workers, single_threaded_blas
from kenolib.filters import FilterTally, TicketFilter
from kenolib.sinks import open_sink
from kenolib.taxonomy import Taxonomy
from kenolib.tickets import TicketStream, open_tickets

#: Rows per streamed batch: big enough for whole-column speed, small enough for flat memory.
STREAM_BATCH_ROWS = 20_000
#: Rows per batch sent to worker processes: as fast, and 0.17 GB less for the process tree (a
#: batch in flight is held by this process and by a worker).
POOL_BATCH_ROWS = 10_000
#: Batches judged at once (each releases the GIL in numpy and pyarrow for most of its time).
STREAM_WORKERS = max(1, min(2, os.cpu_count() or 1))


@dataclass
class CrossrefRun:
    """What a streamed crossref did: rows, verdict counts, loader warnings, the output."""

    out: Path
    rows: int = 0
    verdicts: Counter = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)
    quarantined: int = 0
    #: with a summary filter: the tickets it kept (``verdicts`` counts only those)
    kept: int = 0
    tally: FilterTally = field(default_factory=FilterTally)

    def count(self, judged: pd.DataFrame, summary_filter: TicketFilter | None) -> None:
        """Count the verdicts of one judged batch (only the rows ``summary_filter`` keeps)."""
        shown = summary_filter.apply(judged, self.tally) if summary_filter else judged
        self.verdicts.update(shown["verdict"].value_counts().to_dict())
        self.kept += len(shown)


def ordered_map(
    fn: Callable[[pd.DataFrame], pd.DataFrame],
    items: Iterable[pd.DataFrame],
    workers: int = STREAM_WORKERS,
) -> Iterator[pd.DataFrame]:
    """``map(fn, items)`` on a thread pool, in order, with at most ``workers + 1`` in flight."""
    if workers <= 1:
        yield from map(fn, items)
        return
    with single_threaded_blas(), ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque[Future] = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            while len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def judged_batches(
    stream: TicketStream,
    clauses: pd.DataFrame,
    taxonomy: Taxonomy | None = None,
    judge: Judge | None = None,
    workers: int = STREAM_WORKERS,
    pool: BatchPool | None = None,
) -> Iterator[pd.DataFrame]:
    """Every batch of ``stream`` judged (crossref columns first, then the ticket's), in order:
    on ``pool``'s processes if given, else here on ``workers`` threads."""
    j = judge or compile_judge(clauses, taxonomy)
    if pool is not None:
        return crossref_batches(stream, clauses, judge=j, pool=pool)
    return ordered_map(lambda b: crossref(b, clauses, judge=j, workers=1), stream, workers)


def stream_crossref(
    tickets: str | os.PathLike[str],
    out: str | os.PathLike[str],
    clauses: pd.DataFrame,
    fmt: str = "auto",
    quarantine: str | os.PathLike[str] | None = None,
    partition: str | None = None,
    progress: Callable[[int], None] | None = None,
    batch_rows: int | None = None,
    inputs: tuple = (),
    effort: tuple[str, str] | None = None,
    summary_filter: TicketFilter | None = None,
    workers: int | None = None,
) -> CrossrefRun:
    """Judge a ticket input (file, directory or glob) into ``out`` in constant memory.

    ``out`` is a ``.parquet``, ``.csv`` or ``.xlsx`` file, or with ``partition="month"`` a
    directory for a Parquet dataset by month. The output is written under a temporary name
    and moved into place at the end; nothing is left behind on an error. ``progress`` is
    called with the rows of each batch written. ``summary_filter`` narrows only the verdict
    counts returned, never the output (every input row is written). ``workers`` processes judge
    the batches (``None``: one per usable core; 1: this process). ``batch_rows`` defaults to
    ``STREAM_BATCH_ROWS`` in this process, ``POOL_BATCH_ROWS`` with workers.
    """
    check_workers(workers)
    j = compile_judge(clauses)
    # the worker processes are forked first, before the reader starts its threads
    with judge_pool(j, workers) as pool:
        rows = batch_rows or (STREAM_BATCH_ROWS if pool is None else POOL_BATCH_ROWS)
        stream = open_tickets(tickets, fmt, quarantine, batch_rows=rows, effort=effort)
        run = CrossrefRun(out=Path(out))
        with open_sink(out, partition, (*stream.files, *inputs)) as sink:
            for judged in judged_batches(stream, clauses, judge=j, pool=pool):
                sink.write(judged)
                run.count(judged, summary_filter)
                if progress is not None:
                    progress(len(judged))
            if summary_filter:
                run.tally.check(summary_filter)
            run.out = sink.close()
    run.rows = stream.rows
    run.warnings = stream.warnings
    run.quarantined = stream.quarantined
    return run
