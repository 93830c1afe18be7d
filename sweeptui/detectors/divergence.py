"""``divergence``: a loss-like metric exploding.

Two rules, both judged on finite values only (NaN/inf belong to
``nan_or_inf_metric``), each point judged once at O(1) amortised cost:

- *factor*: ``divergence_confirm_points`` consecutive values above
  ``divergence_factor`` x the running minimum of the points before them, once the
  minimum is positive and built from at least ``divergence_min_points`` points.
  The onset is the first value of that streak.
- *geometric rise*: at least ``divergence_rise_points`` consecutive increases whose
  total growth (value / value before the first increase) reaches
  ``divergence_rise_growth`` at the last two points both, so one spike ending a run
  of small noisy rises does not count. The onset is the point where this first holds.

A perplexity is the exponential of a loss, so it is judged on its logarithm;
messages still quote the perplexity itself.

Batches of up to :data:`~sweeptui.detectors.base.SMALL_BATCH` points (the live case)
are judged point by point with Python floats, larger ones with numpy; both apply the
same comparisons to the same values and carry the same state. The numpy path skips the
factor rule's scan when no point can reach ``divergence_factor`` x the lowest minimum
before it, and the rise bases when no rise is long enough to judge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sweeptui.detectors.base import (
    SMALL_BATCH,
    EpochLookup,
    number,
    streak_ends,
    streak_lengths,
    view,
    where,
)
from sweeptui.detectors.metrics import is_loss_like, is_perplexity
from sweeptui.events import MetricBatch
from sweeptui.issues import Issue
from sweeptui.settings import Settings
from sweeptui.store import Run

ISSUE_TYPE = "divergence"


@dataclass(slots=True)
class LossState:
    """What one loss of one run carries between batches."""

    count: int = 0
    """Finite points seen so far."""
    minimum: float = math.inf
    last: float = math.nan
    rises: int = 0
    """Consecutive increases ending at ``last``."""
    rise_base: float = math.nan
    """The value just before the first of those increases."""
    above: int = 0
    """Consecutive points above the factor threshold ending at ``last``."""
    above_step: float = math.nan
    above_value: float = math.nan
    above_minimum: float = math.nan
    above_epoch: float | None = None
    """First point of that streak, its epoch and the minimum it was compared with
    (NaN and None without one). The epoch is looked up in the batch that held the
    point: a later batch no longer knows it."""


@dataclass(slots=True)
class _Hit:
    step: float
    epoch: float | None
    message: str


class DivergenceDetector:
    """Per-(run, loss) running minimum and streak counters."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._states: dict[str, dict[str, LossState]] = {}
        """Per run, per loss: a run is forgotten in one step, whatever the sweep's size."""
        self._loss_names: dict[str, bool] = {}
        self._log_names: dict[str, bool] = {}

    def on_metrics(
        self, run: Run, batch: MetricBatch, epochs: EpochLookup, seen_at: float | None
    ) -> Issue | None:
        """The first divergence in this batch over all loss-like metrics, if any."""
        found: tuple[str, _Hit] | None = None
        for name, series in batch.metrics.items():
            if not self._is_loss(name) or not len(series.values):
                continue
            losses = self._states.get(run.id)
            if losses is None:  # not setdefault: that builds a dict on every batch
                losses = self._states[run.id] = {}
            state = losses.get(name)
            if state is None:
                state = losses[name] = LossState()
            if len(series.values) <= SMALL_BATCH:
                hit = self._consume_small(name, state, series.steps, series.values, epochs)
            else:
                steps, values = view(series.steps), view(series.values)
                hit = self._consume(name, state, steps, values, epochs)
            if hit is not None and (found is None or hit.step < found[1].step):
                found = (name, hit)
        if found is None:
            return None
        name, hit = found
        epoch = hit.epoch
        return Issue(
            ISSUE_TYPE,
            run.id,
            f"{hit.message} at {where(hit.step, epoch)}",
            step=hit.step,
            epoch=epoch,
            metric=name,
            time=seen_at,
        )

    def forget(self, run_id: str) -> None:
        """Drop a run's state once it has been flagged (nothing more to learn)."""
        self._states.pop(run_id, None)

    def state_of(self, run_id: str) -> dict[str, LossState]:
        """What the run carries, per loss (to continue it in another process)."""
        return dict(self._states.get(run_id, {}))

    def adopt(self, run_id: str, states: dict[str, LossState]) -> None:
        """Continue the run from ``states`` (see :meth:`state_of`)."""
        if states:
            self._states.setdefault(run_id, {}).update(states)

    def _is_loss(self, name: str) -> bool:
        known = self._loss_names.get(name)
        if known is None:
            known = self._loss_names[name] = is_loss_like(name)
        return known

    def _is_log_scale(self, name: str) -> bool:
        known = self._log_names.get(name)
        if known is None:
            known = self._log_names[name] = is_perplexity(name)
        return known

    def _consume_small(
        self, name: str, state: LossState, steps, values, epochs: EpochLookup
    ) -> _Hit | None:
        """The scalar twin of :meth:`_consume`, for a few points (``array('d')`` columns)."""
        kept = [(step, value) for step, value in zip(steps, values, strict=True) if math.isfinite(value)]
        log_scale = self._is_log_scale(name)
        if log_scale and kept:
            # numpy's log, not math.log: the two may differ in the last bit.
            with np.errstate(divide="ignore", invalid="ignore"):
                logs = np.log(np.array([value for _, value in kept])).tolist()
            kept = [(step, v) for (step, _), v in zip(kept, logs, strict=True) if math.isfinite(v)]
        hit = None
        for step, value in kept:
            found = self._judge_point(name, state, step, value, log_scale, epochs)
            if hit is None:
                hit = found
        return hit

    def _judge_point(
        self,
        name: str,
        state: LossState,
        step: float,
        value: float,
        log_scale: bool,
        epochs: EpochLookup,
    ) -> _Hit | None:
        """Fold one finite point into ``state``; the hit when a rule holds at it."""
        s = self.settings
        prior_min = state.minimum
        if (
            state.count >= s.divergence_min_points
            and prior_min > 0
            and value > s.divergence_factor * prior_min
        ):
            if state.above == 0:
                state.above_step, state.above_value, state.above_minimum = step, value, prior_min
                state.above_epoch = epochs.epoch_at(step)
            state.above += 1
        else:
            _end_above(state)
        previous = state.last
        if value > previous:  # a NaN 'last' never rises
            if state.rises == 0:
                state.rise_base = previous
            state.rises += 1
        else:
            state.rises, state.rise_base = 0, value
        state.count += 1
        state.minimum = min(state.minimum, value)
        state.last = value
        if state.above >= max(1, s.divergence_confirm_points):
            start = (state.above_step, state.above_epoch)
            return self._factor_hit(
                name, start, state.above_value, state.above_minimum, log_scale
            )
        base = state.rise_base
        # While rising, the lower of the last two values is the previous one.
        if (
            state.rises >= max(2, s.divergence_rise_points)
            and base > 0
            and previous >= s.divergence_rise_growth * base
        ):
            where_at = (step, epochs.epoch_at(step))
            return self._rise_hit(name, where_at, value, base, state.rises, log_scale)
        return None

    @staticmethod
    def _factor_hit(name: str, onset: tuple, value, minimum, log_scale: bool) -> _Hit:
        """The factor rule's hit; ``onset`` is the streak's first (step, epoch)."""
        shown = np.exp if log_scale else float
        ratio = math.exp(value - minimum) if log_scale else value / minimum
        message = (
            f"{name} reached {number(float(shown(value)))}, {ratio:.1f}x its running "
            f"minimum {number(float(shown(minimum)))},"
        )
        return _Hit(float(onset[0]), onset[1], message)

    @staticmethod
    def _rise_hit(name: str, onset: tuple, value, base, rises: int, log_scale: bool) -> _Hit:
        """The rise rule's hit at ``onset`` (step, epoch)."""
        shown = np.exp if log_scale else float
        first, last = float(shown(base)), float(shown(value))
        message = (
            f"{name} rose {int(rises)} times in a row from {number(first)} "
            f"to {number(last)} ({last / first:.1f}x)"
        )
        return _Hit(float(onset[0]), onset[1], message)

    def _consume(
        self,
        name: str,
        state: LossState,
        steps: np.ndarray,
        values: np.ndarray,
        epochs: EpochLookup,
    ) -> _Hit | None:
        finite = np.isfinite(values)
        if np.count_nonzero(finite) < values.size:
            steps, values = steps[finite], values[finite]
        log_scale = self._is_log_scale(name)
        if log_scale:
            with np.errstate(divide="ignore", invalid="ignore"):
                values = np.log(values)
            keep = np.isfinite(values)
            steps, values = steps[keep], values[keep]
        if values.size == 0:
            return None
        scan = self._scan(state, values)
        hit = self._first_hit(name, state, steps, values, scan, log_scale, epochs)
        _carry(state, steps, values, scan, epochs)
        return hit

    def _scan(self, state: LossState, values: np.ndarray) -> _Scan:
        scan = _Scan(float(np.minimum.reduce(values)))
        self._scan_factor(state, values, scan)
        self._scan_rises(state, values, scan)
        return scan

    def _scan_factor(self, state: LossState, values: np.ndarray, scan: _Scan) -> None:
        """Factor rule: each point against the minimum of the points before it."""
        s = self.settings
        floor = min(state.minimum, scan.lowest)
        if floor > 0 and float(np.maximum.reduce(values)) <= s.divergence_factor * floor:
            # Every minimum before a point is at least ``floor``: no point of a batch
            # under factor x floor can pass (the usual batch; nothing more to compute).
            return
        prior_min = np.fmin.accumulate(np.concatenate(([state.minimum], values)))[:-1]
        prior_count = state.count + np.arange(values.size)
        above = (
            (prior_count >= s.divergence_min_points)
            & (prior_min > 0)
            & (values > s.divergence_factor * prior_min)
        )
        scan.prior_min = prior_min
        scan.above_len = streak_lengths(above, state.above)
        scan.confirmed = scan.above_len >= max(1, s.divergence_confirm_points)

    def _scan_rises(self, state: LossState, values: np.ndarray, scan: _Scan) -> None:
        """Rise rule: consecutive increases and the value just before the first one."""
        s = self.settings
        previous = np.concatenate(([state.last], values[:-1]))
        rises = values > previous  # a NaN 'last' never rises
        needed = max(2, s.divergence_rise_points)
        longest, scan.rises = streak_ends(rises, state.rises)
        if longest < needed:
            # no rise is long enough to judge: only the last point's base is carried
            scan.end_base = _rise_base(state, values, values.size - 1 - scan.rises)
            return
        rise_len = scan.rise_len = streak_lengths(rises, state.rises)
        long_enough = rise_len >= needed
        base_index = np.arange(values.size) - rise_len
        base = np.where(
            base_index >= 0,
            values[np.maximum(base_index, 0)],
            np.where(base_index == -1, state.last, state.rise_base),
        )
        # Growth is read off the lower of the last two values, so that a single spike
        # ending an ordinary run of small rises is not mistaken for an explosion.
        lower = np.fmin(values, previous)
        grown = long_enough & (base > 0)
        grown &= lower >= s.divergence_rise_growth * np.where(base > 0, base, np.inf)
        scan.base, scan.grown, scan.end_base = base, grown, float(base[-1])

    def _first_hit(
        self,
        name: str,
        state: LossState,
        steps: np.ndarray,
        values: np.ndarray,
        scan: _Scan,
        log_scale: bool,
        epochs: EpochLookup,
    ) -> _Hit | None:
        candidates = [
            int(np.argmax(mask))
            for mask in (scan.confirmed, scan.grown)
            if mask is not None and np.count_nonzero(mask)
        ]
        if not candidates:
            return None
        index = min(candidates)
        if scan.confirmed is not None and scan.confirmed[index]:
            start = index - int(scan.above_len[index]) + 1
            if start >= 0:
                onset = (steps[start], epochs.epoch_at(float(steps[start])))
                value, minimum = values[start], scan.prior_min[start]
            else:
                onset = (state.above_step, state.above_epoch)
                value, minimum = state.above_value, state.above_minimum
            return self._factor_hit(name, onset, value, minimum, log_scale)
        onset = (steps[index], epochs.epoch_at(float(steps[index])))
        return self._rise_hit(
            name, onset, values[index], scan.base[index], scan.rise_len[index], log_scale
        )


@dataclass(slots=True)
class _Scan:
    """Per-point results of judging one batch of a loss. A rule's arrays stay None
    where a cheap exact test showed that no point of the batch can meet it."""

    lowest: float
    """The batch's lowest value."""
    rises: int = 0
    end_base: float = math.nan
    """The consecutive increases ending at the batch's last point, and the value before
    the first of them (what the run carries)."""
    prior_min: np.ndarray | None = None
    above_len: np.ndarray | None = None
    confirmed: np.ndarray | None = None
    rise_len: np.ndarray | None = None
    base: np.ndarray | None = None
    grown: np.ndarray | None = None


def _rise_base(state: LossState, values: np.ndarray, index: int) -> float:
    """The value at ``index`` of the batch, or before it the carried one (the last
    value for -1, the carried rise's base before that)."""
    if index >= 0:
        return float(values[index])
    return state.last if index == -1 else state.rise_base


def _carry(
    state: LossState, steps: np.ndarray, values: np.ndarray, scan: _Scan, epochs: EpochLookup
) -> None:
    """Fold the batch into the running state (minimum, streaks and where they began)."""
    tail = int(scan.above_len[-1]) if scan.above_len is not None else 0
    if 0 < tail <= values.size:  # the streak began inside this batch
        start = values.size - tail
        state.above_step = float(steps[start])
        state.above_value = float(values[start])
        state.above_minimum = float(scan.prior_min[start])
        state.above_epoch = epochs.epoch_at(state.above_step)
    elif tail == 0:
        _end_above(state)
    state.above = tail
    state.count += int(values.size)
    state.minimum = min(state.minimum, scan.lowest)
    state.last = float(values[-1])
    state.rises = scan.rises
    state.rise_base = scan.end_base


def _end_above(state: LossState) -> None:
    """No streak above the factor threshold: forget where the last one began (the
    state then reads the same whatever batches the points came in)."""
    state.above = 0
    state.above_step = state.above_value = state.above_minimum = math.nan
    state.above_epoch = None
