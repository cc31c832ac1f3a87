"""What a manager sees in the first minute: period, summary sentences, first-screen charts,
human labels and formats, print setup, sortable tables (issue 12). Read back from the files."""

from __future__ import annotations

import re
from datetime import date

import openpyxl
import pytest
from bs4 import BeautifulSoup
from openpyxl.utils import get_column_letter

from kenolib import report
from kenolib.cli import main
from kenolib.policy import parse_policy
from kenolib.report.data import filter_period
from kenolib.report.summary import human_header

SNAKE = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)+$")
#: Column width to the left of a chart, in characters, and the rows of the first screen.
MAX_LEFT_CHARS, FIRST_SCREEN_ROWS = 130, 40


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    out = tmp_path_factory.mktemp("manager")
    args = ["report", "--out-dir", str(out), "--hourly-rate", "45", "--currency", "USD"]
    args += ["--since", "2024-01-01", "--until", "2025-06-30"]
    assert main(args) == 0
    wb = openpyxl.load_workbook(out / report.XLSX_NAME)
    html = (out / report.HTML_NAME).read_text(encoding="utf-8")
    return wb, BeautifulSoup(html, "html.parser")


def _summary_lines(ws) -> list[str]:
    return [str(ws.cell(r, 1).value) for r in range(1, 8) if ws.cell(r, 1).value]


def test_summary_opens_with_period_and_sentences(made):
    wb, _ = made
    lines = _summary_lines(wb["Summary"])
    period = lines[1]
    assert period.startswith("Period: ") and "tickets)" in period
    first, last = re.findall(r"\d{1,2} \w{3} \d{4}", period)
    assert first.endswith("2024") and last.endswith("2025") and "Jul" not in last
    text = " ".join(lines[2:])
    assert re.search(r"[\d,]+ tickets were analysed; [\d,]+ \(\d+\.\d%\)", text)
    assert "likely between" in text and "USD " in text and "agent hours" in text
    assert "largest out-of-scope topic is" in text and "biggest policy gap is" in text


def test_charts_start_on_the_first_screen(made):
    wb, _ = made
    ws = wb["Summary"]
    assert len(ws._charts) >= 2
    kinds = {c.tagname for c in ws._charts}
    assert "barChart" in kinds
    assert any(getattr(c, "_charts", None) and len(c._charts) == 2 for c in ws._charts)  # bar+line
    for chart in ws._charts:
        marker = chart.anchor._from
        left = sum(
            ws.column_dimensions[get_column_letter(i + 1)].width or 13 for i in range(marker.col)
        )
        assert left <= MAX_LEFT_CHARS, left
        if chart is ws._charts[0]:
            assert marker.row < FIRST_SCREEN_ROWS


def test_every_sheet_prints_landscape_one_page_wide_with_headers(made):
    wb, _ = made
    for ws in wb.worksheets:
        assert ws.page_setup.orientation == "landscape", ws.title
        assert ws.page_setup.fitToWidth == 1 and ws.sheet_properties.pageSetUpPr.fitToPage
        if ws.title not in ("Summary",):
            assert ws.print_title_rows, ws.title


def test_no_snake_case_ids_in_headers_or_product_and_topic_cells(made):
    wb, _ = made
    for ws in wb.worksheets:
        for name, ref in ws.tables.items():
            cells = list(ws[ref])
            headers = [c.value for c in cells[0]]
            bad = [h for h in headers if SNAKE.match(str(h))]
            assert not bad, (ws.title, name, bad)
            for col, h in enumerate(headers):
                if h in ("Product", "Topic", "Other product", "Clause product"):
                    values = {str(r[col].value) for r in cells[1:] if r[col].value}
                    ids = [v for v in values if SNAKE.match(v) or v.endswith(" CONTINUED")]
                    assert not ids, (ws.title, h, ids)


def test_money_and_share_number_formats(made):
    wb, _ = made
    ws = wb["Summary"]
    ref = ws.tables["tblKeyFigures"].ref
    formats = {r[0].value: r[1].number_format for r in ws[ref][1:]}
    assert formats["Out-of-scope share"] == "0.0%"
    assert (
        formats["Cost of out-of-scope work"].startswith('"USD "')
        and "#,##0" in formats["Cost of out-of-scope work"]
    )
    assert formats["Tickets analysed"] == "#,##0"
    gaps = wb["Policy gaps"]
    header = [c.value for c in gaps[3]]
    share = gaps.cell(4, header.index("Share") + 1)
    assert share.number_format == "0.0%"


def test_findings_collapse_silent_cells_and_rank_by_tickets(made):
    wb, _ = made
    ws = wb["Findings"]
    rows = list(ws[ws.tables["tblFindings"].ref])
    header = [c.value for c in rows[0]]
    kinds = [r[header.index("Kind")].value for r in rows[1:]]
    tickets = [r[header.index("Tickets")].value for r in rows[1:]]
    assert kinds.count("silent") < 30 and tickets == sorted(tickets, reverse=True)
    topics = [r[header.index("Topic")].value for r in rows[1:] if r[0].value == "silent"]
    assert len(topics) == len(set(topics))  # one row per silent topic


def test_coverage_cells_drill_down_to_tickets(made):
    wb, _ = made
    ws = wb["Tickets per cell"]
    rows = list(ws[ws.tables["tblCellTickets"].ref])
    header = [c.value for c in rows[0]]
    assert header[:4] == ["Topic", "Product", "Status", "Tickets"]
    tickets = [r[3].value for r in rows[1:]]
    assert tickets == sorted(tickets, reverse=True) and tickets[0] > 0
    cov = wb["Coverage"]
    comments = [c.comment.text for row in cov.iter_rows(min_row=4) for c in row if c.comment]
    assert any(t.startswith("Tickets: ") and "agent hours" in t for t in comments)


def test_top_movers_compare_the_last_three_months_with_the_three_before(made):
    wb, soup = made
    ws = wb["Summary"]
    rows = list(ws[ws.tables["tblTopMovers"].ref])
    header = [c.value for c in rows[0]]
    assert header[0] == "Product" and "Change in share" in header
    change = [r[header.index("Change in share")] for r in rows[1:]]
    assert change and all(c.number_format == "0.0%" for c in change)
    assert [abs(c.value) for c in change] == sorted((abs(c.value) for c in change), reverse=True)
    assert any(h.get_text().startswith("Top movers") for h in soup.find_all("h2"))


def test_contents_links_every_sheet(made):
    wb, _ = made
    ws = wb["Contents"]
    links = [c.hyperlink.location for row in ws.iter_rows(min_row=4) for c in row if c.hyperlink]
    targets = {loc.split("!")[0].strip("'") for loc in links}
    assert set(wb.sheetnames) - {"Contents"} <= targets


def test_html_has_period_summary_and_sortable_offline_tables(made):
    _, soup = made
    assert soup.find(class_="period").get_text().startswith("Period: ")
    summary = soup.find(class_="summary").get_text(" ")
    assert "tickets were analysed" in summary and "USD " in summary
    assert not [s for s in soup.find_all("script") if s.get("src")]
    tables = soup.find_all("table", class_="sortable")
    assert len(tables) >= 4 and len(soup.find_all("input", class_="filter")) >= 3
    assert "SHA-256" not in soup.find("body").find("p").get_text()
    for t in tables:
        heads = [th.get_text() for th in t.find_all("th")]
        assert not [h for h in heads if SNAKE.match(h)], heads


def test_human_headers():
    assert human_header("topic_label") == "Topic"
    assert human_header("agent_hours") == "Agent hours"
    assert human_header("Shared hosting") == "Shared hosting"


def test_since_until_filter_and_bad_day(tmp_path, capsys):
    xref = report.judge_tickets(parse_policy(None), None, "auto")[0]
    kept = filter_period(xref, date(2024, 1, 1), date(2024, 1, 31))
    days = kept["created_at"].astype(str).str[:7].unique()
    assert list(days) == ["2024-01"] and 0 < len(kept) < len(xref)
    with pytest.raises(SystemExit):
        main(["report", "--out-dir", str(tmp_path), "--since", "yesterday"])
    assert "YYYY-MM-DD" in capsys.readouterr().err
