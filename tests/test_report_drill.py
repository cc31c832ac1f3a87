"""Drill-down: workbook links into the Ticket detail sheet, HTML anchors to escaped lists."""

from __future__ import annotations

import openpyxl
import pandas as pd
import pytest
from lxml import html as lxml_html

from kenolib import config
from kenolib.report import drill, write_reports
from kenolib.xlsx import HEADER_ROW


@pytest.fixture(scope="module")
def reports(tmp_path_factory, clauses):
    df = pd.read_csv(config.SAMPLE_TICKETS, nrows=400)
    df.loc[0, "subject"] = '<script>alert("x")</script> =SUM(1)'
    path = tmp_path_factory.mktemp("t") / "tickets.csv"
    df.to_csv(path, index=False)
    out = tmp_path_factory.mktemp("r")
    write_reports(tickets=path, out_dir=out, progress=False)
    return out


def _rows(ws):
    return {r[0].row: [c.value for c in r] for r in ws.iter_rows(min_row=HEADER_ROW)}


def test_workbook_links_point_at_the_first_row_of_their_block(reports):
    wb = openpyxl.load_workbook(reports / "kenotronix_support_report.xlsx")
    detail = _rows(wb["Ticket detail"])
    assert detail[HEADER_ROW][:3] == ["Product", "Topic", "Verdict"]
    checked = 0
    for name in ("Tickets per cell", "Tickets by topic"):
        ws = wb[name]
        head = [c.value for c in ws[HEADER_ROW]]
        col = head.index("Tickets list")
        t, p = head.index("Topic"), head.index("Product")
        for row in ws.iter_rows(min_row=HEADER_ROW + 1):
            link = row[col].hyperlink
            if link is None:
                continue
            sheet, cell = link.location.split("!")
            assert sheet == "'Ticket detail'" and row[col].value == "Go to tickets"
            r = int(cell[1:])
            product = row[p].value.replace("Overview (all products)", "No product named")
            assert detail[r][:2] == [product, row[t].value]
            assert detail[r - 1][:2] != detail[r][:2]  # the first row of its block
            checked += 1
    assert checked > 20


def test_detail_sheet_is_capped_and_says_so(reports, tmp_path, monkeypatch):
    monkeypatch.setattr(config, "TICKET_DETAIL_ROWS", 50)
    write_reports(tickets=config.SAMPLE_TICKETS, out_dir=tmp_path, progress=False)
    wb = openpyxl.load_workbook(tmp_path / "kenotronix_support_report.xlsx")
    ws = wb["Ticket detail"]
    assert "Capped: the first 50 of 3,000 tickets" in ws["A2"].value
    assert ws.max_row == HEADER_ROW + 50


def test_html_anchors_open_escaped_ticket_lists(reports):
    text = (reports / "kenotronix_support_report.html").read_text(encoding="utf-8")
    assert '<script>alert("x")' not in text
    page = lxml_html.fromstring(text)
    ids = set(page.xpath("//details/@id"))
    links = page.xpath("//td/a/@href")
    assert links and all(h.startswith("#cell-") and h[1:] in ids for h in links)
    subjects = page.xpath("//details//td/text()")
    assert '<script>alert("x")</script> =SUM(1)' in subjects  # as text, escaped in the source
    for d in page.xpath("//details"):
        rows = d.xpath(".//tbody/tr")
        assert 1 <= len(rows) <= config.HTML_CELL_TICKETS
        more = d.xpath(".//p/text()")
        assert not more or more[0].startswith("and ")


def test_cell_keys_are_anchor_safe():
    assert drill.cell_key("overview", "ssl") == "cell-unknown--ssl"
    assert drill.cell_key('a"b<c', "x y") == "cell-a_b_c--x_y"
