"""Record batches worked on by a pool of processes, results in input order (``--workers``).

A :class:`BatchPool` forks its worker processes once (``fork`` start method: the compiled judge
the work function closes over is inherited, never pickled or rebuilt), then ``imap`` sends each
Arrow record batch to a worker as an Arrow IPC buffer and yields the record batches the work
function returns, in input order, with at most ``ahead`` batches in flight so memory stays flat.
A worker's exception is raised here unchanged (a :class:`~kenolib.errors.KenolibError` keeps
its one-line message); a worker that dies (killed, out of memory) is a ``KenolibError`` too.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import multiprocessing
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import pyarrow as pa

from kenolib.config import usable_cores
from kenolib.errors import KenolibError

Work = Callable[[pa.RecordBatch], pa.RecordBatch]

_WORK: Work | None = None  # the work function of this worker process (set when it starts)


_BLAS_STATE: dict[str, Any] = {"users": 0, "limiter": None}
_WORKER_BLAS = contextlib.ExitStack()  # a worker process's own hold on the limit


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Numpy's BLAS on one thread while judging (re-entrant).

    Batches are judged on several threads or processes already; a BLAS that also starts one
    thread per core for each matrix product oversubscribes the cores (two worker processes on
    two cores judged 10 % fewer tickets a second). OpenBLAS takes the count set from a process's
    main thread for every thread, and ignores one set from another thread, so only the main
    thread sets it (the batch threads it starts then run with it); the outermost use restores
    the BLAS's own setting."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if _BLAS_STATE["users"] == 0:
        from threadpoolctl import ThreadpoolController

        # found afresh (a few ms): a library loaded since the last use is limited too
        _BLAS_STATE["limiter"] = ThreadpoolController().limit(limits=1, user_api="blas")
    _BLAS_STATE["users"] += 1
    try:
        yield
    finally:
        _BLAS_STATE["users"] -= 1
        if _BLAS_STATE["users"] == 0 and _BLAS_STATE["limiter"] is not None:
            _BLAS_STATE["limiter"].restore_original_limits()
            _BLAS_STATE["limiter"] = None


def check_workers(workers: int | None) -> int:
    """``workers`` as a positive count (``None``: the usable cores); a one-line error otherwise."""
    if workers is None:
        return usable_cores()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise KenolibError(
            f"--workers {workers}: give 1 or more processes (1 judges in this process; "
            f"this machine has {usable_cores()} usable cores)"
        )
    return workers


def can_fork() -> bool:
    """Whether worker processes can be forked here: a ``fork`` platform (Linux and most Unixes),
    and not inside a daemonic process (a Dask or multiprocessing worker) that may not have any."""
    return (
        "fork" in multiprocessing.get_all_start_methods()
        and not multiprocessing.current_process().daemon
    )


def to_ipc(batch: pa.RecordBatch) -> bytes:
    """One record batch as an Arrow IPC stream (the bytes sent between processes)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


def from_ipc(data: bytes) -> pa.RecordBatch:
    """The record batch of :func:`to_ipc` bytes."""
    return pa.ipc.open_stream(data).read_next_batch()


#: glibc ``mallopt`` parameters: allocations up to 32 MB come from the heap rather than their own
#: ``mmap``, and up to 256 MB of freed heap is kept for the next batch. Judging a batch allocates
#: and frees the same large arrays again and again; returned to the system each time, their
#: pages were faulted in anew (a sixth of a worker's CPU time was in the kernel).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MALLOC_KEEP = ((_M_MMAP_THRESHOLD, 32 << 20), (_M_TRIM_THRESHOLD, 256 << 20))


def keep_freed_memory() -> None:
    """In a process that judges batch after batch (a pool or local Dask worker): let glibc
    keep freed memory for the next batch (see above)."""
    try:
        libc = ctypes.CDLL(None)
        for param, value in _MALLOC_KEEP:
            libc.mallopt(param, value)
    except (OSError, AttributeError):  # not glibc: its own allocator policy stays
        pass


def _start(work: Work) -> None:
    global _WORK
    _WORK = work
    keep_freed_memory()
    # a worker only judges: its BLAS stays on one thread for its whole life
    _WORKER_BLAS.enter_context(single_threaded_blas())


def _ready() -> bool:
    return _WORK is not None


def _run(data: bytes) -> bytes:
    assert _WORK is not None
    return to_ipc(_WORK(from_ipc(data)))


class BatchPool:
    """``workers`` processes applying ``work`` to record batches (see the module doc)."""

    def __init__(self, work: Work, workers: int, ahead: int | None = None) -> None:
        self.workers = check_workers(workers)
        self.ahead = max(1, ahead if ahead is not None else self.workers + 1)
        self.pool = ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_start,
            initargs=(work,),
        )
        # fork every worker now, before this process starts reader threads; with the objects
        # that exist now frozen, the workers' garbage collector leaves their pages shared
        gc.freeze()
        try:
            self._result(self.pool.submit(_ready))
        finally:
            gc.unfreeze()

    def _result(self, future: Future) -> bytes:
        try:
            return future.result()
        except BrokenProcessPool:
            raise KenolibError(
                "a judging process stopped unexpectedly (out of memory or killed); "
                "run again with --workers 1"
            ) from None

    def imap(self, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        """``work`` of every batch, in input order, at most ``ahead`` in flight."""
        pending: deque[Future] = deque()
        try:
            for batch in batches:
                pending.append(self.pool.submit(_run, to_ipc(batch)))
                while len(pending) >= self.ahead:
                    yield from_ipc(self._result(pending.popleft()))
            while pending:
                yield from_ipc(self._result(pending.popleft()))
        finally:
            for f in pending:
                f.cancel()

    def close(self) -> None:
        """Stop the worker processes."""
        self.pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> BatchPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
