"""The detector engine: routes store changes to each streaming detector.

API used by :class:`sweeptui.sweep.Sweep`:

- ``on_metrics(run, batch)``: after the store appended a MetricBatch to ``run``.
- ``on_end(run)``: after the store applied a RunEnded (status already updated).
- ``on_tick(now)``: live time-based checks (stalls judged on ``run.last_ingest``).
- ``finalize(reference)``: post-hoc checks, stalls judged on ``run.last_update``
  against ``reference`` (the newest update in the sweep).

Each returns the new issues, already recorded in the store with ``store.add_issue``.
Detectors see only the new points of a batch and keep small per-run state, so the
cost of a batch is proportional to its size, never to a run's history.
"""

from __future__ import annotations

from sweeptui.detectors.base import EpochLookup, EpochTracker, batch_time
from sweeptui.detectors.crash_loop import CrashLoopDetector
from sweeptui.detectors.divergence import DivergenceDetector
from sweeptui.detectors.failure import failure_issue
from sweeptui.detectors.nonfinite import find_nonfinite
from sweeptui.detectors.overfitting import OverfitDetector
from sweeptui.detectors.short_run import ShortRunDetector
from sweeptui.detectors.stall import StallDetector, stalled_issue, vanished_issue
from sweeptui.events import MetricBatch
from sweeptui.issues import Issue
from sweeptui.settings import Settings
from sweeptui.store import Run, RunStore


class DetectorEngine:
    """Owns every detector's per-run state."""

    def __init__(self, store: RunStore, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.divergence = DivergenceDetector(settings)
        self.overfitting = OverfitDetector(settings)
        self.stalls = StallDetector(settings)
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
        self.stalls.on_metrics(run, batch)
        if run.ended:
            # Trailing lines after the end marker: cached lengths are stale.
            self.short_runs.invalidate(run.id)
        new = self._record(found)
        for issue in new:
            self._forget(issue)
        return new

    def on_end(self, run: Run) -> list[Issue]:
        """A run ended: its failure, a short finish, maybe a crash loop."""
        if not run.ended:
            return []
        self.stalls.forget(run.id)
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
        """Live checks: silences measured from each run's last ingest to ``now``."""
        return self._time_checks(now, lambda run: run.last_ingest)

    def finalize(self, reference: float | None) -> list[Issue]:
        """Post-hoc checks: silences measured from each run's last update to ``reference``."""
        if reference is None:
            return self._record([*self.short_runs.check_all(None), self.crash_loop.check()])
        return self._time_checks(reference, lambda run: run.last_update)

    # -- internals ------------------------------------------------------------------
    def _time_checks(self, now: float, last_seen) -> list[Issue]:
        found: list[Issue | None] = []
        running = [run for run in self.store if run.status == "running"]
        newest = _two_newest([last_seen(run) for run in running] + self._ended_times(last_seen))
        for run in running:
            seen = last_seen(run)
            newest_other = newest[1] if seen is not None and seen == newest[0] else newest[0]
            silence = self.stalls.judge(run, seen, now, newest_other)
            if silence is None:
                continue
            if not self.store.has_issue(run.id, "stalled"):
                found.append(stalled_issue(run, silence, now))
            if silence.vanished:
                found.append(vanished_issue(run, silence, now))
                self.store.set_status(run.id, "killed" if run.records else "failed")
                self.stalls.forget(run.id)
                self.crash_loop.record_end(run)
        found.extend(self.short_runs.check_all(now))
        found.append(self.crash_loop.check())
        return self._record(found)

    def _ended_times(self, last_seen) -> list[float | None]:
        # Only the newest ended update matters for 'the sweep moved on'.
        stamps = [last_seen(run) for run in self.store if run.ended]
        stamps = [stamp for stamp in stamps if stamp is not None]
        return [max(stamps)] if stamps else []

    def _record(self, candidates: list[Issue | None]) -> list[Issue]:
        return [i for i in candidates if i is not None and self.store.add_issue(i)]

    def _forget(self, issue: Issue) -> None:
        # A run is flagged once per type: the detector's state for it is dead weight now.
        if issue.type == "divergence":
            self.divergence.forget(issue.run)
        elif issue.type == "overfitting_suspect":
            self.overfitting.forget(issue.run)


def _two_newest(stamps: list[float | None]) -> tuple[float | None, float | None]:
    """The newest and second-newest of ``stamps`` (ties count twice), ignoring None."""
    known = sorted((s for s in stamps if s is not None), reverse=True)
    first = known[0] if known else None
    second = known[1] if len(known) > 1 else None
    return first, second
