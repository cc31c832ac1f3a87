"""Reading text input safely and writing frames atomically, by file extension."""

from __future__ import annotations

import contextlib
import csv
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from kenolib.errors import KenolibError
from kenolib.safeio import (
    check_regular_file,
    decode_mixed,
    read_file_bytes,
    strip_nul,
    utf16_to_utf8,
)
from kenolib.schemas import require_frame, require_path, require_type
from kenolib.xlsx import (
    EXCEL_MAX_COLUMNS,
    EXCEL_MAX_ROWS,
    FORMULA_RE,
    neutralise_formula,
    write_simple_xlsx,
)

#: Leading characters that make a spreadsheet treat a cell as a formula (OWASP CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")

WRITABLE_SUFFIXES = (".csv", ".xlsx", ".parquet")


@dataclass
class DecodedText:
    """Text decoded from a file, with what was needed to decode it."""

    text: str
    encoding: str
    bom: bool
    warnings: list[str] = field(default_factory=list)


def decode_bytes(data: bytes, source: str) -> DecodedText:
    """Decode UTF-8 (with or without BOM, or UTF-16 with BOM); bytes that are not UTF-8 are
    read as cp1252 with a counted warning, NUL bytes removed with a counted warning.

    Raises KenolibError for empty or binary input, or bytes that are neither UTF-8 nor cp1252.
    """
    require_type(data, (bytes, bytearray), "data", "decode_bytes")
    data = bytes(data)
    if not data.strip():
        raise KenolibError(
            f"{source}: the file is empty; give a policy or ticket export with content"
        )
    data = utf16_to_utf8(data, source)
    data, nul_warning = strip_nul(data, source, "give a UTF-8 or cp1252 text file")
    warnings = [nul_warning] if nul_warning else []
    bom = data.startswith(b"\xef\xbb\xbf")
    try:
        return DecodedText(data.decode("utf-8-sig"), "utf-8", bom, warnings)
    except UnicodeDecodeError:
        pass
    body = data[3:] if bom else data
    repaired = decode_mixed(body)
    if repaired.undefined:
        first = int(repaired.offsets[0])
        raise KenolibError(
            f"{source}: byte {first} is neither UTF-8 nor cp1252 text; re-save the file as UTF-8"
        )
    warnings.append(repaired.warning(source, body) or "")
    return DecodedText(repaired.text, "cp1252", bom, warnings)


def read_text(path: str | os.PathLike[str], max_bytes: int | None = None) -> DecodedText:
    """Read a text file, refusing missing, special, unreadable, oversized, empty or binary files
    with a clear message."""
    p = check_regular_file(require_path(path, "path", "read_text"))
    size = p.stat().st_size
    if max_bytes is not None and size > max_bytes:
        raise KenolibError(f"{p}: {size:,} bytes is larger than the {max_bytes:,}-byte limit")
    return decode_bytes(read_file_bytes(p), str(p))


def read_yaml(path: str | os.PathLike[str], what: str) -> Any:
    """Load a YAML data file; a missing or malformed file is a one-line user error."""
    import yaml

    loader = getattr(
        yaml, "CSafeLoader", yaml.SafeLoader
    )  # libyaml when built: same result, faster
    try:
        return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=loader)  # noqa: S506
    except (OSError, yaml.YAMLError) as exc:
        raise KenolibError(f"{path}: cannot read the {what}: {exc}") from None


def neutralise_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Return a copy whose text cells cannot become formulas (OWASP CSV injection), vectorised."""
    require_frame(df, "df", "neutralise_frame")
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            s = s.astype(object)  # categories cannot take the new, prefixed values
        if not (pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)):
            continue
        text = s.astype("string")
        risky = text.str.match(FORMULA_RE.pattern, na=False)
        if risky.any():
            out[col] = s.where(~risky.to_numpy(), "'" + text)
    out.columns = [neutralise_formula(str(c)) for c in out.columns]
    return out


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and a.samefile(b)
    except OSError:
        return False


def check_output_path(
    out: str | os.PathLike[str],
    inputs: tuple[str | os.PathLike[str] | None, ...] = (),
    suffixes: tuple[str, ...] = WRITABLE_SUFFIXES,
) -> Path:
    """Validate an output path: known extension, not one of the inputs, parent creatable."""
    p = Path(out)
    if p.suffix.lower() not in suffixes:
        raise KenolibError(
            f"{p}: unknown output extension {p.suffix!r}; use one of {', '.join(suffixes)}"
        )
    for i in inputs:
        if i is not None and (_same_file(p, Path(i)) or p.resolve() == Path(i).resolve()):
            raise KenolibError(f"{p}: refusing to overwrite the input file; choose another --out")
    if p.is_dir():
        raise KenolibError(f"{p}: is a directory; give a file name")
    _check_parent(p)
    return p


def _check_parent(p: Path) -> None:
    """The nearest existing ancestor of ``p`` must be a writable directory."""
    parent = p.parent if str(p.parent) else Path(".")
    while not parent.exists() and parent != parent.parent:
        if parent.is_symlink():
            break
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise KenolibError(f"{p}: {parent} is a file, not a directory; choose another --out")
    if parent.is_dir() and not os.access(parent, os.W_OK | os.X_OK):
        raise KenolibError(
            f"{p}: permission denied (cannot write in {parent}); choose another --out"
        )


def _default_file_mode() -> int:
    """The mode a newly created file gets under the current umask (0666 & ~umask)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def check_fits_excel(
    out: str | os.PathLike[str],
    n_rows: int,
    hint: str = "write .parquet or .csv instead",
    n_columns: int = 0,
) -> None:
    """Refuse an ``.xlsx`` output of more data rows or columns than one Excel sheet holds."""
    if Path(out).suffix.lower() != ".xlsx":
        return
    if n_rows >= EXCEL_MAX_ROWS:
        raise KenolibError(
            f"{out}: {n_rows:,} rows do not fit Excel's {EXCEL_MAX_ROWS:,} rows; {hint}"
        )
    if n_columns > EXCEL_MAX_COLUMNS:
        raise KenolibError(
            f"{out}: {n_columns:,} columns do not fit Excel's {EXCEL_MAX_COLUMNS:,} columns; {hint}"
        )


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; move it into place only if the block succeeds."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    except OSError as exc:  # a parent that is a file, no permission, read-only file system
        raise KenolibError(
            f"{target}: cannot write here ({exc.strerror or exc}); choose another output path"
        ) from None
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, _default_file_mode())  # mkstemp makes 0600; outputs are ordinary files
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def atomic_write(target: str | os.PathLike[str], writer: Callable[[Path], None]) -> Path:
    """Call ``writer(tmp_path)`` and atomically move the result to ``target``."""
    with atomic_path(target) as tmp:
        writer(tmp)
    return Path(target)


def _stringify_lists(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object and out[col].map(lambda v: isinstance(v, list | tuple)).any():
            out[col] = out[col].map(
                lambda v: ";".join(map(str, v)) if isinstance(v, list | tuple) else v
            )
    return out


def write_frame(
    df: pd.DataFrame,
    out: str | os.PathLike[str],
    inputs: tuple[str | os.PathLike[str] | None, ...] = (),
    sheet_name: str = "data",
) -> Path:
    """Write a frame as .csv, .xlsx or .parquet (by extension), atomically.

    Text that could run as a spreadsheet formula is neutralised in .csv and .xlsx output.
    """
    require_frame(df, "df", "write_frame")
    p = check_output_path(require_path(out, "out", "write_frame"), inputs)
    check_fits_excel(p, len(df), n_columns=len(df.columns))
    suffix = p.suffix.lower()
    if suffix == ".parquet":
        return atomic_write(p, lambda tmp: df.to_parquet(tmp, index=False))
    flat = _stringify_lists(df)
    if suffix == ".csv":
        safe = neutralise_frame(flat)
        # every field quoted (OWASP): a CR or LF inside a cell can never split the row
        return atomic_write(
            p, lambda tmp: safe.to_csv(tmp, index=False, encoding="utf-8", quoting=csv.QUOTE_ALL)
        )
    # xlsx: text cells are typed as strings (kenolib.xlsx)
    return atomic_write(p, lambda tmp: write_simple_xlsx(flat, tmp, sheet_name=sheet_name))
