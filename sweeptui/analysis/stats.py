"""Small statistical helpers: Holm and Tarone-Holm corrections, vectorised one-sided Fisher tests."""

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


def fisher_min_p(size: np.ndarray, total: np.ndarray, events: np.ndarray) -> np.ndarray:
    """The smallest one-sided Fisher p-value each table could reach, given its margins.

    A group of ``size`` runs out of ``total``, ``events`` of which show the outcome,
    gets its smallest p-value when it holds as many events as it can. Tarone's
    correction uses these bounds: a test that could never reach significance does
    not count towards the multiplicity of the others.
    """
    most = np.minimum(size, events)
    return stats.hypergeom.pmf(most, total, events, size)


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
