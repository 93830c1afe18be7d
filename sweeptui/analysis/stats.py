"""Small statistical helpers: Holm correction and vectorised one-sided Fisher tests."""

from __future__ import annotations

import numpy as np
from scipy import stats


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
    """Two-sided Fisher exact p-value of one bucket against the rest."""
    table = [[hits, size - hits], [rest_hits, rest_size - rest_hits]]
    return float(stats.fisher_exact(table, alternative="two-sided").pvalue)
