"""The signals file's schema: its keys, their kinds and defaults, checked once on load.

``ticket_signals.yaml`` (and ``ownership.yaml``) are data the classifier is built from. A key
this module does not know is refused (a misspelt key would otherwise be silently ignored), a
value of the wrong kind is refused, and every error names the file and the key. Defaults live
here and nowhere else: the rest of the package reads ``spec[key]`` without ``.get`` fallbacks.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np

from kenolib import config
from kenolib.datafiles import (
    Check,
    integer,
    mapping_of,
    nullable_list,
    number,
    record,
    str_list,
    text,
    validate,
)
from kenolib.errors import KenolibError
from kenolib.files import read_yaml

# The generic part (checks, ``validate``) lives in ``kenolib.datafiles``: one loader for
# every data file of the package.
_str_list, _number, _int, _str = str_list, number, integer, text
_mapping_of, _nullable_list = mapping_of, nullable_list

#: ``model`` in the signals file: where the learned model weighs in (:mod:`kenolib.classify.judge`).
#: key -> (check, default); a ``signals_min_proba`` of -1 means ``min_proba``. The defaults leave
#: every ticket to the rules.
MODEL_SCHEMA: dict[str, tuple[Check, Any]] = {
    "below_margin": (number, 0.0),  # the full model reads rows whose rule margin is under this
    "min_proba": (number, 1.01),  # the verdict probability it needs to move a row
    "signals_below": (number, 0.0),  # the cheap part weighs the band up to this margin
    "signals_min_proba": (number, -1),  # the probability the cheap part needs to move a row
    "signals_gate": (number, 0.0),  # a band row whose cheap part is less sure is read in full
}


#: One product's entry under ``model_products``: only ``below_margin`` (a product without it keeps
#: ``model.below_margin``).
MODEL_PRODUCT_SCHEMA: dict[str, tuple[Check, Any]] = {"below_margin": (number, float("nan"))}


def model_settings(spec: dict[str, Any]) -> dict[str, float]:
    """The signals file's ``model`` settings with every default filled in."""
    m = {
        k: float(spec.get("model", {}).get(k, default)) for k, (_, default) in MODEL_SCHEMA.items()
    }
    if m["signals_min_proba"] < 0:
        m["signals_min_proba"] = m["min_proba"]
    return m


#: key -> (check, default). ``None`` default: required.
SIGNALS_SCHEMA: dict[str, tuple[Check, Any]] = {
    "stopwords": (_str_list, []),
    "owner_words": (_str_list, []),
    "phrase_gap": (_int, 3),
    "subject_weight": (_number, 2.5),
    "body_chars": (_int, 1500),
    "quote_markers": (_str_list, []),
    "signature_lines": (_str_list, []),
    "reply_prefixes": (_str_list, []),
    "reply_subject_weight": (_number, 1.0),
    "closing_words": (_str_list, []),
    "taxonomy_weight": (_number, 1.0),
    "weights": (_mapping_of(_number, "strength -> weight"), {"strong": 4.0, "words": 2.0}),
    "model": (record(MODEL_SCHEMA), {}),
    "model_products": (_mapping_of(record(MODEL_PRODUCT_SCHEMA), "products"), {}),
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
    "self_hosted": (_str_list, []),
    "saas_products": (_str_list, []),
    "saas_contested_topics": (_str_list, []),
    "platform_topics": (_str_list, []),
    "redirect": (_mapping_of(_mapping_of(_str, "product -> topic"), "owners"), {}),
    "min_margin_keep": (_number, 0.6),
    "min_margin_keep_named": (_number, 0.6),
    "unknown_name_max_zipf": (_number, 2.0),
    "unknown_name_min_length": (_int, 4),
    "unknown_name_context": (_str_list, []),
}


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


def below_by_product(
    settings: dict[str, dict[str, float]], products: list[str]
) -> np.ndarray | None:
    """``model.below_margin`` per product from ``model_products`` (its settings checked by the
    schema on load): NaN for a product it does not name (that product keeps
    ``model.below_margin``); ``None`` when it names none. An unknown product is refused."""
    if not settings:
        return None
    out = np.full(len(products), np.nan, dtype=np.float64)
    for product, values in settings.items():
        if product not in products:
            raise KenolibError(
                f"ticket_signals.yaml: model_products names an unknown product {product!r}; "
                f"use one of {', '.join(products)}"
            )
        default = MODEL_PRODUCT_SCHEMA["below_margin"][1]
        out[products.index(product)] = float(values.get("below_margin", default))
    return out
