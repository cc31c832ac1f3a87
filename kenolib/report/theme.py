"""The report theme (``report_theme.yaml``): colours, marks, fonts, layout and wording.

Loaded through the typed loader (:mod:`kenolib.datafiles`): unknown keys are refused and every
error names the file and the key; colours must be quoted 6-digit hex strings. Layout numbers
(column widths, chart anchors, rows shown) live in the file, not in Python.
"""

from __future__ import annotations

import copy
import functools
import os
import re
from typing import Any

from kenolib import datafiles as df_
from kenolib.config import PACKAGE_DATA
from kenolib.errors import KenolibError
from kenolib.vocab import COVERAGE_ORDER, VERDICT_ORDER

THEME_FILE = PACKAGE_DATA / "report_theme.yaml"

_STATUS = df_.record(
    {
        "mark": (df_.text, None),
        "label": (df_.text, None),
        "short": (df_.text, None),
        "fill": (df_.text, None),
        "inherited_fill": (df_.text, None),
        "colour": (df_.text, None),
        "plot": (df_.text, None),
    }
)
_VERDICT = df_.record({"label": (df_.text, None), "plot": (df_.text, None)})
_FONT = df_.record(
    {
        "size": (df_.number, 11),
        "bold": (df_.boolean, False),
        "italic": (df_.boolean, False),
        "colour": (df_.text, ""),
    }
)
_LAYOUT = df_.record(
    {
        "summary_widths": (df_.list_of(df_.number), None),
        "chart_column": (df_.text, "D"),
        "chart_rows": (df_.integer, 19),
        "coverage_widths": (df_.mapping_of(df_.number, "column -> width"), None),
    }
)
_WORKBOOK = df_.record(
    {
        "font": (df_.text, "Calibri"),
        "title": (_FONT, {}),
        "explanation": (_FONT, {}),
        "header": (_FONT, {}),
        "table_style": (df_.text, "TableStyleMedium2"),
        "coverage_table_style": (df_.text, "TableStyleLight1"),
        "truncation_fill": (df_.text, "FCE4D6"),
        "default_width": (df_.number, 14),
        "min_width": (df_.number, 8),
        "max_width": (df_.number, 70),
        "widths": (df_.mapping_of(df_.number, "column -> width"), {}),
        "wrap": (df_.str_list, []),
        "layout": (_LAYOUT, None),
        "number_formats": (df_.mapping_of(df_.text, "kind -> Excel number format"), None),
        "column_kinds": (df_.mapping_of(df_.text, "column -> count, share, hours or money"), {}),
        "volume_colour": (df_.text, "8EA9DB"),
        "trend_min_tickets": (df_.integer, 20),
        "chart": (
            df_.record(
                {
                    "width_cm": (df_.number, 20),
                    "height_cm": (df_.number, 9),
                    "style": (df_.integer, 10),
                }
            ),
            {},
        ),
        "comment": (
            df_.record(
                {
                    "max_chars": (df_.integer, 1500),
                    "width_pt": (df_.number, 420),
                    "height_pt": (df_.number, 220),
                }
            ),
            {},
        ),
        "properties": (df_.mapping_of(df_.text, "property -> text"), {}),
    }
)


def _css_font(v: Any) -> str | None:
    """A CSS font list: names, commas, quotes, dashes and spaces only (it is written unescaped)."""
    if not isinstance(v, str) or not re.fullmatch(r"[\w\s,'\"-]+", v):
        return "expected a CSS font list (letters, digits, spaces, commas, quotes, dashes)"
    return None


_HTML = df_.record(
    {
        "title": (df_.text, None),
        "font_family": (_css_font, None),
        "text": (df_.text, None),
        "muted": (df_.text, None),
        "accent": (df_.text, None),
        "table_header": (df_.text, None),
        "table_border": (df_.text, None),
        "max_table_rows": (df_.integer, 200),
        "out_of_scope_examples": (df_.integer, 50),
    }
)
_SHEET = df_.record({"title": (df_.text, None), "explanation": (df_.text, None)})

#: The theme file's schema (``kenolib.datafiles``): unknown keys refused.
THEME_SCHEMA: df_.Schema = {
    "statuses": (df_.mapping_of(_STATUS, "status -> look"), None),
    "currency": (df_.text, "EUR"),
    "inherited_suffix": (df_.text, " (overview)"),
    "inherited_legend": (df_.text, "inherited"),
    "verdicts": (df_.mapping_of(_VERDICT, "verdict -> look"), None),
    "workbook": (_WORKBOOK, None),
    "html": (_HTML, None),
    "sheets": (df_.mapping_of(_SHEET, "sheet -> title and explanation"), None),
}

_COLOUR_KEYS = {"fill", "inherited_fill", "plot", "colour", "truncation_fill", "volume_colour"}
_HTML_COLOUR_KEYS = {"text", "muted", "accent", "table_header", "table_border"}


def _check_colours(node: object, path: str, where: str = "") -> None:
    """Colours must be quoted 6-digit hex strings (YAML reads 006100 as a number)."""
    if not isinstance(node, dict):
        return
    for k, v in node.items():
        here = f"{where}.{k}" if where else str(k)
        colour = k in _COLOUR_KEYS or (where == "html" and k in _HTML_COLOUR_KEYS)
        if colour and not isinstance(v, dict):
            if not (isinstance(v, str) and re.fullmatch(r"[0-9A-Fa-f]{6}", v)):
                raise KenolibError(
                    f"{path}: {here} = {v!r} is not a colour; write 6 hex digits in quotes"
                )
        elif k != "widths":
            _check_colours(v, path, here)


@functools.cache
def _load_theme_cached(path: str) -> dict[str, Any]:
    theme = df_.load(path, THEME_SCHEMA, "report theme")
    for status in COVERAGE_ORDER:
        if status not in theme["statuses"]:
            raise KenolibError(f"{path}: the report theme lacks the {str(status)!r} status")
    for verdict in VERDICT_ORDER:
        if verdict not in theme["verdicts"]:
            raise KenolibError(f"{path}: the report theme lacks the {str(verdict)!r} verdict")
    _check_colours(theme, path)
    return theme


def load_theme(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The report theme: colours, marks, fonts, layout and sheet wording (``report_theme.yaml``)."""
    return copy.deepcopy(_load_theme_cached(str(path or THEME_FILE)))
