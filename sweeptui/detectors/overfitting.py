"""``overfitting_suspect``: validation loss climbing away from its minimum while the
training loss keeps falling, judged so that a healthy but noisy curve stays quiet.

Per validation point (the full rule is in ``docs/detectors.md``):

- the *level* is the mean of the last ``overfit_window`` validation points without
  the highest one, so a single-epoch bump never lifts it;
- the *noise* is the run's own point-to-point noise, estimated online as the mean
  absolute third difference of the validation loss (relative to the loss) over the
  last ``overfit_noise_points`` points, scaled to a standard deviation; third
  differences ignore straight and gently curved trends, so a rise is not mistaken
  for noise;
- the level is *risen* when it is above the lowest level so far by more than
  ``max(overfit_min_rise, overfit_noise_factor x noise)``;
- or, for runs too short or too noisy for that estimate, the raw validation loss has
  stayed more than ``overfit_clear_rise`` above its raw minimum (30% by default:
  far past what noise does three points in a row);
- the rule holds when either has held at ``overfit_patience`` consecutive points and
  the training level (the mean training loss per validation interval,
  smoothed the same way) has fallen by at least ``overfit_train_drop`` since the
  point of the lowest validation level.

The onset is the validation point where the rule first holds. The message quotes
the lowest validation point (value and epoch) and how far the level has risen above
it. State per run is a few numbers and the last few points, so each point costs the
same whatever the run's length, and batching never changes the result: every
window sum is taken in the same order however the points were split.

A batch with a few points (the live case, one validation point per batch) is judged
point by point with Python floats (:meth:`OverfitDetector._judge_small`), a larger one
with numpy (:meth:`OverfitDetector._judge`). Both take every sum in the same order and
keep the same state, so verdicts and messages agree to the last bit. The numpy path
estimates the noise only when some level cleared ``overfit_min_rise``, and counts streaks
and training drops only when some point rose: on a healthy run's whole log it smooths the
validation loss and carries the state, little more.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
from numpy.lib.stride_tricks import as_strided

from sweeptui.detectors.base import (
    SMALL_BATCH,
    EpochLookup,
    number,
    streak_lengths,
    view,
    where,
)
from sweeptui.detectors.metrics import training_loss_name, validation_loss_name
from sweeptui.events import MetricBatch
from sweeptui.issues import Issue
from sweeptui.settings import Settings
from sweeptui.store import Run

ISSUE_TYPE = "overfitting_suspect"

THIRD_DIFFERENCE_SCALE = math.sqrt(20.0) * math.sqrt(2.0 / math.pi)
"""Mean of |x[t] - 3x[t-1] + 3x[t-2] - x[t-3]| for independent unit normal x."""
DIFFERENCE_ORDER = 3

_EMPTY = np.empty(0)


@dataclass(slots=True)
class FitState:
    """What one run carries between batches."""

    val_name: str | None = None
    train_name: str | None = None
    names_seen: int = -1
    train_sum: float = 0.0
    train_count: int = 0
    """Training points logged after the newest validation point (summed in arrival order)."""
    train_level: float = math.nan
    # the recent values are kept as doubles (8 bytes each, not a float object): a sweep
    # of 20,000 runs holds some forty of them per run
    recent_values: array = field(default_factory=lambda: array("d"))
    """The last few validation values (smoothing window and differences)."""
    recent_train: array = field(default_factory=lambda: array("d"))
    """The last few training levels (smoothing window)."""
    recent_jumps: array = field(default_factory=lambda: array("d"))
    """The last few relative third differences (noise window); NaN where undefined."""
    level_min: float = math.inf
    train_at_min: float = math.nan
    lowest: float = math.inf
    lowest_step: float = math.nan
    lowest_epoch: float | None = None
    above: int = 0
    clear_above: int = 0
    """Consecutive raw points above the raw minimum by more than ``overfit_clear_rise``."""


class OverfitDetector:
    """Per-run smoothed validation minimum, noise estimate, streak and training level."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._states: dict[str, FitState] = {}

    def forget(self, run_id: str) -> None:
        """Drop a run's state once it has been flagged."""
        self._states.pop(run_id, None)

    def state_of(self, run_id: str) -> FitState | None:
        """What the run carries (to continue it in another process)."""
        return self._states.get(run_id)

    def adopt(self, run_id: str, state: FitState | None) -> None:
        """Continue the run from ``state`` (see :meth:`state_of`)."""
        if state is not None:
            self._states[run_id] = state

    def on_metrics(
        self, run: Run, batch: MetricBatch, epochs: EpochLookup, seen_at: float | None
    ) -> Issue | None:
        """Fold the batch in; the issue when the rule first holds in it."""
        state = self._states.get(run.id)
        if state is None:  # not setdefault: that builds a state on every batch
            state = self._states[run.id] = FitState()
        self._resolve_names(run, state)
        small = _small_points(batch, state.val_name, True)
        small_train = _small_points(batch, state.train_name, False) if small else None
        if small is not None and small_train is not None:
            val_steps, val_values = small
            train_steps, train_values = small_train
            if not val_values:
                state.train_sum = _running_sum(state.train_sum, train_values)
                state.train_count += len(train_values)
                return None
            levels = _small_levels(state, train_steps, train_values, val_steps)
            return self._judge_small(run, state, val_steps, val_values, levels, epochs, seen_at)
        train_steps, train_values = _finite(batch, state.train_name)
        val_steps, val_values = _finite(batch, state.val_name)
        if val_values.size == 0:
            state.train_sum = _running_sum(state.train_sum, train_values.tolist())
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
        if _same_steps(train_steps, val_steps):
            return _levels_at_same_steps(state, train_values)
        slots = val_steps.size
        bucket = np.searchsorted(val_steps, train_steps, side="left")
        inside = bucket < slots
        # bincount adds each bin's weights one by one, in order, from zero: the same
        # sums as a point-by-point feed. The first bin continues the carried sum.
        sums = np.bincount(bucket[inside], weights=train_values[inside], minlength=slots)
        sums = sums.astype(np.float64)  # bincount of nothing is integer-typed
        counts = np.bincount(bucket[inside], minlength=slots).astype(np.float64)
        sums[0] = _running_sum(state.train_sum, train_values[bucket == 0].tolist())
        counts[0] += state.train_count
        state.train_sum = _running_sum(0.0, train_values[~inside].tolist())
        state.train_count = int((~inside).sum())
        with np.errstate(invalid="ignore", divide="ignore"):
            means = sums / counts
        known = np.where(counts > 0, np.arange(slots), -1)
        latest = np.maximum.accumulate(known)
        return np.where(latest >= 0, means[np.maximum(latest, 0)], state.train_level)

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
        window = max(1, self.settings.overfit_window)
        recent_values = np.array(state.recent_values, dtype=np.float64)
        recent_train = np.array(state.recent_train, dtype=np.float64)
        level = _smoothed(recent_values, values, window)
        prior_min = np.fmin.accumulate(np.concatenate(([state.level_min], level)))
        points = _Points(steps, values, level, level < prior_min[:-1])
        risen, jumps = self._risen(state, recent_values, points, prior_min[1:])
        low = _RunningLow(state, steps, values, epochs)
        clear = low.clearly_above(values, self.settings.overfit_clear_rise)
        issue = None
        if np.count_nonzero(risen) or np.count_nonzero(clear):
            train = _smoothed(recent_train, levels, window)
            issue = self._persisted(run, state, points, train, (risen, clear), low, seen_at)
        else:  # nothing rose (the usual batch): no streak, and no training drop to judge
            state.above = state.clear_above = 0
        latest_min = _last_true(points.new_min)
        if latest_min >= 0:
            state.train_at_min = _level_at(recent_train, levels, latest_min, window)
        low.carry()
        self._carry_recent(state, recent_values, recent_train, values, levels, jumps)
        state.level_min = float(prior_min[-1])
        return issue

    def _risen(
        self, state: FitState, recent_values: np.ndarray, points: _Points, level_min: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Per point: the level has risen past the floor and past the run's noise; with
        the batch's third differences when the noise had to be estimated."""
        s = self.settings
        level = points.level
        with np.errstate(invalid="ignore"):
            risen = (level_min > 0) & (level > level_min * (1 + s.overfit_min_rise))
        if not np.count_nonzero(risen):
            return risen, None
        # The noise term can only raise the threshold above overfit_min_rise, so it
        # is worth computing only when some level cleared that floor (rarely, on a
        # healthy curve: this keeps the common batch cheap).
        jumps = _third_differences(recent_values, points.values)
        recent_jumps = np.array(state.recent_jumps, dtype=np.float64)
        noise = _noise(recent_jumps, jumps, max(1, s.overfit_noise_points))
        threshold = np.maximum(s.overfit_min_rise, s.overfit_noise_factor * noise)
        with np.errstate(invalid="ignore"):
            risen &= level > level_min * (1 + threshold)
        return risen, jumps

    def _persisted(
        self,
        run: Run,
        state: FitState,
        points: _Points,
        train: np.ndarray,
        rises: tuple[np.ndarray, np.ndarray],
        low: _RunningLow,
        seen_at: float | None,
    ) -> Issue | None:
        """Count the streaks of risen and of clearly-above points (``rises``); the issue
        at the first point where one has persisted while the training level fell."""
        s = self.settings
        patience = max(1, s.overfit_patience)
        streak = streak_lengths(rises[0], state.above)
        clear_streak = streak_lengths(rises[1], state.clear_above)
        persistent = (streak >= patience) | (clear_streak >= patience)
        state.above, state.clear_above = int(streak[-1]), int(clear_streak[-1])
        if not np.count_nonzero(persistent):
            return None
        train_at_min = _at_latest(points.new_min, train, state.train_at_min)
        with np.errstate(invalid="ignore", divide="ignore"):
            drop = (train_at_min - train) / np.abs(train_at_min)
        holds = persistent & (drop >= s.overfit_train_drop)
        if not np.count_nonzero(holds):
            return None
        index = int(np.argmax(holds))
        step = float(points.steps[index])
        # quote the smoothed level when it carried the verdict, else the raw point
        quoted = points.level[index] if streak[index] >= patience else points.values[index]
        onset = Onset(step, low.epoch_at(step), float(quoted))
        return self._issue(run, state, onset, float(drop[index]), low.at(index), seen_at)

    def _carry_recent(
        self,
        state: FitState,
        recent_values: np.ndarray,
        recent_train: np.ndarray,
        values: np.ndarray,
        levels: np.ndarray,
        jumps: np.ndarray | None,
    ) -> None:
        """Keep the last few values, training levels and third differences."""
        s = self.settings
        keep_jumps = max(0, s.overfit_noise_points - 1)
        if jumps is None:
            jumps = _newest_third_differences(recent_values, values, keep_jumps)
        window = max(1, s.overfit_window)
        state.recent_values = _tail(recent_values, values, max(window - 1, DIFFERENCE_ORDER))
        state.recent_train = _tail(recent_train, levels, window - 1)
        recent_jumps = np.array(state.recent_jumps, dtype=np.float64)
        state.recent_jumps = _tail(recent_jumps, jumps, keep_jumps)
        state.train_level = float(levels[-1])

    def _judge_small(
        self,
        run: Run,
        state: FitState,
        steps: list[float],
        values: list[float],
        levels: list[float],
        epochs: EpochLookup,
        seen_at: float | None,
    ) -> Issue | None:
        """The scalar twin of :meth:`_judge`: the same rules, one point at a time."""
        s = self.settings
        window = max(1, s.overfit_window)
        points = max(1, s.overfit_noise_points)
        patience = max(1, s.overfit_patience)
        history = state.recent_values.tolist() + values
        train_history = state.recent_train.tolist() + levels
        jumps = state.recent_jumps.tolist()
        first_value, first_train = len(state.recent_values), len(state.recent_train)
        level_min, train_at_min = state.level_min, state.train_at_min
        above, clear_above = state.above, state.clear_above
        lowest, lowest_at = state.lowest, -1  # lowest_at: its index in this batch
        issue = None
        for index, value in enumerate(values):
            level = _window_level(history, first_value + index, window)
            train = _window_level(train_history, first_train + index, window)
            jumps.append(_third_difference(history, first_value + index))
            if level < level_min:
                level_min, train_at_min = level, train
            risen = level_min > 0 and level > level_min * (1 + s.overfit_min_rise)
            if risen:  # noise only matters once the floor is cleared, as in _judge
                noise = _window_noise(jumps, points)
                threshold = _nan_max(s.overfit_min_rise, s.overfit_noise_factor * noise)
                risen = level > level_min * (1 + threshold)
            above = above + 1 if risen else 0
            clear = lowest > 0 and value > lowest * (1 + s.overfit_clear_rise)
            clear_above = clear_above + 1 if clear else 0
            if value < lowest:
                lowest, lowest_at = value, index
            drop = _relative_drop(train_at_min, train)
            persistent = above >= patience or clear_above >= patience
            if issue is None and persistent and drop >= s.overfit_train_drop:
                step = steps[index]
                onset = Onset(step, epochs.epoch_at(step), level if above >= patience else value)
                low = _low_point(state, steps, lowest, lowest_at, epochs)
                issue = self._issue(run, state, onset, drop, low, seen_at)
        state.lowest, state.lowest_step, state.lowest_epoch = _low_point(
            state, steps, lowest, lowest_at, epochs
        )
        state.recent_values = _keep_last(history, max(window - 1, DIFFERENCE_ORDER))
        state.recent_train = _keep_last(train_history, window - 1)
        state.recent_jumps = _keep_last(jumps, max(0, s.overfit_noise_points - 1))
        state.level_min, state.train_at_min = level_min, train_at_min
        state.above, state.clear_above = above, clear_above
        state.train_level = levels[-1]
        return issue

    @staticmethod
    def _issue(
        run: Run,
        state: FitState,
        onset: Onset,
        drop: float,
        lowest: tuple[float, float, float | None],
        seen_at: float | None,
    ) -> Issue:
        low_value, low_step, low_epoch = lowest
        at_low = where(None, low_epoch) if low_epoch is not None else where(low_step, None)
        if low_value:
            risen = f"rose {(onset.level - low_value) / abs(low_value):.0%} above its minimum"
        else:  # no rise relative to a minimum of zero: say where the loss got to
            risen = f"rose to {number(onset.level)} from its minimum"
        message = (
            f"{state.val_name} {risen} {number(low_value)} "
            f"at {at_low} while {state.train_name} fell {drop:.0%}; "
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


class _RunningLow:
    """The lowest raw validation point (value, step, epoch) at each point of a batch."""

    def __init__(
        self, state: FitState, steps: np.ndarray, values: np.ndarray, epochs: EpochLookup
    ) -> None:
        self._state, self._steps, self._epochs = state, steps, epochs
        seeded = np.minimum.accumulate(np.concatenate(([state.lowest], values)))
        self._lowest = seeded[1:]
        self._before = seeded[:-1]
        """Per point: the lowest point before it."""
        self._new_low = values < self._before

    def clearly_above(self, values: np.ndarray, rise: float) -> np.ndarray:
        """Per point: above the lowest point before it by more than ``rise`` (relative)."""
        before = self._before
        return (before > 0) & (values > before * (1 + rise))

    def epoch_at(self, step: float) -> float | None:
        """The epoch of ``step`` (see :class:`~sweeptui.detectors.base.EpochLookup`)."""
        return self._epochs.epoch_at(step)

    def at(self, index: int) -> tuple[float, float, float | None]:
        """(value, step, epoch) of the lowest point up to ``index`` of the batch."""
        latest = _last_true(self._new_low[: index + 1])
        if latest < 0:
            state = self._state
            return state.lowest, state.lowest_step, state.lowest_epoch
        step = float(self._steps[latest])
        return float(self._lowest[index]), step, self._epochs.epoch_at(step)

    def carry(self) -> None:
        """Keep the batch's lowest point in the run's state."""
        self._state.lowest, self._state.lowest_step, self._state.lowest_epoch = self.at(
            self._lowest.size - 1
        )


@dataclass(frozen=True, slots=True)
class _Points:
    """The validation points of one batch, their levels, and where a level set a new low."""

    steps: np.ndarray
    values: np.ndarray
    level: np.ndarray
    new_min: np.ndarray


@dataclass(frozen=True, slots=True)
class Onset:
    """The validation point where the rule first held, and its smoothed level."""

    step: float
    epoch: float | None
    level: float


def _low_point(
    state: FitState, steps: list[float], lowest: float, lowest_at: int, epochs: EpochLookup
) -> tuple[float, float, float | None]:
    """(value, step, epoch) of the lowest raw point: carried, or at ``lowest_at`` of the batch."""
    if lowest_at < 0:
        return state.lowest, state.lowest_step, state.lowest_epoch
    step = steps[lowest_at]
    return lowest, step, epochs.epoch_at(step)


def _window_level(history: list[float], end: int, window: int) -> float:
    """Scalar :func:`_smoothed` for ``history[end]``: the mean of the ``window`` values
    ending there without the highest, summed in ascending order as numpy's sorted rows
    are (NaN sorts last, as numpy does); NaN when fewer than ``window`` values exist."""
    start = end - window + 1
    if start < 0:
        return math.nan
    rows = history[start : end + 1]
    known = sorted(x for x in rows if x == x)
    rows = known + [math.nan] * (len(rows) - len(known))
    keep = max(1, window - 1)
    total = rows[0]
    for column in range(1, keep):
        total += rows[column]
    return total / keep


def _third_difference(history: list[float], end: int) -> float:
    """Scalar :func:`_third_differences` for ``history[end]``."""
    if end < DIFFERENCE_ORDER:
        return math.nan
    x0, x1, x2, x3 = history[end], history[end - 1], history[end - 2], history[end - 3]
    change = x0 - 3 * x1 + 3 * x2 - x3
    scale = abs(x1)
    relative = abs(change) / scale if scale != 0 else math.inf
    return relative if math.isfinite(relative) else math.nan


def _window_noise(jumps: list[float], points: int) -> float:
    """Scalar :func:`_noise` for the newest of ``jumps``: summed oldest to newest,
    skipping NaN, from zero."""
    total, count = 0.0, 0
    for jump in jumps[max(0, len(jumps) - points) :]:
        if jump == jump:
            total += jump
            count += 1
    return (total / count if count else 0.0) / THIRD_DIFFERENCE_SCALE


def _relative_drop(at_min: float, now: float) -> float:
    """``(at_min - now) / |at_min|`` with numpy's answers for a zero divisor."""
    change = at_min - now
    scale = abs(at_min)
    if scale != 0:
        return change / scale
    if change != change or change == 0:
        return math.nan
    return math.inf if change > 0 else -math.inf


def _nan_max(first: float, second: float) -> float:
    """``np.maximum`` of two floats: NaN when either is."""
    if first != first or second != second:
        return math.nan
    return second if second > first else first


def _keep_last(values: list[float], count: int) -> array:
    """The last ``count`` items of ``values`` as doubles (none for a count of 0)."""
    return array("d", values[max(0, len(values) - count) :] if count > 0 else ())


def _running_sum(start: float, values) -> float:
    """``start`` plus each of ``values`` in order: the sum a point-by-point feed builds."""
    if len(values) > SMALL_BATCH:
        return float(np.cumsum(np.concatenate(([start], values)))[-1])
    total = start
    for value in values:
        total += value
    return total


def _small_levels(
    state: FitState, train_steps: list[float], train_values: list[float], val_steps: list[float]
) -> list[float]:
    """Scalar :meth:`OverfitDetector._levels`: bins, sums and carry in the same order."""
    slots = len(val_steps)
    sums, counts = [0.0] * slots, [0] * slots
    sums[0], counts[0] = state.train_sum, state.train_count
    rest_sum, rest_count = 0.0, 0
    for step, value in zip(train_steps, train_values, strict=True):
        slot = bisect_left(val_steps, step)
        if slot < slots:
            sums[slot] += value
            counts[slot] += 1
        else:
            rest_sum += value
            rest_count += 1
    state.train_sum, state.train_count = rest_sum, rest_count
    levels, level = [], state.train_level
    for total, count in zip(sums, counts, strict=True):
        if count:
            level = total / count
        levels.append(level)
    return levels


def _same_steps(train_steps: np.ndarray, val_steps: np.ndarray) -> bool:
    """Both losses logged at the same, strictly increasing steps (the usual per-epoch
    log): then each training point is its validation interval on its own."""
    return (
        train_steps.size == val_steps.size
        and np.count_nonzero(train_steps == val_steps) == val_steps.size
        and np.count_nonzero(val_steps[1:] > val_steps[:-1]) == val_steps.size - 1
    )


def _levels_at_same_steps(state: FitState, train_values: np.ndarray) -> np.ndarray:
    """:meth:`OverfitDetector._levels` when :func:`_same_steps` holds, without binning:
    the same sums (a bin's sum starts from 0.0, so ``+ 0.0``), and the first interval
    continues the training points carried from before."""
    levels = train_values + 0.0
    first = _running_sum(state.train_sum, [float(train_values[0])])
    levels[0] = first / float(state.train_count + 1)
    state.train_sum, state.train_count = 0.0, 0
    return levels


def _smoothed(recent: np.ndarray, values: np.ndarray, window: int) -> np.ndarray:
    """Per new value: the mean of the last ``window`` values without the highest one
    (the value itself for a window of one); NaN until ``window`` values exist."""
    keep = max(1, window - 1)
    carried = _last(recent, window - 1)
    joined = np.concatenate((carried, values))
    out = np.full(values.size, np.nan)
    if joined.size < window:
        return out
    total = _lowest_sums(joined, window, keep)
    first = max(window - 1, carried.size)  # first joined index that is a new value
    out[first - carried.size :] = total[first - (window - 1) :] / keep
    return out


def _lowest_sums(joined: np.ndarray, window: int, keep: int) -> np.ndarray:
    """Per run of ``window`` values of ``joined``: its ``keep`` lowest values summed in
    ascending order (NaN sorting last), so the sum is the same whatever the batching."""
    if window == 3 and _distinct_when_equal(joined):
        # The lowest two of three are the minimum and the median; finding them takes a
        # few passes where sorting a row per point took most of a long batch's time.
        first, second, third = joined[:-2], joined[1:-1], joined[2:]
        lower, upper = np.minimum(first, second), np.maximum(first, second)
        return np.minimum(lower, third) + np.maximum(lower, np.minimum(upper, third))
    rows = np.sort(_windows(joined, window), axis=1)
    total = rows[:, 0].copy()
    for column in range(1, keep):  # column by column: the order a point-by-point feed adds
        total += rows[:, column]
    return total


def _distinct_when_equal(values: np.ndarray) -> bool:
    """No NaN and no zero: then values that compare equal are the same bits, so picking
    the minimum and median gives exactly the numbers a sort puts first (a sort's order
    of 0.0 and -0.0, and its NaN placement, are not those of ``minimum``/``maximum``)."""
    return bool(values.all()) and not np.isnan(values).any()


def _third_differences(recent: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per new value: |x[t] - 3x[t-1] + 3x[t-2] - x[t-3]| / |x[t-1]|; NaN where undefined."""
    carried = _last(recent, DIFFERENCE_ORDER)
    joined = np.concatenate((carried, values))
    first = max(DIFFERENCE_ORDER, carried.size)  # the first joined index with three before it
    defined = _relative_differences(joined[first - DIFFERENCE_ORDER :])
    missing = values.size - defined.size
    return np.concatenate((np.full(missing, np.nan), defined)) if missing else defined


def _relative_differences(x: np.ndarray) -> np.ndarray:
    """:func:`_third_differences` of ``x[3:]``, each from the three values before it."""
    x0, x1, x2, x3 = x[3:], x[2:-1], x[1:-2], x[:-3]
    change = x0 - 3 * x1 + 3 * x2 - x3
    with np.errstate(invalid="ignore", divide="ignore"):
        relative = np.abs(change) / np.abs(x1)
    return np.where(np.isfinite(relative), relative, np.nan)


def _level_at(recent: np.ndarray, values: np.ndarray, index: int, window: int) -> float:
    """``_smoothed(recent, values, window)[index]`` by the scalar rule, from the few
    values its window holds (numpy's per-call cost would outweigh them many times)."""
    start = index - window + 1
    history = values[max(0, start) : index + 1].tolist()
    if start < 0:
        history = _last(recent, -start).tolist() + history
    return _window_level(history, len(history) - 1, window)


def _newest_third_differences(recent: np.ndarray, values: np.ndarray, count: int) -> np.ndarray:
    """The last ``count`` of :func:`_third_differences` (all of them when the batch is too
    short to find them within itself): what the noise window carries to the next batch."""
    if count == 0:
        return _EMPTY
    if values.size < count + DIFFERENCE_ORDER:
        return _third_differences(recent, values)
    return _relative_differences(values[-count - DIFFERENCE_ORDER :])


def _noise(recent: np.ndarray, jumps: np.ndarray, points: int) -> np.ndarray:
    """Per new value: the estimated standard deviation of its relative noise, from the
    mean of the last ``points`` third differences (0 while none is defined)."""
    carried = _last(recent, points - 1)
    padding = np.full(points - 1 - carried.size, np.nan)
    rows = _windows(np.concatenate((padding, carried, jumps)), points)
    total = np.zeros(jumps.size)
    count = np.zeros(jumps.size)
    for column in range(points):  # column by column: the same sum whatever the batching
        known = ~np.isnan(rows[:, column])
        total += np.where(known, rows[:, column], 0.0)
        count += known
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / count, 0.0)
    return mean / THIRD_DIFFERENCE_SCALE


def _windows(values: np.ndarray, width: int) -> np.ndarray:
    """Every run of ``width`` consecutive values, one per row: a read-only view (numpy's
    ``sliding_window_view`` of a 1-D array, without its argument checks, which cost
    more than the rest of a small batch's windows)."""
    step = values.strides[0]
    rows = max(values.size - width + 1, 0)
    return as_strided(values, shape=(rows, width), strides=(step, step), writeable=False)


def _tail(recent: np.ndarray, values: np.ndarray, keep: int) -> array:
    """The last ``keep`` of ``recent`` followed by ``values``, as doubles."""
    if keep <= 0:
        return array("d")
    if values.size < keep:
        values = np.concatenate((_last(recent, keep), values))
    # from a list, the array is made at its size (one made from bytes is over-allocated)
    return array("d", values[-keep:].tolist())


def _last(values: np.ndarray, count: int) -> np.ndarray:
    """The last ``count`` items of ``values`` (all of them when there are fewer)."""
    return values[max(0, values.size - count) :] if count > 0 else _EMPTY


def _last_true(mask: np.ndarray) -> int:
    """Index of the last ``True`` of ``mask``, or -1."""
    hits = mask.nonzero()[0]
    return int(hits[-1]) if hits.size else -1


def _at_latest(mask: np.ndarray, values: np.ndarray, carried: float) -> np.ndarray:
    """Per point: ``values`` at the latest point at or before it where ``mask`` holds;
    ``carried`` before the first."""
    latest = np.maximum.accumulate(np.where(mask, np.arange(mask.size), -1))
    return np.where(latest >= 0, values[np.maximum(latest, 0)], carried)


def _small_points(
    batch: MetricBatch, name: str | None, sorted_steps: bool
) -> tuple[list[float], list[float]] | None:
    """Finite (steps, values) of one metric as lists, when the scalar path can take them:
    few points, finite steps (NaN steps sort differently in numpy and Python) and, with
    ``sorted_steps``, steps in order (the binning searches them). None otherwise."""
    series = batch.metrics.get(name) if name is not None else None
    if series is None:
        return [], []
    if len(series.values) > SMALL_BATCH:
        return None
    steps, values = [], []
    for step, value in zip(series.steps, series.values, strict=True):
        if not math.isfinite(step):
            return None
        if math.isfinite(value):
            steps.append(step)
            values.append(value)
    if sorted_steps and any(later < earlier for earlier, later in pairwise(steps)):
        return None
    return steps, values


def _finite(batch: MetricBatch, name: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Finite (steps, values) of one metric in the batch: views of the batch's columns
    when every value is finite (the usual case: use them within the call, never keep
    them), else copies of the finite points."""
    series = batch.metrics.get(name) if name is not None else None
    if series is None or not len(series.values):
        empty = np.empty(0)
        return empty, empty
    steps, values = view(series.steps), view(series.values)
    keep = np.isfinite(values)
    if np.count_nonzero(keep) == values.size:
        return steps, values
    return steps[keep], values[keep]
