"""Atomic, injection-safe output and clear input errors (kenolib.files)."""

from __future__ import annotations

import os
import stat

import pandas as pd
import pytest

from kenolib.errors import KenolibError
from kenolib.files import atomic_path, decode_bytes, neutralise_frame, write_frame


def test_atomic_output_gets_ordinary_permissions_and_no_leftovers(tmp_path):
    old = os.umask(0o022)
    try:
        out = write_frame(pd.DataFrame({"a": [1]}), tmp_path / "x.csv")
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["x.csv"]


def test_failed_write_leaves_previous_file_untouched(tmp_path):
    target = tmp_path / "r.csv"
    target.write_text("previous", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half", encoding="utf-8")
        raise RuntimeError("boom")
    assert target.read_text(encoding="utf-8") == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["r.csv"]


def test_csv_cells_cannot_become_formulas(tmp_path):
    evil = ['=HYPERLINK("http://x","y")', "+1", "@SUM(A1)", "-2+3", "\tx", "\rx", "ok"]
    df = pd.DataFrame({"subject": evil, "n": range(len(evil))})
    out = write_frame(df, tmp_path / "t.csv")
    back = pd.read_csv(out, keep_default_na=False)
    assert all(v.startswith("'") for v in back["subject"][:-1])
    assert back["subject"].iloc[-1] == "ok"
    assert back["n"].tolist() == list(range(len(evil)))  # numbers untouched
    assert neutralise_frame(df)["subject"].iloc[3] == "'-2+3"


def test_decode_rejects_undecodable_bytes():
    with pytest.raises(KenolibError, match="re-save the file as UTF-8"):
        decode_bytes(b"abc \x81\x8d\x8f\x90 def", "x.txt")


def test_xlsx_output_past_excel_row_limit_is_refused(tmp_path, monkeypatch):
    import kenolib.files as files

    monkeypatch.setattr(files, "EXCEL_MAX_ROWS", 3)
    out = tmp_path / "big.xlsx"
    with pytest.raises(KenolibError, match="do not fit Excel"):
        write_frame(pd.DataFrame({"a": range(3)}), out)
    assert not out.exists()
    write_frame(pd.DataFrame({"a": range(2)}), out)  # header + 2 rows fit
    assert out.exists()
