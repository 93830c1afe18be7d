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
    # every run's x and y columns made JSON-ready at once: numpy's cost per call, not the
    # points, is what a column of a few dozen points costs
    columns = compact_columns([column for entry in entries for column in (entry["steps"], entry["values"])])
    for index, entry in enumerate(entries):
        entry["steps"], entry["values"] = columns[2 * index], columns[2 * index + 1]
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
    """A run's entry, its ``steps`` and ``values`` still arrays (see :func:`compact_columns`)."""
    steps, values = in_step_order(series.steps, series.values)
    chosen = thin_indices(steps, values, keep)
    to_x = epoch_of(run) if by_epoch else same_step
    return {
        "id": run.id,
        "status": run.status,
        "issue": primary_issue(run.issue_types),
        "steps": to_x(steps[chosen]),
        "values": values[chosen],
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


def compact_columns(columns: list[np.ndarray]) -> list[list[float | int | None]]:
    """Each column as JSON-ready numbers: a column of whole numbers as integers, any other
    rounded to 7 significant digits of its smallest magnitude (a smaller JSON file);
    non-finite values as None. Every column is judged on its own; the work is done over
    all columns of one length at once (a run's thinned curves mostly share theirs).

    The section comes out JSON-ready, so the report does not walk its ~10^5 numbers again.
    """
    out: list[list[float | int | None]] = [[] for _ in columns]
    by_size: dict[int, list[int]] = {}
    for index, column in enumerate(columns):
        if column.size:
            by_size.setdefault(column.size, []).append(index)
    for indexes in by_size.values():
        rows = _compact_rows(np.stack([columns[index] for index in indexes]).astype(np.float64, copy=False))
        for index, row in zip(indexes, rows, strict=True):
            out[index] = row
    return out


def _compact_rows(rows: np.ndarray) -> list[list[float | int | None]]:
    """:func:`compact_columns` for the rows of a 2-D array, each a column."""
    finite = np.isfinite(rows)
    every = finite.all(axis=1)
    magnitudes = np.abs(rows)
    with np.errstate(invalid="ignore"):
        integral = every & (rows == np.round(rows)).all(axis=1)
    integral &= np.where(finite, magnitudes, 0.0).max(axis=1) < 2**53
    smallest = np.where(finite & (magnitudes > 0), magnitudes, math.inf).min(axis=1)
    rounded = ~integral & np.isfinite(smallest)
    numbers = rows.copy()
    # math.log10 per column, not numpy's: its last bit may differ at a power of ten
    places = [min(max(6 - math.floor(math.log10(x)), 0), 15) for x in smallest[rounded].tolist()]
    chosen = np.flatnonzero(rounded)
    for decimals in set(places):
        at = chosen[np.array(places) == decimals]
        numbers[at] = np.round(rows[at], decimals)
    out = numbers.tolist()
    for index in np.flatnonzero(integral).tolist():
        out[index] = rows[index].astype(np.int64).tolist()
    for index in np.flatnonzero(~every).tolist():
        row = out[index]
        for at in np.flatnonzero(~finite[index]).tolist():
            row[at] = None
    return out


def _compact(number: float) -> float | int | None:
    """Whole steps as integers, other values to 7 significant digits (a smaller JSON file);
    a non-finite one as None."""
    if number != number or number in (float("inf"), float("-inf")):
        return None
    if number.is_integer() and abs(number) < 2**53:
        return int(number)
    return float(f"{number:.7g}")
