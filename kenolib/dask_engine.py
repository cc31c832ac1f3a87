"""The Dask engine: the same per-batch judging over the partitions of a ``dask.dataframe``.

``dask_crossref`` cuts a ticket input into partitions (one per Parquet row group, one per
CSV or xlsx file), builds a ``dask.dataframe`` of their raw rows with ``from_map``, and judges
it with ``map_partitions`` over :func:`judge_partition` (the loader's per-batch normalising,
then :func:`kenolib.classify.crossref`). It runs on a ``distributed`` cluster: a local one by
default, or the scheduler at ``scheduler`` (``tcp://host:8786``). Partitions come back to this
process in order, a bounded number at a time, and go to the same sinks as the local engine,
so the output is identical to ``--engine local``.

Every worker must be able to read the input paths (shared storage, or ``s3://``-style paths
that pyarrow understands) and have ``kenolib`` installed.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow.parquet as pq

from kenolib.classify import compile_judge, crossref
from kenolib.classify.parallel import keep_freed_memory
from kenolib.errors import KenolibError
from kenolib.filters import TicketFilter
from kenolib.readers import parquet_text_frame, read_table
from kenolib.sinks import open_sink
from kenolib.stream import STREAM_BATCH_ROWS, CrossrefRun

if TYPE_CHECKING:
    from distributed import Client, LocalCluster

from kenolib.tickets import (
    LoadTally,
    TicketLayout,
    normalise_batch,
    open_tickets,
    unknown_labels,
)

#: Workers of the local cluster started when no ``--scheduler`` is given.
LOCAL_WORKERS = 2

Part = tuple[str, int | None]  # (file, Parquet row group or None for the whole file)


def partitions(files: list[Path]) -> list[Part]:
    """One partition per Parquet row group, one per other file, in input order."""
    parts: list[Part] = []
    for f in files:
        if f.name.lower().endswith(".parquet"):
            groups = pq.ParquetFile(f).num_row_groups
            parts += [(str(f), g) for g in range(groups)] or [(str(f), None)]
        else:
            parts.append((str(f), None))
    return parts


def read_partition(part: Part) -> pd.DataFrame:
    """The raw rows (text columns) of one partition; runs on a worker."""
    path, group = Path(part[0]), part[1]
    warnings: list[str] = []
    if group is None:
        return read_table(path, warnings)
    return parquet_text_frame(pq.ParquetFile(path).read_row_group(group), path, warnings)


def judge_partition(raw: pd.DataFrame, layout: TicketLayout, clauses: pd.DataFrame) -> pd.DataFrame:
    """Normalise one partition of raw rows as the loader does and judge it (``crossref``)."""
    tickets = normalise_batch(raw, layout, LoadTally())
    judged = crossref(tickets, clauses, judge=compile_judge(clauses), workers=1)
    judged.index = raw.index
    return judged


def _client(scheduler: str | None) -> tuple[Client, LocalCluster | None]:
    # dask and distributed are imported when the engine runs: the command line starts without
    # them (they cost about two seconds and 30 MB at every start)
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout="20s"), None
        except OSError as exc:
            raise KenolibError(
                f"--scheduler {scheduler}: cannot reach the Dask scheduler ({exc}); "
                "start one with `dask scheduler` or check the address"
            ) from None
    cluster = LocalCluster(
        n_workers=LOCAL_WORKERS, threads_per_worker=1, dashboard_address=None, processes=True
    )
    client = Client(cluster)
    # distributed's workers return freed memory to the system at once (MALLOC_TRIM_THRESHOLD_
    # 65536): a third of their CPU time went to page faults; this cluster is ours to tune
    client.run(keep_freed_memory)
    return client, cluster


def _dask_dataframe() -> Any:
    import dask.dataframe as dd

    return dd


def _in_order(client: Client, delayed: list, ahead: int) -> Iterator[pd.DataFrame]:
    """Compute partitions on the cluster, ``ahead`` at a time, and yield them in order."""
    pending: deque = deque()
    for d in delayed:
        pending.append(client.compute(d))
        while len(pending) > ahead:
            f = pending.popleft()
            yield f.result()
            f.release()
    while pending:
        f = pending.popleft()
        yield f.result()
        f.release()


def _layout_of(
    tickets: str | os.PathLike[str], fmt: str, effort: tuple[str, str] | None = None
) -> tuple[TicketLayout, list[Path]]:
    """The layout the local engine would use (from the first rows) and the input's files."""
    stream = open_tickets(tickets, fmt, batch_rows=1000, effort=effort)
    batches = iter(stream)
    next(batches)
    batches.close()  # type: ignore[attr-defined]
    assert stream.layout is not None
    layout = stream.layout
    for f in stream.files[1:]:  # every file's header, before any work is sent out
        cols = [str(c) for c in read_partition(partitions([f])[0]).columns]
        if cols != stream.columns:
            raise KenolibError(
                f"{f}: its columns differ from those of {stream.files[0].name}; every file of "
                "a ticket dataset needs the same header"
            )
    return layout, stream.files


def dask_crossref(
    tickets: str | os.PathLike[str],
    out: str | os.PathLike[str],
    clauses: pd.DataFrame,
    fmt: str = "auto",
    quarantine: str | os.PathLike[str] | None = None,
    partition: str | None = None,
    progress: Callable[[int], None] | None = None,
    scheduler: str | None = None,
    inputs: tuple = (),
    effort: tuple[str, str] | None = None,
    summary_filter: TicketFilter | None = None,
) -> CrossrefRun:
    """Judge a ticket input on a Dask cluster into ``out`` (as :func:`stream_crossref`)."""
    if quarantine is not None:
        raise KenolibError("--quarantine works with --engine local; fix or set aside rows first")
    layout, files = _layout_of(tickets, fmt, effort)
    parts = partitions(files)
    first = read_partition(parts[0]).head(5)  # the frames' columns: dask need not read one
    sample = judge_partition(first, layout, clauses)
    client, cluster = _client(scheduler)
    run = CrossrefRun(out=Path(out))
    tally = LoadTally()
    try:
        raw = _dask_dataframe().from_map(
            read_partition, parts, meta=first.iloc[:0], enforce_metadata=False
        )
        judged = raw.map_partitions(
            judge_partition, layout, clauses, meta=sample.iloc[:0], enforce_metadata=False
        )
        ahead = 2 * max(1, len(client.scheduler_info().get("workers", {})))
        with open_sink(out, partition, (*files, *inputs)) as sink:
            for frame in _in_order(client, judged.to_delayed(), ahead):
                for start in range(0, max(len(frame), 1), STREAM_BATCH_ROWS):
                    sink.write(frame.iloc[start : start + STREAM_BATCH_ROWS])
                run.count(frame, summary_filter)
                labels = frame.loc[frame["product_source"] != "label", "product_label"]
                _count_unknown(tally, labels)
                run.rows += len(frame)
                if progress is not None:
                    progress(len(frame))
            if summary_filter:
                run.tally.check(summary_filter)
            run.out = sink.close()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    run.warnings = tally.messages(str(tickets))
    return run


def _count_unknown(tally: LoadTally, labels: pd.Series) -> None:
    for label, count in unknown_labels(labels).items():
        tally.unknown[label] = tally.unknown.get(label, 0) + int(count)
