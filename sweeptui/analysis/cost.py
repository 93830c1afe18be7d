"""The price of failure: the run-hours each run took and the part of them that was lost.

A run's wall time runs from its first to its last timestamp: record times where the
log carries them, else file times, plus the start and end times a sweep tool records.
Part of it produced no usable result:

- a run that died (``crashed``, ``killed`` or ``failed``, OOM included) lost all of it;
- a run that went NaN or diverged lost the time after the onset. The store keeps no
  time per point, so the onset time is placed by step between the run's first and
  last timestamps (training runs at a steady pace, step for step);
- a run stopped early on purpose (pruned, or ended by a scheduler) lost nothing extra:
  stopping it was the sweep tool's decision, not a failure.

Everything else, overfitting and short runs included, still yields a real score and
counts as used. A run without two distinct timestamps has an unknown wall time: it
counts in ``unknown_runs`` and adds no hours.

Pure Python over the store (no pandas): the report's ``compute`` section, the
analysis' ``saved_run_hours`` and the live app's header all read :func:`sweep_costs`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sweeptui.issues import Issue
from sweeptui.store import Run, RunStore

DIED_STATUSES = frozenset({"crashed", "killed", "failed"})
NUMERICAL_TYPES = ("nan_or_inf_metric", "divergence")
DEATH_TYPES = ("oom", "killed", "crashed")
"""Issue types a death is charged to, most specific first (an OOM is also a crash)."""
HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class RunCost:
    """The wall time of one run and the part of it that was lost.

    ``lost_since`` is when the run stopped being useful (its start for a death, the
    onset of a NaN or divergence otherwise); ``cause`` is the issue type the lost
    hours are charged to (the run's status when no issue names the death).
    """

    run_id: str
    start: float | None
    end: float | None
    hours: float | None
    lost_hours: float = 0.0
    lost_since: float | None = None
    cause: str | None = None

    @property
    def known(self) -> bool:
        """Whether the run's wall time could be measured."""
        return self.hours is not None


def run_cost(run: Run, numerical: Iterable[Issue] = ()) -> RunCost:
    """The cost of ``run``; ``numerical`` are its NaN and divergence issues (any order)."""
    start, end = run.first_update, run.last_update
    if start is None or end is None or end <= start:
        return RunCost(run.id, start, end, None)
    hours = (end - start) / HOUR
    if run.status in DIED_STATUSES and not run.stopped_early:
        return RunCost(run.id, start, end, hours, hours, start, _death_cause(run))
    onsets = [(onset_time(run, issue, start, end), issue.type) for issue in numerical]
    if not onsets:
        return RunCost(run.id, start, end, hours)
    since, cause = min(onsets)
    return RunCost(run.id, start, end, hours, (end - since) / HOUR, since, cause)


def _death_cause(run: Run) -> str:
    for issue_type in DEATH_TYPES:
        if issue_type in run.issue_types:
            return issue_type
    return run.status


def onset_time(run: Run, issue: Issue, start: float, end: float) -> float:
    """When ``issue`` began, placed by its step between the run's first and last timestamps.

    Without a step (or with a one-step run) the time the evidence was seen is used,
    clipped to the run's span.
    """
    span = _step_span(run, issue.metric)
    if issue.step is not None and span is not None and span[1] > span[0]:
        fraction = (issue.step - span[0]) / (span[1] - span[0])
        return start + min(max(fraction, 0.0), 1.0) * (end - start)
    seen = issue.time if issue.time is not None else end
    return min(max(seen, start), end)


def _step_span(run: Run, metric: str | None) -> tuple[float, float] | None:
    """The step range of ``metric`` when the run has it, else of all its metrics."""
    series = run.metrics.get(metric) if metric else None
    if series is not None and series.step_range is not None:
        return series.step_range
    ranges = [s.step_range for s in run.metrics.values() if s.step_range is not None]
    if not ranges:
        return None
    return min(low for low, _ in ranges), max(high for _, high in ranges)


def sweep_costs(store: RunStore) -> dict[str, RunCost]:
    """The cost of every run of ``store``, by run id."""
    numerical: dict[str, list[Issue]] = {}
    for issue in store.issues:
        if issue.type in NUMERICAL_TYPES:
            numerical.setdefault(issue.run, []).append(issue)
    return {run.id: run_cost(run, numerical.get(run.id, ())) for run in store}


def lost_hours(costs: dict[str, RunCost], run_ids: Iterable[str]) -> float:
    """The lost run-hours of ``run_ids`` (what not running them, or saving them, would have saved)."""
    return sum(costs[run_id].lost_hours for run_id in run_ids if run_id in costs)


def compute_section(costs: dict[str, RunCost]) -> dict[str, Any]:
    """The report's ``compute`` section: total and lost run-hours, and the loss per issue type."""
    known = [cost for cost in costs.values() if cost.known]
    total = sum(cost.hours for cost in known)
    lost = sum(cost.lost_hours for cost in known)
    by_issue: dict[str, float] = {}
    for cost in known:
        if cost.cause is not None:
            by_issue[cost.cause] = by_issue.get(cost.cause, 0.0) + cost.lost_hours
    return {
        "run_hours": total,
        "lost_run_hours": lost,
        "lost_share": lost / total if total > 0 else 0.0,
        "by_issue": dict(sorted(by_issue.items(), key=lambda item: (-item[1], item[0]))),
        "known_runs": len(known),
        "unknown_runs": len(costs) - len(known),
    }
