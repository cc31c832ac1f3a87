"""Former home of the Excel writing code, kept so older imports keep working.

The domain-free writer is :mod:`kenolib.xlsx` (with :mod:`kenolib.xlsx_stream`); the report's
sheets are :mod:`kenolib.report.workbook`; the theme is :mod:`kenolib.report.theme`.
"""

from __future__ import annotations

from kenolib.report.data import ReportData
from kenolib.report.theme import THEME_FILE, load_theme
from kenolib.report.workbook import (
    write_coverage_sheet,
    write_report_workbook,
    write_summary_sheet,
)
from kenolib.xlsx import (
    DATE_FORMAT,
    EXCEL_MAX_CELL_CHARS,
    EXCEL_MAX_ROWS,
    HEADER_ROW,
    ILLEGAL_CHARACTERS_PATTERN,
    TRUNCATION_MARKER,
    PendingRows,
    TableSheet,
    WorkbookStats,
    clean_cell_text,
    clean_text_column,
    count_cell_fixes,
    safe_sheet_title,
    safe_table_name,
    text_cell,
    write_rows,
    write_simple_xlsx,
    write_table,
    write_table_sheets,
    write_title,
    xlsx_value,
)
from kenolib.xlsx_stream import XML_CHUNK_ROWS, column_xml, rows_xml, save_workbook

__all__ = [
    "DATE_FORMAT",
    "EXCEL_MAX_CELL_CHARS",
    "EXCEL_MAX_ROWS",
    "HEADER_ROW",
    "ILLEGAL_CHARACTERS_PATTERN",
    "THEME_FILE",
    "TRUNCATION_MARKER",
    "XML_CHUNK_ROWS",
    "PendingRows",
    "ReportData",
    "TableSheet",
    "WorkbookStats",
    "clean_cell_text",
    "clean_text_column",
    "column_xml",
    "count_cell_fixes",
    "load_theme",
    "rows_xml",
    "safe_sheet_title",
    "safe_table_name",
    "save_workbook",
    "text_cell",
    "write_coverage_sheet",
    "write_report_workbook",
    "write_rows",
    "write_simple_xlsx",
    "write_summary_sheet",
    "write_table",
    "write_table_sheets",
    "write_title",
    "xlsx_value",
]
