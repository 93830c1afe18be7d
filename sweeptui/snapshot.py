"""Immutable sweep snapshots: what the live views show, built from the store.

The ingest thread owns the :class:`~sweeptui.store.RunStore`; views never see it.
Instead :class:`SnapshotBuilder` turns the store into a frozen
:class:`SweepSnapshot` (rows per run, status counts, new issues, progress, the
parameter-risk and recommendation panels) that can be handed to another thread.
Rows of runs that did not change are reused from the previous snapshot, so a
snapshot of 10,000 runs costs little when only a few moved.

This module is core: it never imports Textual.
"""

from __future__ import annotations

import itertools
import math
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sweeptui.events import FileReset
from sweeptui.issues import Issue, Severity
from sweeptui.objective import Objective, choose_objective, unknown_metric
from sweeptui.settings import Settings
from sweeptui.store import STATUSES, Run, RunStore, varying_params

SPARK_POINTS = 40
"""How many of the newest objective (or loss) values a row keeps for its sparkline."""

MAX_FEED = 500
"""Issues kept in a snapshot's feed (newest first); the store keeps them all."""

MAX_BUCKETS = 6
"""Values of one parameter shown in the risk panel before the rest are grouped."""


@dataclass(frozen=True, slots=True)
class RunRow:
    """One run as the runs table shows it. Values are raw; widgets format them."""

    id: str
    name: str
    status: str
    params: tuple[tuple[str, Any], ...]
    epoch: float | None
    step: float | None
    progress: float | None
    """Fraction done (0..1) when the run's expected length is known."""
    last: float | None
    best: float | None
    spark: tuple[float, ...]
    issues: tuple[str, ...]
    last_update: float | None
    stopped_early: bool = False
    """Finished on purpose before its planned length (pruned, stopped by a scheduler)."""

    def param(self, key: str) -> Any:
        """The value of varying parameter ``key`` (None when the run lacks it)."""
        for name, value in self.params:
            if name == key:
                return value
        return None


@dataclass(frozen=True, slots=True)
class RiskBucket:
    """Runs sharing one value of a parameter, and how many of them have issues."""

    label: str
    runs: int
    with_issues: int

    @property
    def rate(self) -> float:
        """Share of runs with at least one issue (0..1)."""
        return self.with_issues / self.runs if self.runs else 0.0


@dataclass(frozen=True, slots=True)
class ParamRisk:
    """Issue rate per value bucket of one varying parameter."""

    param: str
    buckets: tuple[RiskBucket, ...]
    spread: float
    """Highest minus lowest bucket rate: how much this parameter seems to matter."""


@dataclass(frozen=True, slots=True)
class Analysis:
    """The slower-cadence panels: parameter risk and recommendations."""

    risks: tuple[ParamRisk, ...] = ()
    recommendations: tuple[str, ...] = ()
    computed_at: float | None = None
    lost_hours: float | None = None
    """Run-hours lost to failure so far (see :mod:`sweeptui.analysis.cost`); None when no run is timed."""
    headlines: tuple[str, ...] = ()
    """One short title per recommendation (same order), for one-line summaries."""
    problems: tuple[str, ...] = ()
    """Analysis sections that failed (shown with the reading warnings)."""


@dataclass(frozen=True, slots=True)
class SweepSnapshot:
    """Everything the live views show at one moment. Safe to pass between threads."""

    version: int
    taken_at: float
    root: str
    objective: str | None
    """``"val_loss (min)"``-style label, or None before any metric appears."""
    rows: tuple[RunRow, ...]
    varying: tuple[str, ...]
    counts: tuple[tuple[str, int], ...]
    issues: tuple[Issue, ...]
    """Newest first, at most :data:`MAX_FEED`."""
    issue_count: int
    new_issues: tuple[Issue, ...]
    """Issues found since the previous snapshot, oldest first."""
    warnings: tuple[str, ...]
    warning_count: int
    elapsed: float | None
    eta: float | None
    """Seconds until the running runs are done, when every one has a known length."""
    analysis: Analysis = field(default_factory=Analysis)
    notes: tuple[str, ...] = ()
    issues_added: int = 0
    """Issues ever found, withdrawn ones included: never goes down, so a view counting
    new issues by it misses none when snapshots are coalesced or an issue is withdrawn."""
    quiet: float | None = None
    """Seconds since the sweep's newest record, once that is over :data:`QUIET_AFTER`
    (a sweep gone quiet, or one read long after it ran); None otherwise."""
    resets: tuple[str, ...] = ()
    """One line per recent file reset that changed a run's points (a log replaced or
    truncated and read again), newest last."""
    resets_seen: int = 0
    """Such resets ever applied: a view counting new ones by it misses none."""

    @property
    def total(self) -> int:
        """Number of runs."""
        return len(self.rows)

    def count(self, status: str) -> int:
        """Runs with ``status``."""
        return dict(self.counts).get(status, 0)

    def row(self, run_id: str) -> RunRow | None:
        """The row of ``run_id``, if it exists."""
        for row in self.rows:
            if row.id == run_id:
                return row
        return None


AnalyzeFn = Callable[[RunStore, "Objective | None"], Analysis]


class SnapshotBuilder:
    """Builds successive snapshots of one store; keeps rows of unchanged runs.

    Only the thread that writes the store may use a builder (it drains the store's
    changed-run set).
    """

    def __init__(
        self,
        store: RunStore,
        metric: str | None = None,
        goal: str | None = None,
        analyze: AnalyzeFn | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.metric = metric
        self.goal = goal
        self.analyze = analyze or analyze_sweep
        self.clock = clock
        self.objective: Objective | None = None
        self.analysis = Analysis()
        self._rows: dict[str, RunRow] = {}
        self._issue_serial = 0
        self._varying: tuple[str, ...] = ()
        self._objective_runs = -1
        self._varying_runs = -1
        self._metric_note: str | None = None
        """Why ``--metric`` ranks nothing (no run logs it), checked with each analysis."""
        self._skew = 0.0
        """How far the records' clock has been seen ahead of ours (see :meth:`sweep_clock`)."""

    def sweep_clock(self, now: float) -> float:
        """The sweep's "now" on the clock its records are stamped with, for elapsed time and ETA.

        Records stamped ahead of this machine's clock (a host whose clock runs fast, or a
        simulation running faster than real time) move it forward; from then on it runs
        at our pace from there, so elapsed time keeps counting once writing stops.
        """
        newest = self.store.newest_update()
        if newest is not None and newest - now > self._skew:
            self._skew = newest - now
        return now + self._skew

    def build(self, notes: Iterable[str] = (), *, analyse: bool = False) -> SweepSnapshot:
        """A snapshot of the store now; ``analyse`` refreshes the slower panels too."""
        now = self.clock()
        clock = self.sweep_clock(now)
        store = self.store
        refresh_all = self._refresh_objective() | self._refresh_varying(analyse)
        changed = store.drain_changed()
        targets = store.runs.keys() if refresh_all else changed
        for run_id in targets:
            run = store.runs.get(run_id)
            if run is not None:
                self._rows[run_id] = make_row(run, self.objective, self._varying)
            else:  # withdrawn
                self._rows.pop(run_id, None)
        if analyse:
            self.analysis = self.analyze(store, self.objective)
            problem = unknown_metric(store, self.metric) if self.metric else None
            self._metric_note = f"--metric: {problem}" if problem else None
        fresh, self._issue_serial = store.issues_since(self._issue_serial)
        return SweepSnapshot(
            version=store.version,
            taken_at=now,
            root=str(store.root),
            objective=_objective_label(self.objective),
            rows=tuple(self._rows[run_id] for run_id in store.runs if run_id in self._rows),
            varying=self._varying,
            counts=tuple(store.status_counts().items()),
            issues=tuple(reversed(store.issues[-MAX_FEED:])),
            issue_count=len(store.issues),
            new_issues=tuple(fresh),
            warnings=tuple(f"{w.path}: {w.message}" for w in store.warnings[-20:])
            + self.analysis.problems,
            warning_count=store.warning_count + len(self.analysis.problems),
            elapsed=elapsed(store, clock),
            quiet=quiet(store, clock),
            eta=eta(store, clock),
            analysis=self.analysis,
            notes=(*notes, self._metric_note) if self._metric_note else tuple(notes),
            issues_added=store.issues_added,
            resets=tuple(reset_line(store.root, reset) for reset in store.resets),
            resets_seen=store.resets_seen,
        )

    def _refresh_objective(self) -> bool:
        """Choose the objective again while runs arrive; True when it changed."""
        if len(self.store) == self._objective_runs:
            return False
        self._objective_runs = len(self.store)
        chosen = choose_objective(self.store, self.metric, self.goal)
        changed = chosen != self.objective
        self.objective = chosen
        return changed

    def _refresh_varying(self, force: bool) -> bool:
        """Recompute the varying params when runs arrived (or ``force``); True when they changed."""
        if not force and len(self.store) == self._varying_runs:
            return False
        self._varying_runs = len(self.store)
        varying = tuple(varying_params(list(self.store)))
        changed = varying != self._varying
        self._varying = varying
        return changed


def make_row(run: Run, objective: Objective | None, varying: tuple[str, ...]) -> RunRow:
    """The table row of one run."""
    return RunRow(
        id=run.id,
        name=run.name,
        status=run.status,
        params=tuple((key, run.params.get(key)) for key in varying),
        epoch=run.last_epoch,
        step=run.last_step,
        progress=_fraction(run),
        last=objective.last(run) if objective else None,
        best=objective.value(run) if objective else None,
        spark=tuple(float(v) for v in _spark_series(run, objective)),
        issues=tuple(run.issue_types),
        last_update=run.last_update,
        stopped_early=run.verdict.stopped_early,
    )


def _spark_series(run: Run, objective: Objective | None):
    series = run.metrics.get(objective.metric) if objective else None
    if series is None or not len(series):
        series = _loss_like(run)
    return series.tail(SPARK_POINTS) if series is not None else ()


def _loss_like(run: Run):
    for name in sorted(run.metrics):
        if "loss" in name.lower() and len(run.metrics[name]):
            return run.metrics[name]
    return None


def _fraction(run: Run) -> float | None:
    fraction = run.fraction_done()
    if fraction is None:
        return 1.0 if run.status == "finished" else None
    return min(max(fraction, 0.0), 1.0)


def _objective_label(objective: Objective | None) -> str | None:
    return None if objective is None else f"{objective.metric} ({objective.goal})"


QUIET_AFTER = 3600.0
"""Seconds without any record after which the header stops counting elapsed time."""


def reset_line(root: Path | str, reset: FileReset) -> str:
    """One line on a file reset: the file (under the sweep root), what happened, what was done."""
    path = Path(reset.path)
    if isinstance(root, Path) and root in path.parents:
        path = path.relative_to(root)
    said = "replaced by a new file" if reset.kind == "replaced" else "truncated"
    return f"{path.as_posix()} {said}: its earlier points dropped, read again from its start"


def elapsed(store: RunStore, now: float) -> float | None:
    """Seconds since the sweep's first record, None before any; ``now`` is the sweep's clock.

    Once no run is running, or nothing was written for :data:`QUIET_AFTER` (a sweep read
    long after it ran), the sweep's span: its first record to its newest.
    """
    starts = [run.first_update for run in store if run.first_update is not None]
    if not starts:
        return None
    newest = store.newest_update() or now
    live = store.status_counts().get("running") and quiet(store, now) is None
    end = max(now, newest) if live else newest
    return max(end - min(starts), 0.0)


def quiet(store: RunStore, now: float) -> float | None:
    """Seconds since the newest record when that is over :data:`QUIET_AFTER`, else None."""
    newest = store.newest_update()
    if newest is None or now - newest <= QUIET_AFTER:
        return None
    return now - newest


def eta(store: RunStore, now: float) -> float | None:
    """Seconds until the slowest running run ends, from each run's own pace; ``now`` is the
    sweep's clock (the one :func:`elapsed` uses).

    Each running run's remainder is the share of its expected length still to go at its
    own pace (:func:`_pace`); a run too new to have a pace takes the median pace of the
    others. Known only when every running run has an expected length; stalled runs, and
    runs already silent longer than their remainder, say nothing about the end and are
    left out. None when nothing is left to estimate. Future runs of the sweep are unknown,
    so they are not counted.
    """
    running = [run for run in store if run.status == "running" and "stalled" not in run.issue_types]
    paces = {run.id: pace for run in running if (pace := _pace(run)) is not None}
    usual = statistics.median(paces.values()) if paces else None
    remaining: list[float] = []
    for run in running:
        fraction = run.fraction_done()
        pace = paces.get(run.id, usual)
        if fraction is None or pace is None:
            return None
        since = now - run.last_update if run.last_update is not None else 0.0
        left = pace * max(1.0 - fraction, 0.0) - max(since, 0.0)
        if left > 0:
            remaining.append(left)
    return max(remaining) if remaining else None


def _pace(run: Run) -> float | None:
    """Seconds ``run`` takes per unit of its expected length (None before two records).

    The first record already stands for 1/records of the progress, so the time between
    the first and the newest record covers (records - 1)/records of it.
    """
    fraction = run.fraction_done()
    if not fraction or run.first_update is None or run.last_update is None or run.records < 2:
        return None
    return (run.last_update - run.first_update) / fraction * run.records / (run.records - 1)


# -- the slower panels -----------------------------------------------------------------


def analyze_sweep(store: RunStore, objective: Objective | None, settings: Settings | None = None) -> Analysis:
    """Parameter risk and recommendations: the integration point for the analysis layer.

    Uses :func:`sweeptui.analysis.analyze` when that module exists (its result is
    adapted by :func:`_from_analysis`); otherwise a simple per-parameter issue rate.
    """
    try:
        from sweeptui.analysis import AnalysisOptions, analyze
    except ImportError:
        return simple_analysis(store)
    return _from_analysis(analyze(store, objective, AnalysisOptions().with_settings(settings)))


def _from_analysis(result: Any) -> Analysis:
    """Adapt :class:`sweeptui.analysis.SweepAnalysis`: per-bucket issue rates and advice texts."""
    by_param: dict[str, list[RiskBucket]] = {}
    for entry in result.param_effects:
        bucket = RiskBucket(str(entry["bucket"]), int(entry["runs"]), int(entry["issue_runs"]))
        by_param.setdefault(str(entry["param"]), []).append(bucket)
    risks = [_risk(param, buckets) for param, buckets in by_param.items()]
    risks.sort(key=lambda risk: -risk.spread)
    texts = tuple(_recommendation_text(item) for item in result.recommendations)
    titles = tuple(_recommendation_title(item) for item in result.recommendations)
    compute = result.compute or {}
    lost = compute["lost_run_hours"] if compute.get("known_runs") else None
    return Analysis(tuple(risks), texts, time.time(), lost, titles, tuple(result.failures))


def _risk(param: str, buckets: list[RiskBucket]) -> ParamRisk:
    rates = [bucket.rate for bucket in buckets if bucket.runs] or [0.0]
    return ParamRisk(param, tuple(buckets), max(rates) - min(rates))


def _recommendation_title(item: Any) -> str:
    if isinstance(item, dict):
        return str(item.get("title") or item.get("text") or item)
    return str(item)


def _recommendation_text(item: Any) -> str:
    if isinstance(item, dict):
        return str(item.get("text") or item.get("title") or item)
    return str(item)


def simple_analysis(store: RunStore) -> Analysis:
    """Issue rate per value of each varying parameter, and one hint per risky value."""
    runs = list(store)
    risks = [param_risk(runs, key) for key in varying_params(runs)]
    ranked = sorted((r for r in risks if r.buckets), key=lambda r: -r.spread)
    hints = tuple(_hints(ranked))
    return Analysis(tuple(ranked), hints, time.time(), hints)


def param_risk(runs: list[Run], key: str) -> ParamRisk:
    """Runs grouped by their value of ``key`` (numeric values in ranges when many)."""
    groups: dict[str, list[Run]] = {}
    for run, label in zip(runs, _bucket_labels([run.params.get(key) for run in runs]), strict=True):
        groups.setdefault(label, []).append(run)
    buckets = [
        RiskBucket(label, len(members), sum(1 for run in members if run.issue_types))
        for label, members in groups.items()
    ]
    return _risk(key, buckets)


def _bucket_labels(values: list[Any]) -> list[str]:
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    distinct = sorted({float(v) for v in numbers if math.isfinite(v)})
    if len(distinct) <= MAX_BUCKETS or len(numbers) != len(values):
        return [_short(value) for value in values]
    edges = [distinct[round(i * (len(distinct) - 1) / MAX_BUCKETS)] for i in range(MAX_BUCKETS + 1)]
    return [_range_label(float(value), edges) for value in values]


def _range_label(value: float, edges: list[float]) -> str:
    for low, high in itertools.pairwise(edges):
        if value <= high:
            return f"{_short(low)}..{_short(high)}"
    return f">{_short(edges[-1])}"


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return "—" if value is None else str(value)


def _hints(risks: list[ParamRisk]) -> list[str]:
    hints = []
    for risk in risks[:3]:
        worst = max(risk.buckets, key=lambda b: (b.rate, b.runs))
        if worst.with_issues >= 2 and risk.spread >= 0.3:
            hints.append(
                f"{risk.param}={worst.label}: {worst.with_issues} of {worst.runs} runs "
                f"have issues; consider dropping or narrowing it"
            )
    return hints


@dataclass(frozen=True, slots=True)
class Curve:
    """One metric of one run: steps and values (copies, for plotting)."""

    metric: str
    steps: tuple[float, ...]
    values: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class RunDetail:
    """Everything the run detail screen shows about one run."""

    id: str
    name: str
    path: str
    source: str
    status: str
    params: tuple[tuple[str, Any], ...]
    summary: tuple[tuple[str, float], ...]
    curves: tuple[Curve, ...]
    issues: tuple[Issue, ...]
    failure: str | None
    exit_code: int | None
    error_tail: str | None
    objective: str | None
    status_reason: str = ""
    """One line: the evidence the status stands on (see :mod:`sweeptui.lifecycle`)."""
    stopped_early: bool = False


ERROR_TAIL_LINES = 40
MAX_CURVE_POINTS = 2000


def make_detail(store: RunStore, run_id: str, objective: Objective | None) -> RunDetail | None:
    """The detail of ``run_id`` (None when it vanished). Long curves are thinned evenly."""
    run = store.runs.get(run_id)
    if run is None:
        return None
    curves = tuple(_curve(name, series) for name, series in sorted(run.metrics.items()))
    error = run.error
    if error:
        error = "\n".join(error.splitlines()[-ERROR_TAIL_LINES:])
    return RunDetail(
        id=run.id,
        name=run.name,
        path=run.path,
        source=run.source,
        status=run.status,
        params=tuple(sorted(run.params.items())),
        summary=tuple(sorted(run.summary.items())),
        curves=curves,
        issues=tuple(issue for issue in store.issues if issue.run == run_id),
        failure=run.failure.reason if run.failure else None,
        exit_code=run.exit_code,
        error_tail=error,
        objective=objective.metric if objective else None,
        status_reason=run.status_reason,
        stopped_early=run.verdict.stopped_early,
    )


def _curve(name: str, series) -> Curve:
    steps, values = series.steps, series.values
    stride = max(1, math.ceil(len(values) / MAX_CURVE_POINTS))
    return Curve(name, tuple(steps[::stride].tolist()), tuple(values[::stride].tolist()))


def high_severity(issues: Iterable[Issue]) -> list[Issue]:
    """The issues that deserve an alert."""
    return [issue for issue in issues if issue.severity is Severity.HIGH]


__all__ = [
    "STATUSES",
    "Analysis",
    "Curve",
    "ParamRisk",
    "RiskBucket",
    "RunDetail",
    "RunRow",
    "SnapshotBuilder",
    "SweepSnapshot",
    "analyze_sweep",
    "high_severity",
    "make_detail",
    "make_row",
    "simple_analysis",
]
