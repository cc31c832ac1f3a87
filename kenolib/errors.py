"""The exception types for user mistakes, and escaping input text for the terminal."""

from __future__ import annotations

import re


class KenolibError(Exception):
    """A user error: the command line prints it as one line and exits with status 2.

    The message must name the file (and row, column or line where known) and say what to do.
    Library functions raise it (or one of its subclasses below) and nothing else for bad input.
    """


class KenolibValueError(KenolibError, ValueError):
    """A public function got an argument of the right type but an unusable value.

    For instance an empty frame, a frame lacking a column, an unknown format name.
    """


class KenolibTypeError(KenolibError, TypeError):
    """A public function got an argument of the wrong type (the message names the argument)."""


#: C0 controls (tab, line breaks included: a message is one line), DEL, C1 controls, and the
#: Unicode bidirectional overrides and isolates that reorder text on a terminal.
_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape_char(match: re.Match[str]) -> str:
    ch = match.group(0)
    special = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(ch)
    if special:
        return special
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_control(text: object) -> str:
    """``text`` with every control character written as a visible escape (``\\x1b``, ``\\n``).

    Use it on any message or log line that may hold text from an input file, so that escape
    sequences (ESC, BEL, C1) never reach the terminal and a message stays on one line.
    """
    return _CONTROL_RE.sub(_escape_char, str(text))
