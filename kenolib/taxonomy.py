"""The canonical topic taxonomy and product aliases, loaded from the YAML data files."""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from kenolib import config
from kenolib import datafiles as df_
from kenolib.errors import KenolibError
from kenolib.schemas import require_series, require_type

UNMAPPED = "unmapped"
UNKNOWN_PRODUCT = "unknown"

_QUOTES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2010": "-",
        "\u2011": "-",
        "\u00a0": " ",
        "\u202f": " ",
    }
)
_SPACES = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Lower-case text with curly quotes, dashes and odd spaces straightened and spaces collapsed."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    return _SPACES.sub(" ", text).strip().lower()


def heading_key(text: str) -> str:
    """Key for comparing headings: normalised, section numbers and end punctuation removed."""
    key = normalise(text)
    key = re.sub(r"^(section\s+)?\d+(\.\d+)*[.)]?\s+", "", key)
    key = re.sub(r"[\s:.;,!]+$", "", key)
    key = key.replace("&", "and")
    return _SPACES.sub(" ", key)


def slugify(text: str) -> str:
    """A lower-case identifier made of letters, digits and underscores."""
    slug = re.sub(r"[^a-z0-9]+", "_", heading_key(text)).strip("_")
    return slug or "section"


def _compile_terms(synonyms: list[str], patterns: list[str], where: str) -> re.Pattern[str] | None:
    parts = [r"(?<![a-z0-9])" + re.escape(normalise(s)) + r"(?![a-z0-9])" for s in synonyms]
    for p in patterns:
        try:
            re.compile(p)
        except re.error as exc:
            raise KenolibError(
                f"{where}: bad pattern {p!r}: {exc}; fix the taxonomy file"
            ) from None
        parts.append(f"(?:{p})")
    return re.compile("|".join(parts)) if parts else None


@dataclass(frozen=True)
class Qualifier:
    id: str
    label: str
    regex: re.Pattern[str] | None


@dataclass(frozen=True)
class Topic:
    id: str
    label: str
    description: str
    synonyms: tuple[str, ...]
    patterns: tuple[str, ...]
    regex: re.Pattern[str] | None
    qualifiers: tuple[Qualifier, ...] = ()
    default_qualifier: str | None = None
    clause_topic: bool = True


@dataclass(frozen=True)
class Taxonomy:
    topics: tuple[Topic, ...]
    source: str = ""
    by_id: dict[str, Topic] = field(default_factory=dict, compare=False)

    def topic_ids(self) -> list[str]:
        return [t.id for t in self.topics]


#: ``taxonomy.yaml``: topics in file order (the first that matches a clause wins).
QUALIFIER_SCHEMA: df_.Schema = {
    "id": (df_.text, None),
    "label": (df_.text, ""),
    "patterns": (df_.str_list, []),
}
TOPIC_SCHEMA: df_.Schema = {
    "id": (df_.text, None),
    "label": (df_.text, None),
    "description": (df_.text, None),
    "synonyms": (df_.str_list, []),
    "patterns": (df_.str_list, []),
    "qualifiers": (df_.list_of(df_.record(QUALIFIER_SCHEMA)), []),
    "default": (df_.text, ""),
    "clause_topic": (df_.boolean, True),
}
TAXONOMY_SCHEMA: df_.Schema = {"topics": (df_.list_of(df_.record(TOPIC_SCHEMA)), None)}
#: ``products.yaml``: canonical products in report order.
PRODUCT_SCHEMA: df_.Schema = {
    "id": (df_.text, None),
    "label": (df_.text, ""),
    "family": (df_.text, ""),
    "headings": (df_.str_list, []),
    "labels": (df_.str_list, []),
}
PRODUCTS_SCHEMA: df_.Schema = {"products": (df_.list_of(df_.record(PRODUCT_SCHEMA)), None)}


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Load and validate the topic taxonomy (default: the bundled ``taxonomy.yaml``)."""
    path = Path(path) if path else config.TAXONOMY_FILE
    return _load_taxonomy_cached(str(path))


@functools.lru_cache(maxsize=8)
def _load_taxonomy_cached(path: str) -> Taxonomy:
    data = df_.load(path, TAXONOMY_SCHEMA, "taxonomy")
    topics: list[Topic] = []
    seen: set[str] = set()
    for i, raw in enumerate(data["topics"], 1):
        where = f"{path}: topic {i}"
        missing = [k for k in ("id", "label", "description") if not raw.get(k)]
        if missing:
            raise KenolibError(f"{where}: missing {', '.join(missing)}")
        tid = str(raw["id"])
        if tid in seen:
            raise KenolibError(f"{where}: duplicate topic id {tid!r}")
        seen.add(tid)
        quals = tuple(
            Qualifier(
                str(q["id"]),
                str(q.get("label", q["id"])),
                _compile_terms([], list(q.get("patterns") or []), f"{where} qualifier {q['id']}"),
            )
            for q in raw.get("qualifiers") or []
        )
        default = raw.get("default")
        if default is not None and default not in {q.id for q in quals}:
            raise KenolibError(f"{where}: default {default!r} is not one of its qualifiers")
        syn = tuple(str(s) for s in raw.get("synonyms") or [])
        pats = tuple(str(p) for p in raw.get("patterns") or [])
        topics.append(
            Topic(
                tid,
                str(raw["label"]),
                str(raw["description"]),
                syn,
                pats,
                _compile_terms(list(syn), list(pats), where),
                quals,
                default,
                bool(raw.get("clause_topic", True)),
            )
        )
    tax = Taxonomy(tuple(topics), path)
    tax.by_id.update({t.id: t for t in topics})
    return tax


def topics_frame(taxonomy: Taxonomy | None = None) -> pd.DataFrame:
    """The taxonomy as a frame: one row per topic."""
    tax = taxonomy or load_taxonomy()
    return pd.DataFrame(
        [
            {
                "topic": t.id,
                "label": t.label,
                "description": t.description,
                "synonyms": "; ".join(t.synonyms),
                "qualifiers": "; ".join(q.id for q in t.qualifiers),
                "clause_topic": t.clause_topic,
            }
            for t in tax.topics
        ]
    )


def classify_clause(heading: str, text: str, taxonomy: Taxonomy | None = None) -> tuple[str, str]:
    """Map one clause to ``(topic, qualifier)``: the heading decides first, then the text.

    Returns ``("unmapped", "")`` when no topic matches.
    """
    require_type(heading, str, "heading", "classify_clause")
    require_type(text, str, "text", "classify_clause")
    tax = taxonomy or load_taxonomy()
    h, t = heading_key(heading), normalise(text)
    topic = None
    for candidate in (h, t):
        topic = next(
            (tp for tp in tax.topics if tp.regex is not None and tp.regex.search(candidate)), None
        )
        if topic is not None:
            break
    if topic is None:
        return UNMAPPED, ""
    both = f"{h} {t}"
    qual = next(
        (q.id for q in topic.qualifiers if q.regex is not None and q.regex.search(both)), ""
    )
    return topic.id, qual


# ---------------------------------------------------------------------------------------------
# Products


@dataclass(frozen=True)
class Product:
    id: str
    label: str
    family: str
    headings: tuple[str, ...]
    labels: tuple[str, ...]


def load_products(path: str | Path | None = None) -> tuple[Product, ...]:
    """Load the canonical products, in report order, from ``products.yaml``."""
    return _load_products_cached(str(Path(path) if path else config.PRODUCTS_FILE))


@functools.lru_cache(maxsize=8)
def _load_products_cached(path: str) -> tuple[Product, ...]:
    data = df_.load(path, PRODUCTS_SCHEMA, "product aliases")
    out = []
    for raw in data.get("products", []):
        out.append(
            Product(
                str(raw["id"]),
                str(raw.get("label", raw["id"])),
                str(raw.get("family", raw["id"])),
                tuple(str(h) for h in raw.get("headings") or []),
                tuple(str(h) for h in raw.get("labels") or []),
            )
        )
    if not out:
        raise KenolibError(f"{path}: no products defined")
    return tuple(out)


def topic_order(taxonomy: Taxonomy | None = None) -> tuple[str, ...]:
    """Topic ids in taxonomy order (the vocabulary's topic order: data, in ``taxonomy.yaml``)."""
    return tuple((taxonomy or load_taxonomy()).topic_ids())


def topic_labels(taxonomy: Taxonomy | None = None) -> dict[str, str]:
    """Topic id -> label (``taxonomy.yaml``)."""
    return {t.id: t.label for t in (taxonomy or load_taxonomy()).topics}


def product_labels(products: tuple[Product, ...] | None = None) -> dict[str, str]:
    """Product id -> display label (``products.yaml``; the id for a product without one)."""
    return {p.id: p.label or p.id for p in (products or load_products())}


def product_ids(products: tuple[Product, ...] | None = None) -> list[str]:
    """Canonical product ids in report order (``overview`` first)."""
    return [p.id for p in (products or load_products())]


def product_families(products: tuple[Product, ...] | None = None) -> dict[str, str]:
    """Map product id to its family."""
    return {p.id: p.family for p in (products or load_products())}


def heading_aliases(products: tuple[Product, ...] | None = None) -> dict[str, str]:
    """Map a normalised section heading to its product id."""
    out: dict[str, str] = {}
    for p in products or load_products():
        for h in p.headings:
            out[heading_key(h)] = p.id
    return out


def label_aliases(products: tuple[Product, ...] | None = None) -> dict[str, str]:
    """Map a normalised helpdesk product label (and each product id) to its product id."""
    out: dict[str, str] = {}
    for p in products or load_products():
        if p.id == "overview":
            continue
        for h in (*p.labels, *p.headings, p.id, p.label):
            out[heading_key(h)] = p.id
    return out


def products_of_labels(labels: pd.Series) -> pd.Series:
    """The product id each helpdesk label names (via ``products.yaml``), ``""`` when none.

    Each distinct label is looked up once, so this stays cheap on millions of tickets.
    """
    labels = require_series(labels, "labels", "products_of_labels")
    aliases = label_aliases()
    codes, uniq = pd.factorize(labels.fillna("").astype(str), sort=False)
    mapped = np.array([aliases.get(heading_key(u), "") for u in uniq] + [""], dtype=object)
    return pd.Series(mapped[codes], index=labels.index, dtype=object)  # code -1 (NA) -> ""
