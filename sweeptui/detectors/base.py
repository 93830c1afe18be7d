"""Helpers every detector shares: array views of a batch, epoch lookup, formatting
(re-exported from :mod:`sweeptui.numbers`), and the size below which detectors judge
a batch with plain Python floats.

Nothing here keeps a reference to a batch's arrays past the call that received it:
a numpy view pins an ``array('d')`` and would stop it from growing.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from sweeptui.events import MetricBatch
from sweeptui.lifecycle import run_length
from sweeptui.numbers import duration, number, where
from sweeptui.store import Run, in_step_order

SMALL_BATCH = 8
"""Points of a metric up to which detectors use their scalar path.

A live sweep delivers one or two points per run per batch; there numpy's per-call
overhead costs far more than the arithmetic. Each detector's scalar path applies the
same rules, in the same floating-point order, as its vectorised path, so verdicts
and carried state do not depend on which one ran.
"""


def view(column: array) -> np.ndarray:
    """A zero-copy float64 view of ``column``; use it within the call, never store it."""
    return np.frombuffer(column, dtype=np.float64)


@dataclass(slots=True)
class EpochTracker:
    """The newest (step, epoch) pair of one run, carried from batch to batch."""

    step: float | None = None
    epoch: float | None = None


class EpochLookup:
    """Answers 'which epoch was step S' for the points of one batch.

    Uses the batch's own step -> epoch column, then the pair carried from earlier
    batches; never scans the run's whole history.
    """

    def __init__(self, batch: MetricBatch, carried: EpochTracker) -> None:
        self._carried = carried
        self._steps: np.ndarray | list[float] | None = None
        self._epochs: np.ndarray | list[float] | None = None
        if batch.epochs is None or not len(batch.epochs.values):
            return
        # Copies, sorted: logs are usually in step order but nothing guarantees it.
        if len(batch.epochs.steps) <= SMALL_BATCH and self._take_small(batch.epochs):
            return
        steps = np.array(batch.epochs.steps, dtype=np.float64)
        epochs = np.array(batch.epochs.values, dtype=np.float64)
        self._steps, self._epochs = in_step_order(steps, epochs)

    def _take_small(self, pairs) -> bool:
        """Keep a few records as sorted lists; False (use numpy) when a step is NaN,
        which numpy sorts last and Python's comparisons cannot order."""
        steps, epochs = pairs.steps.tolist(), pairs.values.tolist()
        if any(step != step for step in steps):
            return False
        if any(later < earlier for earlier, later in pairwise(steps)):
            order = sorted(range(len(steps)), key=steps.__getitem__)  # stable, like numpy's
            steps, epochs = [steps[i] for i in order], [epochs[i] for i in order]
        self._steps, self._epochs = steps, epochs
        return True

    def epoch_at(self, step: float | None) -> float | None:
        """The epoch of the newest epoch record at or before ``step`` (None if unknown)."""
        if step is None:
            return self._carried.epoch
        if self._steps is not None:
            if isinstance(self._steps, list):
                index = bisect_right(self._steps, step) - 1
            else:
                index = int(np.searchsorted(self._steps, step, side="right")) - 1
            if index >= 0:
                return float(self._epochs[index])
        return self._carried.epoch

    def advance(self) -> None:
        """Carry this batch's newest (step, epoch) into the run's tracker."""
        if self._steps is not None:
            self._carried.step = float(self._steps[-1])
            self._carried.epoch = float(self._epochs[-1])


def batch_time(run: Run, batch: MetricBatch) -> float | None:
    """When the batch's evidence was seen: its newest record time, file time or ingest time."""
    if len(batch.times):
        return batch.times[-1]
    if batch.mtime is not None:
        return batch.mtime
    return run.last_ingest


def streak_lengths(flags: np.ndarray, carried: int) -> np.ndarray:
    """Length of the run of consecutive ``True`` ending at each position.

    ``carried`` is the length of the run that ended the previous batch, so a streak
    spanning batches is counted whole (batch-size independence).
    """
    if not np.count_nonzero(flags):  # the usual answer on a healthy run: no arrays to build
        return np.zeros(flags.size, dtype=np.int_)
    positions = np.arange(1, flags.size + 1)
    last_break = np.maximum.accumulate(np.where(flags, 0, positions))
    lengths = positions - last_break
    lengths[last_break == 0] += carried
    return lengths


def streak_ends(flags: np.ndarray, carried: int) -> tuple[int, int]:
    """``(longest, last)``: the largest and the last of :func:`streak_lengths` (``flags``
    not empty), found from the positions of the ``False`` alone."""
    breaks = (~flags).nonzero()[0]
    if not breaks.size:
        return carried + flags.size, carried + flags.size
    first = int(breaks[0])
    longest = first + carried if first else 0
    if breaks.size > 1:
        longest = max(longest, int(np.maximum.reduce(breaks[1:] - breaks[:-1])) - 1)
    last = flags.size - 1 - int(breaks[-1])
    return max(longest, last), last


__all__ = [
    "SMALL_BATCH", "EpochLookup", "EpochTracker", "batch_time", "duration", "number",
    "run_length", "streak_ends", "streak_lengths", "view", "where",
]  # fmt: skip
