"""The Dask engine gives exactly the local engine's output (a 2-worker local cluster)."""

from __future__ import annotations

import pandas as pd
import pytest

from kenolib.cli import main
from kenolib.dask_engine import dask_crossref, partitions
from kenolib.policy import parse_policy
from kenolib.stream import stream_crossref
from kenolib.synth import synth_tickets


@pytest.mark.slow
def test_dask_engine_equals_local_engine_on_200k(tmp_path):
    history = tmp_path / "history.parquet"
    synth_tickets(200_000, seed=5).to_parquet(history, index=False, row_group_size=25_000)
    assert len(partitions([history])) == 8
    clauses = parse_policy().clauses
    local = stream_crossref(history, tmp_path / "local.parquet", clauses)
    dask = dask_crossref(history, tmp_path / "dask.parquet", clauses)
    assert dask.rows == local.rows == 200_000
    assert dask.verdicts == local.verdicts
    assert dask.warnings == local.warnings
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "dask.parquet"), pd.read_parquet(tmp_path / "local.parquet")
    )


def test_dask_engine_on_a_month_dataset_and_its_errors(tmp_path, capsys):
    history = tmp_path / "h.parquet"
    synth_tickets(3000, seed=2).to_parquet(history, index=False, row_group_size=1000)
    out = tmp_path / "judged"
    assert main(["crossref", str(history), "--out", str(out), "--engine", "dask",
                 "--partition", "month"]) == 0  # fmt: skip
    assert len(pd.read_parquet(out)) == 3000
    capsys.readouterr()
    assert main(["crossref", str(history), "--out", str(tmp_path / "o.parquet"),
                 "--scheduler", "tcp://127.0.0.1:1"]) == 2  # fmt: skip
    assert "--engine dask" in capsys.readouterr().err
