"""The coverage matrix and the findings on the seed policy."""

from __future__ import annotations

from kenolib.coverage import coverage_matrix, coverage_wide, policy_findings
from kenolib.taxonomy import load_taxonomy


def cell(cov, topic, product):
    return cov.set_index(["topic", "product"]).loc[(topic, product)]


def test_shape_and_statuses(clauses):
    cov = coverage_matrix(clauses)
    assert len(cov) == len(load_taxonomy().topics) * 7
    assert set(cov["status"]) == {"supported", "not_supported", "conditional", "silent"}
    assert not cov.duplicated(["topic", "product"]).any()


def test_conditional_pairs(clauses):
    cov = coverage_matrix(clauses)
    for topic in ("ssl", "one_click_apps", "databases", "dns"):
        c = cell(cov, topic, "shared_hosting")
        assert c["status"] == "conditional" and not c["inherited"], topic
    ssl = cell(cov, "ssl", "shared_hosting")
    assert "kenotronix=supported" in ssl["qualifiers"]
    assert "third_party=not_supported" in ssl["qualifiers"]


def test_inheritance_and_silence(clauses):
    cov = coverage_matrix(clauses)
    seo = cell(cov, "seo", "shared_hosting")
    assert (
        seo["status"] == "not_supported"
        and seo["inherited"]
        and seo["clause_ids"] == "overview.N08"
    )
    # partial inheritance: MWP speaks only of Kenotronix certificates, the overview of third-party ones
    ssl = cell(cov, "ssl", "managed_wordpress")
    assert ssl["status"] == "conditional" and not ssl["inherited"]
    assert ssl["inherited_clause_ids"] == "overview.N05"
    assert cell(cov, "migrations", "vps_dedicated")["status"] == "silent"
    assert cell(cov, "licences", "vps_dedicated")["status"] == "supported"
    wide = coverage_wide(cov)
    assert wide.loc["seo", "g_suite"] == "not_supported*"


def test_contradictions_cite_clauses_and_lines(clauses):
    f = policy_findings(clauses)
    con = f[f["kind"] == "contradiction"].set_index(["topic", "product"])
    assert set(con.index) == {
        ("backups", "managed_wordpress"),
        ("dns", "g_suite"),
        ("dns", "office_365"),
    }
    backups = con.loc[("backups", "managed_wordpress")]
    assert backups["clause_ids"] == "overview.N14;managed_wordpress.S07"
    assert backups["lines"] == "33; 101-102"


def test_sibling_gaps_and_silent(clauses):
    f = policy_findings(clauses)
    gaps = f[f["kind"] == "sibling_gap"]
    assert (
        (gaps["topic"] == "backups")
        & (gaps["product"] == "managed_wordpress")
        & (gaps["other_product"] == "shared_hosting")
    ).any()
    assert ((gaps["topic"] == "licences") & (gaps["other_product"] == "vps_developer")).any()
    silent = f[f["kind"] == "silent"]
    assert ((silent["topic"] == "migrations") & (silent["product"] == "shared_hosting")).any()
    assert f["finding_id"].is_unique


def test_product_contrasts(clauses):
    from kenolib.coverage import product_contrasts

    cov = coverage_matrix(clauses)
    mwp = product_contrasts(cov, "managed_wordpress")
    assert set(mwp["sibling"]) == {"shared_hosting"}
    here = set(mwp.loc[mwp["direction"] == "only_here", "topic"])
    assert {"backups", "wordpress_core", "bug_reports"} <= here
    there = set(mwp.loc[mwp["direction"] == "only_sibling", "topic"])
    assert {"one_click_apps", "dns"} <= there  # conditional on shared hosting, ✖ on MWP
    assert "seo" not in here | there  # ✖ for both
    dev = product_contrasts(cov, "vps_developer")
    assert "licences" in set(dev.loc[dev["direction"] == "only_sibling", "topic"])
