"""Reading a policy file of any common layout into text the parser reads line by line.

``.txt`` and ``.md`` (and any other extension) are read as text, losslessly. ``.html`` / ``.htm``
pages are read through lxml's HTML parser, never with regular expressions over the markup:
navigation, scripts, styles, forms, headers, footers, asides and hidden elements are skipped;
every other text node becomes part of one line of Markdown-like text (``# heading``, ``- item``,
``**bold**``, ``| cell | cell |`` table rows; an image counts by its alt text). ``.docx`` files are
read the same way through python-docx (heading styles, list paragraphs, bold leads, indents,
tables). Line numbers of HTML and Word policies refer to that text (``ParsedPolicy.text``).
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import docx
from docx.opc.exceptions import PackageNotFoundError
from docx.table import Table
from docx.text.paragraph import Paragraph
from lxml import etree
from lxml import html as lxml_html

from kenolib.errors import KenolibError
from kenolib.files import DecodedText, decode_bytes
from kenolib.safeio import check_regular_file, read_file_bytes

HTML_SUFFIXES = (".html", ".htm", ".xhtml")
DOCX_SUFFIXES = (".docx",)
_REFUSED = {
    ".doc": "an old Word .doc file; save it as .docx (or .txt) and try again",
    ".pdf": "a PDF; copy its text into a .txt file, or save the web page as .html",
    ".odt": "an OpenDocument file; save it as .docx (or .txt) and try again",
    ".rtf": "an RTF file; save it as .docx (or .txt) and try again",
}
#: Elements whose text is not part of the statement.
IGNORED_TAGS = frozenset(
    "head script style noscript template nav header footer aside form button select "
    "svg iframe object canvas".split()
)
_IGNORED_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "search"})
_HEADINGS = {f"h{i}": i for i in range(1, 7)}
_BLOCKS = frozenset(
    "address article aside blockquote body center details dialog dd div dl dt fieldset "
    "figcaption figure footer h1 h2 h3 h4 h5 h6 header hgroup hr li main menu nav ol p pre "
    "section summary table tbody td tfoot th thead tr ul".split()
)
_BOLD = frozenset({"strong", "b"})


def _checked_bytes(p: Path, max_bytes: int | None) -> bytes:
    """The file's bytes; missing, special (pipes, devices), unreadable or oversized files are
    refused before anything is read."""
    p = check_regular_file(p)
    size = p.stat().st_size
    if max_bytes is not None and size > max_bytes:
        raise KenolibError(f"{p}: {size:,} bytes is larger than the {max_bytes:,}-byte limit")
    return read_file_bytes(p)


def read_policy_file(
    path: str | os.PathLike[str], max_bytes: int | None = None
) -> tuple[DecodedText, str]:
    """The text of a policy file and its format (``text``, ``markdown``, ``html``, ``docx``)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in _REFUSED:
        raise KenolibError(f"{p}: {_REFUSED[suffix]}")
    data = _checked_bytes(p, max_bytes)
    if suffix in HTML_SUFFIXES:
        return html_text(data, str(p)), "html"
    if suffix in DOCX_SUFFIXES:
        return docx_text(data, str(p)), "docx"
    decoded = decode_bytes(data, str(p))
    return decoded, "markdown" if suffix in (".md", ".markdown") else "text"


# ---------------------------------------------------------------------------------------------
# HTML


def parse_html(data: bytes, source: str) -> tuple[etree._Element, list[str]]:
    """The page's element tree (decoded as UTF-8, else cp1252) and the decoding warnings."""
    decoded = decode_bytes(data, source)
    parser = lxml_html.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True)
    try:
        root = lxml_html.fromstring(decoded.text.encode("utf-8"), parser=parser)
    except (etree.ParserError, ValueError) as exc:
        raise KenolibError(f"{source}: cannot read the HTML ({exc}); save the page again") from None
    return root, decoded.warnings


def is_ignored(el: etree._Element) -> bool:
    """Navigation, scripts, footers, hidden elements and the like: not the statement."""
    if not isinstance(el.tag, str):
        return True
    if el.tag.lower() in IGNORED_TAGS or el.get("role", "").lower() in _IGNORED_ROLES:
        return True
    style = el.get("style", "").replace(" ", "").lower()
    return (
        el.get("hidden") is not None or el.get("aria-hidden") == "true" or "display:none" in style
    )


def statement_root(root: etree._Element) -> etree._Element:
    """The part of the page holding the statement: its ``<main>`` if it has one, else the body."""
    for xpath in ("//main", "//*[@role='main']", "//body"):
        found = root.xpath(xpath)
        if len(found) == 1:
            return found[0]
    return root


def _is_block(el: etree._Element) -> bool:
    return isinstance(el.tag, str) and el.tag.lower() in _BLOCKS


def _inline(el: etree._Element, top: bool = True) -> str:
    """The text of an inline run: ``<br>`` as a line break, images by alt text, bold as ``**``."""
    parts = [el.text or ""] if isinstance(el.tag, str) and not is_ignored(el) else []
    tag = el.tag.lower() if isinstance(el.tag, str) else ""
    if tag == "img":
        parts = [f" {el.get('alt', '').strip()} "]
    elif tag == "br":
        parts = ["\n"]
    if parts or tag in ("img", "br"):
        for child in el:
            parts.append(_inline(child, top=False))
    text = "".join(parts)
    if tag in _BOLD and text.strip() and "\n" not in text:
        text = f"**{text.strip()}** "
    return text if top else text + (el.tail or "")


def _clean(text: str) -> list[str]:
    return [" ".join(part.split()) for part in text.split("\n") if part.strip()]


def _walk(el: etree._Element, lines: list[str]) -> None:
    """Append the lines of one block element (and of its children) to ``lines``."""
    tag = el.tag.lower()
    if tag in _HEADINGS:
        text = " ".join(_clean(_inline(el)))
        if text:
            lines.append("#" * _HEADINGS[tag] + " " + text)
    elif tag == "table":
        _table(el, lines)
    elif tag in ("ul", "ol", "menu"):
        for child in el:
            if _is_block(child) and not is_ignored(child) and child.tag.lower() == "li":
                _item(child, lines)
            elif _is_block(child) and not is_ignored(child):
                _walk(child, lines)
            elif isinstance(child.tag, str) and not is_ignored(child):
                lines.extend(_clean(_inline(child)))
            lines.extend(_clean(child.tail or ""))
    elif tag == "li":
        _item(el, lines)
    elif tag == "dt":
        lines.extend(f"**{t}**" for t in _clean(_inline(el)))
    elif tag == "dd":
        inner: list[str] = []
        _mixed(el, inner)
        lines.extend("    " + t for t in inner)
    else:
        _mixed(el, lines)


def _mixed(el: etree._Element, lines: list[str]) -> None:
    """Mixed content: runs of inline text become lines, block children are walked in turn."""
    run = [el.text or ""]
    for child in el:
        if is_ignored(child) or not _is_block(child):
            if not is_ignored(child):
                run.append(_inline(child, top=False))
            else:
                run.append(child.tail or "")
            continue
        lines.extend(_clean("".join(run)))
        _walk(child, lines)
        run = [child.tail or ""]
    lines.extend(_clean("".join(run)))


def _item(li: etree._Element, lines: list[str]) -> None:
    inner: list[str] = []
    _mixed(li, inner)
    for k, text in enumerate(inner):
        lines.append(("- " if k == 0 else "    ") + text)


def _table(table: etree._Element, lines: list[str]) -> None:
    rows = [tr for tr in table.iter("tr") if not any(is_ignored(a) for a in tr.iterancestors())]
    for k, tr in enumerate(rows):
        cells = [
            " ".join(_clean(_inline(td))).replace("|", "/")
            for td in tr
            if isinstance(td.tag, str) and td.tag.lower() in ("td", "th")
        ]
        lines.append("| " + " | ".join(cells) + " |")
        if k == 0:
            lines.append("|" + "---|" * max(len(cells), 1))


def html_text(data: bytes, source: str) -> DecodedText:
    """The statement of a saved web page as Markdown-like lines (see the module docstring)."""
    root, warnings = parse_html(data, source)
    lines: list[str] = []
    _walk(statement_root(root), lines)
    if not lines:
        raise KenolibError(f"{source}: the page has no text outside navigation and scripts")
    return DecodedText("\n".join(lines) + "\n", "utf-8", False, warnings)


# ---------------------------------------------------------------------------------------------
# Word


def _paragraph_lines(par: Paragraph) -> list[str]:
    text_lines = _clean(par.text)
    if not text_lines:
        return []
    style = (par.style.name if par.style is not None else "") or ""
    first = text_lines[0]
    runs = [r for r in par.runs if r.text.strip()]
    bold = [bool(r.bold) for r in runs]
    if runs and bold[0] and not all(bold) and len(text_lines) == 1:
        k = bold.index(False)
        lead = "".join(r.text for r in runs[:k]).strip()
        first = f"**{lead}** " + "".join(r.text for r in runs[k:]).strip()
    if style.startswith("Heading") and style[7:].strip().isdigit():
        prefix = "#" * min(int(style[7:]), 6) + " "
    elif style == "Title":
        prefix = "# "
    elif style.startswith("List") or par._p.pPr is not None and par._p.pPr.numPr is not None:
        prefix = "- "
    else:
        indent = par.paragraph_format.left_indent
        prefix = "    " if indent is not None and indent > 0 else ""
    return [prefix + first] + ["    " + t for t in text_lines[1:]]


def docx_text(data: bytes, source: str) -> DecodedText:
    """The text of a Word ``.docx`` policy as Markdown-like lines (headings, lists, tables)."""
    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise KenolibError(
            f"{source}: not a readable Word .docx file ({exc}); save it again as .docx or .txt"
        ) from None
    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            lines.extend(_paragraph_lines(block))
        elif isinstance(block, Table):
            for k, row in enumerate(block.rows):
                cells = [" ".join(_clean(c.text)).replace("|", "/") for c in row.cells]
                lines.append("| " + " | ".join(cells) + " |")
                if k == 0:
                    lines.append("|" + "---|" * max(len(cells), 1))
    if not lines:
        raise KenolibError(f"{source}: the Word file has no text; is it the policy?")
    return DecodedText("\n".join(lines) + "\n", "utf-8", False, [])
