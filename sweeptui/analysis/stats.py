"""Small statistical helpers: Holm and Tarone-Holm corrections, vectorised one-sided Fisher
tests, Spearman's rank correlation and the Kruskal-Wallis test.

The tests give the values ``scipy.stats`` gives, computed from the distribution functions
of ``sweeptui.analysis.distributions`` (ours: importing scipy would cost a quarter of a cold
report).
"""

from __future__ import annotations

import numpy as np

from sweeptui.analysis.distributions import chi2_sf, hypergeom_pmf, hypergeom_sf, normal_cdf, t_cdf


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (same order as the input, capped at 1)."""
    p = np.asarray(pvalues, dtype=np.float64)
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    scaled = p[order] * (m - np.arange(m))
    adjusted_sorted = np.minimum(np.maximum.accumulate(scaled), 1.0)
    adjusted = np.empty(m)
    adjusted[order] = adjusted_sorted
    return adjusted


def fisher_greater(
    hits_a: np.ndarray, size_a: np.ndarray, hits_b: np.ndarray, size_b: np.ndarray
) -> np.ndarray:
    """One-sided Fisher exact p-values that group a's rate exceeds group b's, element-wise.

    The same value ``scipy.stats.fisher_exact(..., alternative="greater")`` gives,
    computed for many tables at once from the hypergeometric tail.
    """
    total = size_a + size_b
    hits = hits_a + hits_b
    return hypergeom_sf(hits_a - 1, total, hits, size_a)


def fisher_min_p(size: np.ndarray, total: np.ndarray, events: np.ndarray) -> np.ndarray:
    """The smallest one-sided Fisher p-value each table could reach, given its margins.

    A group of ``size`` runs out of ``total``, ``events`` of which show the outcome,
    gets its smallest p-value when it holds as many events as it can. Tarone's
    correction uses these bounds: a test that could never reach significance does
    not count towards the multiplicity of the others.
    """
    most = np.minimum(size, events)
    return hypergeom_pmf(most, total, events, size)


def average_ranks(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ranks from 1 with ties sharing their mean rank, and the size of each tie group.

    The ranks ``scipy.stats.rankdata(values)`` gives (same order of operations).
    """
    values = np.asarray(values)
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    counts = np.diff(np.r_[starts, values.size])
    ranks = np.empty(values.size)
    ranks[order] = np.repeat(starts + 1 + (counts - 1) / 2, counts)
    return ranks, counts


def spearman(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Spearman's rho and its two-sided p-value, as ``scipy.stats.spearmanr(x, y)``.

    For finite, non-constant samples of at least three points.
    """
    rho = np.corrcoef(average_ranks(x)[0], average_ranks(y)[0])[1, 0]
    dof = x.size - 2
    with np.errstate(divide="ignore"):  # rho may be exactly 1
        t = rho * np.sqrt((dof / ((rho + 1.0) * (1.0 - rho))).clip(0))
    return float(rho), 2 * t_cdf(-abs(float(t)), dof)


def kruskal_p(samples: list[np.ndarray]) -> float:
    """The Kruskal-Wallis H test's p-value, as ``scipy.stats.kruskal(*samples).pvalue``.

    For two or more non-empty samples of finite values, not all equal.
    """
    sizes = [sample.size for sample in samples]
    total = sum(sizes)
    ranks, ties = average_ranks(np.concatenate(samples))
    correction = 1 - np.sum(ties.astype(np.float64) ** 3 - ties) / (total**3 - total)
    edges = np.cumsum([0, *sizes])
    between = sum(np.sum(ranks[edges[i] : edges[i + 1]]) ** 2 / sizes[i] for i in range(len(sizes)))
    h = (12.0 / (total * (total + 1)) * between - 3 * (total + 1)) / correction
    return chi2_sf(float(h), len(samples) - 1)


def mann_whitney_p(x: np.ndarray, y: np.ndarray, alternative: str) -> float:
    """One-sided Mann-Whitney U p-value that ``x`` tends to be ``"less"`` (or ``"greater"``)
    than ``y``, as ``scipy.stats.mannwhitneyu(x, y, alternative=...).pvalue`` gives.

    Exact when a sample has at most 8 values and nothing ties, else the normal
    approximation with tie and continuity corrections (scipy's ``method="auto"``).
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    n1, n2 = x.size, y.size
    ranks, ties = average_ranks(np.concatenate([x, y]))
    u1 = float(np.sum(ranks[:n1]) - n1 * (n1 + 1) / 2)
    u = u1 if alternative == "greater" else n1 * n2 - u1  # P(U >= u): the upper tail
    if (n1 > 8 and n2 > 8) or np.any(ties > 1):
        tie_term = float(np.sum(ties.astype(np.float64) ** 3 - ties))
        n = n1 + n2
        spread = np.sqrt(n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1))))
        p = normal_cdf(-(u - n1 * n2 / 2 - 0.5) / spread)
    else:
        pmf = _u_distribution(min(n1, n2), max(n1, n2))
        p = float(pmf[int(u):].sum())
    return min(max(p, 0.0), 1.0)


def _u_distribution(m: int, n: int) -> np.ndarray:
    """P(U = u) for u = 0..m*n under the null: the q-binomial coefficient [m+n choose m]
    (built one factor at a time), divided by its total, C(m+n, m)."""
    counts = np.zeros(m * n + 1)
    counts[0] = 1.0
    for i in range(1, m + 1):
        shifted = counts.copy()  # times (1 - q^(n+i)) ...
        shifted[n + i :] -= counts[: counts.size - n - i]
        for start in range(i):  # ... divided by (1 - q^i): running sums at stride i
            shifted[start::i] = np.cumsum(shifted[start::i])
        counts = shifted
    return counts / counts.sum()


def tarone_holm(pvalues: np.ndarray, min_pvalues: np.ndarray, alpha: float) -> np.ndarray:
    """Holm step-down adjusted p-values where each step counts only the testable hypotheses.

    Holm multiplies the j-th smallest p-value by the number of hypotheses left; with
    discrete tests (Fisher's) many of them can never reach ``alpha`` whatever the
    data, so at each step the multiplier is Tarone's count K of the remaining ones:
    the smallest K such that at most K of them can reach ``alpha / K``. This keeps
    the family-wise error rate at ``alpha`` (Tarone 1990; Hommel and Krummenauer
    1998, step-down). The count depends on ``alpha``, so an adjusted p-value is
    below ``alpha`` exactly when its hypothesis is rejected at ``alpha``. Once a step
    fails the procedure stops; the later hypotheses keep that step's count (or the
    number left, if smaller), which only affects p-values already above ``alpha``.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    floor = np.asarray(min_pvalues, dtype=np.float64)
    m = p.size
    adjusted = np.ones(m)
    if m == 0:
        return adjusted
    order = np.argsort(p, kind="stable")
    remaining = np.ones(m, dtype=bool)
    running, count, stopped = 0.0, m, False
    for left, index in zip(range(m, 0, -1), order, strict=True):
        count = min(count, left) if stopped else tarone_count(floor[remaining], alpha)
        running = max(running, min(1.0, count * p[index]))
        adjusted[index] = running
        remaining[index] = False
        stopped = stopped or running >= alpha
    return adjusted


def tarone_count(min_pvalues: np.ndarray, alpha: float) -> int:
    """Smallest K >= 1 such that at most K of the tests can reach a p-value of ``alpha / K``."""
    floor = np.sort(np.asarray(min_pvalues, dtype=np.float64))
    if floor.size == 0:
        return 1
    candidates = np.arange(1, floor.size + 1)
    reachable = np.searchsorted(floor, alpha / candidates, side="right")
    fits = np.flatnonzero(reachable <= candidates)
    return int(candidates[fits[0]]) if fits.size else int(floor.size)
