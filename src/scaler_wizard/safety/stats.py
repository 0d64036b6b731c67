"""Robust rolling statistics for the breaker: median/MAD z-scores and least-squares slopes.

Why median/MAD and not mean/std: our windows are short (16-64 logged values, because small
LoRA runs log only a few hundred times), and in a short window one earlier spike inflates the
standard deviation enough to hide the next one (OLMo-core's 6σ rule assumes 128 values). The
median and the MAD ignore up to half the window being outliers. The MAD is scaled by 1.4826 so
that for normally distributed noise it estimates σ, which keeps published σ thresholds usable.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

MAD_TO_SIGMA = 1.4826  # 1 / Φ⁻¹(3/4): MAD × this ≈ σ for Gaussian noise
MIN_RELATIVE_SCALE = 0.01  # a perfectly flat window would make any wobble infinitely "unusual";
# flooring the spread at 1% of the typical value means rises of a few percent never count.
MIN_SAMPLES = 8  # fewer values give a MAD too noisy to judge by (and no median worth the name)


@dataclass(frozen=True)
class RobustZ:
    """How far `value` sits above the window's median, in robust standard deviations."""

    value: float
    median: float
    mad: float
    scale: float
    z: float
    samples: int


def robust_z(value: float, window: Sequence[float]) -> RobustZ:
    """One-sided robust z-score of `value` against the previous values in `window`.

    Positive when the value is above the window's median; only rises matter for a loss.
    """
    if not window:
        raise ValueError("robust_z needs at least one value in the window")
    center = statistics.median(window)
    mad = statistics.median(abs(x - center) for x in window)
    scale = max(MAD_TO_SIGMA * mad, MIN_RELATIVE_SCALE * abs(center), 1e-12)
    return RobustZ(value, center, mad, scale, (value - center) / scale, len(window))


def slope(values: Sequence[float]) -> float:
    """Least-squares slope of `values` against their index 0, 1, ..., n-1 (per evaluation)."""
    n = len(values)
    if n < 2:
        raise ValueError("a slope needs at least two values")
    mean_x = (n - 1) / 2
    mean_y = math.fsum(values) / n
    num = math.fsum((i - mean_x) * (y - mean_y) for i, y in enumerate(values))
    den = math.fsum((i - mean_x) ** 2 for i in range(n))
    return num / den


def finite(*values: float) -> bool:
    return all(math.isfinite(v) for v in values)
