"""Reading ticket exports in record batches, in constant memory, with the readers' guarantees.

``ticket_files`` expands a dataset spec (a file, a directory or a glob of monthly exports)
into its files; ``raw_batches`` yields one file's rows as text frames of at most
``batch_rows`` rows, in order:

- CSV (also ``.csv.gz``): through pyarrow's streaming CSV reader (``newlines_in_values``) over
  :class:`CleanCsvBytes`, which inflates gzip in chunks (ratio-checked), removes NUL bytes and
  reads bytes that are not UTF-8 as cp1252, block by block (blocks end at a line break), with
  the same counted warnings as :func:`kenolib.readers.read_csv`. Malformed rows are refused
  naming their line, or set aside in ``bad``. Small files, and UTF-16 ones, go through
  :func:`kenolib.readers.read_csv` whole.
- Parquet: ``pyarrow.parquet.ParquetFile.iter_batches``; odd column types made text per batch.
- XLSX: read whole (bounded by ``readers.MAX_XLSX_CELLS``), then sliced.
"""

from __future__ import annotations

import glob
import os
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from kenolib.errors import KenolibError
from kenolib.readers import (
    BadRows,
    csv_header,
    csv_options,
    parquet_text_frame,
    read_table,
)
from kenolib.safeio import (
    CHUNK,
    MAX_RATIO,
    RATIO_CHECK_AFTER,
    check_regular_file,
    decode_mixed,
    line_numbers,
    looks_binary,
)

#: CSV files smaller than this are read whole (the exact in-memory path); larger ones stream.
STREAM_MIN_BYTES = 32 << 20
#: Bytes read from the file (or inflated) per repaired block.
BLOCK_BYTES = 4 << 20
#: pyarrow's CSV block when streaming (a row may be this long; more is refused with a hint).
STREAM_CSV_BLOCK = 4 << 20
#: The file types a dataset directory or glob may hold.
DATASET_SUFFIXES = (".parquet", ".csv", ".csv.gz")
_STRING_FRAME = {"types_mapper": lambda t: pd.StringDtype("pyarrow") if t == pa.string() else None}
_HINT = "check the file or give the uncompressed CSV"


def ticket_files(spec: str | os.PathLike[str]) -> list[Path]:
    """The files of a ticket input: one file, a directory of exports, or a glob (sorted)."""
    text = str(spec)
    p = Path(text)
    if p.is_dir():
        files = sorted(
            f
            for f in p.iterdir()
            if not f.name.startswith((".", "_")) and f.name.lower().endswith(DATASET_SUFFIXES)
        )
        where = f"{p}: the directory holds no {', '.join(DATASET_SUFFIXES)} file"
    elif any(c in text for c in "*?[") and not p.exists():
        files = sorted(Path(f) for f in glob.glob(text, recursive=True) if Path(f).is_file())
        where = f"{text}: the pattern matches no file"
    else:
        return [p]
    if not files:
        raise KenolibError(f"{where}; give a ticket export or a folder of monthly exports")
    return files


def raw_batches(
    path: Path, warnings: list[str], bad: BadRows | None, batch_rows: int | None
) -> Iterator[pd.DataFrame]:
    """One file's rows as text frames of at most ``batch_rows`` rows (None: the whole file),
    in order; at least one frame (maybe empty), so the header is always seen."""
    check_regular_file(path, "ticket export")
    name = path.name.lower()
    if batch_rows is None:
        yield read_table(path, warnings, bad)
    elif name.endswith(".parquet"):
        yield from _parquet_batches(path, warnings, batch_rows)
    elif name.endswith(".xlsx") or path.stat().st_size < STREAM_MIN_BYTES or _utf16(path):
        yield from _slices(read_table(path, warnings, bad), batch_rows)
    else:
        yield from _csv_batches(path, warnings, bad, batch_rows)


def _utf16(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) in (b"\xff\xfe", b"\xfe\xff")


def _slices(df: pd.DataFrame, batch_rows: int) -> Iterator[pd.DataFrame]:
    if not len(df):
        yield df
    for start in range(0, len(df), batch_rows):
        yield df.iloc[start : start + batch_rows].reset_index(drop=True)


def _parquet_batches(path: Path, warnings: list[str], batch_rows: int) -> Iterator[pd.DataFrame]:
    try:
        pf = pq.ParquetFile(path)
        batches = pf.iter_batches(batch_size=batch_rows)
        first = next(batches, None)
    except Exception as exc:  # pyarrow raises several types for a bad file
        msg = (str(exc).splitlines() or [""])[0][:200]
        raise KenolibError(f"{path}: not a readable Parquet file ({msg})") from None
    if first is None:
        yield parquet_text_frame(pf.schema_arrow.empty_table(), path, warnings)
        return
    yield parquet_text_frame(pa.Table.from_batches([first]), path, warnings)
    seen = set(warnings)  # a column's warning once per file, not once per batch
    for rb in batches:
        local: list[str] = []
        df = parquet_text_frame(pa.Table.from_batches([rb]), path, local)
        for w in local:
            if w not in seen:
                seen.add(w)
                warnings.append(w)
        yield df


class CleanCsvBytes:
    """A read-only file object over a CSV export's bytes, repaired block by block.

    Blocks end at a line break, so a NUL or a cp1252 byte is counted on its true line.
    ``warnings()`` gives the counted repair warnings once the stream has been read.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._f = open(path, "rb")  # noqa: SIM115 (closed in close())
        head = self._f.read(2)
        self._f.seek(0)
        gz = path.name.lower().endswith(".gz") or head == b"\x1f\x8b"
        self._inflate = zlib.decompressobj(wbits=31) if gz else None
        self._pending = b""  # compressed bytes not yet inflated
        self._consumed = self._produced = 0
        self._carry = b""
        self._buf = memoryview(b"")
        self._eof = False
        self._first = True
        self.lines = 0  # line breaks before the current block
        self.nul = [0, 0, 0]  # NUL bytes, lines, first line
        self.cp = [0, 0, 0, 0]  # sequences, lines, first line, undefined bytes

    # -- raw bytes ---------------------------------------------------------------------------
    def _raw(self) -> bytes:
        if self._inflate is None:
            return self._f.read(BLOCK_BYTES)
        out: list[bytes] = []
        size = 0
        try:
            while size < BLOCK_BYTES:
                if not self._pending:
                    self._pending = self._f.read(CHUNK)
                    self._consumed += len(self._pending)
                if self._inflate.eof:
                    rest = self._inflate.unused_data + self._pending
                    if not rest[:2].startswith(b"\x1f\x8b"):
                        break  # trailing padding or garbage after the last member
                    self._inflate, self._pending = zlib.decompressobj(wbits=31), rest
                if not self._pending and not self._inflate.unconsumed_tail:
                    raise KenolibError(f"{self.path}: the gzip stream is truncated; {_HINT}")
                piece = self._inflate.decompress(
                    self._inflate.unconsumed_tail + self._pending, CHUNK
                )
                self._pending = b""
                size += len(piece)
                out.append(piece)
        except zlib.error as exc:
            raise KenolibError(f"{self.path}: not a readable gzip file ({exc}); {_HINT}") from None
        self._produced += size
        if self._produced > RATIO_CHECK_AFTER and self._produced > MAX_RATIO * max(
            self._consumed, 1
        ):
            raise KenolibError(
                f"{self.path}: inflates more than {MAX_RATIO} times its packed size "
                f"(a decompression bomb?); {_HINT}"
            )
        return b"".join(out)

    def _next_block(self) -> bytes:
        """The next repaired block (ending at a line break, or the file's end); b'' at the end."""
        data = self._carry
        while True:
            raw = self._raw()
            data += raw
            cut = data.rfind(b"\n")
            if not raw:
                block, self._carry = data, b""
                break
            if cut >= 0:
                block, self._carry = data[: cut + 1], data[cut + 1 :]
                break
        if self._first:
            self._first = False
            if not block.strip():
                raise KenolibError(f"{self.path}: the file is empty; export the tickets again")
            if looks_binary(block[:65536]):
                raise KenolibError(
                    f"{self.path}: the file looks binary (NUL and control bytes); "
                    "give a CSV, .xlsx or .parquet export"
                )
            if block.startswith(b"\xef\xbb\xbf"):
                block = block[3:]
        return self._repair(block)

    def _repair(self, block: bytes) -> bytes:
        if b"\x00" in block:
            offsets = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 0)
            lines = np.unique(line_numbers(block, offsets)) + self.lines
            self._count(self.nul, len(offsets), lines)
            block = block.replace(b"\x00", b"")
        try:
            block.decode("utf-8")
        except UnicodeDecodeError:
            rep = decode_mixed(block)
            lines = np.unique(line_numbers(block, rep.offsets)) + self.lines
            self._count(self.cp, len(rep.offsets), lines)
            self.cp[3] += rep.undefined
            block = rep.text.encode("utf-8")
        self.lines += block.count(b"\n")
        return block

    @staticmethod
    def _count(tally: list[int], n: int, lines: np.ndarray) -> None:
        if not tally[1]:
            tally[2] = int(lines[0])
        tally[0] += n
        tally[1] += len(lines)

    # -- file object -------------------------------------------------------------------------
    def peek(self) -> bytes:
        """The first block (kept for ``read``)."""
        if not len(self._buf) and not self._eof:
            self._buf = memoryview(self._next_block())
        return bytes(self._buf)

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` repaired bytes (all that remain with ``n < 0``)."""
        parts: list[bytes] = []
        want = n if n is not None and n >= 0 else 1 << 62
        while want > 0:
            if not len(self._buf):
                if self._eof:
                    break
                block = self._next_block()
                if not block:
                    self._eof = True
                    break
                self._buf = memoryview(block)
            take = self._buf[:want]
            parts.append(bytes(take))
            self._buf = self._buf[len(take) :]
            want -= len(take)
        return b"".join(parts)

    def readable(self) -> bool:
        return True

    @property
    def closed(self) -> bool:
        return self._f.closed

    def close(self) -> None:
        self._f.close()

    def warnings(self) -> list[str]:
        """The counted repair warnings, worded as :mod:`kenolib.safeio`'s."""
        out = []
        if self.nul[0]:
            out.append(
                f"{self.path}: removed {self.nul[0]:,} NUL byte(s) on {self.nul[1]:,} line(s) "
                f"(first on line {self.nul[2]}); the rest of each cell is kept"
            )
        if self.cp[0]:
            undefined = (
                f"; {self.cp[3]} byte(s) undefined in cp1252 became \ufffd" if self.cp[3] else ""
            )
            out.append(
                f"{self.path}: {self.cp[0]:,} byte sequence(s) on {self.cp[1]:,} line(s) were "
                f"not valid UTF-8 (first on line {self.cp[2]}); decoded as cp1252 "
                f"(Windows-1252), the rest as UTF-8{undefined}"
            )
        return out


def _csv_reader(stream: CleanCsvBytes, warnings: list[str], rows: BadRows):
    names, delimiter = csv_header(stream.peek(), stream.path, warnings)
    try:
        return pacsv.open_csv(
            stream, **csv_options(names, delimiter, STREAM_CSV_BLOCK, rows)
        ), names
    except pa.ArrowInvalid as exc:
        _unreadable(stream.path, exc)


def _unreadable(path: Path, exc: Exception) -> None:
    msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "straddl" in msg:
        raise KenolibError(
            f"{path}: a row is longer than {STREAM_CSV_BLOCK >> 20} MB; split the export or "
            "give it as .parquet"
        ) from None
    raise KenolibError(
        f"{path}: not a readable CSV ({msg[:200]}); check the delimiter and quoting"
    ) from None


def _csv_batches(
    path: Path, warnings: list[str], bad: BadRows | None, batch_rows: int
) -> Iterator[pd.DataFrame]:
    stream = CleanCsvBytes(path)
    rows = BadRows()
    try:
        reader, names = _csv_reader(stream, warnings, rows)
        pending: list[pa.RecordBatch] = []
        held = 0
        yielded = False
        while True:
            try:
                rb = reader.read_next_batch()
            except StopIteration:
                break
            except pa.ArrowInvalid as exc:
                _unreadable(path, exc)
            if len(rows) and bad is None:
                break
            pending.append(rb)
            held += rb.num_rows
            while held >= batch_rows:
                table = pa.Table.from_batches(pending)
                yield table.slice(0, batch_rows).to_pandas(**_STRING_FRAME)
                yielded = True
                rest = table.slice(batch_rows)
                pending, held = rest.to_batches(), rest.num_rows
        if held or not yielded:
            schema = pa.schema([(n, pa.string()) for n in names])
            yield pa.Table.from_batches(pending, schema=schema).to_pandas(**_STRING_FRAME)
    finally:
        stream.close()
    warnings.extend(stream.warnings())
    if len(rows):
        _malformed(path, rows, bad, warnings)


def _malformed(path: Path, rows: BadRows, bad: BadRows | None, warnings: list[str]) -> None:
    lines = locate_lines(path, rows.text if bad is not None else rows.text[:1])
    where = f"line {lines[0]}" if lines[0] else "a row"
    if bad is None:
        raise KenolibError(
            f"{path}: {where} has {rows.actual[0]} field(s) where the header has "
            f"{rows.expected[0]} (at least {len(rows):,} malformed row(s)); fix the file, or set "
            "malformed rows aside with --quarantine FILE"
        )
    bad.expected.extend(rows.expected)
    bad.actual.extend(rows.actual)
    bad.text.extend(rows.text)
    bad.lines.extend(lines)
    warnings.append(
        f"{path}: {len(rows):,} malformed row(s) (wrong number of fields, first on {where}) "
        "set aside; the other rows are kept in order"
    )


def locate_lines(path: Path, texts: list[str]) -> list[int | None]:
    """1-based lines where row ``texts`` start in the repaired file, found in order in a second
    streaming pass (None where a row is not found)."""
    found: list[int | None] = [None] * len(texts)
    stream = CleanCsvBytes(path)
    i, carry, base = 0, b"", 0  # next text, bytes kept from the last block, lines before carry
    try:
        while i < len(texts):
            block = stream.read(BLOCK_BYTES)
            if not block:
                break
            data = carry + block
            pos = 0
            while i < len(texts):
                needle = texts[i].encode("utf-8")
                at = data.find(needle, pos)
                while at > 0 and data[at - 1] not in (10, 13):
                    at = data.find(needle, at + 1)
                if at < 0:
                    break
                found[i] = base + int(line_numbers(data, np.array([at]))[0])
                pos, i = at + 1, i + 1
            cut = data.rfind(b"\n", 0, max(pos, len(data) - (1 << 20))) + 1
            base += data.count(b"\n", 0, cut)
            carry = data[cut:]
    finally:
        stream.close()
    return found
