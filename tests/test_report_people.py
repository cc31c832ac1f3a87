"""Filters, per team/agent/requester views and "not recorded" effort, in memory and streamed."""

from __future__ import annotations

import numpy as np
import openpyxl
import pandas as pd
import pytest
from lxml import html as lxml_html

from kenolib import config
from kenolib.aggregates_stream import Accumulator, accumulate_judged
from kenolib.classify import crossref
from kenolib.cli import main
from kenolib.errors import KenolibError
from kenolib.filters import TicketFilter, filter_frame
from kenolib.people import merge_people, people_part, repeat_requesters, teams_and_agents
from kenolib.report import write_reports
from kenolib.tickets import load_tickets

N = 600


@pytest.fixture(scope="module")
def zendesk(tmp_path_factory):
    """A Zendesk-layout history with teams, agents, requesters and time tracked."""
    df = pd.read_csv(config.SAMPLE_TICKETS, nrows=N)
    rng = np.random.default_rng(3)
    z = pd.DataFrame(
        {
            "Id": df["ticket_id"],
            "Subject": df["subject"],
            "Created at": df["created_at"].str[:16],
            "Solved at": "",
            "Product": df["product"],
            "Group": rng.choice(["Billing", "Hosting", "Email"], N),
            "Assignee": rng.choice(["Ann", "Sam", "Kim", ""], N),
            "Requester email": [f"c{int(i)}@example.com" for i in rng.zipf(1.7, N) % 60],
            "Full resolution time in minutes": 5000,
            "Total time spent (sec)": (df["agent_minutes"].fillna(0) * 60).astype(int),
        }
    )
    z.loc[3, "Requester email"] = '=HYPERLINK("http://x","<b>y</b>")'
    z.loc[[7, 8, 9], "Requester email"] = z.loc[3, "Requester email"]
    path = tmp_path_factory.mktemp("z") / "zendesk.csv"
    z.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def xref(zendesk, clauses):
    return crossref(load_tickets(zendesk), clauses)


def test_people_tables_equal_in_memory_and_streamed(xref):
    acc = Accumulator()
    for start in range(0, len(xref), 97):
        acc.add(xref.iloc[start : start + 97])
    whole = merge_people([people_part(xref)])
    pd.testing.assert_frame_equal(whole, acc.people(), check_dtype=False)
    for rate in (None, 45.0):
        pd.testing.assert_frame_equal(
            teams_and_agents(whole, rate), teams_and_agents(acc.people(), rate)
        )
        pd.testing.assert_frame_equal(
            repeat_requesters(whole, 3, rate), repeat_requesters(acc.people(), 3, rate)
        )
    teams = teams_and_agents(whole, 45.0)
    t = teams[teams["kind"] == "Team"].set_index("name")
    oos = xref["verdict"] == "not_supported"
    billing = xref["group"] == "Billing"
    assert t.loc["Billing", "tickets"] == billing.sum()
    assert t.loc["Billing", "out_of_scope"] == (billing & oos).sum()
    hours = xref.loc[billing & oos, "agent_minutes"].sum() / 60
    assert t.loc["Billing", "out_of_scope_hours"] == pytest.approx(hours, abs=0.01)
    assert "(not set)" in set(teams.loc[teams["kind"] == "Agent", "name"])
    req = repeat_requesters(whole, 3)
    assert (req["tickets"] >= 3).all()
    assert req["out_of_scope_hours"].is_monotonic_decreasing


def test_filters_equal_in_memory_and_streamed(xref, tmp_path):
    f = TicketFilter(products=("Managed WordPress", "vps_developer"), groups=("billing",))
    kept = filter_frame(xref, f)
    assert set(kept["product"]) <= {"managed_wordpress", "vps_developer"}
    assert set(kept["group"]) == {"Billing"}
    judged = tmp_path / "judged.parquet"
    xref.to_parquet(judged)
    acc = accumulate_judged(judged, ticket_filter=f, batch_rows=101)
    assert acc.rows == len(kept)
    pd.testing.assert_frame_equal(
        teams_and_agents(merge_people([people_part(kept)])), teams_and_agents(acc.people())
    )
    assert f.describe() == "Managed WordPress and Developer VPS only; team billing"
    # with the kept tickets, the team is spelled as the history spells it
    assert f.describe(kept) == "Managed WordPress and Developer VPS only; team Billing"
    with pytest.raises(
        KenolibError, match=r"--product 'Nope' matches no ticket; .*Managed WordPress"
    ):
        filter_frame(xref, TicketFilter(products=("Nope",)))
    with pytest.raises(KenolibError, match="--group 'Sales' matches no ticket; .*Billing"):
        accumulate_judged(judged, ticket_filter=TicketFilter(groups=("Sales",)))


def test_report_filters_scope_line_and_people_views(zendesk, tmp_path, capsys):
    out = tmp_path / "r"
    args = ["report", "--tickets", str(zendesk), "--out-dir", str(out), "--hourly-rate", "40"]
    assert main([*args, "--product", "managed_wordpress", "--group", "Billing"]) == 0
    wb = openpyxl.load_workbook(out / "kenotronix_support_report.xlsx")
    assert wb["Summary"]["A2"].value.endswith("— Managed WordPress only; team Billing")
    ws = wb["Teams & agents"]
    assert [c.value for c in ws[3]][:3] == ["Kind", "Name", "Tickets"]
    assert ws["A4"].value == "Team" and ws["B4"].value == "Billing"
    page = lxml_html.fromstring((out / "kenotronix_support_report.html").read_text("utf-8"))
    assert "Managed WordPress only; team Billing" in page.findtext(".//p[@class='period']")
    heads = [h.text_content() for h in page.iter("h2")]
    assert "Teams & agents" in heads and any(h.startswith("Repeat requesters") for h in heads)
    assert main([*args, "--group", "Nobody"]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error" in line]
    assert len(errors) == 1 and "--group 'Nobody' matches no ticket" in errors[0]
    assert "Billing" in errors[0]


def test_requester_identities_are_sanitised(zendesk, tmp_path):
    out = tmp_path / "r"
    assert main(["report", "--tickets", str(zendesk), "--out-dir", str(out)]) == 0
    wb = openpyxl.load_workbook(out / "kenotronix_support_report.xlsx")
    cells = [c for row in wb["Repeat requesters"].iter_rows() for c in row if c.value]
    evil = [c for c in cells if "HYPERLINK" in str(c.value)]
    assert evil and all(c.data_type == "s" for c in evil)  # text, never a formula
    text = (out / "kenotronix_support_report.html").read_text("utf-8")
    assert "<b>y</b>" not in text and "&lt;b&gt;y&lt;/b&gt;" in text


def test_people_views_say_when_the_export_lacks_them(tmp_path):
    write_reports(out_dir=tmp_path, progress=False)  # the bundled sample: no such columns
    wb = openpyxl.load_workbook(tmp_path / "kenotronix_support_report.xlsx")
    assert "has no team or agent column" in wb["Teams & agents"]["A2"].value
    assert "has no requester (customer) column" in wb["Repeat requesters"]["A2"].value
    text = (tmp_path / "kenotronix_support_report.html").read_text("utf-8")
    assert "has no team or agent column" in text


def test_effort_not_recorded_without_time_tracking(tmp_path):
    zendesk = config.PROJECT_DIR / "tests" / "fixtures" / "exports" / "zendesk.csv"
    write_reports(tickets=zendesk, out_dir=tmp_path, progress=False, hourly_rate=50)
    wb = openpyxl.load_workbook(tmp_path / "kenotronix_support_report.xlsx")
    summary = [r for r in wb["Summary"].iter_rows(values_only=True)]
    text = " ".join(str(v) for r in summary for v in r if v is not None)
    assert "Agent time is not recorded" in text
    figures = {r[0]: r[1] for r in summary if r[0]}
    assert figures["Agent hours on out-of-scope work"] == "not recorded"
    headers = [c.value for c in wb["Tickets by topic"][3]]
    assert "Agent hours" not in headers  # not a column of zeros
    html = (tmp_path / "kenotronix_support_report.html").read_text("utf-8")
    assert "Agent time is not recorded" in html


def test_crossref_summary_filter_keeps_every_row(zendesk, tmp_path, capsys):
    out = tmp_path / "j.parquet"
    assert (
        main(["crossref", str(zendesk), "--out", str(out), "--product", "Managed WordPress"]) == 0
    )
    printed = capsys.readouterr().out
    assert printed.startswith("Managed WordPress only:") and f"(all {N} tickets)" in printed
    assert len(pd.read_parquet(out)) == N
    assert {"group", "assignee", "requester"} <= set(pd.read_parquet(out).columns)
    assert (
        main(["crossref", str(zendesk), "--out", str(tmp_path / "k.parquet"), "--product", "x"])
        == 2
    )
