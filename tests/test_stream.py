"""Streaming crossref, ticket datasets in and out, accumulated aggregates, report --judged."""

from __future__ import annotations

import gzip

import pandas as pd
import pytest

from kenolib import aggregates as A
from kenolib import config, record_batches
from kenolib.aggregates_stream import Accumulator, accumulate_judged
from kenolib.classify import crossref
from kenolib.cli import main
from kenolib.policy import parse_policy
from kenolib.stream import stream_crossref
from kenolib.tickets import load_tickets, open_tickets


@pytest.fixture(scope="module")
def clauses():
    return parse_policy().clauses


@pytest.fixture(scope="module")
def sample_xref(clauses):
    return crossref(load_tickets(config.SAMPLE_TICKETS), clauses)


@pytest.fixture
def streaming(monkeypatch):
    """Every CSV through the streaming reader (small blocks), however small the file."""
    monkeypatch.setattr(record_batches, "STREAM_MIN_BYTES", 0)
    monkeypatch.setattr(record_batches, "BLOCK_BYTES", 1 << 16)


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        a.reset_index(drop=True), b.reset_index(drop=True), check_dtype=False
    )


def test_streamed_crossref_equals_whole_frame(tmp_path, clauses, sample_xref, streaming):
    out = tmp_path / "judged.parquet"
    run = stream_crossref(config.SAMPLE_TICKETS, out, clauses, batch_rows=700)
    assert run.rows == len(sample_xref) == 3000
    back = pd.read_parquet(out)
    whole = pd.read_parquet(_parquet(sample_xref, tmp_path / "whole.parquet"))
    pd.testing.assert_frame_equal(back, whole)
    # warnings are counted over every batch, not repeated per batch
    assert len([w for w in run.warnings if "matching no product" in w]) == 1
    assert "296 tickets" in run.warnings[0]


def _parquet(df: pd.DataFrame, path):
    df.to_parquet(path, index=False)
    return path


def test_streamed_csv_keeps_the_hostile_input_guarantees(tmp_path, streaming):
    rows = ['"ticket_id","created_at","product","subject","body"']
    for i in range(3000):
        body = f"line one\nline two {i}" if i % 7 else "caf\xe9 cp1252"
        rows.append(f'"T{i}","2024-01-{1 + i % 28:02d}","VPS","Subject {i}","{body}"')
    rows[1500] = '"T1499x","2024-01-01","VPS","too","many","fields"'
    data = "\n".join(rows).encode("utf-8").replace(b"\xc3\xa9", b"\xe9") + b"\n"
    data = data.replace(b"Subject 10", b"Sub\x00ject 10")
    src = tmp_path / "t.csv.gz"
    src.write_bytes(gzip.compress(data))
    stream = open_tickets(src, quarantine=tmp_path / "bad.csv", batch_rows=400)
    df = pd.concat(list(stream), ignore_index=True)
    assert len(df) == 2999 and df["ticket_id"].iloc[-1] == "T2999"
    assert "T1499x" not in set(df["ticket_id"])
    assert df.loc[df["ticket_id"] == "T0", "body"].iloc[0] == "café cp1252"
    assert "Subject 10" in set(df["subject"])
    text = " ".join(stream.warnings)
    assert "NUL byte" in text and "cp1252" in text and "1 malformed row" in text
    bad = pd.read_csv(tmp_path / "bad.csv")
    whole = load_tickets(src, quarantine=tmp_path / "bad2.csv")  # the in-memory reader
    assert bad["line"].tolist() == pd.read_csv(tmp_path / "bad2.csv")["line"].tolist()
    _same(df, whole)
    with pytest.raises(Exception, match="malformed"):
        list(open_tickets(src, batch_rows=400))


def _monthly_files(tmp_path, sample: pd.DataFrame) -> list:
    raw = sample.copy()
    month = pd.to_datetime(raw["created_at"]).dt.strftime("%Y-%m")
    d = tmp_path / "exports"
    d.mkdir()
    files = []
    for m in sorted(month.unique())[:3]:
        f = d / f"tickets_{m}.csv"
        raw[month == m].to_csv(f, index=False)
        files.append(f)
    return files


def test_a_directory_of_monthly_exports_and_an_odd_file(tmp_path, capsys):
    sample = pd.read_csv(config.SAMPLE_TICKETS, dtype=str, keep_default_na=False)
    files = _monthly_files(tmp_path, sample)
    out = tmp_path / "judged"
    assert main(["crossref", str(files[0].parent), "--out", str(out), "--partition", "month"]) == 0
    judged = pd.read_parquet(out)
    parts = pd.concat([pd.read_csv(f, dtype=str) for f in files], ignore_index=True)
    assert sorted(judged["ticket_id"]) == sorted(parts["ticket_id"])
    assert len({p.name for p in out.iterdir()}) == 3
    # a glob gives the same rows; a file with another header is named in one line
    glob_out = tmp_path / "glob.parquet"
    assert main(["crossref", str(files[0].parent / "*.csv"), "--out", str(glob_out)]) == 0
    assert len(pd.read_parquet(glob_out)) == len(parts)
    odd = files[0].parent / "tickets_9999-99.csv"
    sample.head(5).rename(columns={"subject": "title"}).to_csv(odd, index=False)
    capsys.readouterr()
    assert main(["crossref", str(files[0].parent), "--out", str(tmp_path / "x.parquet")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "tickets_9999-99.csv" in err[0] and "same header" in err[0]
    assert not (tmp_path / "x.parquet").exists()
    # a dataset output is never written into a non-empty directory
    assert main(["crossref", str(files[0]), "--out", str(out), "--partition", "month"]) == 2


def test_csv_output_streams_in_order(tmp_path, clauses, sample_xref, streaming):
    out = tmp_path / "judged.csv"
    stream_crossref(config.SAMPLE_TICKETS, out, clauses, batch_rows=999)
    back = pd.read_csv(out, dtype={"ticket_id": str})
    assert back["ticket_id"].tolist() == sample_xref["ticket_id"].tolist()
    assert back["verdict"].tolist() == sample_xref["verdict"].tolist()


def test_accumulated_aggregates_equal_the_whole_frame_ones(sample_xref):
    acc = Accumulator()
    for start in range(0, len(sample_xref), 317):
        acc.add(sample_xref.iloc[start : start + 317])
    x = sample_xref
    pairs = [
        (A.verdict_by_product(x), acc.verdict_by_product()),
        (A.monthly_out_of_scope(x), acc.monthly_out_of_scope()),
        (A.out_of_scope_hours(x, 45), acc.out_of_scope_hours(45)),
        (A.silent_topics(x, 3), acc.silent_topics()),
        (A.tickets_by_topic(x), acc.tickets_by_topic()),
        (A.out_of_scope_estimate(x, 45), acc.out_of_scope_estimate(45)),
    ]
    for whole, merged in pairs:  # the estimate's sums are exact: no rounding edge either
        pd.testing.assert_frame_equal(whole, merged, check_exact=True)
    whole, merged = pairs[-1]
    assert whole["tickets"].equals(merged["tickets"]) and whole["out_of_scope"].equals(
        merged["out_of_scope"]
    )
    assert acc.needs_review == int(x["needs_review"].sum())
    assert acc.out_of_scope_total == int((x["verdict"] == "not_supported").sum())


def test_report_from_a_judged_dataset(tmp_path, sample_xref, capsys):
    out = tmp_path / "judged"
    assert (
        main(["crossref", str(config.SAMPLE_TICKETS), "--out", str(out), "--partition", "month"])
        == 0
    )
    acc = accumulate_judged(out, batch_rows=500)
    assert acc.rows == len(sample_xref)
    _same(acc.verdict_by_product(), A.verdict_by_product(sample_xref))
    _same(acc.monthly_out_of_scope(), A.monthly_out_of_scope(sample_xref))
    assert main(["report", "--judged", str(out), "--out-dir", str(tmp_path / "rep")]) == 0
    assert (tmp_path / "rep" / "kenotronix_support_report.html").exists()
    assert main(["report", "--judged", str(tmp_path / "nope"), "--out-dir", str(tmp_path)]) == 2
