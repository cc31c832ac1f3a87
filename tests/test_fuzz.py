"""Property-based hostile input (Hypothesis): random bytes, random CSV and xlsx structures and
random mutations of the seed policy fed to the loaders and the parser.

Asserted: no exception but KenolibError; every accepted file keeps its rows, in order; no
formula survives in CSV output. ``KENOLIB_FUZZ=long`` (``make fuzz``) runs many more examples.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from kenolib.errors import KenolibError
from kenolib.files import FORMULA_RE, neutralise_frame, write_frame
from kenolib.policy import parse_policy_bytes, split_lines
from kenolib.tickets import load_tickets
from tests.conftest import SEED

settings.register_profile(
    "fast", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "long", max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("KENOLIB_FUZZ", "fast"))

SEED_BYTES = SEED.read_bytes()
#: Cell text: printable text, formula signs, controls, NUL, quotes, separators, line breaks.
HOSTILE_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8", exclude_categories=("Cs",)),
        st.sampled_from(list('=+-@\t\r\n\x00\x1b\x07",;\u00a0\u3000\uff1d<>&\ufeff')),
    ),
    max_size=40,
)


#: Every example's scratch folder, removed when the module's tests are done (Hypothesis runs a
#: test body many times, so a function-scoped ``tmp_path`` does not fit).
_MADE: list[Path] = []


def _tmpdir() -> Path:
    d = Path(tempfile.mkdtemp(prefix="kenolib-fuzz-"))
    _MADE.append(d)
    return d


@pytest.fixture(scope="module", autouse=True)
def _remove_scratch_folders():
    yield
    for d in _MADE:
        shutil.rmtree(d, ignore_errors=True)
    _MADE.clear()


def _check_csv_output(df: pd.DataFrame, d: Path) -> None:
    out = write_frame(df, d / "out.csv")
    with out.open(encoding="utf-8", newline="") as fh:
        for row in csv.reader(fh):
            assert not any(FORMULA_RE.match(c) for c in row), row


@given(
    data=st.binary(max_size=600), name=st.sampled_from(["t.csv", "t.csv.gz", "t.xlsx", "t.parquet"])
)
def test_random_bytes_never_crash_the_loader(data, name):
    d = _tmpdir()
    (d / name).write_bytes(data)
    try:
        df = load_tickets(d / name)
    except KenolibError as exc:
        assert "\n" not in str(exc)
        return
    _check_csv_output(df, d)


@given(
    rows=st.lists(st.lists(HOSTILE_TEXT, min_size=3, max_size=3), max_size=12),
    delimiter=st.sampled_from([",", ";", "\t"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]),
)
def test_random_csv_keeps_every_row_in_order(rows, delimiter, encoding):
    d = _tmpdir()
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, quoting=csv.QUOTE_ALL)
    w.writerow(["ticket_id", "created_at", "subject", "body"])
    for i, r in enumerate(rows):
        w.writerow([f"T{i}", *r])
    text = buf.getvalue()
    (d / "t.csv").write_bytes(text.encode(encoding, errors="surrogatepass"))
    try:
        df = load_tickets(d / "t.csv", fmt="generic")
    except KenolibError as exc:
        assert "\n" not in str(exc)
        return
    assert df["ticket_id"].tolist() == [f"T{i}" for i in range(len(rows))]
    _check_csv_output(df, d)


CELL = st.one_of(
    st.none(),
    HOSTILE_TEXT,
    st.integers(-(10**9), 10**9),
    st.floats(allow_nan=False, allow_infinity=False),
    st.dates(),
)


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(rows=st.lists(st.lists(CELL, max_size=5), max_size=8))
def test_random_xlsx_keeps_every_row_in_order(rows):
    d = _tmpdir()
    wb = Workbook()
    ws = wb.active
    ws.append(["ticket_id", "created_at", "subject", "body"])
    for i, r in enumerate(rows):
        clean = [
            v.translate({c: None for c in range(32) if c not in (9, 10, 13)})
            if isinstance(v, str)
            else v
            for v in r
        ]
        ws.append([f"T{i}", *clean])
    wb.save(d / "t.xlsx")
    try:
        df = load_tickets(d / "t.xlsx", fmt="generic")
    except KenolibError as exc:
        assert "\n" not in str(exc)
        return
    assert df["ticket_id"].tolist() == [f"T{i}" for i in range(len(rows))]
    _check_csv_output(df, d)


@st.composite
def mutated_policy(draw) -> bytes:
    data = bytearray(SEED_BYTES)
    for _ in range(draw(st.integers(1, 8))):
        pos = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["insert", "delete", "flip", "dup_line"]))
        if op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 400))]
        elif op == "flip" and pos < len(data):
            data[pos] ^= draw(st.integers(1, 255))
        else:
            start = data.rfind(b"\n", 0, pos) + 1
            end = data.find(b"\n", pos)
            data[pos:pos] = data[start : end + 1 if end >= 0 else len(data)]
    return bytes(data)


@given(data=mutated_policy())
def test_mutated_policy_parses_losslessly_or_is_refused(data):
    try:
        parsed = parse_policy_bytes(data, "mutated.txt")
    except KenolibError as exc:
        assert "\n" not in str(exc)
        return
    assert parsed.rebuild() == parsed.text
    assert len(parsed.elements) == len(split_lines(parsed.text))  # one element per line
    out = neutralise_frame(parsed.clauses)
    for col in ("heading", "text"):
        assert not out[col].astype(str).str.match(FORMULA_RE.pattern).any()


@given(values=st.lists(HOSTILE_TEXT, max_size=20))
def test_neutralised_text_never_starts_a_formula(values):
    out = neutralise_frame(pd.DataFrame({"s": values}))
    for v in out["s"]:
        assert not FORMULA_RE.match(v) or v.startswith("'")
