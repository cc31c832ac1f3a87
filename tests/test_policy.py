"""The lossless policy parser: exact counts on the seed, rebuild, variants and bad input."""

from __future__ import annotations

import pytest

from kenolib import config
from kenolib.errors import KenolibError
from kenolib.policy import clause_counts, parse_policy, parse_policy_bytes, parse_policy_text

EXPECTED = {
    "overview": (14, 20, 0),
    "shared_hosting": (9, 12, 0),
    "managed_wordpress": (12, 5, 1),
    "vps_dedicated": (13, 13, 0),
    "vps_developer": (6, 9, 1),
    "g_suite": (3, 3, 0),
    "office_365": (3, 3, 0),
}


def counts(parsed) -> dict[str, tuple[int, int, int]]:
    c = clause_counts(parsed.clauses)
    return {p: tuple(int(x) for x in row) for p, row in c.iterrows()}


def test_seed_counts_exact(seed):
    assert counts(seed) == EXPECTED
    assert list(clause_counts(seed.clauses).index) == list(EXPECTED)
    assert seed.warnings == []


def test_embedded_policy_is_the_raw_copy(seed_text):
    assert config.DEFAULT_POLICY.read_text(encoding="utf-8") == seed_text


def test_rebuild_is_exact_and_every_line_is_one_element(seed, seed_text):
    assert seed.rebuild() == seed_text
    assert list(seed.elements["line"]) == list(range(1, seed_text.count("\n") + 2))
    assert set(seed.elements["kind"]) <= {
        "preamble",
        "overview_header",
        "overview_row",
        "product_heading",
        "status_marker",
        "clause_heading",
        "clause_body",
        "note",
        "blank",
        "unplaced",
    }
    assert (seed.elements["kind"] == "unplaced").sum() == 0


def test_every_clause_line_is_cited_by_exactly_one_clause(seed):
    el = seed.elements
    cited = el[el["clause_id"].notna()]
    for cid, group in cited.groupby("clause_id"):
        row = seed.clauses.set_index("clause_id").loc[cid]
        assert group["line"].min() == row["line_start"]
        assert group["line"].max() == row["line_end"]
    assert set(cited["clause_id"]) == set(seed.clauses["clause_id"])


def test_overview_symbol_decides_not_column(clauses):
    ov = clauses[clauses["product"] == "overview"]
    row = ov[ov["heading"] == "Third-party SSL certificates"].iloc[0]
    assert row["status"] == "not_supported"  # ✖ sits in the "Supported" column
    last = ov[ov["heading"].str.startswith("How to pay your bill")].iloc[0]
    assert last["status"] == "not_supported" and last["line_start"] == 39  # no closing |


def test_same_heading_under_both_statuses_kept_twice(clauses):
    for product, heading in [
        ("shared_hosting", "MYSQL"),
        ("shared_hosting", "APPLICATIONS IN ONE CLICK"),
        ("vps_dedicated", "SSL CERTIFICATES"),
    ]:
        rows = clauses[(clauses["product"] == product) & (clauses["heading"] == heading)]
        assert sorted(rows["status"]) == ["not_supported", "supported"], (product, heading)


def test_headings_notes_and_headingless_clauses(clauses):
    assert "SCRIPTS AND APPLICATIONS." in set(clauses["heading"])
    notes = clauses[clauses["status"] == "note"]
    assert sorted(notes["product"]) == ["managed_wordpress", "vps_developer"]
    assert notes.set_index("product").loc["managed_wordpress", "heading"].startswith("SPECIAL NOTE")
    gs = clauses[clauses["product"] == "g_suite"]
    assert gs["text"].str.contains("\n").sum() == 0  # each bullet is its own clause
    assert gs.iloc[0]["heading"].startswith("Set up, manage")
    assert gs.iloc[0]["product_label"] == "G CONTINUED"


def test_clause_text_keeps_the_source_words(seed, seed_text):
    for row in seed.clauses.itertuples():
        for part in row.text.split("\n"):
            assert part in seed_text


@pytest.mark.parametrize(
    "transform",
    [
        lambda t: t.replace("\n", "\r\n"),
        lambda t: "\n".join(line + "   " for line in t.split("\n")),
        lambda t: t.replace("\u2019", "'"),
        lambda t: t + "\n\n\n",
        lambda t: t.replace("\n", "\n\n"),
    ],
    ids=["crlf", "trailing-blanks", "straight-apostrophes", "trailing-lines", "blank-lines"],
)
def test_variants_parse_the_same(seed_text, transform):
    text = transform(seed_text)
    parsed = parse_policy_text(text, "variant")
    assert counts(parsed) == EXPECTED
    assert parsed.rebuild() == text


def test_bom_and_cp1252(seed_text):
    bom = parse_policy_bytes(b"\xef\xbb\xbf" + seed_text.encode("utf-8"), "bom.txt")
    assert bom.bom and counts(bom) == EXPECTED and bom.warnings == []
    cp = seed_text.replace("✔", "x").replace("✖", "")  # cp1252 has no check marks
    cp_bytes = cp.replace(" | x | |", " | x | |").encode("cp1252", errors="strict")
    parsed = parse_policy_bytes(cp_bytes, "old.txt")
    assert parsed.encoding == "cp1252"
    assert any("cp1252" in w for w in parsed.warnings)
    assert "Kenotronix\u2019s" in parsed.text  # 0x92 decoded to a curly apostrophe


@pytest.mark.parametrize(
    "marker,status",
    [
        ("SUPPORTED:", "supported"),
        ("supported", "supported"),
        ("NON SUPPORTED", "not_supported"),
        ("Non Supported:", "not_supported"),
        ("NOT SUPPORTED:", "not_supported"),
        ("not supported:", "not_supported"),
        ("INCLUDED SUPPORTED:", "supported"),
        ("Unsupported:", "not_supported"),
    ],
)
def test_status_markers_any_case(marker, status):
    text = f"SHARED HOSTING\n{marker}\nDATA BACKUP\nSome text about backups.\n"
    parsed = parse_policy_text(text, "m.txt")
    assert parsed.clauses["status"].tolist() == [status]
    assert parsed.clauses["product"].tolist() == ["shared_hosting"]


def test_renamed_spellings_map_to_same_ids(seed_text):
    text = (
        seed_text.replace("SHARED ACCOMMODATION", "SHARED HOSTING")
        .replace("ADMINISTERED WORDPRESS", "MANAGED WORDPRESS")
        .replace("G CONTINUED", "G SUITE")
        .replace("OFFICE 365\nINCLUDED", "MICROSOFT 365\nINCLUDED")
    )
    parsed = parse_policy_text(text, "renamed.txt")
    assert counts(parsed) == EXPECTED
    assert parsed.warnings == []


def test_unknown_section_kept_under_own_slug_with_warning(seed_text):
    extra = "RESELLER HOSTING\nSUPPORTED:\nRESELLER PANEL\nWe keep the reseller panel running.\n"
    parsed = parse_policy_text(seed_text + "\n" + extra, "new.txt")
    res = parsed.clauses[parsed.clauses["product"] == "reseller_hosting"]
    assert len(res) == 1 and res.iloc[0]["status"] == "supported"
    assert counts(parsed)["office_365"] == (3, 3, 0)  # not merged into its neighbour
    assert any("reseller_hosting" in w for w in parsed.warnings)


def test_unplaceable_line_is_reported_and_kept():
    text = (
        "Intro\nList | Supported | Not supported |\n---|---|---|\nBilling | ✔ | |\nOdd row | | |\n"
        "SHARED HOSTING\nA stray sentence before any marker.\nSUPPORTED:\nEQUIPMENT\nWe fix disks.\n"
    )
    parsed = parse_policy_text(text, "odd.txt")
    unplaced = parsed.elements[parsed.elements["kind"] == "unplaced"]
    assert unplaced["line"].tolist() == [5, 7]
    assert sum("line 5" in w for w in parsed.warnings) == 1
    assert sum("line 7" in w for w in parsed.warnings) == 1
    assert parsed.rebuild() == text


@pytest.mark.parametrize(
    "content,message",
    [
        (b"", "empty"),
        (b"   \n\n", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (b"Dear team,\nplease find our holiday rota attached.\nThanks\n", "no policy structure"),
    ],
)
def test_bad_input_raises_user_error(tmp_path, content, message):
    p = tmp_path / "bad.txt"
    p.write_bytes(content)
    with pytest.raises(KenolibError, match=message) as info:
        parse_policy(p)
    assert str(p) in str(info.value)


def test_missing_file():
    with pytest.raises(KenolibError, match="no such file"):
        parse_policy("/nonexistent/policy.txt")
