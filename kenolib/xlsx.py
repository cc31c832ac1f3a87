"""A domain-free Excel writer: safe cell values, table sheets, streamed rows.

Nothing here knows about policies or tickets (gptables is the model): a sheet is a
:class:`TableSheet` value (title, one-line explanation, frame, table name), written by
:func:`write_table` into a write-only workbook under a title row, as an Excel table, continued on
numbered sheets past Excel's row limit. Every value goes through one conversion
(:func:`cell_value`): missing values become empty cells, numpy scalars Python ones, text is
*safe text* (control characters Excel rejects removed, cut at 32,767 characters with a visible
marker, always stored as a string so a leading ``=`` never becomes a formula). The look (fonts,
widths, wrapped columns, table style) is a plain mapping, the ``workbook`` section of a theme.
Large sheets' rows are streamed into the saved package (:mod:`kenolib.xlsx_stream`).
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.filters import AutoFilter
from openpyxl.worksheet.table import Table, TableColumn, TableStyleInfo

from kenolib.schemas import require_frame

#: Excel's limits on the rows (the header row included) and columns (XFD) of one sheet.
EXCEL_MAX_ROWS, EXCEL_MAX_COLUMNS = 1_048_576, 16_384
#: Rows above a sheet's table: the title and a one-line explanation; the header is on row 3.
HEADER_ROW = 3
#: The same characters as ``ILLEGAL_CHARACTERS_RE``, spelled for pandas/pyarrow (RE2) regexes.
ILLEGAL_CHARACTERS_PATTERN = r"[\x00-\x08\x0B\x0C\x0E-\x1F]"
#: A cell whose text starts with one of these, after any spaces (a spreadsheet skips leading
#: spaces, no-break spaces included), runs as a formula; full-width forms too (OWASP, CWE-1236).
_RISKY = "=+\\-@\uff1d\uff0b\uff0d\uff20"
_SPACES = " \t\n\r\f\v\u00a0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff"
#: Literal characters, not escapes, so that Python's re and pyarrow's RE2 read it alike.
FORMULA_RE = re.compile(f"^[{_SPACES}]*[{_RISKY}]|^[\t\r\n]")


def neutralise_formula(value: object) -> object:
    """Prefix a text value that a spreadsheet would run as a formula with an apostrophe."""
    if isinstance(value, str) and FORMULA_RE.match(value):
        return "'" + value
    return value


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


def cell_value(value: object) -> object:
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
    value = cell_value(value)
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
    require_frame(df, "df", "write_simple_xlsx")
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=sheet_name[:31])
    ws.freeze_panes = "A2"
    write_rows(ws, [str(c) for c in df.columns], df.itertuples(index=False, name=None))
    wb.save(path)


#: The former name of :func:`cell_value`.
xlsx_value = cell_value


@dataclass
class WorkbookStats:
    """What writing a workbook had to change or split, for the Summary and About sheets."""

    truncated_cells: int = 0
    cleaned_cells: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    split: dict[str, list[str]] = field(default_factory=dict)
    sheets: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    pending: list[PendingRows] = field(default_factory=list)


@dataclass
class PendingRows:
    """Data rows of one detail sheet, to be streamed into the package after ``wb.save``."""

    sheet: str
    frame: pd.DataFrame
    wrapped: list[bool]
    first_row: int
    wrap_style: int
    date_style: int
    number_styles: list[int | None] = field(default_factory=list)  # per column, numbers only
    #: internal hyperlinks: (cell reference, location such as "'Ticket detail'!A12")
    links: list[tuple[str, str]] = field(default_factory=list)
    text_style: int | None = None  # text cells of columns that do not wrap
    widths: list[float] = field(default_factory=list)  # per column: wrapped rows' heights


def safe_sheet_title(title: str, taken: Iterable[str] = ()) -> str:
    """A valid, unused sheet name: no ``\\ * ? : / [ ]``, at most 31 characters."""
    clean = re.sub(r"[\\*?:/\[\]]", "_", title).strip("'") or "Sheet"
    clean = clean[:31]
    used = {t.lower() for t in taken}
    n, base = 2, clean
    while clean.lower() in used:
        suffix = f" ({n})"
        clean = base[: 31 - len(suffix)] + suffix
        n += 1
    return clean


def safe_table_name(name: str, taken: Iterable[str] = ()) -> str:
    """A valid, unused Excel table name (letters, digits, underscores; not a cell reference)."""
    clean = re.sub(r"[^A-Za-z0-9_]", "", name) or "Table"
    if not re.match(r"[A-Za-z_]", clean) or re.fullmatch(r"[A-Za-z]{1,3}[0-9]+|[RrCc]", clean):
        clean = "T_" + clean
    clean = clean[:250]
    used = {t.lower() for t in taken}
    n, base = 2, clean
    while clean.lower() in used:
        clean = f"{base}_{n}"
        n += 1
    return clean


def unique_headers(columns: Iterable[object]) -> list[str]:
    seen: set[str] = set()
    out = []
    for c in columns:
        h, _ = clean_cell_text(re.sub(r"[\r\n\t]+", " ", str(c)).strip() or "column")
        base, n = h, 2
        while h.lower() in seen:
            h = f"{base} ({n})"
            n += 1
        seen.add(h.lower())
        out.append(h)
    return out


def clean_text_column(s: pd.Series) -> tuple[pd.Series, int, int]:
    """Vectorised :func:`clean_cell_text` for a column: (cleaned text, cells cleaned, cells cut)."""
    text = s.astype("string")
    illegal = text.str.contains(ILLEGAL_CHARACTERS_PATTERN, regex=True, na=False)
    n_illegal = int(illegal.sum())
    if n_illegal:
        text = text.where(~illegal, text.str.replace(ILLEGAL_CHARACTERS_PATTERN, "", regex=True))
    too_long = text.str.len().fillna(0) > EXCEL_MAX_CELL_CHARS
    n_long = int(too_long.sum())
    if n_long:
        keep = EXCEL_MAX_CELL_CHARS - len(TRUNCATION_MARKER)
        text = text.where(~too_long, text.str.slice(0, keep) + TRUNCATION_MARKER)
    return text, n_illegal, n_long


def is_text_column(s: pd.Series) -> bool:
    return pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)


def column_values(s: pd.Series, stats: WorkbookStats) -> list[object]:
    """A column as Python values openpyxl writes as-is (None for missing), cleaned and counted."""
    if pd.api.types.is_datetime64_any_dtype(s):
        if getattr(s.dt, "tz", None) is not None:
            s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        py = pd.Series(s.dt.to_pydatetime(), index=s.index, dtype=object)
        return py.where(s.notna(), None).tolist()
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
        ok = s.notna()
        if pd.api.types.is_float_dtype(s):
            ok &= ~s.isin([math.inf, -math.inf])  # Excel has no infinity: leave the cell empty
        return s.astype(object).where(ok, None).tolist()
    if pd.api.types.is_object_dtype(s):
        kinds = s.map(lambda v: isinstance(v, str | list | tuple) or v is None or v is pd.NA)
        if not kinds.all():  # mixed values (numbers and text): keep each value's own type
            out = []
            for v in s.tolist():
                v = cell_value(v)
                if isinstance(v, str):
                    stats.cleaned_cells += bool(ILLEGAL_CHARACTERS_RE.search(v))
                    v, cut = clean_cell_text(v)
                    stats.truncated_cells += cut
                out.append(v)
            return out
    if is_text_column(s):
        flat = s.map(lambda v: ";".join(map(str, v)) if isinstance(v, list | tuple) else v)
        text, n_illegal, n_long = clean_text_column(flat)
        stats.cleaned_cells += n_illegal
        stats.truncated_cells += n_long
        return text.astype(object).where(text.notna(), None).tolist()
    return [cell_value(v) for v in s.tolist()]


@dataclass
class Styles:
    """openpyxl style objects built once from a look (shared by every cell)."""

    theme: Mapping[str, Any]
    title: Font = field(init=False)
    explanation: Font = field(init=False)
    header: Font = field(init=False)
    wrap: Alignment = field(init=False)
    top: Alignment = field(init=False)
    truncated: PatternFill = field(init=False)

    def __post_init__(self) -> None:
        wb = workbook_look(self.theme)
        name = wb.get("font", "Calibri")
        t, e = wb["title"], wb["explanation"]
        self.title = Font(
            name=name, size=t.get("size", 14), bold=t.get("bold", True), color=t.get("colour")
        )
        self.explanation = Font(name=name, italic=e.get("italic", True), color=e.get("colour"))
        self.header = Font(name=name, bold=True)
        self.wrap = Alignment(wrap_text=True, vertical="top")
        # table text indented one step: never run into the right-aligned figure before it
        self.text = Alignment(horizontal="left", wrap_text=True, vertical="top", indent=1)
        self.number_header = Alignment(horizontal="right", vertical="top", wrap_text=True)
        self.short_text = Alignment(horizontal="left", vertical="top", indent=1)
        self.top = Alignment(vertical="top")
        self.truncated = PatternFill("solid", fgColor=wb.get("truncation_fill", "FCE4D6"))


def string_cell(ws, value: str, font: Font | None = None, alignment=None) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value=value)
    cell.data_type = "s"  # never a formula, whatever the first character
    if font is not None:
        cell.font = font
    if alignment is not None:
        cell.alignment = alignment
    return cell


DATE_FORMAT = "yyyy-mm-dd hh:mm"


def style_id(ws, alignment: Alignment | None = None, number_format: str | None = None) -> int:
    """Register a cell style in the workbook and return its index (for generated rows)."""
    cell = WriteOnlyCell(ws)
    if alignment is not None:
        cell.alignment = alignment
    if number_format is not None:
        cell.number_format = number_format
    return cell.style_id


def count_cell_fixes(df: pd.DataFrame, stats: WorkbookStats) -> None:
    """Count the cells writing ``df`` will clean (control characters) or cut (too long)."""
    for col in df.columns:
        s = df[col]
        if not is_text_column(s):
            continue
        if pd.api.types.is_object_dtype(s):
            s = s.map(lambda v: ";".join(map(str, v)) if isinstance(v, list | tuple) else v)
            s = s.where(s.map(lambda v: isinstance(v, str)), None)
        text = s.astype("string")
        stats.cleaned_cells += int(
            text.str.contains(ILLEGAL_CHARACTERS_PATTERN, regex=True, na=False).sum()
        )
        stats.truncated_cells += int((text.str.len().fillna(0) > EXCEL_MAX_CELL_CHARS).sum())


def workbook_look(look: Mapping[str, Any]) -> Mapping[str, Any]:
    """The workbook look: ``look`` itself, or its ``workbook`` section when given a whole theme."""
    inner = look.get("workbook")
    return inner if isinstance(inner, Mapping) else look


def column_width(header: str, values: list[object], theme: Mapping[str, Any]) -> float:
    """A column's width: the look's ``widths[header]``, else from the header and the data."""
    wb = workbook_look(theme)
    if header in wb.get("widths", {}):
        return float(wb["widths"][header])
    sample = [len(str(v)) for v in values[:500] if v is not None]
    longest = max([len(header), *sample]) if sample else len(header)
    return float(min(wb.get("max_width", 70), max(wb.get("min_width", 8), longest + 2)))


def write_title(ws, title: str, explanation: str, styles: Styles) -> None:
    """Row 1: the sheet's title; row 2: its one-line explanation."""
    ws.append([string_cell(ws, title, styles.title)])
    ws.append([string_cell(ws, explanation, styles.explanation)])


def print_setup(ws, header_row: int | None = HEADER_ROW) -> None:
    """Print landscape, one page wide (as many pages tall as needed), header row repeated."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    if header_row is not None:
        ws.print_title_rows = f"{header_row}:{header_row}"


def add_table(ws, name: str, headers: list[str], first_row: int, last_row: int, style: str):
    ref = f"A{first_row}:{get_column_letter(len(headers))}{last_row}"
    table = Table(displayName=name, ref=ref)
    table.tableColumns = [TableColumn(id=i, name=h) for i, h in enumerate(headers, 1)]
    table.autoFilter = AutoFilter(ref=ref)
    table.tableStyleInfo = TableStyleInfo(name=style, showRowStripes=True)
    with warnings.catch_warnings():  # "add table columns manually": done above
        warnings.simplefilter("ignore", UserWarning)
        ws.add_table(table)
    return table


def _widths(
    df: pd.DataFrame, headers: list[str], theme: Mapping[str, Any], numeric: list[bool]
) -> list[float]:
    """Widths: the look's by name, else the data's (+5 for number formats); never under header."""
    head = df.head(500)
    sample = [column_values(head[c], WorkbookStats()) for c in df.columns]
    names = unique_headers(df.columns)
    widths = [column_width(n, col, theme) for n, col in zip(names, sample, strict=True)]
    widths = [w + 5 if num else w for w, num in zip(widths, numeric, strict=True)]
    return [max(w, min(len(h) + 2, 40)) for w, h in zip(widths, headers, strict=True)]


def _chunk_links(
    links: tuple[int, dict[int, str]] | None, start: int, stop: int
) -> list[tuple[str, str]]:
    """The (cell, location) links of the rows ``start``..``stop`` of one sheet part."""
    if links is None:
        return []
    letter = get_column_letter(links[0] + 1)
    return [
        (f"{letter}{HEADER_ROW + 1 + pos - start}", where)
        for pos, where in sorted(links[1].items())
        if start <= pos < stop
    ]


def _table_head(
    ws, note: str, headers: list[str], widths: list[float], numeric: list[bool], styles: Styles
) -> None:
    """Title, explanation and header row of a table sheet (frozen, printable, sized)."""
    ws.freeze_panes = f"A{HEADER_ROW + 1}"
    print_setup(ws, HEADER_ROW)
    for i, w in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(i)].width = w
    write_title(ws, ws.title, note, styles)
    ws.append(
        [
            string_cell(ws, h, styles.header, styles.number_header if num else styles.text)
            for h, num in zip(headers, numeric, strict=True)
        ]
    )


def write_table_sheets(
    wb: Workbook,
    title: str,
    explanation: str,
    df: pd.DataFrame,
    table_name: str,
    theme: Mapping[str, Any],
    stats: WorkbookStats,
    max_rows: int = EXCEL_MAX_ROWS,
    progress: bool = False,
    labels: Mapping[str, str] | None = None,
    formats: Mapping[str, str] | None = None,
    links: tuple[int, dict[int, str]] | None = None,
) -> list[str]:
    """Stream ``df`` as an Excel table under a title row; continue on numbered sheets when full.

    ``labels``/``formats``: header shown and number format by column name; ``links``: (column
    position, {row position: location}) internal hyperlinks. Printed landscape, one page wide,
    header repeated. Returns the titles ("Out of scope", "Out of scope (2)")."""
    styles = Styles(theme)
    per_sheet = max_rows - HEADER_ROW
    if per_sheet < 1:
        raise ValueError(f"max_rows must exceed {HEADER_ROW}")
    headers = unique_headers([(labels or {}).get(str(c), str(c)) for c in df.columns])
    numeric = [pd.api.types.is_numeric_dtype(df[c]) for c in df.columns]  # headers align right
    widths = _widths(df, headers, theme, numeric)
    formats = formats or {}
    wrap_cols = set(workbook_look(theme).get("wrap", []))
    wrapped = [str(c) in wrap_cols for c in df.columns]
    n = len(df) if len(df.columns) else 0
    chunks = max(1, math.ceil(n / per_sheet))
    written: list[str] = []
    count_cell_fixes(df, stats)  # rows are generated at save time; the Summary needs counts now
    for k in range(chunks):
        sheet_title = safe_sheet_title(title if k == 0 else f"{title} ({k + 1})", wb.sheetnames)
        ws = wb.create_sheet(sheet_title)
        written.append(sheet_title)
        start, stop = k * per_sheet, min(n, (k + 1) * per_sheet)
        note = explanation
        if chunks > 1:
            note = (
                f"{explanation} Part {k + 1} of {chunks}: rows {start + 1:,}–{stop:,} of {n:,} "
                f"(Excel holds {max_rows:,} rows per sheet)."
            )
        _table_head(ws, note, headers, widths, numeric, styles)
        if stop > start:
            stats.pending.append(
                PendingRows(
                    ws.title,
                    df.iloc[start:stop],
                    wrapped,
                    HEADER_ROW + 1,
                    style_id(ws, alignment=styles.text),
                    style_id(ws, styles.top, number_format=DATE_FORMAT),
                    [style_id(ws, styles.top, formats.get(str(c))) for c in df.columns],
                    _chunk_links(links, start, stop),
                    text_style=style_id(ws, alignment=styles.short_text),
                    widths=widths,
                )
            )
        if stop > start and headers:
            name = safe_table_name(table_name if k == 0 else f"{table_name}_{k + 1}", stats.tables)
            add_table(
                ws,
                name,
                headers,
                HEADER_ROW,
                HEADER_ROW + stop - start,
                workbook_look(theme).get("table_style", "TableStyleMedium2"),
            )
            stats.tables.append(name)
        else:
            ws.append([string_cell(ws, "(no rows)", styles.explanation)])
        stats.rows[sheet_title] = stop - start
    if chunks > 1:
        stats.split[title] = written[1:]
    stats.sheets.extend(written)
    return written


def bar_chart(
    ws,
    title: str,
    header_row: int,
    n_rows: int,
    n_series: int,
    colours: list[str],
    theme: Mapping[str, Any],
) -> BarChart:
    cfg = workbook_look(theme).get("chart", {})
    chart = BarChart()
    chart.type = "bar"
    chart.grouping = "stacked"
    chart.overlap = 100
    chart.title = title
    chart.style = cfg.get("style", 10)
    chart.width = cfg.get("width_cm", 20)
    chart.height = cfg.get("height_cm", 9)
    data_ref = Reference(
        ws, min_col=2, max_col=1 + n_series, min_row=header_row, max_row=header_row + n_rows
    )
    cats = Reference(ws, min_col=1, min_row=header_row + 1, max_row=header_row + n_rows)
    chart.add_data(data_ref, titles_from_data=True)
    chart.set_categories(cats)
    for series, colour in zip(chart.series, colours, strict=False):
        series.graphicalProperties.solidFill = colour
        series.graphicalProperties.line.solidFill = colour
    return chart


def volume_share_chart(
    ws,
    title: str,
    header_row: int,
    n_rows: int,
    colours: list[str],
    theme: Mapping[str, Any],
) -> BarChart:
    """Columns of counts (column B) with a line of shares (column C, 0–100 %) on a second axis."""
    cfg = workbook_look(theme).get("chart", {})
    bars = BarChart()
    bars.type = "col"
    bars.title = title
    bars.style = cfg.get("style", 10)
    bars.width = cfg.get("width_cm", 20)
    bars.height = cfg.get("height_cm", 9)
    last = header_row + n_rows
    bars.add_data(Reference(ws, min_col=2, min_row=header_row, max_row=last), titles_from_data=True)
    bars.set_categories(Reference(ws, min_col=1, min_row=header_row + 1, max_row=last))
    line = LineChart()
    line.add_data(Reference(ws, min_col=3, min_row=header_row, max_row=last), titles_from_data=True)
    line.y_axis.axId = 200
    line.y_axis.number_format = "0%"
    line.y_axis.scaling.min = 0  # a share: 0-100 % whatever the history (a sparse one is not 380 %)
    line.y_axis.scaling.max = 1
    line.y_axis.majorGridlines = None
    line.y_axis.crosses = "max"
    for axis in (bars.x_axis, bars.y_axis, line.y_axis):
        axis.delete = False
    bars.y_axis.number_format = "#,##0"
    for series, colour in zip([*bars.series, *line.series], colours, strict=False):
        series.graphicalProperties.solidFill = colour
        series.graphicalProperties.line.solidFill = colour
    bars.legend.position = "b"
    bars += line
    return bars


@dataclass(frozen=True)
class TableSheet:
    """One table sheet: its title, one-line explanation, rows and Excel table name."""

    title: str
    explanation: str
    frame: pd.DataFrame
    table_name: str
    labels: Mapping[str, str] | None = None  # column name -> header shown
    formats: Mapping[str, str] | None = None  # column name -> number format
    #: row position in ``frame`` -> where its cell in ``link_column`` jumps ("'Sheet'!A5")
    links: Mapping[int, str] | None = None
    link_column: str | None = None


def write_table(
    wb: Workbook,
    sheet: TableSheet,
    look: Mapping[str, Any],
    stats: WorkbookStats,
    max_rows: int = EXCEL_MAX_ROWS,
    progress: bool = False,
) -> list[str]:
    """Write ``sheet`` (continued on numbered sheets past ``max_rows``); return the titles."""
    return write_table_sheets(
        wb,
        sheet.title,
        sheet.explanation,
        sheet.frame,
        sheet.table_name,
        look,
        stats,
        max_rows,
        progress,
        sheet.labels,
        sheet.formats,
        _links(sheet),
    )


def _links(sheet: TableSheet) -> tuple[int, dict[int, str]] | None:
    """(column position, {row position: location}) of a sheet's internal links, or None."""
    if not sheet.links or sheet.link_column not in sheet.frame.columns:
        return None
    return list(sheet.frame.columns).index(sheet.link_column), dict(sheet.links)
