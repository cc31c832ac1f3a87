"""Parsing a support policy into elements (one per source line) and clauses, losslessly.

Every line of the source becomes exactly one element; ``rebuild_source(elements)`` gives the
decoded text back byte for byte. Clauses are assembled from the elements and mapped to topics.
HTML and Word files are first read into Markdown-like text (``kenolib.policy_formats``); their
elements then rebuild that text. What each line is (label, heading, bullet, number, table marks)
is decided by ``kenolib.policy_lines``.

Element kinds: ``preamble``, ``overview_header`` (the table's header and separator lines),
``overview_row`` (a table row or an item of the overview lists), ``product_heading``,
``status_marker`` (a list label), ``clause_heading``, ``clause_body``, ``note``, ``blank`` and
``unplaced`` (a line the parser could not place; reported, kept).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

import pandas as pd

from kenolib import config, schemas
from kenolib.files import DecodedText, decode_bytes
from kenolib.policy_formats import read_policy_file
from kenolib.policy_lines import is_heading_like, label_status, read_line
from kenolib.policy_parser import (
    NOT_SUPPORTED,
    NOTE,
    STATUS_CODES,
    STATUS_NAMES,
    SUPPORTED,
    PolicyParser,
    split_lines,
)
from kenolib.taxonomy import UNMAPPED, Taxonomy, classify_clause, load_products, load_taxonomy

__all__ = [
    "NOT_SUPPORTED",
    "NOTE",
    "STATUS_CODES",
    "SUPPORTED",
    "ParsedPolicy",
    "clause_counts",
    "format_outline",
    "is_heading_like",
    "parse_policy",
    "parse_policy_bytes",
    "parse_policy_text",
    "rebuild_source",
    "split_lines",
    "status_of_marker",
]


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
    #: ``text`` (also ``.txt``, ``.md``), ``html`` or ``docx``: what ``text`` was read from.
    format: str = "text"
    #: Product sections and list labels found, in order (what ``kenolib outline`` prints).
    structure: list[dict] = field(default_factory=list)

    def rebuild(self) -> str:
        """The decoded source text (for HTML and Word: the text read from it), rebuilt."""
        return rebuild_source(self.elements)


def rebuild_source(elements: pd.DataFrame) -> str:
    """Concatenate the raw lines of the elements: equals the decoded source text."""
    return "".join(elements.sort_values("line")["raw"].tolist())


def status_of_marker(line: str) -> str | None:
    """``supported`` / ``not_supported`` if the line is a list label, else None."""
    return label_status(read_line(line).text)


def parse_policy_text(
    text: str,
    source: str = "<policy>",
    taxonomy: Taxonomy | None = None,
    encoding: str = "utf-8",
    bom: bool = False,
    warnings: list[str] | None = None,
    fmt: str = "text",
) -> ParsedPolicy:
    """Parse decoded policy text (plain, Markdown or read from HTML / Word) into clauses."""
    schemas.require_type(text, str, "text", "parse_policy_text")
    parser = PolicyParser(text, source, list(warnings or []))
    parser.run()
    elements_df = pd.DataFrame(parser.elements, columns=schemas.ELEMENT_COLUMNS)
    clauses_df = _clauses_frame(
        parser.clauses, taxonomy or load_taxonomy(), parser.warnings, source
    )
    return ParsedPolicy(
        elements=elements_df,
        clauses=clauses_df,
        source=source,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        encoding=encoding,
        bom=bom,
        text=text,
        warnings=parser.warnings,
        format=fmt,
        structure=parser.structure,
    )


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
    """Read and parse a policy file: ``.txt``, ``.md``, ``.html``/``.htm`` or ``.docx``.

    Default: the embedded Kenotronix policy.
    """
    p = schemas.optional_path(path, "path", "parse_policy", config.DEFAULT_POLICY)
    decoded, fmt = read_policy_file(p, max_bytes=config.MAX_POLICY_BYTES)
    return parse_policy_text(
        decoded.text, str(p), taxonomy, decoded.encoding, decoded.bom, decoded.warnings, fmt
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


def format_outline(parsed: ParsedPolicy) -> str:
    """The structure found in a policy, for a reader to confirm: products, labels, items, warnings."""
    c = parsed.clauses
    n_lines = len(parsed.elements)
    out = [f"{parsed.source}: read as {parsed.format}, {n_lines} lines, {len(c)} clauses"]
    notes = c[c["status"] == NOTE].groupby("product").size()
    overview = c[c["product"] == "overview"]["status"].value_counts()
    if not overview.empty and not any(s["kind"] == "table" for s in parsed.structure):
        out.append("overview (two lists)")
    for s in parsed.structure:
        if s["kind"] == "table":
            out.append(
                f"overview (table at line {s['line']}): {int(overview.get(SUPPORTED, 0))} "
                f"supported, {int(overview.get(NOT_SUPPORTED, 0))} not supported"
            )
        elif s["kind"] == "product":
            n_notes = int(notes.get(s["product"], 0))
            note = f", {n_notes} note{'s' if n_notes > 1 else ''}" if n_notes else ""
            out.append(f"{s['product']} ({s['text']!r}, line {s['line']}{note})")
        else:
            items = f"{s['items']} item{'' if s['items'] == 1 else 's'}"
            items += " (the next label continues it)" if s.get("continued") else ""
            out.append(
                f"    {STATUS_NAMES[s['status']]}: {s['text']!r} (line {s['line']}): {items}"
            )
    out.append(f"{len(parsed.warnings)} warning{'' if len(parsed.warnings) == 1 else 's'}")
    out += [f"warning: {w}" for w in parsed.warnings]
    return "\n".join(out)
