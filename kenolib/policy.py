"""Parsing a support policy into elements (one per source line) and clauses, losslessly.

Every line of the source becomes exactly one element; ``rebuild_source(elements)`` gives the
decoded text back byte for byte. Clauses are assembled from the elements and mapped to topics.

Element kinds: ``preamble``, ``overview_header`` (the table's header and separator lines),
``overview_row``, ``product_heading``, ``status_marker``, ``clause_heading``, ``clause_body``,
``note``, ``blank`` and ``unplaced`` (a line the parser could not place; reported, kept).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field

import pandas as pd

from kenolib import config, schemas
from kenolib.errors import KenolibError
from kenolib.files import DecodedText, decode_bytes, read_text
from kenolib.taxonomy import (
    UNMAPPED,
    Taxonomy,
    classify_clause,
    heading_aliases,
    heading_key,
    load_products,
    load_taxonomy,
    normalise,
    slugify,
)

SUPPORTED, NOT_SUPPORTED, NOTE = "supported", "not_supported", "note"
STATUS_CODES = {SUPPORTED: "S", NOT_SUPPORTED: "N", NOTE: "X"}

_LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
_NOT_STATUS_RE = re.compile(
    r"^(?:non|not|un)[\s-]*(?:supported|included)(?:\s+(?:services|items))?\s*[:.]?$"
)
_YES_STATUS_RE = re.compile(
    r"^(?:(?:included\s+)?supported|included|we can help you(?:\s+with)?)(?:\s+(?:services|items))?\s*[:.]?$"
)
_TICK = set("✔✓✅☑🗸")
_CROSS = set("✖✗✘❌❎☒")
_SEPARATOR_RE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-*:?\s*)*\|?\s*$")
_NOTE_HEADING_RE = re.compile(r"\bnote\b")
HEADINGLESS_WORDS = 6


@dataclass
class ParsedPolicy:
    """The result of parsing one policy file."""

    elements: pd.DataFrame
    clauses: pd.DataFrame
    source: str
    sha256: str
    encoding: str
    bom: bool
    text: str
    warnings: list[str] = field(default_factory=list)

    def rebuild(self) -> str:
        """The decoded source text, rebuilt from the elements."""
        return rebuild_source(self.elements)


def split_lines(text: str) -> list[str]:
    """Split text into lines that keep their own line ends (LF, CRLF or CR)."""
    return _LINE_RE.findall(text)


def rebuild_source(elements: pd.DataFrame) -> str:
    """Concatenate the raw lines of the elements: equals the decoded source text."""
    return "".join(elements.sort_values("line")["raw"].tolist())


def status_of_marker(line: str) -> str | None:
    """``supported`` / ``not_supported`` if the line is a status marker, else None."""
    key = normalise(line)
    if _NOT_STATUS_RE.match(key):
        return NOT_SUPPORTED
    if _YES_STATUS_RE.match(key):
        return SUPPORTED
    return None


def is_heading_like(line: str) -> bool:
    """A short line in capitals (or a short Title Case line without final punctuation)."""
    s = line.strip()
    letters = [c for c in s if c.isalpha()]
    if not letters or len(s) > 120 or s.startswith("*"):
        return False
    words = s.split()
    upper = sum(c.isupper() for c in letters) / len(letters)
    if upper >= 0.9 and len(words) <= 14:
        return True
    small = {"a", "an", "and", "of", "on", "the", "in", "to", "for", "or", "by", "with", "&"}
    title = all(w[:1].isupper() or w.lower() in small or not w[:1].isalpha() for w in words)
    return title and len(words) <= 6 and not s.endswith((".", ",", ";", "!", "?"))


def _first_words(text: str, n: int = HEADINGLESS_WORDS) -> str:
    words = text.split()
    return " ".join(words[:n]) + ("…" if len(words) > n else "")


def _overview_status(cells: list[str]) -> str | None:
    """The symbol decides, whatever column it sits in; a bare mark falls back on the column."""
    marks = "".join(cells[1:])
    tick, cross = any(c in _TICK for c in marks), any(c in _CROSS for c in marks)
    if tick != cross:
        return SUPPORTED if tick else NOT_SUPPORTED
    if tick and cross:
        return None
    filled = [i for i, c in enumerate(cells[1:3], 1) if c.strip().lower() in {"x", "yes", "y", "•"}]
    if len(filled) == 1:
        return SUPPORTED if filled[0] == 1 else NOT_SUPPORTED
    return None


def parse_policy_text(
    text: str,
    source: str = "<policy>",
    taxonomy: Taxonomy | None = None,
    encoding: str = "utf-8",
    bom: bool = False,
    warnings: list[str] | None = None,
) -> ParsedPolicy:
    """Parse decoded policy text into elements and clauses (with topics)."""
    schemas.require_type(text, str, "text", "parse_policy_text")
    warnings = list(warnings or [])
    taxonomy = taxonomy or load_taxonomy()
    products = load_products()
    aliases = heading_aliases(products)
    labels = {p.id: p.label for p in products}
    raw_lines = split_lines(text)
    stripped = [ln.rstrip("\r\n") for ln in raw_lines]

    def next_content(i: int) -> str | None:
        for j in range(i + 1, len(stripped)):
            if stripped[j].strip():
                return stripped[j]
        return None

    elements: list[dict] = []
    clauses: list[dict] = []
    counters: dict[tuple[str, str], int] = {}
    section = "preamble"  # preamble | table | product id
    product_label = ""
    status: str | None = None
    current: dict | None = None  # the clause being assembled
    seen_products: dict[str, int] = {}

    def open_clause(status_: str, heading: str, line_no: int, headed: bool) -> dict:
        nonlocal current
        key = (section, status_)
        counters[key] = counters.get(key, 0) + 1
        clause = {
            "clause_id": f"{section}.{STATUS_CODES[status_]}{counters[key]:02d}",
            "product": section,
            "product_label": product_label,
            "status": status_,
            "heading": heading,
            "text_lines": [],
            "line_start": line_no,
            "line_end": line_no,
            "headed": headed,
        }
        clauses.append(clause)
        current = clause
        return clause

    def add(line_no: int, kind: str, clause: dict | None = None) -> None:
        elements.append(
            {
                "line": line_no,
                "kind": kind,
                "product": None if section in ("preamble", "table") else section,
                "status": status,
                "clause_id": clause["clause_id"] if clause else None,
                "text": stripped[line_no - 1],
                "raw": raw_lines[line_no - 1],
            }
        )

    def product_of(line: str, i: int) -> str | None:
        key = heading_key(line)
        if not key or not is_heading_like(line) or status_of_marker(line):
            return None
        if key in aliases:
            return aliases[key]
        nxt = next_content(i)
        if nxt is not None and (
            status_of_marker(nxt) or nxt.lstrip().startswith("*") or _is_note_heading(nxt)
        ):
            return slugify(line)
        return None

    for i, line in enumerate(stripped):
        n = i + 1
        s = line.strip()
        if not s:
            add(n, "blank")
            continue
        if section == "preamble":
            nxt = next_content(i)
            if "|" in s and nxt is not None and _SEPARATOR_RE.match(nxt):
                section = "table"
                add(n, "overview_header")
                continue
            pid = product_of(s, i)
            if pid is None:
                add(n, "preamble")
                continue
        if section == "table":
            if _SEPARATOR_RE.match(s):
                add(n, "overview_header")
                continue
            if "|" in s:
                cells = [c.strip() for c in s.strip().strip("|").split("|")]
                st = _overview_status([c for c in s.split("|")][0:1] + cells[1:])
                if st is None or not cells[0]:
                    warnings.append(
                        f"{source}: line {n}: overview row has no clear ✔ or ✖; kept as unplaced: {s[:80]!r}"
                    )
                    add(n, "unplaced")
                    continue
                section_saved = section
                section = "overview"
                product_label = "Overview"
                status = st
                clause = open_clause(st, cells[0], n, True)
                clause["text_lines"].append(cells[0])
                section = section_saved
                status = None
                current = None
                elements.append(
                    {
                        "line": n,
                        "kind": "overview_row",
                        "product": "overview",
                        "status": st,
                        "clause_id": clause["clause_id"],
                        "text": line,
                        "raw": raw_lines[i],
                    }
                )
                continue
        pid = product_of(s, i)
        if pid is not None:
            if pid not in aliases.values():
                warnings.append(
                    f"{source}: line {n}: product section {s!r} is not in products.yaml; "
                    f"kept as {pid!r} (add the heading to products.yaml to map it)"
                )
            if pid in seen_products:
                warnings.append(
                    f"{source}: line {n}: product {pid!r} appears again (first at line "
                    f"{seen_products[pid]}); its clauses are numbered on"
                )
            seen_products.setdefault(pid, n)
            section, product_label, status, current = pid, s, None, None
            add(n, "product_heading")
            continue
        if section in ("preamble", "table"):
            warnings.append(f"{source}: line {n}: text outside any product section: {s[:80]!r}")
            add(n, "unplaced")
            continue
        st = status_of_marker(s)
        if st is not None:
            status, current = st, None
            add(n, "status_marker")
            continue
        if s.startswith("*"):
            clause = open_clause(NOTE, _first_words(s.lstrip("* ")), n, False)
            clause["text_lines"].append(s.lstrip("* ").strip())
            current = None  # a starred note is one line
            add(n, "note", clause)
            continue
        if _is_note_heading(s):
            clause = open_clause(NOTE, s, n, True)
            add(n, "note", clause)
            continue
        if is_heading_like(s):
            if status is None:
                warnings.append(
                    f"{source}: line {n}: heading {s!r} comes before any SUPPORTED / NON SUPPORTED "
                    "marker; kept as unplaced"
                )
                current = None
                add(n, "unplaced")
                continue
            open_clause(status, s, n, True)
            add(n, "clause_heading", current)
            continue
        # body text
        if current is not None and current["headed"]:
            current["text_lines"].append(s)
            current["line_end"] = n
            add(n, "note" if current["status"] == NOTE else "clause_body", current)
            continue
        if status is None:
            warnings.append(
                f"{source}: line {n}: text before any SUPPORTED / NON SUPPORTED marker; kept as unplaced"
            )
            add(n, "unplaced")
            continue
        clause = open_clause(status, _first_words(s), n, False)
        clause["text_lines"].append(s)
        add(n, "clause_body", clause)

    n_rows = sum(1 for c in clauses if c["product"] == "overview")
    n_sections = len(seen_products)
    if n_rows == 0 and n_sections == 0:
        raise KenolibError(
            f"{source}: no policy structure found (no ✔/✖ overview table and no product section "
            "with SUPPORTED / NON SUPPORTED headings); is this a support policy?"
        )
    for c in clauses:
        if not c["text_lines"]:
            warnings.append(
                f"{source}: line {c['line_start']}: clause {c['heading']!r} has no text; kept with an empty text"
            )
    elements_df = pd.DataFrame(elements, columns=schemas.ELEMENT_COLUMNS)
    clauses_df = _clauses_frame(clauses, taxonomy, warnings, source)
    for pid in seen_products:
        if pid not in labels:
            labels[pid] = pid
    return ParsedPolicy(
        elements=elements_df,
        clauses=clauses_df,
        source=source,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        encoding=encoding,
        bom=bom,
        text=text,
        warnings=warnings,
    )


def _is_note_heading(line: str) -> bool:
    return is_heading_like(line) and bool(_NOTE_HEADING_RE.search(normalise(line)))


def _clauses_frame(
    clauses: list[dict], taxonomy: Taxonomy, warnings: list[str], source: str
) -> pd.DataFrame:
    rows = []
    for c in clauses:
        text = "\n".join(c["text_lines"])
        topic, qualifier = classify_clause(c["heading"] if c["headed"] else "", text, taxonomy)
        if topic == UNMAPPED:
            warnings.append(
                f"{source}: line {c['line_start']}: clause {c['heading']!r} matches no topic in the "
                "taxonomy; add a synonym or pattern to taxonomy.yaml"
            )
        rows.append(
            {
                "clause_id": c["clause_id"],
                "product": c["product"],
                "product_label": c["product_label"],
                "status": c["status"],
                "heading": c["heading"],
                "topic": topic,
                "qualifier": qualifier,
                "text": text,
                "line_start": c["line_start"],
                "line_end": c["line_end"],
            }
        )
    df = pd.DataFrame(rows, columns=schemas.CLAUSE_COLUMNS)
    return schemas.check_frame(df, schemas.CLAUSE_COLUMNS, "clauses")


def parse_policy_bytes(
    data: bytes, source: str = "<policy>", taxonomy: Taxonomy | None = None
) -> ParsedPolicy:
    """Decode (UTF-8 with or without BOM, else cp1252 with a warning) and parse."""
    schemas.require_type(data, (bytes, bytearray), "data", "parse_policy_bytes")
    decoded: DecodedText = decode_bytes(data, source)
    return parse_policy_text(
        decoded.text, source, taxonomy, decoded.encoding, decoded.bom, decoded.warnings
    )


def parse_policy(
    path: str | os.PathLike[str] | None = None, taxonomy: Taxonomy | None = None
) -> ParsedPolicy:
    """Read and parse a policy file (default: the embedded Kenotronix policy)."""
    p = schemas.optional_path(path, "path", "parse_policy", config.DEFAULT_POLICY)
    decoded = read_text(p, max_bytes=config.MAX_POLICY_BYTES)
    return parse_policy_text(
        decoded.text, str(p), taxonomy, decoded.encoding, decoded.bom, decoded.warnings
    )


def load_clauses(path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The clause table of a policy file (CONTRACTS columns plus ``qualifier``)."""
    return parse_policy(path).clauses


def clause_counts(clauses: pd.DataFrame) -> pd.DataFrame:
    """Clauses per product and status (products in report order)."""
    clauses = schemas.require_frame(clauses, "clauses", "clause_counts", ["product", "status"])
    order = {p: i for i, p in enumerate(p.id for p in load_products())}
    counts = clauses.groupby(["product", "status"]).size().unstack(fill_value=0)
    for col in (SUPPORTED, NOT_SUPPORTED, NOTE):
        if col not in counts:
            counts[col] = 0
    counts = counts[[SUPPORTED, NOT_SUPPORTED, NOTE]]
    return counts.sort_index(key=lambda idx: idx.map(lambda p: order.get(p, len(order))))
