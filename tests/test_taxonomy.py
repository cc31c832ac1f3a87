"""Every clause maps to a topic; the conditional pairs get their qualifiers."""

from __future__ import annotations

import pytest

from kenolib.taxonomy import UNMAPPED, classify_clause, label_aliases, load_taxonomy, topics_frame


def test_taxonomy_is_well_formed():
    tax = load_taxonomy()
    frame = topics_frame(tax)
    assert 30 <= len(frame) <= 40
    assert frame["topic"].is_unique
    assert frame["description"].str.len().min() > 10


def test_every_seed_clause_is_mapped(clauses):
    unmapped = clauses[clauses["topic"] == UNMAPPED]
    assert unmapped.empty, unmapped[["clause_id", "heading"]].to_string()


@pytest.mark.parametrize(
    "clause_id,topic,qualifier",
    [
        ("overview.N14", "backups", ""),
        ("overview.N09", "dns", "custom_zone"),
        ("overview.N05", "ssl", "third_party"),
        ("overview.N20", "account_billing", "bank_payment"),
        ("shared_hosting.S07", "ssl", "kenotronix"),
        ("shared_hosting.N10", "ssl", "third_party"),
        ("shared_hosting.S08", "one_click_apps", "installer"),
        ("shared_hosting.N11", "one_click_apps", "customer_changes"),
        ("shared_hosting.S09", "databases", "service"),
        ("shared_hosting.N12", "databases", "customer_scripts"),
        ("shared_hosting.S05", "network", ""),
        ("shared_hosting.N06", "domains", "transfers"),
        ("managed_wordpress.S07", "backups", ""),
        ("managed_wordpress.N01", "wordpress_plugins_themes", "third_party"),
        ("managed_wordpress.S09", "wordpress_plugins_themes", "bundled"),
        ("vps_dedicated.S10", "licences", ""),
        ("vps_dedicated.N08", "control_panel_extensions", ""),
        ("vps_dedicated.N13", "one_click_apps", "app_vault"),
        ("vps_dedicated.S13", "security", "platform"),
        ("vps_developer.X01", "support_process", ""),
        ("g_suite.S01", "suite_admin", ""),
        ("g_suite.S03", "dns", ""),
        ("g_suite.N01", "suite_advanced_features", ""),
        ("office_365.N02", "third_party_saas", ""),
        ("office_365.N03", "training", ""),
    ],
)
def test_seed_mapping(clauses, clause_id, topic, qualifier):
    row = clauses.set_index("clause_id").loc[clause_id]
    assert (row["topic"], row["qualifier"]) == (topic, qualifier)


def test_reworded_headings_still_map():
    assert classify_clause("Backups of your data", "We back up nightly.")[0] == "backups"
    assert classify_clause("Third-party SSL", "Certificates bought elsewhere.") == (
        "ssl",
        "third_party",
    )
    assert classify_clause("", "Nothing here relates to hosting at all.")[0] == UNMAPPED


def test_product_labels():
    aliases = label_aliases()
    assert aliases["wp"] == "managed_wordpress"
    assert aliases["dev vps"] == "vps_developer"
    assert aliases["google workspace"] == "g_suite"
    assert aliases["o365"] == "office_365"


def test_products_of_labels_vectorised():
    import pandas as pd

    from kenolib.taxonomy import products_of_labels

    labels = pd.Series(
        ["WP", "Dev VPS", None, "", "Colocation", "wp", "Microsoft 365"], index=range(3, 10)
    )
    got = products_of_labels(labels)
    assert got.index.equals(labels.index)
    assert got.tolist() == [
        "managed_wordpress",
        "vps_developer",
        "",
        "",
        "",
        "managed_wordpress",
        "office_365",
    ]
