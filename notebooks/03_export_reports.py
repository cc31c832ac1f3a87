# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Export the management reports
#
# Builds the Excel workbook and the offline HTML report with the same parameters as the other
# notebooks — exactly what `kenolib report` (and `make report`) produces.

# %% tags=["parameters"]
TICKETS = None  # None = the bundled sample history
FORMAT = "auto"
POLICY = None  # None = the embedded Kenotronix policy
BASELINE = None  # an older policy version: adds a "Policy changes" sheet and section
HOURLY_RATE = 45.0
OUT_DIR = None  # None = the project's reports/ directory
PRODUCT = None  # e.g. "Managed WordPress" (id or label) or a list of them; None keeps all
GROUP = None  # e.g. "Billing": a team of the export's group column (or a list); None keeps all

# %%
from pathlib import Path

import openpyxl

from kenolib import config
from kenolib.filters import TicketFilter
from kenolib.report import write_reports


def _values(v):
    return () if v is None else (v,) if isinstance(v, str) else tuple(v)


out_dir = Path(OUT_DIR) if OUT_DIR else config.REPORTS_DIR
written = write_reports(
    policy=POLICY,
    tickets=TICKETS,
    fmt=FORMAT,
    out_dir=out_dir,
    hourly_rate=HOURLY_RATE,
    baseline=BASELINE,
    progress=False,
    ticket_filter=TicketFilter(products=_values(PRODUCT), groups=_values(GROUP)),
)
for path in written:
    print(f"{path}  ({path.stat().st_size / 1e6:.2f} MB)")

# %% [markdown]
# The workbook's sheets, read back from the file just written:

# %%
workbook = next(p for p in written if p.suffix == ".xlsx")
wb = openpyxl.load_workbook(workbook, read_only=True)
print("\n".join(f"{ws.title}: {sum(1 for _ in ws.rows):,} rows" for ws in wb.worksheets))
wb.close()
