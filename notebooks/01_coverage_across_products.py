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
# # What does Kenotronix support, product by product?
#
# This notebook reads the support policy, maps every clause to a canonical topic, and compares
# coverage across the six products. All logic lives in `kenolib`; the cells only call it and
# show the results. Run it on another policy version by changing `POLICY` below (or with
# papermill: `papermill 01_coverage_across_products.ipynb out.ipynb -p POLICY path/to/policy.txt`).

# %% tags=["parameters"]
POLICY = None  # None = the embedded Kenotronix policy; or a path to another version
PRODUCT = "managed_wordpress"  # the product to contrast with its siblings below
TOPIC_FILTER = None  # e.g. "ssl" to narrow the clause table; None shows every topic

# %%
import pandas as pd
from itables import init_notebook_mode, show

from kenolib import charts
from kenolib.coverage import coverage_matrix, coverage_wide, policy_findings, product_contrasts
from kenolib.policy import clause_counts, parse_policy

init_notebook_mode(all_interactive=False)
pd.set_option("display.max_colwidth", 120)

parsed = parse_policy(POLICY)
clauses = parsed.clauses
coverage = coverage_matrix(clauses)
findings = policy_findings(clauses, coverage)
print(f"Policy: {parsed.source}\nSHA-256: {parsed.sha256}")
for warning in parsed.warnings:
    print("warning:", warning)

# %% [markdown]
# ## The policy as data
#
# Every line of the source belongs to one element; the clauses below are assembled from them.
# Counts of clauses per product section and status (`note` clauses, such as the managed-WordPress
# note on approved extensions, inform but never decide):

# %%
clause_counts(clauses)

# %% [markdown]
# ## Coverage heatmap
#
# Topics down, products across. Hover a cell for the clauses behind it. Cells marked as
# inherited come from the overview table, which applies to every product unless its own
# section says otherwise.

# %%
charts.coverage_heatmap(coverage, clauses)

# %% [markdown]
# The same matrix as a table (`*` marks a cell inherited from the overview table):

# %%
coverage_wide(coverage)

# %% [markdown]
# ## Contradictions between the overview table and a product section
#
# The overview table is meant to apply everywhere, yet some product sections say the opposite
# for the same variant of a topic. Each row cites both clauses and their source lines.

# %%
contradictions = findings[findings["kind"] == "contradiction"]
contradictions[["topic", "product", "detail", "clause_ids", "lines"]]

# %% [markdown]
# ## Conditional coverage
#
# A cell is *conditional* when one product supports one variant of a topic and not another —
# SSL bought from Kenotronix vs a third-party certificate, the one-click installer vs the
# customer's changes to an installed application, the shared MySQL service vs the customer's
# scripts that use it. The `qualifiers` column says which variant gets which answer.

# %%
conditional = coverage[coverage["status"] == "conditional"]
conditional[["topic", "product", "inherited", "qualifiers", "clause_ids"]]

# %% [markdown]
# ## What one product covers that its siblings do not
#
# `only_here`: covered (supported or conditional) by the chosen product but not by a sibling;
# `only_sibling`: the reverse.

# %%
product_contrasts(coverage, PRODUCT)

# %% [markdown]
# Sibling gaps for every product family:

# %%
findings[findings["kind"] == "sibling_gap"][["topic", "product", "other_product", "detail"]]

# %% [markdown]
# ## Silent cells
#
# Topics neither a product's section nor the overview table mentions: candidates for a policy
# decision. Counted per product:

# %%
silent = findings[findings["kind"] == "silent"]
silent.groupby("product").size().rename("silent topics").to_frame()

# %% [markdown]
# ## Every clause, filterable
#
# Use the search box to filter by topic, heading or text.

# %%
table = clauses if TOPIC_FILTER is None else clauses[clauses["topic"] == TOPIC_FILTER]
show(table.drop(columns=["product_label"]), paging=True, lengthMenu=[10, 25, 50, 200])
