"""The policy family: the seed's content in other layouts (numbered, bulleted, Markdown, a saved
web page, Word) gives the seed's clause table; broken variants warn; the line recognisers."""

from __future__ import annotations

import subprocess
import sys

import docx
import pytest

from kenolib.cli import main
from kenolib.errors import KenolibError
from kenolib.policy import format_outline, parse_policy, parse_policy_text
from kenolib.policy_formats import is_ignored, parse_html, statement_root
from kenolib.policy_lines import (
    label_status,
    load_labels,
    mark_status,
    product_keys,
    read_line,
    split_inline,
)
from tests.conftest import FIXTURES
from tests.test_policy import EXPECTED, counts

FAMILY = FIXTURES / "policies" / "family"
LAYOUTS = ["numbered_template.txt", "older_bulleted.txt", "markdown_policy.md", "saved_page.html"]


def _norm(text: str) -> str:
    return " ".join(str(text).split())


def assert_same_clauses(parsed, seed) -> None:
    """Same clause ids, products, statuses, topics and (whitespace aside) texts as the seed."""
    assert counts(parsed) == EXPECTED
    got = parsed.clauses.set_index("clause_id")
    want = seed.clauses.set_index("clause_id")
    assert list(got.index) == list(want.index)
    for col in ("product", "status", "topic", "qualifier"):
        assert got[col].tolist() == want[col].tolist(), col
    assert got["text"].map(_norm).tolist() == want["text"].map(_norm).tolist()


@pytest.mark.parametrize("name", LAYOUTS)
def test_layout_gives_the_seed_clause_table(seed, name):
    parsed = parse_policy(FAMILY / name)
    assert_same_clauses(parsed, seed)
    unplaced = parsed.elements[parsed.elements["kind"] == "unplaced"]
    if name == "older_bulleted.txt":  # its one intro sentence before the first label
        assert unplaced["line"].tolist() == [44]
        assert len(parsed.warnings) == 1 and "line 44" in parsed.warnings[0]
    else:
        assert unplaced.empty and parsed.warnings == []
    assert parsed.rebuild() == parsed.text


def test_text_layouts_rebuild_byte_for_byte():
    for name in ("numbered_template.txt", "older_bulleted.txt", "markdown_policy.md"):
        path = FAMILY / name
        assert parse_policy(path).rebuild() == path.read_text(encoding="utf-8")


def test_formats_are_named():
    assert parse_policy(FAMILY / "markdown_policy.md").format == "markdown"
    assert parse_policy(FAMILY / "saved_page.html").format == "html"
    assert parse_policy(FAMILY / "numbered_template.txt").format == "text"


def test_every_text_node_of_the_statement_is_accounted_for():
    path = FAMILY / "saved_page.html"
    parsed = parse_policy(path)
    text = _norm(parsed.text.replace("**", ""))
    root, _ = parse_html(path.read_bytes(), str(path))
    body = statement_root(root)
    nodes = []
    for el in body.iter():
        inside = [el, *el.iterancestors()]
        inside = inside[: inside.index(body) + 1] if body in inside else inside
        if any(is_ignored(a) for a in inside):
            continue
        nodes.append(el.text)
        if el is not body and not any(is_ignored(a) for a in inside[1:]):
            nodes.append(el.tail)
    nodes = [_norm(n) for n in nodes if n and n.strip()]
    assert len(nodes) > 200
    missing = [n for n in nodes if n not in text]
    assert missing == []
    for skipped in ("Privacy", "gtag", "We use cookies", "Chat with us", "Hosting VPS Support"):
        assert skipped not in parsed.text
    assert (parsed.elements["kind"] != "blank").all()  # every extracted line is one element


def _docx_from_seed(seed, path) -> None:
    """The seed's content as a Word document: headings, a table, bulleted bold-lead items."""
    c = seed.clauses
    doc = docx.Document()
    doc.add_heading("Kenotronix Support Policy", 0)
    doc.add_heading("Overview", 1)
    for line in seed.text.split("\n")[1:3]:
        doc.add_paragraph(line)
    ov = c[c["product"] == "overview"]
    table = doc.add_table(rows=1, cols=3)
    for cell, text in zip(table.rows[0].cells, ["Item", "Supported", "Not supported"], strict=True):
        cell.text = text
    for row in ov.itertuples():
        cells = table.add_row().cells
        cells[0].text = row.text
        cells[1 if row.status == "supported" else 2].text = "X"
    names = {
        "shared_hosting": "Shared Hosting",
        "managed_wordpress": "Managed WordPress™",
        "vps_dedicated": "VPS and Dedicated Servers",
        "vps_developer": "Developer VPS",
        "g_suite": "Google Workspace (G Suite)",
        "office_365": "Microsoft® 365 (Office 365)",
    }
    for pid, name in names.items():
        doc.add_heading(name, 1)
        rows = c[c["product"] == pid]
        for note in rows[rows["status"] == "note"].itertuples():
            if note.heading.isupper():
                doc.add_paragraph().add_run(note.heading.title()).bold = True
                doc.add_paragraph(note.text)
            else:
                doc.add_paragraph("Note: " + note.text)
        for status, label in (("supported", "Supported"), ("not_supported", "Not supported")):
            doc.add_heading(label, 2)
            for item in rows[rows["status"] == status].itertuples():
                par = doc.add_paragraph(style="List Bullet")
                if pid not in ("g_suite", "office_365"):
                    par.add_run(item.heading.rstrip(".").capitalize() + ".").bold = True
                    par.add_run(" ")
                par.add_run(item.text)
    doc.save(path)


def test_word_document_gives_the_seed_clause_table(seed, tmp_path):
    path = tmp_path / "policy.docx"
    _docx_from_seed(seed, path)
    parsed = parse_policy(path)
    assert parsed.format == "docx"
    assert_same_clauses(parsed, seed)
    assert parsed.warnings == []


def test_renamed_and_numbered_sections_keep_product_ids():
    text = (FAMILY / "numbered_template.txt").read_text(encoding="utf-8")
    text = text.replace("2.1. Shared Hosting.", "2.1. Web Hosting.")
    text = text.replace("2.4. Developer VPS.", "2.4. VPS for Developers.")
    text = text.replace("2.5. Google Workspace (G Suite).", "2.5. G Suite™.")
    parsed = parse_policy_text(text, "renamed.txt")
    assert counts(parsed) == EXPECTED and parsed.warnings == []


# -- broken variants: each must warn ---------------------------------------------------------


def _older() -> str:
    return (FAMILY / "older_bulleted.txt").read_text(encoding="utf-8")


def test_missing_label_warns():
    text = _older().replace("• Supported:\nDNS zone file.", "DNS zone file.", 1)
    parsed = parse_policy_text(text, "nolabel.txt")
    assert counts(parsed)["shared_hosting"] == (0, 12, 0)
    assert sum("before any SUPPORTED" in w for w in parsed.warnings) >= 18


def test_section_cut_short_warns():
    md = (FAMILY / "markdown_policy.md").read_text(encoding="utf-8")
    cut = md[: md.index("## Office 365")] + "## Office 365\n\n### Supported\n"
    parsed = parse_policy_text(cut, "cut.md")
    assert any("'office_365' has no items" in w for w in parsed.warnings)
    assert any("'Supported' in 'office_365' has nothing under it" in w for w in parsed.warnings)


def test_collapsed_content_in_a_saved_page_warns(tmp_path):
    page = (FAMILY / "saved_page.html").read_text(encoding="utf-8")
    head, tail = page.split('<section id="office_365">')
    at = tail.index("<h3>Not supported</h3><ul>") + len("<h3>Not supported</h3>")
    tail = (
        tail[:at] + '<div class="accordion" hidden>' + tail[at:].replace("</ul>", "</ul></div>", 1)
    )
    path = tmp_path / "collapsed.html"
    path.write_text(head + '<section id="office_365">' + tail, encoding="utf-8")
    parsed = parse_policy(path)
    assert counts(parsed)["office_365"] == (3, 0, 0)
    assert any("'Not supported' in 'office_365' has nothing under it" in w for w in parsed.warnings)


def test_unknown_section_read_as_a_clause_warns(seed_text):
    extra = (
        "RESELLER HOSTING\nOur reseller plans.\nSUPPORTED:\nRESELLER PANEL\nWe keep it running.\n"
    )
    parsed = parse_policy_text(seed_text + "\n" + extra, "reseller.txt")
    warning = next(w for w in parsed.warnings if "second 'Supported' list" in w)
    assert "line 233 ('RESELLER HOSTING') looks like a section heading read as a clause" in warning


def test_label_outside_any_product_section_warns(seed_text):
    anchor = "SHARED ACCOMMODATION\n"
    text = seed_text.replace(anchor, "SUPPORTED:\nPriority phone line\n" + anchor, 1)
    parsed = parse_policy_text(text, "outside.txt")
    assert any("line 40: label 'SUPPORTED:' is outside" in w for w in parsed.warnings)
    assert any("line 41: text outside any product section" in w for w in parsed.warnings)
    assert counts(parsed) == EXPECTED


def test_numbered_subsection_read_as_a_clause_warns():
    text = (FAMILY / "numbered_template.txt").read_text(encoding="utf-8")
    anchor = "2.4. Developer VPS."
    parsed = parse_policy_text(text.replace(anchor, "2.3.1 Plesk Add-ons.\n" + anchor), "sub.txt")
    assert any("numbered like a section (2.3.1)" in w for w in parsed.warnings)
    labelled = text.replace(
        anchor, "2.3.1 Plesk Add-ons.\nSupported:\n1. Ours. We run them.\n" + anchor
    )
    parsed = parse_policy_text(labelled, "sub2.txt")
    assert "plesk_add_ons" in set(parsed.clauses["product"])
    assert any("'plesk_add_ons'" in w for w in parsed.warnings)


# -- the line recognisers --------------------------------------------------------------------


@pytest.mark.parametrize(
    "line,status",
    [
        ("• Supported:", "supported"),
        ("What we support:", "supported"),
        ("We support", "supported"),
        ("### Supported", "supported"),
        ("**Supported services:**", "supported"),
        ("Issues beyond our scope of support:", "not_supported"),
        ("Your responsibility", "not_supported"),
        ("- Not Supported:", "not_supported"),
        ("NON-SUPPORTED", "not_supported"),
        ("We support the webmail provided with shared hosting.", None),
        ("Supported | Not supported", None),
    ],
)
def test_label_wordings(line, status):
    assert label_status(read_line(line).text) == status


@pytest.mark.parametrize(
    "marks,status",
    [
        (["✔", ""], "supported"),
        (["✖", ""], "not_supported"),  # the seed: the symbol decides, not the column
        (["", "✗"], "not_supported"),
        (["yes", ""], "supported"),  # an icon saved as alt text
        (["", "Yes"], "not_supported"),
        (["No", ""], "not_supported"),
        (["", "X"], "not_supported"),
        (["Yes", "No"], "supported"),
        (["✓", "✗"], None),
        (["", ""], None),
    ],
)
def test_overview_marks(marks, status):
    assert mark_status(marks) == status


def test_product_keys_drop_signs_codes_and_former_names():
    assert {"microsoft 365", "office 365"} <= set(product_keys("Microsoft® 365 (Office 365)"))
    assert product_keys("(gs) Grid-Service")[0] == "grid-service"
    assert product_keys("2.1. Managed WordPress™.")[0] == "managed wordpress"


def test_inline_items_and_sentences():
    assert split_inline(read_line("1. DNS zone file. DNS zone files associate it.")) == (
        "DNS zone file",
        "DNS zone files associate it.",
    )
    assert split_inline(read_line("- **Data backup.** We back up daily.")) == (
        "Data backup",
        "We back up daily.",
    )
    assert split_inline(read_line("We do not provide training. You are expected to.")) is None


def test_labels_file_is_validated_and_one_line_adds_a_wording(tmp_path):
    bad = tmp_path / "labels.yaml"
    bad.write_text("supported: [Supported]\nnot_supported: [Not supported]\nsupportd: [x]\n")
    with pytest.raises(KenolibError, match="unknown key 'supportd'") as info:
        load_labels(bad)
    assert str(bad) in str(info.value)
    good = tmp_path / "more.yaml"
    good.write_text("supported: [Supported, Covered by support]\nnot_supported: [Not supported]\n")
    assert label_status("Covered by support:", load_labels(good)) == "supported"
    assert label_status("Covered by support:") is None


# -- the outline command and refused input ---------------------------------------------------


def test_outline_prints_products_labels_and_counts(capsys):
    assert main(["outline", "--policy", str(FAMILY / "saved_page.html")]) == 0
    out = capsys.readouterr().out
    assert "overview (table at line" in out and "14 supported, 20 not supported" in out
    assert "office_365 ('Office 365'" in out and "Not supported: 'Not supported'" in out
    assert out.rstrip().endswith("0 warnings")


def test_outline_lists_warnings(seed_text):
    parsed = parse_policy_text(seed_text + "\nRESELLER HOSTING\nSUPPORTED:\n", "r.txt")
    text = format_outline(parsed)
    assert "reseller_hosting ('RESELLER HOSTING'" in text
    assert "warning: r.txt: line" in text and "has nothing under it" in text


@pytest.mark.parametrize(
    "name,content,needle",
    [
        ("prose.md", b"# Notes\n\nWe met on Monday and talked about hosting.\n", "no policy"),
        ("page.html", b"<html><body><nav>Home</nav><p>Hello there.</p></body></html>", "no policy"),
        ("empty.html", b"<html><body><nav>Home</nav></body></html>", "no text"),
        ("policy.docx", b"PK\x03\x04 not really a zip", "not a readable Word"),
        ("policy.doc", b"\xd0\xcf\x11\xe0", "save it as .docx"),
    ],
)
def test_refused_policy_exits_2_with_one_line(tmp_path, name, content, needle):
    path = tmp_path / name
    path.write_bytes(content)
    res = subprocess.run(
        [sys.executable, "-m", "kenolib.cli", "outline", "--policy", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and str(path) in lines[0]
    assert "Traceback" not in res.stderr
