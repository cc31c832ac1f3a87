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
# # How does our ticket history line up with the support policy?
#
# Every ticket is classified to a product and a topic and given a policy verdict — supported,
# not supported, or *silent* (no clause applies) — that cites the clause it rests on. This
# notebook loads a ticket export, shows where agents worked outside the policy and what that
# cost, and lists the topics customers ask about that the policy never mentions.
#
# Parameters: `TICKETS` is a ticket export (CSV, XLSX or Parquet; Zendesk, Freshdesk, Jira,
# WHMCS or the generic layout; `FORMAT="auto"` detects it). `None` uses the bundled sample.

# %% tags=["parameters"]
TICKETS = None  # None = the bundled sample history; or a path to an export
FORMAT = "auto"  # auto | generic | zendesk | freshdesk | jira | whmcs
POLICY = None  # None = the embedded Kenotronix policy
HOURLY_RATE = 45.0  # cost of one agent hour, for the cost of out-of-scope work
LOW_CONFIDENCE = 0.6  # tickets below this confidence are listed for review
EXAMPLES = 3  # example tickets shown per policy-silent topic
PRODUCT = None  # e.g. "Managed WordPress" (id or label) or a list of them; None keeps all
GROUP = None  # e.g. "Billing": a team of the export's group column (or a list); None keeps all

# %%
import pandas as pd
import plotly.express as px
from itables import init_notebook_mode, show

from kenolib import charts, config
from kenolib.aggregates import (
    low_confidence,
    monthly_out_of_scope,
    monthly_totals,
    out_of_scope_estimate,
    out_of_scope_hours,
    silent_topics,
    verdict_by_product,
)
from kenolib.classify import crossref
from kenolib.filters import TicketFilter, filter_frame
from kenolib.policy import parse_policy
from kenolib.report import load_theme, product_labels
from kenolib.tickets import load_tickets

init_notebook_mode(all_interactive=False)
pd.set_option("display.max_colwidth", 100)

parsed = parse_policy(POLICY)
tickets = load_tickets(TICKETS or config.SAMPLE_TICKETS, FORMAT)
for warning in tickets.attrs.get("warnings", []):
    print("warning:", warning)
xref = crossref(tickets, parsed.clauses)


def _values(v):
    return () if v is None else (v,) if isinstance(v, str) else tuple(v)


scope = TicketFilter(products=_values(PRODUCT), groups=_values(GROUP))
xref = filter_frame(xref, scope)
print(scope.describe() or "all products and teams")
print(
    f"{len(xref):,} tickets from {xref['created_at'].min():%Y-%m-%d} to {xref['created_at'].max():%Y-%m-%d}"
)

# %% [markdown]
# ## Verdicts by product
#
# `unknown` collects tickets whose product label matched no product and whose text did not say;
# they are judged against the overview table alone.

# %%
verdicts = verdict_by_product(xref)
verdicts

# %%
charts.verdicts_by_product(verdicts)

# %% [markdown]
# ## Out-of-scope share, month by month
#
# The share of each product's tickets that the policy says Kenotronix does not support — work
# agents may have done anyway.

# %%
monthly = monthly_out_of_scope(xref)
theme = load_theme()
least = theme["workbook"]["trend_min_tickets"]  # months with fewer tickets show no share
overall = monthly_totals(monthly, least).assign(month=lambda m: m["month"].dt.strftime("%b %Y"))
charts.volume_share_trend(overall, theme)

# %% [markdown]
# The same share per product, by quarter, one panel each on the same scale:

# %%
labels = product_labels(list(verdicts["product"]))
charts.product_small_multiples(monthly, labels, theme, least)

# %% [markdown]
# ## Agent hours and cost of out-of-scope work
#
# Hours come from the export's time-tracking column; the cost uses the `HOURLY_RATE` parameter.

# %%
hours = out_of_scope_hours(xref, hourly_rate=HOURLY_RATE)
print(
    f"{hours['tickets'].sum():,} out-of-scope tickets took {hours['agent_hours'].sum():,.1f} agent hours"
    f" ≈ {hours['cost'].sum():,.0f} at {HOURLY_RATE:g} an hour"
)
hours.head(15)

# %% [markdown]
# How sure is that figure? Each verdict carries a calibrated confidence; counting every ticket
# by the probability that it really is out of scope gives an expected share and a likely range
# (see `kenolib.aggregates.out_of_scope_estimate`).

# %%
est = out_of_scope_estimate(xref, hourly_rate=HOURLY_RATE).iloc[0]
print(
    f"judged out of scope: {est['share']:.1%}; calibrated estimate "
    f"{est['expected'] / est['tickets']:.1%} (likely {est['share_low']:.1%}–{est['share_high']:.1%});"
    f" cost likely {est['cost_low']:,.0f}–{est['cost_high']:,.0f}"
)

# %% [markdown]
# ## What customers ask that the policy never mentions
#
# Policy-silent topics ranked by volume, with example tickets: candidates for a policy decision
# or for a paid add-on such as the policy's "Advanced Help".

# %%
gaps = silent_topics(xref, examples=EXAMPLES)
gaps

# %%
charts.silent_topics_bar(gaps, "topic_label", hover="example_subjects")

# %% [markdown]
# ## Which step decided, and which tickets an analyst should review
#
# `decided_by` names the judging step that settled each verdict (the topic signals, a qualifier
# cue, the ownership rule, the learned model on tickets the rules were unsure of, ...);
# `needs_review` flags verdicts under the confidence threshold chosen for 90 % precision above it.

# %%
pd.crosstab(xref["decided_by"], xref["verdict"], margins=True)

# %% [markdown]
# The classifier's confidence is calibrated on a hand-labelled set: a ticket at 0.6 is right
# about 60 % of the time. The least certain tickets, with the words that decided:

# %%
review = low_confidence(xref, threshold=LOW_CONFIDENCE)
print(
    f"{len(review):,} tickets below {LOW_CONFIDENCE:.0%} confidence;"
    f" {int(xref['needs_review'].sum()):,} flagged needs_review"
)
show(review, paging=True, maxBytes=0)  # every row, not a downsample

# %% [markdown]
# Topic mix of the low-confidence tickets — where the taxonomy or the policy may need words:

# %%
verdict_looks = theme["verdicts"]
topic_names = review["topic_label"] if "topic_label" in review else review["topic"]
px.histogram(
    review.assign(
        topic=topic_names, verdict=review["verdict"].map(lambda v: verdict_looks[v]["label"])
    ),
    y="topic",
    color="verdict",
    color_discrete_map={v["label"]: "#" + v["plot"] for v in verdict_looks.values()},
    title="Low-confidence tickets by topic",
    height=max(400, 22 * review["topic"].nunique() + 150),
).update_yaxes(categoryorder="total ascending", title="", dtick=1)

# %% [markdown]
# ## Review and correct
#
# An analyst checks a sample of verdicts in Excel and feeds the corrections back
# (`kenolib review` → fill in → `kenolib learn` → `kenolib crossref --labels`). Here the loop runs
# on the tickets above in a temporary folder: write the review workbook, fill in five rows
# through openpyxl as an analyst would (rows left blank mean "the verdict was right"), learn,
# and judge again with the labels.

# %%
import tempfile
from pathlib import Path

import openpyxl

from kenolib import feedback, review
from kenolib.classify.labels import format_accuracy

scratch = tempfile.TemporaryDirectory(prefix="kenolib-review-")  # removed in the next cell
work = Path(scratch.name)
rows = feedback.write_review(tickets, parsed, work / "review.xlsx", n=60, seed=1)
print(rows["sample_part"].value_counts().to_dict())

wb = openpyxl.load_workbook(work / "review.xlsx")
ws = wb[review.SHEET]
header = [c.value for c in ws[1]]
col = {name: header.index(name) + 1 for name in header}
for r in range(2, 7):  # the analyst corrects five rows: the verdict becomes "silent"
    ws.cell(r, col["correct_verdict"]).value = "silent"
    ws.cell(r, col["note"]).value = "no clause covers this"
    ws.cell(r, col["reviewer"]).value = "notebook"
wb.save(work / "review_filled.xlsx")

learned = feedback.learn(work / "review_filled.xlsx", work / "labels", parsed)
print(learned.counts, f"{learned.corrected} corrected")
print(format_accuracy(learned.accuracy))

# %%
again = feedback.crossref_with_labels(tickets, parsed, work / "labels")
print(f"decided_by == analyst: {int((again['decided_by'] == 'analyst').sum())} tickets")
scratch.cleanup()
pd.crosstab(again["decided_by"] == "analyst", again["verdict"])
