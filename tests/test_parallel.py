"""Judging on worker processes (``--workers``): the same output, in order, the same errors."""

from __future__ import annotations

import os

import pandas as pd
import pyarrow as pa
import pytest

from kenolib import config
from kenolib.classify import crossref
from kenolib.classify import judge as J
from kenolib.classify.parallel import BatchPool, check_workers
from kenolib.cli import main
from kenolib.errors import KenolibError
from kenolib.policy import parse_policy
from kenolib.stream import stream_crossref
from kenolib.synth import synth_tickets
from kenolib.tickets import load_tickets

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="worker processes are forked")


@pytest.fixture(scope="module")
def clauses():
    return parse_policy().clauses


@pytest.fixture
def small_batches(monkeypatch):
    """Many batches however small the frame, so that the pool gets several at once."""
    monkeypatch.setattr(J, "BATCH_ROWS", 400)


def test_parallel_crossref_equals_serial_on_the_sample(clauses, small_batches):
    tickets = load_tickets(config.SAMPLE_TICKETS)
    serial = crossref(tickets, clauses, workers=1)
    done: list[int] = []
    parallel = crossref(tickets, clauses, workers=2, progress=done.append)
    pd.testing.assert_frame_equal(parallel, serial)
    assert sum(done) == len(tickets) == 3000
    assert parallel["ticket_id"].tolist() == tickets["ticket_id"].astype(str).tolist()


def test_parallel_crossref_equals_serial_on_a_synthetic_history(clauses, small_batches):
    tickets = synth_tickets(6000, seed=11)
    tickets.loc[::7, "product"] = None  # missing labels travel as the rules read them
    serial = crossref(tickets, clauses, workers=1)
    pd.testing.assert_frame_equal(crossref(tickets, clauses, workers=3), serial)


def test_streamed_with_workers_equals_serial_in_order(tmp_path, clauses):
    outs = {}
    for workers in (1, 2):
        out = tmp_path / f"judged_{workers}.parquet"
        run = stream_crossref(config.SAMPLE_TICKETS, out, clauses, batch_rows=350, workers=workers)
        assert run.rows == 3000
        outs[workers] = pd.read_parquet(out)
    pd.testing.assert_frame_equal(outs[2], outs[1])
    ids = load_tickets(config.SAMPLE_TICKETS)["ticket_id"].astype(str).tolist()
    assert outs[2]["ticket_id"].tolist() == ids


def _boom(*args, **kwargs):
    raise KenolibError("a batch could not be judged: boom")


def test_a_worker_error_is_the_serial_error(tmp_path, clauses, small_batches, monkeypatch, capsys):
    monkeypatch.setattr(J, "judge_columns", _boom)  # inherited by the forked workers
    tickets = load_tickets(config.SAMPLE_TICKETS)
    for workers in (1, 2):
        with pytest.raises(KenolibError, match="^a batch could not be judged: boom$"):
            crossref(tickets, clauses, workers=workers)
    messages = []
    for workers in ("1", "2"):
        out = tmp_path / f"x{workers}.parquet"
        args = ["crossref", str(config.SAMPLE_TICKETS), "--out", str(out), "--workers", workers]
        assert main(args) == 2
        assert not out.exists()
        messages.append(capsys.readouterr().err)
    assert messages[0] == messages[1] == "kenolib: error: a batch could not be judged: boom\n"


@pytest.mark.parametrize("workers", ["0", "-2"])
def test_workers_below_one_are_refused(tmp_path, workers, capsys):
    out = tmp_path / "x.parquet"
    assert (
        main(["crossref", str(config.SAMPLE_TICKETS), "--out", str(out), "--workers", workers]) == 2
    )
    err = capsys.readouterr().err
    assert (
        err.startswith(f"kenolib: error: --workers {workers}: give 1 or more")
        and err.count("\n") == 1
    )
    assert not out.exists()
    with pytest.raises(KenolibError):
        check_workers(int(workers))
    assert check_workers(None) == config.usable_cores() >= 1


def test_workers_with_the_dask_engine_are_refused(tmp_path, capsys):
    out = tmp_path / "x.parquet"
    args = ["crossref", str(config.SAMPLE_TICKETS), "--out", str(out), "--engine", "dask"]
    assert main([*args, "--workers", "2"]) == 2
    assert "--workers is for --engine local" in capsys.readouterr().err


def _die(batch: pa.RecordBatch) -> pa.RecordBatch:
    os._exit(3)


def test_a_dead_worker_is_a_clear_error():
    batch = pa.record_batch({"x": pa.array([1, 2, 3])})
    with BatchPool(_die, 2) as pool, pytest.raises(KenolibError, match="stopped unexpectedly"):
        list(pool.imap([batch, batch]))


def test_the_pool_keeps_order_and_bounds_what_is_in_flight():
    sent: list[int] = []

    def batches():
        for i in range(20):
            sent.append(i)
            yield pa.record_batch({"x": pa.array([i] * (i + 1))})

    def double(b: pa.RecordBatch) -> pa.RecordBatch:
        return pa.record_batch({"x": pa.compute.multiply(b.column(0), 2)})

    with BatchPool(double, 2, ahead=3) as pool:
        for i, out in enumerate(pool.imap(batches())):
            assert out.column(0).to_pylist() == [2 * i] * (i + 1)
            assert len(sent) <= i + 3


def test_blas_runs_on_one_thread_while_judging_and_is_restored_after():
    """Judging limits numpy's BLAS to one thread (batches already run in parallel): set from
    the main thread, which every batch thread then follows, re-entrant, and given back when
    the outermost use ends. A batch thread's own use changes nothing."""
    import threading

    import numpy as np  # noqa: F401  (loads the BLAS threadpoolctl looks for)
    from threadpoolctl import threadpool_info, threadpool_limits

    from kenolib.classify.parallel import single_threaded_blas

    def blas_threads() -> set[int]:
        return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    if not blas_threads():
        pytest.skip("no BLAS library found by threadpoolctl")
    with threadpool_limits(limits=2, user_api="blas"):
        seen: list[set[int]] = []

        def batch() -> None:
            with single_threaded_blas():
                seen.append(blas_threads())

        alone = threading.Thread(target=batch)
        alone.start()
        alone.join()
        assert seen == [{2}]  # a thread's own use leaves the setting alone
        with single_threaded_blas():
            with single_threaded_blas():  # re-entrant
                workers = [threading.Thread(target=batch) for _ in range(3)]
                for w in workers:
                    w.start()
                for w in workers:
                    w.join()
            assert blas_threads() == {1}
        assert seen[1:] == [{1}, {1}, {1}]
        assert blas_threads() == {2}
