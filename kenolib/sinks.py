"""Writing a judged ticket history batch by batch: Parquet, CSV, xlsx, or a dataset by month.

Every sink writes to a temporary name beside its target and moves it into place on
``close()``; ``abort()`` removes what was written. A partitioned dataset is built in a
temporary directory and renamed into place (``--out judged/ --partition month``): one
``month=YYYY-MM/part-0.parquet`` per month (``month=unknown`` for tickets without a date).
"""

from __future__ import annotations

import contextlib
import csv
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from kenolib.errors import KenolibError
from kenolib.files import (
    check_fits_excel,
    check_output_path,
    neutralise_frame,
    write_frame,
)

PARTITIONS = ("month",)
UNKNOWN_MONTH = "unknown"


def _temp_beside(target: Path, directory: bool = False) -> Path:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if directory:
            return Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    except OSError as exc:
        raise KenolibError(
            f"{target}: cannot write here ({exc.strerror or exc}); choose another output path"
        ) from None
    os.close(fd)
    os.chmod(tmp, 0o644)
    return Path(tmp)


class _ParquetFile:
    """One Parquet file written batch by batch with the schema of the first batch."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.writer: pq.ParquetWriter | None = None

    def write(self, df: pd.DataFrame) -> None:
        table = pa.Table.from_pandas(df, preserve_index=False)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, table.schema)
        elif table.schema != self.writer.schema:
            try:
                table = table.cast(self.writer.schema)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as exc:
                raise KenolibError(
                    f"{self.path}: a later batch's columns do not match the first ({exc}); "
                    "give files with the same column types"
                ) from None
        self.writer.write_table(table)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class Sink:
    """Where judged batches go (see the module doc). Use as a context manager."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.rows = 0

    def write(self, df: pd.DataFrame) -> None:
        """Append one judged batch."""
        self.rows += len(df)
        self._write(df)

    def _write(self, df: pd.DataFrame) -> None:
        raise NotImplementedError

    def close(self) -> Path:
        """Finish and move the output into place; returns its path."""
        raise NotImplementedError

    def abort(self) -> None:
        """Remove what was written."""

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()


class ParquetSink(Sink):
    """One Parquet file."""

    def __init__(self, out: Path) -> None:
        super().__init__(out)
        self.tmp = _temp_beside(out)
        self.file = _ParquetFile(self.tmp)

    def _write(self, df: pd.DataFrame) -> None:
        self.file.write(df)

    def close(self) -> Path:
        if self.file.writer is None:  # no batch at all: still a valid, empty file
            pq.write_table(pa.table({}), self.tmp)
        self.file.close()
        os.replace(self.tmp, self.out)
        return self.out

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self.file.close()
        self.tmp.unlink(missing_ok=True)


class CsvSink(Sink):
    """One CSV file, appended batch by batch (every field quoted, formulas neutralised)."""

    def __init__(self, out: Path) -> None:
        super().__init__(out)
        self.tmp = _temp_beside(out)
        self.f = open(self.tmp, "w", encoding="utf-8", newline="")  # noqa: SIM115
        self.header = True

    def _write(self, df: pd.DataFrame) -> None:
        neutralise_frame(df).to_csv(self.f, index=False, header=self.header, quoting=csv.QUOTE_ALL)
        self.header = False

    def close(self) -> Path:
        self.f.close()
        os.replace(self.tmp, self.out)
        return self.out

    def abort(self) -> None:
        self.f.close()
        self.tmp.unlink(missing_ok=True)


class XlsxSink(Sink):
    """An xlsx workbook: batches are kept (up to one sheet's rows) and written on close."""

    def __init__(self, out: Path, inputs: tuple) -> None:
        super().__init__(out)
        self.inputs = inputs
        self.parts: list[pd.DataFrame] = []

    def _write(self, df: pd.DataFrame) -> None:
        check_fits_excel(
            self.out,
            self.rows,
            "write .parquet or .csv instead (kenolib report summarises them)",
            n_columns=len(df.columns),
        )
        self.parts.append(df)

    def close(self) -> Path:
        df = pd.concat(self.parts, ignore_index=True) if self.parts else pd.DataFrame()
        return write_frame(df, self.out, self.inputs, sheet_name="Crossref")


class MonthSink(Sink):
    """A Parquet dataset partitioned by the month of ``created_at`` (hive style)."""

    def __init__(self, out: Path) -> None:
        super().__init__(out)
        self.tmp = _temp_beside(out, directory=True)
        self.files: dict[str, _ParquetFile] = {}

    def _write(self, df: pd.DataFrame) -> None:
        created = pd.to_datetime(df["created_at"], errors="coerce")
        month = created.dt.strftime("%Y-%m").fillna(UNKNOWN_MONTH).to_numpy()
        for key, rows in pd.Series(range(len(df))).groupby(month, sort=False):
            f = self.files.get(key)
            if f is None:
                (self.tmp / f"month={key}").mkdir()
                f = self.files[key] = _ParquetFile(self.tmp / f"month={key}" / "part-0.parquet")
            f.write(df.iloc[rows.to_numpy()])

    def close(self) -> Path:
        for f in self.files.values():
            f.close()
        if self.out.exists():
            self.out.rmdir()  # an empty directory (checked before the run) makes way
        os.replace(self.tmp, self.out)
        return self.out

    def abort(self) -> None:
        for f in self.files.values():
            with contextlib.suppress(Exception):
                f.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def check_dataset_dir(out: str | os.PathLike[str], inputs: tuple) -> Path:
    """A partitioned output: a directory that does not exist yet or is empty, not an input."""
    p = Path(out)
    for i in inputs:
        if i is not None and Path(i).resolve() in (p.resolve(), *p.resolve().parents):
            raise KenolibError(f"{p}: refusing to write into an input; choose another --out")
    if p.exists() and (not p.is_dir() or any(p.iterdir())):
        raise KenolibError(
            f"{p}: exists and is not an empty directory; choose a new --out for the dataset"
        )
    return p


def open_sink(
    out: str | os.PathLike[str], partition: str | None = None, inputs: tuple = ()
) -> Sink:
    """The sink for ``out``: by extension, or a dataset directory with ``partition``."""
    if partition is not None:
        if partition not in PARTITIONS:
            raise KenolibError(f"--partition {partition}: use one of {', '.join(PARTITIONS)}")
        return MonthSink(check_dataset_dir(out, inputs))
    p = check_output_path(out, inputs)
    suffix = p.suffix.lower()
    if suffix == ".parquet":
        return ParquetSink(p)
    if suffix == ".csv":
        return CsvSink(p)
    return XlsxSink(p, inputs)
