"""Reading a ticket export file as it is (.csv/.csv.gz, .xlsx, .parquet), untrusted.

Every column comes back as text (Parquet: text, numbers and dates keep their type; nested,
binary and dictionary-encoded columns become text), the header de-duplicated. Nothing here
knows about helpdesks: ``kenolib.tickets`` maps the columns. Hostile input ends in a
``KenolibError`` naming the file (and line) or in a counted warning:

- special files, unreadable files: refused before reading (``kenolib.safeio``);
- gzip: inflated in chunks under a size cap; a corrupt stream is refused;
- NUL bytes: removed with a count (a file that is mostly binary is refused);
- bytes that are not UTF-8: read as cp1252 where they occur, the rest stays UTF-8;
- a malformed row (wrong number of fields): refused naming its line, or set aside in a
  quarantine list (``bad_rows``) and counted;
- xlsx: every member inflated and counted before openpyxl parses it; the sheet's real rows,
  not its declared dimension, decide the frame's size.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from openpyxl import load_workbook

from kenolib.errors import KenolibError
from kenolib.files import EXCEL_MAX_ROWS
from kenolib.safeio import (
    check_regular_file,
    check_zip_archive,
    decode_mixed,
    gunzip_bounded,
    line_numbers,
    read_file_bytes,
    strip_nul,
    utf16_to_utf8,
)

#: The header line may be this long; a longer first line is refused with a clear message.
MAX_HEADER_BYTES = 1 << 20
#: Largest frame (rows × columns) built from one sheet of a workbook.
MAX_XLSX_CELLS = 100_000_000
#: Malformed rows located by line number (more are still counted and set aside).
MAX_LOCATED_ROWS = 10_000
CSV_BLOCK = 1 << 24
_STRING_FRAME = {"types_mapper": lambda t: pd.StringDtype("pyarrow") if t == pa.string() else None}


@dataclass
class BadRows:
    """Malformed CSV rows (wrong number of fields), in the order pyarrow met them."""

    expected: list[int] = field(default_factory=list)
    actual: list[int] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    lines: list[int | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.text)

    def handler(self, row: pacsv.InvalidRow) -> str:
        """pyarrow's ``invalid_row_handler``: record the row and skip it."""
        self.expected.append(row.expected_columns)
        self.actual.append(row.actual_columns)
        self.text.append(row.text)
        return "skip"

    def frame(self) -> pd.DataFrame:
        """The rows with their 1-based line numbers in the file, in file order."""
        df = pd.DataFrame(
            {
                "line": pd.array(self.lines, dtype="Int64"),
                "fields_expected": self.expected,
                "fields_found": self.actual,
                "text": self.text,
            }
        )
        return df.sort_values("line", kind="stable", na_position="last").reset_index(drop=True)


def _locate_lines(data: bytes, texts: list[str]) -> list[int | None]:
    """Line numbers of row texts in ``data`` (a row starts a line; repeats found in order)."""
    offsets: list[int] = []
    after: dict[bytes, int] = {}
    for t in texts[:MAX_LOCATED_ROWS]:
        needle = t.encode("utf-8")
        i = data.find(needle, after.get(needle, 0))
        while i > 0 and data[i - 1] not in (10, 13):
            i = data.find(needle, i + 1)
        after[needle] = i + 1 if i >= 0 else len(data)
        offsets.append(i)
    found = np.asarray(offsets, dtype=np.int64)
    lines = line_numbers(data, np.maximum(found, 0)) if len(found) else found
    out: list[int | None] = [int(n) if o >= 0 else None for n, o in zip(lines, found, strict=True)]
    return out + [None] * (len(texts) - len(out))


def dedupe_header(names: list[str], source: str, warnings: list[str]) -> list[str]:
    """Make header names unique (``Labels``, ``Labels.1``, ...), warning about repeats."""
    seen: dict[str, int] = {}
    out = []
    for i, raw in enumerate(names):
        name = str(raw).replace("\ufeff", "").strip() or f"column_{i + 1}"
        if name in seen:
            seen[name] += 1
            out.append(f"{name}.{seen[name] - 1}")
        else:
            seen[name] = 1
            out.append(name)
    repeated = {k: v for k, v in seen.items() if v > 1}
    if repeated:
        desc = ", ".join(f"{k!r} ×{v}" for k, v in list(repeated.items())[:10])
        more = ", ..." if len(repeated) > 10 else ""
        warnings.append(f"{source}: repeated header(s) {desc}{more}; kept as name, name.1, ...")
    return out


def _sniff_delimiter(line: str) -> str:
    """``,``, ``;`` or tab: whichever occurs most in the header line outside quotes."""
    bare, quoted = [], False
    for part in line.split('"'):
        if not quoted:
            bare.append(part)
        quoted = not quoted
    counts = {d: sum(p.count(d) for p in bare) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def csv_header(data: bytes, path: Path, warnings: list[str]) -> tuple[list[str], str]:
    """The de-duplicated header names and the delimiter, from the first line of ``data``."""
    head = data[:MAX_HEADER_BYTES]
    if len(data) > MAX_HEADER_BYTES and b"\n" not in head and b"\r" not in head:
        raise KenolibError(
            f"{path}: the header line is longer than {MAX_HEADER_BYTES:,} bytes (no line break); "
            "give a CSV export whose first line names the columns"
        )
    text = decode_mixed(head).text
    first = re.split(r"\r\n|\r|\n", text, maxsplit=1)[0]
    delimiter = _sniff_delimiter(first)
    try:
        header = next(csv.reader(io.StringIO(text), delimiter=delimiter))
    except (StopIteration, csv.Error) as exc:
        raise KenolibError(f"{path}: cannot read the header line ({exc})") from None
    return dedupe_header(header, str(path), warnings), delimiter


def csv_options(names: list[str], delimiter: str, block: int, bad: BadRows) -> dict[str, Any]:
    """pyarrow CSV options for a ticket export: our header names, every column text (never
    null), line breaks inside quoted values, bad rows to ``bad``."""
    return {
        "read_options": pacsv.ReadOptions(
            column_names=names, skip_rows=1, block_size=block, encoding="utf8"
        ),
        "parse_options": pacsv.ParseOptions(
            delimiter=delimiter, newlines_in_values=True, invalid_row_handler=bad.handler
        ),
        "convert_options": pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    }


def _arrow_read(data: bytes, path: Path, warnings: list[str], bad: BadRows) -> pa.Table:
    names, delimiter = csv_header(data, path, warnings)
    block = CSV_BLOCK
    while True:
        try:
            return pacsv.read_csv(pa.py_buffer(data), **csv_options(names, delimiter, block, bad))
        except pa.ArrowInvalid as exc:
            if "straddl" in str(exc) and block < len(data) and block < (1 << 30):
                block *= 8  # a row longer than a block: read again with bigger blocks
                bad.__init__()  # type: ignore[misc]
                continue
            raise


def csv_bytes(path: Path, warnings: list[str]) -> bytes:
    """The bytes of a CSV export: gunzipped (bounded), UTF-16 re-encoded, NUL bytes removed,
    BOM dropped; empty and binary files refused."""
    data = read_file_bytes(path, "ticket export")
    if path.name.lower().endswith(".gz") or data.startswith(b"\x1f\x8b"):
        data = gunzip_bounded(data, str(path))
    if not data[:65536].strip() and not data.strip():  # (no copy of a big file's bytes)
        raise KenolibError(f"{path}: the file is empty; export the tickets again")
    data = utf16_to_utf8(data, str(path))
    data, nul_warning = strip_nul(data, str(path), "give a CSV, .xlsx or .parquet export")
    if nul_warning:
        warnings.append(nul_warning)
    return data[3:] if data.startswith(b"\xef\xbb\xbf") else data


def _utf8_head(data: bytes) -> bool:
    try:
        data[:65536].decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= 65530  # a character cut at the end of the sample is fine
    return True


def read_csv(path: Path, warnings: list[str], bad: BadRows | None = None) -> pd.DataFrame:
    """Read a CSV export as text columns (see the module doc). Malformed rows are refused
    naming the first one's line, unless ``bad`` is given: then they are set aside there."""
    data = csv_bytes(path, warnings)
    rows = BadRows()
    table = None
    if _utf8_head(data):
        try:
            table = _arrow_read(data, path, warnings, rows)
        except pa.ArrowInvalid as exc:
            if "utf8" not in str(exc).lower() and "utf-8" not in str(exc).lower():
                _unreadable(path, exc)
            rows = BadRows()
    if table is None:
        repaired = decode_mixed(data)
        warnings.append(repaired.warning(str(path), data) or f"{path}: decoded as cp1252")
        data = repaired.text.encode("utf-8")
        del repaired
        try:
            table = _arrow_read(data, path, [], rows)
        except pa.ArrowInvalid as exc:
            _unreadable(path, exc)
    if len(rows):
        _malformed(path, data, rows, bad, warnings)
    del data
    return table.to_pandas(**_STRING_FRAME)  # type: ignore[union-attr]


def _unreadable(path: Path, exc: Exception) -> None:
    msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    raise KenolibError(
        f"{path}: not a readable CSV ({msg[:200]}); check the delimiter and quoting"
    ) from None


def _malformed(
    path: Path, data: bytes, rows: BadRows, bad: BadRows | None, warnings: list[str]
) -> None:
    first = _locate_lines(data, rows.text[:1])[0]
    where = f"line {first}" if first else "a row"
    if bad is None:
        raise KenolibError(
            f"{path}: {where} has {rows.actual[0]} field(s) where the header has "
            f"{rows.expected[0]} ({len(rows):,} malformed row(s) in all); fix the file, or set "
            "malformed rows aside with --quarantine FILE"
        )
    bad.expected.extend(rows.expected)
    bad.actual.extend(rows.actual)
    bad.text.extend(rows.text)
    bad.lines.extend(_locate_lines(data, rows.text))
    warnings.append(
        f"{path}: {len(rows):,} malformed row(s) (wrong number of fields, first on {where}) "
        "set aside; the other rows are kept in order"
    )


def _cell_text(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if hasattr(v, "isoformat"):
        return v.isoformat(sep=" ") if hasattr(v, "hour") else v.isoformat()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


_CELL_TEXT = np.frompyfunc(_cell_text, 1, 1)


def _sheet_rows(ws, path: Path) -> tuple[list[object], list[tuple[int, tuple]], int, int]:
    """(header, [(row index, values)] of the non-blank data rows, number of data rows,
    number of trailing blank rows written in the sheet).

    Rows are the sheet's real rows: the declared dimension is reset and never trusted, blank
    rows between tickets count, trailing blank rows do not.
    """
    ws.reset_dimensions()
    rows = ws.iter_rows(values_only=True)
    header = next(rows, None)
    if header is None or all(v is None for v in header):
        raise KenolibError(f"{path}: the first sheet is empty; export the tickets again")
    body: list[tuple[int, tuple]] = []
    n = written = 0
    for i, row in enumerate(rows):
        if i + 2 > EXCEL_MAX_ROWS:
            raise KenolibError(f"{path}: the sheet has rows past Excel's limit; re-save it")
        if row:
            written = i + 1
            if any(v is not None and v != "" for v in row):
                body.append((i, row))
                n = i + 1
    return list(header), body, n, written - n


def read_xlsx(path: Path, warnings: list[str]) -> pd.DataFrame:
    """Read the first sheet of a workbook as text columns (formulas as their text)."""
    check_zip_archive(path, required=("xl/workbook.xml",))
    try:
        # data_only=False: a formula cell reads as its formula text (never evaluated)
        wb = load_workbook(path, read_only=True, data_only=False)
    except KenolibError:
        raise
    except Exception as exc:  # openpyxl and its XML parsers raise many types
        _unreadable_xlsx(path, exc)
    try:
        if not wb.worksheets:
            raise KenolibError(f"{path}: the workbook has no sheet; export the tickets again")
        header, body, n, trailing = _sheet_rows(wb.worksheets[0], path)
    except KenolibError:
        raise
    except Exception as exc:
        _unreadable_xlsx(path, exc)
    finally:
        wb.close()
    if trailing:
        warnings.append(f"{path}: {trailing} empty row(s) after the last ticket ignored")
    return _sheet_frame(path, header, body, n, warnings)


def _unreadable_xlsx(path: Path, exc: Exception) -> None:
    msg = (str(exc).splitlines() or [""])[0][:200]
    raise KenolibError(
        f"{path}: not a readable .xlsx workbook ({type(exc).__name__}: {msg}); "
        "re-save it from Excel or export the tickets as CSV"
    ) from None


def _sheet_frame(
    path: Path, header: list[object], body: list[tuple[int, tuple]], n: int, warnings: list[str]
) -> pd.DataFrame:
    width = max([len(header)] + [len(r) for _, r in body])
    if n * width > MAX_XLSX_CELLS:
        raise KenolibError(
            f"{path}: the sheet holds {n:,} rows × {width:,} columns, over {MAX_XLSX_CELLS:,} "
            "cells; export the tickets as CSV instead"
        )
    if width > len(header):
        warnings.append(
            f"{path}: {width - len(header)} column(s) past the header hold values; kept as column_N"
        )
    names = dedupe_header(
        ["" if h is None else _cell_text(h) for h in header] + [""] * (width - len(header)),
        str(path),
        warnings,
    )
    cells = np.full((n, width), None, dtype=object)
    for i, row in body:
        cells[i, : len(row)] = row
    text = _CELL_TEXT(cells) if cells.size else cells
    frame = pd.DataFrame(
        {
            name: pd.array(text[:, j], dtype=pd.StringDtype("pyarrow"))
            for j, name in enumerate(names)
        }
    )
    return frame


def _text_column(col: pa.ChunkedArray, name: str, path: Path, warnings: list[str]) -> pa.Array:
    """A Parquet column that pandas cannot hold as text or values, made text."""
    t = col.type
    if pa.types.is_dictionary(t):
        col = pc.cast(col, t.value_type)
        t = col.type
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        try:
            return pc.cast(col, pa.large_string())
        except pa.ArrowInvalid:
            values = col.to_pylist()
            fixed = [None if v is None else decode_mixed(v).text for v in values]
            warnings.append(
                f"{path}: column {name!r} holds bytes that are not UTF-8; read as cp1252 there"
            )
            return pa.array(fixed, type=pa.large_string())
    if pa.types.is_nested(t):
        try:
            return pc.binary_join(pc.cast(col, pa.list_(pa.large_string())), ",")
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            values = col.to_pylist()
            return pa.array(
                [None if v is None else json.dumps(v, default=str) for v in values],
                type=pa.large_string(),
            )
    return col


def read_parquet(path: Path, warnings: list[str]) -> pd.DataFrame:
    """Read a Parquet export; dictionary, binary and nested columns become text."""
    check_regular_file(path, "ticket export")
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for a bad file
        msg = (str(exc).splitlines() or [""])[0][:200]
        raise KenolibError(f"{path}: not a readable Parquet file ({msg})") from None
    return parquet_text_frame(table, path, warnings)


def parquet_text_frame(table: pa.Table, path: Path, warnings: list[str]) -> pd.DataFrame:
    """A Parquet table (or one batch of it) as a frame: header de-duplicated, dictionary,
    binary and nested columns made text."""
    names = dedupe_header([str(c) for c in table.column_names], str(path), warnings)
    columns = [
        _text_column(table.column(i), names[i], path, warnings) for i in range(table.num_columns)
    ]
    table = pa.table(dict(zip(names, columns, strict=True)))
    try:
        df = table.to_pandas(
            types_mapper=lambda t: (
                pd.StringDtype("pyarrow") if t in (pa.string(), pa.large_string()) else None
            )
        )
    except (pa.ArrowInvalid, ValueError, OverflowError) as exc:
        raise KenolibError(f"{path}: cannot convert the Parquet columns ({exc})") from None
    return df


def read_table(
    path: str | os.PathLike[str], warnings: list[str] | None = None, bad: BadRows | None = None
) -> pd.DataFrame:
    """Read a CSV/XLSX/Parquet file as-is (every CSV/XLSX column as text), header de-duplicated.

    ``bad``: where malformed CSV rows are set aside (else the first one is an error).
    """
    p = Path(path)
    warnings = [] if warnings is None else warnings
    check_regular_file(p, "ticket export")
    suffix = p.suffix.lower()
    if suffix == ".xlsx":
        return read_xlsx(p, warnings)
    if suffix == ".parquet":
        return read_parquet(p, warnings)
    if suffix in (".csv", ".txt", ".tsv", ".gz") or suffix == "":
        return read_csv(p, warnings, bad)
    raise KenolibError(
        f"{p}: unknown ticket file extension {p.suffix!r}; use .csv, .xlsx or .parquet"
    )
