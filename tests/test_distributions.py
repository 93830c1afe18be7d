"""Our distribution functions and the tests built on them against ``scipy.stats``: random and
edge-case arguments over the ranges the analysis meets (counts up to 20,000 runs, p-values down
to 1e-300, one degree of freedom up, tiny and huge statistics), to a relative 1e-9."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from sweeptui.analysis.distributions import chi2_sf, hypergeom_pmf, hypergeom_sf, normal_cdf, t_cdf
from sweeptui.analysis.stats import fisher_greater, fisher_min_p, kruskal_p, mann_whitney_p, spearman

RTOL = 1e-9
SMALLEST = 1e-300  # below this a value may be subnormal: only its absolute size is compared


def assert_close(ours, expected) -> None:
    """Each value within RTOL of scipy's, or both below SMALLEST (0 and subnormals alike)."""
    ours, expected = np.atleast_1d(np.asarray(ours, float)), np.atleast_1d(np.asarray(expected, float))
    assert ours.shape == expected.shape
    assert np.array_equal(np.isnan(ours), np.isnan(expected))
    normal = expected >= SMALLEST
    relative = np.abs(ours[normal] - expected[normal]) / expected[normal]
    worst = int(np.argmax(relative)) if relative.size else 0
    assert relative.max(initial=0) <= RTOL, (relative.max(), ours[normal][worst], expected[normal][worst])
    tiny = ~normal & ~np.isnan(expected)
    assert np.all(np.abs(ours[tiny] - expected[tiny]) <= SMALLEST)


def test_normal_cdf_over_both_tails():
    rng = np.random.default_rng(11)
    magnitudes = np.concatenate([np.logspace(-300, 1.6, 400), rng.uniform(0, 40, 4000)])
    x = np.concatenate([magnitudes, -magnitudes, [0.0, 37.5, -37.5, -38.5, np.inf, -np.inf]])
    assert_close([normal_cdf(v) for v in x], stats.norm.cdf(x))
    assert normal_cdf(-37.5) > 1e-308 and normal_cdf(-40) == 0.0
    assert math.isnan(normal_cdf(math.nan))


@pytest.mark.parametrize("largest_dof", [10, 300, 10_000])
def test_chi_square_tail_over_degrees_of_freedom_and_statistics(largest_dof):
    rng = np.random.default_rng(largest_dof)
    dof = np.floor(np.exp(rng.uniform(0, math.log(largest_dof), 3000)))
    x = dof * np.exp(rng.uniform(-10, 4, 3000))  # from far below the mean to p ~ 1e-300
    assert_close([chi2_sf(a, b) for a, b in zip(x, dof, strict=True)], stats.chi2.sf(x, dof))


def test_chi_square_tail_edges():
    x = np.array([0.0, 1e-300, 1e-12, 1.0, 1370.0, 1380.0, 1500.0, np.inf])
    for dof in (1, 2, 3, 7, 40):
        assert_close([chi2_sf(v, dof) for v in x], stats.chi2.sf(x, dof))
    assert chi2_sf(-1e-15, 2) == 1.0 == stats.chi2.sf(-1e-15, 2)  # a rounded-negative H
    assert 1e-300 < chi2_sf(1380.0, 2) < 1e-299
    assert math.isnan(chi2_sf(math.nan, 3)) and math.isnan(chi2_sf(1.0, 0))


@pytest.mark.parametrize("largest_dof", [10, 20_000, 1_000_000])
def test_t_cdf_over_degrees_of_freedom_and_statistics(largest_dof):
    rng = np.random.default_rng(largest_dof)
    dof = np.floor(np.exp(rng.uniform(0, math.log(largest_dof), 3000)))
    t = np.exp(rng.uniform(-25, 25, 3000)) * rng.choice([-1.0, 1.0], 3000)
    # scipy's own Cauchy (one degree of freedom) CDF loses digits for 1e-9 < |t| < 1e-4:
    # checked against the closed form below instead
    kept = (dof > 1) | (np.abs(t) >= 1e-4)
    ours = [t_cdf(a, b) for a, b in zip(t[kept], dof[kept], strict=True)]
    assert_close(ours, stats.t.cdf(t[kept], dof[kept]))


def test_t_cdf_edges_and_closed_forms():
    t = -np.logspace(-300, 150, 500)  # scipy overflows past |t| ~ 1e154
    for dof in (1, 2, 3, 10, 1e5):
        kept = t[(dof > 1) | (t <= -1e-4)]  # as above: the Cauchy case by its closed form
        assert_close([t_cdf(v, dof) for v in kept], stats.t.cdf(kept, dof))
        assert_close([t_cdf(-v, dof) for v in kept], stats.t.cdf(-kept, dof))
        assert t_cdf(0.0, dof) == 0.5 and t_cdf(-math.inf, dof) == 0.0 and t_cdf(math.inf, dof) == 1.0
    cauchy = [math.atan(-1 / v) / math.pi for v in t]  # P(T <= t) for t < 0, one degree of freedom
    assert_close([t_cdf(v, 1) for v in t], cauchy)
    root = np.sqrt(2 + t * t)  # two degrees of freedom: 1 / (r (r + |t|)), r = sqrt(2 + t^2)
    assert_close([t_cdf(v, 2) for v in t], 1 / (root * (root - t)))
    assert math.isnan(t_cdf(math.nan, 3)) and math.isnan(t_cdf(1.0, 0))


def random_tables(rng: np.random.Generator, count: int, largest: int) -> tuple[np.ndarray, ...]:
    """Hypergeometric (k, total, good, drawn), k from two below the support to two above."""
    total = rng.integers(1, largest + 1, count)
    good, drawn = rng.integers(0, total + 1), rng.integers(0, total + 1)
    low, high = np.maximum(0, drawn - (total - good)), np.minimum(good, drawn)
    k = low - 2 + np.floor((high - low + 5) * rng.uniform(size=count)).astype(np.int64)
    return k, total, good, drawn


@pytest.mark.parametrize("largest", [30, 1_000, 20_000])
def test_hypergeometric_pmf_and_tail_over_random_tables(largest):
    rng = np.random.default_rng(largest)
    k, total, good, drawn = random_tables(rng, 20_000, largest)
    assert_close(hypergeom_sf(k, total, good, drawn), stats.hypergeom.sf(k, total, good, drawn))
    assert_close(hypergeom_pmf(k, total, good, drawn), stats.hypergeom.pmf(k, total, good, drawn))


def test_hypergeometric_tail_is_exact_outside_the_support():
    total = np.array([50, 50, 20_000, 7, 10, 10, 10])
    good = np.array([20, 0, 9_000, 7, 4, 10, 4])  # none, all and some of the total
    drawn = np.array([30, 12, 15_000, 3, 0, 6, 10])  # none, all and some of it
    low, high = np.maximum(0, drawn - (total - good)), np.minimum(good, drawn)
    for k, sf in ((low - 5, 1.0), (low - 1, 1.0), (high, 0.0), (high + 1, 0.0), (high + 100, 0.0)):
        assert np.array_equal(hypergeom_sf(k, total, good, drawn), np.full(total.size, sf))
        assert np.array_equal(hypergeom_sf(k, total, good, drawn), stats.hypergeom.sf(k, total, good, drawn))
    for k in (low - 1, high + 1):
        assert np.array_equal(hypergeom_pmf(k, total, good, drawn), np.zeros(total.size))
    assert_close(hypergeom_pmf(low, total, good, drawn), stats.hypergeom.pmf(low, total, good, drawn))
    assert_close(hypergeom_pmf(high, total, good, drawn), stats.hypergeom.pmf(high, total, good, drawn))


def test_hypergeometric_values_against_exact_fractions():
    """Independent of scipy: sums of binomial products in exact integer arithmetic."""
    rng = np.random.default_rng(3)
    for _ in range(15):
        total = int(rng.integers(1, 20_001))
        good, drawn = int(rng.integers(0, total + 1)), int(rng.integers(0, total + 1))
        low, high = max(0, drawn - (total - good)), min(good, drawn)
        k = int(rng.integers(max(low, high - 120), high + 1))  # the upper tail, up to 120 terms
        ways = math.comb(total, drawn)
        pmf = Fraction(math.comb(good, k) * math.comb(total - good, drawn - k), ways)
        tail = Fraction(sum(math.comb(good, j) * math.comb(total - good, drawn - j)
                            for j in range(k + 1, high + 1)), ways)  # fmt: skip
        assert_close(hypergeom_pmf(k, total, good, drawn), float(pmf))
        assert_close(hypergeom_sf(k, total, good, drawn), float(tail))


def test_fisher_tests_over_small_and_large_tables():
    rng = np.random.default_rng(5)
    size, rest = rng.integers(1, 3_000, 300), rng.integers(1, 3_000, 300)
    rate = rng.uniform(0, 0.3, 300)
    hits = rng.binomial(size, np.minimum(1.0, rate * rng.uniform(0.5, 4, 300)))
    rest_hits = rng.binomial(rest, rate)
    expected = [stats.fisher_exact([[a, n - a], [c, m - c]], alternative="greater").pvalue
                for a, n, c, m in zip(hits, size, rest_hits, rest, strict=True)]  # fmt: skip
    assert_close(fisher_greater(hits, size, rest_hits, rest), expected)
    events = hits + rest_hits
    expected = stats.hypergeom.pmf(np.minimum(size, events), size + rest, events, size)
    assert_close(fisher_min_p(size, size + rest, events), expected)


def test_spearman_over_sizes_and_strengths():
    rng = np.random.default_rng(9)
    for trial in range(150):
        size = int(np.exp(rng.uniform(math.log(3), math.log(3_000))))
        x = rng.normal(size=size) if trial % 4 else rng.integers(0, 5, size).astype(float)
        y = x * rng.uniform(0, 3) + rng.normal(size=size)  # from no link to p ~ 1e-300 and below
        if np.ptp(x) > 0 and np.ptp(y) > 0:
            rho, p = spearman(x, y)
            expected = stats.spearmanr(x, y)
            assert rho == pytest.approx(expected.statistic, rel=1e-12)
            assert_close(p, expected.pvalue)


def test_kruskal_over_groups_and_shifts():
    rng = np.random.default_rng(13)
    for trial in range(150):
        groups = int(rng.integers(2, 40))
        shift = rng.uniform(0, 2)
        samples = [rng.normal(shift * i, 1, int(rng.integers(1, 80))) for i in range(groups)]
        if trial % 3 == 0:  # ties
            samples = [np.round(sample) for sample in samples]
        if np.ptp(np.concatenate(samples)) > 0:
            assert_close(kruskal_p(samples), stats.kruskal(*samples).pvalue)


def test_mann_whitney_over_sizes_and_shifts():
    rng = np.random.default_rng(17)
    for trial in range(150):
        sizes = np.exp(rng.uniform(math.log(2), math.log(2_000), 2)).astype(int)
        x, y = rng.normal(0, 1, sizes[0]), rng.normal(rng.uniform(-3, 3), 1, sizes[1])
        if trial % 3 == 0:
            x, y = np.round(x), np.round(y)
        for alternative in ("less", "greater"):
            expected = stats.mannwhitneyu(x, y, alternative=alternative).pvalue
            assert_close(mann_whitney_p(x, y, alternative), expected)
