"""``crash_loop``: most of the latest runs died early (a sweep-level issue).

Ended runs are kept ordered by when they ended. Once ``crash_loop_window`` of them
exist, the newest window is judged: when at least ``crash_loop_fraction`` of it
died early the sweep is in a crash loop. A run died early when it did not finish
(crashed, OOM, killed, failed) and got less than ``early_death_fraction`` of its
expected length: from its config, else of the median finished run, else at most
``early_death_records`` records.
"""

from __future__ import annotations

import bisect
import math
import statistics

from sweeptui.detectors.base import number
from sweeptui.detectors.short_run import ShortRunDetector
from sweeptui.issues import SWEEP_RUN_ID, Issue
from sweeptui.settings import Settings
from sweeptui.store import Run, RunStore

ISSUE_TYPE = "crash_loop"
DEATHS = frozenset({"crashed", "killed", "failed"})


class CrashLoopDetector:
    """Ended runs in end order; the newest window judged whenever one more ends."""

    def __init__(self, store: RunStore, settings: Settings, lengths: ShortRunDetector) -> None:
        self.store = store
        self.settings = settings
        self.lengths = lengths
        self._ended: list[tuple[float, int, str]] = []
        self._known: set[str] = set()
        self._dirty = False

    def record_end(self, run: Run) -> None:
        """Note that ``run`` ended (once; a later status change keeps its place)."""
        if run.id in self._known:
            self._dirty = True
            return
        self._known.add(run.id)
        stamp = next(
            (t for t in (run.ended_at, run.last_update, run.last_ingest) if t is not None),
            -math.inf,
        )
        bisect.insort(self._ended, (stamp, len(self._known), run.id))
        self._dirty = True

    def check(self) -> Issue | None:
        """The crash-loop issue when the newest full window qualifies, else None."""
        if not self._dirty or self.store.has_issue(SWEEP_RUN_ID, ISSUE_TYPE):
            return None
        self._dirty = False
        size = max(1, self.settings.crash_loop_window)
        if len(self._ended) < size:
            return None
        window = [self.store.runs[run_id] for _, _, run_id in self._ended[-size:]]
        finished = [run for run in self.store if run.status == "finished"]
        medians = self.lengths.medians(finished)
        early = [run for run in window if self.died_early(run, medians)]
        if len(early) < self.settings.crash_loop_fraction * size:
            return None
        return Issue(
            ISSUE_TYPE,
            SWEEP_RUN_ID,
            f"{len(early)} of the last {size} runs died early ({_typical(early, self.lengths)})",
            time=self._ended[-1][0] if math.isfinite(self._ended[-1][0]) else None,
        )

    def died_early(self, run: Run, medians: dict[str, tuple[float, int]]) -> bool:
        """Whether ``run`` died before getting a meaningful share of its length."""
        if run.status not in DEATHS:
            return False
        if run.records == 0:
            return True
        fraction = run.fraction_done()
        if fraction is not None:
            return fraction < self.settings.early_death_fraction
        length, unit = self.lengths.length(run)
        median, count = medians.get(unit, (0.0, 0))
        if count and median > 0:
            return length < self.settings.early_death_fraction * median
        return run.records <= self.settings.early_death_records


def _typical(runs: list[Run], lengths: ShortRunDetector) -> str:
    """``"median 2 epochs"``: how far the early deaths typically got."""
    measured = [lengths.length(run) for run in runs]
    units = [unit for _, unit in measured]
    unit = max(set(units), key=units.count)
    values = [value for value, other in measured if other == unit]
    return f"median {number(statistics.median(values))} {unit}"
