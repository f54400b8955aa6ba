"""Percentiles of measured latencies."""

import math


def percentile(values, p):
    """The nearest-rank `p`th percentile (the smallest value at least p% of the values are at or below); NaN
    for no values, so that a table still prints."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]
