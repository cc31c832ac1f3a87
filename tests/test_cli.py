"""The command line: outputs by extension, read back; user errors exit 2 with one line."""

from __future__ import annotations

import subprocess
import sys

import openpyxl
import pandas as pd
import pytest

from kenolib.cli import main


@pytest.mark.parametrize("ext", ["csv", "xlsx", "parquet"])
def test_clauses_and_coverage_round_trip(tmp_path, ext, capsys):
    out = tmp_path / f"clauses.{ext}"
    assert main(["clauses", "--out", str(out)]) == 0
    reader = {"csv": pd.read_csv, "xlsx": pd.read_excel, "parquet": pd.read_parquet}[ext]
    df = reader(out)
    assert len(df) == 127 and "topic" in df.columns
    cov = tmp_path / f"coverage.{ext}"
    assert main(["coverage", "--out", str(cov)]) == 0
    assert set(reader(cov)["status"]) == {"supported", "not_supported", "conditional", "silent"}
    assert str(cov) in capsys.readouterr().out


def test_xlsx_has_frozen_header(tmp_path):
    out = tmp_path / "c.xlsx"
    assert main(["clauses", "--out", str(out)]) == 0
    ws = openpyxl.load_workbook(out).active
    assert ws.freeze_panes == "A2"
    assert ws["A1"].value == "clause_id"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kenolib.cli", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    "content,needle",
    [(b"", "empty"), (b"\x00\x01\x02binary", "binary"), (b"just some prose\n", "no policy")],
)
def test_bad_policy_exits_2_with_one_line(tmp_path, content, needle):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(content)
    res = run_cli("clauses", "--policy", str(bad), "--out", str(tmp_path / "o.csv"))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and str(bad) in lines[0]
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "o.csv").exists()


def test_refuses_to_overwrite_input_and_unknown_extension(tmp_path, seed_text, capsys):
    src = tmp_path / "policy.csv"
    src.write_text(seed_text, encoding="utf-8")
    assert main(["clauses", "--policy", str(src), "--out", str(src)]) == 2
    assert "overwrite the input" in capsys.readouterr().err
    assert src.read_text(encoding="utf-8") == seed_text
    assert main(["clauses", "--out", str(tmp_path / "c.txt")]) == 2
    assert "unknown output extension" in capsys.readouterr().err


def test_findings_command(tmp_path):
    out = tmp_path / "f.csv"
    assert main(["findings", "--out", str(out)]) == 0
    df = pd.read_csv(out)
    assert (df["kind"] == "contradiction").sum() == 3
