"""The review workbook: a sample of judged tickets worth an analyst's time, and reading it back.

The sample has three parts, each row marked in ``sample_part``:

``stratified``  drawn first, at random from all tickets, in proportion to each product × verdict
                stratum (largest remainders), so this part alone estimates the verdicts'
                accuracy without bias;
``review``      tickets flagged ``needs_review``, least confident first, up to half of ``n``;
``costly``      the out-of-scope tickets that took the most agent minutes, up to a tenth of ``n``.

Tickets an analyst already decided (``decided_by = analyst``) are not offered again. The
workbook (openpyxl) has the *Review* sheet (one row per ticket, correction columns with drop-down
lists), *How to fill in*, and two hidden sheets: the allowed values and the review's provenance
(policy SHA-256, seed). Ticket text is always written as a text cell, never as a formula.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from kenolib import __version__
from kenolib.errors import KenolibError
from kenolib.safeio import check_regular_file, check_zip_archive
from kenolib.schemas import VERDICTS
from kenolib.xlsx import clean_cell_text

SHEET = "Review"
HELP_SHEET = "How to fill in"
LISTS_SHEET = "Lists"
META_SHEET = "About"
#: Body text shown per ticket; longer bodies end with the marker.
EXCERPT_CHARS = 1500
CUT_MARKER = " … [cut by kenolib]"
#: Largest sample a workbook holds (drop-down lists and wrapping are per cell).
MAX_N = 20_000
#: Largest uncompressed workbook ``learn`` reads (zip-bomb guard).
MAX_UNPACKED_BYTES = 200_000_000
VERDICT_ORDER = ["supported", "not_supported", "silent"]
PARTS = ("review", "costly", "stratified")


@dataclass(frozen=True)
class Column:
    """One column of the Review sheet."""

    name: str
    width: float
    wrap: bool = False
    editable: bool = False


COLUMNS = (
    Column("ticket_id", 14),
    Column("sample_part", 11),
    Column("product", 16),
    Column("subject", 40, wrap=True),
    Column("body_excerpt", 70, wrap=True),
    Column("topic", 22),
    Column("verdict", 14),
    Column("clause", 36, wrap=True),
    Column("decided_by", 12),
    Column("confidence", 11),
    Column("correct_verdict", 16, editable=True),
    Column("correct_topic", 24, editable=True),
    Column("note", 30, wrap=True, editable=True),
    Column("reviewer", 14, editable=True),
    Column("clause_id", 18),
    Column("text_hash", 12),
    Column("text_chars", 8),
)
#: Columns that tie a row to its ticket text: hidden, never edited.
HIDDEN = ("text_hash", "text_chars")
NAMES = [c.name for c in COLUMNS]
HELP_TEXT = (
    "How to fill in this review",
    "",
    "Each row of the Review sheet is one ticket with the verdict kenolib gave it and the policy "
    "clause that verdict rests on.",
    "Read the subject and the body excerpt. If the topic and the verdict are right, leave the "
    "row as it is: a row left blank means 'the verdict was right'.",
    "If the verdict is wrong, pick the right one in correct_verdict (supported, not_supported, "
    "or silent when no clause of the policy applies).",
    "If the topic is wrong, pick the right one in correct_topic; leave correct_verdict empty to "
    "take the policy's verdict for that topic.",
    "note and reviewer are free text (who checked, why).",
    "Delete the rows you did not check: a row left in the sheet counts as checked.",
    "Do not edit ticket_id, clause_id or text_hash: they tie your decision to the ticket.",
    "sample_part: 'stratified' rows are a random sample of all tickets (they measure accuracy), "
    "'review' rows were flagged as unsure, 'costly' rows are out-of-scope tickets that took the "
    "most agent time.",
    "Then run: kenolib learn <this file> [--labels DIR]",
)


def _stratified(xref: pd.DataFrame, size: int, rng: np.random.Generator) -> np.ndarray:
    """Row positions: ``size`` rows at random, allotted to product × verdict strata in proportion."""
    if size <= 0 or xref.empty:
        return np.zeros(0, dtype=np.int64)
    strata = xref["product"].astype(str) + "|" + xref["verdict"].astype(str)
    codes, names = pd.factorize(strata, sort=True)
    counts = np.bincount(codes, minlength=len(names))
    quota = counts * min(size, len(xref)) / counts.sum()
    alloc = np.floor(quota).astype(np.int64)
    short = min(size, len(xref)) - alloc.sum()
    alloc[np.argsort(-(quota - alloc), kind="stable")[:short]] += 1
    key = rng.random(len(xref))
    order = np.lexsort((key, codes))  # within a stratum in random order
    rank = np.empty(len(xref), dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank[order] = np.arange(len(xref)) - np.repeat(starts, counts)
    return np.flatnonzero(rank < alloc[codes])


def select_sample(xref: pd.DataFrame, n: int = 200, seed: int = 0) -> pd.DataFrame:
    """The rows of ``xref`` worth reviewing, with ``sample_part`` (see the module docstring)."""
    if not 1 <= n <= MAX_N:
        raise KenolibError(f"--n {n}: give a sample size between 1 and {MAX_N:,}")
    rng = np.random.default_rng(seed)
    open_ = xref["decided_by"].astype(str).to_numpy() != "analyst"
    pool = np.flatnonzero(open_)
    flagged = np.flatnonzero(open_ & xref["needs_review"].astype(bool).to_numpy())
    oos = np.flatnonzero(open_ & (xref["verdict"].astype(str) == "not_supported").to_numpy())
    n_review, n_costly = min(len(flagged), n // 2), min(len(oos), n // 10)
    strat = pool[_stratified(xref.iloc[pool], n - n_review - n_costly, rng)]
    taken = np.zeros(len(xref), dtype=bool)
    taken[strat] = True
    conf = xref["confidence"].to_numpy(dtype=float)
    flagged = flagged[~taken[flagged]]
    review = flagged[np.lexsort((rng.random(len(flagged)), conf[flagged]))][:n_review]
    taken[review] = True
    minutes = pd.to_numeric(xref.get("agent_minutes"), errors="coerce")
    mins = np.zeros(len(xref)) if minutes is None else minutes.fillna(0).to_numpy(dtype=float)
    oos = oos[~taken[oos]]
    costly = oos[np.argsort(-mins[oos], kind="stable")][:n_costly]
    parts = [(review, "review"), (costly, "costly"), (strat, "stratified")]
    rows = np.concatenate([r for r, _ in parts])
    part = np.concatenate([np.full(len(r), p, dtype=object) for r, p in parts])
    out = xref.iloc[rows].assign(sample_part=part)
    return out.reset_index(drop=True)


def excerpt(body: pd.Series, chars: int = EXCERPT_CHARS) -> pd.Series:
    """Bodies cut at ``chars`` characters (at a word edge when one is near) with the marker."""
    text = body.fillna("").astype(str).str.strip()
    long = text.str.len() > chars
    cut = text.str.slice(0, chars).str.replace(r"\s+\S*$", "", regex=True)
    return text.where(~long, cut + CUT_MARKER)


def review_rows(sample: pd.DataFrame) -> pd.DataFrame:
    """The Review sheet's columns, from a sampled crossref frame (and ``text_hash``)."""
    empty = pd.Series("", index=sample.index, dtype=object)
    heading = sample["clause_heading"].fillna("").astype(str)
    cid = sample["clause_id"].fillna("").astype(str)
    body = sample["body"] if "body" in sample.columns else empty
    return pd.DataFrame(
        {
            "ticket_id": sample["ticket_id"].astype(str),
            "sample_part": sample["sample_part"],
            "product": sample["product"].astype(str),
            "subject": sample["subject"].fillna("").astype(str),
            "body_excerpt": excerpt(body),
            "topic": sample["topic"].astype(str),
            "verdict": sample["verdict"].astype(str),
            "clause": (cid + ": " + heading).where(cid != "", "(no clause: silent)"),
            "decided_by": sample["decided_by"].astype(str),
            "confidence": sample["confidence"].astype(float).round(3),
            "correct_verdict": empty,
            "correct_topic": empty,
            "note": empty,
            "reviewer": empty,
            "clause_id": cid,
            "text_hash": sample["text_hash"].astype(str),
            "text_chars": sample["text_chars"].astype("int64"),
        }
    )[NAMES]


def _text(ws, row: int, col: int, value: object) -> None:
    """A cell whose text is stored as a string (a leading '=' stays text)."""
    cell = ws.cell(row=row, column=col)
    if isinstance(value, str):
        cell.value = clean_cell_text(value)[0]
        cell.data_type = "s"
    else:
        cell.value = value


def _lists_sheet(wb: Workbook, topics: list[str]) -> tuple[str, str]:
    """The hidden sheet of allowed values; returns the verdict and topic list ranges."""
    ws = wb.create_sheet(LISTS_SHEET)
    ws.sheet_state = "hidden"
    _text(ws, 1, 1, "verdicts")
    _text(ws, 1, 2, "topics")
    for i, v in enumerate(VERDICT_ORDER, start=2):
        _text(ws, i, 1, v)
    for i, t in enumerate(topics, start=2):
        _text(ws, i, 2, t)
    return (
        f"'{LISTS_SHEET}'!$A$2:$A${len(VERDICT_ORDER) + 1}",
        f"'{LISTS_SHEET}'!$B$2:$B${len(topics) + 1}",
    )


def _validation(ws, formula: str, col: str, last: int, what: str) -> None:
    dv = DataValidation(type="list", formula1=formula, allow_blank=True, showDropDown=False)
    dv.error = f"Pick a {what} from the list (or leave the cell empty)."
    dv.errorTitle = f"Unknown {what}"
    dv.showErrorMessage = True
    ws.add_data_validation(dv)
    dv.add(f"{col}2:{col}{max(last, 2)}")


def _review_sheet(ws, rows: pd.DataFrame) -> None:
    bold, wrap = Font(bold=True), Alignment(wrap_text=True, vertical="top")
    top = Alignment(vertical="top")
    edit_fill = PatternFill("solid", fgColor="FFF2CC")
    for j, c in enumerate(COLUMNS, start=1):
        _text(ws, 1, j, c.name)
        ws.cell(row=1, column=j).font = bold
        ws.column_dimensions[get_column_letter(j)].width = c.width
    for i, values in enumerate(rows.itertuples(index=False, name=None), start=2):
        for j, (c, v) in enumerate(zip(COLUMNS, values, strict=True), start=1):
            _text(ws, i, j, v)
            cell = ws.cell(row=i, column=j)
            cell.alignment = wrap if c.wrap else top
            if c.editable:
                cell.fill = edit_fill
    ws.freeze_panes = "B2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{len(rows) + 1}"
    for name in HIDDEN:
        ws.column_dimensions[get_column_letter(NAMES.index(name) + 1)].hidden = True
    _print_setup(ws)


def _print_setup(ws) -> None:
    """Landscape, one page wide, the header row on every page: the sheet prints as it reads."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = "1:1"


def write_review_workbook(
    rows: pd.DataFrame,
    path: str | os.PathLike[str],
    topics: list[str],
    meta: dict[str, str],
) -> None:
    """Write the review workbook (``rows`` from :func:`review_rows`) to ``path``."""
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    _review_sheet(ws, rows)
    verdicts, topic_range = _lists_sheet(wb, topics)
    last = len(rows) + 1
    _validation(
        ws, verdicts, get_column_letter(NAMES.index("correct_verdict") + 1), last, "verdict"
    )
    _validation(ws, topic_range, get_column_letter(NAMES.index("correct_topic") + 1), last, "topic")
    help_ws = wb.create_sheet(HELP_SHEET)
    help_ws.column_dimensions["A"].width = 110
    for i, line in enumerate(HELP_TEXT, start=1):
        _text(help_ws, i, 1, line)
        help_ws.cell(row=i, column=1).alignment = Alignment(wrap_text=True, vertical="top")
    help_ws.cell(row=1, column=1).font = Font(bold=True, size=13)
    about = wb.create_sheet(META_SHEET)
    about.sheet_state = "hidden"
    info = {
        **meta,
        "kenolib": __version__,
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    for i, (k, v) in enumerate(info.items(), start=1):
        _text(about, i, 1, k)
        _text(about, i, 2, str(v))
    wb.save(path)


# ---------------------------------------------------------------------------------------------
# Reading a filled workbook back


@dataclass
class FilledReview:
    """What an analyst filled in: one row per ticket left in the Review sheet."""

    rows: pd.DataFrame  # NAMES columns, ``sheet_row`` (1-based row of the sheet), as text
    meta: dict[str, str]
    source: str


def _cell_text(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v).strip()


def read_review_workbook(path: str | os.PathLike[str]) -> FilledReview:
    """Read the Review sheet (read-only, cached values only) and the review's provenance."""
    p = Path(path)
    check_regular_file(p, "review workbook")
    # members inflated in chunks and counted: a lying declared size or a bomb is refused
    check_zip_archive(p, required=("xl/workbook.xml",), max_bytes=MAX_UNPACKED_BYTES)
    try:
        wb = load_workbook(p, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a damaged file  # noqa: BLE001
        raise KenolibError(f"{p}: cannot read the workbook ({type(exc).__name__})") from None
    try:
        if SHEET not in wb.sheetnames:
            raise KenolibError(f"{p}: no sheet {SHEET!r}; give the workbook `kenolib review` wrote")
        it = wb[SHEET].iter_rows(values_only=True)
        header = [_cell_text(v) for v in next(it, ())]
        missing = [c for c in NAMES if c not in header]
        if missing:
            raise KenolibError(f"{p}: sheet {SHEET} lacks column(s) {', '.join(missing)}")
        pos = [header.index(c) for c in NAMES]
        records = []
        for r, values in enumerate(it, start=2):
            cells = [_cell_text(values[i]) if i < len(values) else "" for i in pos]
            if any(cells):
                records.append([*cells, r])
        meta = {}
        if META_SHEET in wb.sheetnames:
            for row in wb[META_SHEET].iter_rows(values_only=True):
                if row and row[0]:
                    meta[_cell_text(row[0])] = _cell_text(row[1] if len(row) > 1 else "")
    finally:
        wb.close()
    rows = pd.DataFrame(records, columns=[*NAMES, "sheet_row"])
    return FilledReview(rows=rows, meta=meta, source=str(p))


def _bad(where: str, row: int, column: str, value: str, allowed: list[str]) -> KenolibError:
    return KenolibError(
        f"{where}: sheet {SHEET} row {row}: {column} {value!r} is not allowed; "
        f"use one of {', '.join(allowed)} (or leave it empty)"
    )


def validate_review(filled: FilledReview, topics: list[str]) -> pd.DataFrame:
    """The filled rows, checked: every correction a known verdict or topic, every row tied to a
    ticket. The first bad value stops with one line naming the sheet row and the allowed values.
    """
    rows = filled.rows
    verdicts = [v for v in VERDICT_ORDER if v in VERDICTS]
    checks = (
        ("correct_verdict", verdicts),
        ("correct_topic", topics),
        ("sample_part", list(PARTS)),
        ("verdict", verdicts),
    )
    for column, allowed in checks:
        values = rows[column]
        bad = (
            (values != "") & ~values.isin(allowed)
            if column.startswith("correct")
            else ~values.isin(allowed)
        )
        if bad.any():
            first = rows[bad].iloc[0]
            raise _bad(filled.source, int(first["sheet_row"]), column, first[column], allowed)
    for column in ("ticket_id", *HIDDEN):
        blank = rows[column] == ""
        if blank.any():
            r = int(rows.loc[blank, "sheet_row"].iloc[0])
            raise KenolibError(
                f"{filled.source}: sheet {SHEET} row {r}: {column} is empty; "
                "do not edit the ticket columns (delete the row instead)"
            )
    return rows
