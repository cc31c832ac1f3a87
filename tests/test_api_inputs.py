"""Public library functions validate their arguments at the boundary: a wrong type raises
KenolibTypeError (a TypeError), an unusable value KenolibValueError (a ValueError); both are
KenolibError and name the function and the argument."""

from __future__ import annotations

import pandas as pd
import pytest

from kenolib import coverage, crossref, diff, export, files, impact, policy, report, synth, taxonomy
from kenolib import tickets as T
from kenolib.errors import KenolibError, KenolibTypeError, KenolibValueError
from kenolib.schemas import (
    CLAUSE_COLUMNS,
    CROSSREF_COLUMNS,
    check_crossref_args,
    check_evaluate_args,
)

WRONG = {
    "None": None,
    "int": 42,
    "dict": {"a": 1},
    "empty frame": pd.DataFrame(),
    "frame lacking columns": pd.DataFrame({"x": [1]}),
}


def _calls(clauses: pd.DataFrame, tmp: str) -> dict:
    return {
        "load_tickets": lambda a: T.load_tickets(a),
        "normalise_tickets": lambda a: T.normalise_tickets(a, "generic", "x"),
        "parse_dates": lambda a: T.parse_dates(a, ["ISO8601"]),
        "parse_minutes": lambda a: T.parse_minutes(a, "minutes"),
        "html_to_text": lambda a: T.html_to_text(a),
        "detect_format": lambda a: T.detect_format(a),
        "unknown_labels": lambda a: T.unknown_labels(a),
        "write_frame": lambda a: files.write_frame(a, f"{tmp}/o.csv"),
        "neutralise_frame": lambda a: files.neutralise_frame(a),
        "decode_bytes": lambda a: files.decode_bytes(a, "x"),
        "read_text": lambda a: files.read_text(a),
        "parse_policy": lambda a: policy.parse_policy(a),
        "parse_policy_bytes": lambda a: policy.parse_policy_bytes(a),
        "parse_policy_text": lambda a: policy.parse_policy_text(a),
        "clause_counts": lambda a: policy.clause_counts(a),
        "coverage_matrix": lambda a: coverage.coverage_matrix(a),
        "policy_findings": lambda a: coverage.policy_findings(a),
        "coverage_wide": lambda a: coverage.coverage_wide(a),
        "policy_products": lambda a: coverage.policy_products(a),
        "product_contrasts": lambda a: coverage.product_contrasts(a, "vps"),
        "classify_clause": lambda a: taxonomy.classify_clause(a, a),
        "products_of_labels": lambda a: taxonomy.products_of_labels(a),
        "as_clauses": lambda a: diff.as_clauses(a),
        "diff_policies": lambda a: diff.diff_policies(a, clauses),
        "change_counts": lambda a: diff.change_counts(a),
        "verdict_impact": lambda a: impact.verdict_impact(a, clauses, clauses),
        "impact_summary": lambda a: diff.impact_summary(a),
        "impact_headline": lambda a: diff.impact_headline(a),
        "history_months": lambda a: diff.history_months(a),
        "synth_tickets": lambda a: synth.synth_tickets(a),
        "write_reports": lambda a: report.write_reports(policy=a, out_dir=tmp),
        "write_simple_xlsx": lambda a: export.write_simple_xlsx(a, f"{tmp}/o.xlsx"),
        "verdict_by_product": lambda a: crossref.verdict_by_product(a),
        "monthly_out_of_scope": lambda a: crossref.monthly_out_of_scope(a),
        "out_of_scope_hours": lambda a: crossref.out_of_scope_hours(a),
        "silent_topics": lambda a: crossref.silent_topics(a),
        "tickets_by_topic": lambda a: crossref.tickets_by_topic(a),
        "low_confidence": lambda a: crossref.low_confidence(a),
    }


NAMES = list(_calls(pd.DataFrame(), "").keys())
#: Functions that take no frame: a frame (even empty) is a wrong type for them, None may be
#: a documented default (the embedded policy).
DEFAULT_ON_NONE = {"parse_policy", "write_reports"}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("kind", list(WRONG))
def test_wrong_input_raises_the_documented_exception(name, kind, clauses, tmp_path):
    call = _calls(clauses, str(tmp_path))[name]
    if kind == "None" and name in DEFAULT_ON_NONE:
        pytest.skip("None means the embedded default here")
    try:
        call(WRONG[kind])
    except KenolibError as exc:
        assert isinstance(exc, TypeError | ValueError) or "no such file" in str(exc), exc
        assert "\n" not in str(exc)
    # no exception: the input was usable (e.g. an empty frame for a frame-taking function)


def test_messages_name_function_and_argument():
    with pytest.raises(KenolibTypeError, match=r"parse_dates: s must be a pandas Series"):
        T.parse_dates(42, ["ISO8601"])
    with pytest.raises(KenolibTypeError, match=r"write_frame: df must be a pandas DataFrame"):
        files.write_frame(None, "x.csv")
    with pytest.raises(KenolibValueError, match=r"change_counts: diff lacks column\(s\) change"):
        diff.change_counts(pd.DataFrame({"x": [1]}))
    with pytest.raises(KenolibTypeError, match=r"synth_tickets: n must be int, not str"):
        synth.synth_tickets("10")
    with pytest.raises(KenolibValueError, match="crossref frame: missing column"):
        crossref.silent_topics(pd.DataFrame({"ticket_id": ["1"]}))
    assert issubclass(KenolibTypeError, TypeError) and issubclass(KenolibValueError, ValueError)


def test_aggregates_accept_an_empty_crossref_frame():
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in CROSSREF_COLUMNS})
    empty["created_at"] = pd.Series(dtype="datetime64[ns]")
    empty["agent_minutes"] = pd.Series(dtype="float64")
    for f in (crossref.verdict_by_product, crossref.tickets_by_topic, crossref.low_confidence):
        assert len(f(empty)) == 0


@pytest.mark.parametrize("kind", list(WRONG))
def test_crossref_and_evaluate_argument_checks(kind, clauses):
    with pytest.raises(KenolibError) as exc:
        check_crossref_args(WRONG[kind], clauses)
    assert isinstance(exc.value, TypeError | ValueError) and "crossref: tickets" in str(exc.value)
    with pytest.raises(KenolibError, match="crossref: clauses"):
        check_crossref_args(pd.DataFrame({"ticket_id": ["1"], "subject": ["x"]}), WRONG[kind])
    with pytest.raises(KenolibError, match="evaluate: labelled"):
        check_evaluate_args(WRONG[kind], clauses)
    ok = pd.DataFrame(columns=["ticket_id", "subject", "expected_verdict", "expected_topic"])
    check_evaluate_args(ok, pd.DataFrame(columns=CLAUSE_COLUMNS))


@pytest.mark.parametrize("kind", ["None", "int"])
def test_crossref_itself_validates(kind, clauses):
    with pytest.raises(KenolibTypeError):
        crossref.crossref(WRONG[kind], clauses)
    with pytest.raises(KenolibTypeError):
        crossref.evaluate(WRONG[kind], clauses)
