"""``stalled`` and vanished runs (``killed``): a running run gone silent.

Each run's cadence is the median of its last :data:`HISTORY` update intervals
(from record timestamps, or from ingest times when records carry none). A running
run silent for longer than ``max(stall_floor_seconds, stall_factor x cadence)`` is
stalled; silent for ``vanish_factor`` times that while another run updated later,
it vanished mid-run and is treated as killed.

Live checks measure silence from ``run.last_ingest`` to the clock; post-hoc checks
from ``run.last_update`` to the newest update of the sweep.
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from sweeptui.detectors.base import SMALL_BATCH, duration, view, where
from sweeptui.events import MetricBatch
from sweeptui.issues import Issue
from sweeptui.settings import Settings
from sweeptui.store import Run

HISTORY = 32
"""Update intervals remembered per run (bounded memory, recent cadence)."""


@dataclass(slots=True)
class Cadence:
    """Recent update intervals of one run and the last time seen."""

    intervals: deque = field(default_factory=lambda: deque(maxlen=HISTORY))
    last_time: float | None = None
    last_ingest: float | None = None
    median: float | None = None
    """Cached median of ``intervals``; None when it must be recomputed or is unknown."""


@dataclass(frozen=True, slots=True)
class Silence:
    """How long a run has been quiet and what that means."""

    seconds: float
    threshold: float
    cadence: float | None
    vanished: bool


class StallDetector:
    """Learns each run's cadence from its batches and judges silences."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._cadence: dict[str, Cadence] = {}

    def on_metrics(self, run: Run, batch: MetricBatch) -> None:
        """Record the intervals between this batch's records (or since the previous ingest)."""
        cadence = self._cadence.get(run.id)
        if cadence is None:  # not setdefault: that builds a deque on every batch
            cadence = self._cadence[run.id] = Cadence()
        if len(batch.times):
            self._remember(cadence, _gaps(batch.times, cadence.last_time)[-HISTORY:])
            cadence.last_time = float(batch.times[-1])
        elif _later(run.last_ingest, cadence.last_ingest):
            self._remember(cadence, [run.last_ingest - cadence.last_ingest])
        cadence.last_ingest = run.last_ingest

    def threshold(self, run_id: str) -> tuple[float, float | None]:
        """(stall threshold in seconds, median interval or None when unknown)."""
        cadence = self._cadence.get(run_id)
        median = None
        if cadence is not None and cadence.intervals:
            if cadence.median is None:
                # at most HISTORY floats: plain Python beats a numpy call here
                cadence.median = float(statistics.median(cadence.intervals))
            median = cadence.median
        factor_limit = self.settings.stall_factor * median if median is not None else 0.0
        return max(self.settings.stall_floor_seconds, factor_limit), median

    def judge(
        self, run: Run, last_seen: float | None, now: float, newest_other: float | None
    ) -> Silence | None:
        """How ``run`` stands at ``now`` given when it was last seen; None when not stalled."""
        if run.status != "running" or last_seen is None:
            return None
        silent = now - last_seen
        threshold, median = self.threshold(run.id)
        if silent <= threshold:
            return None
        moved_on = newest_other is not None and newest_other > last_seen
        vanished = moved_on and silent > self.settings.vanish_factor * threshold
        return Silence(silent, threshold, median, vanished)

    def forget(self, run_id: str) -> None:
        """Drop an ended run's cadence."""
        self._cadence.pop(run_id, None)

    @staticmethod
    def _remember(cadence: Cadence, gaps) -> None:
        for gap in gaps:
            if gap >= 0:  # out-of-order timestamps say nothing about cadence
                cadence.intervals.append(float(gap))
        cadence.median = None


def _gaps(times, last_time: float | None):
    """Intervals between consecutive record times, the first one from ``last_time``."""
    if len(times) > SMALL_BATCH:
        stamps = view(times)
        return np.diff(stamps, prepend=last_time) if last_time is not None else np.diff(stamps)
    stamps = times.tolist() if last_time is None else [last_time, *times]
    return [later - earlier for earlier, later in pairwise(stamps)]


def _later(current: float | None, previous: float | None) -> bool:
    return current is not None and previous is not None and current > previous


def stalled_issue(run: Run, silence: Silence, now: float) -> Issue:
    """The ``stalled`` issue for a silence."""
    rule = f"threshold {duration(silence.threshold)}"
    if silence.cadence is not None:
        rule += f"; median update interval {duration(silence.cadence)}"
    step, epoch = run.last_step, run.last_epoch
    return Issue(
        "stalled",
        run.id,
        f"no update for {duration(silence.seconds)} ({rule}); last at {where(step, epoch)}",
        step=step,
        epoch=epoch,
        time=now,
    )


def vanished_issue(run: Run, silence: Silence, now: float) -> Issue:
    """The ``killed`` issue for a run that vanished mid-run."""
    step, epoch = run.last_step, run.last_epoch
    return Issue(
        "killed",
        run.id,
        f"vanished mid-run without an end marker: silent for {duration(silence.seconds)} "
        f"after {where(step, epoch)} while other runs kept updating",
        step=step,
        epoch=epoch,
        time=now,
    )
