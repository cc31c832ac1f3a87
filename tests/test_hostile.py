"""Hostile input through the command line: every case of ``tests/hostile_corpus.py`` ends in
exit 2 with one line naming the file, or in success with every row kept, in order, and no
live formula in the output; no traceback, no hang. Plus the library-level details."""

from __future__ import annotations

import errno
import gzip
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from kenolib import files, safeio
from kenolib.cli import main
from kenolib.errors import KenolibError, escape_control
from kenolib.readers import read_table
from kenolib.tickets import load_tickets
from tests.hostile_corpus import CASES, HEADER, Outcome, rows_csv, run_case, ticket_rows


@pytest.fixture(scope="module")
def outcomes() -> dict[str, Outcome]:
    """Every corpus case run once, two at a time (each is a subprocess)."""
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(2) as pool:
        dirs = [Path(tmp) / f"case{i}" for i in range(len(CASES))]
        return {o.case.name: o for o in pool.map(run_case, CASES, dirs)}


@pytest.mark.parametrize("name", [c.name for c in CASES])
def test_hostile_case_ends_as_promised(outcomes, name):
    o = outcomes[name]
    if o.skipped:
        pytest.skip("root reads and writes anything: see the faked EACCES tests below")
    assert o.ok, "; ".join(o.problems)
    assert not (o.traceback or o.hang or o.rows_lost or o.corrupt or o.injections)


def test_quarantine_file_names_the_line(tmp_path):
    rows = ticket_rows(10)
    rows[4] = rows[4] + ["extra"]
    rows[7] = rows[7][:2]
    rows_csv(tmp_path / "t.csv", rows)
    df = load_tickets(tmp_path / "t.csv", quarantine=tmp_path / "q.csv")
    assert df["ticket_id"].tolist() == [f"T{i}" for i in range(10) if i not in (4, 7)]
    assert df.attrs["quarantined"] == 2
    q = pd.read_csv(tmp_path / "q.csv")
    assert q["line"].tolist() == [6, 9]
    assert q["fields_found"].tolist() == [6, 2]
    with pytest.raises(KenolibError, match=r"line 6 has 6 field\(s\).*2 malformed"):
        load_tickets(tmp_path / "t.csv")


def test_unreadable_input_and_output_faked_eacces(tmp_path, monkeypatch, capsys):
    rows_csv(tmp_path / "t.csv", ticket_rows(2))
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False)
    with pytest.raises(KenolibError, match="permission denied"):
        load_tickets(tmp_path / "t.csv")
    assert main(["clauses", "--out", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "permission denied" in err[0]
    monkeypatch.setattr(os, "access", real_access)

    def denied(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path))

    monkeypatch.setattr(files.tempfile, "mkstemp", denied)
    with pytest.raises(KenolibError, match="cannot write here"):
        files.write_frame(pd.DataFrame({"a": [1]}), tmp_path / "x.csv")
    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(KenolibError, match="cannot read"):
        load_tickets(tmp_path / "t.csv")


def test_escape_control_keeps_one_visible_line():
    text = "id\x1b[31m\x07\r\nnext\x9b\u202eevil\ttab"
    out = escape_control(text)
    assert out == "id\\x1b[31m\\x07\\r\\nnext\\x9b\\u202eevil\\ttab"
    assert escape_control(out) == out


def test_cp1252_byte_does_not_turn_utf8_into_mojibake(tmp_path):
    rows = ticket_rows(3)
    rows[0][4] = "Zürich ✔ café"
    rows_csv(tmp_path / "t.csv", rows)
    data = (tmp_path / "t.csv").read_bytes().replace(b"ticket 2", b"ticket \x93two\x94")
    (tmp_path / "t.csv").write_bytes(data)
    df = load_tickets(tmp_path / "t.csv")
    assert df.loc[0, "body"] == "Zürich ✔ café"
    assert df.loc[2, "subject"] == "ticket \u201ctwo\u201d"
    assert any("2 byte sequence(s) on 1 line(s)" in w for w in df.attrs["warnings"])


def test_nul_bytes_removed_from_the_cell_only(tmp_path):
    rows = ticket_rows(3)
    rows[1][3] = "hel\x00lo"
    rows_csv(tmp_path / "t.csv", rows)
    df = load_tickets(tmp_path / "t.csv")
    assert df["subject"].tolist() == ["ticket 0", "hello", "ticket 2"]
    assert any("removed 1 NUL byte(s)" in w for w in df.attrs["warnings"])


def test_dates_offsets_to_utc_and_out_of_range_counted(tmp_path):
    created = ["2025-01-01T10:00:00+02:00", "2025-01-01 10:00", "3000-01-01", "0001-01-01"]
    rows = [[f"T{i}", c, "", "s", "b"] for i, c in enumerate(created)]
    rows_csv(tmp_path / "t.csv", rows)
    df = load_tickets(tmp_path / "t.csv")
    assert df.loc[0, "created_at"] == pd.Timestamp("2025-01-01 08:00")
    assert df.loc[1, "created_at"] == pd.Timestamp("2025-01-01 10:00")
    assert df["created_at"].isna().tolist() == [False, False, True, True]
    assert any("2 of 4 values" in w for w in df.attrs["warnings"])


def test_gzip_cap_counts_real_bytes(monkeypatch, tmp_path):
    monkeypatch.setattr(safeio, "MAX_DECOMPRESSED_BYTES", 1000)
    rows_csv(tmp_path / "t.csv", ticket_rows(100))
    (tmp_path / "t.csv.gz").write_bytes(gzip.compress((tmp_path / "t.csv").read_bytes()))
    with pytest.raises(KenolibError, match="more than 1,000 bytes"):
        read_table(tmp_path / "t.csv.gz")


def test_csv_output_neutralises_formulas_after_spaces(tmp_path):
    evil = [" =1+2", "\u00a0=HYPERLINK(1)", "\u3000@SUM(A1)", "\uff1d1", "a = b", "  fine"]
    out = files.write_frame(pd.DataFrame({"s": evil}), tmp_path / "o.csv")
    back = pd.read_csv(out, keep_default_na=False)["s"].tolist()
    assert [v.startswith("'") for v in back] == [True, True, True, True, False, False]


def test_xlsx_output_refuses_too_many_columns(tmp_path):
    df = pd.DataFrame([range(files.EXCEL_MAX_COLUMNS + 1)])
    with pytest.raises(KenolibError, match="columns do not fit"):
        files.write_frame(df, tmp_path / "o.xlsx")
    assert not (tmp_path / "o.xlsx").exists()


def test_semicolon_header_longer_than_64k(tmp_path):
    header = HEADER + [f"field {i}" for i in range(8000)]
    rows_csv(tmp_path / "t.csv", [r + ["x"] * 8000 for r in ticket_rows(2)], header, delimiter=";")
    df = load_tickets(tmp_path / "t.csv")
    assert len(df) == 2 and "field 7999" in df.columns
