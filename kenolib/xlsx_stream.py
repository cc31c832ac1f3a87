"""Streaming a large sheet's rows into a saved workbook, column-wise (domain-free).

openpyxl writes each detail sheet's title, header, widths, frozen pane and table; the data rows
are generated column-wise (pandas/pyarrow string operations, one chunk at a time) in the same
SpreadsheetML openpyxl writes, and streamed into the saved package. Text cells are inline
strings (``t="inlineStr"``), so nothing can become a formula.
"""

from __future__ import annotations

import math
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from tqdm.std import tqdm  # bars on a terminal only; tqdm.auto warns without ipywidgets

from kenolib.xlsx import PendingRows, WorkbookStats, clean_text_column, column_values

#: Rows generated per chunk when streaming detail rows into a saved workbook.
XML_CHUNK_ROWS = 50_000
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
_FIRST_SERIAL_DAY = pd.Timestamp("1900-03-01")  # Excel's 1900 leap-year bug ends here
_XML_NONCHARS = r"[\x{FFFE}\x{FFFF}]"
#: Points per line of wrapped text in the default 11-point font, and the most lines a row is
#: made tall for (a long body shows its first lines; Excel's rows stop at 409 points).
LINE_POINTS = 15.0
MAX_LINES = 12


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
    number_style: int | None = None,
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
        fmt = f' s="{number_style}"' if number_style is not None else ""
        out = '<c r="' + refs + '"' + fmt + ' t="n"><v>' + text + "</v></c>"
        return out.where(finite, "").fillna("").astype(object)
    if (
        pd.api.types.is_object_dtype(s)
        and not s.map(lambda v: isinstance(v, str | list | tuple) or v is None or v is pd.NA).all()
    ):
        # mixed values: each keeps its own type (rare; small frames such as key figures)
        values = column_values(s, stats)
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


def wrapped_lines(text: pd.Series, width: float) -> pd.Series:
    """Lines each text takes wrapped in a column ``width`` characters wide (at least 1): its
    length over the characters a line holds, plus one for each line break (an estimate: a
    proportional font fits a little more, so rows come out a little tall rather than short)."""
    t = text.astype("string").fillna("")
    per = max(int(width) - 1, 1)
    n = (t.str.len() + per - 1) // per + t.str.count("\n")
    return n.fillna(1).astype("int64").clip(lower=1)


def row_heights(part: pd.DataFrame, wrapped: list[bool], widths: list[float]) -> pd.Series:
    """Per row, the ``<row>`` attributes that make it tall enough for its wrapped cells
    (`` ht="45.0" customHeight="1"``), or "" for one line. Without them LibreOffice keeps
    every row one line tall and wrapped lines print over each other."""
    lines = np.ones(len(part), dtype="int64")
    for col, wrap, width in zip(part.columns, wrapped, widths, strict=False):
        if wrap:
            lines = np.maximum(lines, wrapped_lines(part[col], width).to_numpy())
    lines = lines.clip(max=MAX_LINES)
    ht = pd.Series(lines * LINE_POINTS).map("{:.1f}".format)
    return pd.Series(np.where(lines > 1, ' ht="' + ht + '" customHeight="1"', ""), dtype="string")


def rows_xml(pending: PendingRows, chunk_rows: int = XML_CHUNK_ROWS) -> Iterator[bytes]:
    """The ``<row>`` elements of a pending sheet, as UTF-8 bytes, one chunk at a time."""
    df = pending.frame
    scratch = WorkbookStats()  # cleaned/cut cells were counted when the sheet was laid out
    letters = [get_column_letter(i + 1) for i in range(len(df.columns))]
    for start in range(0, len(df), chunk_rows):
        part = df.iloc[start : start + chunk_rows].reset_index(drop=True)
        first = pending.first_row + start
        rows = pd.Series(range(first, first + len(part))).astype("string")
        heights = row_heights(part, pending.wrapped, pending.widths)
        xml = '<row r="' + rows + '"' + heights + ">"
        numbers = pending.number_styles or [None] * len(letters)
        for col, letter, wrap, num in zip(
            part.columns, letters, pending.wrapped, numbers, strict=True
        ):
            cells = column_xml(
                part[col],
                letter,
                rows,
                scratch,
                pending.wrap_style if wrap else pending.text_style,
                pending.date_style,
                num,
            )
            xml = xml + cells.astype("string")
        yield "".join((xml + "</row>").tolist()).encode("utf-8")


#: Elements that follow <hyperlinks> in a worksheet (ECMA-376 order): links go before the first.
_AFTER_LINKS = ("<printOptions", "<pageMargins", "<pageSetup", "<headerFooter", "<rowBreaks",
                "<colBreaks", "<drawing", "<legacyDrawing", "<tableParts", "<extLst")  # fmt: skip


def with_links(tail: str, links: list[tuple[str, str]]) -> str:
    """The sheet XML after </sheetData> with internal ``links`` (cell, location) added."""
    if not links:
        return tail
    items = "".join(
        f'<hyperlink ref="{ref}" location="{escape(where, {chr(34): "&quot;"})}" display="'
        f'{escape(where, {chr(34): "&quot;"})}"/>'
        for ref, where in links
    )
    at = min((i for i in (tail.find(t) for t in _AFTER_LINKS) if i >= 0), default=len(tail))
    return tail[:at] + f"<hyperlinks>{items}</hyperlinks>" + tail[at:]


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
    out: dict[str, str] = {}
    for sheet in book.findall("m:sheets/m:sheet", ns):
        t = str(target[sheet.get(f"{{{ns['r']}}}id")])
        out[str(sheet.get("name"))] = t.lstrip("/") if t.startswith("/") else f"xl/{t}"
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
                    out.write((sep + with_links(tail, p.links)).encode("utf-8"))
        os.replace(tmp, path)
    finally:
        bar.close()
        tmp.unlink(missing_ok=True)
    stats.pending.clear()
