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
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sweeptui.detectors.base import EpochLookup, number, streak_lengths, view, where
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
    """First point of that streak and the minimum it was compared with."""


@dataclass(slots=True)
class _Hit:
    step: float
    message: str


class DivergenceDetector:
    """Per-(run, loss) running minimum and streak counters."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._states: dict[tuple[str, str], LossState] = {}
        self._loss_names: dict[str, bool] = {}

    def on_metrics(
        self, run: Run, batch: MetricBatch, epochs: EpochLookup, seen_at: float | None
    ) -> Issue | None:
        """The first divergence in this batch over all loss-like metrics, if any."""
        found: tuple[str, _Hit] | None = None
        for name, series in batch.metrics.items():
            if not self._is_loss(name) or not len(series.values):
                continue
            state = self._states.setdefault((run.id, name), LossState())
            hit = self._consume(name, state, view(series.steps), view(series.values))
            if hit is not None and (found is None or hit.step < found[1].step):
                found = (name, hit)
        if found is None:
            return None
        name, hit = found
        epoch = epochs.epoch_at(hit.step)
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
        for key in [key for key in self._states if key[0] == run_id]:
            del self._states[key]

    def _is_loss(self, name: str) -> bool:
        known = self._loss_names.get(name)
        if known is None:
            known = self._loss_names[name] = is_loss_like(name)
        return known

    def _consume(
        self, name: str, state: LossState, steps: np.ndarray, values: np.ndarray
    ) -> _Hit | None:
        finite = np.isfinite(values)
        if not finite.all():
            steps, values = steps[finite], values[finite]
        log_scale = is_perplexity(name)
        if log_scale:
            with np.errstate(divide="ignore", invalid="ignore"):
                values = np.log(values)
            keep = np.isfinite(values)
            steps, values = steps[keep], values[keep]
        if values.size == 0:
            return None
        scan = self._scan(state, values)
        hit = self._first_hit(name, state, steps, values, scan, log_scale)
        _carry(state, steps, values, scan)
        return hit

    def _scan(self, state: LossState, values: np.ndarray) -> _Scan:
        s = self.settings
        # Factor rule: each point against the minimum of the points before it.
        prior_min = np.fmin.accumulate(np.concatenate(([state.minimum], values)))[:-1]
        prior_count = state.count + np.arange(values.size)
        above = (
            (prior_count >= s.divergence_min_points)
            & (prior_min > 0)
            & (values > s.divergence_factor * prior_min)
        )
        above_len = streak_lengths(above, state.above)
        # Rise rule: consecutive increases and the value just before the first one.
        previous = np.concatenate(([state.last], values[:-1]))
        rise_len = streak_lengths(values > previous, state.rises)  # NaN 'last' never rises
        base_index = np.arange(values.size) - rise_len
        base = np.where(
            base_index >= 0,
            values[np.clip(base_index, 0, None)],
            np.where(base_index == -1, state.last, state.rise_base),
        )
        # Growth is read off the lower of the last two values, so that a single spike
        # ending an ordinary run of small rises is not mistaken for an explosion.
        lower = np.fmin(values, previous)
        grown = (rise_len >= max(2, s.divergence_rise_points)) & (base > 0)
        grown &= lower >= s.divergence_rise_growth * np.where(base > 0, base, np.inf)
        confirmed = above_len >= max(1, s.divergence_confirm_points)
        return _Scan(prior_min, above_len, confirmed, rise_len, base, grown)

    def _first_hit(
        self,
        name: str,
        state: LossState,
        steps: np.ndarray,
        values: np.ndarray,
        scan: _Scan,
        log_scale: bool,
    ) -> _Hit | None:
        candidates = [int(np.argmax(mask)) for mask in (scan.confirmed, scan.grown) if mask.any()]
        if not candidates:
            return None
        index = min(candidates)
        shown = np.exp if log_scale else float
        if scan.confirmed[index]:
            start = index - int(scan.above_len[index]) + 1
            if start >= 0:
                step, value, minimum = steps[start], values[start], scan.prior_min[start]
            else:
                step, value, minimum = state.above_step, state.above_value, state.above_minimum
            ratio = math.exp(value - minimum) if log_scale else value / minimum
            message = (
                f"{name} reached {number(float(shown(value)))}, {ratio:.1f}x its running "
                f"minimum {number(float(shown(minimum)))},"
            )
            return _Hit(float(step), message)
        first, last = float(shown(scan.base[index])), float(shown(values[index]))
        message = (
            f"{name} rose {int(scan.rise_len[index])} times in a row from {number(first)} "
            f"to {number(last)} ({last / first:.1f}x)"
        )
        return _Hit(float(steps[index]), message)


@dataclass(slots=True)
class _Scan:
    """Per-point results of judging one batch of a loss."""

    prior_min: np.ndarray
    above_len: np.ndarray
    confirmed: np.ndarray
    rise_len: np.ndarray
    base: np.ndarray
    grown: np.ndarray


def _carry(state: LossState, steps: np.ndarray, values: np.ndarray, scan: _Scan) -> None:
    """Fold the batch into the running state (minimum, streaks and where they began)."""
    tail = int(scan.above_len[-1])
    if 0 < tail <= values.size:  # the streak began inside this batch
        start = values.size - tail
        state.above_step = float(steps[start])
        state.above_value = float(values[start])
        state.above_minimum = float(scan.prior_min[start])
    state.above = tail
    state.count += int(values.size)
    state.minimum = min(state.minimum, float(values.min()))
    state.last = float(values[-1])
    state.rises = int(scan.rise_len[-1])
    state.rise_base = float(scan.base[-1])
