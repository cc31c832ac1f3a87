"""One typed loader for the package's YAML data files: unknown keys refused, errors named.

Every data file (taxonomy, products, helpdesks, policy labels, report theme, synthetic
vocabulary, and the classifier's signals and ownership lexicon) is described by a *schema*: a
mapping ``key -> (check, default)``. :func:`validate` refuses a key the schema does not know (a
misspelt key would otherwise be silently ignored), a missing required key (default ``REQUIRED``,
spelt ``None``) and a value of the wrong kind, naming the file and the key path
(``taxonomy.yaml: topics: [3]: synonymz: unknown key``). Defaults live in the schema and nowhere
else. Checks are plain functions returning an error text or ``None``; :func:`record`,
:func:`list_of` and :func:`mapping_of` compose them for nested sections (the gptables theme and
spaCy's pattern validation are the models).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kenolib.errors import KenolibError
from kenolib.files import read_yaml

#: A check returns an error text, or None when the value is fine.
Check = Callable[[Any], str | None]
#: key -> (check, default); a ``None`` default means the key is required.
Schema = dict[str, tuple[Check, Any]]


def str_list(v: Any) -> str | None:
    """A list of words or phrases (numbers allowed: YAML reads ``365`` as a number; a boolean is
    refused: YAML reads a bare on, off, yes or no as one, and ``on`` would become "True")."""
    if not isinstance(v, list) or not all(isinstance(x, str | int | float) for x in v):
        return "expected a list of words or phrases"
    flags = [x for x in v if isinstance(x, bool)]
    if flags:
        return (
            f"expected a list of words or phrases, got {flags[0]!r}: YAML reads a bare on, off, "
            "yes or no as true or false; quote it ('on')"
        )
    return None


def number(v: Any) -> str | None:
    return None if isinstance(v, int | float) and not isinstance(v, bool) else "expected a number"


def integer(v: Any) -> str | None:
    return None if isinstance(v, int) and not isinstance(v, bool) else "expected a whole number"


def text(v: Any) -> str | None:
    return None if isinstance(v, str) else "expected a text"


def boolean(v: Any) -> str | None:
    return None if isinstance(v, bool) else "expected true or false"


def anything(v: Any) -> str | None:
    return None


def nullable_list(v: Any) -> str | None:
    return None if v is None else str_list(v)


def one_of(*checks: Check) -> Check:
    """Passes when any of ``checks`` passes (the first one's error otherwise)."""

    def check(v: Any) -> str | None:
        errors = [c(v) for c in checks]
        return None if any(e is None for e in errors) else errors[0]

    return check


def mapping_of(inner: Check, depth_name: str) -> Check:
    """A mapping with free keys whose every value passes ``inner``."""

    def check(v: Any) -> str | None:
        if not isinstance(v, dict):
            return f"expected a mapping of {depth_name}"
        for k, x in v.items():
            err = inner(x)
            if err:
                return f"{k}: {err}"
        return None

    return check


def record(schema: Schema) -> Check:
    """A mapping with the keys of ``schema`` only (unknown keys refused, required ones present)."""

    def check(v: Any) -> str | None:
        return record_errors(v, schema)

    return check


def list_of(inner: Check) -> Check:
    """A list whose every item passes ``inner`` (the error names the item, 1-based)."""

    def check(v: Any) -> str | None:
        if not isinstance(v, list):
            return "expected a list"
        for i, x in enumerate(v, 1):
            err = inner(x)
            if err:
                return f"[{i}]: {err}"
        return None

    return check


def _unknown_keys(data: dict[Any, Any], schema: Schema) -> str | None:
    unknown = sorted(map(str, set(data) - set(schema)))
    if not unknown:
        return None
    names = ", ".join(repr(k) for k in unknown)
    return f"unknown key{'s' if len(unknown) > 1 else ''} {names}; known keys: {', '.join(schema)}"


def record_errors(data: Any, schema: Schema) -> str | None:
    """The first problem of ``data`` against ``schema``, as text (None when it conforms)."""
    if not isinstance(data, dict):
        return "expected a mapping of keys"
    unknown = _unknown_keys(data, schema)
    if unknown:
        return unknown
    for key, (check, default) in schema.items():
        if key not in data or data[key] is None:
            if default is None:
                return f"missing required key {key!r}"
            continue
        err = check(data[key])
        if err:
            return f"{key}: {err}"
    return None


def validate(data: Any, schema: Schema, source: str | os.PathLike[str]) -> dict[str, Any]:
    """Check ``data`` against ``schema``; return it with top-level defaults filled in.

    Raises :class:`KenolibError` naming the file and the key for an unknown key, a missing
    required key or a value of the wrong kind.
    """
    if not isinstance(data, dict):
        raise KenolibError(f"{source}: expected a mapping of keys at the top level")
    unknown = _unknown_keys(data, schema)
    if unknown:
        raise KenolibError(f"{source}: {unknown}")
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


def load(path: str | os.PathLike[str], schema: Schema, what: str) -> dict[str, Any]:
    """Read the YAML file ``path`` (``what`` names it in errors) and validate it."""
    return validate(read_yaml(path, what), schema, Path(path))


@functools.lru_cache(maxsize=32)
def _load_cached(path: str, schema_id: int, what: str) -> dict[str, Any]:
    return load(path, _SCHEMAS[schema_id], what)


_SCHEMAS: dict[int, Schema] = {}


def load_cached(path: str | os.PathLike[str], schema: Schema, what: str) -> dict[str, Any]:
    """:func:`load`, cached by path and schema (callers must not mutate the result)."""
    _SCHEMAS[id(schema)] = schema
    return _load_cached(str(path), id(schema), what)
