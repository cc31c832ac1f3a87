"""The management workbook's domain sheets: Summary, Coverage, then the detail tables.

Built on the domain-free writer (:mod:`kenolib.xlsx`): every sheet streamed (write-only), tables
with string headers, text typed as text, long cells cut with a marker, detail split past
Excel's row limit. Layout numbers (column widths, chart anchors) come from the theme.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.hyperlink import Hyperlink

from kenolib.report.data import (
    ReportData,
    about_rows,
    coverage_counts,
    detail_sheets,
    key_figures,
    labelled_verdicts,
    top_gaps,
    top_gaps_heading,
)
from kenolib.report.drill import (
    block_starts,
    cell_key,
    detail_capped,
    people_note,
    requesters_view,
    teams_view,
    ticket_detail,
)
from kenolib.report.summary import (
    coverage_tickets,
    human_frame,
    human_header,
    overall_monthly,
    period_line,
    quarterly_by_product,
    readable_findings,
    summary_sentences,
    top_movers,
)
from kenolib.report.theme import load_theme
from kenolib.vocab import COVERAGE_ORDER, VERDICT_ORDER, CoverageStatus
from kenolib.xlsx import (
    EXCEL_MAX_ROWS,
    HEADER_ROW,
    Styles,
    TableSheet,
    WorkbookStats,
    add_table,
    bar_chart,
    cell_value,
    clean_cell_text,
    column_values,
    print_setup,
    safe_sheet_title,
    safe_table_name,
    string_cell,
    unique_headers,
    volume_share_chart,
    write_table,
    write_title,
)
from kenolib.xlsx_stream import LINE_POINTS, save_workbook, wrapped_lines

CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
RIGHT_WRAP = Alignment(horizontal="right", vertical="top", wrap_text=True)


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


@dataclass
class _CoverageLook:
    """Fonts and fills of the coverage marks, by (status, inherited), and the comment settings."""

    theme: Mapping[str, Any]
    looks: dict[tuple[str, bool], tuple[Font, PatternFill]]
    #: (topic, product) -> tickets, out of scope, agent hours (reports with tickets)
    tickets: dict[tuple[str, str], tuple[int, int, float]] = field(default_factory=dict)

    @classmethod
    def of(cls, theme: Mapping[str, Any]) -> _CoverageLook:
        name = theme["workbook"].get("font", "Calibri")
        looks = {}
        for status, s in theme["statuses"].items():
            for inh in (False, True):
                looks[(status, inh)] = (
                    Font(name=name, bold=not inh, italic=inh, color=s.get("colour")),
                    PatternFill("solid", fgColor=s["inherited_fill" if inh else "fill"]),
                )
        return cls(theme, looks)

    def mark(self, ws, status: str, inherited: bool) -> WriteOnlyCell:
        st = self.theme["statuses"]
        s = st.get(status, st[CoverageStatus.SILENT])
        suffix = self.theme.get("inherited_suffix", " (overview)")
        cell = string_cell(ws, f"{s['mark']} {s['short']}" + (suffix if inherited else ""))
        cell.font, cell.fill = self.looks.get(
            (status, inherited), self.looks[(CoverageStatus.SILENT, inherited)]
        )
        cell.alignment = CENTER
        return cell


def _clause_texts(clauses: pd.DataFrame) -> dict[str, str]:
    text = "[" + clauses["status"] + "] " + clauses["heading"] + " — " + clauses["text"]
    return dict(zip(clauses["clause_id"], text, strict=True))


def _coverage_cell(
    ws, c: pd.Series, look: _CoverageLook, clause_text: dict[str, str], clause_at: dict[str, str]
) -> WriteOnlyCell:
    """One coverage cell: its mark, a comment with its clauses, a link to the first clause."""
    status = str(c["status"])
    cell = look.mark(ws, status, bool(c["inherited"]))
    cfg = look.theme["workbook"].get("comment", {})
    st = look.theme["statuses"]
    label = st.get(status, st[CoverageStatus.SILENT])["label"]
    comment = _comment_text(c, clause_text, label, int(cfg.get("max_chars", 1500)))
    n = look.tickets.get((str(c.name[0]), str(c.name[1]))) if isinstance(c.name, tuple) else None
    if n is not None:
        line = f"Tickets: {n[0]:,} ({n[1]:,} out of scope), {n[2]:,.1f} agent hours"
        comment = f"{line}\n{comment}" if comment else line
    if comment:
        cell.comment = Comment(comment, "kenolib")
        cell.comment.width = cfg.get("width_pt", 420)
        cell.comment.height = cfg.get("height_pt", 220)
    first = next((i for i in str(c["clause_ids"] or "").split(";") if i in clause_at), None)
    if first:
        cell.hyperlink = Hyperlink(ref="", location=clause_at[first], tooltip=f"Go to {first}")
    return cell


def _coverage_page(ws, n_products: int, theme: Mapping[str, Any]) -> None:
    """Frozen panes, print setup and column widths of the Coverage sheet."""
    ws.freeze_panes = f"C{HEADER_ROW + 1}"
    # printed on one page wide, landscape, headers repeated: marks keep it readable in black & white
    print_setup(ws, HEADER_ROW)
    widths = theme["workbook"]["layout"]["coverage_widths"]
    ws.column_dimensions["A"].width = widths["topic"]
    ws.column_dimensions["B"].width = widths["topic_id"]
    for i in range(n_products):
        ws.column_dimensions[get_column_letter(i + 3)].width = widths["product"]


def _coverage_legend(ws, look: _CoverageLook) -> None:
    theme = look.theme
    ws.append([])
    ws.append([string_cell(ws, "Legend", Styles(theme).header)])
    for status, s in theme["statuses"].items():
        ws.append([look.mark(ws, status, False), string_cell(ws, s["label"])])
    ws.append(
        [
            look.mark(ws, CoverageStatus.SUPPORTED, True),
            string_cell(ws, theme.get("inherited_legend", "inherited")),
        ]
    )
    ws.append(
        [
            string_cell(ws, "Clauses"),
            string_cell(
                ws,
                "Each marked cell carries a comment with its clauses and links to the first one.",
            ),
        ]
    )


def write_coverage_sheet(
    wb: Workbook,
    data: ReportData,
    theme: dict[str, Any],
    stats: WorkbookStats,
    clause_at: dict[str, str],
) -> str:
    """Topics × products with marks, fills, a legend, a comment and a link to each cell's clause."""
    styles = Styles(theme)
    look = _CoverageLook.of(theme)
    per_cell = coverage_tickets(data)
    if per_cell is not None:
        look.tickets = {
            (str(r.topic), str(r.product)): (int(r.tickets), int(r.out_of_scope), r.agent_hours)
            for r in per_cell.itertuples()
        }
    cov = data.coverage
    topics = list(dict.fromkeys(cov["topic"]))
    products = list(dict.fromkeys(cov["product"]))
    labels = dict(zip(cov["topic"], cov["topic_label"], strict=False))
    clause_text = _clause_texts(data.clauses)
    title = safe_sheet_title(theme["sheets"]["coverage"]["title"], wb.sheetnames)
    ws = wb.create_sheet(title)
    _coverage_page(ws, len(products), theme)
    write_title(ws, title, theme["sheets"]["coverage"]["explanation"], styles)
    headers = unique_headers(["Topic", "Topic id", *[data.products.get(p, p) for p in products]])
    ws.append([string_cell(ws, h, styles.header, styles.wrap) for h in headers])
    cells = cov.set_index(["topic", "product"])
    for t in topics:
        row = [string_cell(ws, labels.get(t, t), None, styles.top), string_cell(ws, t)]
        row += [
            _coverage_cell(ws, cells.loc[(t, p)], look, clause_text, clause_at) for p in products
        ]
        ws.append(row)
    table_name = safe_table_name("tblCoverage", stats.tables)
    table = add_table(
        ws,
        table_name,
        headers,
        HEADER_ROW,
        HEADER_ROW + len(topics),
        theme["workbook"].get("coverage_table_style", "TableStyleLight1"),
    )
    table.tableStyleInfo.showRowStripes = False
    stats.tables.append(table_name)
    _coverage_legend(ws, look)
    stats.rows[title] = len(topics)
    stats.sheets.append(title)
    return title


def _value_cell(ws, v: object, fmt: str | None, styles: Styles) -> object:
    """A Summary cell: text as text, numbers with ``fmt`` (a number format) when given."""
    if isinstance(v, str):
        return string_cell(ws, v, None, styles.wrap)
    if fmt and isinstance(v, int | float) and not isinstance(v, bool):
        cell = WriteOnlyCell(ws, value=v)
        cell.number_format = fmt
        return cell
    return v


def _write_block(
    ws, block: _Block, stats: WorkbookStats, start_row: int, theme: dict[str, Any]
) -> int:
    """A titled table inside the Summary sheet; returns the next free row."""
    styles = Styles(theme)
    df = block.frame
    ws.append([string_cell(ws, block.heading, styles.header)])
    headers = unique_headers([human_header(c) for c in df.columns])
    # wrapped, so long product names stay within their column (printed and on screen), and
    # right-aligned over numbers, so neighbouring headers never read as one
    numeric = [pd.api.types.is_numeric_dtype(df[c]) for c in df.columns]
    ws.append(
        [
            string_cell(ws, h, styles.header, RIGHT_WRAP if n else styles.wrap)
            for h, n in zip(headers, numeric, strict=True)
        ]
    )
    cols = [column_values(df[c], stats) for c in df.columns]
    fmts = [block.formats.get(str(c)) for c in df.columns]
    for row in zip(*cols, strict=True):
        ws.append([_value_cell(ws, v, f, styles) for v, f in zip(row, fmts, strict=True)])
    if len(df):
        table_name = safe_table_name(block.name, stats.tables)
        style = theme["workbook"].get("table_style", "TableStyleMedium2")
        add_table(ws, table_name, headers, start_row + 1, start_row + 1 + len(df), style)
        stats.tables.append(table_name)
    ws.append([])
    return start_row + len(df) + 3


@dataclass(frozen=True)
class _Block:
    """A titled table of the Summary: heading, rows, table name, number formats by column."""

    heading: str
    frame: pd.DataFrame
    name: str
    formats: Mapping[str, str]


def number_formats(theme: Mapping[str, Any], currency: str) -> dict[str, str]:
    """Number formats by kind (count, share, hours, money), money in ``currency``."""
    f = dict(theme["workbook"]["number_formats"])
    f["money"] = f'"{currency} "' + f["money"] if currency else f["money"]
    return f


def column_formats(theme: Mapping[str, Any], currency: str) -> dict[str, str]:
    """Number formats by column name (shares as %, counts and hours with separators, money)."""
    kinds = number_formats(theme, currency)
    return {c: kinds[k] for c, k in theme["workbook"]["column_kinds"].items()}


def _write_key_figures(
    ws, data: ReportData, theme: dict[str, Any], stats: WorkbookStats, row: int
) -> int:
    """The key-figures table (figure, value), narrow, at ``row``; returns the next free row."""
    styles = Styles(theme)
    kinds = number_formats(theme, currency_of(data, theme))
    figures = key_figures(data)
    ws.append([string_cell(ws, "Figure", styles.header), string_cell(ws, "Value", styles.header)])
    for f, v, kind in figures.itertuples(index=False, name=None):
        value = _value_cell(ws, cell_value(v), kinds.get(kind), styles)
        ws.append([string_cell(ws, f, None, styles.wrap), value])
    name = safe_table_name("tblKeyFigures", stats.tables)
    style = theme["workbook"].get("table_style", "TableStyleMedium2")
    add_table(ws, name, ["Figure", "Value"], row, row + len(figures), style)
    stats.tables.append(name)
    ws.append([])
    return row + len(figures) + 2


def currency_of(data: ReportData, theme: Mapping[str, Any]) -> str:
    """The currency of costs: the report's (``--currency``), else the theme's."""
    return data.currency or str(theme.get("currency", ""))


def _write_opening(ws, data: ReportData, theme: dict[str, Any]) -> int:
    """Title, period line and summary sentences; returns the row of the key figures' header."""
    styles = Styles(theme)
    ws.append([string_cell(ws, theme["workbook"]["properties"]["title"], styles.title)])
    ws.append([string_cell(ws, period_line(data), styles.header)])
    sentences = summary_sentences(data, currency_of(data, theme))
    for s in sentences:
        ws.append([string_cell(ws, s)])
    ws.append([])
    return 3 + len(sentences) + 1


def _summary_blocks(data: ReportData, theme: dict[str, Any]) -> list[_Block]:
    """The tables under the first screen: top gaps, then the charts' data."""
    fmts = column_formats(theme, currency_of(data, theme))
    gaps = human_frame(top_gaps(data), data)
    gaps = gaps.drop(columns=[c for c in ("example_subjects", "detail") if c in gaps.columns])
    blocks = [_Block(top_gaps_heading(data), gaps, "tblTopGaps", fmts)]
    verdicts = labelled_verdicts(data)
    if verdicts is not None and int(verdicts["tickets"].sum()) > 0:
        v = verdicts[["product", *[str(x) for x in VERDICT_ORDER]]]
        blocks.append(_Block("Tickets by product and verdict", v, "tblVerdictsByProduct", fmts))
    else:
        counts = coverage_counts(data.coverage)
        counts["product"] = counts["product"].map(lambda p: data.products.get(p, p))
        blocks.append(
            _Block("Coverage cells by product and status", counts, "tblCoverageByProduct", fmts)
        )
    least = theme["workbook"].get("trend_min_tickets", 20)
    trend = overall_monthly(data, least)
    if trend is not None and len(trend) > 1:
        blocks.append(_Block("Tickets and out-of-scope share by month", trend, "tblMonthly", fmts))
    quarters = quarterly_by_product(data, least)
    if quarters is not None and len(quarters):
        shares = {**fmts, **{c: fmts["share"] for c in quarters.columns[2:]}}
        heading = "Out-of-scope share by quarter and product"
        blocks.insert(1, _Block(heading, quarters, "tblQuarterly", shares))
    movers = top_movers(data, 3, least)
    if movers is not None and len(movers):
        heading = "Top movers: out-of-scope share, last 3 months (now) against the 3 before"
        blocks.insert(1, _Block(heading, movers, "tblTopMovers", fmts))
    return blocks


def _summary_charts(
    ws, blocks: list[_Block], rows: list[int], theme: dict[str, Any], first: int
) -> None:
    """The first screen's charts, stacked from row ``first`` next to the key figures."""
    layout = theme["workbook"]["layout"]
    col, step = layout["chart_column"], layout["chart_rows"]
    charts = []
    for b, r in zip(blocks[1:], rows[1:], strict=True):
        n = len(b.frame)
        if b.name in ("tblTopMovers", "tblQuarterly"):
            continue
        if b.name == "tblMonthly":
            colours = [
                theme["workbook"]["volume_colour"],
                theme["verdicts"]["not_supported"]["plot"],
            ]
            charts.append(volume_share_chart(ws, b.heading, r + 1, n, colours, theme))
        elif b.name == "tblVerdictsByProduct":
            colours = [theme["verdicts"][str(v)]["plot"] for v in VERDICT_ORDER]
            charts.append(bar_chart(ws, b.heading, r + 1, n, len(colours), colours, theme))
        else:
            colours = [theme["statuses"][s]["plot"] for s in COVERAGE_ORDER]
            charts.append(bar_chart(ws, b.heading, r + 1, n, len(colours), colours, theme))
    for i, chart in enumerate(charts):
        ws.add_chart(chart, f"{col}{first + i * step}")


def write_summary_sheet(ws, data: ReportData, theme: dict[str, Any], stats: WorkbookStats) -> None:
    """Fill the (already created, first) Summary sheet: period, sentences, key figures next to
    the charts on the first screen, then the top gaps and the charts' data."""
    layout = theme["workbook"]["layout"]
    ws.freeze_panes = "A3"  # the title and the period stay in view
    print_setup(ws, None)
    for i, w in enumerate(layout["summary_widths"], 1):
        ws.column_dimensions[get_column_letter(i)].width = w
    first = row = _write_opening(ws, data, theme)
    row = _write_key_figures(ws, data, theme, stats, row)
    blocks = _summary_blocks(data, theme)
    n_charts = len([b for b in blocks[1:] if b.name not in ("tblTopMovers", "tblQuarterly")])
    below = first + n_charts * layout["chart_rows"] + 1
    while row < below:
        ws.append([])
        row += 1
    rows = []
    for b in blocks:
        rows.append(row)
        row = _write_block(ws, b, stats, row, theme)
    _summary_charts(ws, blocks, rows, theme, first)
    stats.sheets.insert(0, ws.title)


def write_contents_sheet(ws, stats: WorkbookStats, theme: dict[str, Any]) -> None:
    """Fill the Contents sheet: a link to every sheet with its one-line explanation."""
    styles = Styles(theme)
    print_setup(ws)
    ws.freeze_panes = "A4"
    ws.column_dimensions["A"].width, ws.column_dimensions["B"].width = 30, 110
    write_title(ws, ws.title, "Every sheet of this workbook; click a name to go there.", styles)
    ws.append(
        [string_cell(ws, "Sheet", styles.header), string_cell(ws, "What it shows", styles.header)]
    )
    explain = {s["title"]: s["explanation"] for s in theme["sheets"].values()}
    for row, title in enumerate(stats.sheets, start=HEADER_ROW + 1):
        cell = string_cell(ws, title)
        cell.hyperlink = Hyperlink(ref="", location=f"'{title}'!A1", tooltip=f"Go to {title}")
        cell.font = Font(color=theme["html"]["accent"], underline="single")
        text = explain.get(title.split(" (")[0], "")
        lines = int(wrapped_lines(pd.Series([text]), ws.column_dimensions["B"].width).iloc[0])
        if lines > 1:  # as tall as its wrapped explanation (LibreOffice keeps one line)
            ws.row_dimensions[row].height = lines * LINE_POINTS
        ws.append([cell, string_cell(ws, text, None, styles.wrap)])


def _new_workbook(data: ReportData, theme: dict[str, Any]) -> Workbook:
    wb = Workbook(write_only=True)
    props = theme["workbook"].get("properties", {})
    wb.properties.creator = props.get("creator", "kenolib")
    wb.properties.title = props.get("title")
    wb.properties.subject = props.get("subject")
    wb.properties.keywords = props.get("keywords")
    wb.properties.category = props.get("category")
    wb.properties.description = f"Policy {data.policy_source} (SHA-256 {data.policy_sha256})"
    wb.properties.created = data.generated_at.replace(tzinfo=None)
    return wb


def _clause_links(
    data: ReportData, sheets: dict[str, Any], summary_title: str, max_rows: int
) -> dict[str, str]:
    """Where each clause will land in Clauses (or its continuation sheets), for the links."""
    per_sheet = max_rows - HEADER_ROW
    taken = [summary_title, sheets["coverage"]["title"]]
    clause_at: dict[str, str] = {}
    base = sheets["clauses"]["title"]
    for i, cid in enumerate(data.clauses["clause_id"]):
        k, r = divmod(i, per_sheet)
        sheet = safe_sheet_title(base if k == 0 else f"{base} ({k + 1})", taken)
        clause_at[cid] = f"'{sheet}'!A{HEADER_ROW + 1 + r}"
    return clause_at


#: The column of Tickets per cell and Tickets by topic that links to the Ticket detail sheet.
LINK_COLUMN = "tickets_list"


@dataclass
class _DrillLinks:
    """Where each (product, topic) block starts in the Ticket detail sheet."""

    starts: dict[str, str]

    @classmethod
    def of(cls, detail: pd.DataFrame | None, title: str, max_rows: int) -> _DrillLinks:
        if detail is None:
            return cls({})
        first = block_starts(detail)
        per_sheet = max_rows - HEADER_ROW
        return cls(
            {
                k: f"'{title}'!A{HEADER_ROW + 1 + pos}"
                for k, pos in first.items()
                if pos < per_sheet  # on the first sheet (no links into continuation sheets)
            }
        )

    def linked(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[int, str]]:
        """``frame`` (topic and product columns) with a link column, and its links by row."""
        if not self.starts or not {"topic", "product"} <= set(frame.columns):
            return frame, {}
        keys = [cell_key(p, t) for p, t in zip(frame["product"], frame["topic"], strict=True)]
        where = [self.starts.get(k) for k in keys]
        out = frame.assign(**{LINK_COLUMN: ["Go to tickets" if w else "" for w in where]})
        return out, {i: w for i, w in enumerate(where) if w}


def write_people_sheets(
    wb: Workbook, data: ReportData, theme: dict[str, Any], stats: WorkbookStats, max_rows: int
) -> None:
    """Teams & agents and Repeat requesters (a one-line note when the export lacks them)."""
    if data.tickets is None:
        return
    fmts = column_formats(theme, currency_of(data, theme))
    views = (
        ("teams_agents", teams_view(data), ("group", "assignee"), "tblTeamsAgents"),
        ("repeat_requesters", requesters_view(data), ("requester",), "tblRepeatRequesters"),
    )
    for key, frame, columns, table in views:
        spec = theme["sheets"][key]
        note = people_note(data, columns)
        if frame is None:
            frame = pd.DataFrame({"note": pd.Series([], dtype="string")})
        elif key == "repeat_requesters":
            note = f"Requesters with at least {data.repeat_min} tickets."
        frame = human_frame(frame, data)
        labels = {str(c): human_header(c) for c in frame.columns}
        text = f"{spec['explanation']} {note}" if note else spec["explanation"]
        write_table(wb, TableSheet(spec["title"], text, frame, table, labels, fmts),
                    theme, stats, max_rows)  # fmt: skip


def write_report_workbook(
    data: ReportData,
    path: str | os.PathLike[str],
    theme: dict[str, Any] | None = None,
    max_rows: int = EXCEL_MAX_ROWS,
    progress: bool = False,
) -> WorkbookStats:
    """Write the management workbook, every sheet streamed; return what had to be cut or split."""
    theme = theme or load_theme()
    sheets = theme["sheets"]
    stats = WorkbookStats()
    wb = _new_workbook(data, theme)
    summary = wb.create_sheet(safe_sheet_title(sheets["summary"]["title"]))
    contents = wb.create_sheet(safe_sheet_title(sheets["contents"]["title"], wb.sheetnames))
    clause_at = _clause_links(data, sheets, summary.title, max_rows)
    write_coverage_sheet(wb, data, theme, stats, clause_at)
    fmts = column_formats(theme, currency_of(data, theme))
    detail = ticket_detail(data)
    drill = _DrillLinks.of(detail, sheets["ticket_detail"]["title"], max_rows)
    per_cell = coverage_tickets(data)
    if per_cell is not None:
        spec = sheets["coverage_tickets"]
        frame, links = drill.linked(per_cell)
        frame = human_frame(frame, data)
        labels = {str(c): human_header(c) for c in frame.columns}
        sheet = TableSheet(spec["title"], spec["explanation"], frame, "tblCellTickets", labels,
                           fmts, links, LINK_COLUMN)  # fmt: skip
        write_table(wb, sheet, theme, stats, max_rows, progress)
    for d in detail_sheets(data):
        spec = sheets[d.key]
        frame, links = d.frame, {}
        if d.key == "tickets_by_topic" and "tickets" in frame.columns:
            frame = frame.sort_values("tickets", ascending=False, kind="stable")
            frame, links = drill.linked(frame.reset_index(drop=True))
        frame = readable_findings(data) if d.key == "findings" else human_frame(frame, data)
        labels = {str(c): human_header(c) for c in frame.columns}
        sheet = TableSheet(spec["title"], spec["explanation"] + d.note, frame, d.table, labels,
                           fmts, links, LINK_COLUMN)  # fmt: skip
        write_table(wb, sheet, theme, stats, max_rows, progress)
    write_people_sheets(wb, data, theme, stats, max_rows)
    if detail is not None:
        spec = sheets["ticket_detail"]
        frame = human_frame(detail.drop(columns="key"), data)
        labels = {str(c): human_header(c) for c in frame.columns}
        note = spec["explanation"] + detail_capped(data)
        write_table(wb, TableSheet(spec["title"], note, frame, "tblTicketDetail", labels, fmts),
                    theme, stats, max_rows, progress)  # fmt: skip
    about = sheets["about"]
    rows = about_rows(data, stats)
    labels = {"item": "Item", "value": "Value"}
    sheet = TableSheet(about["title"], about["explanation"], rows, "tblAbout", labels)
    write_table(wb, sheet, theme, stats, max_rows)
    write_summary_sheet(summary, data, theme, stats)
    stats.sheets.insert(1, contents.title)
    write_contents_sheet(contents, stats, theme)
    save_workbook(wb, path, stats, progress=progress)
    return stats
