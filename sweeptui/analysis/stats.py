"""Small statistical helpers: Holm correction and vectorised one-sided Fisher tests."""

from __future__ import annotations

import math

import numpy as np
from scipy import special, stats


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
    return stats.hypergeom.sf(hits_a - 1, total, hits, size_a)


def fisher_two_sided(hits: int, size: int, rest_hits: int, rest_size: int) -> float:
    """Two-sided Fisher exact p-value of one bucket against the rest.

    Equal to ``scipy.stats.fisher_exact(table).pvalue`` (the tables no more likely
    than the observed one, with the same relative tolerance), computed from log
    factorials directly: scipy's per-call overhead dominated the analysis time.
    """
    total, issues = size + rest_size, hits + rest_hits
    low, high = max(0, size - (total - issues)), min(issues, size)
    support = np.arange(low, high + 1)
    log_pmf = (
        _log_choose(issues, support) + _log_choose(total - issues, size - support) - _log_choose(total, size)
    )
    as_likely = log_pmf <= log_pmf[hits - low] + math.log1p(1e-7)
    return float(min(1.0, math.exp(special.logsumexp(log_pmf[as_likely]))))


def _log_choose(n, k):
    return special.gammaln(n + 1) - special.gammaln(k + 1) - special.gammaln(n - k + 1)
