"""Assembling elements and clauses from the lines of a policy: one pass, one state machine.

The state is where the pass stands: before any product (the overview region: preamble, the
✔/✖ table or the two overview lists), in a product section, under one of its list labels, or
after a section heading that names no product. What each line is comes from
``kenolib.policy_lines``; the result (element rows and clause dicts) is turned into frames by
``kenolib.policy``.
"""

from __future__ import annotations

import re

from kenolib.errors import KenolibError
from kenolib.policy_lines import (
    NOT_SUPPORTED,
    SUPPORTED,
    Line,
    is_heading_like,
    label_status,
    load_labels,
    mark_status,
    product_keys,
    read_line,
    short_title,
    split_inline,
)
from kenolib.taxonomy import heading_aliases, load_products, normalise, slugify

NOTE = "note"
STATUS_CODES = {SUPPORTED: "S", NOT_SUPPORTED: "N", NOTE: "X"}
STATUS_NAMES = {SUPPORTED: "Supported", NOT_SUPPORTED: "Not supported", NOTE: "Note"}

_LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
_SEPARATOR_RE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-*:?\s*)*\|?\s*$")
_NOTE_HEADING_RE = re.compile(r"\bnote\b")
_NOTE_PREFIX_RE = re.compile(r"^(?:please\s+)?note\s*:\s*", re.IGNORECASE)
HEADINGLESS_WORDS = 6
#: Lines of prose a numbered or Markdown product heading may have before its first label.
INTRO_LINES = 3
#: The state after a section heading that names no product (e.g. "3. Contact us.").
CLOSED = "<closed>"


def split_lines(text: str) -> list[str]:
    """Split text into lines that keep their own line ends (LF, CRLF or CR)."""
    return _LINE_RE.findall(text)


def _first_words(text: str, n: int = HEADINGLESS_WORDS) -> str:
    words = text.split()
    return " ".join(words[:n]) + ("…" if len(words) > n else "")


def _is_note_heading(line: str) -> bool:
    return is_heading_like(line) and bool(_NOTE_HEADING_RE.search(normalise(line)))


def _headingish(cue: Line) -> bool:
    """A heading by its form: Markdown ``#``, all bold, or short capitals / Title Case."""
    if cue.md_level is not None or cue.whole_bold:
        return True
    text = cue.text.rstrip(".:") if cue.number or cue.bullet else cue.text
    return is_heading_like(text)


class PolicyParser:
    """One pass over the lines: a state machine (overview region, table, product, label)."""

    def __init__(self, text: str, source: str, warnings: list[str]) -> None:
        self.source, self.warnings = source, warnings
        self.aliases = heading_aliases(load_products())
        self.labels = load_labels()
        self.raw_lines = split_lines(text)
        self.stripped = [ln.rstrip("\r\n") for ln in self.raw_lines]
        self.cues = [read_line(s) for s in self.stripped]
        self.elements: list[dict] = []
        self.clauses: list[dict] = []
        self.structure: list[dict] = []
        self.counters: dict[tuple[str, str], int] = {}
        self.seen_products: dict[str, int] = {}
        self.section: str | None = None  # None: before any product; CLOSED; or a product id
        self.in_table = self.table_seen = False
        self.product_label = ""
        self.product_level: tuple[str, int] | None = None
        self.status: str | None = None
        self.current: dict | None = None  # the clause being assembled
        self.label: dict | None = None  # the list label in force
        self.item_no = 0  # the last number of a numbered item in the current list
        self.outside_label = False  # a label was found after a section that names no product

    # -- helpers ----------------------------------------------------------------------------
    def warn(self, n: int, message: str) -> None:
        """A warning naming the source and line."""
        self.warnings.append(f"{self.source}: line {n}: {message}")

    def next_content(self, i: int, skip: int = 0) -> list[int]:
        """Indices of the next ``skip + 1`` non-blank lines after line index ``i``."""
        out = [j for j in range(i + 1, len(self.stripped)) if self.stripped[j].strip()]
        return out[: skip + 1]

    def add(self, n: int, kind: str, clause: dict | None = None, **over: object) -> None:
        """Record line ``n`` as one element of ``kind`` (citing ``clause`` when given)."""
        self.elements.append(
            {
                "line": n,
                "kind": kind,
                "product": over.get("product", self.section if self.in_product else None),
                "status": over.get("status", self.status),
                "clause_id": clause["clause_id"] if clause else None,
                "text": self.stripped[n - 1],
                "raw": self.raw_lines[n - 1],
            }
        )

    @property
    def in_product(self) -> bool:
        """Inside a product section (not the overview region, not after a closing heading)."""
        return self.section not in (None, CLOSED)

    def open_clause(
        self, status: str, heading: str, n: int, headed: bool, product: str | None = None
    ) -> dict:
        """Start a clause of ``status`` at line ``n`` (numbered per product and status)."""
        product = product or str(self.section)
        key = (product, status)
        self.counters[key] = self.counters.get(key, 0) + 1
        clause = {
            "clause_id": f"{product}.{STATUS_CODES[status]}{self.counters[key]:02d}",
            "product": product,
            "product_label": "Overview" if product == "overview" else self.product_label,
            "status": status,
            "heading": heading,
            "text_lines": [],
            "line_start": n,
            "line_end": n,
            "headed": headed,
            "open": headed,
            "indent": self.cues[n - 1].indent,
        }
        self.clauses.append(clause)
        self.current = clause
        if status != NOTE and self.label is not None:
            self.label["items"] += 1
        return clause

    # -- recognisers ------------------------------------------------------------------------
    def label_ahead(self, i: int, skip: int) -> bool:
        """A list label (or a note) within the next ``skip + 1`` content lines."""
        for j in self.next_content(i, skip):
            cue = self.cues[j]
            if label_status(cue.text, self.labels):
                return True
            if cue.bullet == "*" or _is_note_heading(cue.text):
                return True
            if cue.level is not None or _headingish(cue):
                return False  # another heading comes first: that one owns the label
        return False

    def product_of(self, i: int) -> str | None:
        """The product a heading names (via products.yaml; a slug when a label follows)."""
        cue = self.cues[i]
        if not cue.text or label_status(cue.text, self.labels) or "|" in cue.text:
            return None
        if is_heading_like(cue.text.rstrip(".")) or _headingish(cue):
            for key in product_keys(cue.text):
                if key in self.aliases and not (
                    self.aliases[key] == "overview" and self.seen_products
                ):
                    return self.aliases[key]
        if not _headingish(cue):
            return None
        return slugify(cue.text) if self.label_ahead(i, self.intro_allowance(cue)) else None

    def intro_allowance(self, cue: Line) -> int:
        """How many prose lines may sit between this heading and its first label."""
        level = cue.level
        if level is None:
            return 0
        if level[0] == "num" and level[1] >= 2:
            return INTRO_LINES
        prod = self.product_level
        return INTRO_LINES if prod is None or (prod[0] == level[0] and level[1] <= prod[1]) else 0

    def section_level(self, cue: Line) -> bool:
        """A numbered / Markdown heading at the product sections' level (not a list item)."""
        prod, level = self.product_level, cue.level
        if prod is None or level is None or level[0] != prod[0] or level[1] > prod[1]:
            return False
        numbered_item = level == ("num", 1) and self.status is not None
        return not (numbered_item and int(str(cue.number)) == self.item_no + 1)

    def item_heading(self, i: int, cue: Line) -> bool:
        """An item's heading on its own line (its text follows on the next lines)."""
        if cue.md_level is not None or cue.whole_bold:
            return True
        if split_inline(cue) is not None:
            return False
        if is_heading_like(cue.text):
            return True
        nxt = [self.cues[j] for j in self.next_content(i)]
        if not nxt or nxt[0].bullet or label_status(nxt[0].text, self.labels):
            return False
        after = nxt[0]
        if cue.text.endswith(".") and after.indent > cue.indent:
            return short_title(cue.text.rstrip("."))
        return (
            not cue.text.endswith((".", ",", ";", ":", "!", "?"))
            and short_title(cue.text)
            and after.text.endswith(".")
            and len(after.text) > len(cue.text)
            and not is_heading_like(after.text)
        )

    # -- the pass ---------------------------------------------------------------------------
    def run(self) -> None:
        """Read every line, then check what was found (may raise for prose with no structure)."""
        for i, line in enumerate(self.stripped):
            if not line.strip():
                self.add(i + 1, "blank")
            elif not (self.in_table and self.table_line(i)):
                self.content_line(i)
        self.finish()

    def content_line(self, i: int) -> None:
        """Route one non-blank line by the state: overview, product, label or outside."""
        n, cue = i + 1, self.cues[i]
        if self.section is None and self.table_start(i):
            return
        pid = self.product_of(i)
        if pid == "overview":
            self.section, self.status, self.current, self.label = None, None, None, None
            self.add(n, "preamble")
        elif pid is not None:
            self.product_heading(n, pid, cue)
        elif (st := label_status(cue.text, self.labels)) is not None:
            self.list_label(n, st, cue)
        elif self.section is None:
            self.overview_line(n, cue)
        elif self.section == CLOSED:
            self.outside_line(n, cue)
        elif self.section_level(cue):
            self.section, self.status, self.current, self.label = CLOSED, None, None, None
            self.outside_label = False
            self.add(n, "preamble")
        elif self.status is None:
            self.before_label(i, cue)
        else:
            self.item_line(i, cue)

    def table_start(self, i: int) -> bool:
        """The overview table's header line (a line with ``|`` followed by a separator)."""
        nxt = self.next_content(i)
        if "|" in self.stripped[i] and nxt and _SEPARATOR_RE.match(self.stripped[nxt[0]]):
            self.in_table = self.table_seen = True
            self.structure.append({"kind": "table", "product": "overview", "line": i + 1})
            self.add(i + 1, "overview_header")
            return True
        return False

    def table_line(self, i: int) -> bool:
        """One line of the overview table; False when the table has ended."""
        n, s = i + 1, self.stripped[i].strip()
        if _SEPARATOR_RE.match(s):
            self.add(n, "overview_header")
            return True
        if "|" not in s:
            self.in_table = False
            return False
        cells = [c.strip() for c in s.strip("|").split("|")]
        item = read_line(cells[0]).text if cells[0] else ""
        st = mark_status(cells[1:], self.labels)
        if st is None or not item:
            self.warn(n, f"overview row has no clear ✔ or ✖; kept as unplaced: {s[:80]!r}")
            self.add(n, "unplaced")
            return True
        clause = self.open_clause(st, item, n, True, product="overview")
        clause["text_lines"].append(item)
        self.current = None
        self.add(n, "overview_row", clause, product="overview", status=st)
        return True

    def product_heading(self, n: int, pid: str, cue: Line) -> None:
        """Open a product section (warning for an unknown or repeated product)."""
        if pid not in self.aliases.values():
            self.warn(
                n,
                f"product section {cue.text!r} is not in products.yaml; kept as {pid!r} "
                "(add the heading to products.yaml to map it)",
            )
        if pid in self.seen_products:
            self.warn(
                n,
                f"product {pid!r} appears again (first at line {self.seen_products[pid]}); "
                "its clauses are numbered on",
            )
        self.seen_products.setdefault(pid, n)
        self.section, self.product_label, self.status = pid, cue.text, None
        self.outside_label = False
        self.current = self.label = None
        self.product_level = cue.level or self.product_level
        self.structure.append({"kind": "product", "product": pid, "line": n, "text": cue.text})
        self.add(n, "product_heading")

    def list_label(self, n: int, status: str, cue: Line) -> None:
        """A list label: the status of the items below it."""
        outside = self.section == CLOSED or (self.section is None and self.table_seen)
        if outside:
            self.warn(
                n,
                f"label {cue.text!r} is outside any product section; its items are kept as "
                "unplaced (is the product heading above it missing or misspelled?)",
            )
            self.section, self.status, self.current, self.label = CLOSED, None, None, None
            self.outside_label = True
            self.add(n, "unplaced")
            return
        product = self.section or "overview"
        prev = self.label
        if prev and prev["status"] == status and prev["items"] == 0 and prev["line"] == n - 1:
            prev["continued"] = True  # "INCLUDED SUPPORTED:" then "WE CAN HELP YOU:"
        else:
            self.repeated_label(n, product, status)
        self.label = {"kind": "label", "product": product, "status": status, "line": n}
        self.label.update(text=cue.text, items=0)
        self.structure.append(self.label)
        self.status, self.current, self.item_no = status, None, 0
        self.add(n, "status_marker")

    def repeated_label(self, n: int, product: str, status: str) -> None:
        """A second list of one status in a product: maybe an unrecognised section above."""
        earlier = [
            s
            for s in self.structure
            if s["kind"] == "label" and s["product"] == product and s["status"] == status
        ]
        if not earlier or not any(s["items"] for s in earlier):
            return
        last = next(
            (c for c in reversed(self.clauses) if c["product"] == product and c["headed"]), None
        )
        where = (
            f"; line {last['line_start']} ({last['heading']!r}) looks like a section heading "
            "read as a clause"
            if last
            else ""
        )
        self.warn(
            n,
            f"a second {STATUS_NAMES[status]!r} list in {product!r} (first at line "
            f"{earlier[0]['line']}){where}; add it to products.yaml if it is a product",
        )

    def overview_line(self, n: int, cue: Line) -> None:
        """A line before any product section: preamble, or an item of the overview lists."""
        if self.status is not None and self.label is not None:
            bulleted_list = self.label.get("bulleted")
            numbered_item = cue.level == ("num", 1) and int(str(cue.number)) == self.item_no + 1
            if (
                (cue.level is None or numbered_item)
                and not cue.whole_bold
                and not (bulleted_list and not (cue.bullet or cue.number))
            ):
                self.item_no = int(str(cue.number)) if numbered_item else self.item_no
                clause = self.open_clause(self.status, cue.text, n, True, product="overview")
                clause["text_lines"].append(cue.text)
                self.label["bulleted"] = bool(cue.bullet or cue.number)
                self.current = None
                self.add(n, "overview_row", clause, product="overview")
                return
            self.status, self.label = None, None
        if self.table_seen and cue.level is None:
            self.warn(n, f"text outside any product section: {cue.text[:80]!r}")
            self.add(n, "unplaced")
        else:
            self.add(n, "preamble")

    def outside_line(self, n: int, cue: Line) -> None:
        """After a section heading that names no product: its prose is preamble, items warn."""
        if cue.level is None and (cue.bullet or cue.number or self.outside_label):
            self.warn(n, f"text outside any product section: {cue.text[:80]!r}")
            self.add(n, "unplaced")
        else:
            self.add(n, "preamble")

    def note_line(self, n: int, cue: Line) -> bool:
        """A starred / ``Note:`` line or a NOTE heading in a product section."""
        if cue.bullet == "*" and self.status is None or _NOTE_PREFIX_RE.match(cue.text):
            text = _NOTE_PREFIX_RE.sub("", cue.text).strip()
            clause = self.open_clause(NOTE, _first_words(text), n, False)
            clause["text_lines"].append(text)
            self.current = None  # a starred note is one line
            self.add(n, "note", clause)
            return True
        marked = cue.md_level is not None or cue.whole_bold
        marked = marked or (cue.text.endswith(":") and len(cue.text.split()) <= 8)
        if _is_note_heading(cue.text) or (marked and _NOTE_HEADING_RE.search(normalise(cue.text))):
            self.add(n, "note", self.open_clause(NOTE, cue.text, n, True))
            return True
        return False

    def continues(self, cue: Line) -> bool:
        """The line carries on the clause being assembled (its body, or wrapped text)."""
        cur = self.current
        if cur is None or cue.level is not None:
            return False
        if cur["open"] and not cue.bullet and not cue.number:
            return True
        return cue.indent > cur["indent"] and not cue.bullet

    def append_body(self, n: int) -> None:
        """Add line ``n`` to the text of the clause being assembled."""
        cur = self.current
        assert cur is not None
        cur["text_lines"].append(self.cues[n - 1].text)
        cur["line_end"] = n
        self.add(n, "note" if cur["status"] == NOTE else "clause_body", cur)

    def before_label(self, i: int, cue: Line) -> None:
        """A line of a product section before its first label: a note, or kept as unplaced."""
        n = i + 1
        if self.note_line(n, cue):
            return
        if _headingish(cue):
            self.warn(
                n,
                f"heading {cue.text!r} comes before any SUPPORTED / NON SUPPORTED marker; "
                "kept as unplaced",
            )
            self.current = None
            self.add(n, "unplaced")
        elif self.continues(cue):
            self.append_body(n)
        else:
            self.warn(n, "text before any SUPPORTED / NON SUPPORTED marker; kept as unplaced")
            self.add(n, "unplaced")

    def item_line(self, i: int, cue: Line) -> None:
        """A line under a list label: an item's heading, its text, or a whole item."""
        n = i + 1
        if self.note_line(n, cue):
            return
        self.numbered_like_section(n, cue)
        if self.item_heading(i, cue):
            self.add(n, "clause_heading", self.open_clause(str(self.status), cue.text, n, True))
        elif self.continues(cue):
            self.append_body(n)
        elif (split := split_inline(cue)) is not None:
            clause = self.open_clause(str(self.status), split[0], n, True)
            clause["text_lines"].append(split[1])
            clause["open"] = False
            self.add(n, "clause_heading", clause)
        else:
            clause = self.open_clause(str(self.status), _first_words(cue.text), n, False)
            clause["text_lines"].append(cue.text)
            self.add(n, "clause_body", clause)
        if cue.number and "." not in cue.number:
            self.item_no = int(cue.number)

    def numbered_like_section(self, n: int, cue: Line) -> None:
        """Warn when an item is numbered like a section (``2.3.1``)."""
        if cue.level and cue.level[0] == "num" and cue.level[1] >= 2:
            self.warn(
                n,
                f"{cue.text!r} is numbered like a section ({cue.number}) but is read as a "
                f"clause heading of {self.section!r}; add it to products.yaml if it is a product",
            )

    def finish(self) -> None:
        """Refuse prose with no structure; warn for empty labels, sections and clauses."""
        n_rows = sum(1 for c in self.clauses if c["product"] == "overview")
        if n_rows == 0 and not self.seen_products:
            raise KenolibError(
                f"{self.source}: no policy structure found (no ✔/✖ overview table or lists and "
                "no product section with SUPPORTED / NON SUPPORTED headings); is this a support "
                "policy?"
            )
        for s in self.structure:
            if s["kind"] == "label" and not s["items"] and not s.get("continued"):
                self.warn(
                    s["line"],
                    f"label {s['text']!r} in {s['product']!r} has nothing under it (content "
                    "collapsed or cut?)",
                )
        items = {c["product"] for c in self.clauses if c["status"] != NOTE}
        for pid, n in self.seen_products.items():
            if pid not in items:
                self.warn(n, f"product section {pid!r} has no items (is it cut short?)")
        for c in self.clauses:
            if not c["text_lines"]:
                self.warn(
                    c["line_start"],
                    f"clause {c['heading']!r} has no text; kept with an empty text",
                )
