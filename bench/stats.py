"""Small statistics for per-round ratios (standard library only)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

# two-sided 95 % Student t quantiles, by degrees of freedom
_T95 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def t95(df: int) -> float:
    return _T95[df - 1] if 1 <= df <= len(_T95) else 1.96


def ratio_ci(ratios: Sequence[float]) -> dict[str, float | int | None]:
    """Geometric mean of per-round ratios with a 95 % t interval on their logarithms.

    With one round there is no interval (``low``/``high`` are ``None``).
    """
    logs = [math.log(r) for r in ratios if r > 0]
    n = len(logs)
    if n == 0:
        return {"n": 0, "geomean": None, "low": None, "high": None}
    mean = statistics.fmean(logs)
    if n == 1:
        return {"n": 1, "geomean": math.exp(mean), "low": None, "high": None}
    half = t95(n - 1) * statistics.stdev(logs) / math.sqrt(n)
    return {
        "n": n,
        "geomean": math.exp(mean),
        "low": math.exp(mean - half),
        "high": math.exp(mean + half),
    }


def mean_ci(values: Sequence[float]) -> dict[str, float | int | None]:
    """Arithmetic mean with a 95 % t interval (for overhead percentages)."""
    n = len(values)
    if n == 0:
        return {"n": 0, "mean": None, "low": None, "high": None}
    mean = statistics.fmean(values)
    if n == 1:
        return {"n": 1, "mean": mean, "low": None, "high": None}
    half = t95(n - 1) * statistics.stdev(values) / math.sqrt(n)
    return {"n": n, "mean": mean, "low": mean - half, "high": mean + half}


def spread(values: Sequence[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "median": None, "min": None, "max": None}
    return {
        "n": len(values),
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
    }
