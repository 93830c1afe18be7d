"""The report's ``curves`` section: every run's objective curve, thinned for charts.

The HTML report and any other chart draw curves from this section, never from the
store, so a chart shows exactly what the JSON holds. The x axis (``x``) is the
epoch when every curve's log records one point per epoch (runs that count steps
differently, per batch or per epoch, then line up), else the step. Each run keeps at most
:func:`points_per_run` points (a budget shared by all runs, so 1,000 runs stay
light): evenly spaced ones, plus the last point and the first non-finite one.
Non-finite values become ``null`` in JSON. Pure numpy; no pandas, no plotting.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from sweeptui.issues import Issue
from sweeptui.objective import Objective
from sweeptui.store import MetricSeries, Run, RunStore, in_step_order

POINT_BUDGET = 60_000
"""Points kept over all runs together."""
MIN_POINTS, MAX_POINTS = 24, 400
"""Points kept per run, whatever the number of runs."""
ISSUE_ORDER = ("nan_or_inf_metric", "divergence", "oom", "crashed", "killed", "stalled", "short_run",
               "overfitting_suspect")  # fmt: skip
"""Which of a run's issues colours its curve: the most consequential first."""
ONSET_TYPES = ("nan_or_inf_metric", "divergence")
ToX = Callable[[np.ndarray], np.ndarray]
"""Maps a run's steps to the chart's x unit."""


def points_per_run(runs: int) -> int:
    """How many points each of ``runs`` curves keeps."""
    return int(min(max(POINT_BUDGET // max(runs, 1), MIN_POINTS), MAX_POINTS))


def curves_section(store: RunStore, objective: Objective | None) -> dict[str, Any]:
    """``{"metric", "x", "points_per_run", "runs": [{"id", "status", "issue", "steps", "values", "onset"}]}``
    (``steps`` are in the unit ``x`` names: ``epoch`` or ``step``)."""
    if objective is None:
        return {"metric": None, "x": "step", "points_per_run": 0, "runs": []}
    metric = objective.metric
    curved = [run for run in sorted(store, key=lambda run: run.id) if len(run.metrics.get(metric, ()))]
    by_epoch = bool(curved) and all(one_record_per_epoch(run) for run in curved)
    keep = points_per_run(len(store))
    onsets = _onsets(store.issues)
    entries = [_curve(run, run.metrics[metric], keep, onsets.get(run.id), by_epoch) for run in curved]
    return {"metric": metric, "x": "epoch" if by_epoch else "step", "points_per_run": keep,
            "runs": entries}  # fmt: skip


def fitted_range(values: Iterable[float | None]) -> tuple[float, float] | None:
    """A y range for curves that did not blow up: their lowest value to their 99.5th percentile,
    padded, so a diverging run leaves the chart instead of flattening every other curve."""
    finite = np.array([v for v in values if v is not None], dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if not finite.size:
        return None
    low, high = float(finite.min()), float(np.quantile(finite, 0.995))
    pad = (high - low) * 0.08 or abs(high) * 0.1 or 1.0
    return low - pad, high + pad


def primary_issue(issue_types: list[str] | tuple[str, ...]) -> str | None:
    """The issue that colours a run's curve (see :data:`ISSUE_ORDER`), None for a healthy run."""
    for issue_type in ISSUE_ORDER:
        if issue_type in issue_types:
            return issue_type
    return None


def thin_indices(steps: np.ndarray, values: np.ndarray, keep: int) -> np.ndarray:
    """Indices of at most ``keep`` points (plus the first non-finite one), in step order."""
    count = len(values)
    if count <= keep:
        return np.arange(count)
    chosen = _evenly_spread(count, keep)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        chosen = np.union1d(chosen, bad[:1])
    return chosen


@functools.lru_cache(maxsize=64)
def _evenly_spread(count: int, keep: int) -> np.ndarray:
    """``keep`` indices spread evenly over ``count`` points, first and last included
    (runs of a sweep mostly share their length: computed once per length)."""
    chosen = np.unique(np.linspace(0, count - 1, keep).round().astype(np.int64))
    chosen.flags.writeable = False  # shared between calls
    return chosen


def _curve(run: Run, series: MetricSeries, keep: int, onset: Issue | None, by_epoch: bool) -> dict[str, Any]:
    steps, values = in_step_order(series.steps, series.values)
    chosen = thin_indices(steps, values, keep)
    to_x = epoch_of(run) if by_epoch else same_step
    return {
        "id": run.id,
        "status": run.status,
        "issue": primary_issue(run.issue_types),
        "steps": _compact_all(to_x(steps[chosen])),
        "values": _compact_all(values[chosen]),
        "onset": _onset_point(onset, steps, values, to_x),
    }


def one_record_per_epoch(run: Run) -> bool:
    """Whether the run logs once per epoch (its epochs then make a clean x axis; a log with
    many steps per epoch would turn into a staircase)."""
    if run.epochs is None or not len(run.epochs):
        return False
    epochs = run.epochs.values
    return np.unique(epochs[np.isfinite(epochs)]).size == len(epochs)


def same_step(steps: np.ndarray) -> np.ndarray:
    """Steps as they are (the x axis counts steps)."""
    return steps


def epoch_of(run: Run) -> ToX:
    """Step -> epoch for this run, from its own (step, epoch) records."""
    pairs = run.epochs
    known = np.isfinite(pairs.steps) & np.isfinite(pairs.values)
    steps, epochs = in_step_order(pairs.steps[known], pairs.values[known])

    def convert(at: np.ndarray) -> np.ndarray:
        return np.interp(at, steps, epochs) if steps.size else at

    return convert


def _onsets(issues: list[Issue]) -> dict[str, Issue]:
    """The earliest NaN or divergence issue of each run."""
    found: dict[str, Issue] = {}
    for issue in issues:
        if issue.type not in ONSET_TYPES or issue.step is None:
            continue
        current = found.get(issue.run)
        if current is None or issue.step < current.step:
            found[issue.run] = issue
    return found


def _onset_point(
    issue: Issue | None, steps: np.ndarray, values: np.ndarray, to_x: ToX
) -> dict[str, Any] | None:
    """Where to mark the onset: its step (as x), at the last finite value up to it (a NaN has no height)."""
    if issue is None:
        return None
    upto = (steps <= issue.step) & np.isfinite(values)
    value = float(values[upto][-1]) if upto.any() else None
    at = float(to_x(np.array([issue.step], dtype=np.float64))[0])
    return {"type": issue.type, "step": _compact(at), "value": value}


def _compact_all(column: np.ndarray) -> list[float | int | None]:
    """A column as JSON-ready numbers: whole ones as integers, others rounded to 7 significant
    digits of the column's smallest magnitude (a smaller JSON file); non-finite ones as None.

    The section comes out JSON-ready, so the report does not walk its ~10^5 numbers again.
    """
    finite = np.isfinite(column)
    every = bool(finite.all())
    # the first value tells most value columns apart from whole-numbered steps at once
    if (every and column.size and float(column[0]).is_integer()
            and np.array_equal(column, np.round(column)) and np.abs(column).max() < 2**53):  # fmt: skip
        return column.astype(np.int64).tolist()
    magnitudes = np.abs(column if every else column[finite])
    smallest = float(magnitudes.min(initial=math.inf, where=magnitudes > 0))
    if smallest == math.inf:  # no value but zeros (and non-finite ones)
        numbers = column.tolist()
    else:
        decimals = min(max(6 - math.floor(math.log10(smallest)), 0), 15)
        numbers = np.round(column, decimals).tolist()
    if not every:
        for index in np.flatnonzero(~finite).tolist():
            numbers[index] = None
    return numbers


def _compact(number: float) -> float | int | None:
    """Whole steps as integers, other values to 7 significant digits (a smaller JSON file);
    a non-finite one as None."""
    if number != number or number in (float("inf"), float("-inf")):
        return None
    if number.is_integer() and abs(number) < 2**53:
        return int(number)
    return float(f"{number:.7g}")
