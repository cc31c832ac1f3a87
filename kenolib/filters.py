"""Narrowing a judged ticket history to some products, teams or agents (``--product``,
``--group``, ``--assignee``), batch by batch or whole.

:class:`TicketFilter` holds the values asked for; :meth:`TicketFilter.apply` keeps the matching
rows of one judged batch and :class:`FilterTally` remembers, over every batch, which values
matched and which values the history holds, so that a value matching no ticket is one line
naming it and listing the available ones (:meth:`FilterTally.check`). Products match by id or
label (``products.yaml``), teams and agents by their text, all case-insensitively.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kenolib.errors import KenolibValueError
from kenolib.taxonomy import UNKNOWN_PRODUCT, product_labels

#: The options, the column each narrows and how the scope line names it.
DIMENSIONS = {"product": "--product", "group": "--group", "assignee": "--assignee"}
#: Values listed in an error message at most.
LISTED = 15


def _key(v: object) -> str:
    return " ".join(str(v).split()).casefold()


def _keys(col: pd.Series) -> pd.Series:
    """:func:`_key` of every value of a text column, vectorised."""
    return col.str.casefold().str.split().str.join(" ")


def product_names() -> dict[str, str]:
    """Product id -> label, every known product (``products.yaml``) and ``unknown``."""
    names = product_labels()
    names[UNKNOWN_PRODUCT] = "No product named"
    return names


@dataclass
class FilterTally:
    """What a filter met over the batches: matches per asked value, values present."""

    matched: Counter = field(default_factory=Counter)
    present: dict[str, Counter] = field(default_factory=dict)
    kept: int = 0
    missing_columns: set[str] = field(default_factory=set)

    def check(self, f: TicketFilter) -> None:
        """Raise one line for the first asked value that matched no ticket."""
        names = product_names()
        for dim, values in f.asked():
            if dim in self.missing_columns:
                raise KenolibValueError(
                    f"{DIMENSIONS[dim]} {values[0]!r}: the ticket history has no {dim} column "
                    "(the export does not say which team or agent handled a ticket)"
                )
            for v in values:
                if not self.matched[(dim, _key(v))]:
                    have = self.present.get(dim, Counter())
                    shown = [names.get(p, p) if dim == "product" else p for p, _ in
                             have.most_common(LISTED)]  # fmt: skip
                    more = ", ..." if len(have) > LISTED else ""
                    raise KenolibValueError(
                        f"{DIMENSIONS[dim]} {v!r} matches no ticket; this history has: "
                        f"{', '.join(shown) or '(none)'}{more}"
                    )
        if f and not self.kept:
            raise KenolibValueError(f"{f.describe()}: no ticket matches these filters together")


@dataclass(frozen=True)
class TicketFilter:
    """Products (ids or labels), teams and agents to keep; empty keeps everything."""

    products: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    assignees: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.products or self.groups or self.assignees)

    def asked(self) -> list[tuple[str, tuple[str, ...]]]:
        """(column, values) for each dimension filtered on."""
        pairs = (("product", self.products), ("group", self.groups), ("assignee", self.assignees))
        return [(d, v) for d, v in pairs if v]

    def product_ids(self) -> dict[str, set[str]]:
        """Each asked product value -> the product ids it names (by id or label)."""
        names = product_names()
        out: dict[str, set[str]] = {}
        for v in self.products:
            k = _key(v)
            out[v] = {p for p, label in names.items() if k in (_key(p), _key(label))} or {k}
        return out

    def apply(self, x: pd.DataFrame, tally: FilterTally | None = None) -> pd.DataFrame:
        """The rows of ``x`` every asked dimension matches; ``tally`` records what matched."""
        if not self:
            return x
        keep = np.ones(len(x), dtype=bool)
        for dim, values in self.asked():
            if dim not in x.columns:
                if tally is not None:
                    tally.missing_columns.add(dim)
                keep[:] = False
                continue
            col = x[dim].astype("string").fillna("").str.strip()
            if tally is not None:
                tally.present.setdefault(dim, Counter()).update(col[col != ""].tolist())
            hit = np.zeros(len(x), dtype=bool)
            ids = self.product_ids() if dim == "product" else {}
            keys = _keys(col)
            for v in values:
                m = (col.isin(ids[v]) if dim == "product" else keys == _key(v)).to_numpy(bool)
                if tally is not None:
                    tally.matched[(dim, _key(v))] += int(m.sum())
                hit |= m
            keep &= hit
        if tally is not None:
            tally.kept += int(keep.sum())
        return x.loc[keep].reset_index(drop=True)

    def describe(self, judged: pd.DataFrame | None = None) -> str:
        """The scope in words: "Managed WordPress only; team Billing" ("" when unfiltered).

        With ``judged`` (the kept tickets), teams and agents are spelled as the history spells
        them ("--group billing" reads "team Billing"); otherwise as asked."""
        names = product_names()
        parts = []
        if self.products:
            labels = [
                ", ".join(names.get(p, p) for p in sorted(ids))
                for ids in self.product_ids().values()
            ]
            parts.append(" and ".join(labels) + " only")
        for values, one, many in ((self.groups, "team", "teams"),
                                  (self.assignees, "agent", "agents")):  # fmt: skip
            if values:
                shown = [_spelled(v, judged, one) for v in values]
                parts.append(f"{one if len(values) == 1 else many} {', '.join(shown)}")
        return "; ".join(parts)


def _spelled(value: str, judged: pd.DataFrame | None, dim: str) -> str:
    """``value`` as the history most often spells it (``dim``: "team" or "agent")."""
    col = "group" if dim == "team" else "assignee"
    if judged is None or col not in judged.columns:
        return value
    raw = judged[col].astype("string").fillna("").str.strip()
    same = raw[_keys(raw) == _key(value)]
    return str(same.mode().iloc[0]) if len(same) else value


def filter_frame(x: pd.DataFrame, f: TicketFilter | None) -> pd.DataFrame:
    """``x`` narrowed by ``f`` (a whole judged frame); a value matching nothing is an error."""
    if f is None or not f:
        return x
    tally = FilterTally()
    out = f.apply(x, tally)
    tally.check(f)
    return out
