"""The aggregates of a judged history, accumulated batch by batch (no whole frame needed).

:class:`Accumulator` takes judged batches (the crossref columns and the ticket's
``created_at``, ``agent_minutes``, ``subject``) in order and keeps small partial tables; its
methods give the same tables as the whole-frame functions of :mod:`kenolib.aggregates`
(``verdict_by_product``, ``monthly_out_of_scope``, ``out_of_scope_hours``, ``silent_topics``,
``tickets_by_topic``, ``out_of_scope_estimate``). ``accumulate_judged`` reads a judged Parquet
file or dataset on disk, only the columns needed, in record batches.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from kenolib import aggregates as A
from kenolib import config
from kenolib.errors import KenolibError
from kenolib.filters import FilterTally, TicketFilter
from kenolib.people import merge_people, people_part
from kenolib.schemas import (
    CROSSREF_COLUMNS,
    MONTHLY_OUT_OF_SCOPE_COLUMNS,
    OUT_OF_SCOPE_HOURS_COLUMNS,
    REPORT_OUT_OF_SCOPE_COLUMNS,
    SILENT_TOPIC_COLUMNS,
    TICKET_DETAIL_COLUMNS,
    TICKET_PEOPLE_COLUMNS,
    TICKETS_BY_TOPIC_COLUMNS,
    VERDICT_BY_PRODUCT_COLUMNS,
    check_frame,
)
from kenolib.taxonomy import topic_labels

#: Rows per batch read from a judged dataset.
READ_BATCH_ROWS = 100_000
#: Out-of-scope tickets kept for the report's detail sheet (one Excel sheet's worth).
MAX_DETAIL_ROWS = 1_048_575
#: The same for a report built from a judged dataset on disk: a detail sheet of a quarter of a
#: million tickets keeps the report within 2 GB at any history size (the dataset has them all).
JUDGED_DETAIL_ROWS = 250_000
_SUMS = ("n", "judged", "p", "pq", "ph", "pqhh", "hours_judged")


@dataclass
class Accumulator:
    """Partial aggregates of the judged batches seen so far (see the module doc)."""

    examples: int = 3
    max_detail_rows: int = MAX_DETAIL_ROWS
    products: dict[str, None] = field(default_factory=dict)  # in order of first appearance
    verdicts: Counter = field(default_factory=Counter)
    parts: dict[str, list[pd.DataFrame]] = field(default_factory=dict)
    silent_examples: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    sums: dict[str, A.ExactSum] = field(default_factory=lambda: {k: A.ExactSum() for k in _SUMS})
    needs_review: int = 0
    rows: int = 0
    detail: list[pd.DataFrame] = field(default_factory=list)
    detail_rows: int = 0
    out_of_scope_total: int = 0
    has_minutes: bool = False
    #: tickets kept for the drill-down (Ticket detail), the first ``max_ticket_rows``
    max_ticket_rows: int = config.TICKET_DETAIL_ROWS
    tickets_detail: list[pd.DataFrame] = field(default_factory=list)
    ticket_detail_rows: int = 0
    #: --product/--group/--assignee: only the matching tickets are counted
    ticket_filter: TicketFilter | None = None
    filter_tally: FilterTally = field(default_factory=FilterTally)

    def add(self, xref: pd.DataFrame) -> None:
        """Take one judged batch (its rows the filter keeps)."""
        x = check_frame(xref, CROSSREF_COLUMNS, "crossref frame")
        if self.ticket_filter:
            x = self.ticket_filter.apply(x, self.filter_tally)
        product = x["product"].astype(str)
        verdict = x["verdict"].astype(str)
        topic = x["topic"].astype(str)
        minutes = A._minutes(x)
        self.has_minutes = self.has_minutes or A.effort_recorded(x)
        self.rows += len(x)
        self.products.update(dict.fromkeys(product))
        self.verdicts.update(zip(product, verdict, strict=True))
        frame = pd.DataFrame(
            {"product": product, "verdict": verdict, "topic": topic, "minutes": minutes}
        )
        self._part("by_topic", frame, ["verdict", "product", "topic"], True)
        oos = (verdict == "not_supported").to_numpy()
        self._part("hours", frame[oos], ["product", "topic"], False)
        silent = (verdict == "silent").to_numpy()
        self._part("silent", frame[silent], ["topic"], False)
        self._examples(x[silent])
        self._monthly(x, product, oos)
        self._estimate(x, oos, minutes.to_numpy() / 60)
        self.needs_review += int(x["needs_review"].sum())
        self._detail(x, oos)
        self._people_and_tickets(x)

    def _people_and_tickets(self, x: pd.DataFrame) -> None:
        people = self.parts.setdefault("people", [])
        people.append(people_part(x))
        if len(people) >= 32:  # keep the partials few: requesters can be many
            self.parts["people"] = [merge_people(people)]
        room = self.max_ticket_rows - self.ticket_detail_rows
        if room > 0 and len(x):
            part = x[[c for c in TICKET_DETAIL_COLUMNS if c in x.columns]].head(room)
            self.tickets_detail.append(part.reset_index(drop=True))
            self.ticket_detail_rows += len(part)

    def people(self) -> pd.DataFrame:
        """The people partial over every batch (:func:`kenolib.people.merge_people`)."""
        return merge_people(self.parts.get("people") or [])

    def ticket_detail(self) -> pd.DataFrame:
        """The first ``max_ticket_rows`` tickets kept (in input order), for the drill-down."""
        if not self.tickets_detail:
            return pd.DataFrame(columns=TICKET_DETAIL_COLUMNS)
        return pd.concat(self.tickets_detail, ignore_index=True)

    def _part(self, name: str, frame: pd.DataFrame, keys: list[str], sort: bool) -> None:
        g = frame.groupby(keys, sort=sort)["minutes"].agg(tickets="size", agent_minutes="sum")
        self.parts.setdefault(name, []).append(g.reset_index())

    def _merged(self, name: str, keys: list[str], sort: bool) -> pd.DataFrame:
        parts = self.parts.get(name) or []
        if not parts:
            return pd.DataFrame(columns=[*keys, "tickets", "agent_minutes"])
        both = pd.concat(parts, ignore_index=True)
        return both.groupby(keys, sort=sort, dropna=False)[["tickets", "agent_minutes"]].sum()

    def _examples(self, s: pd.DataFrame) -> None:
        subj = s["subject"].astype(str) if "subject" in s.columns else pd.Series("", index=s.index)
        head = pd.DataFrame(
            {"topic": s["topic"].astype(str), "id": s["ticket_id"].astype(str), "subject": subj}
        )
        for topic, rows in head.groupby("topic", sort=False):
            have = self.silent_examples.setdefault(str(topic), [])
            room = max(self.examples, 0) - len(have)
            if room > 0:
                have += list(zip(rows["id"].head(room), rows["subject"].head(room), strict=True))

    def _monthly(self, x: pd.DataFrame, product: pd.Series, oos: np.ndarray) -> None:
        if "created_at" in x.columns:
            created = pd.to_datetime(x["created_at"], errors="coerce")
        else:
            created = pd.Series(pd.NaT, index=x.index, dtype="datetime64[ns]")
        month = created.dt.to_period("M").dt.to_timestamp()
        frame = pd.DataFrame({"month": month, "product": product, "out": oos.astype("int64")})
        g = frame.groupby(["month", "product"], dropna=False, sort=True)["out"]
        self.parts.setdefault("monthly", []).append(
            g.agg(tickets="size", out_of_scope="sum").reset_index()
        )

    def _estimate(self, x: pd.DataFrame, oos: np.ndarray, hours: np.ndarray) -> None:
        for k, v in A.estimate_sums(x["confidence"], oos, hours).items():
            self.sums[k] += v

    def _detail(self, x: pd.DataFrame, oos: np.ndarray) -> None:
        self.out_of_scope_total += int(oos.sum())
        room = self.max_detail_rows - self.detail_rows
        if room <= 0:
            return
        cols = [c for c in REPORT_OUT_OF_SCOPE_COLUMNS if c in x.columns]
        part = x.loc[oos, cols].head(room).reset_index(drop=True)
        self.detail.append(part)
        self.detail_rows += len(part)

    # -- the whole-frame functions' results ----------------------------------------------------
    def verdict_by_product(self) -> pd.DataFrame:
        """As :func:`kenolib.aggregates.verdict_by_product`."""
        order = A._product_order(pd.Series(list(self.products), dtype=object))
        tab = pd.DataFrame(0, index=order, columns=["supported", "not_supported", "silent"])
        for (prod, verdict), n in self.verdicts.items():
            if verdict in tab.columns:
                tab.loc[prod, verdict] += n
        tab = tab.astype("int64")
        tab["tickets"] = tab.sum(axis=1)
        out = tab.rename_axis("product").reset_index()
        return check_frame(out, VERDICT_BY_PRODUCT_COLUMNS, "verdict_by_product")

    def monthly_out_of_scope(self) -> pd.DataFrame:
        """As :func:`kenolib.aggregates.monthly_out_of_scope`."""
        both = pd.concat(self.parts.get("monthly") or [], ignore_index=True)
        g = both.groupby(["month", "product"], dropna=False, sort=True)
        out = g[["tickets", "out_of_scope"]].sum().reset_index()
        out["share"] = (out["out_of_scope"] / out["tickets"]).round(4)
        return check_frame(out, MONTHLY_OUT_OF_SCOPE_COLUMNS, "monthly_out_of_scope")

    def out_of_scope_hours(self, hourly_rate: float | None = None) -> pd.DataFrame:
        """As :func:`kenolib.aggregates.out_of_scope_hours`."""
        if hourly_rate is not None and hourly_rate < 0:
            raise KenolibError(f"hourly rate must be zero or more (got {hourly_rate})")
        out = self._merged("hours", ["product", "topic"], False).reset_index()
        out["agent_hours"] = (out.pop("agent_minutes") / 60).round(2)
        if hourly_rate is not None:
            out["cost"] = (out["agent_hours"] * hourly_rate).round(2)
        out = check_frame(out, OUT_OF_SCOPE_HOURS_COLUMNS, "out_of_scope_hours")
        out = out.sort_values(["agent_hours", "tickets"], ascending=False, kind="stable")
        return out.reset_index(drop=True)

    def silent_topics(self) -> pd.DataFrame:
        """As :func:`kenolib.aggregates.silent_topics` with ``examples`` examples."""
        if not self.silent_examples:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in SILENT_TOPIC_COLUMNS})
        out = self._merged("silent", ["topic"], False).reset_index()
        out["agent_hours"] = (out.pop("agent_minutes") / 60).round(2)
        out["share"] = (out["tickets"] / max(self.rows, 1)).round(4)
        labels = topic_labels()
        out.insert(1, "topic_label", out["topic"].map(labels).fillna("Unmapped"))
        ex = self.silent_examples
        out["example_ticket_ids"] = out["topic"].map(lambda t: "; ".join(i for i, _ in ex[t]))
        out["example_subjects"] = out["topic"].map(lambda t: " | ".join(s for _, s in ex[t]))
        out = check_frame(out, SILENT_TOPIC_COLUMNS, "silent_topics")
        out = out.sort_values(["tickets", "agent_hours"], ascending=False, kind="stable")
        return out.reset_index(drop=True)

    def tickets_by_topic(self) -> pd.DataFrame:
        """As :func:`kenolib.aggregates.tickets_by_topic`."""
        out = self._merged("by_topic", ["verdict", "product", "topic"], True).reset_index()
        out["agent_hours"] = (out.pop("agent_minutes") / 60).round(2)
        return check_frame(out, TICKETS_BY_TOPIC_COLUMNS, "tickets_by_topic")

    def out_of_scope_estimate(
        self, hourly_rate: float | None = None, z: float = 1.96
    ) -> pd.DataFrame:
        """As :func:`kenolib.aggregates.out_of_scope_estimate`."""
        return A.estimate_from_sums(self.sums, hourly_rate, z)

    def out_of_scope_detail(self) -> pd.DataFrame:
        """The first ``max_detail_rows`` out-of-scope tickets (the report's detail sheet)."""
        if not self.detail:
            return pd.DataFrame(columns=REPORT_OUT_OF_SCOPE_COLUMNS)
        return pd.concat(self.detail, ignore_index=True)


def judged_columns(path: str | os.PathLike[str]) -> tuple[ds.Dataset, list[str]]:
    """A judged Parquet file or dataset and the columns the aggregates read from it."""
    p = Path(path)
    if not p.exists():
        raise KenolibError(f"{p}: no such judged file or dataset; run kenolib crossref first")
    try:
        data = ds.dataset(p, format="parquet", partitioning="hive", exclude_invalid_files=True)
    except Exception as exc:  # pyarrow raises several types for an unreadable dataset
        msg = (str(exc).splitlines() or [""])[0][:200]
        raise KenolibError(f"{p}: not a readable Parquet dataset ({msg})") from None
    names = data.schema.names
    missing = [c for c in CROSSREF_COLUMNS if c not in names]
    if missing:
        raise KenolibError(
            f"{p}: not a judged history (missing {', '.join(missing)}); "
            "give the output of kenolib crossref"
        )
    wanted = [*CROSSREF_COLUMNS, "created_at", "agent_minutes", "subject"]
    wanted += REPORT_OUT_OF_SCOPE_COLUMNS + TICKET_PEOPLE_COLUMNS + TICKET_DETAIL_COLUMNS
    return data, [c for c in dict.fromkeys(wanted) if c in names]


def accumulate_judged(
    path: str | os.PathLike[str],
    examples: int = 3,
    batch_rows: int = READ_BATCH_ROWS,
    max_detail_rows: int = JUDGED_DETAIL_ROWS,
    ticket_filter: TicketFilter | None = None,
) -> Accumulator:
    """Read a judged file or dataset in record batches (needed columns only) and accumulate.

    The out-of-scope detail keeps the first ``max_detail_rows`` tickets (memory stays bounded);
    every aggregate counts them all. ``ticket_filter`` keeps only the matching tickets (a value
    matching none is an error naming it).
    """
    data, columns = judged_columns(path)
    acc = Accumulator(examples=examples, max_detail_rows=max_detail_rows,
                      ticket_filter=ticket_filter)  # fmt: skip
    # file by file through ParquetFile.iter_batches: the dataset scanner decoded far ahead of
    # the consumer (the whole history at once for small month files: 0.86 GB at 1M tickets,
    # 4.2 GB at 5M), this reads one batch at a time (0.37 GB at 1M)
    for f in data.files:
        pf = pq.ParquetFile(f)
        present = [c for c in columns if c in pf.schema_arrow.names]
        for rb in pf.iter_batches(columns=present, batch_size=batch_rows):
            acc.add(rb.to_pandas(types_mapper=_text))
    if ticket_filter:
        acc.filter_tally.check(ticket_filter)
    return acc


def _text(t: pa.DataType) -> object:
    return pd.StringDtype("pyarrow") if t in (pa.string(), pa.large_string()) else None
