"""Writing frames to Excel safely: text stays text, illegal characters removed, long cells cut."""

from __future__ import annotations

import copy
import functools
import math
import os
import re
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.chart import BarChart, Reference
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.filters import AutoFilter
from openpyxl.worksheet.hyperlink import Hyperlink
from openpyxl.worksheet.table import Table, TableColumn, TableStyleInfo
from tqdm.auto import tqdm

from kenolib.config import PACKAGE_DATA
from kenolib.errors import KenolibError
from kenolib.files import EXCEL_MAX_ROWS, read_yaml
from kenolib.schemas import require_frame

if TYPE_CHECKING:
    from kenolib.report import ReportData

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
    require_frame(df, "df", "write_simple_xlsx")
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=sheet_name[:31])
    ws.freeze_panes = "A2"
    write_rows(ws, [str(c) for c in df.columns], df.itertuples(index=False, name=None))
    wb.save(path)


# --------------------------------------------------------------------------------------------
# The management workbook: every sheet streamed (write-only), tables with string headers,
# text typed as text, long cells cut with a marker, detail split past Excel's row limit.
# --------------------------------------------------------------------------------------------

#: Rows above a sheet's table: the title and a one-line explanation; the header is on row 3.
HEADER_ROW = 3
THEME_FILE = PACKAGE_DATA / "report_theme.yaml"
#: The same characters as ``ILLEGAL_CHARACTERS_RE``, spelled for pandas/pyarrow (RE2) regexes.
ILLEGAL_CHARACTERS_PATTERN = r"[\x00-\x08\x0B\x0C\x0E-\x1F]"


@functools.cache
def _load_theme_cached(path: str) -> dict[str, Any]:
    theme = read_yaml(path, "report theme")
    for key in ("statuses", "verdicts", "workbook", "html", "sheets"):
        if not isinstance(theme, dict) or key not in theme:
            raise KenolibError(f"{path}: the report theme lacks its {key!r} section")
    for status in ("supported", "not_supported", "conditional", "silent"):
        if status not in theme["statuses"]:
            raise KenolibError(f"{path}: the report theme lacks the {status!r} status")
    _check_colours(theme, path)
    return theme


_COLOUR_KEYS = {"fill", "inherited_fill", "plot", "colour", "truncation_fill"}
_HTML_COLOUR_KEYS = {"text", "muted", "accent", "table_header", "table_border"}


def _check_colours(node: object, path: str, where: str = "") -> None:
    """Colours must be quoted 6-digit hex strings (YAML reads 006100 as a number)."""
    if not isinstance(node, dict):
        return
    for k, v in node.items():
        here = f"{where}.{k}" if where else str(k)
        colour = k in _COLOUR_KEYS or (where == "html" and k in _HTML_COLOUR_KEYS)
        if colour and not isinstance(v, dict):
            if not (isinstance(v, str) and re.fullmatch(r"[0-9A-Fa-f]{6}", v)):
                raise KenolibError(
                    f"{path}: {here} = {v!r} is not a colour; write 6 hex digits in quotes"
                )
        elif k != "widths":
            _check_colours(v, path, here)


def load_theme(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The report theme: colours, marks, fonts, widths and sheet wording (``report_theme.yaml``)."""
    return copy.deepcopy(_load_theme_cached(str(path or THEME_FILE)))


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


def _unique_headers(columns: Iterable[object]) -> list[str]:
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


def _is_text_column(s: pd.Series) -> bool:
    return pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)


def _column_values(s: pd.Series, stats: WorkbookStats) -> list[object]:
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
                v = xlsx_value(v)
                if isinstance(v, str):
                    stats.cleaned_cells += bool(ILLEGAL_CHARACTERS_RE.search(v))
                    v, cut = clean_cell_text(v)
                    stats.truncated_cells += cut
                out.append(v)
            return out
    if _is_text_column(s):
        flat = s.map(lambda v: ";".join(map(str, v)) if isinstance(v, list | tuple) else v)
        text, n_illegal, n_long = clean_text_column(flat)
        stats.cleaned_cells += n_illegal
        stats.truncated_cells += n_long
        return text.astype(object).where(text.notna(), None).tolist()
    return [xlsx_value(v) for v in s.tolist()]


@dataclass
class _Styles:
    """openpyxl style objects built once from the theme (shared by every cell)."""

    theme: dict[str, Any]
    title: Font = field(init=False)
    explanation: Font = field(init=False)
    header: Font = field(init=False)
    wrap: Alignment = field(init=False)
    top: Alignment = field(init=False)
    truncated: PatternFill = field(init=False)

    def __post_init__(self) -> None:
        wb = self.theme["workbook"]
        name = wb.get("font", "Calibri")
        t, e = wb["title"], wb["explanation"]
        self.title = Font(
            name=name, size=t.get("size", 14), bold=t.get("bold", True), color=t.get("colour")
        )
        self.explanation = Font(name=name, italic=e.get("italic", True), color=e.get("colour"))
        self.header = Font(name=name, bold=True)
        self.wrap = Alignment(wrap_text=True, vertical="top")
        self.top = Alignment(vertical="top")
        self.truncated = PatternFill("solid", fgColor=wb.get("truncation_fill", "FCE4D6"))


def _string_cell(ws, value: str, font: Font | None = None, alignment=None) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value=value)
    cell.data_type = "s"  # never a formula, whatever the first character
    if font is not None:
        cell.font = font
    if alignment is not None:
        cell.alignment = alignment
    return cell


DATE_FORMAT = "yyyy-mm-dd hh:mm"


def _style_id(ws, alignment: Alignment | None = None, number_format: str | None = None) -> int:
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
        if not _is_text_column(s):
            continue
        if pd.api.types.is_object_dtype(s):
            s = s.map(lambda v: ";".join(map(str, v)) if isinstance(v, list | tuple) else v)
            s = s.where(s.map(lambda v: isinstance(v, str)), None)
        text = s.astype("string")
        stats.cleaned_cells += int(
            text.str.contains(ILLEGAL_CHARACTERS_PATTERN, regex=True, na=False).sum()
        )
        stats.truncated_cells += int((text.str.len().fillna(0) > EXCEL_MAX_CELL_CHARS).sum())


def _width(header: str, values: list[object], theme: dict[str, Any]) -> float:
    wb = theme["workbook"]
    if header in wb.get("widths", {}):
        return float(wb["widths"][header])
    sample = [len(str(v)) for v in values[:500] if v is not None]
    longest = max([len(header), *sample]) if sample else len(header)
    return float(min(wb.get("max_width", 70), max(wb.get("min_width", 8), longest + 2)))


def write_title(ws, title: str, explanation: str, styles: _Styles) -> None:
    """Row 1: the sheet's title; row 2: its one-line explanation."""
    ws.append([_string_cell(ws, title, styles.title)])
    ws.append([_string_cell(ws, explanation, styles.explanation)])


def _add_table(ws, name: str, headers: list[str], first_row: int, last_row: int, style: str):
    ref = f"A{first_row}:{get_column_letter(len(headers))}{last_row}"
    table = Table(displayName=name, ref=ref)
    table.tableColumns = [TableColumn(id=i, name=h) for i, h in enumerate(headers, 1)]
    table.autoFilter = AutoFilter(ref=ref)
    table.tableStyleInfo = TableStyleInfo(name=style, showRowStripes=True)
    with warnings.catch_warnings():  # "add table columns manually": done above
        warnings.simplefilter("ignore", UserWarning)
        ws.add_table(table)
    return table


def write_table_sheets(
    wb: Workbook,
    title: str,
    explanation: str,
    df: pd.DataFrame,
    table_name: str,
    theme: dict[str, Any],
    stats: WorkbookStats,
    max_rows: int = EXCEL_MAX_ROWS,
    progress: bool = False,
) -> list[str]:
    """Stream ``df`` as an Excel table under a title row; continue on numbered sheets when full.

    Returns the titles of the sheets written ("Out of scope", "Out of scope (2)", ...).
    """
    styles = _Styles(theme)
    per_sheet = max_rows - HEADER_ROW
    if per_sheet < 1:
        raise ValueError(f"max_rows must exceed {HEADER_ROW}")
    headers = _unique_headers(df.columns)
    head = df.head(500)
    sample = [_column_values(head[c], WorkbookStats()) for c in df.columns]
    widths = [_width(h, col, theme) for h, col in zip(headers, sample, strict=True)]
    wrap_cols = set(theme["workbook"].get("wrap", []))
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
        ws.freeze_panes = f"A{HEADER_ROW + 1}"
        for i, w in enumerate(widths, 1):
            ws.column_dimensions[get_column_letter(i)].width = w
        write_title(ws, sheet_title, note, styles)
        ws.append([_string_cell(ws, h, styles.header) for h in headers])
        if stop > start:
            stats.pending.append(
                PendingRows(
                    ws.title,
                    df.iloc[start:stop],
                    wrapped,
                    HEADER_ROW + 1,
                    _style_id(ws, alignment=styles.wrap),
                    _style_id(ws, number_format=DATE_FORMAT),
                )
            )
        if stop > start and headers:
            name = safe_table_name(table_name if k == 0 else f"{table_name}_{k + 1}", stats.tables)
            _add_table(
                ws,
                name,
                headers,
                HEADER_ROW,
                HEADER_ROW + stop - start,
                theme["workbook"].get("table_style", "TableStyleMedium2"),
            )
            stats.tables.append(name)
        else:
            ws.append([_string_cell(ws, "(no rows)", styles.explanation)])
        stats.rows[sheet_title] = stop - start
    if chunks > 1:
        stats.split[title] = written[1:]
    stats.sheets.extend(written)
    return written


def _comment_text(
    cell: pd.Series, clause_text: dict[str, str], status_label: str, limit: int
) -> str | None:
    ids = [i for i in str(cell.get("clause_ids", "") or "").split(";") if i]
    notes = [i for i in str(cell.get("note_ids", "") or "").split(";") if i]
    if not ids and not notes:
        return None
    lines = [status_label + (" — inherited from the overview table" if cell["inherited"] else "")]
    if cell.get("qualifiers"):
        lines.append(f"Variants: {cell['qualifiers']}")
    lines += [f"{i}: {clause_text.get(i, '')}" for i in ids + notes]
    text, _ = clean_cell_text("\n".join(lines))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def write_coverage_sheet(
    wb: Workbook,
    data: ReportData,
    theme: dict[str, Any],
    stats: WorkbookStats,
    clause_at: dict[str, str],
) -> str:
    """Topics × products with marks, fills, a legend, a comment and a link to each cell's clause."""
    styles = _Styles(theme)
    spec = theme["sheets"]["coverage"]
    st = theme["statuses"]
    suffix = theme.get("inherited_suffix", " (overview)")
    wbt = theme["workbook"]
    name = wbt.get("font", "Calibri")
    cfg = wbt.get("comment", {})
    cov = data.coverage
    topics = list(dict.fromkeys(cov["topic"]))
    products = list(dict.fromkeys(cov["product"]))
    labels = dict(zip(cov["topic"], cov["topic_label"], strict=False))
    clause_text = dict(
        zip(
            data.clauses["clause_id"],
            "["
            + data.clauses["status"]
            + "] "
            + data.clauses["heading"]
            + " — "
            + data.clauses["text"],
            strict=True,
        )
    )
    look: dict[tuple[str, bool], tuple[Font, PatternFill]] = {}
    for status, s in st.items():
        for inh in (False, True):
            look[(status, inh)] = (
                Font(name=name, bold=not inh, italic=inh, color=s.get("colour")),
                PatternFill("solid", fgColor=s["inherited_fill" if inh else "fill"]),
            )
    title = safe_sheet_title(spec["title"], wb.sheetnames)
    ws = wb.create_sheet(title)
    ws.freeze_panes = f"C{HEADER_ROW + 1}"
    # printed on one page wide, landscape, headers repeated: marks keep it readable in black & white
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    ws.column_dimensions["A"].width = 34
    ws.column_dimensions["B"].width = 24
    for i in range(len(products)):
        ws.column_dimensions[get_column_letter(i + 3)].width = 22
    write_title(ws, title, spec["explanation"], styles)
    headers = _unique_headers(["topic", "topic_id", *[data.products.get(p, p) for p in products]])
    ws.append([_string_cell(ws, h, styles.header, styles.wrap) for h in headers])
    cells = cov.set_index(["topic", "product"])
    center = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for t in topics:
        row = [_string_cell(ws, labels.get(t, t), None, styles.top), _string_cell(ws, t)]
        for p in products:
            c = cells.loc[(t, p)]
            status = str(c["status"])
            inh = bool(c["inherited"])
            s = st.get(status, st["silent"])
            cell = _string_cell(ws, f"{s['mark']} {s['short']}" + (suffix if inh else ""))
            cell.font, cell.fill = look.get((status, inh), look[("silent", inh)])
            cell.alignment = center
            comment = _comment_text(c, clause_text, s["label"], int(cfg.get("max_chars", 1500)))
            if comment:
                cell.comment = Comment(comment, "kenolib")
                cell.comment.width = cfg.get("width_pt", 420)
                cell.comment.height = cfg.get("height_pt", 220)
            first = next((i for i in str(c["clause_ids"] or "").split(";") if i in clause_at), None)
            if first:
                cell.hyperlink = Hyperlink(
                    ref="",
                    location=clause_at[first],
                    tooltip=f"Go to {first}",
                )
            row.append(cell)
        ws.append(row)
    table_name = safe_table_name("tblCoverage", stats.tables)
    table = _add_table(
        ws,
        table_name,
        headers,
        HEADER_ROW,
        HEADER_ROW + len(topics),
        wbt.get("coverage_table_style", "TableStyleLight1"),
    )
    table.tableStyleInfo.showRowStripes = False
    stats.tables.append(table_name)
    ws.append([])
    ws.append([_string_cell(ws, "Legend", styles.header)])
    for status, s in st.items():
        font, fill = look[(status, False)]
        mark = _string_cell(ws, f"{s['mark']} {s['short']}")
        mark.font, mark.fill, mark.alignment = font, fill, center
        ws.append([mark, _string_cell(ws, s["label"])])
    font, fill = look[("supported", True)]
    mark = _string_cell(ws, f"{st['supported']['mark']} {st['supported']['short']}{suffix}")
    mark.font, mark.fill, mark.alignment = font, fill, center
    ws.append([mark, _string_cell(ws, theme.get("inherited_legend", "inherited"))])
    ws.append(
        [
            _string_cell(ws, "Clauses"),
            _string_cell(
                ws,
                "Each marked cell carries a comment with its clauses and links to the first one.",
            ),
        ]
    )
    stats.rows[title] = len(topics)
    stats.sheets.append(title)
    return title


def _write_block(
    ws,
    styles: _Styles,
    heading: str,
    df: pd.DataFrame,
    stats: WorkbookStats,
    start_row: int,
    name: str,
    theme: dict[str, Any],
) -> int:
    """A titled table inside the Summary sheet; returns the next free row."""
    ws.append([_string_cell(ws, heading, styles.header)])
    headers = _unique_headers(df.columns)
    ws.append([_string_cell(ws, h, styles.header) for h in headers])
    cols = [_column_values(df[c], stats) for c in df.columns]
    for row in zip(*cols, strict=True):
        ws.append(
            [_string_cell(ws, v, None, styles.wrap) if isinstance(v, str) else v for v in row]
        )
    if len(df):
        table_name = safe_table_name(name, stats.tables)
        _add_table(
            ws,
            table_name,
            headers,
            start_row + 1,
            start_row + 1 + len(df),
            theme["workbook"].get("table_style", "TableStyleMedium2"),
        )
        stats.tables.append(table_name)
    ws.append([])
    return start_row + len(df) + 3


def _bar_chart(
    ws,
    title: str,
    header_row: int,
    n_rows: int,
    n_series: int,
    colours: list[str],
    theme: dict[str, Any],
) -> BarChart:
    cfg = theme["workbook"].get("chart", {})
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


def write_summary_sheet(ws, data: ReportData, theme: dict[str, Any], stats: WorkbookStats) -> None:
    """Fill the (already created, first) Summary sheet once the detail sheets are written."""
    from kenolib.report import coverage_counts, key_figures, top_gaps

    styles = _Styles(theme)
    spec = theme["sheets"]["summary"]
    ws.freeze_panes = "A3"
    for col, w in zip("ABCDEF", (52, 70, 16, 16, 16, 60), strict=True):
        ws.column_dimensions[col].width = w
    write_title(ws, ws.title, spec["explanation"], styles)
    row = HEADER_ROW
    figures = key_figures(data, stats)
    ws.append([_string_cell(ws, "Figure", styles.header), _string_cell(ws, "Value", styles.header)])
    fcols = [_column_values(figures[c], stats) for c in figures.columns]
    for f, v in zip(*fcols, strict=True):
        if isinstance(v, float) and "share" in f.lower():
            v = WriteOnlyCell(ws, value=v)
            v.number_format = "0.0%"
        ws.append(
            [
                _string_cell(ws, f, None, styles.wrap),
                _string_cell(ws, v, None, styles.wrap) if isinstance(v, str) else v,
            ]
        )
    name = safe_table_name("tblKeyFigures", stats.tables)
    _add_table(
        ws,
        name,
        ["Figure", "Value"],
        row,
        row + len(figures),
        theme["workbook"].get("table_style", "TableStyleMedium2"),
    )
    stats.tables.append(name)
    ws.append([])
    row += len(figures) + 2
    gaps = top_gaps(data)
    heading = (
        "Top gaps: topics the policy is silent about, most asked first"
        if data.has_tickets
        else "Top gaps: contradictions and sibling-product gaps"
    )
    row = _write_block(ws, styles, heading, gaps, stats, row, "tblTopGaps", theme)
    st = theme["statuses"]
    counts = coverage_counts(data.coverage)
    counts["product"] = counts["product"].map(lambda p: data.products.get(p, p))
    chart_row = row + 1
    row = _write_block(
        ws,
        styles,
        "Coverage cells by product and status",
        counts,
        stats,
        row,
        "tblCoverageByProduct",
        theme,
    )
    colours = [st[s]["plot"] for s in ("supported", "not_supported", "conditional", "silent")]
    chart = _bar_chart(ws, "Coverage cells by product", chart_row, len(counts), 4, colours, theme)
    ws.add_chart(chart, "H3")
    if data.has_tickets and int(data.verdicts["tickets"].sum()) > 0:
        order = ["supported", "not_supported", "silent"]
        v = data.verdicts[["product", *order]].copy()
        v["product"] = v["product"].map(lambda p: data.products.get(p, p))
        verdict_row = row + 1
        row = _write_block(
            ws,
            styles,
            "Tickets by product and verdict",
            v,
            stats,
            row,
            "tblVerdictsByProduct",
            theme,
        )
        colours = [theme["verdicts"][c]["plot"] for c in order]
        chart = _bar_chart(
            ws, "Tickets by product and verdict", verdict_row, len(v), len(order), colours, theme
        )
        ws.add_chart(chart, "H23")
    stats.sheets.insert(0, ws.title)


def write_report_workbook(
    data: ReportData,
    path: str | os.PathLike[str],
    theme: dict[str, Any] | None = None,
    max_rows: int = EXCEL_MAX_ROWS,
    progress: bool = False,
) -> WorkbookStats:
    """Write the management workbook, every sheet streamed; return what had to be cut or split."""
    from kenolib.report import about_rows, silent_cells

    theme = theme or load_theme()
    sheets = theme["sheets"]
    stats = WorkbookStats()
    wb = Workbook(write_only=True)
    props = theme["workbook"].get("properties", {})
    wb.properties.creator = props.get("creator", "kenolib")
    wb.properties.title = props.get("title")
    wb.properties.subject = props.get("subject")
    wb.properties.keywords = props.get("keywords")
    wb.properties.category = props.get("category")
    wb.properties.description = f"Policy {data.policy_source} (SHA-256 {data.policy_sha256})"
    wb.properties.created = data.generated_at.replace(tzinfo=None)
    summary = wb.create_sheet(safe_sheet_title(sheets["summary"]["title"]))
    # where each clause will land in Clauses (or its continuation sheets), for the links
    per_sheet = max_rows - HEADER_ROW
    taken = [summary.title, sheets["coverage"]["title"]]
    clause_at: dict[str, str] = {}
    for i, cid in enumerate(data.clauses["clause_id"]):
        k, r = divmod(i, per_sheet)
        base = sheets["clauses"]["title"]
        sheet = safe_sheet_title(base if k == 0 else f"{base} ({k + 1})", taken)
        clause_at[cid] = f"'{sheet}'!A{HEADER_ROW + 1 + r}"
    write_coverage_sheet(wb, data, theme, stats, clause_at)

    def detail(key: str, df: pd.DataFrame, table: str, note: str = "") -> None:
        spec = sheets[key]
        write_table_sheets(
            wb,
            spec["title"],
            spec["explanation"] + note,
            df,
            table,
            theme,
            stats,
            max_rows,
            progress,
        )

    detail("clauses", data.clauses, "tblClauses")
    detail("findings", data.findings, "tblFindings")
    none = " No ticket history was analysed for this report."
    empty = pd.DataFrame({"ticket_id": pd.Series([], dtype="string")})
    if data.has_tickets:
        detail("tickets_by_topic", data.tickets_by_topic, "tblTicketsByTopic")
        detail("out_of_scope", data.out_of_scope, "tblOutOfScope")
        detail("policy_gaps", data.policy_gaps, "tblPolicyGaps")
    else:
        detail("tickets_by_topic", empty, "tblTicketsByTopic", none)
        detail("out_of_scope", empty, "tblOutOfScope", none)
        detail(
            "policy_gaps",
            silent_cells(data.coverage),
            "tblPolicyGaps",
            " Without tickets: the silent cells of the coverage matrix.",
        )
    if data.policy_changes is not None:
        detail("policy_changes", data.policy_changes, "tblPolicyChanges")
    about_spec = sheets["about"]
    about = about_rows(data, stats)
    write_table_sheets(
        wb,
        about_spec["title"],
        about_spec["explanation"],
        about,
        "tblAbout",
        theme,
        stats,
        max_rows,
    )
    write_summary_sheet(summary, data, theme, stats)
    save_workbook(wb, path, stats, progress=progress)
    return stats


# --------------------------------------------------------------------------------------------
# Detail rows, vectorised: openpyxl writes each detail sheet's title, header, widths, frozen
# pane and table; the data rows are generated column-wise (pandas/pyarrow string operations,
# one chunk at a time) in the same SpreadsheetML openpyxl writes, and streamed into the saved
# package. Text cells are inline strings (``t="inlineStr"``), so nothing can become a formula.
# --------------------------------------------------------------------------------------------

#: Rows generated per chunk when streaming detail rows into a saved workbook.
XML_CHUNK_ROWS = 50_000
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
_FIRST_SERIAL_DAY = pd.Timestamp("1900-03-01")  # Excel's 1900 leap-year bug ends here
_XML_NONCHARS = r"[\x{FFFE}\x{FFFF}]"


@dataclass
class PendingRows:
    """Data rows of one detail sheet, to be streamed into the package after ``wb.save``."""

    sheet: str
    frame: pd.DataFrame
    wrapped: list[bool]
    first_row: int
    wrap_style: int
    date_style: int


def _xml_escape(text: pd.Series) -> pd.Series:
    return (
        text.str.replace("&", "&amp;", regex=False)
        .str.replace("<", "&lt;", regex=False)
        .str.replace(">", "&gt;", regex=False)
    )


def _text_xml(text: pd.Series, refs: pd.Series, style: str) -> pd.Series:
    text = text.str.replace(_XML_NONCHARS, "", regex=True)
    # keep leading/trailing spaces and line breaks where the text has them (as openpyxl does)
    space = (text != text.str.strip()).fillna(False).map({True: ' xml:space="preserve"', False: ""})
    xml = '<c r="' + refs + '"' + style + ' t="inlineStr"><is><t' + space.astype("string") + ">"
    return (xml + _xml_escape(text) + "</t></is></c>").fillna("")


def column_xml(
    s: pd.Series,
    letter: str,
    rows: pd.Series,
    stats: WorkbookStats,
    wrap_style: int | None,
    date_style: int,
) -> pd.Series:
    """The ``<c>`` elements of one column, one string per row ("" for an empty cell)."""
    refs = letter + rows
    wrap = f' s="{wrap_style}"' if wrap_style is not None else ""
    if pd.api.types.is_datetime64_any_dtype(s):
        if getattr(s.dt, "tz", None) is not None:
            s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        s = s.astype("datetime64[us]")  # microseconds: any year a ticket can carry
        serial = (s - _EXCEL_EPOCH) / pd.Timedelta(days=1)
        ok = s.notna() & (s >= _FIRST_SERIAL_DAY)
        out = (
            '<c r="' + refs + f'" s="{date_style}" t="n"><v>' + serial.astype("string") + "</v></c>"
        )
        out = out.where(ok, "")
        early = s.notna() & ~ok  # before 1900-03-01: Excel serials are ambiguous, keep as text
        if early.any():
            iso = s[early].dt.strftime("%Y-%m-%d %H:%M:%S").astype("string")
            out[early] = _text_xml(iso, refs[early], "")
        return out.astype(object)
    if pd.api.types.is_bool_dtype(s):
        v = s.astype("boolean").map({True: "1", False: "0"}).astype("string")
        return ('<c r="' + refs + '" t="b"><v>' + v + "</v></c>").fillna("").astype(object)
    if pd.api.types.is_numeric_dtype(s):
        num = pd.to_numeric(s, errors="coerce").astype("float64")
        finite = num.notna() & ~num.isin([math.inf, -math.inf])
        if pd.api.types.is_integer_dtype(s):
            text = s.astype("Int64").astype("string")
        else:
            text = num.astype("string")  # shortest round-trip form, e.g. 0.1, 1e+20
        out = '<c r="' + refs + '" t="n"><v>' + text + "</v></c>"
        return out.where(finite, "").fillna("").astype(object)
    if (
        pd.api.types.is_object_dtype(s)
        and not s.map(lambda v: isinstance(v, str | list | tuple) or v is None or v is pd.NA).all()
    ):
        # mixed values: each keeps its own type (rare; small frames such as key figures)
        values = _column_values(s, stats)
        parts = []
        for v, ref in zip(values, refs, strict=True):
            if v is None:
                parts.append("")
            elif isinstance(v, str):
                parts.append(_text_xml(pd.Series([v], dtype="string"), pd.Series([ref]), wrap)[0])
            elif isinstance(v, bool):
                parts.append(f'<c r="{ref}" t="b"><v>{int(v)}</v></c>')
            elif isinstance(v, int | float):
                parts.append(f'<c r="{ref}" t="n"><v>{v!r}</v></c>' if math.isfinite(v) else "")
            else:
                parts.append(
                    _text_xml(pd.Series([str(v)], dtype="string"), pd.Series([ref]), wrap)[0]
                )
        return pd.Series(parts, index=s.index, dtype=object)
    flat = s
    if pd.api.types.is_object_dtype(s):
        flat = s.map(lambda v: ";".join(map(str, v)) if isinstance(v, list | tuple) else v)
    text, n_illegal, n_long = clean_text_column(flat)
    stats.cleaned_cells += n_illegal
    stats.truncated_cells += n_long
    return _text_xml(text, refs, wrap).astype(object)


def rows_xml(pending: PendingRows, chunk_rows: int = XML_CHUNK_ROWS) -> Iterator[bytes]:
    """The ``<row>`` elements of a pending sheet, as UTF-8 bytes, one chunk at a time."""
    df = pending.frame
    scratch = WorkbookStats()  # cleaned/cut cells were counted when the sheet was laid out
    letters = [get_column_letter(i + 1) for i in range(len(df.columns))]
    for start in range(0, len(df), chunk_rows):
        part = df.iloc[start : start + chunk_rows].reset_index(drop=True)
        first = pending.first_row + start
        rows = pd.Series(range(first, first + len(part))).astype("string")
        xml = '<row r="' + rows + '">'
        for col, letter, wrap in zip(part.columns, letters, pending.wrapped, strict=True):
            cells = column_xml(
                part[col],
                letter,
                rows,
                scratch,
                pending.wrap_style if wrap else None,
                pending.date_style,
            )
            xml = xml + cells.astype("string")
        yield "".join((xml + "</row>").tolist()).encode("utf-8")


def _sheet_parts(zf: zipfile.ZipFile) -> dict[str, str]:
    """Sheet title -> its XML part in a saved package."""
    ns = {
        "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
        "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
        "p": "http://schemas.openxmlformats.org/package/2006/relationships",
    }
    book = ElementTree.fromstring(zf.read("xl/workbook.xml"))
    rels = ElementTree.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    target = {r.get("Id"): r.get("Target") for r in rels.findall("p:Relationship", ns)}
    out = {}
    for sheet in book.findall("m:sheets/m:sheet", ns):
        t = target[sheet.get(f"{{{ns['r']}}}id")]
        out[sheet.get("name")] = t.lstrip("/") if t.startswith("/") else f"xl/{t}"
    return out


def save_workbook(
    wb: Workbook, path: str | os.PathLike[str], stats: WorkbookStats, progress: bool = False
) -> None:
    """Save ``wb`` and stream the pending detail rows into its sheets (then drop them)."""
    wb.save(path)
    if not stats.pending:
        return
    path = Path(path)
    tmp = path.with_name(path.name + ".rows")
    total = sum(len(p.frame) for p in stats.pending)
    bar = tqdm(total=total, desc="detail rows", unit="row", disable=not progress, leave=False)
    try:
        with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
            parts = _sheet_parts(src)
            pending = {parts[p.sheet]: p for p in stats.pending}
            for info in src.infolist():
                data = src.read(info)
                if info.filename not in pending:
                    dst.writestr(info, data)
                    continue
                head, sep, tail = data.decode("utf-8").rpartition("</sheetData>")
                if not sep:
                    raise RuntimeError(f"{info.filename}: no sheetData to fill")
                with dst.open(info.filename, "w", force_zip64=True) as out:
                    out.write(head.encode("utf-8"))
                    p = pending[info.filename]
                    for chunk in rows_xml(p):
                        out.write(chunk)
                    bar.update(len(p.frame))
                    out.write((sep + tail).encode("utf-8"))
        os.replace(tmp, path)
    finally:
        bar.close()
        tmp.unlink(missing_ok=True)
    stats.pending.clear()
