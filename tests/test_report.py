"""The management reports: the workbook and the HTML page, written for real and read back."""

from __future__ import annotations

import os
import re

import openpyxl
import pandas as pd
import pytest
from bs4 import BeautifulSoup

from kenolib import report
from kenolib.cli import main
from kenolib.errors import KenolibError
from kenolib.export import (
    EXCEL_MAX_CELL_CHARS,
    HEADER_ROW,
    TRUNCATION_MARKER,
    load_theme,
    safe_sheet_title,
    safe_table_name,
)

FORMULAS = ['=HYPERLINK("http://x","y")', "+1", "@SUM(A1)", "-2+3", "#N/A", "=1+1"]
SCRIPT = "</script><script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
HUGE = "x" * (EXCEL_MAX_CELL_CHARS + 500)

BASE_SHEETS = [
    "Summary",
    "Contents",
    "Coverage",
    "Clauses",
    "Findings",
    "Tickets by topic",
    "Out of scope",
    "Policy gaps",
    "About",
]


def crossref_frame(n: int = 40) -> pd.DataFrame:
    """A small crossref-shaped history (CONTRACTS columns) with hostile ticket text.

    The first rows are out of scope (formula-looking, control-character and huge subjects);
    two silent tickets carry markup, so it reaches the Policy gaps examples and the HTML.
    """
    subjects = [*FORMULAS, SCRIPT, IMG, "bell\x07 and\x0b tab", HUGE]
    verdicts = ["not_supported", "supported", "silent"]
    rows = []
    for i in range(n):
        verdict = "not_supported" if i < len(subjects) else verdicts[i % 3]
        topic = ["backups", "dns", "migrations", "ssl"][i % 4]
        subject = subjects[i] if i < len(subjects) else f"question {i} about {topic}"
        if i in (n - 2, n - 1):
            verdict, topic, subject = "silent", "ddos", [SCRIPT, IMG][n - 1 - i]
        decided = verdict != "silent"
        rows.append(
            {
                "ticket_id": "=1+2" if i == 1 else f"T{i:04d}",
                "product": ["shared_hosting", "vps_dedicated", "g_suite"][i % 3],
                "topic": topic,
                "verdict": verdict,
                "clause_id": "overview.N14" if decided else "",
                "clause_product": "overview" if decided else "",
                "clause_heading": "Content and data backups" if decided else "",
                "clause_text": "Content and data backups" if decided else "",
                "confidence": 0.9,
                "evidence": SCRIPT if i == 0 else "backup",
                "decided_by": "signals",
                "needs_review": False,
                "created_at": pd.Timestamp("2026-01-05") + pd.Timedelta(days=7 * i),
                "subject": subject,
                "body": f"body {i}",
                "agent_minutes": 30.0 + i,
            }
        )
    return pd.DataFrame(rows)


def ticket_data(seed, xref: pd.DataFrame) -> report.ReportData:
    """ReportData for the seed policy plus ``xref``, through the crossref aggregates."""
    return report.add_crossref(report.policy_report_data(seed), xref, "test history", 50.0)


@pytest.fixture(scope="module")
def policy_only(tmp_path_factory, seed):
    out = tmp_path_factory.mktemp("policy_only")
    paths, stats = report.write_report_files(report.policy_report_data(seed), out)
    return paths, stats


@pytest.fixture(scope="module")
def with_tickets(tmp_path_factory, seed):
    out = tmp_path_factory.mktemp("tickets")
    data = ticket_data(seed, crossref_frame())
    paths, stats = report.write_report_files(data, out, max_rows=12)
    return paths, stats, data


def table_frame(ws, name: str) -> pd.DataFrame:
    ref = ws.tables[name].ref
    rows = [[c.value for c in r] for r in ws[ref]]
    return pd.DataFrame(rows[1:], columns=rows[0])


def about_items(wb) -> dict[str, object]:
    """Item -> value over the About sheet and its continuations."""
    items: dict[str, object] = {}
    for ws in [wb[t] for t in wb.sheetnames if t.startswith("About")]:
        for name in ws.tables:
            items.update(table_frame(ws, name).itertuples(index=False, name=None))
    return items


# ---------------------------------------------------------------------------------------------
# Workbook


def test_policy_only_workbook_sheets_tables_and_properties(policy_only):
    (xlsx, html_path), _ = policy_only
    assert xlsx.name == "kenotronix_support_report.xlsx" and html_path.suffix == ".html"
    wb = openpyxl.load_workbook(xlsx)
    assert wb.sheetnames == BASE_SHEETS
    names = [t for ws in wb for t in ws.tables]
    assert len(names) == len({n.lower() for n in names}) >= 6
    for ws in wb:
        assert len(ws.title) <= 31
        report_title = load_theme()["workbook"]["properties"]["title"]
        assert ws["A1"].value in (ws.title, report_title) and ws["A1"].font.b
        assert ws["A2"].value  # the one-line explanation (the period on the Summary)
        assert ws.freeze_panes in ("A3", "A4", "C4")
        for table in ws.tables.values():
            first = ws[table.ref.split(":")[0]]
            header = [c.value for c in ws[table.ref][0]]
            assert all(isinstance(h, str) for h in header)
            assert [c.name for c in table.tableColumns] == header
            assert table.autoFilter is not None and table.autoFilter.ref == table.ref
            assert first.row in (HEADER_ROW, *range(4, 60))
    props = wb.properties
    assert props.creator == "kenolib" and props.title and props.subject and props.keywords
    assert "5953e115" in (props.description or "")
    clauses = table_frame(wb["Clauses"], "tblClauses")
    assert len(clauses) == 127 and clauses["Clause"].is_unique
    assert wb["Clauses"].freeze_panes == "A4"


def test_summary_has_key_figures_and_native_chart(policy_only, seed):
    (xlsx, _), _ = policy_only
    wb = openpyxl.load_workbook(xlsx)
    ws = wb["Summary"]
    assert len(ws._charts) >= 1
    chart = ws._charts[0]
    assert chart.tagname == "barChart" and len(chart.series) == 4
    figures = dict(table_frame(ws, "tblKeyFigures").itertuples(index=False, name=None))
    assert figures["Clauses"] == 127
    assert figures["Contradictions with the overview table"] == 3
    assert figures["Products"] == 6
    # provenance lives in About, not on the first screen
    about = dict(table_frame(wb["About"], "tblAbout").itertuples(index=False, name=None))
    assert about["Policy SHA-256"] == seed.sha256
    assert "Generated (UTC)" in about and "Policy source" in about
    assert seed.sha256 not in {c.value for row in ws.iter_rows() for c in row}
    gaps = table_frame(ws, "tblTopGaps")
    assert set(gaps["Kind"]) <= {"contradiction", "sibling gap"} and len(gaps)


def test_coverage_marks_fills_inheritance_comments_and_links(policy_only, seed):
    (xlsx, _), _ = policy_only
    theme = load_theme()
    wb = openpyxl.load_workbook(xlsx)
    ws = wb["Coverage"]
    assert ws.freeze_panes == "C4"
    header = [c.value for c in ws[HEADER_ROW]][: 2 + 7]
    assert header[:2] == ["Topic", "Topic id"] and "Shared hosting" in header
    cov = seed.clauses  # noqa: F841  (the seed policy's clauses decide the cells below)
    rows = {ws.cell(r, 2).value: r for r in range(HEADER_ROW + 1, ws.max_row + 1)}
    col = {h: i + 1 for i, h in enumerate(header)}
    seen = set()
    for r in range(HEADER_ROW + 1, HEADER_ROW + 1 + 38):
        for c in range(3, 3 + 7):
            cell = ws.cell(r, c)
            status = next(
                s for s, v in theme["statuses"].items() if cell.value.startswith(v["mark"])
            )
            inherited = cell.value.endswith(theme["inherited_suffix"])
            want = theme["statuses"][status]["inherited_fill" if inherited else "fill"]
            assert cell.fill.fgColor.rgb[-6:] == want
            assert cell.font.i == inherited
            seen.add((status, inherited))
            if status != "silent":
                assert cell.comment is not None and re.search(r"\w+\.[SNX]\d\d", cell.comment.text)
                assert cell.hyperlink.location.startswith("'Clauses'!A")
    assert {("supported", False), ("not_supported", True), ("conditional", False)} <= seen
    assert ("silent", False) in seen
    # the backups cell of managed WordPress contradicts the overview: its own clause decides
    backups = ws.cell(rows["backups"], col["Managed WordPress"])
    assert backups.value.startswith("✔") and "managed_wordpress.S07" in backups.comment.text
    # the link lands on the clause's row in Clauses
    target = backups.hyperlink.location.split("!A")[1]
    assert wb["Clauses"].cell(int(target), 1).value == "managed_wordpress.S07"
    # the legend is below the table, one row per mark
    legend = [ws.cell(r, 1).value for r in range(HEADER_ROW + 39, ws.max_row + 1)]
    for spec in theme["statuses"].values():
        assert any(v and v.startswith(spec["mark"]) for v in legend)


def test_ticket_workbook_neutralises_formulas_and_cleans_text(with_tickets):
    (xlsx, _), stats, data = with_tickets
    wb = openpyxl.load_workbook(xlsx)
    subjects = {}
    for title in [t for t in wb.sheetnames if t.startswith("Out of scope")]:
        ws = wb[title]
        header = [c.value for c in ws[HEADER_ROW]]
        col = header.index("Subject") + 1
        for r in range(HEADER_ROW + 1, ws.max_row + 1):
            cell = ws.cell(r, col)
            subjects[cell.value] = cell
    for f in FORMULAS:
        assert f in subjects, f
        assert subjects[f].data_type == "s"
    ws = wb["Out of scope"]
    assert (
        ws.cell(HEADER_ROW + 2, 1).value == "=1+2" and ws.cell(HEADER_ROW + 2, 1).data_type == "s"
    )
    assert "bell and tab" in subjects  # \x07 and \x0b removed
    cut = [v for v in subjects if v and v.endswith(TRUNCATION_MARKER)]
    assert len(cut) == 1 and len(cut[0]) == EXCEL_MAX_CELL_CHARS
    # the ticket is listed twice: in Out of scope and in the drill-down's Ticket detail
    assert stats.truncated_cells == 2 and stats.cleaned_cells == 2
    detail = wb["Ticket detail"]
    col = [c.value for c in detail[HEADER_ROW]].index("Subject") + 1
    cells = {
        detail.cell(r, col).value: detail.cell(r, col)
        for r in range(HEADER_ROW + 1, detail.max_row + 1)
    }
    risky = [c for v, c in cells.items() if isinstance(v, str) and v[:1] in "=+-@"]
    assert risky and all(c.data_type == "s" for c in risky)
    about = about_items(wb)
    assert about["Cells cut at 32,767 characters (marked …[truncated by kenolib])"] == "2"
    assert about["Cells with control characters removed"] == "2"
    figures = dict(table_frame(wb["Summary"], "tblKeyFigures").itertuples(index=False, name=None))
    assert figures["Tickets analysed"] == 40
    assert figures["Tickets out of scope (not supported)"] == len(data.tickets.out_of_scope)
    about = table_frame(wb["About"], "tblAbout")
    assert {"pandas version", "openpyxl version", "kenolib version"} <= set(about["Item"])
    # pandas reads the formula text back as text, not as a computed value
    df = pd.read_excel(xlsx, sheet_name="Out of scope", header=HEADER_ROW - 1)
    assert '=HYPERLINK("http://x","y")' in set(df["Subject"])
    assert "+1" in set(df["Subject"].astype(str))


def test_detail_continues_on_numbered_sheets(with_tickets):
    (xlsx, _), stats, data = with_tickets
    wb = openpyxl.load_workbook(xlsx)
    n = len(data.tickets.out_of_scope)
    per_sheet = 12 - HEADER_ROW
    parts = [t for t in wb.sheetnames if t.startswith("Out of scope")]
    assert len(parts) == -(-n // per_sheet) >= 2
    assert parts[1] == "Out of scope (2)"
    assert stats.split["Out of scope"] == parts[1:]
    ids = []
    for t in parts:
        ws = wb[t]
        assert ws.max_row <= 12 and ws.freeze_panes == "A4"
        (table,) = ws.tables.values()
        ids += list(table_frame(ws, table.name)["Ticket"])
    assert ids == list(data.tickets.out_of_scope["ticket_id"])  # nothing lost, nothing repeated
    about = about_items(wb)
    assert "Out of scope (2)" in about["Detail sheets split at Excel's row limit"]
    names = [t for ws in wb for t in ws.tables]
    assert len(names) == len({x.lower() for x in names})
    assert len(wb["Summary"]._charts) == 2  # verdicts + monthly trend
    # Clauses split too; every coverage link still lands on its clause
    ws = wb["Coverage"]
    links = [c for row in ws.iter_rows(min_row=HEADER_ROW + 1) for c in row if c.hyperlink]
    assert len(links) > 100
    for cell in links:
        sheet, ref = cell.hyperlink.location.rsplit("!", 1)
        target = wb[sheet.strip("'")][ref].value
        assert target in cell.comment.text, (cell.coordinate, target)


def test_sheet_and_table_names_are_valid():
    assert safe_sheet_title("a/b:c*d?e[f]" + "x" * 40) == "a_b_c_d_e_f_" + "x" * 19
    assert safe_sheet_title("Summary", ["summary"]) == "Summary (2)"
    assert safe_table_name("Out of scope") == "Outofscope"
    assert safe_table_name("A1") == "T_A1"
    assert safe_table_name("tblX", ["tblx"]) == "tblX_2"


# ---------------------------------------------------------------------------------------------
# HTML


def test_html_is_offline_and_ticket_text_is_inert(with_tickets):
    (_, html_path), _, _ = with_tickets
    text = html_path.read_text(encoding="utf-8")
    soup = BeautifulSoup(text, "html.parser")
    scripts = soup.find_all("script")
    assert scripts and not [s for s in scripts if s.get("src")]
    assert not [link for link in soup.find_all("link") if link.get("href")]
    assert "cdn.plot.ly" not in " ".join(str(s.get("src")) for s in scripts)
    # plotly.js inlined once, one script per figure (trend, verdicts, per product, coverage,
    # gaps), one small inline script sorting and filtering the tables
    assert sum("Plotly.newPlot" in (s.string or "") for s in scripts) == 5
    assert len(scripts) == 7
    assert text.lower().count("<script") == text.lower().count("</script") == 7
    # no live ticket markup: neither an <img> nor the injected script exists as a tag
    assert not soup.find_all("img")
    assert not [s for s in scripts if "alert(1)" in (s.string or "") and len(s.string) < 100]
    assert SCRIPT not in text and IMG not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in text
    tables = soup.find_all("table")
    assert any(IMG in t.get_text() for t in tables)  # shown as text, to the reader


def test_html_policy_only_has_heatmap_with_clause_hover(policy_only):
    (_, html_path), _ = policy_only
    text = html_path.read_text(encoding="utf-8")
    soup = BeautifulSoup(text, "html.parser")
    assert soup.title.string == load_theme()["html"]["title"]
    assert '"type":"heatmap"' in text
    assert "managed_wordpress.S07" in text  # clause ids in the hover data
    assert len(soup.find_all("script")) == 3  # plotly.js, the heatmap, sorting the tables


# ---------------------------------------------------------------------------------------------
# Files and command line


def test_failed_write_leaves_no_report_and_keeps_old_one(tmp_path, seed, monkeypatch):
    old = tmp_path / report.XLSX_NAME
    old.write_bytes(b"previous report")

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(report, "write_html", boom)
    with pytest.raises(RuntimeError):
        report.write_report_files(report.policy_report_data(seed), tmp_path)
    assert old.read_bytes() == b"previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == [report.XLSX_NAME]


def test_out_dir_that_is_a_file_is_a_user_error(tmp_path, seed):
    f = tmp_path / "reports"
    f.write_text("not a dir", encoding="utf-8")
    with pytest.raises(KenolibError, match="not a directory"):
        report.write_report_files(report.policy_report_data(seed), f)


def test_cli_report_names_the_files_last(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(report.config, "SAMPLE_TICKETS", tmp_path / "missing.csv.gz", raising=False)
    assert main(["report", "--out-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    xlsx, html_path = tmp_path / report.XLSX_NAME, tmp_path / report.HTML_NAME
    assert out[-1] == f"wrote {xlsx}, {html_path}"
    assert xlsx.stat().st_size > 10_000 and html_path.stat().st_size > 1_000_000
    assert oct(xlsx.stat().st_mode & 0o777) == oct(0o666 & ~_umask())
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


def test_cli_report_rejects_format_without_tickets(tmp_path, capsys):
    assert main(["report", "--format", "zendesk", "--out-dir", str(tmp_path)]) == 2
    assert "--format needs --tickets" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_baseline_adds_policy_changes_sheet_and_section(tmp_path, capsys):
    from tests.conftest import FIXTURES

    baseline = FIXTURES / "policies" / "a_backups_supported.txt"
    written = report.write_reports(
        baseline=baseline, out_dir=tmp_path, progress=False, use_tickets=False
    )
    wb = openpyxl.load_workbook(written[0])
    assert wb.sheetnames == [*BASE_SHEETS[:-1], "Policy changes", "About"]
    ws = wb["Policy changes"]
    (table,) = ws.tables.values()
    changes = table_frame(ws, table.name)
    assert len(changes) >= 1 and "Change" in changes.columns
    soup = BeautifulSoup(written[1].read_text(encoding="utf-8"), "html.parser")
    assert "Policy changes" in [h.get_text() for h in soup.find_all("h2")]


def test_missing_and_infinite_numbers_leave_empty_cells(tmp_path):
    from openpyxl import Workbook

    from kenolib.export import WorkbookStats, save_workbook, write_table_sheets

    df = pd.DataFrame(
        {
            "x": [1.5, float("inf"), None],
            "when": pd.to_datetime(["2026-01-01 00:00", None, "1899-06-30 12:00"]),
            "n": pd.array([3, None, 5], dtype="Int64"),
            "flag": pd.array([True, None, False], dtype="boolean"),
            "note": ["a & <b>", None, "  padded\n"],
        }
    )
    wb = Workbook(write_only=True)
    stats = WorkbookStats()
    write_table_sheets(wb, "T", "t", df, "tblT", load_theme(), stats)
    save_workbook(wb, tmp_path / "t.xlsx", stats)
    ws = openpyxl.load_workbook(tmp_path / "t.xlsx")["T"]
    assert [ws.cell(r, 1).value for r in (4, 5, 6)] == [1.5, None, None]
    assert ws.cell(4, 2).value.year == 2026 and ws.cell(5, 2).value is None
    assert ws.cell(6, 2).value == "1899-06-30 12:00:00"  # before Excel's calendar: kept as text
    assert [ws.cell(r, 3).value for r in (4, 5, 6)] == [3, None, 5]
    assert [ws.cell(r, 4).value for r in (4, 5, 6)] == [True, None, False]
    assert ws.cell(4, 5).value == "a & <b>" and ws.cell(5, 5).value is None
    assert ws.cell(6, 5).value == "  padded\n"
    back = pd.read_excel(tmp_path / "t.xlsx", header=HEADER_ROW - 1)
    assert list(back.columns) == ["x", "when", "n", "flag", "note"] and len(back) == 3


def test_charts_escape_text_and_show_clauses_on_hover(seed):
    from kenolib import charts
    from kenolib.coverage import coverage_matrix

    cov = coverage_matrix(seed.clauses)
    fig = charts.coverage_heatmap(cov, seed.clauses)
    hover = [h for row in fig.data[0].customdata for h in row]
    assert any("managed_wordpress.S07" in h and "backup" in h.lower() for h in hover)
    assert len(fig.data[0].z) == cov["topic"].nunique()
    gaps = pd.DataFrame({"topic": [IMG, "dns"], "tickets": [3, 5], "examples": [SCRIPT, "x"]})
    bar = charts.silent_topics_bar(gaps, hover="examples")
    assert "&lt;img src=x onerror=alert(1)&gt;" in list(bar.data[0].y)
    assert IMG not in bar.to_json() and "<script>" not in bar.to_json()


def test_cli_report_on_a_ticket_export_end_to_end(tmp_path, capsys):
    subjects = [
        "Please restore my site from your backup",
        "Can you migrate my WordPress site from another host?",
        "Mail merge in Word does not work",
        IMG,
        '=HYPERLINK("http://x","y")',
        "My DNS zone needs a new MX record",
    ]
    src = tmp_path / "tickets.csv"
    pd.DataFrame(
        {
            "ticket_id": [f"K{i}" for i in range(len(subjects))],
            "created_at": [f"2026-0{1 + i % 3}-10 09:00" for i in range(len(subjects))],
            "product": ["Shared Hosting", "WordPress", "Office 365", "VPS", "shared", "G Suite"],
            "subject": subjects,
            "body": ["Thanks"] * len(subjects),
            "agent_minutes": [10, 20, 30, 40, 50, 60],
        }
    ).to_csv(src, index=False)
    before = src.read_bytes()
    out = tmp_path / "out"
    args = ["report", "--tickets", str(src), "--out-dir", str(out), "--hourly-rate", "60"]
    assert main(args) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith(f"wrote {out}")
    assert src.read_bytes() == before
    wb = openpyxl.load_workbook(out / report.XLSX_NAME)
    figures = dict(table_frame(wb["Summary"], "tblKeyFigures").itertuples(index=False, name=None))
    assert figures["Tickets analysed"] == len(subjects)
    assert figures["Cost of an agent hour"] == 60 and "Cost of out-of-scope work" in figures
    soup = BeautifulSoup((out / report.HTML_NAME).read_text(encoding="utf-8"), "html.parser")
    assert not soup.find_all("img")


def test_cli_report_bad_ticket_file_is_one_line_error(tmp_path, capsys):
    bad = tmp_path / "t.csv"
    bad.write_text("nothing,useful\n1,2\n", encoding="utf-8")
    assert main(["report", "--tickets", str(bad), "--out-dir", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(bad) in err[0]
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())


def test_rows_are_generated_chunk_by_chunk_without_losing_rows(tmp_path):
    from openpyxl import Workbook

    from kenolib.export import WorkbookStats, rows_xml, save_workbook, write_table_sheets

    df = pd.DataFrame(
        {
            "a": range(10),
            "b": [f"x\x01{i}" if i % 2 else f"=A{i}" for i in range(10)],
            "ok": [True, False] * 5,
        }
    )
    wb = Workbook(write_only=True)
    stats = WorkbookStats()
    write_table_sheets(wb, "T", "t", df, "tblT", load_theme(), stats)
    assert stats.cleaned_cells == 5 and len(stats.pending) == 1
    chunks = list(rows_xml(stats.pending[0], chunk_rows=3))
    assert len(chunks) == 4 and chunks[0].startswith(b'<row r="4">')
    save_workbook(wb, tmp_path / "t.xlsx", stats)
    ws = openpyxl.load_workbook(tmp_path / "t.xlsx")["T"]
    got = [[c.value for c in row] for row in ws.iter_rows(min_row=4)]
    want = [[i, f"x{i}" if i % 2 else f"=A{i}", i % 2 == 0] for i in range(10)]
    assert got == want
    assert all(ws.cell(r, 2).data_type == "s" for r in range(4, 14))
    assert not stats.pending


def test_unwritable_out_dir_and_negative_rate_are_user_errors(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("x", encoding="utf-8")
    assert main(["report", "--out-dir", str(blocker / "reports")]) == 2  # parent is a file
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot write the reports" in err[0]
    assert main(["report", "--hourly-rate", "-5", "--out-dir", str(tmp_path / "o")]) == 2
    assert "--hourly-rate -5" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("keep", ["no_silent", "empty"])
def test_history_without_gaps_or_tickets_still_reports(tmp_path, seed, keep):
    xref = crossref_frame()
    xref = xref[xref["verdict"] != "silent"] if keep == "no_silent" else xref.iloc[0:0]
    data = report.add_crossref(report.policy_report_data(seed), xref, "small history")
    (xlsx, html_path), _ = report.write_report_files(data, tmp_path)
    wb = openpyxl.load_workbook(xlsx)
    people = ["Teams & agents", "Repeat requesters"] + (["Ticket detail"] if len(xref) else [])
    assert wb.sheetnames == [*BASE_SHEETS[:3], "Tickets per cell", *BASE_SHEETS[3:-1], *people,
                             BASE_SHEETS[-1]]  # fmt: skip
    figures = dict(table_frame(wb["Summary"], "tblKeyFigures").itertuples(index=False, name=None))
    assert figures["Tickets analysed"] == len(xref)
    assert wb["Policy gaps"].cell(HEADER_ROW + 1, 1).value == "(no rows)"
    assert BeautifulSoup(html_path.read_text(encoding="utf-8"), "html.parser").find("h1")


def test_trend_chart_labels_months_and_counts_undated_tickets():
    from kenolib import charts

    monthly = pd.DataFrame(
        {
            "month": pd.to_datetime(["2026-01-01", "2026-02-01", None]),
            "product": ["shared_hosting", "shared_hosting", "g_suite"],
            "tickets": [3, 4, 5],
            "out_of_scope": [1, 2, 3],
            "share": [0.33, 0.5, 0.6],
        }
    )
    fig = charts.monthly_trend(monthly)
    assert list(fig.data[0].x) == ["2026-01", "2026-02"]
    assert "5 tickets without a date" in fig.layout.title.text


def test_verdict_chart_takes_the_wide_aggregate_too():
    import pandas as pd

    from kenolib import charts

    wide = pd.DataFrame(
        {"product": ["vps", "wp"], "supported": [3, 1], "not_supported": [2, 0], "silent": [0, 4]}
    ).assign(tickets=lambda d: d[["supported", "not_supported", "silent"]].sum(axis=1))
    long = wide.drop(columns="tickets").melt(
        id_vars="product", var_name="verdict", value_name="tickets"
    )
    a, b = charts.verdicts_by_product(wide), charts.verdicts_by_product(long)
    assert [list(t.y) for t in a.data] == [list(t.y) for t in b.data]
    assert sum(sum(t.y) for t in a.data) == 10  # the total column is not drawn as a verdict


def test_coverage_sheet_prints_on_one_page_wide(tmp_path):
    import openpyxl

    from kenolib.report import write_reports

    xlsx = next(
        p
        for p in write_reports(out_dir=tmp_path, use_tickets=False, progress=False)
        if p.suffix == ".xlsx"
    )
    ws = openpyxl.load_workbook(xlsx)["Coverage"]
    assert ws.page_setup.orientation == "landscape"
    assert (ws.page_setup.fitToWidth, ws.page_setup.fitToHeight) == (1, 0)
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.print_title_rows  # the product header repeats on every printed page


def test_rows_are_as_tall_as_their_wrapped_text(policy_only):
    """Wrapped cells get their rows' heights written (LibreOffice keeps a row one line tall,
    so wrapped lines printed over each other): a long clause text several lines, a short row
    none; the Contents sheet's long explanations likewise."""
    from kenolib.xlsx_stream import LINE_POINTS, MAX_LINES, wrapped_lines

    (xlsx, _), _ = policy_only
    wb = openpyxl.load_workbook(xlsx)
    ws = wb["Clauses"]
    frame = table_frame(ws, next(iter(ws.tables)))
    letter = openpyxl.utils.get_column_letter(list(frame.columns).index("Text") + 1)
    width = ws.column_dimensions[letter].width  # the clause's text, wrapped
    tall = short = 0
    for i, text in enumerate(frame["Text"], start=4):
        lines = int(wrapped_lines(pd.Series([text]), width).iloc[0])
        height = ws.row_dimensions[i].height
        if lines > 1:
            assert height is not None and height >= min(lines, MAX_LINES) * LINE_POINTS, i
            tall += 1
        elif len(str(text)) < 20:
            assert height is None, i
            short += 1
    assert tall > 20 and short >= 3
    contents = wb["Contents"]
    heights = [contents.row_dimensions[r].height for r in range(4, contents.max_row + 1)]
    assert any(h and h >= 2 * LINE_POINTS for h in heights)
    assert wrapped_lines(pd.Series(["", "a" * 25, "x\ny", None]), 10).tolist() == [1, 3, 2, 1]
