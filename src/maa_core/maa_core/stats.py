"""Uncertainty of measured rates: how far a success rate over a few episodes can be trusted."""

from __future__ import annotations

import math


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval ``(lo, hi)`` for a binomial rate of ``successes`` out of ``n`` trials (z = 1.96: 95 %).

    Unlike the normal approximation it stays inside [0, 1] and does not collapse to a point at 0 or n successes,
    which is where most of the reported rates sit (20 episodes, 0.9-1.0)."""
    if n < 1 or not 0 <= successes <= n or z <= 0:
        raise ValueError(f"wilson_interval: need n >= 1, 0 <= successes <= n and z > 0, got successes={successes}, "
                         f"n={n}, z={z}")
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def rate_interval(rate: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """:func:`wilson_interval` for a rate already divided by ``n`` (rounded back to a whole count of successes)."""
    if not 0.0 <= rate <= 1.0 or math.isnan(rate):
        raise ValueError(f"rate_interval: expected a rate in [0, 1], got {rate}")
    return wilson_interval(int(round(rate * n)), n, z)
