"""The analyst's review loop: review workbook -> filled in through openpyxl -> learn -> crossref."""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import openpyxl
import pandas as pd
import pytest

from kenolib import feedback, review
from kenolib.classify import labels as L
from kenolib.cli import main
from kenolib.errors import KenolibError
from kenolib.policy import parse_policy
from kenolib.report import key_figures, policy_report_data
from kenolib.synth import synth_tickets
from kenolib.tickets import load_tickets
from tests.conftest import FIXTURES

HYPERLINK = '=HYPERLINK("http://evil.example","click")'
BACKUP_SUBJECT = "Please restore yesterday's backup of my site"


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> str:
    """40 synthetic tickets plus a formula-like subject and a shared-hosting backup request."""
    t = synth_tickets(40, seed=5)
    extra = pd.DataFrame(
        {
            "ticket_id": ["X-1", "X-2"],
            "created_at": pd.Timestamp("2025-05-01"),
            "product": ["Shared Hosting", "Shared Hosting"],
            "subject": [HYPERLINK, BACKUP_SUBJECT],
            "body": ["+1 -2 @SUM(A1)\n" + "long text " * 400, "I need the backup restored."],
            "agent_minutes": [5.0, 30.0],
        }
    )
    path = tmp_path_factory.mktemp("hist") / "history.csv"
    pd.concat([t, extra], ignore_index=True).to_csv(path, index=False)
    return str(path)


def _review(history: str, out, *extra: str) -> None:
    assert main(["review", history, "--out", str(out), "--n", "200", "--seed", "1", *extra]) == 0


def _fill(path, edits: dict[str, dict[str, str]], out=None) -> None:
    """Fill the Review sheet as an analyst would: ``{ticket_id: {column: value}}``."""
    wb = openpyxl.load_workbook(path)
    ws = wb[review.SHEET]
    header = [c.value for c in ws[1]]
    for row in ws.iter_rows(min_row=2):
        tid = row[header.index("ticket_id")].value
        for col, value in edits.get(tid, {}).items():
            row[header.index(col)].value = value
    wb.save(out or path)


def _rows(path) -> pd.DataFrame:
    return review.read_review_workbook(path).rows


def test_round_trip_review_learn_crossref(history, tmp_path, capsys):
    wb, labels, judged = tmp_path / "review.xlsx", tmp_path / "labels", tmp_path / "judged.csv"
    _review(history, wb)
    rows = _rows(wb)
    assert len(rows) == 42 and set(rows["sample_part"]) == {"stratified"}
    first = rows.iloc[0]
    wrong = next(v for v in ("supported", "not_supported") if v != first["verdict"])
    _fill(
        wb,
        {
            first["ticket_id"]: {"correct_verdict": wrong, "note": "checked", "reviewer": "ana"},
            "X-2": {"correct_topic": "backups"},
        },
    )
    assert main(["learn", str(wb), "--labels", str(labels)]) == 0
    out = capsys.readouterr().out
    assert "42 added" in out and "Verdicts checked on 42 tickets" in out
    assert (labels / "model.npz").exists() and (labels / "accuracy.json").exists()
    store = L.read_labels(labels)
    assert len(store) == 42 and not store["superseded"].any()
    assert list(store.columns[:8]) == [
        "ticket_id", "text_hash", "verdict", "topic", "note", "reviewer", "reviewed_at",
        "policy_sha256",
    ]  # fmt: skip
    assert main(["crossref", history, "--labels", str(labels), "--out", str(judged)]) == 0
    x = pd.read_csv(judged, dtype=str, keep_default_na=False)
    assert (x["decided_by"] == "analyst").all()
    assert x["confidence"].astype(float).eq(1.0).all()
    corrected = x.set_index("ticket_id").loc[first["ticket_id"]]
    assert corrected["verdict"] == wrong and corrected["evidence"] == "analyst label checked"
    status = parse_policy().clauses.set_index("clause_id")["status"]
    assert corrected["clause_id"] == "" or status[corrected["clause_id"]] == wrong
    backup = x.set_index("ticket_id").loc["X-2"]
    assert backup["topic"] == "backups" and backup["clause_id"] == "shared_hosting.N03"


def test_learning_twice_adds_nothing_and_a_new_correction_replaces(history, tmp_path, capsys):
    wb, labels = tmp_path / "review.xlsx", tmp_path / "labels"
    _review(history, wb)
    first = feedback.learn(wb, labels, retrain_model=False)
    again = feedback.learn(wb, labels, retrain_model=False)
    assert first.counts["added"] == 42
    assert again.counts == {"added": 0, "replaced": 0, "unchanged": 42}
    assert len(L.read_labels(labels)) == 42
    _fill(wb, {"X-2": {"correct_verdict": "silent", "reviewer": "bo"}}, tmp_path / "second.xlsx")
    third = feedback.learn(tmp_path / "second.xlsx", labels, retrain_model=False)
    assert third.counts == {"added": 0, "replaced": 1, "unchanged": 41}
    store = L.read_labels(labels)
    assert len(store) == 43 and int(store["superseded"].sum()) == 1
    cur = L.current_labels(store).set_index("ticket_id")
    assert len(cur) == 42 and cur.loc["X-2", "verdict"] == "silent"
    assert cur.loc["X-2", "clause_id"] == ""


@pytest.mark.parametrize(
    ("column", "value", "allowed"),
    [
        ("correct_verdict", "maybe", "supported, not_supported, silent"),
        ("correct_topic", "nope", "backups"),
    ],
)
def test_bad_value_is_one_line_naming_the_row(history, tmp_path, capsys, column, value, allowed):
    wb = tmp_path / "review.xlsx"
    _review(history, wb)
    _fill(wb, {"X-2": {column: value}})
    row = int(_rows(wb).set_index("ticket_id").loc["X-2", "sheet_row"])
    capsys.readouterr()
    assert main(["learn", str(wb), "--labels", str(tmp_path / "labels")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"sheet Review row {row}: {column} '{value}'" in err and allowed in err
    assert not (tmp_path / "labels" / "labels.csv").exists()


def test_ticket_text_stays_text_and_lists_are_validated(history, tmp_path):
    wb_path = tmp_path / "review.xlsx"
    _review(history, wb_path)
    wb = openpyxl.load_workbook(wb_path)
    ws = wb[review.SHEET]
    header = [c.value for c in ws[1]]
    row = next(r for r in ws.iter_rows(min_row=2) if r[0].value == "X-1")
    subject = row[header.index("subject")]
    assert subject.value == HYPERLINK and subject.data_type == "s"
    body = row[header.index("body_excerpt")]
    assert body.data_type == "s" and body.value.startswith("+1 -2 @SUM(A1)")
    assert body.value.endswith(review.CUT_MARKER) and len(body.value) < 1600
    assert ws.freeze_panes == "B2"
    assert ws.column_dimensions["E"].width == 70
    # prints as it reads: landscape, one page wide, the header on every page
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.fitToWidth == 1
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.print_title_rows == "$1:$1"
    formulas = {dv.formula1: str(dv.sqref) for dv in ws.data_validations.dataValidation}
    assert set(formulas) == {"'Lists'!$A$2:$A$4", "'Lists'!$B$2:$B$40"}
    assert all(ref.startswith(("K2:K", "L2:L")) for ref in formulas.values())
    lists = wb[review.LISTS_SHEET]
    assert lists.sheet_state == "hidden"
    assert [lists.cell(i, 1).value for i in (2, 3, 4)] == ["supported", "not_supported", "silent"]
    assert "backups" in [c.value for c in lists["B"]]
    assert "How to fill in" in wb.sheetnames
    assert wb[review.META_SHEET]["B1"].value == parse_policy().sha256
    store = tmp_path / "labels"
    feedback.learn(wb_path, store, retrain_model=False)
    raw = (store / "labels.csv").read_text(encoding="utf-8")
    assert "\"'" + HYPERLINK.replace('"', '""') + '"' in raw  # neutralised in the CSV ...
    assert HYPERLINK in L.read_labels(store)["subject"].tolist()  # ... and restored on reading


def test_stale_label_after_a_policy_change(history, tmp_path):
    wb, labels = tmp_path / "review.xlsx", tmp_path / "labels"
    _review(history, wb)
    _fill(wb, {"X-2": {"correct_topic": "backups"}})
    feedback.learn(wb, labels, retrain_model=False)
    tickets = load_tickets(history)
    new = parse_policy(FIXTURES / "policies" / "a_backups_supported.txt")
    x = feedback.crossref_with_labels(tickets, new, labels).set_index("ticket_id")
    assert x.loc["X-2", "label_stale"] and x.loc["X-2", "needs_review"]
    assert x.loc["X-2", "verdict"] == "supported" and x.loc["X-2", "topic"] == "backups"
    assert x.loc["X-2", "decided_by"] == "analyst"
    on_backups = L.read_labels(labels).query("clause_id == 'shared_hosting.N03'")["ticket_id"]
    assert set(x.index[x["label_stale"]]) == set(on_backups)  # the diff follows the others
    same = feedback.crossref_with_labels(tickets, parse_policy(), labels)
    assert not same["label_stale"].any()
    shutil.rmtree(labels / L.POLICIES_DIR)  # without the old policy: clause hashes decide
    x = feedback.crossref_with_labels(tickets, new, labels).set_index("ticket_id")
    assert x.loc["X-2", "label_stale"]


def test_labels_match_on_normalised_text_only():
    a, _ = L.text_hashes(pd.Series(["Hello  World", "x"]), pd.Series(["Body\r\ntext ", "y"]))
    b, chars = L.text_hashes(pd.Series(["hello world"]), pd.Series(["body text"]))
    assert a[0] == b[0] and a[1] != b[0] and chars[0] == len("hello world\nbody text")
    c, _ = L.text_hashes(pd.Series(["hello world", "zz"]), pd.Series(["body text", "q"]), [4])
    assert c.tolist() == ["", c[1]] and c[1] != ""


def test_wilson_interval_and_accuracy_in_the_report(tmp_path):
    assert L.wilson_interval(91, 100) == pytest.approx((0.83774, 0.95193), abs=1e-5)
    assert L.wilson_interval(0, 10) == pytest.approx((0.0, 0.27753), abs=1e-5)
    assert L.wilson_interval(0, 0) == (0.0, 1.0)
    reviewed = pd.DataFrame(
        {
            "sample_part": ["stratified"] * 200 + ["review"] * 10,
            "product": ["shared_hosting"] * 100 + ["g_suite"] * 100 + ["g_suite"] * 10,
            "judged_verdict": ["supported"] * 210,
            "verdict": ["supported"] * 182 + ["silent"] * 18 + ["silent"] * 10,
        }
    )
    acc = L.measured_accuracy(reviewed)
    assert acc["overall"]["tickets"] == 200 and acc["overall"]["right"] == 182
    assert acc["per_product"]["shared_hosting"]["accuracy"] == 1.0
    assert acc["per_product"]["g_suite"]["right"] == 82
    line = L.format_accuracy(acc)
    assert line.startswith("Verdicts checked on 200 tickets: 91 % ± 4 %")
    L.write_accuracy(acc, tmp_path)
    data = dataclasses.replace(
        policy_report_data(parse_policy()), checked_accuracy=L.load_accuracy(tmp_path)
    )
    figures = key_figures(data).set_index("figure")["value"]
    assert figures["Verdicts checked by an analyst"] == line


def test_sample_parts_and_proportional_strata():
    n = 1000
    rng = np.random.default_rng(0)
    xref = pd.DataFrame(
        {
            "product": rng.choice(["a", "b"], n, p=[0.8, 0.2]),
            "verdict": rng.choice(["supported", "not_supported"], n),
            "needs_review": rng.random(n) < 0.1,
            "confidence": rng.random(n),
            "decided_by": np.where(np.arange(n) < 5, "analyst", "signals"),
            "agent_minutes": np.arange(n, dtype=float),
        }
    )
    s = review.select_sample(xref, 200, seed=3)
    parts = s["sample_part"].value_counts()
    assert parts["review"] <= 100 and parts["costly"] == 20 and len(s) == 200
    assert (s["decided_by"] != "analyst").all()
    strat = s[s["sample_part"] == "stratified"]
    assert abs((strat["product"] == "a").mean() - (xref["product"] == "a").mean()) < 0.03
    costly = s[s["sample_part"] == "costly"]
    assert (costly["verdict"] == "not_supported").all() and costly["agent_minutes"].min() > 800
    assert review.select_sample(xref, 200, seed=3).equals(s)
    with pytest.raises(KenolibError):
        review.select_sample(xref, 0)


def test_labels_directory_must_exist(history, tmp_path, capsys):
    out = tmp_path / "x.csv"
    assert main(["crossref", history, "--labels", str(tmp_path / "nope"), "--out", str(out)]) == 2
    assert "run `kenolib learn` first" in capsys.readouterr().err
    assert not out.exists()
