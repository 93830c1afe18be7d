"""The detector engine: routes store changes to each streaming detector.

API used by :class:`sweeptui.sweep.Sweep` (to be filled in by the detectors):

- ``on_metrics(run, batch)``: after the store appended a MetricBatch to ``run``.
- ``on_end(run)``: after the store applied a RunEnded (status already updated).
- ``on_tick(now)``: live time-based checks (stalls judged on ``run.last_ingest``).
- ``finalize(reference)``: post-hoc checks, stalls judged on ``run.last_update``
  against ``reference`` (the newest update in the sweep).

Each returns the new issues, already recorded in the store with ``store.add_issue``.
"""

from __future__ import annotations

from sweeptui.events import MetricBatch
from sweeptui.issues import Issue
from sweeptui.settings import Settings
from sweeptui.store import Run, RunStore


class DetectorEngine:
    """Owns every detector's per-run state."""

    def __init__(self, store: RunStore, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    def on_metrics(self, run: Run, batch: MetricBatch) -> list[Issue]:
        return []

    def on_end(self, run: Run) -> list[Issue]:
        return []

    def on_tick(self, now: float) -> list[Issue]:
        return []

    def finalize(self, reference: float | None) -> list[Issue]:
        return []
