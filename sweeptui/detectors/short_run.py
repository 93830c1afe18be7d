"""``short_run``: a run that finished cleanly but far short of its intended length.

The intended length comes from the run's config (``epochs``, ``max_steps``...);
without one, from the median length of the sweep's finished runs once
``short_run_min_reference`` of them exist. Runs that died are never short runs:
their own failure issue explains why they stopped.
"""

from __future__ import annotations

import statistics

from sweeptui.detectors.base import number, run_length, where
from sweeptui.issues import Issue
from sweeptui.numbers import noun
from sweeptui.settings import Settings
from sweeptui.store import Run, RunStore

ISSUE_TYPE = "short_run"


class ShortRunDetector:
    """Caches the length of every finished run so re-checks stay cheap."""

    def __init__(self, store: RunStore, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._lengths: dict[str, tuple[float, str]] = {}
        self._finished_seen = 0

    def length(self, run: Run) -> tuple[float, str]:
        """(length, unit) of an ended run, computed once and cached."""
        known = self._lengths.get(run.id)
        if known is None:
            known = self._lengths[run.id] = run_length(run)
        return known

    def invalidate(self, run_id: str) -> None:
        """Forget a cached length (the run received more points after its end)."""
        self._lengths.pop(run_id, None)

    def check(self, run: Run, time: float | None, again: bool = False) -> Issue | None:
        """The issue when ``run`` finished short, else None; ``again`` judges a run already
        flagged as well (its evidence changed)."""
        return self._check(run, time, None, again)

    def check_all(self, time: float | None) -> list[Issue]:
        """Re-check finished runs not yet flagged, when the set of finished runs changed.

        A run that finished before enough peers existed gets judged once they do.
        """
        finished = [run for run in self.store if run.status == "finished"]
        if len(finished) == self._finished_seen:
            return []
        self._finished_seen = len(finished)
        medians = self.medians(finished)
        found = []
        for run in finished:
            issue = self._check(run, time, medians)
            if issue is not None:
                found.append(issue)
        return found

    def _check(
        self,
        run: Run,
        time: float | None,
        medians: dict[str, tuple[float, int]] | None,
        again: bool = False,
    ) -> Issue | None:
        if run.status != "finished" or run.failure is not None:
            return None
        if run.stopped_early:  # pruned or stopped by a scheduler: short on purpose
            return None
        if not again and self.store.has_issue(run.id, ISSUE_TYPE):
            return None
        message = self._from_config(run)
        if message is None:
            if medians is None:
                medians = self.medians([r for r in self.store if r.status == "finished"])
            message = self._from_sweep(run, medians)
        if not message:
            return None
        step, epoch = run.last_step, run.last_epoch
        return Issue(
            ISSUE_TYPE,
            run.id,
            f"{message}; last at {where(step, epoch)}",
            step=step,
            epoch=epoch,
            time=time,
        )

    def _from_config(self, run: Run) -> str | None:
        """A message when short by its config, "" when not short, None when it has no length.

        A config length its log cannot measure (epochs planned, only iterations logged)
        is "" too: the sweep's median in another unit must not stand in for it.
        """
        if run.expected is None:
            return None
        done, expected = run.progress()
        if done is None and run.records:
            return ""
        if done is None or expected is None or expected.count <= 0:
            return None
        fraction = done / expected.count
        if fraction >= self.settings.short_run_fraction:
            return ""  # judged by its own config: the sweep median must not overrule it
        return (
            f"finished after {number(done)} of {number(expected.count)} "
            f"{noun(expected.count, expected.unit + 's')} "
            f"({fraction:.0%}; {expected.key}={number(expected.count)} in its config)"
        )

    def medians(self, finished: list[Run]) -> dict[str, tuple[float, int]]:
        """Median length of the finished runs per unit, with how many runs it stands on."""
        by_unit: dict[str, list[float]] = {}
        for run in finished:
            length, unit = self.length(run)
            by_unit.setdefault(unit, []).append(length)
        return {unit: (statistics.median(values), len(values)) for unit, values in by_unit.items()}

    def _from_sweep(self, run: Run, medians: dict[str, tuple[float, int]]) -> str | None:
        length, unit = self.length(run)
        median, count = medians.get(unit, (0.0, 0))
        if count < max(1, self.settings.short_run_min_reference) or median <= 0:
            return None
        if length >= self.settings.short_run_fraction * median:
            return None
        return (
            f"finished after {number(length)} {noun(length, unit)}, {length / median:.0%} of the median "
            f"{number(median)} of {count} finished {noun(count, 'runs')}"
        )
