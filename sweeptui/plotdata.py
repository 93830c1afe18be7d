"""What the app's plot screen draws: the objective curves of many runs, thinned, frozen.

The ingest thread owns the store, so it builds a :class:`CurveSet` on request (for
the runs the filter shows) and hands it to the UI, which only draws. Curves are
thinned to a budget shared by all runs (a terminal shows a few hundred dots across;
1,000 runs x 1,000 steps would be a million points to place), with the same rules
as the HTML report's curves (:mod:`sweeptui.report.curves`), the x axis in epochs when
every run logs one point per epoch. Core: no Textual.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from sweeptui.objective import Objective
from sweeptui.report.curves import epoch_of, one_record_per_epoch, primary_issue, same_step, thin_indices
from sweeptui.store import RunStore

POINT_BUDGET = 12_000
"""Points kept over all curves of one plot."""
MIN_POINTS, MAX_POINTS = 8, 160


@dataclass(frozen=True, slots=True)
class RunCurve:
    """One run's objective curve: finite points only (a NaN has no height), its issue, its onset."""

    id: str
    name: str
    issue: str | None
    """The issue that colours the curve (None: healthy)."""
    steps: tuple[float, ...]
    values: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class CurveSet:
    """The curves of the runs asked for; ``metric`` is None before any objective exists."""

    metric: str | None
    x: str
    """The x unit: ``epoch`` when every curve logs one point per epoch, else ``step``."""
    curves: tuple[RunCurve, ...]
    points: int
    """Points kept in all, after thinning."""


def make_curve_set(store: RunStore, run_ids: Iterable[str], objective: Objective | None) -> CurveSet:
    """The thinned objective curves of ``run_ids`` (runs without the metric are left out)."""
    if objective is None:
        return CurveSet(None, "step", (), 0)
    runs = [store.runs[run_id] for run_id in run_ids if run_id in store.runs]
    series = [(run, run.metrics.get(objective.metric)) for run in runs]
    series = [(run, s) for run, s in series if s is not None and len(s)]
    keep = int(min(max(POINT_BUDGET // max(len(series), 1), MIN_POINTS), MAX_POINTS))
    by_epoch = bool(series) and all(one_record_per_epoch(run) for run, _ in series)
    curves = []
    for run, metric in series:
        steps, values = metric.steps, metric.values
        chosen = thin_indices(steps, values, keep)
        steps, values = (epoch_of(run) if by_epoch else same_step)(steps[chosen]), values[chosen]
        finite = np.isfinite(values) & np.isfinite(steps)
        curves.append(RunCurve(run.id, run.name, primary_issue(run.issue_types),
                               tuple(steps[finite].tolist()), tuple(values[finite].tolist())))  # fmt: skip
    x = "epoch" if by_epoch else "step"
    return CurveSet(objective.metric, x, tuple(curves), sum(len(c.steps) for c in curves))
