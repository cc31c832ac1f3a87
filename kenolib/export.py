"""Writing frames to Excel safely: text stays text, illegal characters removed, long cells cut."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from datetime import date, datetime

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

#: Excel's limit on the characters of one cell.
EXCEL_MAX_CELL_CHARS = 32_767
TRUNCATION_MARKER = " …[truncated by kenolib]"


def clean_cell_text(text: str) -> tuple[str, bool]:
    """Remove characters Excel rejects and cut text over Excel's cell limit with a visible marker.

    Returns the cleaned text and whether it was cut.
    """
    text = ILLEGAL_CHARACTERS_RE.sub("", text)
    if len(text) > EXCEL_MAX_CELL_CHARS:
        keep = EXCEL_MAX_CELL_CHARS - len(TRUNCATION_MARKER)
        return text[:keep] + TRUNCATION_MARKER, True
    return text, False


def xlsx_value(value: object) -> object:
    """Convert a frame value to one openpyxl can write (missing values become empty cells)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.tz_localize(None).to_pydatetime() if value.tzinfo else value.to_pydatetime()
    if isinstance(value, datetime | date | int | float | bool):
        return value
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return str(value)


def text_cell(ws, value: object, font: Font | None = None) -> WriteOnlyCell:
    """A write-only cell whose text is always stored as a string, never as a formula."""
    value = xlsx_value(value)
    if isinstance(value, str):
        value, _ = clean_cell_text(value)
    cell = WriteOnlyCell(ws, value=value)
    if isinstance(value, str):
        cell.data_type = "s"  # a leading '=' stays text (OWASP: write the cell as a string)
    if font is not None:
        cell.font = font
    return cell


def write_rows(ws, header: list[str], rows: Iterable[Iterable[object]]) -> int:
    """Append a bold header and rows to a write-only sheet; return the number of data rows."""
    bold = Font(bold=True)
    ws.append([text_cell(ws, h, bold) for h in header])
    n = 0
    for row in rows:
        ws.append([text_cell(ws, v) for v in row])
        n += 1
    return n


def write_simple_xlsx(
    df: pd.DataFrame, path: str | os.PathLike[str], sheet_name: str = "data"
) -> None:
    """Write one frame to one sheet, streamed, with text typed as text."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=sheet_name[:31])
    ws.freeze_panes = "A2"
    write_rows(ws, [str(c) for c in df.columns], df.itertuples(index=False, name=None))
    wb.save(path)
