"""The loaders keep team, agent and customer columns, and read effort only from time tracked."""

from __future__ import annotations

import pandas as pd
import pytest

from kenolib.errors import KenolibError
from kenolib.schemas import TICKET_COLUMNS, TICKET_PEOPLE_COLUMNS
from kenolib.tickets import load_tickets
from tests.conftest import ROOT

EXPORTS = ROOT / "tests" / "fixtures" / "exports"


def _people(df: pd.DataFrame) -> list[list[str]]:
    return df[TICKET_PEOPLE_COLUMNS].astype(str).values.tolist()


def test_zendesk_group_assignee_requester():
    df = load_tickets(EXPORTS / "zendesk.csv")
    n = len(TICKET_COLUMNS)
    assert list(df.columns[n : n + 3]) == TICKET_PEOPLE_COLUMNS
    assert _people(df)[0] == ["Web Hosting", "Sam", "ana@example.com"]
    assert df.loc[2, "group"] == ""  # blank Group stays blank
    assert "Group" in df.columns and "Requester" in df.columns  # originals kept


def test_freshdesk_group_agent_and_contact():
    df = load_tickets(EXPORTS / "freshdesk.csv")
    assert df.loc[0, "group"] == "Mail" and df.loc[0, "assignee"] == "Ann"
    assert "requester" not in df.columns  # this export has no contact column


def test_jira_team_assignee_reporter(tmp_path):
    df = load_tickets(EXPORTS / "jira_people.csv")
    assert _people(df) == [
        ["Billing", "Alex Agent", "cust@example.com"],
        ["Platform", "", "=cmd|x"],  # kept as given; writers neutralise it
    ]
    assert df.loc[0, "agent_minutes"] == 30  # Time Spent in seconds


def test_whmcs_department_and_requester():
    df = load_tickets(EXPORTS / "whmcs.csv")
    assert df.loc[0, "group"] == "Managed WordPress"  # department name first, not the did
    assert df.loc[0, "requester"] == "pat@example.com"
    assert "assignee" not in df.columns
    assert df["agent_minutes"].isna().all()  # tbltickets records no agent time


def test_whmcs_guest_and_client_requesters(tmp_path):
    p = tmp_path / "w.csv"
    p.write_text(
        "id,tid,did,userid,email,title,message,date,department\n"
        "1,10,2,7,,A,x,2024-01-01 10:00:00,Sales\n"
        "2,11,2,0,guest@example.com,B,y,2024-01-02 10:00:00,Sales\n",
        encoding="utf-8",
    )
    df = load_tickets(p)
    assert df["requester"].tolist() == ["7", "guest@example.com"]


def test_generic_people_columns_not_repeated(tmp_path):
    p = tmp_path / "g.csv"
    p.write_text(
        "ticket_id,created_at,subject,group,assignee,requester\n1,2025-01-01,a, Billing ,Ann,c1\n",
        encoding="utf-8",
    )
    df = load_tickets(p)
    assert df.loc[0, "group"] == "Billing"
    assert list(df.columns).count("group") == 1 and "source_group" in df.columns  # trimmed
    assert "source_assignee" not in df.columns  # identical: not repeated


def test_effort_column_option(tmp_path):
    df = load_tickets(EXPORTS / "zendesk.csv", effort=("Agent wait time in minutes", "minutes"))
    assert df.loc[0, "agent_minutes"] == 12  # the user's choice, in the unit given
    df = load_tickets(EXPORTS / "freshdesk.csv", effort=("Resolution time (in hrs)", "hours"))
    assert df.loc[0, "agent_minutes"] == 120
    with pytest.raises(KenolibError, match="--effort-column 'Nope' is not a column"):
        load_tickets(EXPORTS / "zendesk.csv", effort=("Nope", "minutes"))
    with pytest.raises(KenolibError, match="--effort-unit 'days'"):
        load_tickets(EXPORTS / "zendesk.csv", effort=("Id", "days"))


def test_zendesk_time_tracking_field(tmp_path):
    p = tmp_path / "z.csv"
    p.write_text(
        "Id,Subject,Created at,Solved at,Full resolution time in minutes,Total time spent (sec)\n"
        "1,a,2025-01-01 10:00,,900,600\n",
        encoding="utf-8",
    )
    assert load_tickets(p).loc[0, "agent_minutes"] == 10
