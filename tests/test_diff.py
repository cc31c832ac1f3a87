"""Policy versions: each change reported once, nothing spurious; the CLI; the ticket impact."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from kenolib import schemas
from kenolib.cli import main
from kenolib.diff import (
    as_clauses,
    change_counts,
    clause_map,
    diff_policies,
    history_months,
    impact_figure,
    impact_from_crossrefs,
    impact_headline,
    impact_summary,
    match_clauses,
)
from kenolib.errors import KenolibError
from kenolib.impact import verdict_impact
from kenolib.policy import parse_policy, parse_policy_text

from .conftest import FIXTURES, SEED

POLICIES = FIXTURES / "policies"

# (product, topic, heading, change, old_status, new_status) expected against the seed
EXPECTED = {
    "a_backups_supported.txt": {
        (
            "shared_hosting",
            "backups",
            "DATA BACKUP",
            "status_changed",
            "not_supported",
            "supported",
        ),
    },
    "b_reworded.txt": {
        ("vps_dedicated", "security", "SECURITY", "text_changed", "supported", "supported"),
    },
    "c_added_removed.txt": {
        ("vps_dedicated", "security", "MALWARE CLEANUP", "added", None, "supported"),
        (
            "vps_developer",
            "server_administration",
            "USER ADMINISTRATION",
            "removed",
            "not_supported",
            None,
        ),
    },
    "d_cosmetic.txt": {
        ("managed_wordpress", "webmail", "WEBMAIL", "text_changed", "supported", "supported"),
    },
    "e_crlf_bom_quotes.txt": set(),
    "f_overview_flip.txt": {
        ("overview", "seo", "SEO settings", "status_changed", "not_supported", "supported"),
    },
}
EXPECTED["g_combined.txt"] = set().union(*(EXPECTED[k] for k in EXPECTED if k[0] in "abcdf"))


def _rows(diff: pd.DataFrame) -> list[tuple]:
    cols = ["product", "topic", "heading", "change", "old_status", "new_status"]
    return [
        tuple(None if pd.isna(v) else v for v in row)
        for row in diff[cols].itertuples(index=False, name=None)
    ]


@pytest.fixture(scope="module")
def seed_policy():
    return parse_policy(SEED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_change_reported_once_and_nothing_spurious(seed_policy, name):
    diff = diff_policies(seed_policy, parse_policy(POLICIES / name))
    rows = _rows(diff)
    assert len(rows) == len(set(rows)), "a change was reported twice"
    assert set(rows) == EXPECTED[name]
    assert list(diff.columns[:8]) == [
        "product",
        "topic",
        "heading",
        "change",
        "old_status",
        "new_status",
        "old_text",
        "new_text",
    ]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_clause_of_both_versions_appears_exactly_once(seed_policy, name):
    new = parse_policy(POLICIES / name)
    matched = match_clauses(seed_policy, new)
    old_ids = matched["old_clause_id"].dropna()
    new_ids = matched["new_clause_id"].dropna()
    assert sorted(old_ids) == sorted(seed_policy.clauses["clause_id"])
    assert sorted(new_ids) == sorted(new.clauses["clause_id"])


def test_identical_policies_give_an_empty_diff_with_the_columns(seed_policy):
    diff = diff_policies(seed_policy, seed_policy)
    assert diff.empty
    assert list(diff.columns) == schemas.DIFF_COLUMNS
    assert change_counts(diff) == {
        "added": 0,
        "removed": 0,
        "status_changed": 0,
        "text_changed": 0,
    }


def test_status_change_keeps_old_and_new_text_and_lines(seed_policy):
    diff = diff_policies(seed_policy, POLICIES / "a_backups_supported.txt")
    row = diff.iloc[0]
    assert row["old_text"].startswith("The customer is responsible for performing")
    assert row["new_text"].startswith("We take daily backups")
    assert row["old_clause_id"] == "shared_hosting.N03"
    assert row["new_clause_id"].startswith("shared_hosting.S")
    assert row["old_lines"] == "65-66"  # heading and body lines in the seed
    # the other direction is the mirror image
    back = diff_policies(POLICIES / "a_backups_supported.txt", seed_policy)
    assert _rows(back) == [
        ("shared_hosting", "backups", "DATA BACKUP", "status_changed", "supported", "not_supported")
    ]


def test_reworded_headings_are_reported_only_when_asked(seed_policy):
    diff = diff_policies(seed_policy, POLICIES / "d_cosmetic.txt", include_heading_changes=True)
    renamed = diff[diff["change"] == "heading_changed"]
    assert set(zip(renamed["old_heading"], renamed["new_heading"], strict=True)) == {
        ("SURVEILLANCE", "MONITORING OF YOUR OWN APPLICATIONS"),
        ("EQUIPMENT", "SERVER EQUIPMENT"),
    }
    assert (diff["change"] == "text_changed").sum() == 1


def test_threshold_decides_whether_a_heavy_rewording_is_one_change(seed_policy):
    strict = diff_policies(
        seed_policy, POLICIES / "d_cosmetic.txt", threshold=0.95, loose_threshold=0.95
    )
    assert sorted(strict["change"]) == ["added", "removed"]
    assert set(strict["topic"]) == {"webmail"}


def _edit(seed_text: str, old: str, new: str) -> str:
    assert seed_text.count(old) == 1, old
    return seed_text.replace(old, new)


def test_heading_under_both_statuses_is_not_confused(seed_text, seed_policy):
    # MYSQL is both a SUPPORTED and a NON SUPPORTED clause of shared hosting: reword the
    # supported one and move it to the top of its list; only that one is reported.
    mysql_s = "MYSQL\nWe will monitor and maintain the basic function of shared MySQL.\n"
    text = _edit(seed_text, mysql_s, "")
    text = _edit(
        text,
        "SHARED ACCOMMODATION\nSUPPORTED:\n",
        "SHARED ACCOMMODATION\nSUPPORTED:\nMYSQL\nWe monitor and maintain shared MySQL servers.\n",
    )
    diff = diff_policies(seed_policy, parse_policy_text(text))
    assert _rows(diff) == [
        ("shared_hosting", "databases", "MYSQL", "text_changed", "supported", "supported")
    ]
    assert diff.iloc[0]["old_clause_id"] == "shared_hosting.S09"


def test_heading_under_both_statuses_flipped_pairs_by_heading(seed_text, seed_policy):
    # the NON SUPPORTED SSL CERTIFICATES of VPS becomes supported: the supported one of the
    # same heading stays unchanged, the flipped one is one status change
    third = (
        "SSL CERTIFICATES\nInstallation and administration of third-party SSL certificates is "
        "the customer’s responsibility and is not supported by Kenotronix.\nAPPLICATION VARIETY"
    )
    text = _edit(seed_text, third, "APPLICATION VARIETY")
    text = _edit(
        text,
        "PERFORMANCE MONITORING\nKenotronix provides a performance monitoring tool in myaccount "
        "called “Server Status”.\nSECURITY",
        "PERFORMANCE MONITORING\nKenotronix provides a performance monitoring tool in myaccount "
        "called “Server Status”.\nSSL CERTIFICATES\nWe install third-party SSL certificates "
        "on request.\nSECURITY",
    )
    diff = diff_policies(seed_policy, parse_policy_text(text))
    assert _rows(diff) == [
        ("vps_dedicated", "ssl", "SSL CERTIFICATES", "status_changed", "not_supported", "supported")
    ]
    assert diff.iloc[0]["old_clause_id"] == "vps_dedicated.N12"


def test_a_clause_moved_to_another_product_is_removed_and_added(seed_text, seed_policy):
    clause = "DEFAULT THEME\nWe will take care of the presence, availability and operation of the default theme provided with our managed WordPress hosting product.\n"
    text = _edit(seed_text, clause, "")
    text = _edit(text, "VPS DEVELOPER\n* For all", "VPS DEVELOPER\n* For all")
    text = _edit(text, "SSH AVAILABILITY\n", clause + "SSH AVAILABILITY\n")
    diff = diff_policies(seed_policy, parse_policy_text(text))
    assert sorted(zip(diff["product"], diff["change"], strict=True)) == [
        ("managed_wordpress", "removed"),
        ("vps_developer", "added"),
    ]


def test_clause_tables_from_files_and_frames(tmp_path, seed_policy):
    new = parse_policy(POLICIES / "g_combined.txt")
    out = tmp_path / "new_clauses.csv"
    new.clauses.to_csv(out, index=False)
    reread = pd.read_csv(out)  # qualifier comes back as NaN where empty
    from_frame = diff_policies(seed_policy.clauses, reread)
    from_path = diff_policies(SEED, POLICIES / "g_combined.txt")
    assert _rows(from_frame) == _rows(from_path)
    assert len(from_path) == 6
    with pytest.raises(KenolibError, match="missing column"):
        as_clauses(reread.drop(columns=["heading"]))
    with pytest.raises(KenolibError, match="no such file"):
        diff_policies(SEED, tmp_path / "missing.txt")


def test_clause_map_follows_renumbered_clauses(seed_policy):
    matched = match_clauses(seed_policy, POLICIES / "c_added_removed.txt")
    ids = clause_map(matched)
    assert ids["vps_dedicated.S13"] == "vps_dedicated.S14"  # SECURITY, after MALWARE CLEANUP
    assert ids["vps_developer.N06"] == "vps_developer.N05"  # after USER ADMINISTRATION went
    assert "vps_developer.N05" not in ids  # the removed clause


# --- command line --------------------------------------------------------------------------


@pytest.mark.parametrize("ext", ["csv", "xlsx", "parquet"])
def test_cli_round_trip(tmp_path, ext, capsys):
    out = tmp_path / f"diff.{ext}"
    assert main(["diff", str(SEED), str(POLICIES / "g_combined.txt"), "--out", str(out)]) == 0
    reader = {"csv": pd.read_csv, "xlsx": pd.read_excel, "parquet": pd.read_parquet}[ext]
    df = reader(out)
    assert list(df.columns) == schemas.DIFF_COLUMNS
    assert df["change"].value_counts().to_dict() == {
        "status_changed": 2,
        "text_changed": 2,
        "added": 1,
        "removed": 1,
    }
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-1].startswith("6 changes (1 added, 1 removed, 2 status_changed")
    assert printed[-1].endswith(str(out))


def test_cli_identical_writes_an_empty_table(tmp_path, capsys):
    out = tmp_path / "d.csv"
    args = ["diff", str(SEED), str(POLICIES / "e_crlf_bom_quotes.txt"), "--out", str(out)]
    assert main(args) == 0
    df = pd.read_csv(out)
    assert df.empty and list(df.columns) == schemas.DIFF_COLUMNS
    assert capsys.readouterr().out.startswith("0 changes")


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kenolib.cli", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("content,needle", [(b"", "empty"), (b"just prose\n", "no policy")])
def test_cli_bad_policy_exits_2_with_one_line(tmp_path, content, needle):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(content)
    out = tmp_path / "d.csv"
    res = run_cli("diff", str(SEED), str(bad), "--out", str(out))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and str(bad) in lines[0]
    assert not out.exists()


def test_cli_refuses_to_overwrite_an_input_or_a_bad_extension(tmp_path, seed_text, capsys):
    new = tmp_path / "new.csv"
    new.write_text(seed_text, encoding="utf-8")
    assert main(["diff", str(SEED), str(new), "--out", str(new)]) == 2
    assert "overwrite the input" in capsys.readouterr().err
    assert new.read_text(encoding="utf-8") == seed_text
    assert main(["diff", str(SEED), str(SEED), "--out", str(tmp_path / "d.txt")]) == 2
    assert "unknown output extension" in capsys.readouterr().err
    assert (
        main(
            [
                "diff",
                str(SEED),
                str(SEED),
                "--out",
                str(tmp_path / "d.csv"),
                "--impact-out",
                str(tmp_path / "i.csv"),
            ]
        )
        == 2
    )
    assert "--tickets" in capsys.readouterr().err
    assert (
        main(
            ["diff", str(SEED), str(SEED), "--out", str(tmp_path / "d.csv"), "--format", "zendesk"]
        )
        == 2
    )
    assert "--format needs --tickets" in capsys.readouterr().err
    assert not (tmp_path / "d.csv").exists()


# --- impact, from precomputed cross-references (no dependency on the crossref module) -------


def _xref(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(
        rows,
        columns=[
            "ticket_id",
            "created_at",
            "product",
            "topic",
            "verdict",
            "clause_id",
            "agent_minutes",
        ],
    )


def test_impact_from_crossrefs_directions_hours_and_renumbered_clauses():
    old = _xref(
        [
            (
                "T1",
                "2026-01-05",
                "shared_hosting",
                "backups",
                "not_supported",
                "shared_hosting.N03",
                30,
            ),
            (
                "T2",
                "2026-01-20",
                "shared_hosting",
                "backups",
                "not_supported",
                "shared_hosting.N03",
                45,
            ),
            ("T3", "2026-02-02", "vps_dedicated", "ssl", "supported", "vps_dedicated.S11", 15),
            (
                "T4",
                "2026-02-10",
                "vps_dedicated",
                "backups",
                "not_supported",
                "vps_dedicated.N05",
                20,
            ),
            ("T5", "2026-03-01", "g_suite", "migrations", "silent", None, None),
            ("T6", "2026-03-03", "vps_developer", "security", "silent", None, 60),
        ]
    )
    new = old.copy()
    new["verdict"] = [
        "supported",
        "supported",
        "not_supported",
        "not_supported",
        "silent",
        "not_supported",
    ]
    new["clause_id"] = [
        "shared_hosting.S10",
        "shared_hosting.S10",
        "vps_dedicated.N12",
        "vps_dedicated.N04",  # renumbered only: the same clause
        None,
        "vps_developer.N02",
    ]
    ids = {"vps_dedicated.N05": "vps_dedicated.N04", "shared_hosting.N03": "shared_hosting.S10"}
    impact = impact_from_crossrefs(old, new, ids)
    assert list(impact.columns) == schemas.IMPACT_COLUMNS
    assert list(impact["ticket_id"]) == ["T1", "T2", "T3", "T6"]
    assert list(impact["direction"]) == ["into_scope", "into_scope", "out_of_scope", "other"]
    assert list(impact["month"]) == ["2026-01", "2026-01", "2026-02", "2026-03"]
    # without the clause map, the renumbered clause looks like a change
    assert "T4" in set(impact_from_crossrefs(old, new)["ticket_id"])

    summary = impact_summary(impact)
    into = summary[summary["direction"] == "into_scope"].iloc[0]
    assert (into["product"], into["month"], into["tickets"], into["agent_hours"]) == (
        "shared_hosting",
        "2026-01",
        2,
        1.25,
    )
    head = impact_headline(impact, months=3)
    row = head[head["direction"] == "into_scope"].iloc[0]
    assert row["tickets"] == 2 and row["tickets_per_month"] == pytest.approx(0.67)
    assert "tickets a month move into scope" in row["sentence"]


def test_impact_refuses_mismatched_crossrefs():
    old = _xref([("T1", "2026-01-05", "vps_dedicated", "ssl", "supported", "x", 1)])
    new = _xref([("T2", "2026-01-05", "vps_dedicated", "ssl", "supported", "x", 1)])
    with pytest.raises(KenolibError, match="same tickets"):
        impact_from_crossrefs(old, new)
    with pytest.raises(KenolibError, match="missing column"):
        impact_from_crossrefs(old.drop(columns=["verdict"]), new)


def test_impact_figure_has_one_bar_group_per_direction():
    old = _xref(
        [
            ("T1", "2026-01-05", "shared_hosting", "backups", "not_supported", "a", 30),
            ("T2", "2026-02-05", "shared_hosting", "backups", "not_supported", "a", 30),
            ("T3", "2026-02-09", "vps_dedicated", "ssl", "supported", "b", 10),
        ]
    )
    new = old.assign(verdict=["supported", "supported", "silent"], clause_id=["c", "c", None])
    fig = impact_figure(impact_summary(impact_from_crossrefs(old, new)))
    names = {trace.name.split(",")[0] for trace in fig.data}
    assert names == {"moves into scope (now supported)", "moves out of scope (no longer supported)"}
    # human labels from the data files, not ids
    assert any("Shared hosting / Backups" in trace.name for trace in fig.data)
    assert sorted(x for trace in fig.data for x in trace.x) == ["2026-01", "2026-02", "2026-02"]


# --- impact through the real cross-reference, on a hand-checked ticket set -----------------

IMPACT_TICKETS = FIXTURES / "impact_tickets.csv"


def test_verdict_impact_on_hand_checked_tickets(seed_policy):
    # Hand-checked: under a_backups_supported.txt only the six shared-hosting backup restore
    # requests (IMP-01..06: 30+45, 20+25, 40+60 agent minutes in Jan, Feb, Mar 2026) move into
    # scope; VPS, developer VPS and WordPress backups, and the shared-hosting email client, SSL,
    # webmail, MySQL and FTP client tickets keep their verdict and (renumbered) clause.
    from kenolib.tickets import load_tickets

    tickets = load_tickets(IMPACT_TICKETS)
    assert len(tickets) == 15
    new = parse_policy(POLICIES / "a_backups_supported.txt")
    impact = verdict_impact(tickets, seed_policy, new)
    assert list(impact["ticket_id"]) == [f"IMP-0{i}" for i in range(1, 7)]
    assert set(impact["direction"]) == {"into_scope"}
    assert set(impact["old_clause_id"]) == {"shared_hosting.N03"}
    # without following the renumbering, IMP-11 (N08 -> N07) and IMP-15 (N09 -> N08) would show
    from kenolib.crossref import crossref

    naive = impact_from_crossrefs(
        crossref(tickets, seed_policy.clauses), crossref(tickets, new.clauses)
    )
    assert set(naive["ticket_id"]) - set(impact["ticket_id"]) == {"IMP-11", "IMP-15"}
    assert impact["agent_minutes"].sum() == 220
    summary = impact_summary(impact)
    assert list(summary["month"]) == ["2026-01", "2026-02", "2026-03"]
    assert list(summary["tickets"]) == [2, 2, 2]
    assert list(summary["agent_hours"]) == [1.25, 0.75, 1.67]
    head = impact_headline(impact, history_months(tickets))
    assert len(head) == 1
    assert head.loc[0, "tickets_per_month"] == 2.0
    assert head.loc[0, "agent_hours"] == pytest.approx(3.67)
    assert head.loc[0, "sentence"].startswith(
        "shared hosting / backups: 2 tickets a month move into scope"
    )


def test_identical_policy_moves_no_ticket(seed_policy):
    from kenolib.tickets import load_tickets

    tickets = load_tickets(IMPACT_TICKETS)
    assert verdict_impact(tickets, seed_policy, POLICIES / "e_crlf_bom_quotes.txt").empty


def test_cli_impact_round_trip(tmp_path, capsys):
    out, imp = tmp_path / "diff.xlsx", tmp_path / "impact.csv"
    args = ["diff", str(SEED), str(POLICIES / "a_backups_supported.txt"), "--out", str(out)]
    args += ["--tickets", str(IMPACT_TICKETS), "--impact-out", str(imp)]
    assert main(args) == 0
    impact = pd.read_csv(imp)
    assert list(impact.columns) == schemas.IMPACT_COLUMNS
    assert len(impact) == 6 and impact["agent_minutes"].sum() == 220
    assert len(pd.read_excel(out)) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("6 of 15 tickets change verdict or clause (6 into scope")
    assert "3.7 agent hours" in lines[0]
    assert lines[-1].startswith("1 change (0 added, 0 removed, 1 status_changed")


def test_summaries_of_an_empty_impact_have_their_columns():
    old = _xref([("T1", "2026-01-05", "vps_dedicated", "ssl", "supported", "x", 1)])
    impact = impact_from_crossrefs(old, old.astype({"ticket_id": "string"}))
    assert impact.empty and list(impact.columns) == schemas.IMPACT_COLUMNS
    assert list(impact_summary(impact).columns) == schemas.IMPACT_SUMMARY_COLUMNS
    head = impact_headline(impact, months=12)
    assert head.empty and list(head.columns) == schemas.IMPACT_HEADLINE_COLUMNS


def test_policy_changes_section_frames_for_the_report():
    from kenolib.impact import policy_changes_section
    from kenolib.tickets import load_tickets

    only_diff = policy_changes_section(SEED, POLICIES / "f_overview_flip.txt")
    assert list(only_diff) == ["diff"] and len(only_diff["diff"]) == 1
    frames = policy_changes_section(
        SEED, POLICIES / "a_backups_supported.txt", load_tickets(IMPACT_TICKETS)
    )
    assert list(frames) == ["diff", "impact", "impact_summary", "impact_headline"]
    assert len(frames["impact"]) == 6
    assert frames["impact_summary"]["tickets"].sum() == 6
    assert frames["impact_headline"].loc[0, "months"] == 3  # Jan to Mar 2026


def test_a_section_spelling_missing_from_products_yaml_is_removed_and_added(seed_text, seed_policy):
    # a known limitation, stated in the README: the fix is one line in products.yaml
    new = parse_policy_text(_edit(seed_text, "VPS DEVELOPER\n", "CLOUD DEVELOPER SERVERS\n"))
    assert any("not in products.yaml" in w for w in new.warnings)
    diff = diff_policies(seed_policy, new)
    n_dev = (seed_policy.clauses["product"] == "vps_developer").sum()
    assert (diff["change"] == "removed").sum() == n_dev
    assert set(diff.loc[diff["change"] == "added", "product"]) == {"cloud_developer_servers"}


def test_impact_figure_shows_every_month_of_the_history():
    old = _xref(
        [
            ("T1", "2026-01-05", "shared_hosting", "backups", "not_supported", "a", 30),
            ("T2", "2026-04-05", "shared_hosting", "backups", "not_supported", "a", 30),
        ]
    )
    new = old.assign(verdict=["supported", "supported"], clause_id=["c", "c"])
    summary = impact_summary(impact_from_crossrefs(old, new))
    fig = impact_figure(summary)
    assert list(fig.layout.xaxis.categoryarray) == ["2026-01", "2026-02", "2026-03", "2026-04"]
    heights = {x: y for trace in fig.data for x, y in zip(trace.x, trace.y, strict=True)}
    assert heights["2026-02"] == 0 and heights["2026-03"] == 0  # empty months at zero
    history = pd.DataFrame({"created_at": pd.to_datetime(["2025-12-30", "2026-05-01"])})
    fig = impact_figure(summary, tickets=history)
    assert fig.layout.xaxis.categoryarray[0] == "2025-12"
    assert fig.layout.xaxis.categoryarray[-1] == "2026-05"
