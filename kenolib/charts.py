"""Former home of the plotly figures, kept so notebooks' ``from kenolib import charts`` works.

The figures live in :mod:`kenolib.report.charts`.
"""

from __future__ import annotations

from kenolib.report.charts import (
    STATUS_ORDER,
    VERDICT_ORDER,
    coverage_heatmap,
    monthly_trend,
    plain,
    product_small_multiples,
    silent_topics_bar,
    verdicts_by_product,
    volume_share_trend,
)

__all__ = [
    "STATUS_ORDER",
    "VERDICT_ORDER",
    "coverage_heatmap",
    "monthly_trend",
    "plain",
    "product_small_multiples",
    "silent_topics_bar",
    "verdicts_by_product",
    "volume_share_trend",
]
