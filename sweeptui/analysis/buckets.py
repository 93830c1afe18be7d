"""Turning one param's values into buckets: per value, log-spaced or quantile ranges.

Numeric params with few distinct values get one bucket per value; positive params
spanning two decades or more get log-spaced buckets on 1-2-5 (or coarser) edges so
labels read like ``0.01-0.02``; other numeric params get quantile buckets. Bools
and strings are categorical, one bucket per value. A missing value (absent, null or
NaN) is no value of the param: its run is in no bucket (code -1), so it takes no
part in any test, finding or range.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sweeptui.analysis.options import AnalysisOptions

_NICE_STEPS = ((1.0, 2.0, 5.0), (1.0, 3.0), (1.0,))


@dataclass(frozen=True)
class Bucket:
    """One bucket: a numeric range ``[low, high)`` (last one closed) or one value."""

    label: str
    low: float | None = None
    high: float | None = None
    value: Any = None

    def describe(self, param: str) -> str:
        """Readable condition, e.g. ``lr in 0.01-0.02`` or ``model = resnet``."""
        if self.low is not None and self.high is not None and self.low != self.high:
            return f"{param} in {self.label}"
        return f"{param} = {self.label}"


@dataclass
class ParamBuckets:
    """A param's buckets and the bucket index of every run (``codes``, -1 where missing)."""

    name: str
    kind: str  # "numeric" or "categorical"
    scheme: str  # "values", "log", "quantile" or "categories"
    buckets: list[Bucket]
    codes: np.ndarray
    numeric_values: np.ndarray | None = None
    """Float values per run (NaN where missing), numeric params only."""

    @property
    def present(self) -> np.ndarray:
        """Per run: whether it has a value of the param (is in a bucket)."""
        return self.codes >= 0

    def per_run(self, flags: np.ndarray) -> np.ndarray:
        """A per-bucket boolean array spread over the runs (False where missing)."""
        extended = np.append(np.asarray(flags, dtype=bool), False)
        return extended[self.codes]  # code -1 picks the appended False


def format_number(value: float) -> str:
    """Compact number for labels: ``0.001``, ``1e-5``, ``256``, ``0.35``."""
    if value is None or not math.isfinite(value):
        return str(value)
    if float(value).is_integer() and abs(value) < 1e6:
        return str(int(value))
    text = f"{value:.3g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent)}"
    return text


def bucket_param(name: str, values: pd.Series | list, options: AnalysisOptions) -> ParamBuckets:
    """Buckets for one param's column (one value per run, None where missing)."""
    values = values.tolist() if isinstance(values, pd.Series) else list(values)
    present = [v for v in values if v is not None and not _is_nan(v)]
    if present and all(_is_number(v) for v in present):
        return _numeric(name, values, options)
    return _categorical(name, values)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _categorical(name: str, values: list) -> ParamBuckets:
    labels: dict[str, int] = {}
    buckets: list[Bucket] = []
    codes = np.empty(len(values), dtype=np.int64)
    for index, value in enumerate(values):
        if value is None or _is_nan(value):
            codes[index] = -1
            continue
        label = _category_label(value)
        if label not in labels:
            labels[label] = len(buckets)
            buckets.append(Bucket(label, value=value))
        codes[index] = labels[label]
    order = sorted(range(len(buckets)), key=lambda i: buckets[i].label)
    remap = np.full(len(buckets) + 1, -1, dtype=np.int64)  # the last slot keeps -1 as -1
    remap[order] = np.arange(len(order))
    return ParamBuckets(name, "categorical", "categories", [buckets[i] for i in order], remap[codes])


def _category_label(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return format_number(value) if _is_number(value) else str(value)


def _numeric(name: str, values: list, options: AnalysisOptions) -> ParamBuckets:
    numbers = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    finite = numbers[np.isfinite(numbers)]
    distinct = np.unique(finite)
    if distinct.size <= options.max_distinct_values:
        scheme, edges = "values", None
    elif _looks_logarithmic(finite, distinct[0], distinct[-1], options.log_span_decades):
        scheme, edges = "log", _log_edges(distinct[0], distinct[-1], options.max_buckets)
    else:
        scheme, edges = "quantile", _quantile_edges(finite, options.quantile_buckets)
    if edges is None:
        buckets = [Bucket(format_number(v), float(v), float(v), value=_plain(v)) for v in distinct]
        codes = np.searchsorted(distinct, numbers)
    else:
        buckets = [
            Bucket(f"{format_number(lo)}-{format_number(hi)}", float(lo), float(hi))
            for lo, hi in itertools.pairwise(edges)
        ]
        # [low, high) except the last bucket, which also takes its upper edge
        codes = np.clip(np.searchsorted(edges, numbers, side="right") - 1, 0, len(buckets) - 1)
    codes = codes.astype(np.int64)
    codes[~np.isfinite(numbers)] = -1
    return ParamBuckets(name, "numeric", scheme, buckets, codes, numbers)


def _looks_logarithmic(finite: np.ndarray, low: float, high: float, decades: float) -> bool:
    """Positive, spanning ``decades`` or more, and not bunched in the top decade.

    A uniform draw on [0, 0.5] also spans decades (its minimum is near 0), but
    almost none of it lies below the geometric midpoint; a log-uniform draw has
    half its values there.
    """
    if low <= 0 or math.log10(high / low) < decades:
        return False
    return float(np.mean(finite < math.sqrt(low * high))) >= 0.2


def _plain(value: float) -> float | int:
    return int(value) if float(value).is_integer() else float(value)


def _log_edges(low: float, high: float, max_buckets: int) -> np.ndarray:
    """Nice edges (1-2-5, then 1-3, then decades) covering [low, high], at most ``max_buckets``."""
    edges = np.array([low, high])
    for steps in _NICE_STEPS:
        edges = _nice_grid(low, high, steps)
        if len(edges) - 1 <= max_buckets:
            return edges
    stride = math.ceil((len(edges) - 1) / max_buckets)
    thinned = edges[::stride]
    return thinned if thinned[-1] >= high else np.append(thinned, edges[-1])


def _nice_grid(low: float, high: float, steps: tuple[float, ...]) -> np.ndarray:
    first = math.floor(math.log10(low))
    last = math.ceil(math.log10(high))
    grid = sorted({round(s * 10.0**e, 12) for e in range(first - 1, last + 1) for s in steps})
    below = [g for g in grid if g <= low * (1 + 1e-9)]
    above = [g for g in grid if g >= high * (1 - 1e-9)]
    start = below[-1]
    stop = above[0] if above else grid[-1]
    return np.array([g for g in grid if start <= g <= stop])


def _quantile_edges(finite: np.ndarray, count: int) -> np.ndarray:
    raw = np.quantile(finite, np.linspace(0.0, 1.0, count + 1))
    rounded = np.array([float(f"{edge:.3g}") for edge in raw])
    rounded[0] = min(rounded[0], finite.min())
    rounded[-1] = max(rounded[-1], finite.max())
    return np.unique(rounded)
