"""One place for paths and defaults (cookiecutter-data-science style)."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PACKAGE_DATA = PACKAGE_DIR / "data"

#: Project root when running from a checkout (editable install); reports default below it.
PROJECT_DIR = PACKAGE_DIR.parent
RAW_DIR = PROJECT_DIR / "data" / "raw"
PROCESSED_DIR = PROJECT_DIR / "data" / "processed"
#: ``KENOLIB_REPORTS_DIR`` moves the default report directory (``make test`` points it at a
#: temporary folder so that the user's reports/ is never rewritten by the tests).
REPORTS_DIR = Path(os.environ.get("KENOLIB_REPORTS_DIR") or PROJECT_DIR / "reports")
#: The analyst's labels store (``kenolib learn``; ``--labels DIR`` on review, learn, crossref).
LABELS_DIR = PROJECT_DIR / "data" / "labels"

#: The embedded Kenotronix policy (a link to data/raw/ in a checkout, a copy in a wheel).
DEFAULT_POLICY = PACKAGE_DATA / "kenotronix_support_policy.txt"
TAXONOMY_FILE = PACKAGE_DATA / "taxonomy.yaml"
PRODUCTS_FILE = PACKAGE_DATA / "products.yaml"
#: Helpdesk export column maps, the synthetic-ticket vocabulary and the ticket classifier's signals.
HELPDESKS_FILE = PACKAGE_DATA / "helpdesks.yaml"
SYNTH_VOCABULARY_FILE = PACKAGE_DATA / "synth_vocabulary.yaml"
TICKET_SIGNALS_FILE = PACKAGE_DATA / "ticket_signals.yaml"
#: Who owns the thing a ticket is about: platform components, customer software, third parties.
OWNERSHIP_FILE = PACKAGE_DATA / "ownership.yaml"
#: The learned component of the classifier (``kenolib train``): plain arrays (npz), no pickle.
MODEL_FILE = PACKAGE_DATA / "verdict_model.npz"
#: The labelled sets shipped with the project (hand-written and real customer questions).
LABELLED_DIR = PROJECT_DIR / "tests" / "fixtures" / "labelled"
REAL_QUESTIONS_DIR = PROJECT_DIR / "tests" / "fixtures" / "real"
#: The bundled sample ticket history (``kenolib synth --n 3000 --seed 7``).
SAMPLE_TICKETS = PACKAGE_DATA / "sample_tickets.csv.gz"

#: Largest policy file accepted, in bytes (the seed is 18 kB).
MAX_POLICY_BYTES = 5_000_000

#: A requester with at least this many tickets is listed among the repeat requesters
#: (``kenolib report --repeat-requesters N``).
REPEAT_REQUESTER_TICKETS = 3
#: Rows of the workbook's Ticket detail sheet at most (the drill-down behind each cell).
TICKET_DETAIL_ROWS = 50_000
#: Tickets listed under each coverage cell or topic row of the HTML page at most.
HTML_CELL_TICKETS = 25


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)
