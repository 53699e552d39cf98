"""Small statistics for the report: the Clopper-Pearson bound and a streaming latency histogram.

Written here rather than taken from scipy: scipy is a large dependency for one function, and
the report must run wherever the shim runs. The bound is the exact one (no normal
approximation), computed from the regularized incomplete beta function with the continued
fraction of Numerical Recipes (Lentz's method), and checked in the tests against the closed
form, a direct binomial sum and published values.
"""

from __future__ import annotations

import math

__all__ = ["LatencyHistogram", "binomial_cdf", "clopper_pearson_upper"]

_EPS = 1e-15
_TINY = 1e-300
_MAX_ITERATIONS = 100_000


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, _MAX_ITERATIONS):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            return h
    return h  # not reached for the sizes a report sees (n up to billions converge sooner)


def regularized_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b), the regularized incomplete beta function, for a, b > 0 and 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_fraction(a, b, x) / a
    return 1.0 - front * _beta_fraction(b, a, 1.0 - x) / b


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    return regularized_beta(n - k, k + 1, 1.0 - p)


def clopper_pearson_upper(x: int, n: int, confidence: float = 0.95) -> float:
    """The exact one-sided upper confidence bound of a rate seen ``x`` times in ``n`` trials.

    The largest rate p for which seeing ``x`` or fewer in ``n`` still has a chance of at least
    ``1 - confidence``. With ``x = 0`` it has the closed form ``1 - (1 - confidence)^(1/n)``
    (about ``3/n`` at 95%, the "rule of three"); otherwise it is found by bisection on the
    binomial distribution function, which falls as p rises.

    Returns:
        1.0 when ``n`` is 0 (no evidence bounds nothing) or ``x >= n``.
    """
    if n <= 0 or x >= n:
        return 1.0
    alpha = 1.0 - confidence
    if x <= 0:
        return float(1.0 - alpha ** (1.0 / n))
    low, high = x / n, 1.0
    for _ in range(200):
        middle = (low + high) / 2.0
        if binomial_cdf(x, n, middle) > alpha:
            low = middle
        else:
            high = middle
        if high - low <= 1e-12 * high:
            break
    return high


class LatencyHistogram:
    """Durations in fixed logarithmic buckets: constant memory whatever the number of deletes.

    Bucket edges grow by 5% from 0.01 ms, so a percentile read from the histogram is within
    about 2.5% of the exact one (the middle of its bucket); the exact minimum and maximum are
    kept too and clamp the answer. Memory is a few hundred integers per route, so a report over
    millions of deletes stays flat, which sorting every duration would not.
    """

    GROWTH = 1.05
    FLOOR_MS = 0.01
    BUCKETS = 600  # 0.01 ms * 1.05^600: far above any timeout

    def __init__(self) -> None:
        self.counts = [0] * self.BUCKETS
        self.total = 0
        self.minimum = math.inf
        self.maximum = 0.0
        self._log_growth = math.log(self.GROWTH)

    def add(self, milliseconds: float) -> None:
        """Count one duration (negative ones count as 0)."""
        value = milliseconds if milliseconds > 0 else 0.0
        if value <= self.FLOOR_MS:
            index = 0
        else:
            index = int(math.log(value / self.FLOOR_MS) / self._log_growth) + 1
            if index >= self.BUCKETS:
                index = self.BUCKETS - 1
        self.counts[index] += 1
        self.total += 1
        if value < self.minimum:  # noqa: PLR1730 - faster than min() on the hot path
            self.minimum = value
        if value > self.maximum:  # noqa: PLR1730
            self.maximum = value

    def quantile(self, q: float) -> float | None:
        """The ``q`` quantile (0..1) in milliseconds; None when empty."""
        if not self.total:
            return None
        rank = max(1, math.ceil(q * self.total))
        seen = 0
        for index, count in enumerate(self.counts):
            seen += count
            if seen >= rank:
                if index == 0:
                    value = self.FLOOR_MS / 2
                else:
                    low = self.FLOOR_MS * self.GROWTH ** (index - 1)
                    value = low * math.sqrt(self.GROWTH)
                return min(max(value, self.minimum), self.maximum)
        return self.maximum  # pragma: no cover - the counts add up to total
