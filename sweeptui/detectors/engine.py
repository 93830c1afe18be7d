"""The detector engine: routes store changes to each streaming detector.

API used by :class:`sweeptui.sweep.Sweep`:

- ``on_metrics(run, batch)``: after the store appended a MetricBatch to ``run``.
- ``on_end(run)``: after the store applied a RunEnded (status already updated).
- ``on_tick(now)`` / ``finalize(now)``: time-based checks, the same in both views:
  :class:`sweeptui.lifecycle.Lifecycle` judges each run without an end marker at
  ``now``; a stall, a vanished run or a quiet completion becomes (or withdraws) an issue.

Each returns the new issues, already recorded in the store with ``store.add_issue``.
Detectors see only the new points of a batch and keep small per-run state, so the
cost of a batch is proportional to its size, never to a run's history.
"""

from __future__ import annotations

from dataclasses import dataclass

from sweeptui.detectors.base import EpochLookup, EpochTracker, batch_time
from sweeptui.detectors.crash_loop import CrashLoopDetector
from sweeptui.detectors.divergence import DivergenceDetector, LossState
from sweeptui.detectors.failure import failure_issue
from sweeptui.detectors.nonfinite import find_nonfinite
from sweeptui.detectors.overfitting import FitState, OverfitDetector
from sweeptui.detectors.short_run import ShortRunDetector
from sweeptui.detectors.stall import SILENCE_ISSUES, stalled_issue, vanished_issue
from sweeptui.events import MetricBatch
from sweeptui.issues import Issue
from sweeptui.lifecycle import Lifecycle
from sweeptui.settings import Settings
from sweeptui.store import Run, RunStore


@dataclass(slots=True)
class RunState:
    """The metric detectors' state of one run: its epoch pair, losses and fit."""

    epochs: EpochTracker | None
    divergence: dict[str, LossState]
    overfitting: FitState | None


class DetectorEngine:
    """Owns every detector's per-run state."""

    def __init__(
        self, store: RunStore, settings: Settings, lifecycle: Lifecycle | None = None
    ) -> None:
        self.store = store
        self.settings = settings
        self.lifecycle = lifecycle or Lifecycle(settings)
        self.divergence = DivergenceDetector(settings)
        self.overfitting = OverfitDetector(settings)
        self.short_runs = ShortRunDetector(store, settings)
        self.crash_loop = CrashLoopDetector(store, settings, self.short_runs)
        self._epochs: dict[str, EpochTracker] = {}

    # -- events ------------------------------------------------------------------
    def on_metrics(self, run: Run, batch: MetricBatch) -> list[Issue]:
        """Judge the batch's new points; returns the issues it raised."""
        found: list[Issue | None] = []
        carried = self._epochs.get(run.id)
        if carried is None:  # not setdefault: that builds a tracker on every batch
            carried = self._epochs[run.id] = EpochTracker()
        epochs = EpochLookup(batch, carried)
        seen_at = batch_time(run, batch)
        if not self.store.has_issue(run.id, "nan_or_inf_metric"):
            found.append(find_nonfinite(run, batch, epochs, seen_at))
        if not self.store.has_issue(run.id, "divergence"):
            found.append(self.divergence.on_metrics(run, batch, epochs, seen_at))
        if not self.store.has_issue(run.id, "overfitting_suspect"):
            found.append(self.overfitting.on_metrics(run, batch, epochs, seen_at))
        epochs.advance()
        return self.judged(run, found)

    def judged(self, run: Run, found: list[Issue | None]) -> list[Issue]:
        """Record what the metric detectors found in a batch of ``run``; the new issues.

        Also takes a verdict reached in a child process of a one-shot load, by an
        engine that held the run in the same state (see :mod:`sweeptui.readalone`).
        """
        if run.ended:
            # Trailing lines after the end marker: cached lengths are stale.
            self.short_runs.invalidate(run.id)
        new = self._record(found)
        for issue in new:
            self._forget(issue)
        return new

    def run_state(self, run_id: str) -> RunState:
        """What the metric detectors carry for one run (to continue it elsewhere)."""
        return RunState(
            self._epochs.get(run_id),
            self.divergence.state_of(run_id),
            self.overfitting.state_of(run_id),
        )

    def adopt(self, run_id: str, state: RunState) -> None:
        """Continue a run judged in another process from its :meth:`run_state`."""
        if state.epochs is not None:
            self._epochs[run_id] = state.epochs
        self.divergence.adopt(run_id, state.divergence)
        self.overfitting.adopt(run_id, state.overfitting)

    def on_end(self, run: Run) -> list[Issue]:
        """A run ended: its failure, a short finish, maybe a crash loop."""
        if not run.ended:
            return []
        self.lifecycle.forget(run.id)
        if run.status == "finished":
            self.store.retract_issues(run.id, SILENCE_ISSUES)
        self.short_runs.invalidate(run.id)
        self.crash_loop.record_end(run)
        stamp = run.ended_at if run.ended_at is not None else run.last_update
        return self._record(
            [failure_issue(run), self.short_runs.check(run, stamp), self.crash_loop.check()]
        )

    def hold_sweep_checks(self, held: bool) -> list[Issue]:
        """Hold the sweep-level judgement while a read is applied; on release, judge it once."""
        self.crash_loop.held = held
        return [] if held else self._record([self.crash_loop.check()])

    def on_tick(self, now: float) -> list[Issue]:
        """Live checks: every run without an end marker judged at ``now``."""
        return self._time_checks(now)

    def finalize(self, now: float | None) -> list[Issue]:
        """Post-hoc checks: the same judgment as :meth:`on_tick`, at ``now`` (the clock)."""
        if now is None:
            return self._record([*self.short_runs.check_all(None), self.crash_loop.check()])
        return self._time_checks(now)

    # -- internals ------------------------------------------------------------------
    def _time_checks(self, now: float) -> list[Issue]:
        found: list[Issue | None] = []
        for run, before in self.lifecycle.assess(self.store, now):
            self.store.mark_changed(run.id)
            found.extend(self._verdict_changed(run, before, now))
        found.extend(self.short_runs.check_all(now))
        found.append(self.crash_loop.check())
        return self._record(found)

    def _verdict_changed(self, run: Run, before, now: float) -> list[Issue | None]:
        """The issues a new verdict raises, and those it withdraws."""
        verdict = run.verdict
        if verdict.status == "finished" or (before.vanished and not verdict.vanished):
            # a silence that ended in completion, or a run that came back: not a stall
            gone = SILENCE_ISSUES if verdict.status == "finished" else ("killed",)
            self.store.retract_issues(run.id, gone)
        found: list[Issue | None] = []
        if (verdict.stalled or verdict.vanished) and not self.store.has_issue(run.id, "stalled"):
            found.append(stalled_issue(run, verdict, now))
        if verdict.vanished:
            found.append(vanished_issue(run, verdict, now))
        if run.ended:
            self.crash_loop.record_end(run)
            self.short_runs.invalidate(run.id)
        return found

    def _record(self, candidates: list[Issue | None]) -> list[Issue]:
        return [i for i in candidates if i is not None and self.store.add_issue(i)]

    def _forget(self, issue: Issue) -> None:
        # A run is flagged once per type: the detector's state for it is dead weight now.
        if issue.type == "divergence":
            self.divergence.forget(issue.run)
        elif issue.type == "overfitting_suspect":
            self.overfitting.forget(issue.run)
