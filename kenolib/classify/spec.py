"""The signals file's schema: its keys, their kinds and defaults, checked once on load.

``ticket_signals.yaml`` (and ``ownership.yaml``) are data the classifier is built from. A key
this module does not know is refused (a misspelt key would otherwise be silently ignored), a
value of the wrong kind is refused, and every error names the file and the key. Defaults live
here and nowhere else: the rest of the package reads ``spec[key]`` without ``.get`` fallbacks.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kenolib import config
from kenolib.errors import KenolibError
from kenolib.files import read_yaml

Check = Callable[[Any], str | None]  # returns an error text, or None when the value is fine


def _str_list(v: Any) -> str | None:
    if not isinstance(v, list) or not all(isinstance(x, str | int | float) for x in v):
        return "expected a list of words or phrases"
    return None


def _number(v: Any) -> str | None:
    return None if isinstance(v, int | float) and not isinstance(v, bool) else "expected a number"


def _int(v: Any) -> str | None:
    return None if isinstance(v, int) and not isinstance(v, bool) else "expected a whole number"


def _mapping_of(inner: Check, depth_name: str) -> Check:
    def check(v: Any) -> str | None:
        if not isinstance(v, dict):
            return f"expected a mapping of {depth_name}"
        for k, x in v.items():
            err = inner(x)
            if err:
                return f"{k}: {err}"
        return None

    return check


def _str(v: Any) -> str | None:
    return None if isinstance(v, str) else "expected a text"


def _nullable_list(v: Any) -> str | None:
    return None if v is None else _str_list(v)


#: key -> (check, default). ``None`` default: required.
SIGNALS_SCHEMA: dict[str, tuple[Check, Any]] = {
    "stopwords": (_str_list, []),
    "phrase_gap": (_int, 3),
    "subject_weight": (_number, 2.5),
    "body_chars": (_int, 600),
    "quote_markers": (_str_list, []),
    "signature_lines": (_str_list, []),
    "reply_prefixes": (_str_list, []),
    "reply_subject_weight": (_number, 1.0),
    "closing_words": (_str_list, []),
    "taxonomy_weight": (_number, 1.0),
    "weights": (_mapping_of(_number, "strength -> weight"), {"strong": 4.0, "words": 2.0}),
    "model": (_mapping_of(_number, "model settings"), {}),
    "exclude_taxonomy_synonyms": (_str_list, []),
    "topics": (_mapping_of(_mapping_of(_nullable_list, "strength -> phrases"), "topics"), None),
    "products": (_mapping_of(_str_list, "product -> phrases"), {}),
    "colocation": (_str_list, []),
    "colocation_labels": (_str_list, []),
    "qualifiers": (_mapping_of(_mapping_of(_str_list, "qualifier -> phrases"), "topics"), {}),
    "product_topics": (_mapping_of(_mapping_of(_str, "topic -> topic"), "products"), {}),
    "product_scope": (_mapping_of(_str_list, "product -> topics"), {}),
    "clause_hints": (_mapping_of(_mapping_of(_str_list, "heading -> phrases"), "products"), {}),
    "calibration": (_mapping_of(lambda v: None, "calibration fields"), {}),
    "symptom_topics": (_mapping_of(_number, "topic -> factor"), {}),
    "symptom_min_other": (_number, 4.0),
}

#: The ownership lexicon (``ownership.yaml``): who owns the thing a ticket is about.
OWNERSHIP_SCHEMA: dict[str, tuple[Check, Any]] = {
    "sources": (_str_list, []),
    "weight": (_number, 3.0),
    "platform": (_str_list, []),
    "customer": (_str_list, []),
    "third_party": (_str_list, []),
    "platform_topics": (_str_list, []),
    "redirect": (_mapping_of(_mapping_of(_str, "product -> topic"), "owners"), {}),
    "min_margin_keep": (_number, 0.6),
    "min_margin_keep_named": (_number, 0.6),
    "unknown_name_max_zipf": (_number, 2.0),
    "unknown_name_min_length": (_int, 4),
}


def validate(data: Any, schema: dict[str, tuple[Check, Any]], source: Path) -> dict[str, Any]:
    """Check ``data`` against ``schema``; return it with defaults filled in.

    Raises :class:`KenolibError` naming the file and the key for an unknown key, a missing
    required key or a value of the wrong kind.
    """
    if not isinstance(data, dict):
        raise KenolibError(f"{source}: expected a mapping of keys at the top level")
    unknown = sorted(set(data) - set(schema))
    if unknown:
        raise KenolibError(
            f"{source}: unknown key(s) {', '.join(map(str, unknown))}; "
            f"known keys: {', '.join(schema)}"
        )
    out: dict[str, Any] = {}
    for key, (check, default) in schema.items():
        if key not in data or data[key] is None:
            if default is None:
                raise KenolibError(f"{source}: missing required key {key!r}")
            out[key] = default
            continue
        err = check(data[key])
        if err:
            raise KenolibError(f"{source}: {key}: {err}")
        out[key] = data[key]
    return out


def load_signals_file(path: str | None = None) -> dict[str, Any]:
    """The validated signal lists (``kenolib/data/ticket_signals.yaml``), defaults filled in."""
    return _load_cached(str(Path(path) if path else config.TICKET_SIGNALS_FILE), "signals")


def load_ownership_file(path: str | None = None) -> dict[str, Any]:
    """The validated ownership lexicon (``kenolib/data/ownership.yaml``)."""
    return _load_cached(str(Path(path) if path else config.OWNERSHIP_FILE), "ownership")


@functools.lru_cache(maxsize=8)
def _load_cached(path: str, kind: str) -> dict[str, Any]:
    p = Path(path)
    schema = SIGNALS_SCHEMA if kind == "signals" else OWNERSHIP_SCHEMA
    return validate(read_yaml(p, f"{kind} file"), schema, p)
