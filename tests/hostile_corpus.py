"""A corpus of hostile inputs made on the fly (no binary blobs), run through the command line.

Each case builds its files in a directory and names the ``kenolib`` command to run. Running a
case (a subprocess with a timeout) gives an :class:`Outcome`: whether it ended as promised
(exit 2 with one line naming the file, or exit 0 with every row kept in order and the warning
expected), and the census figures: traceback, hang, rows lost, corrupt output, injection.
Used by ``tests/test_hostile.py`` and ``benchmarks/hostile_census.py``.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from openpyxl import Workbook, load_workbook

ROOT = Path(__file__).resolve().parents[1]
HEADER = ["ticket_id", "created_at", "product", "subject", "body"]
#: A cell that a spreadsheet would run: a formula sign after optional (no-break) spaces.
LIVE_FORMULA = re.compile("^[ \t\u00a0\u3000]*[=+\\-@\uff1d]|^[\t\r\n]")
TIMEOUT = 90


@dataclass
class Case:
    """One hostile input: how to build it and what must happen."""

    category: str
    name: str
    build: Callable[[Path], list[str]]  # makes the files, returns the CLI arguments
    expect: str = "error"  # "error": exit 2, one line; "ok": exit 0
    needle: str = ""  # text the error line or a warning must hold
    ids: list[str] | None = None  # ok cases: the ticket ids the output must hold, in order
    needs_non_root: bool = False  # permission cases: root reads and writes anything


@dataclass
class Outcome:
    """What running one case gave, and the census figures."""

    case: Case
    returncode: int | None
    stderr: str
    stdout: str
    problems: list[str] = field(default_factory=list)
    traceback: bool = False
    hang: bool = False
    rows_lost: int = 0
    corrupt: bool = False
    injections: int = 0
    skipped: bool = False

    @property
    def ok(self) -> bool:
        """Whether the case ended as promised."""
        return not self.problems


def rows_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER, **kw) -> None:
    """Write a CSV (UTF-8) with ``csv.writer``."""
    buf = io.StringIO()
    w = csv.writer(buf, **kw)
    w.writerow(header)
    w.writerows(rows)
    path.write_bytes(buf.getvalue().encode("utf-8"))


def ticket_rows(n: int, prefix: str = "T") -> list[list[str]]:
    """``n`` plausible ticket rows."""
    return [
        [f"{prefix}{i}", "2025-03-01 10:00", "Web Hosting", f"ticket {i}", "my site is slow"]
        for i in range(n)
    ]


def ids(n: int, prefix: str = "T") -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


def crossref_args(inp: Path, out: Path, *extra: str) -> list[str]:
    return ["crossref", str(inp), "--out", str(out), *extra]


# ------------------------------------------------------------------------------ special files
def _fifo(d: Path) -> list[str]:
    os.mkfifo(d / "t.csv")
    return crossref_args(d / "t.csv", d / "o.csv")


def _fifo_policy(d: Path) -> list[str]:
    os.mkfifo(d / "p.txt")
    return ["clauses", "--policy", str(d / "p.txt"), "--out", str(d / "o.csv")]


def _unreadable(d: Path) -> list[str]:
    rows_csv(d / "t.csv", ticket_rows(3))
    (d / "t.csv").chmod(0)
    return crossref_args(d / "t.csv", d / "o.csv")


def _out_dir_readonly(d: Path) -> list[str]:
    rows_csv(d / "t.csv", ticket_rows(3))
    (d / "ro").mkdir()
    (d / "ro").chmod(0o555)
    return crossref_args(d / "t.csv", d / "ro" / "o.csv")


def _out_parent_is_file(d: Path) -> list[str]:
    rows_csv(d / "t.csv", ticket_rows(3))
    (d / "afile").write_text("x", encoding="utf-8")
    return crossref_args(d / "t.csv", d / "afile" / "sub" / "o.csv")


def _directory(d: Path) -> list[str]:
    (d / "t.csv").mkdir()
    return crossref_args(d / "t.csv", d / "o.csv")


SPECIAL = [
    Case("special files", "named pipe as tickets", _fifo, needle="named pipe"),
    Case("special files", "named pipe as policy", _fifo_policy, needle="named pipe"),
    Case(
        "special files",
        "character device as tickets",
        lambda d: crossref_args(Path("/dev/zero"), d / "o.csv"),
        needle="character device",
    ),
    Case("special files", "directory as tickets", _directory, needle="directory"),
    Case(
        "special files", "unreadable tickets", _unreadable, needle="permission", needs_non_root=True
    ),
    Case(
        "special files",
        "read-only output dir",
        _out_dir_readonly,
        needle="permission",
        needs_non_root=True,
    ),
    Case("special files", "output parent is a file", _out_parent_is_file, needle="not a directory"),
    Case(
        "special files",
        "output is the input",
        lambda d: (rows_csv(d / "t.csv", ticket_rows(2)), crossref_args(d / "t.csv", d / "t.csv"))[
            1
        ],
        needle="overwrite",
    ),
]


# ------------------------------------------------------------------------------ bytes and text
def _one_nul(d: Path) -> list[str]:
    rows = ticket_rows(2000)
    rows[1234][4] = "my site\x00 is down"
    rows_csv(d / "t.csv", rows)
    return crossref_args(d / "t.csv", d / "o.csv")


def _binary(d: Path) -> list[str]:
    (d / "t.csv").write_bytes(np.random.default_rng(1).bytes(20000))
    return crossref_args(d / "t.csv", d / "o.csv")


def _one_cp1252(d: Path) -> list[str]:
    rows = ticket_rows(50)
    rows[3][4] = "Ünïcödé stays ✔"
    rows_csv(d / "t.csv", rows)
    data = (d / "t.csv").read_bytes().replace(b"ticket 40", b"ticket\x92 40")
    (d / "t.csv").write_bytes(data)
    return crossref_args(d / "t.csv", d / "o.csv")


def _utf16(d: Path) -> list[str]:
    buf = io.StringIO()
    csv.writer(buf, delimiter="\t").writerows([HEADER, *ticket_rows(5)])
    (d / "t.csv").write_bytes(buf.getvalue().encode("utf-16"))
    return crossref_args(d / "t.csv", d / "o.csv")


def _policy_nul(d: Path) -> list[str]:
    text = (ROOT / "data" / "raw" / "kenotronix_support_policy.txt").read_bytes()
    (d / "p.txt").write_bytes(text[:500] + b"\x00" + text[500:])
    return ["clauses", "--policy", str(d / "p.txt"), "--out", str(d / "o.csv")]


def _png_policy(d: Path) -> list[str]:
    (d / "p.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 20)
    return ["clauses", "--policy", str(d / "p.txt"), "--out", str(d / "o.csv")]


TEXT = [
    Case("bytes and text", "one NUL byte in a body", _one_nul, "ok", "NUL", ids(2000)),
    Case("bytes and text", "random bytes", _binary, needle="binary"),
    Case("bytes and text", "one cp1252 byte in UTF-8", _one_cp1252, "ok", "1 line", ids(50)),
    Case("bytes and text", "UTF-16 export", _utf16, "ok", "", ids(5)),
    Case("bytes and text", "NUL byte in the policy", _policy_nul, "ok", "NUL"),
    Case("bytes and text", "PNG as the policy", _png_policy, needle="binary"),
    Case(
        "bytes and text",
        "empty export",
        lambda d: ((d / "t.csv").write_bytes(b""), crossref_args(d / "t.csv", d / "o.csv"))[1],
        needle="empty",
    ),
]


# ------------------------------------------------------------------------------ compressed
def _gz(d: Path, mutate: Callable[[bytes], bytes]) -> list[str]:
    buf = io.StringIO()
    csv.writer(buf).writerows([HEADER, *ticket_rows(500)])
    (d / "t.csv.gz").write_bytes(mutate(gzip.compress(buf.getvalue().encode())))
    return crossref_args(d / "t.csv.gz", d / "o.csv")


def _corrupt(b: bytes) -> bytes:
    mid = len(b) // 2
    return b[:mid] + bytes(x ^ 0x55 for x in b[mid : mid + 40]) + b[mid + 40 :]


def _bomb(d: Path) -> list[str]:
    comp = gzip.compress(b"a" * 300_000_000, 9)
    (d / "t.csv.gz").write_bytes(comp)
    return crossref_args(d / "t.csv.gz", d / "o.csv")


def _gz_named_csv(d: Path) -> list[str]:
    buf = io.StringIO()
    csv.writer(buf).writerows([HEADER, *ticket_rows(7)])
    (d / "t.csv").write_bytes(gzip.compress(buf.getvalue().encode()))
    return crossref_args(d / "t.csv", d / "o.csv")


COMPRESSED = [
    Case("compressed", "corrupt .csv.gz", lambda d: _gz(d, _corrupt), needle="gzip"),
    Case(
        "compressed",
        "truncated .csv.gz",
        lambda d: _gz(d, lambda b: b[: len(b) // 2]),
        needle="gzip",
    ),
    Case("compressed", "gzip bomb", _bomb, needle="bomb"),
    Case(
        "compressed",
        "two gzip members",
        lambda d: _gz(d, lambda b: b + gzip.compress(b"T500,2025-01-01,,x,y\n")),
        "ok",
        "",
        ids(501),
    ),
    Case("compressed", "gzip named .csv", _gz_named_csv, "ok", "", ids(7)),
]


# ------------------------------------------------------------------------------ workbooks
def good_xlsx(path: Path, n: int = 5) -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(HEADER)
    for r in ticket_rows(n):
        ws.append(r)
    wb.save(path)


def _rewrite_zip(src: Path, dst: Path, change: Callable[[str, bytes], bytes | None]) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = change(info.filename, zin.read(info))
            if data is not None:
                zout.writestr(info.filename, data)


def _xlsx_variant(d: Path, change: Callable[[str, bytes], bytes | None], n: int = 5) -> list[str]:
    good_xlsx(d / "good.xlsx", n)
    _rewrite_zip(d / "good.xlsx", d / "t.xlsx", change)
    (d / "good.xlsx").unlink()
    return crossref_args(d / "t.xlsx", d / "o.csv")


def _sheet(name: str, data: bytes, fn: Callable[[bytes], bytes]) -> bytes:
    return fn(data) if name == "xl/worksheets/sheet1.xml" else data


def _zip_not_xlsx(d: Path) -> list[str]:
    with zipfile.ZipFile(d / "t.xlsx", "w") as zf:
        zf.writestr("readme.txt", "hello")
    return crossref_args(d / "t.xlsx", d / "o.csv")


def _bad_deflate(d: Path) -> list[str]:
    good_xlsx(d / "t.xlsx", 50)
    data = bytearray((d / "t.xlsx").read_bytes())
    with zipfile.ZipFile(d / "t.xlsx") as zf:
        info = zf.getinfo("xl/worksheets/sheet1.xml")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 10
    data[start : start + 30] = bytes(x ^ 0xA5 for x in data[start : start + 30])
    (d / "t.xlsx").write_bytes(bytes(data))
    return crossref_args(d / "t.xlsx", d / "o.csv")


def _lying_size(d: Path) -> list[str]:
    good_xlsx(d / "t.xlsx", 50)
    data = bytearray((d / "t.xlsx").read_bytes())
    with zipfile.ZipFile(d / "t.xlsx") as zf:
        info = zf.getinfo("xl/worksheets/sheet1.xml")
    # the central directory's uncompressed size of the sheet: declared 100 bytes
    pos = data.rfind(b"PK\x01\x02" + data[:0], 0, data.rfind(info.filename.encode()))
    assert data[pos : pos + 4] == b"PK\x01\x02"
    data[pos + 24 : pos + 28] = (100).to_bytes(4, "little")
    (d / "t.xlsx").write_bytes(bytes(data))
    return crossref_args(d / "t.xlsx", d / "o.csv")


def _huge_range(d: Path) -> list[str]:
    sheet = (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b'<dimension ref="A1:XFD1048576"/><sheetData>'
        b'<row r="1"><c r="A1" t="inlineStr"><is><t>ticket_id</t></is></c>'
        b'<c r="B1" t="inlineStr"><is><t>created_at</t></is></c>'
        b'<c r="C1" t="inlineStr"><is><t>subject</t></is></c></row>'
        b'<row r="2"><c r="A2" t="inlineStr"><is><t>T0</t></is></c>'
        b'<c r="C2" t="inlineStr"><is><t>hello</t></is></c></row>'
        b'<row r="3"><c r="A3" t="inlineStr"><is><t>T1</t></is></c></row>'
        b"</sheetData></worksheet>"
    )
    return _xlsx_variant(d, lambda name, data: _sheet(name, data, lambda _: sheet))


def _huge_cell(d: Path) -> list[str]:
    def big(data: bytes) -> bytes:
        cell = b'<c r="E2" t="inlineStr"><is><t>' + b"A" * 150_000_000 + b"</t></is></c>"
        return data.replace(b"</row>", cell + b"</row>", 2).replace(cell + b"</row>", b"</row>", 1)

    return _xlsx_variant(d, lambda name, data: _sheet(name, data, big))


def _far_row(d: Path) -> list[str]:
    def far(data: bytes) -> bytes:
        return data.replace(
            b"</sheetData>",
            b'<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>LAST</t></is></c></row>'
            b"</sheetData>",
        )

    return _xlsx_variant(d, lambda name, data: _sheet(name, data, far))


def _formulas_xlsx(d: Path) -> list[str]:
    wb = Workbook()
    ws = wb.active
    ws.append(HEADER)
    ws.append(["T0", "2025-01-01", "", '=HYPERLINK("http://x","y")', "=1+2"])
    ws.append(["T1", "2025-01-01", "", " =cmd|' /C calc'!A0", "\u00a0@SUM(A1)"])
    wb.save(d / "t.xlsx")
    return crossref_args(d / "t.xlsx", d / "o.csv")


XLSX = [
    Case("workbooks", "zip that is not a workbook", _zip_not_xlsx, needle="not an Excel workbook"),
    Case(
        "workbooks",
        "workbook listing no sheet",
        lambda d: _xlsx_variant(
            d,
            lambda name, data: (
                re.sub(rb"<sheets>.*</sheets>", b"<sheets/>", data)
                if name == "xl/workbook.xml"
                else data
            ),
        ),
        needle="no sheet",
    ),
    Case("workbooks", "corrupt deflate stream", _bad_deflate, needle=".xlsx"),
    Case(
        "workbooks",
        "malformed sheet XML",
        lambda d: _xlsx_variant(d, lambda n, b: _sheet(n, b, lambda x: x[: len(x) // 2])),
        needle="not a readable .xlsx",
    ),
    Case("workbooks", "declared size lies", _lying_size, needle=".xlsx"),
    Case("workbooks", "declared range A1:XFD1048576", _huge_range, "ok", "", ["T0", "T1"]),
    Case("workbooks", "150 MB cell", _huge_cell, needle="bomb"),
    Case("workbooks", "filled row 1048576", _far_row, "ok", "", ids(5) + [""] * 1048569 + ["LAST"]),
    Case("workbooks", "formulas in cells", _formulas_xlsx, "ok", "", ["T0", "T1"]),
    Case(
        "workbooks",
        "not a zip at all",
        lambda d: (
            (d / "t.xlsx").write_bytes(b"PK\x03\x04 nope" * 50),
            crossref_args(d / "t.xlsx", d / "o.csv"),
        )[1],
        needle=".xlsx",
    ),
]


# ------------------------------------------------------------------------------ parquet
def _parquet(d: Path, table: pa.Table) -> list[str]:
    pq.write_table(table, d / "t.parquet")
    return crossref_args(d / "t.parquet", d / "o.csv")


def _base(n: int = 4) -> dict[str, pa.Array]:
    return {
        "ticket_id": pa.array(ids(n)),
        "created_at": pa.array(["2025-01-01"] * n),
        "subject": pa.array([f"s{i}" for i in range(n)]),
    }


PARQUET = [
    Case(
        "parquet",
        "nested list column",
        lambda d: _parquet(
            d, pa.table({**_base(), "tags": pa.array([["a", "b"], [], None, ["=x"]])})
        ),
        "ok",
        "",
        ids(4),
    ),
    Case(
        "parquet",
        "struct column",
        lambda d: _parquet(
            d, pa.table({**_base(), "meta": pa.array([{"k": 1}, None, {"k": 2}, {"k": 3}])})
        ),
        "ok",
        "",
        ids(4),
    ),
    Case(
        "parquet",
        "binary bodies, not UTF-8",
        lambda d: _parquet(
            d, pa.table({**_base(), "body": pa.array([b"ok", b"caf\xe9", b"\xff\xfe", None])})
        ),
        "ok",
        "",
        ids(4),
    ),
    Case(
        "parquet",
        "far-away date32",
        lambda d: _parquet(
            d,
            pa.table(
                {
                    **_base(),
                    "created_at": pa.array([-719162, 376000, 2932896, 20000], type=pa.date32()),
                }
            ),
        ),
        "ok",
        "not dates",
        ids(4),
    ),
    Case(
        "parquet",
        "dictionary text holding formulas",
        lambda d: _parquet(
            d,
            pa.table(
                {
                    **_base(),
                    "subject": pa.array(["=1+2", "@SUM(A1)", "=1+2", "ok"]).dictionary_encode(),
                }
            ),
        ),
        "ok",
        "",
        ids(4),
    ),
    Case(
        "parquet",
        "not a Parquet file",
        lambda d: (
            (d / "t.parquet").write_bytes(b"PAR1 garbage PAR1"),
            crossref_args(d / "t.parquet", d / "o.csv"),
        )[1],
        needle="Parquet",
    ),
]


# ------------------------------------------------------------------------------ dates
def _dates(d: Path, created: list[str], resolved: list[str] | None = None) -> list[str]:
    n = len(created)
    rows = [[f"T{i}", created[i], "", f"s{i}", "b", (resolved or [""] * n)[i]] for i in range(n)]
    rows_csv(d / "t.csv", rows, HEADER + ["resolved_at"])
    return crossref_args(d / "t.csv", d / "o.csv")


YEARS = ["0001-01-01", "1677-01-01", "2262-12-31", "3000-01-01", "9999-12-31", "2025-01-01"]
DATES = [
    Case(
        "dates",
        "mixed UTC offsets",
        lambda d: _dates(
            d, ["2025-01-01T10:00:00+02:00", "2025-01-01T10:00:00-05:00", "2025-01-01T10:00:00Z"]
        ),
        "ok",
        "",
        ids(3),
    ),
    Case(
        "dates",
        "naive and aware mixed",
        lambda d: _dates(d, ["2025-01-01 10:00", "2025-01-01T10:00:00+01:00"]),
        "ok",
        "",
        ids(2),
    ),
    Case("dates", "years out of range", lambda d: _dates(d, YEARS), "ok", "not dates", ids(6)),
    Case(
        "dates",
        "resolved_at alone out of range",
        lambda d: _dates(d, ["2025-01-01"] * 3, ["3000-01-01", "0001-01-01", "2025-01-02"]),
        "ok",
        "not dates",
        ids(3),
    ),
]


# ------------------------------------------------------------------------------ structure
def _long_header(d: Path) -> list[str]:
    extra = [f"custom_field_{i:05d}" for i in range(5000)]
    rows = [r + [""] * 5000 for r in ticket_rows(3)]
    rows_csv(d / "t.csv", rows, HEADER + extra)
    return crossref_args(d / "t.csv", d / "o.parquet")


def _endless_header(d: Path) -> list[str]:
    (d / "t.csv").write_bytes(b"ticket_id," + b"x" * 2_000_000)
    return crossref_args(d / "t.csv", d / "o.csv")


def _malformed(d: Path, *extra: str) -> list[str]:
    rows = ticket_rows(100_000)
    rows[60_000] = rows[60_000] + ["one field too many"]
    rows_csv(d / "t.csv", rows)
    return crossref_args(d / "t.csv", d / "o.parquet", *extra)


def _escape_header(d: Path) -> list[str]:
    rows_csv(d / "t.csv", [["1", "2"]], ["\x1b[31mred\x07", "\x1b]0;title\x07"])
    return crossref_args(d / "t.csv", d / "o.csv")


def _evaluate_ids(d: Path) -> list[str]:
    header = HEADER + ["expected_verdict", "expected_topic"]
    rows = [
        [f"\x1b[2J\x1b]0;pwn\x07{i}", "2025-01-01", "", "x", "y", "supported", "backups"]
        for i in range(3)
    ]
    rows_csv(d / "t.csv", rows, header)
    return ["evaluate", str(d / "t.csv"), "--mistakes", "5"]


def _wide_xlsx(d: Path) -> list[str]:
    extra = [f"c{i}" for i in range(16_400)]
    rows_csv(d / "t.csv", [r + ["1"] * 16_400 for r in ticket_rows(2)], HEADER + extra)
    return crossref_args(d / "t.csv", d / "o.xlsx")


def _space_formula(d: Path) -> list[str]:
    rows = ticket_rows(4)
    rows[0][3] = ' =HYPERLINK("http://x","y")'
    rows[1][3] = "\u00a0=1+2"
    rows[2][4] = "\u3000@SUM(A1)"
    rows[3][3] = "\uff1d1+1"
    rows_csv(d / "t.csv", rows)
    return crossref_args(d / "t.csv", d / "o.csv")


def _huge_csv_cell(d: Path) -> list[str]:
    rows = ticket_rows(3)
    rows[1][4] = "word " * 6_000_000
    rows_csv(d / "t.csv", rows)
    return crossref_args(d / "t.csv", d / "o.parquet")


STRUCTURE = [
    Case("structure", "header line over 64 KB", _long_header, "ok", "", ids(3)),
    Case("structure", "header line without end", _endless_header, needle="header line"),
    Case("structure", "one malformed row in 100k", _malformed, needle="line 60002"),
    Case(
        "structure",
        "malformed row set aside",
        lambda d: _malformed(d, "--quarantine", str(d / "q.csv")),
        "ok",
        "1 malformed row",
        [i for i in ids(100_000) if i != "T60000"],
    ),
    Case("structure", "terminal escapes in the header", _escape_header, needle="helpdesk"),
    Case("structure", "terminal escapes in evaluate ids", _evaluate_ids, "ok", ""),
    Case("structure", "16,400 columns to .xlsx", _wide_xlsx, needle="columns"),
    Case("structure", "spaces before formulas", _space_formula, "ok", "", ids(4)),
    Case("structure", "30 MB cell in a CSV", _huge_csv_cell, "ok", "", ids(3)),
]

CASES = SPECIAL + TEXT + COMPRESSED + XLSX + PARQUET + DATES + STRUCTURE


# ------------------------------------------------------------------------------ running
def _run(case: Case, d: Path) -> tuple[list[str], subprocess.CompletedProcess | None]:
    args = case.build(d)
    try:
        cmd = [sys.executable, "-m", "kenolib.cli", *args]
        return args, subprocess.run(cmd, capture_output=True, timeout=TIMEOUT, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return args, None


def _output(args: list[str]) -> Path | None:
    return Path(args[args.index("--out") + 1]) if "--out" in args else None


def check_output(out: Path, o: Outcome) -> pd.DataFrame | None:
    """Read an output back: corrupt when unreadable; count cells that would run as formulas."""
    try:
        if out.suffix == ".csv":
            with out.open(encoding="utf-8", newline="") as fh:
                rows = list(csv.reader(fh))
            o.injections += sum(bool(LIVE_FORMULA.match(c)) for r in rows for c in r)
            return pd.DataFrame(rows[1:], columns=rows[0])
        if out.suffix == ".parquet":
            return pd.read_parquet(out)
        wb = load_workbook(out, read_only=True)
        cells = [c for r in wb.active.iter_rows() for c in r]
        o.injections += sum(getattr(c, "data_type", "") == "f" for c in cells)
        wb.close()
        return pd.read_excel(out, dtype=str, keep_default_na=False)
    except Exception as exc:  # noqa: BLE001 - any failure to read back is a corrupt output
        o.corrupt = True
        o.problems.append(f"output unreadable: {exc!r}")
        return None


def run_case(case: Case, d: Path) -> Outcome:
    """Build and run ``case`` in the empty directory ``d``; judge the outcome."""
    d.mkdir(parents=True, exist_ok=True)
    if case.needs_non_root and os.geteuid() == 0:
        return Outcome(case, None, "", "", skipped=True)  # tests/test_hostile.py fakes EACCES
    args, res = _run(case, d)
    if res is None:
        o = Outcome(case, None, "", "", hang=True)
        o.problems.append("hang")
        return o
    text = (res.stderr.decode("utf-8", "replace"), res.stdout.decode("utf-8", "replace"))
    o = Outcome(case, res.returncode, *text)
    _judge(o, args)
    return o


def _judge(o: Outcome, args: list[str]) -> None:
    case = o.case
    o.traceback = "Traceback" in o.stderr or o.returncode not in (0, 2)
    if o.traceback:
        o.problems.append(f"exit {o.returncode}: {o.stderr[-400:]}")
    if "\x1b" in o.stderr or "\x1b" in o.stdout or "\x07" in o.stderr + o.stdout:
        o.problems.append("raw control characters printed")
    if case.expect == "error":
        lines = o.stderr.strip().splitlines()
        if o.returncode != 2 or len(lines) != 1:
            o.problems.append(f"expected exit 2 with one line, got {o.returncode}: {lines[:3]}")
        elif case.needle.lower() not in lines[0].lower():
            o.problems.append(f"{case.needle!r} not in {lines[0]!r}")
        out = _output(args)
        if out is not None and out.exists() and "overwrite" not in case.needle:
            o.corrupt = True
            o.problems.append("an output was written for a refused input")
        return
    if o.returncode != 0:
        o.problems.append(f"expected success, got {o.returncode}: {o.stderr.strip()[-300:]}")
        o.rows_lost = len(case.ids or [])
        return
    if case.needle and case.needle.lower() not in o.stderr.lower():
        o.problems.append(f"no warning with {case.needle!r}: {o.stderr[-300:]}")
    out = _output(args)
    if out is None or case.ids is None:
        return
    back = check_output(out, o)
    if back is None:
        o.rows_lost = len(case.ids)
        return
    got = [str(v) for v in back["ticket_id"].fillna("").tolist()]
    if got != case.ids:
        lost = len(set(case.ids) - set(got)) or abs(len(case.ids) - len(got))
        o.rows_lost = lost or 1
        o.problems.append(f"rows differ: {len(got)} rows, first {got[:5]}")
    if o.injections:
        o.problems.append(f"{o.injections} live formula(s) in the output")
