"""Guards for reading untrusted files: special files, permissions, bounded decompression,
zip (xlsx) archives checked while inflating, NUL bytes and stray cp1252 bytes in UTF-8 text.

Sizes are counted on the bytes actually produced, never taken from a declared header, so a
lying gzip trailer or zip directory cannot get past them. Every refusal is a ``KenolibError``
whose one-line message names the file and says what to do.
"""

from __future__ import annotations

import codecs
import os
import stat
import threading
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kenolib.errors import KenolibError

#: Largest decompressed size accepted from a ``.gz`` file, in bytes.
MAX_DECOMPRESSED_BYTES = 4_000_000_000
#: Largest total inflated size accepted from the members of an ``.xlsx`` archive, in bytes.
MAX_XLSX_INFLATED_BYTES = 2_000_000_000
#: Past this many inflated bytes, a stream that grew more than ``MAX_RATIO`` times its
#: compressed size is a decompression bomb (real exports compress 3–30 times).
RATIO_CHECK_AFTER = 64_000_000
MAX_RATIO = 200
#: A file whose first 64 KB hold more than this share of NUL and other control bytes is binary.
BINARY_SHARE = 0.05
CHUNK = 1 << 20

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def check_regular_file(path: str | os.PathLike[str], what: str = "file") -> Path:
    """Refuse a missing path, a directory or a special file (FIFO, device, socket) before
    opening it (opening a FIFO nobody writes to would hang), and an unreadable file."""
    p = Path(path)
    try:
        mode = os.stat(p).st_mode
    except FileNotFoundError:
        raise KenolibError(f"{p}: no such file; check the path") from None
    except OSError as exc:
        raise KenolibError(
            f"{p}: cannot read the {what} ({exc.strerror}); check the path"
        ) from None
    for test, kind in _KINDS:
        if test(mode):
            raise KenolibError(f"{p}: is {kind}, not a regular file; give a {what} on disk")
    if not os.access(p, os.R_OK):
        raise KenolibError(
            f"{p}: permission denied; make the {what} readable (chmod u+r) or copy it elsewhere"
        )
    return p


def read_file_bytes(path: str | os.PathLike[str], what: str = "file") -> bytes:
    """The bytes of a regular, readable file (see :func:`check_regular_file`)."""
    p = check_regular_file(path, what)
    try:
        return p.read_bytes()
    except OSError as exc:
        raise KenolibError(f"{p}: cannot read the {what} ({exc.strerror})") from None


def _check_ratio(source: str, produced: int, consumed: int, cap: int, hint: str) -> None:
    if produced > cap:
        raise KenolibError(
            f"{source}: unpacks to more than {cap:,} bytes (checked while inflating); {hint}"
        )
    if produced > RATIO_CHECK_AFTER and produced > MAX_RATIO * max(consumed, 1):
        raise KenolibError(
            f"{source}: inflates more than {MAX_RATIO} times its packed size "
            f"(a decompression bomb?); {hint}"
        )


def gunzip_bounded(data: bytes, source: str, max_bytes: int | None = None) -> bytes:
    """Decompress gzip ``data`` (all members) in chunks, refusing more than ``max_bytes`` out.

    A corrupt or truncated stream is a ``KenolibError`` naming the file.
    """
    cap = MAX_DECOMPRESSED_BYTES if max_bytes is None else max_bytes
    hint = "check the file or give the uncompressed CSV"
    out: list[bytes] = []
    produced = consumed = 0
    view = memoryview(data)
    try:
        while consumed < len(data):
            d = zlib.decompressobj(wbits=31)  # one gzip member
            rest = view[consumed:]
            while not d.eof:
                piece = d.decompress(rest, CHUNK)
                rest = d.unconsumed_tail  # type: ignore[assignment]
                produced += len(piece)
                out.append(piece)
                _check_ratio(source, produced, len(data) - len(rest), cap, hint)
                if not piece and not rest:
                    raise KenolibError(f"{source}: the gzip stream is truncated; {hint}")
            consumed = len(data) - len(d.unused_data)
            if not bytes(d.unused_data[:2]).startswith(b"\x1f\x8b"):
                break  # trailing zero padding or garbage after the last member: ignored
    except zlib.error as exc:
        raise KenolibError(f"{source}: not a readable gzip file ({exc}); {hint}") from None
    return b"".join(out)


def check_zip_archive(
    path: str | os.PathLike[str], required: tuple[str, ...] = (), max_bytes: int | None = None
) -> None:
    """Inflate every member of a zip archive in chunks, counting the real bytes, so that a
    corrupt deflate stream, a bad CRC or a lying declared size is refused before a parser
    (openpyxl) reads it. ``required`` members must be present."""
    p = Path(path)
    cap = MAX_XLSX_INFLATED_BYTES if max_bytes is None else max_bytes
    hint = "re-save the workbook from Excel or export the tickets as CSV"
    try:
        with zipfile.ZipFile(p) as zf:
            names = set(zf.namelist())
            for member in required:
                if member not in names:
                    raise KenolibError(
                        f"{p}: not an Excel workbook (the archive has no {member}); {hint}"
                    )
            produced = consumed = 0
            for info in zf.infolist():
                consumed += info.compress_size
                with zf.open(info) as fh:
                    while piece := fh.read(CHUNK):
                        produced += len(piece)
                        _check_ratio(str(p), produced, consumed, cap, hint)
    except KenolibError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, ValueError) as exc:
        raise KenolibError(f"{p}: not a readable .xlsx file ({exc}); {hint}") from None
    except NotImplementedError as exc:  # an unsupported compression method or encryption
        raise KenolibError(f"{p}: cannot unpack the workbook ({exc}); {hint}") from None


def looks_binary(data: bytes) -> bool:
    """Whether more than ``BINARY_SHARE`` of ``data`` (and more than two bytes) are NUL or
    other control bytes than tab, CR, LF, FF and ESC (terminal colours in pasted logs): a few
    stray NULs in text are not binary."""
    arr = np.frombuffer(data, dtype=np.uint8)
    text_controls = (arr == 9) | (arr == 10) | (arr == 12) | (arr == 13) | (arr == 27)
    control = int(((arr < 32) & ~text_controls).sum())
    return control > max(BINARY_SHARE * len(arr), 2)


def line_numbers(data: bytes, offsets: np.ndarray) -> np.ndarray:
    """1-based line numbers of byte ``offsets`` in ``data`` (vectorised)."""
    newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    return np.searchsorted(newlines, np.asarray(offsets), side="left") + 1


def strip_nul(data: bytes, source: str, hint: str) -> tuple[bytes, str | None]:
    """Remove NUL bytes from mostly-text ``data`` with a counted warning; refuse binary data."""
    if looks_binary(data[:65536]):
        raise KenolibError(f"{source}: the file looks binary (NUL and control bytes); {hint}")
    if b"\x00" not in data:
        return data, None
    offsets = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 0)
    lines = np.unique(line_numbers(data, offsets))
    warning = (
        f"{source}: removed {len(offsets):,} NUL byte(s) on {len(lines):,} line(s) "
        f"(first on line {int(lines[0])}); the rest of each cell is kept"
    )
    return data.replace(b"\x00", b""), warning


def utf16_to_utf8(data: bytes, source: str) -> bytes:
    """UTF-16 text with a byte-order mark (Excel's "Unicode text") re-encoded as UTF-8;
    other data unchanged."""
    if not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data
    try:
        return data.decode("utf-16").encode("utf-8")
    except UnicodeDecodeError as exc:
        raise KenolibError(
            f"{source}: starts like UTF-16 text but byte {exc.start} is not; re-save it as UTF-8"
        ) from None


@dataclass
class _Repairs:
    offsets: list[int] = field(default_factory=list)
    undefined: int = 0


_LOCAL = threading.local()


def _repairs() -> list[_Repairs]:
    if not hasattr(_LOCAL, "stack"):
        _LOCAL.stack = []
    return _LOCAL.stack


def _cp1252_fallback(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: bytes that are not UTF-8 are read as cp1252 (undefined ones as
    U+FFFD), recording where; the rest of the text stays UTF-8."""
    if not isinstance(exc, UnicodeDecodeError) or not _repairs():
        raise exc
    bad = exc.object[exc.start : exc.end]
    rec = _repairs()[-1]
    rec.offsets.append(exc.start)
    text = bad.decode("cp1252", errors="replace")
    rec.undefined += text.count("\ufffd")
    return text, exc.end


codecs.register_error("kenolib-cp1252", _cp1252_fallback)


@dataclass
class Repaired:
    """Text decoded as UTF-8 with its stray non-UTF-8 bytes read as cp1252."""

    text: str
    offsets: np.ndarray
    undefined: int

    def warning(self, source: str, data: bytes) -> str | None:
        """The counted warning (lines repaired, first line), or None when nothing was."""
        if not len(self.offsets):
            return None
        lines = np.unique(line_numbers(data, self.offsets))
        undefined = (
            f"; {self.undefined} byte(s) undefined in cp1252 became \ufffd"
            if self.undefined
            else ""
        )
        return (
            f"{source}: {len(self.offsets):,} byte sequence(s) on {len(lines):,} line(s) were not "
            f"valid UTF-8 (first on line {int(lines[0])}); decoded as cp1252 (Windows-1252), the "
            f"rest as UTF-8{undefined}"
        )


def decode_mixed(data: bytes) -> Repaired:
    """Decode UTF-8, reading only the bytes that are not UTF-8 as cp1252 (line by line in
    effect: one stray cp1252 byte does not turn the file's valid UTF-8 into mojibake)."""
    stack = _repairs()
    stack.append(_Repairs())
    try:
        text = data.decode("utf-8", errors="kenolib-cp1252")
    finally:
        rec = stack.pop()
    return Repaired(text, np.asarray(rec.offsets, dtype=np.int64), rec.undefined)
