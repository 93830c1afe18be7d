"""Thresholds of the sweep analysis: bucketing, significance and support limits."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sweeptui.settings import Settings


@dataclass(frozen=True)
class AnalysisOptions:
    """Every knob of :func:`sweeptui.analysis.analyze`, with conservative defaults."""

    alpha: float = 0.01
    """Family-wise error rate of the Holm-corrected tests (strict: a finding must not be noise)."""
    min_bucket_runs: int = 2
    """A bucket (or pair of conditions) with fewer runs is never a finding."""
    max_distinct_values: int = 8
    """Numeric params with at most this many values get one bucket per value."""
    log_span_decades: float = 2.0
    """Positive params spanning at least this many decades get log-spaced buckets."""
    max_buckets: int = 8
    """Upper bound on log-spaced buckets per param."""
    quantile_buckets: int = 5
    """Quantile buckets for numeric params that are neither few-valued nor log-spread."""
    min_pair_support: int = 3
    """Runs a pair of conditions needs before it can be a risk factor."""
    min_pair_lift: float = 1.5
    """A risk factor's joint issue rate must be this multiple of each condition alone."""
    top_fraction: float = 0.25
    """The best quantile of runs the next sweep shrinks toward."""
    widespread_fraction: float = 0.25
    """An issue type on at least this share of ended runs is sweep-wide."""
    widespread_min_runs: int = 5
    """...and on at least this many runs."""
    missing_objective_fraction: float = 0.2
    """Caveat when more than this share of runs has no objective value."""
    max_categories: int = 20
    """String params with more distinct values than this (and one per run) are identifiers."""

    def with_settings(self, settings: Settings | None) -> AnalysisOptions:
        """These options with the analysis fields of ``settings`` (``alpha``) applied."""
        return self if settings is None else replace(self, alpha=settings.alpha)
