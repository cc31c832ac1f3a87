"""The one exception type for user mistakes (bad input files, bad options)."""

from __future__ import annotations


class KenolibError(Exception):
    """A user error: the command line prints it as one line and exits with status 2.

    The message must name the file (and row, column or line where known) and say what to do.
    """
