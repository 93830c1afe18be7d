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
import functools
import math
import statistics
from collections.abc import Callable

from sweeptui.detectors.base import number
from sweeptui.detectors.short_run import ShortRunDetector
from sweeptui.issues import SWEEP_RUN_ID, Issue
from sweeptui.numbers import noun
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
        self._entries: dict[str, tuple[float, int, str]] = {}
        self._dirty = False
        self.held = False
        """While True, :meth:`check` waits: a read of many runs is judged once it is
        all in, not in the order its files happened to be read."""

    def record_end(self, run: Run) -> None:
        """Note that ``run`` ended; a later end that brings a time moves it to its place.

        A run that died before its first metric may first be seen through error text
        with no time, then through an end marker that has one: without the move it
        would stay sorted as the oldest end. A run with no time of its own (no end
        time, no record) is placed by its start before the moment it was read: a
        copied sweep's early deaths must not sort as its newest.
        """
        stamp = next(
            (t for t in (run.ended_at, run.last_update, run.first_update, run.last_ingest)
             if t is not None),
            -math.inf,
        )
        previous = self._entries.get(run.id)
        if previous is not None:
            if previous[0] == stamp:
                self._dirty = True
                return
            del self._ended[bisect.bisect_left(self._ended, previous)]
        entry = (stamp, previous[1] if previous else len(self._entries), run.id)
        self._entries[run.id] = entry
        bisect.insort(self._ended, entry)
        self._dirty = True

    def forget(self, run_id: str) -> None:
        """Leave ``run_id`` out: it left the store, or its end was withdrawn."""
        entry = self._entries.pop(run_id, None)
        if entry is not None:
            del self._ended[bisect.bisect_left(self._ended, entry)]
            self._dirty = True

    def check(self) -> Issue | None:
        """The crash-loop issue when the newest full window qualifies, else None."""
        if self.held or not self._dirty or self.store.has_issue(SWEEP_RUN_ID, ISSUE_TYPE):
            return None
        self._dirty = False
        size = max(1, self.settings.crash_loop_window)
        if len(self._ended) < size:
            return None
        window = [self.store.runs[run_id] for _, _, run_id in self._ended[-size:]]
        medians = functools.cache(self._sweep_medians)  # computed once, and only if needed
        early = [run for run in window if self.died_early(run, medians)]
        if len(early) < self.settings.crash_loop_fraction * size:
            return None
        return Issue(
            ISSUE_TYPE,
            SWEEP_RUN_ID,
            f"{len(early)} of the last {size} runs died early ({_typical(early, self.lengths)})",
            time=self._ended[-1][0] if math.isfinite(self._ended[-1][0]) else None,
        )

    def _sweep_medians(self) -> dict[str, tuple[float, int]]:
        finished = [run for run in self.store if run.status == "finished"]
        return self.lengths.medians(finished)

    def died_early(self, run: Run, medians: Callable[[], dict[str, tuple[float, int]]]) -> bool:
        """Whether ``run`` died before getting a meaningful share of its length.

        ``medians`` gives the finished runs' median lengths; it walks every run, so
        it is called only for a death its config cannot judge.
        """
        if run.status not in DEATHS:
            return False
        if run.records == 0:
            return True
        fraction = run.fraction_done()
        if fraction is not None:
            return fraction < self.settings.early_death_fraction
        length, unit = self.lengths.length(run)
        median, count = medians().get(unit, (0.0, 0))
        if count and median > 0:
            return length < self.settings.early_death_fraction * median
        return run.records <= self.settings.early_death_records


def _typical(runs: list[Run], lengths: ShortRunDetector) -> str:
    """``"median 2 epochs"``: how far the early deaths typically got."""
    measured = [lengths.length(run) for run in runs]
    units = [unit for _, unit in measured]
    unit = max(set(units), key=units.count)
    values = [value for value, other in measured if other == unit]
    median = statistics.median(values)
    return f"median {number(median)} {noun(median, unit)}"
