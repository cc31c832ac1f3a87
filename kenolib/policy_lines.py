"""What one line of a policy is: its markup, numbering, bullet, label, heading and table marks.

The parser (``kenolib.policy``) asks these questions of every line; the wordings it accepts as
list labels and table marks live in ``kenolib/data/policy_labels.yaml``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from kenolib import config
from kenolib import datafiles as df_
from kenolib.errors import KenolibError
from kenolib.taxonomy import heading_key, normalise

SUPPORTED, NOT_SUPPORTED = "supported", "not_supported"
LABELS_FILE = config.PACKAGE_DATA / "policy_labels.yaml"
_LABEL_KEYS = (
    "supported",
    "not_supported",
    "suffixes",
    "marks_supported",
    "marks_not_supported",
    "marks_placed",
    "marks_negative",
)

_MD_HEADING_RE = re.compile(r"^(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
_QUOTE_RE = re.compile(r"^>\s?")
_BULLET_RE = re.compile(r"^(?:([•◦▪▫·‣⁃●○■□➢➤►])\s*|([-+*–])\s+)")
_NUMBER_RE = re.compile(r"^(\d{1,2}(?:\.\d{1,2})+)\.?\s+(?=\S)|^(\d{1,2})[.)]\s+(?=\S)")
_BOLD_LEAD_RE = re.compile(r"^(\*\*|__)(.+?)\1\s*(.*)$")
_LINK_RE = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_EMPHASIS_RE = re.compile(r"(\*\*|__)(.+?)\1")
_INLINE_RE = re.compile(r"^([^.:;!?]{2,90}?)[.:]\s+([\"“'(A-Z0-9].*)$")
_TRADEMARK_RE = re.compile(r"[®™©℠]")
_CODE_RE = re.compile(r"^\(\s*[a-z0-9]{1,6}\s*\)\s*")
_BRACKETS_RE = re.compile(r"\s*\(([^)]*)\)")
_NOT_HEADING_WORDS = frozenset(
    "we you your our us is are was were will would can cannot could do does did must should may "
    "not be been it its this these they their there has have had i he she his her if when".split()
)
_ABBREVIATIONS = ("etc", "e.g", "i.e", "inc", "ltd", "vs", "no", "approx")
HEADING_MAX_WORDS = 12


@dataclass(frozen=True)
class Labels:
    """List-label wordings (compared without spaces) and overview-table marks."""

    supported: frozenset[str]
    not_supported: frozenset[str]
    suffixes: tuple[str, ...]
    marks_supported: frozenset[str]
    marks_not_supported: frozenset[str]
    marks_placed: frozenset[str]
    marks_negative: frozenset[str]
    source: str = ""


def _label_key(text: str) -> str:
    key = normalise(text).replace("-", " ").replace("_", " ")
    return re.sub(r"[\s:.]+$", "", key).strip()


#: ``policy_labels.yaml``: every key a list of label wordings or table marks.
LABELS_SCHEMA: df_.Schema = {key: (df_.anything, []) for key in _LABEL_KEYS}


def load_labels(path: str | Path | None = None) -> Labels:
    """Load and validate ``policy_labels.yaml`` (unknown keys are refused, naming the key)."""
    return _load_labels_cached(str(Path(path) if path else LABELS_FILE))


@functools.lru_cache(maxsize=4)
def _load_labels_cached(path: str) -> Labels:
    data = df_.load(path, LABELS_SCHEMA, "policy labels")
    lists: dict[str, list[str]] = {}
    for key in _LABEL_KEYS:
        values = data.get(key) or []
        if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
            raise KenolibError(f"{path}: {key!r} must be a list of quoted, non-empty strings")
        lists[key] = values
    for key in ("supported", "not_supported"):
        if not lists[key]:
            raise KenolibError(f"{path}: {key!r} needs at least one label wording")

    def keys(name: str) -> frozenset[str]:
        return frozenset(_label_key(v).replace(" ", "") for v in lists[name])

    def marks(name: str) -> frozenset[str]:
        return frozenset(normalise(v) for v in lists[name])

    return Labels(
        keys("supported"),
        keys("not_supported"),
        tuple(_label_key(s) for s in lists["suffixes"]),
        marks("marks_supported"),
        marks("marks_not_supported"),
        marks("marks_placed"),
        marks("marks_negative"),
        path,
    )


@dataclass(frozen=True)
class Line:
    """One source line read for structure: ``text`` is its content without markup."""

    raw: str
    text: str
    indent: int = 0
    md_level: int | None = None
    number: str | None = None
    bullet: str | None = None
    bold_lead: str | None = None
    bold_rest: str = ""

    @property
    def level(self) -> tuple[str, int] | None:
        """``("md", n)`` for a Markdown heading, ``("num", depth)`` for a numbered line."""
        if self.md_level is not None:
            return ("md", self.md_level)
        if self.number is not None:
            return ("num", self.number.count(".") + 1)
        return None

    @property
    def whole_bold(self) -> bool:
        """The whole line is bold (``**Heading**``): a heading cue."""
        return self.bold_lead is not None and not self.bold_rest


def read_line(line: str) -> Line:
    """Read the cues of one line (without its line end): indent, ``#``, bullet, number, bold."""
    expanded = line.expandtabs(4)
    indent = len(expanded) - len(expanded.lstrip())
    t = line.strip()
    md_level = None
    m = _MD_HEADING_RE.match(t)
    if m:
        md_level, t = len(m.group(1)), m.group(2)
    while _QUOTE_RE.match(t):
        t = _QUOTE_RE.sub("", t, count=1).strip()
    bullet = number = None
    m = _BULLET_RE.match(t)
    if m:
        bullet, t = m.group(1) or m.group(2), t[m.end() :]
    m = _NUMBER_RE.match(t)
    if m:
        number, t = m.group(1) or m.group(2), t[m.end() :]
    bold_lead, bold_rest = None, ""
    if "*" in t or "_" in t or "[" in t:
        t = _LINK_RE.sub(r"\1", t)
        m = _BOLD_LEAD_RE.match(t)
        if m:
            bold_lead, bold_rest = m.group(2).strip(), _EMPHASIS_RE.sub(r"\2", m.group(3)).strip()
        t = _EMPHASIS_RE.sub(r"\2", t).strip()
        if len(t) > 2 and t[0] == t[-1] and t[0] in "*_":
            t = t[1:-1].strip()
    return Line(line, t.strip(), indent, md_level, number, bullet, bold_lead, bold_rest)


def label_status(text: str, labels: Labels | None = None) -> str | None:
    """``supported`` / ``not_supported`` when the text (without markup) is a list label."""
    if "|" in text:
        return None
    labels = labels or load_labels()
    key = _label_key(text)
    for suffix in labels.suffixes:
        if key.endswith(" " + suffix):
            key = key[: -len(suffix) - 1].strip()
            break
    key = key.replace(" ", "")
    if key in labels.not_supported:
        return NOT_SUPPORTED
    if key in labels.supported:
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
    return title and len(words) <= HEADING_MAX_WORDS and not s.endswith((".", ",", ";", "!", "?"))


def short_title(text: str, max_words: int = 10) -> bool:
    """A phrase that reads as an item's title, not a sentence (no pronoun or auxiliary verb)."""
    words = [w.strip(".,:;()'\"").lower() for w in text.split()]
    if not words or len(words) > max_words or not text[:1].isupper():
        return False
    if words[-1] in _ABBREVIATIONS or text.rstrip(".").endswith(_ABBREVIATIONS):
        return False
    return not any(w in _NOT_HEADING_WORDS for w in words)


def split_inline(line: Line) -> tuple[str, str] | None:
    """``(heading, text)`` for an inline item such as ``DNS zone file. DNS zone files …``."""
    if line.bold_lead is not None and line.bold_rest:
        return line.bold_lead.rstrip(" .:"), line.bold_rest
    m = _INLINE_RE.match(line.text)
    if m and short_title(m.group(1)):
        return m.group(1).strip(), m.group(2).strip()
    return None


def product_keys(text: str) -> list[str]:
    """Keys to look a section heading up in ``products.yaml``, most literal first.

    Drops ®/™ signs and a bracketed product code (``(gs) Grid-Service``); a bracketed former
    name (``Microsoft® 365 (Office 365)``) is tried both ways.
    """
    base = _TRADEMARK_RE.sub("", text)
    base = _CODE_RE.sub("", normalise(base))
    keys = [heading_key(base), heading_key(_BRACKETS_RE.sub("", base))]
    keys += [heading_key(inner) for inner in _BRACKETS_RE.findall(base)]
    return [k for i, k in enumerate(keys) if k and k not in keys[:i]]


def mark_status(marks: list[str], labels: Labels | None = None) -> str | None:
    """The status an overview row's mark cells give: a tick or cross decides, else the column."""
    labels = labels or load_labels()
    keys = [normalise(c) for c in marks]
    symbols_yes = {m for m in labels.marks_supported if len(m) <= 2}
    symbols_no = {m for m in labels.marks_not_supported if len(m) <= 2}
    tick = any(k in labels.marks_supported or any(s in k for s in symbols_yes) for k in keys)
    cross = any(k in labels.marks_not_supported or any(s in k for s in symbols_no) for k in keys)
    if tick != cross:
        return SUPPORTED if tick else NOT_SUPPORTED
    if tick and cross:
        return None
    placed = [i for i, k in enumerate(keys[:2]) if k in labels.marks_placed]
    negative = [i for i, k in enumerate(keys[:2]) if k in labels.marks_negative]
    if len(placed) == 1 and placed != negative:
        return SUPPORTED if placed[0] == 0 else NOT_SUPPORTED
    if negative == [0] and not placed:
        return NOT_SUPPORTED
    return None
