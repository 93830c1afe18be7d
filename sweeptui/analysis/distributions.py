"""The distribution functions behind the analysis's p-values: the normal CDF, the chi-square
and Student t tails, and the hypergeometric pmf and upper tail (vectorised over many tables).

They give the values ``scipy.stats`` gives (to a relative 1e-9 or better, tested against it
over the ranges the analysis meets) with numpy and the standard library only. Importing
``scipy.special`` alone took ~0.37 s (0.26-0.35 s on top of numpy: it pulls in scipy's
array-API layer and even numpy.f2py), a quarter of a cold ``sweeptui report``; these few
functions are not worth that.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

_EPSILON = 1e-16  # continued fractions and series stop once a step changes less than this
_TINY = 1e-300  # Lentz's stand-in for a zero denominator
_MAX_STEPS = 100_000  # far beyond what any argument here needs (~sqrt of the shape parameter)
_STIRLING_FROM = 10.0  # Stirling's series replaces math.lgamma from here on
# B_2k / (2k (2k - 1)): log Gamma's Stirling series, in powers of 1 / z^2 after a first 1 / z
_STIRLING_SERIES = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156)
_BLOCK = 64  # hypergeometric terms summed per vectorised step
_log_factorials = np.zeros(1)  # log(i!) for i < size, grown on demand


def normal_cdf(x: float) -> float:
    """P(Z <= x) for a standard normal Z (``scipy.stats.norm.cdf``), accurate in both tails."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def chi2_sf(x: float, dof: float) -> float:
    """P(X > x) for X chi-square with ``dof`` degrees of freedom (``scipy.stats.chi2.sf``)."""
    if math.isnan(x) or not dof > 0:
        return math.nan
    return _gamma_q(dof / 2.0, x / 2.0)


def t_cdf(t: float, dof: float) -> float:
    """P(T <= t) for T Student's t with ``dof`` degrees of freedom (``scipy.stats.t.cdf``).

    The lower tail is half the regularized incomplete beta I_x(dof/2, 1/2) at
    x = dof / (dof + t^2); both x and 1 - x are formed without a subtraction, and
    the prefactor in logarithms, so neither a tiny nor a huge ``t`` loses digits.
    """
    if math.isnan(t) or not dof > 0:
        return math.nan
    if t == 0:
        return 0.5
    if math.isinf(t):
        return 0.0 if t < 0 else 1.0
    a, b = dof / 2.0, 0.5
    log_t2 = 2.0 * math.log(abs(t))
    if abs(t) > math.sqrt(dof):  # r = dof / t^2 < 1: x = r / (1 + r), 1 - x = 1 / (1 + r)
        r = dof / abs(t) / abs(t)  # (t^2 itself may overflow)
        log_x, log_y = math.log(dof) - log_t2 - math.log1p(r), -math.log1p(r)
        x, y = r / (1.0 + r), 1.0 / (1.0 + r)
    else:  # s = t^2 / dof <= 1: x = 1 / (1 + s), 1 - x = s / (1 + s)
        s = t / dof * t
        log_x, log_y = -math.log1p(s), log_t2 - math.log(dof) - math.log1p(s)
        x, y = 1.0 / (1.0 + s), s / (1.0 + s)
    tail = 0.5 * _beta_ratio(a, b, x, y, log_x, log_y)
    return tail if t < 0 else 1.0 - tail


def _gamma_q(a: float, x: float) -> float:
    """The regularized upper incomplete gamma function Q(a, x) = Gamma(a, x) / Gamma(a).

    Below ``a + 1`` the power series gives P = 1 - Q, which is then at most ~0.9
    (so the subtraction keeps Q's digits); above it a continued fraction gives Q
    directly, however small.
    """
    if x <= 0:
        return 1.0
    if math.isinf(x):
        return 0.0
    log_front = _log_power_over_gamma(a, x)  # log(x^a e^-x / Gamma(a))
    if x < a + 1.0:
        return 1.0 - math.exp(log_front) / a * _gamma_series(a, x)
    return math.exp(log_front) * _continued_fraction(_gamma_fraction_terms(a, x))


def _gamma_series(a: float, x: float) -> float:
    """The sum over n >= 0 of x^n / ((a+1)(a+2)...(a+n)), for x < a + 1."""
    term = total = 1.0
    for n in range(1, _MAX_STEPS):
        term *= x / (a + n)
        total += term
        if term < total * _EPSILON:
            return total
    raise ArithmeticError(f"incomplete gamma series did not converge (a={a}, x={x})")


def _gamma_fraction_terms(a: float, x: float) -> Iterator[tuple[float, float]]:
    """Partial numerators and denominators of Q(a, x) e^x Gamma(a) / x^a, for x >= a + 1:
    1 / (x + 1 - a - 1(1 - a) / (x + 3 - a - 2(2 - a) / (x + 5 - a - ...)))."""
    yield 1.0, x + 1.0 - a
    for j in range(1, _MAX_STEPS):
        yield -j * (j - a), x + 2.0 * j + 1.0 - a


def _beta_ratio(a: float, b: float, x: float, y: float, log_x: float, log_y: float) -> float:
    """I_x(a, b) given y = 1 - x and both logarithms, each formed without cancellation.

    The continued fraction converges fast below x = (a + 1) / (a + b + 2); above it
    the symmetry I_x(a, b) = 1 - I_y(b, a) is used, whose value there is not small.
    """
    log_front = a * log_x + b * log_y - _log_beta(a, b)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) / a * _continued_fraction(_beta_fraction_terms(a, b, x))
    return 1.0 - math.exp(log_front) / b * _continued_fraction(_beta_fraction_terms(b, a, y))


def _beta_fraction_terms(a: float, b: float, x: float) -> Iterator[tuple[float, float]]:
    """Partial numerators and denominators of I_x(a, b) a B(a, b) / (x^a (1-x)^b):
    1 / (1 + d1 / (1 + d2 / (1 + ...))), the odd and even d's alternating."""
    yield 1.0, 1.0
    for m in range(_MAX_STEPS):
        yield -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)), 1.0
        yield (m + 1) * (b - m - 1) * x / ((a + 2 * m + 1) * (a + 2 * m + 2)), 1.0


def _log_power_over_gamma(a: float, x: float) -> float:
    """log(x^a e^-x / Gamma(a)). For a large the three terms are each ~a log a and cancel,
    so Stirling's series is taken out of Gamma(a) and x^a e^-x measured against a^a e^-a."""
    if a < _STIRLING_FROM:
        return a * math.log(x) - x - math.lgamma(a)
    u = (x - a) / a
    # a log(x/a) + a - x, with log1p where x is near a (the two nearly cancel there)
    deviance = -a * (u - math.log1p(u)) if abs(u) < 0.5 else a * math.log(x / a) + a - x
    return deviance + 0.5 * math.log(a / (2 * math.pi)) - _stirling_error(a)


def _log_beta(a: float, b: float) -> float:
    """log B(a, b) = log Gamma(a) + log Gamma(b) - log Gamma(a + b), keeping its digits when
    a or b is large (the logarithms of the gammas are then ~a log a and nearly cancel)."""
    small, big = min(a, b), max(a, b)
    if big < _STIRLING_FROM:
        return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    if small < _STIRLING_FROM:  # log Gamma(big + small) - log Gamma(big), by Stirling
        ratio = (big - 0.5) * math.log1p(small / big) + small * math.log(big + small) - small
        return math.lgamma(small) - ratio - _stirling_error(big + small) + _stirling_error(big)
    both = a + b  # Stirling for all three: the a log a terms cancel into log(a / (a + b))
    powers = (a - 0.5) * math.log(a / both) + (b - 0.5) * math.log(b / both) - 0.5 * math.log(both)
    errors = _stirling_error(a) + _stirling_error(b) - _stirling_error(both)
    return 0.5 * math.log(2 * math.pi) + powers + errors


def _stirling_error(z: float) -> float:
    """log Gamma(z) - ((z - 1/2) log z - z + log(2 pi) / 2), by its asymptotic series (z >= 10:
    the first term left out is below 1e-15)."""
    inverse, square = 1.0 / z, 1.0 / (z * z)
    series = 0.0
    for coefficient in _STIRLING_SERIES[::-1]:
        series = series * square + coefficient
    return series * inverse


def _continued_fraction(terms: Iterator[tuple[float, float]]) -> float:
    """a1 / (b1 + a2 / (b2 + ...)) by the modified Lentz method: the convergents' ratios
    multiplied until one step changes the value by less than a rounding."""
    value, c, d = _TINY, _TINY, 0.0
    for numerator, denominator in terms:
        d = denominator + numerator * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = denominator + numerator / c
        c = c if abs(c) > _TINY else _TINY
        value *= c * d
        if abs(c * d - 1.0) < _EPSILON:
            return value
    raise ArithmeticError("continued fraction did not converge")


def hypergeom_pmf(k: np.ndarray, total: np.ndarray, good: np.ndarray, drawn: np.ndarray) -> np.ndarray:
    """``scipy.stats.hypergeom.pmf(k, total, good, drawn)`` for integer counts (0 off the support).

    The probability that ``drawn`` items taken from ``total`` hold ``k`` of its
    ``good`` ones: C(good, k) C(total - good, drawn - k) / C(total, drawn), from
    logarithms of factorials, element-wise.
    """
    k, total, good, drawn = _counts(k, total, good, drawn)
    inside = (k >= np.maximum(0, drawn - (total - good))) & (k <= np.minimum(good, drawn))
    result = np.zeros(k.shape)
    result[inside] = _pmf(k[inside], total[inside], good[inside], drawn[inside])
    return result


def hypergeom_sf(k: np.ndarray, total: np.ndarray, good: np.ndarray, drawn: np.ndarray) -> np.ndarray:
    """``scipy.stats.hypergeom.sf(k, total, good, drawn)`` for integer counts, element-wise.

    P(X > k) for X the good items among ``drawn`` taken from ``total``: 1 below the
    support, 0 at or above its top, as scipy.stats gives. Inside, the pmf terms are
    summed from k + 1 upwards when that is past the mode (they only shrink from
    there); before the mode the lower tail, P(X <= k), is summed downwards from k
    and taken from 1 (the upper tail is then at least about a half).
    """
    k, total, good, drawn = _counts(k, total, good, drawn)
    low, high = np.maximum(0, drawn - (total - good)), np.minimum(good, drawn)
    result = np.where(k < low, 1.0, 0.0)
    mode = (drawn + 1) * (good + 1) // (total + 2)
    upper = (k >= low) & (k < high) & (k + 1 >= mode)
    lower = (k >= low) & (k < high) & (k + 1 < mode)
    args = (total[upper], good[upper], drawn[upper])
    result[upper] = _sum_terms(k[upper] + 1, *args, step=1)
    args = (total[lower], good[lower], drawn[lower])
    result[lower] = np.clip(1.0 - _sum_terms(k[lower], *args, step=-1), 0.0, 1.0)
    return result


def _counts(*arrays: np.ndarray) -> list[np.ndarray]:
    """The arguments broadcast together as 64-bit integer arrays (they index factorials)."""
    return [np.asarray(a).astype(np.int64) for a in np.broadcast_arrays(*arrays)]


def _pmf(k: np.ndarray, total: np.ndarray, good: np.ndarray, drawn: np.ndarray) -> np.ndarray:
    """The hypergeometric pmf for counts inside the support."""
    lf = _log_factorials_to(int(total.max(initial=0)))
    bad, missed = total - good, drawn - k
    log_pmf = (
        (lf[good] - lf[k] - lf[good - k])
        + (lf[bad] - lf[missed] - lf[bad - missed])
        - (lf[total] - lf[drawn] - lf[total - drawn])
    )
    return np.exp(log_pmf)


def _sum_terms(
    start: np.ndarray, total: np.ndarray, good: np.ndarray, drawn: np.ndarray, step: int
) -> np.ndarray:
    """Sum the pmf from ``start`` towards the support's end in direction ``step`` (+1 or -1),
    where the terms only shrink, for each table.

    Each term is the last times an exact ratio of counts, ``_BLOCK`` terms at a time
    for all tables still open. A table is done when the terms reach the support's
    end (the ratio there is 0) or when the rest, bounded by a geometric series (the
    pmf is log-concave, so the ratios keep falling), cannot change the sum.
    """
    first = _pmf(start, total, good, drawn)
    sums, last = first.copy(), first.copy()
    j = start.astype(np.float64)
    bad = (total - good).astype(np.float64)
    offsets = np.arange(_BLOCK) * step
    open_ = np.flatnonzero(first > 0)
    while open_.size:
        at = j[open_, None] + offsets
        ratios = _step_ratios(at, good[open_, None], drawn[open_, None], bad[open_, None], step)
        terms = last[open_, None] * np.cumprod(ratios, axis=1)
        sums[open_] += terms.sum(axis=1)
        last[open_] = terms[:, -1]
        j[open_] += _BLOCK * step
        ratio = ratios[:, -1]
        rest = last[open_] * ratio
        done = (rest == 0) | ((ratio < 1) & (rest < _EPSILON * sums[open_] * (1.0 - ratio)))
        open_ = open_[~done]
    return sums


def _step_ratios(
    j: np.ndarray, good: np.ndarray, drawn: np.ndarray, bad: np.ndarray, step: int
) -> np.ndarray:
    """pmf(j + step) / pmf(j): 0 where j + step leaves the support (so later terms vanish)."""
    if step > 0:
        return (good - j) * (drawn - j) / ((j + 1.0) * (bad - drawn + j + 1.0))
    return j * (bad - drawn + j) / ((good - j + 1.0) * (drawn - j + 1.0))


def _log_factorials_to(top: int) -> np.ndarray:
    """log(i!) for i = 0..top at least (each from ``math.lgamma``, so each to a rounding)."""
    global _log_factorials
    table = _log_factorials  # this call's own table: another thread may swap the shared one
    if table.size <= top:
        size = max(top + 1, 2 * table.size, 1024)
        table = _log_factorials = np.array([math.lgamma(i + 1.0) for i in range(size)])
    return table
