"""Loading helpdesk ticket exports (generic, Zendesk, Freshdesk, Jira, WHMCS) into one frame.

The output has exactly one row per input data row, in input order. It holds the generic ticket
columns (``schemas.TICKET_COLUMNS``, normalised: dates parsed, minutes numeric, HTML bodies as
plain text) first, then every original column of the export unchanged. An original column
whose name equals a generic column name and whose values normalising changed (dates parsed,
minutes converted, HTML removed, spaces trimmed) is kept as ``source_<name>`` (a generic file's
text ``created_at`` stays beside the parsed one as ``source_created_at``); one normalising left
identical is not repeated. Warnings (cp1252 decoding,
repeated headers, unparseable dates, unknown product labels) are one-line strings in
``df.attrs["warnings"]``.

Column maps live in ``kenolib/data/helpdesks.yaml``.
"""

from __future__ import annotations

import functools
import html as html_lib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from kenolib import config
from kenolib import datafiles as df_
from kenolib.errors import KenolibError, KenolibValueError, escape_control
from kenolib.files import check_output_path, write_frame
from kenolib.readers import BadRows, read_table  # noqa: F401  (re-exported)
from kenolib.record_batches import raw_batches, ticket_files
from kenolib.schemas import (
    EFFORT_UNITS,
    TICKET_COLUMNS,
    TICKET_PEOPLE_COLUMNS,
    TICKET_REQUIRED,
    require_columns_list,
    require_frame,
    require_path,
    require_series,
    require_type,
)
from kenolib.taxonomy import products_of_labels

FORMATS = ("generic", "zendesk", "freshdesk", "jira", "whmcs")
READABLE_SUFFIXES = (".csv", ".csv.gz", ".txt", ".tsv", ".xlsx", ".parquet")
SOURCE_PREFIX = "source_"

#: An HTML tag or comment (not "<name@example.com>", which mail bodies are full of).
_HTML_TAG = r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?>|<!--[^>]*-->"
_ENTITIES = {
    "&nbsp;": " ",
    "&lt;": "<",
    "&gt;": ">",
    "&quot;": '"',
    "&#39;": "'",
    "&#039;": "'",
    "&apos;": "'",
    "&rsquo;": "'",
    "&lsquo;": "'",
    "&ldquo;": '"',
    "&rdquo;": '"',
    "&hellip;": "...",
    "&ndash;": "-",
    "&mdash;": "-",
    "&amp;": "&",  # last, so "&amp;lt;" stays "&lt;"
}


#: One helpdesk's column map in ``helpdesks.yaml``.
HELPDESK_SCHEMA: df_.Schema = {
    "signature": (df_.str_list, []),
    "required": (df_.str_list, []),
    "columns": (df_.mapping_of(df_.str_list, "generic column -> candidate headers"), None),
    "repeated": (df_.mapping_of(df_.text, "generic column -> repeated header"), {}),
    "dates": (df_.str_list, []),
    "null_dates": (df_.str_list, []),
    "minutes": (df_.text, "minutes"),
    "html_body": (df_.one_of(df_.boolean, df_.text), False),
}
HELPDESKS_SCHEMA: df_.Schema = {
    "formats": (df_.mapping_of(df_.record(HELPDESK_SCHEMA), "format -> column map"), None)
}


@functools.lru_cache(maxsize=4)
@functools.lru_cache(maxsize=4)
def load_helpdesks(path: str | None = None) -> dict[str, dict[str, Any]]:
    """The helpdesk column maps (``kenolib/data/helpdesks.yaml``), by format name."""
    p = Path(path) if path else config.HELPDESKS_FILE
    formats = df_.load(p, HELPDESKS_SCHEMA, "helpdesk column maps")["formats"]
    if not isinstance(formats, dict) or not formats:
        raise KenolibError(f"{p}: expected a mapping with a 'formats' section")
    return formats


def _header_key(name: str) -> str:
    return re.sub(r"\s+", " ", str(name).replace("\ufeff", "")).strip().lower()


def _find(columns: list[str], candidates: list[str]) -> str | None:
    """The first candidate header present in ``columns`` (exact, then case-insensitive)."""
    for c in candidates:
        if c in columns:
            return c
    keys = {_header_key(c): c for c in reversed(columns)}
    for c in candidates:
        if _header_key(c) in keys:
            return keys[_header_key(c)]
    return None


def detect_format(columns: list[str]) -> str | None:
    """The export format whose header signature ``columns`` match, or None."""
    columns = require_columns_list(columns, "columns", "detect_format")
    for name, spec in load_helpdesks().items():
        if all(_find(columns, [s]) is not None for s in spec.get("signature", [])):
            return name
    return None


def _text(s: pd.Series) -> pd.Series:
    """A column as pyarrow-backed text with missing values as empty strings."""
    if not isinstance(s.dtype, pd.StringDtype):
        s = s.astype("string[pyarrow]")
    return s.fillna("")


def html_to_text(s: pd.Series) -> pd.Series:
    """Vectorised HTML to text: block tags to newlines, other tags removed, entities decoded."""
    s = require_series(s, "s", "html_to_text")
    arr = pa.array(_text(s), type=pa.string())
    arr = pc.replace_substring_regex(arr, r"(?i)<br\s*/?>|</p>|</div>|</li>", "\n")
    arr = pc.replace_substring_regex(arr, _HTML_TAG, "")
    for ent, rep in _ENTITIES.items():
        arr = pc.replace_substring(arr, ent, rep)
    out = pd.Series(arr.to_pandas(types_mapper=pd.ArrowDtype), index=s.index)
    out = out.astype("string[pyarrow]")
    # Rare numeric or named entities left over: decode only those rows.
    rest = out.str.contains(r"&#?[a-zA-Z0-9]{2,8};", regex=True)
    if rest.any():
        out[rest] = out[rest].map(html_lib.unescape)
    return out


def _has_html(s: pd.Series) -> bool:
    """Whether any cell looks like HTML: a cheap scan for "<" first, the regex only if found."""
    arr = pa.chunked_array(pa.array(_text(s), type=pa.large_string()))
    found = False
    for chunk in arr.chunks:
        data = chunk.buffers()[2]
        if data is not None and (np.frombuffer(data, dtype=np.uint8) == 60).any():
            found = True
            break
    return found and bool(pc.any(pc.match_substring_regex(arr, _HTML_TAG)).as_py())


_MIN_DATE, _MAX_DATE = pd.Timestamp.min.ceil("s"), pd.Timestamp.max.floor("s")


def parse_dates(
    s: pd.Series, formats: list[str], null_values: list[str] | tuple[str, ...] = ()
) -> tuple[pd.Series, int, list[str]]:
    """Parse text dates trying ``formats`` in order; return (dates, bad count, bad examples).

    Blank cells and ``null_values`` become NaT without counting as bad.
    """
    s = require_series(s, "s", "parse_dates")
    formats = require_columns_list(formats, "formats", "parse_dates")
    if pd.api.types.is_datetime64_any_dtype(s.dtype):  # already dates (Parquet, xlsx)
        return _dates_of_datetimes(s)
    text = _text(s).str.strip()
    blank = (text == "") | text.isin(list(null_values))
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    todo = ~blank
    for fmt in formats:
        if not todo.any():
            break
        kwargs = {"format": "ISO8601"} if fmt == "ISO8601" else {"format": fmt}
        # utc=True: values with UTC offsets (mixed or not) are converted to UTC; naive ones
        # are kept as written. Years outside pandas' range (1677-2262) become missing.
        parsed = pd.to_datetime(text[todo], errors="coerce", utc=True, **kwargs)
        parsed = parsed.dt.tz_localize(None)
        parsed = parsed.where((parsed >= _MIN_DATE) & (parsed <= _MAX_DATE))
        parsed = parsed.astype("datetime64[ns]")
        ok = parsed.notna()
        out.loc[ok[ok].index] = parsed[ok]
        todo = todo & out.isna()
    bad = todo & out.isna()
    return out, int(bad.sum()), text[bad].head(3).tolist()


def _dates_of_datetimes(s: pd.Series) -> tuple[pd.Series, int, list[str]]:
    """``parse_dates`` of a datetime column without going through text: the same values (UTC
    offsets converted to UTC, naive kept, years outside pandas' range missing and bad)."""
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    bad = s.notna() & ((s < _MIN_DATE) | (s > _MAX_DATE))
    out = s.where(~bad).astype("datetime64[ns]").rename(None)
    examples = _text(s)[bad].head(3).tolist() if bad.any() else []  # written as the column is
    return out, int(bad.sum()), examples


def parse_minutes(s: pd.Series, unit: str) -> pd.Series:
    """Agent minutes from a column in ``unit`` (minutes, seconds, hours or ``h:mm``)."""
    s = require_series(s, "s", "parse_minutes")
    require_type(unit, str, "unit", "parse_minutes")
    text = _text(s).str.strip().str.replace(",", ".", regex=False)
    if unit == "hhmm":
        parts = text.str.extract(r"^(\d+):(\d{1,2})(?::(\d{1,2}))?$")
        h = pd.to_numeric(parts[0], errors="coerce")
        m = pd.to_numeric(parts[1], errors="coerce")
        sec = pd.to_numeric(parts[2], errors="coerce").fillna(0)
        out = h * 60 + m + sec / 60
        plain = pd.to_numeric(text, errors="coerce")
        return out.fillna(plain).astype("float64")
    num = pd.to_numeric(text, errors="coerce").astype("float64")
    factor = {"minutes": 1.0, "seconds": 1 / 60, "hours": 60.0}.get(unit)
    if factor is None:
        raise KenolibError(f"unknown effort unit {unit!r}; use one of {', '.join(EFFORT_UNITS)}")
    return num * factor


def _clean_label(s: pd.Series) -> pd.Series:
    # Zendesk/Freshdesk list fields may hold "a, b"; keep the first entry as the product label.
    return _text(s).str.strip()


def unknown_labels(labels: pd.Series) -> pd.Series:
    """Counts of non-blank product labels that match no product alias (by label)."""
    labels = require_series(labels, "labels", "unknown_labels")
    blank = labels.fillna("").astype(str).str.strip() == ""
    unknown = labels[(products_of_labels(labels) == "").to_numpy() & ~blank.to_numpy()]
    if unknown.empty:
        return pd.Series(dtype="int64")
    return unknown.value_counts()


@dataclass
class LoadTally:
    """What normalising found, summed over batches; :meth:`messages` words the warnings."""

    rows: int = 0
    bad_dates: dict[str, int] = field(default_factory=dict)
    date_examples: dict[str, list[str]] = field(default_factory=dict)
    unknown: dict[str, int] = field(default_factory=dict)

    def messages(self, source: str) -> list[str]:
        """One warning per finding, counts over every batch seen."""
        out = [
            f"{source}: {bad} of {self.rows} values in column {col!r} are not dates in "
            f"1677-2262 (e.g. {', '.join(repr(e[:40]) for e in self.date_examples[col])}); "
            "kept as missing"
            for col, bad in self.bad_dates.items()
            if bad
        ]
        if self.unknown:
            unknown = pd.Series(self.unknown).sort_values(ascending=False, kind="stable")
            top = ", ".join(f"{k!r} ×{v}" for k, v in unknown.head(5).items())
            out.append(
                f"{source}: {int(unknown.sum())} tickets have a product label matching no "
                f"product ({top}{', ...' if len(unknown) > 5 else ''}); judged against the "
                "overview table unless the text names a product"
            )
        return out


#: An effort source chosen by the user: (column name, unit), see ``--effort-column``.
Effort = tuple[str, str]


@dataclass
class TicketLayout:
    """Which raw column feeds each generic one, decided on the first batch of an input."""

    fmt: str
    spec: dict[str, Any]
    found: dict[str, str | None]
    html: bool = False
    same: list[str] | None = None  # raw columns equal to their normalised twin: not repeated
    #: group, assignee, requester -> every candidate column present (first non-blank wins)
    people: dict[str, list[str]] = field(default_factory=dict)
    #: the unit of the effort column (``found["agent_minutes"]``)
    minutes_unit: str = "minutes"


def _present(cols: list[str], candidates: list[str]) -> list[str]:
    """Every candidate header present in ``cols``, in candidate order, once each."""
    found = (_find(cols, [c]) for c in candidates)
    return list(dict.fromkeys(c for c in found if c is not None))


def _effort_column(cols: list[str], effort: Effort, source: str) -> str:
    name, unit = effort
    if unit not in EFFORT_UNITS:
        raise KenolibValueError(f"--effort-unit {unit!r}: use one of {', '.join(EFFORT_UNITS)}")
    col = _find(cols, [name])
    if col is None:
        shown = escape_control(", ".join(c[:40] for c in cols[:15]))
        raise KenolibValueError(
            f"{source}: --effort-column {name!r} is not a column of the export; columns found: "
            f"{shown}{', ...' if len(cols) > 15 else ''}"
        )
    return col


def ticket_layout(
    cols: list[str], fmt: str, source: str, effort: Effort | None = None
) -> TicketLayout:
    """How the raw columns ``cols`` of a ``fmt`` export map to the generic ones; ``effort``
    overrides the format's effort column and unit."""
    specs = load_helpdesks()
    if fmt not in specs:
        raise KenolibValueError(
            f"unknown ticket format {fmt!r}; use one of auto, {', '.join(specs)}"
        )
    spec = specs[fmt]
    found: dict[str, str | None] = {
        g: _find(cols, list(spec.get("columns", {}).get(g) or [])) for g in TICKET_COLUMNS
    }
    missing = [g for g in spec.get("required", TICKET_REQUIRED) if found.get(g) is None]
    if missing:
        g = missing[0]
        wanted = " or ".join(repr(c) for c in spec["columns"].get(g) or [g])
        raise KenolibValueError(
            f"{source}: missing required column {wanted} (for {g}) in the {fmt} format; "
            f"columns found: {', '.join(cols) or '(none)'}"
        )
    unit = str(spec.get("minutes", "minutes"))
    if effort is not None:
        found["agent_minutes"], unit = _effort_column(cols, effort, source), effort[1]
    people = {g: _present(cols, list(spec["columns"].get(g) or [])) for g in TICKET_PEOPLE_COLUMNS}
    return TicketLayout(fmt, spec, found, people={g: c for g, c in people.items() if c},
                        minutes_unit=unit)  # fmt: skip


def _blank(index: pd.Index) -> pd.Series:
    return pd.Series("", index=index, dtype="string[pyarrow]")


def _dates(
    raw: pd.DataFrame, lay: TicketLayout, tally: LoadTally, out: dict[str, pd.Series]
) -> None:
    for g in ("created_at", "resolved_at"):
        col = lay.found[g]
        if col is None:
            out[g] = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
            continue
        dates, bad, examples = parse_dates(
            raw[col], list(lay.spec.get("dates") or ["ISO8601"]), lay.spec.get("null_dates") or []
        )
        out[g] = dates
        if bad:
            tally.bad_dates[col] = tally.bad_dates.get(col, 0) + bad
            tally.date_examples.setdefault(col, examples)


def _tags(raw: pd.DataFrame, lay: TicketLayout) -> pd.Series:
    repeated = (lay.spec.get("repeated") or {}).get("tags")
    if repeated:
        pattern = re.escape(repeated) + r"(\.\d+)?"
        tag_cols = [c for c in map(str, raw.columns) if re.fullmatch(pattern, c)]
        if not tag_cols:
            return _blank(raw.index)
        tags = _text(raw[tag_cols[0]]).str.strip()
        for c in tag_cols[1:]:
            t = _text(raw[c]).str.strip()
            tags = tags.where(t == "", tags.where(tags == "", tags + ",") + t)
        return tags
    if lay.found["tags"]:
        return _text(raw[lay.found["tags"]]).str.strip()
    return _blank(raw.index)


def _generic(raw: pd.DataFrame, lay: TicketLayout, tally: LoadTally) -> pd.DataFrame:
    """The generic ticket columns of one raw batch."""
    found, index = lay.found, raw.index
    out: dict[str, pd.Series] = {"ticket_id": _text(raw[found["ticket_id"]]).str.strip()}
    _dates(raw, lay, tally, out)
    out["product"] = _clean_label(raw[found["product"]]) if found["product"] else _blank(index)
    subject = _text(raw[found["subject"]])
    body = _text(raw[found["body"]]) if found["body"] else _blank(index)
    html = lay.spec.get("html_body", False)
    if html == "auto":  # once a batch shows HTML, every later batch is read as HTML too
        lay.html = lay.html or (bool(found["body"]) and _has_html(body))
        html = lay.html
    out["subject"] = html_to_text(subject) if html else subject
    out["body"] = html_to_text(body) if html else body
    for g in ("status", "priority"):
        out[g] = _text(raw[found[g]]).str.strip() if found[g] else _blank(index)
    if found["agent_minutes"]:
        out["agent_minutes"] = parse_minutes(raw[found["agent_minutes"]], lay.minutes_unit)
    else:
        out["agent_minutes"] = pd.Series(np.nan, index=index, dtype="float64")
    out["tags"] = _tags(raw, lay)
    for label, count in unknown_labels(out["product"]).items():
        tally.unknown[label] = tally.unknown.get(label, 0) + int(count)
    tally.rows += len(raw)
    for g, cols in lay.people.items():
        out[g] = _first_filled(raw, cols)
    return pd.DataFrame({g: out[g] for g in [*TICKET_COLUMNS, *lay.people]}, index=index)


def _first_filled(raw: pd.DataFrame, cols: list[str]) -> pd.Series:
    """Per row, the first non-blank value among ``cols`` (trimmed text)."""
    value = _text(raw[cols[0]]).str.strip()
    for c in cols[1:]:
        value = value.where(value != "", _text(raw[c]).str.strip())
    return value


def normalise_batch(raw: pd.DataFrame, lay: TicketLayout, tally: LoadTally) -> pd.DataFrame:
    """Generic columns then the raw ones (clashing names as ``source_<name>``), one batch."""
    cols = [str(c) for c in raw.columns]
    norm = _generic(raw, lay, tally)
    clashes = [c for c in cols if c in norm.columns]
    if lay.same is None:  # the first batch decides, so every batch has the same columns
        lay.same = [c for c in clashes if _identical(norm[c], raw[c])]
    renamed = raw.drop(columns=lay.same).rename(
        columns={c: SOURCE_PREFIX + c for c in clashes if c not in lay.same}
    )
    df = pd.concat([norm, renamed], axis=1)
    df.index = pd.RangeIndex(len(raw))
    return df


def normalise_tickets(
    raw: pd.DataFrame, fmt: str, source: str, warnings: list[str] | None = None
) -> pd.DataFrame:
    """Map a raw export frame (all text) to generic + original columns; see the module doc."""
    raw = require_frame(raw, "raw", "normalise_tickets")
    require_type(fmt, str, "fmt", "normalise_tickets")
    warnings = [] if warnings is None else warnings
    tally = LoadTally()
    df = normalise_batch(raw, ticket_layout([str(c) for c in raw.columns], fmt, source), tally)
    warnings.extend(tally.messages(source))
    df.attrs["warnings"] = list(warnings)
    df.attrs["format"] = fmt
    df.attrs["source"] = source
    return df


def _identical(normalised: pd.Series, original: pd.Series) -> bool:
    """Whether normalising left a text column exactly as it was (then it is not repeated)."""
    if not (
        isinstance(normalised.dtype, pd.StringDtype) and isinstance(original.dtype, pd.StringDtype)
    ):
        return False
    a = pa.array(normalised, type=pa.large_string())
    b = pa.array(original.fillna(""), type=pa.large_string())
    return bool(pc.all(pc.equal(a, b)).as_py())


class TicketStream:
    """A ticket input read in normalised batches, in order (see :func:`open_tickets`).

    Iterate it once; afterwards ``warnings`` holds the loader's warnings, counted over every
    batch and file, ``rows`` the rows read and ``quarantined`` the rows set aside.
    """

    def __init__(
        self,
        spec: str | Path,
        fmt: str,
        quarantine: Path | None,
        batch_rows: int | None,
        effort: Effort | None = None,
    ) -> None:
        self.source = str(spec)
        self.effort = effort
        self.files = ticket_files(spec)
        self.fmt = fmt
        self.quarantine = quarantine
        self.batch_rows = batch_rows
        self.warnings: list[str] = []
        self.rows = 0
        self.quarantined = 0
        self.columns: list[str] | None = None  # the raw header every file must share
        self.layout: TicketLayout | None = None  # how raw columns map, once the header is seen
        self._tally = LoadTally()
        self._bad: list[BadRows] = []

    def __iter__(self) -> Iterator[pd.DataFrame]:
        lay: TicketLayout | None = None
        for path in self.files:
            bad = BadRows() if self.quarantine is not None else None
            self._bad.append(bad if bad is not None else BadRows())
            for i, raw in enumerate(raw_batches(path, self.warnings, bad, self.batch_rows)):
                if i == 0:
                    lay = self.layout = self._check_header(path, raw, lay)
                assert lay is not None
                df = normalise_batch(raw, lay, self._tally)
                self.rows += len(df)
                yield df
        self._finish()

    def _check_header(
        self, path: Path, raw: pd.DataFrame, lay: TicketLayout | None
    ) -> TicketLayout:
        cols = [str(c) for c in raw.columns]
        if self.columns is None:
            self.columns = cols
            if self.fmt == "auto":
                self.fmt = _detected(cols, path)
            return ticket_layout(cols, self.fmt, self.source, self.effort)
        if cols != self.columns:
            shown = escape_control(", ".join(c[:40] for c in cols[:8]))
            raise KenolibError(
                f"{path}: its columns ({shown}{', ...' if len(cols) > 8 else ''}) differ from "
                f"those of {self.files[0].name}; every file of a ticket dataset needs the same "
                "header"
            )
        assert lay is not None
        return lay

    def _finish(self) -> None:
        if self.rows == 0:
            self.warnings.append(f"{self.source}: the export has a header but no tickets")
        self.warnings.extend(self._tally.messages(self.source))
        if self.quarantine is None:
            return
        frames = [b.frame().assign(file=str(p)) for b, p in zip(self._bad, self.files, strict=True)]
        bad = pd.concat(frames, ignore_index=True)
        if len(self.files) == 1:
            bad = bad.drop(columns="file")
        self.quarantined = len(bad)
        if len(bad):
            written = write_frame(bad, self.quarantine, tuple(self.files))
            self.warnings.append(
                f"{self.source}: {len(bad):,} malformed row(s) written to {written}"
            )


def open_tickets(
    path: str | os.PathLike[str],
    fmt: str = "auto",
    quarantine: str | os.PathLike[str] | None = None,
    batch_rows: int | None = None,
    effort: Effort | None = None,
) -> TicketStream:
    """A ticket input (a file, a directory or a glob of same-layout exports) as a stream of
    normalised batches of at most ``batch_rows`` rows (None: one batch per file); ``effort``
    (column, unit) names the agent-time column instead of the format's."""
    text = str(path) if isinstance(path, str | os.PathLike) else path
    if not (isinstance(text, str) and any(c in text for c in "*?[")):
        require_path(path, "path", "open_tickets")
    require_type(fmt, str, "fmt", "open_tickets")
    if fmt != "auto" and fmt not in load_helpdesks():
        raise KenolibValueError(
            f"unknown ticket format {fmt!r}; use one of auto, {', '.join(load_helpdesks())}"
        )
    files = ticket_files(path)
    if quarantine is not None:
        check_output_path(quarantine, tuple(files))
    return TicketStream(
        Path(path), fmt, None if quarantine is None else Path(quarantine), batch_rows, effort
    )


def load_tickets(
    path: str | os.PathLike[str],
    fmt: str = "auto",
    quarantine: str | os.PathLike[str] | None = None,
    effort: Effort | None = None,
) -> pd.DataFrame:
    """Load a ticket export (.csv/.xlsx/.parquet) of format ``fmt`` (or detected with ``auto``).

    One row per input row, in order; generic columns first, then the original columns.
    A CSV row with the wrong number of fields is an error naming its line, unless
    ``quarantine`` names a file: then such rows are written there (line, fields expected and
    found, raw text), counted in a warning, and the other rows loaded. ``path`` may also be a
    directory or a glob of exports with one header: their rows in file-name order.
    ``effort`` = (column, unit) reads agent time from that column instead of the format's.
    """
    stream = open_tickets(path, fmt, quarantine, effort=effort)
    parts = list(stream)
    df = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
    df.attrs = {"warnings": stream.warnings, "format": stream.fmt, "source": stream.source}
    if quarantine is not None:
        df.attrs["quarantined"] = stream.quarantined
    return df


def _detected(cols: list[str], p: Path) -> str:
    detected = detect_format(cols)
    if detected is None:
        shown = escape_control(", ".join(c[:60] for c in cols[:12]))
        raise KenolibError(
            f"{p}: cannot tell which helpdesk wrote this file from its header "
            f"({shown}{', ...' if len(cols) > 12 else ''}); "
            f"give --format {'|'.join(FORMATS)}"
        )
    return detected
