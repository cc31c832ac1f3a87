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

# %% tags=["parameters"]
# Paths are absolute or relative to the repository root; None means the default.
OLD_POLICY = None  # None: the embedded Kenotronix policy
# default NEW_POLICY: the seed with backups made supported on shared hosting
NEW_POLICY = "tests/fixtures/policies/a_backups_supported.txt"
TICKETS = None  # None: the bundled sample ticket history

# %% [markdown]
# # Policy versions: what changed, and which tickets it moves in or out of scope
#
# The policy "is subject to change at any time … without notice". This notebook compares two
# versions of it and, on a ticket history, shows which tickets' verdicts the change flips.
#
# Clauses are matched **within a product** (section spellings come from `products.yaml`, so
# "SHARED ACCOMMODATION" and "SHARED HOSTING" are one product), never by position: moving a
# clause or a section is no change, and neither is a change of line endings, BOM, trailing
# blanks or curly vs straight quotes (texts are compared normalised). Each pair is found by the
# best of: identical clause; same text with the heading reworded; same heading with the text
# reworded; same heading under the other status (a *status change*); then a fuzzy similarity of
# heading + text within the same topic. Whatever is left is *added* or *removed*. The `match`
# and `similarity` columns say how each row was paired. Change the parameters above (or run with
# papermill) to compare other files.

# %%
from pathlib import Path  # noqa: E402

from kenolib import config  # noqa: E402
from kenolib.diff import (  # noqa: E402
    change_counts,
    diff_policies,
    history_months,
    impact_figure,
    impact_headline,
    impact_summary,
)
from kenolib.impact import verdict_impact  # noqa: E402
from kenolib.policy import parse_policy  # noqa: E402
from kenolib.tickets import load_tickets  # noqa: E402


def resolve(path: str | None, default: Path) -> Path:
    """A parameter path: absolute, or relative to the repository root; None gives the default."""
    if path is None:
        return default
    p = Path(path)
    return p if p.is_absolute() else config.PROJECT_DIR / p


old = parse_policy(resolve(OLD_POLICY, config.DEFAULT_POLICY))
new = parse_policy(resolve(NEW_POLICY, config.DEFAULT_POLICY))
tickets = load_tickets(resolve(TICKETS, config.SAMPLE_TICKETS))
print(f"old: {old.source}\nnew: {new.source}\ntickets: {len(tickets)}")
for w in old.warnings + new.warnings:
    print("warning:", w)

# %% [markdown]
# ## What changed
#
# One row per added, removed or changed clause (`status_changed` rows keep both texts).

# %%
diff = diff_policies(old, new)
print(change_counts(diff))
diff.drop(columns=["qualifier", "old_heading", "new_heading", "old_lines", "new_lines"])

# %% [markdown]
# ## Which tickets change verdict
#
# Every ticket is cross-referenced under both versions. A ticket is listed when its verdict
# changes, or when a different clause decides it (a renumbered clause is the same clause).
# `into_scope`: not supported or silent before, supported now; `out_of_scope`: the reverse.

# %%
impact = verdict_impact(tickets, old, new)
impact.head(20)

# %% [markdown]
# ## By product, topic and month, with the agent hours involved

# %%
summary = impact_summary(impact)
headline = impact_headline(impact, history_months(tickets) or None)
for sentence in headline["sentence"]:
    print(sentence)
summary.head(60)

# %%
impact_figure(summary, tickets=tickets)  # every month of the history, empty ones at zero
