"""``overfitting_suspect``: validation loss climbing away from its minimum while the
training loss keeps falling.

The training loss is usually logged far more often and more noisily than the
validation loss, so it is averaged per validation interval: the *training level*
at a validation point is the mean of the training-loss points logged since the
previous validation point (inclusive of the same step). The rule, per validation
point after the minimum:

- the validation loss is above its running minimum by more than
  ``overfit_min_rise`` (relative) at each of ``overfit_patience`` consecutive points;
- the training level has dropped by at least ``overfit_train_drop`` (relative)
  since the training level at the validation minimum.

The onset is the validation point where both first hold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sweeptui.detectors.base import EpochLookup, number, streak_lengths, view, where
from sweeptui.detectors.metrics import training_loss_name, validation_loss_name
from sweeptui.events import MetricBatch
from sweeptui.issues import Issue
from sweeptui.settings import Settings
from sweeptui.store import Run

ISSUE_TYPE = "overfitting_suspect"


@dataclass(slots=True)
class FitState:
    """What one run carries between batches."""

    val_name: str | None = None
    train_name: str | None = None
    names_seen: int = -1
    train_sum: float = 0.0
    train_count: int = 0
    """Training points logged after the newest validation point."""
    train_level: float = math.nan
    minimum: float = math.inf
    min_step: float = math.nan
    min_epoch: float | None = None
    min_train_level: float = math.nan
    above: int = 0


class OverfitDetector:
    """Per-run validation minimum, streak and training level."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._states: dict[str, FitState] = {}

    def forget(self, run_id: str) -> None:
        """Drop a run's state once it has been flagged."""
        self._states.pop(run_id, None)

    def on_metrics(
        self, run: Run, batch: MetricBatch, epochs: EpochLookup, seen_at: float | None
    ) -> Issue | None:
        """Fold the batch in; the issue when the rule first holds in it."""
        state = self._states.setdefault(run.id, FitState())
        self._resolve_names(run, state)
        train_steps, train_values = _finite(batch, state.train_name)
        val_steps, val_values = _finite(batch, state.val_name)
        if val_values.size == 0:
            state.train_sum += float(train_values.sum())
            state.train_count += int(train_values.size)
            return None
        levels = self._levels(state, train_steps, train_values, val_steps)
        return self._judge(run, state, val_steps, val_values, levels, epochs, seen_at)

    @staticmethod
    def _resolve_names(run: Run, state: FitState) -> None:
        if state.names_seen == len(run.metrics):
            return
        state.names_seen = len(run.metrics)
        if state.train_name is None:
            state.train_name = training_loss_name(run.metrics)
        if state.val_name is None:
            state.val_name = validation_loss_name(run.metrics)
        if state.val_name is not None and state.train_name == state.val_name:
            state.train_name = None

    @staticmethod
    def _levels(
        state: FitState, train_steps: np.ndarray, train_values: np.ndarray, val_steps: np.ndarray
    ) -> np.ndarray:
        """Mean training loss per validation interval, carried forward where none was logged."""
        slots = val_steps.size
        bucket = np.searchsorted(val_steps, train_steps, side="left")
        inside = bucket < slots
        sums = np.bincount(bucket[inside], weights=train_values[inside], minlength=slots)
        sums = sums.astype(np.float64)  # bincount of nothing is integer-typed
        counts = np.bincount(bucket[inside], minlength=slots).astype(np.float64)
        sums[0] += state.train_sum
        counts[0] += state.train_count
        state.train_sum = float(train_values[~inside].sum())
        state.train_count = int((~inside).sum())
        with np.errstate(invalid="ignore", divide="ignore"):
            means = sums / counts
        known = np.where(counts > 0, np.arange(slots), -1)
        latest = np.maximum.accumulate(known)
        return np.where(latest >= 0, means[np.clip(latest, 0, None)], state.train_level)

    def _judge(
        self,
        run: Run,
        state: FitState,
        steps: np.ndarray,
        values: np.ndarray,
        levels: np.ndarray,
        epochs: EpochLookup,
        seen_at: float | None,
    ) -> Issue | None:
        s = self.settings
        seeded = np.fmin.accumulate(np.concatenate(([state.minimum], values)))
        prior_min, minimum = seeded[:-1], seeded[1:]
        positions = np.arange(values.size)
        latest_min = np.maximum.accumulate(np.where(values < prior_min, positions, -1))
        has_min = latest_min >= 0
        pick = np.clip(latest_min, 0, None)
        train_at_min = np.where(has_min, levels[pick], state.min_train_level)
        with np.errstate(invalid="ignore", divide="ignore"):
            rise = (values - minimum) / np.abs(minimum)
            drop = (train_at_min - levels) / np.abs(train_at_min)
        streak = streak_lengths(rise > s.overfit_min_rise, state.above)
        holds = (streak >= max(1, s.overfit_patience)) & (drop >= s.overfit_train_drop)
        issue = None
        if holds.any():
            index = int(np.argmax(holds))
            if has_min[index]:
                min_step = float(steps[pick[index]])
                min_epoch = epochs.epoch_at(min_step)
            else:
                min_step, min_epoch = state.min_step, state.min_epoch
            step = float(steps[index])
            issue = self._issue(
                run,
                state,
                Onset(step, epochs.epoch_at(step), float(values[index]), float(minimum[index])),
                float(drop[index]),
                (min_step, min_epoch),
                seen_at,
            )
        if has_min[-1]:
            state.min_step = float(steps[pick[-1]])
            state.min_epoch = epochs.epoch_at(state.min_step)
            state.min_train_level = float(train_at_min[-1])
        state.minimum = float(minimum[-1])
        state.above = int(streak[-1])
        state.train_level = float(levels[-1])
        return issue

    @staticmethod
    def _issue(
        run: Run,
        state: FitState,
        onset: Onset,
        drop: float,
        at_minimum: tuple[float, float | None],
        seen_at: float | None,
    ) -> Issue:
        min_step, min_epoch = at_minimum
        at_min = where(None, min_epoch) if min_epoch is not None else where(min_step, None)
        rise = (onset.value - onset.minimum) / abs(onset.minimum)
        message = (
            f"{state.val_name} rose {rise:.0%} above its minimum {number(onset.minimum)} "
            f"at {at_min} while {state.train_name} fell {drop:.0%}; "
            f"flagged at {where(onset.step, onset.epoch)}"
        )
        return Issue(
            ISSUE_TYPE,
            run.id,
            message,
            step=onset.step,
            epoch=onset.epoch,
            metric=state.val_name,
            time=seen_at,
        )


@dataclass(frozen=True, slots=True)
class Onset:
    """The validation point where the rule first held."""

    step: float
    epoch: float | None
    value: float
    minimum: float


def _finite(batch: MetricBatch, name: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Finite (steps, values) of one metric in the batch, as copies (safe to keep)."""
    series = batch.metrics.get(name) if name is not None else None
    if series is None or not len(series.values):
        empty = np.empty(0)
        return empty, empty
    steps, values = view(series.steps), view(series.values)
    keep = np.isfinite(values)
    return steps[keep], values[keep]
