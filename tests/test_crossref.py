"""Ticket cross-reference: verdict rules, invariants, aggregates, evaluation and the CLI."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import yaml

from kenolib import config
from kenolib import crossref as X
from kenolib.classify import confidence_model as CM
from kenolib.classify import judge as judge_module
from kenolib.classify.text import as_text
from kenolib.cli import main
from kenolib.errors import KenolibError
from kenolib.schemas import CROSSREF_COLUMNS, VERDICTS
from kenolib.synth import synth_tickets
from kenolib.tickets import load_tickets
from tests.conftest import FIXTURES, ROOT

EXPORTS = FIXTURES / "exports"
LABELLED = FIXTURES / "labelled"
EXPORT_FILES = [
    "zendesk.csv",
    "freshdesk.csv",
    "jira.csv",
    "whmcs.csv",
    "generic.csv",
    "generic.xlsx",
    "generic.parquet",
]


def _tickets(rows: list[dict]) -> pd.DataFrame:
    base = {"created_at": pd.Timestamp("2025-05-01"), "product": "", "body": ""}
    df = pd.DataFrame([{**base, "ticket_id": f"T{i}", **r} for i, r in enumerate(rows)])
    return df


def _signals_with(tmp_path, name: str, change) -> str:
    """A copy of the shipped signals file, ``change(data)`` applied, written as ``name`` (a new
    name per variant: the loader caches files by path)."""
    import copy

    from kenolib.files import read_yaml

    data = copy.deepcopy(read_yaml(config.TICKET_SIGNALS_FILE, "signals file"))
    change(data)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return str(path)


def _one(clauses, **row) -> pd.Series:
    return X.crossref(_tickets([row]), clauses).iloc[0]


def _rules_only(clauses, **row) -> pd.Series:
    """Judged by the rules alone (the learned component switched off)."""
    judge = dataclasses.replace(judge_module.compile_judge(clauses), model=None)
    return X.crossref(_tickets([row]), clauses, judge=judge).iloc[0]


@pytest.mark.parametrize("name", EXPORT_FILES)
def test_one_row_per_ticket_in_order_every_format(name, clauses):
    t = load_tickets(EXPORTS / name)
    x = X.crossref(t, clauses)
    assert len(x) == len(t)
    assert x["ticket_id"].tolist() == t["ticket_id"].tolist()
    assert list(x.columns[: len(CROSSREF_COLUMNS)]) == CROSSREF_COLUMNS
    originals = [c for c in t.columns if c not in ("ticket_id", "product")]
    for c in originals:
        assert c in x.columns
    assert (x["product_label"] == t["product"].fillna("")).all()
    assert set(x["verdict"]) <= VERDICTS


def test_cited_clause_is_the_policy_text(clauses):
    x = X.crossref(synth_tickets(3000, seed=5), clauses)
    cited = x[x["verdict"] != "silent"]
    table = clauses.set_index("clause_id")
    assert len(cited) > 2000
    assert (
        cited["clause_text"].to_numpy() == table.loc[cited["clause_id"], "text"].to_numpy()
    ).all()
    assert (cited["verdict"].to_numpy() == table.loc[cited["clause_id"], "status"].to_numpy()).all()
    assert (cited["clause_product"] == cited["clause_id"].str.split(".").str[0]).all()
    silent = x[x["verdict"] == "silent"]
    assert (
        len(silent) and (silent[["clause_id", "clause_heading", "clause_text"]] == "").all().all()
    )
    assert x["confidence"].between(0, 1).all()


def test_product_from_label_then_text_then_unknown(clauses):
    x = X.crossref(
        _tickets(
            [
                {"product": "Dev VPS", "subject": "please restore last night's backup"},
                {"product": "", "subject": "restore a backup on my dev vps please"},
                {"product": "Colocation", "subject": "restore a backup please"},
                {"product": "Billing", "subject": "backup restore for our google workspace"},
            ]
        ),
        clauses,
    )
    assert x["product"].tolist() == ["vps_developer", "vps_developer", "unknown", "g_suite"]
    assert x["product_source"].tolist() == ["label", "text", "none", "text"]
    assert x["topic"].tolist() == ["backups"] * 4
    assert x["clause_id"].tolist()[:3] == [
        "vps_developer.N07",
        "vps_developer.N07",
        "overview.N14",  # unknown product: the overview table only
    ]


def test_section_first_then_overview_then_silent(clauses):
    x = X.crossref(
        _tickets(
            [
                {"product": "WP", "subject": "restore yesterday's backup"},  # section S07
                {"product": "Web Hosting", "subject": "SEO advice, we dropped in google ranking"},
                {"product": "Web Hosting", "subject": "we need a GDPR data processing agreement"},
            ]
        ),
        clauses,
    )
    assert x["clause_id"].tolist() == ["managed_wordpress.S07", "overview.N08", ""]
    assert x["clause_product"].tolist() == ["managed_wordpress", "overview", ""]
    assert x["verdict"].tolist() == ["supported", "not_supported", "silent"]


def test_ssl_qualifier_from_text(clauses):
    ours = _one(
        clauses, product="Web Hosting", subject="install the SSL certificate I bought from you"
    )
    theirs = _one(
        clauses, product="Web Hosting", subject="install our Let's Encrypt certificate please"
    )
    assert (ours["qualifier"], ours["clause_id"]) == ("kenotronix", "shared_hosting.S07")
    assert (theirs["qualifier"], theirs["clause_id"]) == ("third_party", "shared_hosting.N10")
    # managed WordPress has no third-party SSL clause: the overview row decides
    wp = _one(clauses, product="WP", subject="install our Sectigo certificate")
    assert wp["clause_id"] == "overview.N05"


def test_colocation_hardware_is_silent(clauses):
    colo = _one(clauses, product="Colocation", subject="replace the failed disk in our server")
    ours = _one(clauses, product="VPS", subject="disk failure on the server, raid degraded")
    assert (colo["topic"], colo["verdict"]) == ("hardware", "silent")
    assert (ours["topic"], ours["clause_id"]) == ("hardware", "vps_dedicated.S02")


def test_quoted_reply_and_signature_do_not_decide(clauses):
    body = (
        "Since this morning nobody can open the website, all pages give 503.\n\n"
        "Thanks\nJo\nSent from my iPhone\n\n"
        "On Tue, 3 Jan 2025, Kenotronix Support wrote:\n"
        "> Your SSL certificate, backup restore and DNS zone are fine.\n"
        "> restore backup ssl certificate dns"
    )
    t = _one(clauses, product="Web Hosting", subject="Re: help", body=body)
    assert t["topic"] == "service_availability"
    assert "ssl" not in t["evidence"] and "backup" not in t["evidence"]


def test_subject_weighs_more_than_body(clauses):
    t = _one(
        clauses,
        product="Web Hosting",
        subject="Invoice charged twice",
        body="I also saw the site was slow once.",
    )
    assert t["topic"] == "account_billing"


def test_no_signal_is_unmapped_and_silent(clauses):
    t = _one(clauses, subject='=HYPERLINK("http://x","y")', body="")
    assert (t["topic"], t["verdict"], t["clause_id"]) == ("unmapped", "silent", "")
    stored = X.load_calibration()
    # a ticket nothing matched gets the calibration's "unmapped" figure, never more than the
    # least sure bin of matched tickets, and always needs review
    assert t["confidence"] == stored["unmapped"] <= min(stored["accuracy"])
    assert t["needs_review"]


def test_batches_give_the_same_result(clauses, monkeypatch):
    t = synth_tickets(2500, seed=9)
    whole = X.crossref(t, clauses)
    monkeypatch.setattr(judge_module, "BATCH_ROWS", 400)
    done = []
    parts = X.crossref(t, clauses, progress=done.append)
    pd.testing.assert_frame_equal(whole, parts)
    assert sum(done) == len(t) and len(done) == 7


def test_empty_and_missing_columns(clauses):
    empty = _tickets([{"subject": "x"}]).iloc[:0]
    x = X.crossref(empty, clauses)
    assert len(x) == 0 and list(x.columns[: len(CROSSREF_COLUMNS)]) == CROSSREF_COLUMNS
    with pytest.raises(KenolibError, match="subject"):
        X.crossref(pd.DataFrame({"ticket_id": ["1"]}), clauses)


def test_rerun_keeps_earlier_crossref_columns(clauses):
    first = X.crossref(_tickets([{"product": "WP", "subject": "restore my backup"}]), clauses)
    again = X.crossref(
        first.drop(columns="product").rename(columns={"product_label": "product"}), clauses
    )
    assert len(again) == 1
    assert again.loc[0, "source_verdict"] == first.loc[0, "verdict"]
    assert again.loc[0, "source_clause_id"] == "managed_wordpress.S07"
    assert again.loc[0, "clause_id"] == "managed_wordpress.S07"


def test_evidence_words_come_from_the_ticket(clauses):
    x = X.crossref(synth_tickets(500, seed=2), clauses)
    text = (x["subject"] + " " + x["body"]).str.lower().str.replace("'", " ")
    mapped = x[x["topic"] != "unmapped"]
    assert (mapped["evidence"] != "").all()
    for ev, tx in zip(mapped["evidence"].head(100), text[mapped.index].head(100), strict=True):
        for signal in ev.removeprefix("model: ").replace(", model: ", ", ").split(", "):
            # a model's term or an unknown product's name is a word of the ticket too
            assert signal.removesuffix(" (unknown product)").split()[0].lower() in tx


# -- aggregates ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def xref():
    from kenolib.policy import parse_policy

    return X.crossref(synth_tickets(4000, seed=11), parse_policy().clauses)


def test_verdict_by_product(xref):
    v = X.verdict_by_product(xref)
    assert v["tickets"].sum() == len(xref)
    assert (v[["supported", "not_supported", "silent"]].sum(axis=1) == v["tickets"]).all()
    assert v["product"].iloc[0] == "shared_hosting" and v["product"].iloc[-1] == "unknown"


def test_monthly_out_of_scope(xref):
    m = X.monthly_out_of_scope(xref)
    assert m["tickets"].sum() == len(xref)
    assert m["out_of_scope"].sum() == (xref["verdict"] == "not_supported").sum()
    assert m["share"].between(0, 1).all()
    assert m["month"].nunique() >= 24


def test_out_of_scope_hours_and_cost(xref):
    h = X.out_of_scope_hours(xref, hourly_rate=50)
    oos = xref[xref["verdict"] == "not_supported"]
    assert h["tickets"].sum() == len(oos)
    assert h["agent_hours"].sum() == pytest.approx(oos["agent_minutes"].fillna(0).sum() / 60, abs=1)
    assert (h["cost"] == (h["agent_hours"] * 50).round(2)).all()
    assert "cost" not in X.out_of_scope_hours(xref).columns
    with pytest.raises(KenolibError):
        X.out_of_scope_hours(xref, hourly_rate=-1)


def test_silent_topics_ranked_with_examples(xref):
    s = X.silent_topics(xref, examples=2)
    assert s["tickets"].is_monotonic_decreasing
    assert s["tickets"].sum() == (xref["verdict"] == "silent").sum()
    assert {"migrations", "email_deliverability", "refunds_cancellations"} <= set(s["topic"])
    first = s.iloc[0]
    ids = first["example_ticket_ids"].split("; ")
    assert len(ids) == 2
    assert set(xref.set_index("ticket_id").loc[ids, "topic"]) == {first["topic"]}


def test_aggregates_on_empty_and_minimal_frames(clauses):
    x = X.crossref(
        pd.DataFrame({"ticket_id": ["1", "2"], "subject": ["restore backup", "gdpr dpa"]}), clauses
    )
    m = X.monthly_out_of_scope(x)  # no created_at column: one NaT month, nothing dropped
    assert m["tickets"].sum() == 2
    for frame in (x, x.iloc[:0]):
        assert X.verdict_by_product(frame)["tickets"].sum() == len(frame)
        assert X.tickets_by_topic(frame)["tickets"].sum() == len(frame)
        assert X.silent_topics(frame)["tickets"].sum() == (frame["verdict"] == "silent").sum()
        assert (
            X.out_of_scope_hours(frame, 10)["tickets"].sum()
            == (frame["verdict"] == "not_supported").sum()
        )
        assert len(X.low_confidence(frame)) <= len(frame)


def test_tickets_by_topic_and_low_confidence(xref):
    t = X.tickets_by_topic(xref)
    assert t["tickets"].sum() == len(xref)
    low = X.low_confidence(xref, threshold=0.9)
    assert (low["confidence"] < 0.9).all() and low["confidence"].is_monotonic_increasing
    assert len(low) == (xref["confidence"] < 0.9).sum()


# -- evaluation -----------------------------------------------------------------------------


def test_dev_set_accuracy(clauses):
    ev = X.evaluate(load_tickets(LABELLED / "labelled_dev.csv"), clauses)
    assert ev.n >= 100
    # measured 100 % on every figure (tuned on this set); one miss of 124 is tolerated
    assert ev.verdict_accuracy >= 0.99
    assert ev.topic_accuracy >= 0.99
    assert ev.clause_accuracy >= 0.99
    assert ev.confusion.to_numpy().sum() == ev.n
    text = X.format_evaluation(ev)
    assert "verdict accuracy" in text and "confusion" in text


def test_holdout_set_floor(clauses):
    """The first held-aside set, now the CALIBRATION set: the signals are never tuned on it
    (no ticket of it is read); ``kenolib calibrate`` fits the confidence table on it.
    Measured 86.9 % verdicts / 88.1 % topics / 84.5 % clauses before the generalisation work,
    92.9 / 92.9 / 89.3 % after; 90.5 / 94.0 / 90.5 % with the model's cheap part (one staff
    training request that names billing and Excel read as billing); 90.5 / 91.7 / 88.1 % once
    the model chooses the verdict its topics give most probability in sum (two tickets moved to
    another refusing topic: the verdicts stay right, their clauses do not). The floors sit at
    the measured figures minus one ticket."""
    ev = X.evaluate(load_tickets(LABELLED / "labelled_holdout.csv"), clauses)
    assert ev.n >= 80
    assert ev.verdict_accuracy >= 0.89
    assert ev.topic_accuracy >= 0.90
    assert ev.clause_accuracy >= 0.869


def test_second_holdout_floor(clauses):
    """The second held-aside set (``labelled_holdout2.csv``), written by a different author after
    the first was used for calibration. Nobody who tuned the classifier has read it; it was
    evaluated once, with ``--mistakes 0``: 94.4 % verdicts, 91.1 % topics, 90.3 % clauses
    (before the generalisation work: 89.5 / 85.5 / 84.7 %). The floors guard against regressions
    and sit one ticket below the measured figures; never tune on this file."""
    ev = X.evaluate(load_tickets(LABELLED / "labelled_holdout2.csv"), clauses)
    assert ev.n >= 120
    assert ev.verdict_accuracy >= 0.935
    assert ev.topic_accuracy >= 0.90
    assert ev.clause_accuracy >= 0.895


def test_extra_training_tickets(clauses):
    """Hand-written extra tickets (T-xxxx), nine batches, each measured before any rule was
    changed for it (verdicts 95.5, 83.3, 100, 90.0, 90.0, 90.0, 90.0, 95.0, 75.0 %), then
    tuned on: 99.0 % verdicts, topics and clauses on all 302."""
    t = load_tickets(LABELLED / "labelled_train_extra.csv")
    assert len(t) >= 300 and t["ticket_id"].str.fullmatch(r"T-\d{4}").all()
    assert t["ticket_id"].is_unique
    ev = X.evaluate(t, clauses)
    assert ev.verdict_accuracy >= 0.97
    assert ev.topic_accuracy >= 0.97
    assert ev.clause_accuracy >= 0.97
    assert ev.product_accuracy >= 0.99


def test_extra_training_labels_follow_rule_4(clauses):
    """Every extra ticket's verdict and cited clause agree with the clause table."""
    t = pd.read_csv(LABELLED / "labelled_train_extra.csv", dtype=str, keep_default_na=False)
    status = clauses.set_index("clause_id")["status"]
    cited = t[t["expected_clause_id"] != ""]
    assert (cited["expected_clause_id"].map(status) == cited["expected_verdict"]).all()
    assert (t.loc[t["expected_clause_id"] == "", "expected_verdict"] == "silent").all()
    assert set(t["expected_topic"]) <= set(X.load_taxonomy().topic_ids())


def test_evaluate_counts_mistakes_and_rejects_bad_labels(clauses):
    t = _tickets(
        [
            {"product": "Web Hosting", "subject": "restore my backup"},
            {"product": "Web Hosting", "subject": "restore my backup"},
        ]
    )
    t["expected_topic"] = ["backups", "dns"]
    t["expected_verdict"] = ["not_supported", "supported"]
    t["expected_clause_id"] = ["shared_hosting.N03", "shared_hosting.S01"]
    ev = X.evaluate(t, clauses)
    assert ev.verdict_accuracy == 0.5 and ev.topic_accuracy == 0.5 and ev.clause_accuracy == 0.5
    assert ev.confusion.loc["supported", "not_supported"] == 1
    assert ev.mistakes["ticket_id"].tolist() == ["T1"]
    t["expected_verdict"] = ["maybe", "supported"]
    with pytest.raises(KenolibError, match="expected_verdict"):
        X.evaluate(t, clauses)
    with pytest.raises(KenolibError, match="expected_verdict"):
        X.evaluate(t.drop(columns="expected_verdict"), clauses)
    # a real-question set may carry only the verdict and the clause: topics are not scored
    t["expected_verdict"] = ["not_supported", "supported"]
    ev = X.evaluate(t.drop(columns="expected_topic"), clauses)
    assert ev.topic_accuracy is None and ev.verdict_accuracy == 0.5 and ev.clause_accuracy == 0.5
    assert "topic accuracy:   n/a" in X.format_evaluation(ev)


def test_equivalent_clauses_accepted(clauses):
    t = _tickets([{"product": "Billing", "subject": "invoice question, charged twice"}])
    t["expected_topic"] = ["account_billing"]
    t["expected_verdict"] = ["supported"]
    t["expected_clause_id"] = ["overview.S01"]  # S14 is the more specific, equivalent row
    ev = X.evaluate(t, clauses)
    assert ev.clause_accuracy == 1.0


def test_calibration_table(clauses):
    cal = X.calibrate_confidence(load_tickets(LABELLED / "labelled_dev.csv"), clauses)
    assert cal["tickets"].sum() >= 100
    assert cal["accuracy"].between(0, 1).all()


def test_fit_calibration_is_monotone_and_round_trips(clauses, tmp_path):
    t = load_tickets(LABELLED / "labelled_train_extra.csv")
    table, unmapped = X.fit_calibration(t, clauses)
    assert table["tickets"].sum() == len(t)
    assert table["upper_edge"].is_monotonic_increasing and table["upper_edge"].iloc[-1] > 1
    assert table["accuracy"].is_monotonic_increasing
    assert table["accuracy"].between(0, 1).all() and 0 < unmapped <= table["accuracy"].min()
    # each bin's centre lies inside the bin, so the centres increase with the edges
    lower = [0.0, *table["upper_edge"].tolist()[:-1]]
    assert (table["centre"] >= lower).all() and (table["centre"] <= table["upper_edge"]).all()
    assert table["centre"].is_monotonic_increasing
    out = X.write_calibration(table, unmapped, tmp_path / "cal.yaml", "extra.csv", len(t))
    import yaml

    doc = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert doc["edges"] == table["upper_edge"].tolist()
    assert doc["centres"] == table["centre"].tolist()
    assert doc["accuracy"] == table["accuracy"].tolist() and doc["tickets"] == len(t)


def test_leave_rounds_out_judges_rounds_with_a_model_that_never_saw_them(clauses, monkeypatch):
    """``leave_rounds_out`` (``benchmarks/leave_rounds_out.py``) fits on every training ticket but
    the named rounds' parts and scores exactly those rounds' held-out parts."""
    from kenolib.classify import training as TR

    small = [
        config.LABELLED_DIR / "labelled_dev.csv",
        config.REAL_QUESTIONS_DIR / "real58_dev.csv",
        config.REAL_QUESTIONS_DIR / "real59_dev.csv",
        config.REAL_QUESTIONS_DIR / "real59_holdout.csv",
    ]
    full_load, full_fit, seen = TR.load_training, TR.fit_model, []
    monkeypatch.setattr(TR, "load_training", lambda paths=small: full_load(paths))

    def spy(labelled, clauses, **kw):
        seen.append(set(labelled["_set"]))
        return full_fit(labelled, clauses, **kw)

    monkeypatch.setattr(TR, "fit_model", spy)
    table = TR.leave_rounds_out([59], clauses)
    assert seen == [{"labelled_dev.csv", "real58_dev.csv"}]
    holdout = load_tickets(config.REAL_QUESTIONS_DIR / "real59_holdout.csv")
    assert table["round"].tolist() == ["59", "all"]
    assert table["n"].tolist() == [len(holdout), len(holdout)]
    assert 0 < table["clauses"].iloc[0] <= len(holdout)
    assert 0 < table["verdicts"].iloc[0] <= len(holdout)
    assert (
        table.iloc[1][["verdicts", "clauses"]].tolist()
        == table.iloc[0][["verdicts", "clauses"]].tolist()
    )


def test_leave_rounds_out_refuses_rounds_never_collected(clauses, tmp_path):
    """A round with no held-out part is named in one line, before any model is fitted, and the
    script exits non-zero without a traceback."""
    from kenolib.classify import training as TR

    with pytest.raises(KenolibError, match="real999_holdout.csv"):
        TR.leave_rounds_out([999], clauses)
    with pytest.raises(KenolibError, match="no held-out part"):
        TR.leave_rounds_out([], clauses)
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "leave_rounds_out.py"), "999", "999"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.strip().count("\n") == 0 and "real999_holdout.csv" in run.stderr


def test_stored_calibration_is_fitted_on_the_calibration_set(clauses):
    """The shipped table is a fresh fit (``kenolib calibrate``) on the calibration set pooled with
    the evaluated held-out real questions, each judged by a model that never saw it, and
    crossref uses it."""
    from kenolib.classify import training as TR

    stored = X.load_calibration()
    assert "labelled_holdout.csv" in stored["fitted_on"]
    assert TR.CALIBRATION_SET not in TR.TRAINING_SETS
    assert set(TR.CALIBRATION_REAL_SETS) <= set(TR.TRAINING_SETS)
    assert all(p.name in stored["fitted_on"] for p in TR.CALIBRATION_REAL_SETS)
    models = TR.pool_models(clauses)
    pool, training = models.tickets, TR.load_training()
    assert len(pool) == sum(len(TR.load_training([p])) for p in TR.CALIBRATION_REAL_SETS)
    # the folds are whole collection rounds
    assert (pool.groupby(models.rounds)["_set"].nunique() == 1).all()
    assert (pd.Series(models.fold).groupby(models.rounds).nunique() == 1).all()
    training_round = training["_set"].map(TR.round_of).to_numpy()
    for f, size in enumerate(models.trained_on):
        # fold f's model learnt every training ticket except those of fold f's rounds (their
        # held-out questions and their development parts)
        held = np.unique(models.rounds[models.fold == f])
        assert size == len(training) - int(np.isin(training_round, held).sum())
        assert models.models[f].meta["tickets"] == str(size)
    table, unmapped, fitted = TR.fit_confidence(TR.calibration_frame(clauses, models=models))
    assert stored["edges"] == table["upper_edge"].tolist()
    assert stored["accuracy"] == table["accuracy"].tolist()
    assert stored["centres"] == table["centre"].tolist() and stored["unmapped"] == unmapped
    assert stored["decider_scales"] == fitted["decider_scales"]
    assert stored["verdict_scales"] == fitted["verdict_scales"]
    assert stored["agreement_scales"] == fitted["agreement_scales"]
    assert all(
        0 < v <= 1 for v in [*fitted["decider_scales"].values(), *fitted["verdict_scales"].values()]
    )
    agreement = stored["agreement_scales"]
    # the surest agreement bin shrinks the error, the least sure ones grow it
    assert agreement["scales"][-1] < 1 < agreement["scales"][0]
    # the confidence model: a fresh fit on the chain's confidences, its offset on the ledger
    chained = TR.calibration_frame(clauses, models=models, chain_only=True)
    ledger = CM.load_ledger()
    refit = CM.to_doc(CM.fit_confidence_model(chained, ledger), "x", len(ledger))
    kept = stored["confidence_model"]
    assert str(len(ledger)) in kept["offset_fitted_on"]
    assert {k: v for k, v in kept.items() if k != "offset_fitted_on"} == {
        k: v for k, v in refit.items() if k != "offset_fitted_on"
    }
    cmodel = CM.from_doc(kept)
    assert cmodel is not None and cmodel.offset < 0  # fresh questions are harder than the pool's
    for name, (_, values) in cmodel.numeric.items():
        assert (np.diff(values) >= -1e-9).all(), name  # surer traits never lower it

    tickets = synth_tickets(300, seed=4)
    x = X.crossref(tickets, clauses)
    j = judge_module.compile_judge(clauses)
    text = (as_text(tickets["subject"]), as_text(tickets["body"]), tickets["product"])
    res, _ = judge_module.judge_columns(*text, j)
    # the chain's confidence: the same judge without its confidence model
    chain_res, _ = judge_module.judge_columns(*text, dataclasses.replace(j, confidence_model=None))
    chain = pd.Series(chain_res["confidence"])
    # the chain: every confidence is the margin's point on the line through the bins' centres,
    # times the scale of the step that moved the ticket; the error of a rule-decided verdict
    # scaled by its model-agreement bin; then the scale of a silent verdict (colocation's apart)
    line = np.interp(x["verdict_margin"], stored["centres"], stored["accuracy"])
    step = x["decided_by"].map(stored["decider_scales"]).fillna(1.0)
    ruled = x["decided_by"].isin(agreement["steps"])
    assert x["model_agreement"].between(0, 1).all() and ruled.mean() > 0.5
    silent = (x["verdict"] == "silent") & ~x["decided_by"].isin(["colocation", "no_signal"])

    def expected(agree: pd.Series) -> np.ndarray:
        bins = np.searchsorted(agreement["edges"], agree, side="right")
        conf = line * step
        conf = np.where(ruled, 1 - (1 - conf) * np.array(agreement["scales"])[bins], conf)
        conf = conf * np.where(silent, stored["verdict_scales"]["silent"], 1.0)
        return np.where(x["topic"] == "unmapped", stored["unmapped"], conf)

    # the agreement is rounded to three places: one that rounds onto an edge may be either side
    near = [np.isclose(chain, expected(x["model_agreement"] + d), atol=1e-3) for d in (-5e-4, 5e-4)]
    assert (near[0] | near[1]).all()
    assert silent.any() and (x["decided_by"] == "signals").any()
    # then the confidence model reads the chain's confidence with the verdict's traits
    traits = CM.judged_traits(
        chain_res["confidence"],
        res["verdict_margin"],
        res["agreement"],
        res["margin"],
        res["decided_by"],
        CM.frame_traits(x)["verdict"],
    )
    final = np.where(x["topic"] == "unmapped", stored["unmapped"], cmodel.confidence(traits))
    assert np.allclose(x["confidence"], np.round(final, 3), atol=1e-9)
    assert x["confidence"].max() < 1 and x["confidence"].nunique() > 20
    assert (x["needs_review"] == (x["confidence"] < stored["review_below"])).all()


def test_quoted_replies_in_other_languages_and_signatures_cut(clauses):
    body = (
        "le site ne fonctionne plus, erreur 503 sur toutes les pages.\n\n"
        "Cordialement,\nSophie\nsauvegarde restaurer certificat ssl\n\n"
        "Le lun. 3 mars 2025 à 10:02, Support Kenotronix a écrit :\n"
        "restore backup ssl certificate dns zone"
    )
    t = _one(clauses, product="Web Hosting", subject="problème", body=body)
    assert t["topic"] == "service_availability"
    es = _one(
        clauses,
        product="Web Hosting",
        subject="help",
        body="my page is not loading since yesterday\n\nEnviado desde mi iPhone",
    )
    assert es["topic"] == "service_availability" and "iphone" not in es["evidence"]


def test_quote_cut_groups_are_non_capturing_and_cut_the_same():
    """RE2 replaces without tracking groups when none capture; the cut must not change."""
    import re

    import pyarrow as pa
    import pyarrow.compute as pc

    from kenolib.classify.text import non_capturing, quote_cut_pattern

    assert non_capturing(r"(a|b)\(c\)[(]x[]()](d)[^]()](e)") == (
        r"(?:a|b)\(c\)[(]x[]()](?:d)[^]()](?:e)"
    )
    assert non_capturing(r"(?i)(a(?:b)(c))\\(d)") == r"(?i)(?:a(?:b)(?:c))\\(?:d)"
    data = {"quote_markers": [r"from: [^\n]*\n(sent|to|date):", r"(-){2,}"]}
    pattern = quote_cut_pattern(data)
    assert re.compile(pattern).groups == 0
    capturing = r"(?ism)^[ \t]*(?:from: [^\n]*\n(sent|to|date):|(-){2,}).*"
    texts = pa.array(
        ["hi\nFrom: a\nSent: b\nold", "x\n--\nsig", "keep (this)\n- one", "From: a\nCc: b"]
    )
    cut = pc.replace_substring_regex(texts, pattern, "")
    assert cut.equals(pc.replace_substring_regex(texts, capturing, ""))
    assert cut.to_pylist() == ["hi\n", "x\n", "keep (this)\n- one", "From: a\nCc: b"]


def test_reply_subject_names_the_old_thread(clauses):
    body = "New problem today: the MySQL database refuses all connections on every site."
    re_ = _one(clauses, product="Web Hosting", subject="Re: DNS zone issue", body=body)
    new = _rules_only(clauses, product="Web Hosting", subject="DNS zone issue", body=body)
    assert (re_["topic"], re_["clause_id"]) == ("databases", "shared_hosting.S09")
    assert new["topic"] == "dns"  # the same words in a new subject still decide the rules


def test_longer_qualifier_cue_wins(clauses):
    ours = _one(clauses, product="Web Hosting", subject="install ssl", body="bought from you")
    theirs = _one(clauses, product="Web Hosting", subject="install ssl", body="bought from ssls")
    assert (ours["qualifier"], ours["clause_id"]) == ("kenotronix", "shared_hosting.S07")
    assert (theirs["qualifier"], theirs["clause_id"]) == ("third_party", "shared_hosting.N10")


def test_wordpress_is_the_customers_application_on_shared_hosting(clauses):
    """The rules' reading. The model's cheap part (signal_model.py) moves this made-up shared
    ticket to a slow service (supported) at a probability near 0.5; a threshold of 0.55 would
    keep it, but five-fold on real questions 0.35 scored best (pool verdicts 81.7 against 81.2 %
    with the part up to a margin of 0.9), so the shipped classifier is not held to this ticket."""
    body = "the wp-admin dashboard of the wordpress I installed is slow"
    shared = _rules_only(clauses, product="Web Hosting", subject="wp admin slow", body=body)
    managed = _one(clauses, product="Managed WordPress", subject="wp admin slow", body=body)
    assert (shared["topic"], shared["verdict"]) == ("customer_scripts", "not_supported")
    assert managed["topic"] in {"wordpress_core", "service_availability"}
    assert managed["verdict"] == "supported"


def test_symptom_yields_to_the_broken_thing(clauses):
    db = _one(
        clauses,
        product="Managed WordPress",
        subject="site is down",
        body="The site shows 'Error establishing a database connection' since an hour.",
    )
    plain = _one(clauses, product="Managed WordPress", subject="site is down", body="help!")
    assert (db["topic"], db["clause_id"]) == ("databases", "overview.S11")
    assert (plain["topic"], plain["verdict"]) == ("service_availability", "supported")


def test_two_word_phrase_across_another_signal_word(clauses):
    t = _one(
        clauses,
        product="VPS",
        subject="question",
        body="please install the imunify extension on our server",
    )
    assert t["topic"] == "control_panel_extensions"
    assert "install extension" in t["evidence"]


def test_typographic_quotes_and_cjk_letters_are_no_part_of_a_word(clauses):
    """“Plesk” in curly quotes is the word plesk, and "SSHで入れません" (Japanese written without
    spaces) holds the word ssh: the same verdict and evidence as the plain ASCII ticket, while
    accented letters stay inside their word."""
    from kenolib.classify.text import separate_scripts, words_of

    quoted = _one(clauses, product="Web Hosting", subject="“Plesk” login fails", body="help…")
    plain = _one(clauses, product="Web Hosting", subject="Plesk login fails", body="help")
    assert (quoted["topic"], quoted["evidence"]) == (plain["topic"], plain["evidence"])
    assert "plesk" in quoted["evidence"].split(", ")
    cjk = _one(
        clauses,
        product="Developer VPS",
        subject="SSHで入れません",
        body="本日申し込んだDeveloper VPSにSSHで入ろうとすると、接続が固まってしまいます。",
    )
    assert (cjk["topic"], cjk["verdict"], cjk["decided_by"]) == (
        "service_availability",
        "supported",
        "signals",
    )
    assert words_of("«Café» — SSHで入る\u00a0now") == ["café", "ssh", "で入る", "now"]
    out = separate_scripts(pa.array(["plain ascii", "x\u00a0y", None]))
    assert out.to_pylist() == ["plain ascii", "x y", None]


def test_owner_words_keep_whose_thing_it_is(clauses, tmp_path):
    """A phrase whose other words are stopwords keeps them when they are owner words ("my
    script", "i installed": the customer's; "your server": ours); "is down" is still no phrase
    of "down"; an ownership phrase that could never match is refused, naming it."""
    from kenolib.classify import rules as R
    from kenolib.classify.signals import OWNERS, _ownership_signals, _Pairs, build_signals
    from kenolib.classify.text import as_text

    acc = _Pairs(["my", "is", "it", "i"], ["my", "i"])
    assert acc.add("my script", "own:customer", 3.0) and acc.add("i installed", "own:customer", 3.0)
    assert not acc.add("is down", "topic:service_availability", 2.0)
    assert ("my", "script") in acc.pairs and ("down",) not in acc.pairs
    # a qualifier or ownership cue keeps its owner words wherever they stand
    assert acc.add("your cache plugin", "qual:x:bundled", 2.0, whose=True)
    assert acc.add("cleared my cache plugin", "topic:caching", 2.0)
    assert ("your", "cache", "plugin") in acc.pairs and ("cleared", "cache", "plugin") in acc.pairs
    own = {o: [] for o in OWNERS} | {"weight": 3.0, "third_party": ["snipe it"]}
    dead = _Pairs(["it"])
    _ownership_signals(dead, own)
    # noted with its place; build_signals refuses every noted phrase (tested in
    # test_signal_phrase_that_can_never_match_is_refused)
    assert dead.dead == ["ownership.yaml: third_party: 'snipe it'"]
    # an owner word must be a stopword (else it would do nothing)
    bad = _signals_with(tmp_path, "mine.yaml", lambda d: d.update(owner_words=["mine"]))
    with pytest.raises(KenolibError, match="owner_words: 'mine' is not a stopword"):
        build_signals(clauses, path=bad)
    # the shipped lexicon's pronoun cues are live
    j = judge_module.compile_judge(clauses)
    subjects = ["my script stopped", "your server is broken", "i installed nextcloud", "help"]
    t = _tickets([{"subject": s, "body": "", "product": "Web Hosting"} for s in subjects])
    h, prod, *_ = judge_module.rule_scores(
        as_text(t["subject"]), as_text(t["body"]), t["product"], j
    )
    platform, customer = R.owner_scores(h, j.cm, prod)[:, :2].T
    assert (customer > 0).tolist() == [True, False, True, False]
    assert (platform > 0).tolist() == [False, True, False, False]


# -- command line ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", EXPORT_FILES)
def test_cli_crossref_every_format(name, tmp_path, capsys):
    out = tmp_path / "x.parquet"
    assert main(["crossref", str(EXPORTS / name), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip().splitlines()[-1] == f"wrote {out}"
    back = pd.read_parquet(out)
    assert back["ticket_id"].tolist() == load_tickets(EXPORTS / name)["ticket_id"].tolist()
    if name in ("generic.csv", "zendesk.csv", "jira.csv", "whmcs.csv"):
        assert "kenolib: warning:" in captured.err and "not dates" in captured.err


def test_cli_crossref_csv_and_xlsx_neutralise_formulas(tmp_path):
    out = tmp_path / "x.csv"
    assert main(["crossref", str(EXPORTS / "zendesk.csv"), "--out", str(out)]) == 0
    back = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert back.loc[2, "subject"].startswith("'=HYPERLINK")
    out = tmp_path / "x.xlsx"
    assert main(["crossref", str(EXPORTS / "generic.csv"), "--out", str(out)]) == 0
    from openpyxl import load_workbook

    ws = load_workbook(out, read_only=True).worksheets[0]
    cells = [c for row in ws.iter_rows(values_only=True) for c in row]
    assert '=HYPERLINK("http://x","y")' in cells  # stored as text, not a formula


def test_cli_crossref_xlsx_row_limit(tmp_path, monkeypatch, capsys):
    import kenolib.files as files

    monkeypatch.setattr(files, "EXCEL_MAX_ROWS", 3)
    out = tmp_path / "x.xlsx"
    assert main(["crossref", str(EXPORTS / "generic.csv"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith("kenolib: error:") and "parquet" in last and not out.exists()


def test_cli_crossref_errors(tmp_path, capsys):
    p = tmp_path / "t.csv"
    p.write_text("ticket_id,subject\n1,x\n", encoding="utf-8")
    assert main(["crossref", str(p), "--format", "generic", "--out", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kenolib: error:") and "created_at" in err and "columns found" in err
    assert main(["crossref", str(p), "--out", str(p)]) == 2  # never overwrite the input
    assert p.read_text(encoding="utf-8").startswith("ticket_id")


def test_cli_synth_reproducible(tmp_path, capsys):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert main(["synth", "--n", "300", "--seed", "4", "--out", str(a)]) == 0
    assert main(["synth", "--n", "300", "--seed", "4", "--out", str(b)]) == 0
    assert a.read_bytes() == b.read_bytes()
    assert capsys.readouterr().out.strip().splitlines()[-1].endswith(str(b))
    assert len(load_tickets(a)) == 300


def test_cli_evaluate(capsys):
    assert main(["evaluate", str(LABELLED / "labelled_dev.csv"), "--mistakes", "3"]) == 0
    out = capsys.readouterr().out
    assert "verdict accuracy" in out and "per verdict" in out


def test_cli_evaluate_without_mistakes_shows_no_ticket(capsys):
    """``--mistakes 0`` prints figures only: how the calibration set is reported."""
    path = LABELLED / "labelled_train_extra.csv"
    assert main(["evaluate", str(path), "--mistakes", "0"]) == 0
    out = capsys.readouterr().out
    assert "verdict accuracy" in out and "mistakes" not in out and "T-0" not in out


def test_sample_tickets_bundled_and_reproducible():
    from kenolib import config

    sample = load_tickets(config.SAMPLE_TICKETS)
    assert len(sample) == 3000
    fresh = synth_tickets(3000, seed=7)
    assert sample["ticket_id"].tolist() == fresh["ticket_id"].tolist()
    assert sample["subject"].tolist() == fresh["subject"].tolist()


def test_benchmark_script_runs_tiny(tmp_path):
    r = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_crossref.py"),
            "--sizes",
            "2000",
            "--no-dask",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert "tickets/s" in r.stdout and "peak memory" in r.stdout
    assert np.isfinite(float(r.stdout.split("tickets/s")[0].split()[-1].replace(",", "")))


def test_model_chooses_the_verdict_its_topics_give_most_probability(clauses):
    """Two refusing topics at 0.3 each outweigh one supported topic at 0.4: the model takes
    the refusing verdict, then its likelier topic, and the gap is between the verdicts."""
    from types import SimpleNamespace

    from kenolib.classify.model_step import choose
    from kenolib.classify.verdicts import VERDICT_CODES

    j = judge_module.compile_judge(clauses)
    vt = j.vt
    p_ = vt.products.index("shared_hosting")
    code = vt.verdict_code[p_]
    ok = vt.topic_allowed[p_]
    sup = [t for i, t in enumerate(vt.topics) if ok[i] and code[i] == VERDICT_CODES["supported"]]
    ref = [
        t for i, t in enumerate(vt.topics) if ok[i] and code[i] == VERDICT_CODES["not_supported"]
    ]
    model = SimpleNamespace(topics=[sup[0], ref[0], ref[1], sup[1]])
    p = np.array([[0.4, 0.29, 0.31, 0.0], [0.7, 0.1, 0.2, 0.0]])
    rules_topic = np.full(2, vt.topics.index(sup[1]))
    take, new, gap, best, most = choose(vt, model, np.full(2, p_), rules_topic, p, np.ones(2), 0.35)
    assert take.tolist() == [True, True]
    assert [vt.topics[t] for t in new] == [ref[1], sup[0]]
    assert best.tolist() == [2, 0]
    assert np.allclose(gap, [0.6 - 0.4, 0.7 - 0.3])
    assert np.allclose(most, [0.6, 0.7])
    # under the threshold, or on the rules' own topic, nothing moves
    low = choose(vt, model, np.full(2, p_), rules_topic, p * 0.4, np.ones(2), 0.35)
    assert not low.take.any()
    same = np.array([vt.topics.index(ref[1]), vt.topics.index(sup[0])])
    assert not choose(vt, model, np.full(2, p_), same, p, np.ones(2), 0.35).take.any()


def test_stored_model_is_a_fresh_fit_and_decides_only_unsure_tickets(clauses):
    """The shipped model (``kenolib train``) is what the training sets give today, and it only
    weighs in where the rules' margin is under the signals file's ``model.below_margin``."""
    from kenolib.classify import model as M
    from kenolib.classify import training as TR

    stored = M.load_model()
    assert stored is not None
    fresh = TR.fit_model(TR.load_training(), clauses)
    assert stored.terms == fresh.terms and stored.topics == fresh.topics
    np.testing.assert_allclose(stored.coef, fresh.coef, atol=1e-3)
    np.testing.assert_allclose(stored.emb_coef, fresh.emb_coef, atol=1e-3)
    assert stored.emb_coef.shape == (len(stored.topics), stored.word_vectors.vectors.shape[1])
    assert stored.emb_scale == fresh.emb_scale > 0
    x = X.crossref(synth_tickets(2000, seed=5), clauses)
    by_model = x["decided_by"] == "model"
    below = judge_module.compile_judge(clauses).model_below
    assert by_model.any() and (x.loc[by_model, "topic_margin"] <= 1.0).all()
    assert set(x["decided_by"]) <= set(judge_module.R.DECIDERS)
    assert x["needs_review"].dtype == bool
    assert below > 0


def test_model_terms_keep_who_owns_and_what_is_asked():
    """The model's vocabulary keeps the pronouns and ask words the rules' stopwords drop, so
    "your server" and "our app", "can you" and "not working" reach it as terms; articles do not."""
    from kenolib.classify.model import TERM_STOPWORDS, choose_terms

    texts = [
        "can you check your server, our app is not working",
        "can you restart your server? our app is not working since monday",
        "the app and the server",
    ]
    terms = set(choose_terms(texts))
    assert {"your server", "our app", "can you", "not working", "your", "our"} <= terms
    assert not terms & {"the", "and", "is"} and "the" in TERM_STOPWORDS
    assert "app" in terms and "app server" not in terms  # a term needs two texts


def test_ownership_rule_sends_named_tools_to_their_owner(clauses):
    """A platform topic yields to the owner of the thing named: a third-party tool of the suite
    admin, the customer's own app on a server, an unknown product name."""
    gam = _rules_only(
        clauses,
        product="Google Workspace",
        subject="gam create user fails",
        body="Running gam create user with our service account returns an error since Monday.",
    )
    assert (gam["topic"], gam["verdict"], gam["decided_by"]) == (
        "third_party_saas",
        "not_supported",
        "ownership",
    )
    assert "gam" in gam["evidence"]
    unknown = _rules_only(
        clauses,
        product="Office 365",
        subject="Quorvex sync error",
        body="The Quorvex sync tool cannot sign in to our mailboxes, admin says the login works"
        " elsewhere.",
    )
    assert unknown["verdict"] == "not_supported"
    assert "Quorvex (unknown product)" in unknown["evidence"]
    # a bare capitalised word (a surname, a phone's OS) is not taken for a product
    person = _rules_only(
        clauses,
        product="Office 365",
        subject="cannot sign in to our mailboxes",
        body="Since Monday Halvorsen cannot sign in to our mailboxes on his GrapheneOS phone.",
    )
    assert "(unknown product)" not in person["evidence"]
    ours = _rules_only(
        clauses,
        product="Office 365",
        subject="admin center: cannot add a user",
        body="In the admin center the add user button gives an error.",
    )
    assert (ours["topic"], ours["verdict"]) == ("suite_admin", "supported")


def test_suite_tickets_never_judged_on_hosting_rows(clauses):
    """Product first: generic hosting words in a suite ticket keep it in the suite's scope."""
    t = _rules_only(
        clauses,
        product="G Suite",
        subject="panel error",
        body="The panel shows a server error when I open the user list, setup was fine before.",
    )
    assert t["clause_product"] in ("g_suite", "overview")
    assert t["topic"] not in ("control_panel", "server_administration", "databases")


def test_confidence_rests_on_the_verdict_margin(clauses):
    """Two close topics that give the same verdict leave the verdict sure; a close topic that
    would change it does not. The confidence is calibrated from that verdict margin."""
    from kenolib.classify import rules as R

    j = judge_module.compile_judge(clauses)
    vt = j.vt
    T = len(vt.topics)
    g = vt.products.index("g_suite")
    t = {name: vt.topics.index(name) for name in ("suite_admin", "suite_incidents")}
    t["third_party_saas"] = vt.topics.index("third_party_saas")
    code = vt.verdict_code[g]
    assert code[t["suite_admin"]] == code[t["suite_incidents"]] != code[t["third_party_saas"]]
    scores = np.zeros((3, T))
    scores[0, [t["suite_admin"], t["suite_incidents"]]] = [3.0, 2.8]  # same verdict, close
    scores[1, [t["suite_admin"], t["third_party_saas"]]] = [3.0, 2.8]  # other verdict, close
    scores[2, t["suite_admin"]] = 3.0  # alone
    prod = np.full(3, g)
    verdict = np.full(3, code[t["suite_admin"]])
    topic = np.full(3, t["suite_admin"])
    vm = R.verdict_margin(scores, prod, topic, verdict, vt)
    _, topic_margin, _ = R.pick_topic(scores)
    assert topic_margin[0] == pytest.approx(0.05) and vm[0] == pytest.approx(0.75)
    assert vm[1] == pytest.approx(0.05) and vm[2] == pytest.approx(0.75)
    # a verdict no scored topic gives is not sure at all
    other = np.full(3, code[t["third_party_saas"]])
    unscored = np.full(3, vt.topics.index("training"))
    assert R.verdict_margin(scores, prod, unscored, other, vt)[0] == 0.0
    x = X.crossref(load_tickets(FIXTURES / "labelled" / "labelled_dev.csv"), clauses)
    assert (x["verdict_margin"] >= 0).all() and (x["verdict_margin"] <= 1).all()
    rules = ~x["decided_by"].isin(["model", "ownership"])
    # the chosen topic always counts for its verdict: never less sure than the topic margin
    assert (x.loc[rules, "verdict_margin"] >= x.loc[rules, "topic_margin"] - 1e-4).all()


def test_top_topic_is_pick_topics_topic():
    """The signal and symptom readings use the cheaper top_topic: the same topic on any scores,
    unmapped (the last column) where nothing scored."""
    from kenolib.classify import rules as R

    rng = np.random.default_rng(3)
    scores = np.where(rng.random((500, 9)) < 0.2, rng.random((500, 9)) * 4, 0.0)
    scores[:8] = 0.0
    scores[7, [2, 5]] = 1.5  # a tie keeps the first, as argmax does
    assert (R.top_topic(scores) == R.pick_topic(scores)[0]).all()
    assert (R.top_topic(scores)[:7] == 8).all() and R.top_topic(scores)[7] == 2


def test_signal_phrase_that_can_never_match_is_refused(clauses, tmp_path):
    """Nothing listed is dropped unseen: a phrase that is one word of another meaning without
    its stopwords ("in plesk", "is down") is refused naming its place; a taxonomy synonym like
    that must be listed under exclude_taxonomy_synonyms."""
    from kenolib.classify.signals import build_signals

    def in_plesk(d):
        d["topics"]["control_panel"]["words"].append("in plesk")

    bad = _signals_with(tmp_path, "in_plesk.yaml", in_plesk)
    with pytest.raises(KenolibError, match="topics: control_panel: words: 'in plesk' can never"):
        build_signals(clauses, path=bad)
    bad = _signals_with(
        tmp_path, "a_record.yaml", lambda d: d["exclude_taxonomy_synonyms"].remove("a record")
    )
    with pytest.raises(KenolibError, match="taxonomy.yaml: dns: synonyms: 'a record'.*exclude_tax"):
        build_signals(clauses, path=bad)


def test_bare_yaml_boolean_in_a_word_list_is_refused(clauses, tmp_path):
    """YAML reads a bare ``on`` as true: in a word list it is refused, naming the key, and the
    message says to quote it (the stopword "on" had silently been "True")."""
    from kenolib.classify.signals import build_signals

    text = config.TICKET_SIGNALS_FILE.read_text(encoding="utf-8")
    bad = tmp_path / "signals.yaml"
    bad.write_text(
        text.replace("stopwords: [a, an,", "stopwords: [on, a, an,", 1), encoding="utf-8"
    )
    with pytest.raises(KenolibError, match=r"stopwords.*got True.*quote it \('on'\)"):
        build_signals(clauses, path=str(bad))
