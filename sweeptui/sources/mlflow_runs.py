"""MLflow's run model, shared by the three places MLflow keeps a sweep.

The SQLite store (:mod:`~sweeptui.sources.mlflow_sqlite`), the file store
(:mod:`~sweeptui.sources.mlflow_files`) and a tracking server
(:mod:`~sweeptui.sources.mlflow_server`) all describe the same thing: experiments of
runs, each run with a status, start and end times, params, tags and metric points
``(key, value, step, timestamp)``. Each reader fills a :class:`RunState` per run and
asks :func:`run_events` for the events of what changed. Here the mapping lives:

- run id ``<store>/<experiment id>/<run uuid>``, name the run's name (``mlflow.runName``);
- params as MLflow stores them (strings) turned back into numbers and booleans;
- statuses: FINISHED -> finished; FAILED -> crashed; KILLED -> killed; RUNNING and
  SCHEDULED stay running, judged by the lifecycle rules like any run (a run whose
  process was SIGKILLed stays RUNNING in MLflow forever);
- a parent run whose nested children are the trials (Optuna's and Ray's MLflow
  callbacks) is not a trial itself: it is left out once a child names it, and withdrawn
  when it was shown before its first child appeared;
- deleted runs (``lifecycle_stage: deleted``) are left out (withdrawn when deleted after
  being shown) unless :attr:`~sweeptui.settings.Settings.include_deleted`.

None of the readers imports MLflow.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sweeptui.events import Event, MetricBatch, RunEnded, RunSeen, RunWithdrawn, Series, SourceWarning

NAME = "mlflow"
RUN_NAME_TAG = "mlflow.runName"
PARENT_TAG = "mlflow.parentRunId"
EPOCH_KEY = "epoch"
ENDS = {"FINISHED": "finished", "FAILED": "crashed", "KILLED": "killed"}
"""MLflow's end statuses as sweeptui's; RUNNING and SCHEDULED are not ends."""
FILE_STATUS = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}
"""``RunStatus`` numbers, as the file store's ``meta.yaml`` writes them."""
SQL_INFINITY = 1.7976931348623157e308
"""The SQL store keeps +/-inf as the largest finite double (and NaN as 0 with ``is_nan``)."""


def param_value(text: Any) -> Any:
    """A param as logged: MLflow stores every param as a string; numbers come back as numbers."""
    if not isinstance(text, str):
        return text
    if text in ("True", "False", "true", "false"):
        return text.lower() == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return text
    return number if math.isfinite(number) else text


def sql_metric(value: float, is_nan: Any) -> float:
    """A metric value as the SQL store holds it, back to what was logged."""
    if is_nan:
        return math.nan
    if value >= SQL_INFINITY:
        return math.inf
    if value <= -SQL_INFINITY:
        return -math.inf
    return float(value)


@dataclass
class RunState:
    """One MLflow run as far as read, plus what has been emitted for it."""

    uuid: str
    experiment_id: str
    name: str = ""
    status: str = "RUNNING"
    start: float | None = None
    """Seconds since the epoch (MLflow keeps milliseconds)."""
    end: float | None = None
    deleted: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    points: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)
    """New points per metric key, not emitted yet: (steps, values)."""
    stamps: dict[float, float] = field(default_factory=dict)
    """Newest timestamp (milliseconds) per step among the new points."""
    emitted: tuple | None = None
    """(name, params) as last emitted; None before the first RunSeen."""
    ended: bool = False
    metric_count: int = 0

    @property
    def parent(self) -> str | None:
        """The run uuid of the parent run, for a nested run."""
        return self.tags.get(PARENT_TAG) or None

    @property
    def display_name(self) -> str:
        """The run's name, or its uuid's first eight characters."""
        return self.name or self.tags.get(RUN_NAME_TAG) or self.uuid[:8]

    def add_points(self, key: str, values: Sequence[float], steps: Sequence[float],
                   stamps_ms: Sequence[float]) -> None:
        """Points of one metric, in the order they were logged (timestamps in milliseconds);
        C-level work only, as a store of a thousand runs brings millions of points."""
        old_steps, old_values = self.points.setdefault(key, ([], []))
        old_steps.extend(steps)
        old_values.extend(values)
        # the newest timestamp of a step wins: points come in the order they were logged
        self.stamps.update(zip(steps, stamps_ms, strict=True))

    def add_point(self, key: str, value: float, step: float, stamp_ms: float | None) -> None:
        """One metric point (timestamp in milliseconds, as MLflow logs it)."""
        steps, values = self.points.setdefault(key, ([], []))
        steps.append(step)
        values.append(value)
        if stamp_ms is not None and stamp_ms > self.stamps.get(step, -math.inf):
            self.stamps[step] = stamp_ms


def millis(value: Any) -> float | None:
    """Milliseconds since the epoch (int, float or numeric string) as seconds."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number / 1000.0 if math.isfinite(number) and number > 0 else None


def run_events(run: RunState, storage: str, warn_path: str) -> list[Event]:
    """The events for what changed in ``run`` since the last call (drains its new points)."""
    run_id = _run_id(run, storage)
    events: list[Event] = []
    meta = (run.display_name, run.params)
    if run.emitted is None or meta != run.emitted:
        run.emitted = (run.display_name, dict(run.params))
        events.append(RunSeen(run_id, run.display_name, storage, NAME, dict(run.params), run.start))
    if run.points:
        events.append(_batch(run, run_id))
    if not run.ended and run.status in ENDS:
        run.ended = True
        events.extend(_end_events(run, run_id, warn_path))
    return events


def _batch(run: RunState, run_id: str) -> MetricBatch:
    """The new points as one batch; an ``epoch`` metric (Lightning's MLflow logger logs one)
    is the epoch column, as in any metric log."""
    metrics: dict[str, Series] = {}
    for key, (steps, values) in run.points.items():
        # kept in the order they were logged, as every reader hands them over: a run resumed
        # from a checkpoint logs lower steps again, and reads in any chunks agree
        metrics[key] = Series(array("d", steps), array("d", values))
        run.metric_count += len(steps)
    epochs = metrics.pop(EPOCH_KEY, None)
    times = array("d", (stamp / 1000.0 for stamp in sorted(run.stamps.values())))
    records = max(len(steps) for steps, _ in run.points.values())
    run.points = {}
    run.stamps = {}
    return MetricBatch(run_id, metrics, records, times=times, epochs=epochs)


def _end_events(run: RunState, run_id: str, warn_path: str) -> list[Event]:
    status = ENDS[run.status]
    if status == "finished":
        ended = RunEnded(run_id, status, time=run.end, evidence=f"MLflow status {run.status}")
    else:  # MLflow keeps no error text: the status is the message
        ended = RunEnded(run_id, status, f"MLflow run status {run.status}", time=run.end)
    events: list[Event] = [ended]
    if status == "finished" and run.metric_count == 0:
        message = f"run {run.display_name!r} is FINISHED but logged no metric at all"
        events.append(SourceWarning(warn_path, message))
    return events


def sweep_events(runs: dict[str, RunState], storage: str, warn_path: str,
                 include_deleted: bool) -> list[Event]:  # fmt: skip
    """The events for what changed in every run that is a trial.

    A parent of nested runs is not a trial, and a deleted run is not part of the sweep
    (unless ``include_deleted``): either one shown earlier, before its first child
    appeared or before it was deleted, is withdrawn.
    """
    parents = {run.parent for run in runs.values() if run.parent}
    events: list[Event] = []
    for run in runs.values():
        if run.uuid in parents:
            _withdraw(run, storage, "the parent of nested runs (its children are the trials)", events)
        elif run.deleted and not include_deleted:
            _withdraw(run, storage, "deleted in MLflow", events)
        else:
            events.extend(run_events(run, storage, warn_path))
    return events


def _withdraw(run: RunState, storage: str, reason: str, events: list[Event]) -> None:
    run.points.clear()
    run.stamps.clear()
    if run.emitted is not None:
        events.append(RunWithdrawn(_run_id(run, storage), reason))
        run.emitted = None
        run.ended = False  # seen again if it comes back (a run restored from the trash)


def _run_id(run: RunState, storage: str) -> str:
    return f"{storage}/{run.experiment_id}/{run.uuid}"


__all__ = [
    "ENDS", "FILE_STATUS", "NAME", "RunState", "millis", "param_value", "run_events",
    "sql_metric", "sweep_events",
]  # fmt: skip
