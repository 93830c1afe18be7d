"""The detector engine: routes store changes to each streaming detector.

API used by :class:`sweeptui.sweep.Sweep`:

- ``on_metrics(run, batch)``: after the store appended a MetricBatch to ``run``.
- ``on_end(run)``: after the store applied a RunEnded (status already updated).
- ``on_reset(run)`` / ``rejudge()``: a file of the run was replaced or truncated and
  the store dropped its points (and any end it claimed); once the read is applied the
  run is judged again on what it holds, and the issues that no longer stand are withdrawn.
- ``on_tick(now)`` / ``finalize(now)``: time-based checks, the same in both views:
  :class:`sweeptui.lifecycle.Lifecycle` judges each run without an end marker at
  ``now``; a stall, a vanished run or a quiet completion becomes (or withdraws) an issue.

Each returns the new issues, already recorded in the store with ``store.add_issue``.
Detectors see only the new points of a batch and keep small per-run state, so the
cost of a batch is proportional to its size, never to a run's history (a reset,
rare, costs the run's history once).
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
from sweeptui.store import Run, RunStore, points_batch

POINT_ISSUES = ("nan_or_inf_metric", "divergence", "overfitting_suspect")
"""Issues judged from a run's metric points alone."""
REJUDGED = (*POINT_ISSUES, "crashed", "oom", "killed", "short_run")
"""What a reset judges again: the point issues, and those of the run's end (which name
where the run was, and whose claim the reset file may have made)."""


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
        self._reset: set[str] = set()
        """Runs a file reset touched during the read being applied: judged again after it."""

    # -- events ------------------------------------------------------------------
    def on_metrics(self, run: Run, batch: MetricBatch) -> list[Issue]:
        """Judge the batch's new points; returns the issues it raised."""
        if run.id in self._reset:
            return []  # judged whole, with the points from before, by rejudge()
        return self.judged(run, self._judge(run, batch, everything=False))

    def judged(self, run: Run, found: list[Issue | None]) -> list[Issue]:
        """Record what the point detectors found in a batch of ``run``; the new issues.

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

    def on_reset(self, run: Run) -> None:
        """A file of ``run`` was replaced or truncated and the store dropped its points.

        What the detectors learnt from those points is forgotten; the run is judged
        again by :meth:`rejudge` once the read that brings the file's content now is
        applied (judging before would see the run without that file's points).
        """
        self._reset.add(run.id)
        self._forget_run(run.id)

    def rejudge(self) -> list[Issue]:
        """Judge each reset run again on every point it holds now; returns the new issues.

        An issue the run still shows is kept as it was (no second alert); one it no
        longer shows is withdrawn; one it shows differently is replaced.
        """
        found: list[Issue] = []
        for run_id in sorted(self._reset):
            run = self.store.runs.get(run_id)
            if run is not None:
                found.extend(self._rejudge_run(run))
        self._reset.clear()
        return found

    def _rejudge_run(self, run: Run) -> list[Issue]:
        self._forget_run(run.id)
        self.lifecycle.reconsider(run)
        self.short_runs.invalidate(run.id)
        if run.ended:
            self.crash_loop.record_end(run)
        else:  # its end was withdrawn
            self.crash_loop.forget(run.id)
        found = self._judge(run, points_batch(run), everything=True)
        stamp = run.ended_at if run.ended_at is not None else run.last_update
        found += [failure_issue(run), self.short_runs.check(run, stamp, again=True)]
        judged = {issue.type: issue for issue in found if issue is not None}
        held = {issue.type: issue for issue in self.store.issues
                if issue.run == run.id and issue.type in REJUDGED}  # fmt: skip
        if "killed" in held and run.failure is None and run.verdict.vanished:
            del held["killed"]  # killed by its silence: the lifecycle's to keep or withdraw
        stale = [kind for kind, issue in held.items() if not _same_finding(issue, judged.get(kind))]
        self.store.retract_issues(run.id, stale)
        for issue in judged.values():
            self._forget(issue)
        return self._record(list(judged.values()))

    def on_end(self, run: Run) -> list[Issue]:
        """A run ended: its failure, a short finish, maybe a crash loop."""
        if not run.ended:
            return []
        self.lifecycle.forget(run.id)
        if run.status == "finished":
            self.store.retract_issues(run.id, SILENCE_ISSUES)
        if run.end_claim is not None:  # its files said so: released now, not at the read's end
            self._release(run)
        self.short_runs.invalidate(run.id)
        self.crash_loop.record_end(run)
        stamp = run.ended_at if run.ended_at is not None else run.last_update
        return self._record(
            [failure_issue(run), self.short_runs.check(run, stamp), self.crash_loop.check()]
        )

    def release_ended(self, *, settled: bool = False) -> None:
        """Drop the point detectors' state of runs whose files said they ended (with
        ``settled``, of every run that ended: nothing more will be read).

        A line trailing an end (a final test line) is then judged on its own; a sweep of
        thousands of ended runs holds no detector state for them (a kilobyte a run).
        """
        runs = self.store.runs
        for run_id in list(self._epochs):  # a withdrawn run was forgotten when it left
            run = runs.get(run_id)
            if run is not None and run.ended and (settled or run.end_claim is not None):
                self._release(run)

    def _release(self, run: Run) -> None:
        """Let go of what judging an ended run's points and silence needed."""
        self._forget_points(run.id)
        if run.intervals:
            # its cadence judges nothing now; a log reset that takes the end back clears them anyway
            del run.intervals[:]

    def forget_run(self, run_id: str) -> None:
        """Drop everything kept about a run that left the store."""
        self._reset.discard(run_id)
        self._forget_run(run_id)
        self.crash_loop.forget(run_id)

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
    def _judge(self, run: Run, batch: MetricBatch, everything: bool) -> list[Issue | None]:
        """What the point detectors find in ``batch``: those of the issue types ``run`` does
        not carry yet, or (``everything``) all of them."""
        found: list[Issue | None] = []
        carried = self._epochs.get(run.id)
        if carried is None:  # not setdefault: that builds a tracker on every batch
            carried = self._epochs[run.id] = EpochTracker()
        epochs = EpochLookup(batch, carried)
        seen_at = batch_time(run, batch)
        has_issue = self.store.has_issue
        if everything or not has_issue(run.id, "nan_or_inf_metric"):
            found.append(find_nonfinite(run, batch, epochs, seen_at))
        if everything or not has_issue(run.id, "divergence"):
            found.append(self.divergence.on_metrics(run, batch, epochs, seen_at))
        if everything or not has_issue(run.id, "overfitting_suspect"):
            found.append(self.overfitting.on_metrics(run, batch, epochs, seen_at))
        epochs.advance()
        return found

    def _forget_points(self, run_id: str) -> None:
        """Drop the point detectors' state of a run."""
        self.divergence.forget(run_id)
        self.overfitting.forget(run_id)
        self._epochs.pop(run_id, None)

    def _forget_run(self, run_id: str) -> None:
        """Drop what the detectors learnt from a run (judged again from its first point)."""
        self._forget_points(run_id)
        self.lifecycle.forget(run_id)
        self.short_runs.invalidate(run_id)

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
        if verdict.vanished:
            # the killed issue says how long the run was silent: a stall beside it is noise
            self.store.retract_issues(run.id, ("stalled",))
            found.append(vanished_issue(run, verdict, now))
        elif verdict.stalled and not self.store.has_issue(run.id, "stalled"):
            found.append(stalled_issue(run, verdict, now))
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


def _same_finding(held: Issue, judged: Issue | None) -> bool:
    """Whether a judgement found again what an issue already says (its time aside)."""
    return judged is not None and (held.step, held.epoch, held.metric, held.message) == (
        judged.step, judged.epoch, judged.metric, judged.message
    )
