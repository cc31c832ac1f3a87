"""Ticket loaders: every export format, its pitfalls, and the one-row-per-input-row invariant."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest

from kenolib.errors import KenolibError
from kenolib.schemas import TICKET_COLUMNS, TICKET_PEOPLE_COLUMNS
from kenolib.tickets import detect_format, load_tickets, parse_dates, read_table
from tests.conftest import FIXTURES

EXPORTS = FIXTURES / "exports"

# file -> (format, number of data rows as counted by Python's csv module / the file itself)
CASES = {
    "zendesk.csv": "zendesk",
    "freshdesk.csv": "freshdesk",
    "jira.csv": "jira",
    "whmcs.csv": "whmcs",
    "generic.csv": "generic",
    "generic.xlsx": "generic",
    "generic.parquet": "generic",
}


def _csv_records(path, encoding="utf-8-sig", delimiter=","):
    with open(path, encoding=encoding, newline="") as fh:
        return list(csv.reader(fh, delimiter=delimiter))[1:]


def _expected_ids(name: str) -> list[str]:
    path = EXPORTS / name
    if name == "generic.parquet":
        return pd.read_parquet(path)["ticket_id"].tolist()
    if name == "generic.xlsx":
        return pd.read_excel(path, dtype=str)["ticket_id"].tolist()
    if name == "freshdesk.csv":
        return [r[0] for r in _csv_records(path, "cp1252", ";")]
    rows = _csv_records(path)
    col = {"zendesk.csv": 1, "jira.csv": 1, "whmcs.csv": 1, "generic.csv": 0}[name]
    return [r[col] for r in rows]


@pytest.mark.parametrize("name", sorted(CASES))
def test_one_row_per_input_row_in_order(name):
    df = load_tickets(EXPORTS / name)
    assert df.attrs["format"] == CASES[name]
    assert df["ticket_id"].tolist() == _expected_ids(name)
    assert list(df.columns[: len(TICKET_COLUMNS)]) == TICKET_COLUMNS
    assert df.index.equals(pd.RangeIndex(len(df)))


@pytest.mark.parametrize("name", sorted(CASES))
def test_explicit_format_matches_auto(name):
    auto = load_tickets(EXPORTS / name)
    explicit = load_tickets(EXPORTS / name, fmt=CASES[name])
    pd.testing.assert_frame_equal(auto, explicit)


def test_original_columns_kept_and_clashes_prefixed():
    df = load_tickets(EXPORTS / "generic.csv")
    # changed by normalising (parsed dates, numbers): the original text is kept beside
    assert "source_created_at" in df.columns and "source_agent_minutes" in df.columns
    assert df.loc[3, "source_created_at"] == "2025-01-05"
    # identical after normalising: not repeated
    assert "source_product" not in df.columns and "source_subject" not in df.columns
    z = load_tickets(EXPORTS / "zendesk.csv")
    for col in ("Summation column", "Id", "Requester email", "Group", "Subject"):
        assert col in z.columns
    w = load_tickets(EXPORTS / "whmcs.csv")
    assert "status" in w.columns and "source_status" not in w.columns  # same values


def test_zendesk_bom_subject_only_and_minutes():
    df = load_tickets(EXPORTS / "zendesk.csv")
    people = len(TICKET_COLUMNS) + len(TICKET_PEOPLE_COLUMNS)
    assert df.columns[people] == "Summation column"  # BOM stripped from header
    assert (df["body"] == "").all()
    # "Full resolution time in minutes" is elapsed time, never effort: no effort recorded
    assert df["agent_minutes"].isna().all()
    assert df.loc[0, "product"] == "Web Hosting"
    assert df.loc[2, "subject"] == '=HYPERLINK("http://x","y")'  # kept as text, never evaluated


def test_freshdesk_semicolon_cp1252_html():
    df = load_tickets(EXPORTS / "freshdesk.csv")
    assert any("cp1252" in w for w in df.attrs["warnings"])
    assert "recipient\u2019s junk folder" in df.loc[0, "body"]
    assert "<p>" not in df.loc[0, "body"] and "<p>" in df.loc[0, "Description"]
    assert "Comodo & need it" in df.loc[1, "body"]
    assert "caf\u00e9" in df.loc[1, "body"]
    assert df.loc[0, "agent_minutes"] == 90  # "01:30"
    assert df.loc[1, "created_at"] == pd.Timestamp("2025-04-02 10:30")


def test_jira_repeated_labels_multiline_and_dates():
    df = load_tickets(EXPORTS / "jira.csv")
    assert any("repeated header" in w and "Labels" in w for w in df.attrs["warnings"])
    assert df.loc[0, "tags"] == "backup,restore"
    assert df.loc[2, "tags"] == "plesk,extensions,ext"
    assert "restore yesterday's snapshot" in df.loc[0, "body"]
    assert df.loc[0, "body"].count("\n") >= 4
    assert df.loc[0, "created_at"] == pd.Timestamp("2026-02-25 22:17")
    assert df.loc[0, "agent_minutes"] == 60  # 3600 seconds


def test_whmcs_zero_dates_and_entities():
    df = load_tickets(EXPORTS / "whmcs.csv")
    assert pd.isna(df.loc[2, "created_at"])  # 0000-00-00 means "no date": not a bad date
    bad = [w for w in df.attrs["warnings"] if "not dates" in w]
    assert len(bad) == 1 and bad[0].startswith(str(EXPORTS / "whmcs.csv")) and "1 of 4" in bad[0]
    assert df.loc[0, "subject"] == "Site hacked & redirecting"
    assert 'didn\'t change anything "honest"' in df.loc[0, "body"]
    assert df.loc[0, "product"] == "Managed WordPress"


def test_unparseable_dates_kept_missing_and_counted():
    df = load_tickets(EXPORTS / "generic.csv")
    assert pd.isna(df.loc[2, "created_at"])
    assert len(df) == 5
    warnings = [w for w in df.attrs["warnings"] if "not dates" in w]
    assert warnings and "1 of 5" in warnings[0] and "'bad date'" in warnings[0]


def test_unknown_product_labels_counted():
    df = load_tickets(EXPORTS / "whmcs.csv")
    w = [m for m in df.attrs["warnings"] if "product label matching no product" in m]
    assert w and "'Colocation' ×1" in w[0] and "'Billing' ×1" in w[0]


def test_missing_required_column_names_it_and_lists_found(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("ticket_id,subject,body\n1,hello,world\n", encoding="utf-8")
    with pytest.raises(KenolibError) as exc:
        load_tickets(p, fmt="generic")
    msg = str(exc.value)
    assert "created_at" in msg and "columns found: ticket_id, subject, body" in msg
    assert str(p) in msg and "\n" not in msg


def test_missing_required_column_in_a_real_export(tmp_path):
    src = (EXPORTS / "jira.csv").read_text(encoding="utf-8")
    p = tmp_path / "jira.csv"
    p.write_text(src.replace("Summary,", "Title,", 1), encoding="utf-8")
    with pytest.raises(
        KenolibError, match=r"missing required column 'Summary'.*columns found: Title"
    ):
        load_tickets(p, fmt="jira")


def test_undetectable_format(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(KenolibError, match="--format"):
        load_tickets(p)


@pytest.mark.parametrize(
    "content, match",
    [(b"", "empty"), (b"\x00\x01\x02binary", "binary"), (b"   \n", "empty")],
)
def test_bad_files(tmp_path, content, match):
    p = tmp_path / "t.csv"
    p.write_bytes(content)
    with pytest.raises(KenolibError, match=match):
        load_tickets(p)


def test_missing_file_and_bad_extension(tmp_path):
    with pytest.raises(KenolibError, match="no such file"):
        load_tickets(tmp_path / "nope.csv")
    p = tmp_path / "t.json"
    p.write_text("{}", encoding="utf-8")
    with pytest.raises(KenolibError, match="extension"):
        read_table(p)


def test_header_only_file_gives_empty_frame(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("ticket_id,created_at,subject\n", encoding="utf-8")
    df = load_tickets(p)
    assert len(df) == 0 and list(df.columns[:3]) == TICKET_COLUMNS[:3]


def test_huge_cell_and_blank_rows_kept(tmp_path):
    p = tmp_path / "t.csv"
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["ticket_id", "created_at", "subject", "body"])
    w.writerow(["1", "2025-01-01", "big", "x" * 200_000])
    w.writerow(["", "", "", ""])
    w.writerow(["3", "2025-01-03", "last", "multi\nline\nbody"])
    p.write_text(buf.getvalue(), encoding="utf-8")
    df = load_tickets(p)
    assert len(df) == 3 and df["ticket_id"].tolist() == ["1", "", "3"]
    assert len(df.loc[0, "body"]) == 200_000


def test_detect_format_signatures():
    assert detect_format(["Issue key", "Summary", "Created", "Labels"]) == "jira"
    assert detect_format(["id", "tid", "did", "title", "message"]) == "whmcs"
    assert detect_format(["ticket id", "subject", "created time"]) == "freshdesk"
    assert detect_format(["foo"]) is None


def test_xlsx_blank_rows_inside_kept_trailing_ignored_with_warning(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["ticket_id", "created_at", "subject", "Labels", "Labels"])
    ws.append(["1", "2025-01-01", "=1+2", "a", "b"])
    ws.append([None, None, None, None, None])  # a blank row between tickets is a row
    ws.append(["3", "2025-01-03", "last", "", ""])
    ws.cell(row=8, column=1, value="")  # the sheet's dimension reaches row 8
    p = tmp_path / "t.xlsx"
    wb.save(p)
    df = load_tickets(p)
    assert df["ticket_id"].tolist() == ["1", "", "3"]
    assert df.loc[0, "subject"] == "=1+2"
    assert any("empty row(s) after the last ticket" in w for w in df.attrs["warnings"])
    assert any("repeated header" in w for w in df.attrs["warnings"])


@pytest.mark.parametrize(
    "dates",
    [
        pd.Series(
            pd.to_datetime(["2024-01-02 03:04:05.123", None, "2023-12-31 00:00:00.000"]), name="c"
        ),
        pd.Series(pd.to_datetime(["2024-03-31 02:30:00+02:00", None]).tz_convert("Asia/Tokyo")),
        pd.Series(
            ["1500-01-01", "2024-01-01T10:00:00.123456", "NaT", "9999-12-31"], dtype="M8[us]"
        ),
    ],
)
def test_datetime_columns_parse_as_their_text_does(dates):
    """A Parquet or xlsx column of dates skips the text round trip with the same result."""
    direct = parse_dates(dates, ["ISO8601"])
    via_text = parse_dates(dates.astype("string[pyarrow]"), ["ISO8601"])
    pd.testing.assert_series_equal(direct[0], via_text[0])
    assert direct[1:] == via_text[1:]
