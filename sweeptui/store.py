"""The run store: every run of a sweep, its params, the evidence of its lifecycle and
its metric series.

Sources feed it events (:mod:`sweeptui.events`); detectors and the analysis read it.
The store records evidence (end claims, error text, record times, update intervals);
a run's status and its reason are decided by :mod:`sweeptui.lifecycle` alone.
Metric series are columnar and growable (two ``array('d')`` per metric: 16 bytes a
point, no dict per point). Only the thread that ingests writes to the store; views
get copies (numpy arrays, snapshots), never live references.
"""

from __future__ import annotations

import bisect
import itertools
import math
import re
from array import array
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sweeptui.events import (
    Event,
    FileReset,
    MetricBatch,
    RunEnded,
    RunSeen,
    RunWithdrawn,
    Series,
    SourceWarning,
    SummarySeen,
)
from sweeptui.failures import Failure
from sweeptui.issues import SWEEP_RUN_ID, Issue
from sweeptui.lifecycle import END_MARKER, PENDING, Verdict, end_state, record_end, restore_end

STATUSES = ("running", "finished", "crashed", "killed", "failed")
"""Every run status. ``failed`` means the run died before its first metric."""

ENDED_STATUSES = frozenset({"finished", "crashed", "killed", "failed"})

EPOCH_KEYS = (
    "epochs", "num_epochs", "max_epochs", "n_epochs", "total_epochs", "train_epochs",
    "num_train_epochs", "epoch_count", "nb_epochs",
)  # fmt: skip
STEP_KEYS = (
    "max_steps", "total_steps", "num_steps", "train_steps", "training_steps", "n_steps",
    "max_iters", "max_iter", "iterations", "num_iterations", "total_iters",
)  # fmt: skip

MAX_WARNINGS = 1000
MAX_RESETS = 20
"""The newest file resets that changed a run's points kept for the live views (all are counted)."""
CADENCE_HISTORY = 32
"""Update intervals remembered per run (bounded memory, recent cadence)."""


STEPS, VALUES = 0, 2
"""Where each column's (min, max) sits in a series' ``_ranges``."""
_NO_RANGES = (math.nan,) * 4


class MetricSeries:
    """One metric of one run: parallel step and value columns, appended to.

    Each point remembers the file it came from (its origin), so that a log replaced
    or truncated can take back what it gave (:meth:`drop`). Points from one origin
    cost nothing more; a series fed by several files keeps one (start, origin) cut
    where the origin changes.
    """

    __slots__ = ("_cuts", "_origin", "_ranges", "_shared", "_steps", "_values")

    def __init__(self) -> None:
        self._clear()

    def _clear(self) -> None:
        self._steps = array("d")
        self._shared = False
        """Whether the step column may be another series' too (copied before it grows)."""
        self._values = array("d")
        # finite (min, max) of the steps, then of the values, kept as points arrive so
        # progress is O(1); NaN while there is none. Four doubles, not two tuples of
        # float objects: ~100 bytes less a series, 20,000 runs hold ~100,000 of them.
        self._ranges = array("d", _NO_RANGES)
        self._origin: str | None = None
        """The origin of the newest points (of all of them while ``_cuts`` is None)."""
        self._cuts: list[tuple[int, str | None]] | None = None
        """(first index, origin) of each stretch, once a second origin appeared."""

    def extend(
        self, steps: Iterable[float], values: Iterable[float], origin: str | None = None,
        siblings: dict[int, MetricSeries] | None = None,
    ) -> None:  # fmt: skip
        """Append points from ``origin``; ``steps`` and ``values`` must have the same length.

        ``siblings`` (the new series of the same batch, by the id of the step column they
        were built from) lets the new series of one batch share one step column and its
        range: the metrics of a training loop's records share their steps, which then take
        a quarter of the memory. A shared column is copied before it grows.
        """
        start = len(self._steps)
        if start:
            if self._shared:
                self._steps, self._shared = array("d", self._steps), False
            self._steps.extend(steps)
            self._values.extend(values)
            self._widen_range(STEPS, self._steps, start)
        else:  # built at their size: extending an empty array over-allocates by ~6%
            self._values = array("d", values)
            self._take_steps(steps, siblings)
        self._widen_range(VALUES, self._values, start)
        if origin != self._origin and len(self._steps) > start:
            self._cut(start, origin)

    def _take_steps(self, steps: Iterable[float], siblings: dict[int, MetricSeries] | None) -> None:
        """The step column of a new series: a sibling's built from the same steps, or a copy."""
        sibling = siblings.get(id(steps)) if siblings is not None else None
        if sibling is not None and len(sibling._steps) == len(steps):
            self._steps = sibling._steps
            self._shared = sibling._shared = True
            self._ranges[STEPS], self._ranges[STEPS + 1] = sibling._ranges[STEPS], sibling._ranges[STEPS + 1]
            return
        self._steps = array("d", steps)
        self._widen_range(STEPS, self._steps, 0)
        if siblings is not None:
            siblings[id(steps)] = self

    def _widen_range(self, at: int, column: array, start: int) -> None:
        """Widen the (min, max) kept at ``at`` by the finite values of ``column[start:]``."""
        found = _widen(self._range(at), column, start)
        if found is not None:
            self._ranges[at], self._ranges[at + 1] = found

    def _range(self, at: int) -> tuple[float, float] | None:
        low = self._ranges[at]
        return None if low != low else (low, self._ranges[at + 1])

    def _cut(self, start: int, origin: str | None) -> None:
        if start == 0:
            self._cuts = None
        elif self._cuts is None:
            self._cuts = [(0, self._origin), (start, origin)]
        else:
            self._cuts.append((start, origin))
        self._origin = origin

    def drop(self, origin: str) -> tuple[array, array]:
        """Remove the points that came from ``origin``; returns them (steps, values)."""
        stretches = self._stretches()
        kept = [(low, high, source) for low, high, source in stretches if source != origin]
        if len(kept) == len(stretches):
            return array("d"), array("d")
        dropped = self.of(origin)
        steps, values = self._steps, self._values
        self._clear()
        for low, high, source in kept:
            self.extend(steps[low:high], values[low:high], source)
        return dropped

    def of(self, origin: str) -> tuple[array, array]:
        """The points that came from ``origin`` (steps, values), in order."""
        steps, values = array("d"), array("d")
        for low, high, source in self._stretches():
            if source == origin:
                steps.extend(self._steps[low:high])
                values.extend(self._values[low:high])
        return steps, values

    def columns(self) -> tuple[array, array]:
        """Copies of the step and value columns, as ``array('d')``."""
        return array("d", self._steps), array("d", self._values)

    def _stretches(self) -> list[tuple[int, int, str | None]]:
        """(start, end, origin) of each run of points from one origin."""
        if self._cuts is None:
            return [(0, len(self._values), self._origin)] if len(self._values) else []
        ends = [start for start, _ in self._cuts[1:]] + [len(self._values)]
        return [(start, end, source) for (start, source), end in zip(self._cuts, ends, strict=True)]

    def steps_counted(self) -> float:
        """The largest finite step, counted from 1 (+1 when the steps start at 0); 0 if none."""
        return _count_from_one(self._range(STEPS))

    def values_counted(self) -> float:
        """The same for the values (an epoch column: epochs done, counted from 1)."""
        return _count_from_one(self._range(VALUES))

    def advances(self) -> bool:
        """Whether the finite values take more than one value (an epoch column that moves)."""
        return self._ranges[VALUES + 1] > self._ranges[VALUES]  # False while NaN (none yet)

    def __len__(self) -> int:
        return len(self._values)

    @property
    def steps(self) -> np.ndarray:
        """A copy of the steps (a view would pin the buffer and block appends)."""
        return np.array(self._steps, dtype=np.float64)

    @property
    def values(self) -> np.ndarray:
        """A copy of the values, NaN and inf included."""
        return np.array(self._values, dtype=np.float64)

    @property
    def last(self) -> float | None:
        """The newest value, or None when empty."""
        return self._values[-1] if self._values else None

    @property
    def last_step(self) -> float | None:
        """The newest step, or None when empty."""
        return self._steps[-1] if self._steps else None

    @property
    def step_range(self) -> tuple[float, float] | None:
        """The smallest and largest finite step (O(1)), or None when there is none."""
        return self._range(STEPS)

    def best(self, goal: str) -> float | None:
        """The lowest (goal ``min``) or highest finite value, or None when there is none (O(1))."""
        found = self._range(VALUES)
        if found is None:
            return None
        return found[0] if goal == "min" else found[1]

    def tail(self, count: int) -> np.ndarray:
        """The last ``count`` values (for sparklines)."""
        return np.array(self._values[-count:], dtype=np.float64)

    def nbytes(self) -> int:
        """Memory held by the two columns."""
        return self._steps.buffer_info()[1] * 8 + self._values.buffer_info()[1] * 8

    def __reduce__(self) -> tuple:
        # A one-shot load's child sends the series it built: values travel as bytes
        # (array's own pickling costs several times more), the step column as the array
        # itself, so that series sharing it still share it (pickled once).
        state = (self._steps, self._shared, self._values.tobytes(), self._ranges.tobytes(),
                 self._origin, self._cuts)  # fmt: skip
        return _unpickle_series, state


def _unpickle_series(
    steps: array, shared: bool, values: bytes, ranges: bytes, origin: str | None, cuts: list | None
) -> MetricSeries:
    series = MetricSeries.__new__(MetricSeries)
    series._steps, series._shared = steps, shared
    series._values, series._ranges = array("d", values), array("d", ranges)
    series._origin, series._cuts = origin, cuts
    return series


@dataclass(frozen=True, slots=True)
class ExpectedLength:
    """How long a run is meant to be, read from its config."""

    unit: str  # "epoch" or "step"
    count: float
    key: str


@dataclass(eq=False, slots=True)
class Run:
    """Everything known about one run. Mutated only by :class:`RunStore`."""

    id: str
    name: str
    path: str
    source: str
    params: dict[str, Any] = field(default_factory=dict)
    verdict: Verdict = PENDING
    """Status and reason, set by :mod:`sweeptui.lifecycle` only."""
    metrics: dict[str, MetricSeries] = field(default_factory=dict)
    epochs: MetricSeries | None = None
    summary: dict[str, float] = field(default_factory=dict)
    records: int = 0
    first_update: float | None = None
    last_update: float | None = None
    last_ingest: float | None = None
    last_arrival: float | None = None
    """When new data last arrived while watching (not set by the first, full read)."""
    expected: ExpectedLength | None = None
    error: str | None = None
    exit_code: int | None = None
    failure: Failure | None = None
    ended_at: float | None = None
    stopped_early: bool = False
    """Ended on purpose by the sweep tool before its planned length (see ``RunEnded``)."""
    end_claim: str | None = None
    """The status the files claimed (end marker, exit code, error text, tool state)."""
    end_basis: str = END_MARKER
    end_evidence: str | None = None
    """What said the run ended, in a few words (``RunEnded.evidence``)."""
    intervals: array = field(default_factory=lambda: array("d"))
    """The last :data:`CADENCE_HISTORY` intervals between updates (record times, or live
    arrivals without them), as doubles: a deque of float objects cost a kilobyte more a run."""
    last_record_time: float | None = None
    """The time carried by the newest record that had one (cadence across batches)."""
    cadence: float | None = None
    """Cached median of ``intervals``; None when unknown or to be recomputed."""
    issue_types: list[str] = field(default_factory=list)
    shares: dict[str | None, list] | None = None
    """``[records, first time, last time]`` each origin (a file that may be reset, see
    ``MetricBatch.origin``) gave, and under None what came from elsewhere; None until
    a resettable file gave something."""
    end_history: tuple[tuple, list[RunEnded]] | None = None
    """Once a resettable file claimed an end (``RunEnded.origin``): the end evidence
    before it and every end event since, so a reset can withdraw that file's claims."""

    @property
    def status(self) -> str:
        """``running``, ``finished``, ``crashed``, ``killed`` or ``failed`` (see ``verdict``)."""
        return self.verdict.status

    @property
    def status_reason(self) -> str:
        """One line: the evidence the status stands on."""
        return self.verdict.reason

    @property
    def ended(self) -> bool:
        """True once the run finished, crashed, was killed or failed."""
        return self.verdict.status in ENDED_STATUSES

    @property
    def last_step(self) -> float | None:
        """The largest step recorded by any metric."""
        steps = [s.last_step for s in self.metrics.values() if len(s)]
        return max(steps) if steps else None

    @property
    def last_epoch(self) -> float | None:
        """The newest epoch recorded, when the log records epochs."""
        return self.epochs.last if self.epochs is not None and len(self.epochs) else None

    def epochs_done(self) -> float | None:
        """Epochs done (counted from 1) when the log's epoch measures the run; else None.

        It does when it advances, or when it was logged up to the run's last step (a
        run that died in its first epoch). An epoch logged once (at step 0, say) while
        the metrics go on per step says nothing about how far the run got.
        """
        epochs = self.epochs
        if epochs is None or not len(epochs):
            return None
        if not epochs.advances():
            last = self.last_step
            if last is not None and epochs.last_step is not None and epochs.last_step < last:
                return None
        return epochs.values_counted()

    def progress(self) -> tuple[float | None, ExpectedLength | None]:
        """(amount done in the expected unit, expected length); done counts from 1.

        Zero-based epoch or step numbering (a log starting at 0) is shifted by one
        so that ``epochs: 10`` logged as 0..9 counts as complete. A length in steps or
        iterations is never measured against an expected length in epochs: without an
        advancing epoch column, done is unknown (None) for such a run.
        """
        expected = self.expected
        if expected is not None and expected.unit == "epoch" and self.records:
            return self.epochs_done(), expected
        series = self._longest_series()
        if series is None:
            return (0.0 if self.records == 0 else None), expected
        return series.steps_counted(), expected

    def fraction_done(self) -> float | None:
        """Done / expected, or None when either is unknown."""
        done, expected = self.progress()
        if done is None or expected is None or expected.count <= 0:
            return None
        return done / expected.count

    def _longest_series(self) -> MetricSeries | None:
        best: MetricSeries | None = None
        for series in self.metrics.values():
            if len(series) and (best is None or series.last_step > best.last_step):
                best = series
        return best


def _count_from_one(finite_range: tuple[float, float] | None) -> float:
    if finite_range is None:
        return 0.0
    low, high = finite_range
    return high + (1 if low == 0 else 0)


_SMALL = 64
"""Up to this many new points, plain Python beats numpy calls (measured: 50 points 4.4 us
against 7.4 us; about even at 100)."""


def _widen(
    current: tuple[float, float] | None, column: array, start: int
) -> tuple[float, float] | None:
    """``current`` widened by the finite values of ``column[start:]``."""
    if len(column) - start == 1:  # the live case: one new point
        value = column[start]
        if not math.isfinite(value):
            return current
        if current is None:
            return value, value
        return (value if value < current[0] else current[0]), (value if value > current[1] else current[1])
    if len(column) - start <= _SMALL:
        fresh_points = column[start:] if start else column
        # min and max pass over a NaN that is not first; a NaN first or an infinity shows
        low, high = min(fresh_points), max(fresh_points)
        if not (low - low == 0.0 and high - high == 0.0):
            finite = [v for v in fresh_points if math.isfinite(v)]
            if not finite:
                return current
            low, high = min(finite), max(finite)
    else:
        fresh = np.frombuffer(column, dtype=np.float64)[start:]
        low, high = float(fresh.min()), float(fresh.max())
        if not (math.isfinite(low) and math.isfinite(high)):  # NaN or inf among them
            fresh = fresh[np.isfinite(fresh)]
            if fresh.size == 0:
                return current
            low, high = float(fresh.min()), float(fresh.max())
    if current is None:
        return low, high
    return min(current[0], low), max(current[1], high)


def _note_intervals(run: Run, batch: MetricBatch, arrival: float | None) -> None:
    """Remember the intervals between this batch's record times (or, for records without
    times, since the previous live arrival): the run's cadence."""
    if len(batch.times):
        stamps = batch.times[-CADENCE_HISTORY - 1 :].tolist()
        if run.last_record_time is not None and len(batch.times) <= CADENCE_HISTORY:
            stamps.insert(0, run.last_record_time)
        run.last_record_time = stamps[-1]
        gaps = [later - earlier for earlier, later in itertools.pairwise(stamps)]
    elif arrival is not None and run.last_arrival is not None and arrival > run.last_arrival:
        gaps = [arrival - run.last_arrival]
    else:
        return
    # out-of-order timestamps say nothing about cadence
    run.intervals.extend([gap for gap in gaps if gap >= 0])
    if len(run.intervals) > CADENCE_HISTORY:
        del run.intervals[:-CADENCE_HISTORY]
    run.cadence = None


def drop_origin(run: Run, origin: str) -> dict[str, tuple[array, array]]:
    """Take back what ``origin`` gave ``run``: its points, its records and the cadence they
    showed (what the file holds now is read again and brings its own). Returns the points
    dropped, per metric."""
    dropped: dict[str, tuple[array, array]] = {}
    for name in list(run.metrics):
        series = run.metrics[name]
        points = dropped[name] = series.drop(origin)
        if points[0] and not len(series):
            del run.metrics[name]  # a metric only the old content had
    if run.epochs is not None and run.epochs.drop(origin)[0] and not len(run.epochs):
        run.epochs = None
    share = run.shares.pop(origin, None) if run.shares is not None else None
    if share is not None:
        run.records -= share[0]
        firsts = [kept[1] for kept in run.shares.values() if kept[1] is not None]
        lasts = [kept[2] for kept in run.shares.values() if kept[2] is not None]
        run.first_update = min(firsts) if firsts else None
        run.last_update = max(lasts) if lasts else None
    del run.intervals[:]
    run.last_record_time = None
    run.cadence = None
    _withdraw_ends(run, origin)
    return {name: points for name, points in dropped.items() if points[0]}


def gives_again(run: Run, origin: str, dropped: dict[str, tuple[array, array]]) -> bool:
    """Whether ``origin`` now gives ``run`` every point it gave before, in order, first (a
    log rewritten whole with a record or a column added), so its reset changed nothing seen."""
    for name, (steps, values) in dropped.items():
        series = run.metrics.get(name)
        if series is None:
            return False
        now_steps, now_values = series.of(origin)
        count = len(steps)
        if now_steps[:count].tobytes() != steps.tobytes() or now_values[:count].tobytes() != values.tobytes():
            return False
    return True


def _share(run: Run, origin: str | None) -> list | None:
    """What ``origin`` gave ``run`` so far, to add to; None while no resettable file gave
    the run anything (nothing can be withdrawn, so nothing is kept: the usual case)."""
    shares = run.shares
    if shares is None:
        if origin is None:
            return None
        shares = run.shares = {}
        if run.records or run.first_update is not None or run.last_update is not None:
            shares[None] = [run.records, run.first_update, run.last_update]  # from elsewhere
    share = shares.get(origin)
    if share is None:
        share = shares[origin] = [0, None, None]
    return share


def _widen_share(share: list, first: float | None, last: float | None) -> None:
    """Widen a share's time span to ``first`` and ``last`` (None: no time that end)."""
    if first is not None and (share[1] is None or first < share[1]):
        share[1] = first
    if last is not None and (share[2] is None or last > share[2]):
        share[2] = last


def _keep_end(run: Run, event: RunEnded) -> None:
    """Remember end events from the first that a resettable file gave (see ``end_history``)."""
    if run.end_history is None:
        if event.origin is None:
            return  # nothing can withdraw it: no history kept (the usual case)
        run.end_history = (end_state(run), [])
    run.end_history[1].append(event)


def _withdraw_ends(run: Run, origin: str) -> None:
    """Withdraw the ends ``origin`` claimed: the evidence from before them, then the other
    end events again, in order."""
    if run.end_history is None:
        return
    before, events = run.end_history
    kept = [event for event in events if event.origin != origin]
    if len(kept) == len(events):
        return
    restore_end(run, before)
    run.end_history = (before, kept) if kept else None
    for event in kept:
        record_end(run, event)


def in_step_order(steps: np.ndarray, *columns: np.ndarray) -> tuple[np.ndarray, ...]:
    """``steps`` and its parallel ``columns`` in step order (a stable sort, NaN steps last);
    as given when already in order, the usual case: logs are written as steps advance."""
    if np.count_nonzero(steps[1:] >= steps[:-1]) >= steps.size - 1:
        return (steps, *columns)
    order = np.argsort(steps, kind="stable")
    return (steps[order], *(column[order] for column in columns))


def points_batch(run: Run) -> MetricBatch:
    """Every point ``run`` holds now as one batch (copies), for judging the run again.

    It counts no records: the points are in the store already.
    """
    metrics = {name: Series(*series.columns()) for name, series in run.metrics.items()}
    epochs = Series(*run.epochs.columns()) if run.epochs is not None else None
    return MetricBatch(run.id, metrics, 0, mtime=run.last_update, epochs=epochs)


_LEARNING_RATE = re.compile(r"(^|[._-])(lr|learning[_-]?rate|max[_-]?lr|base[_-]?lr|eta)$", re.I)


def is_learning_rate(name: str) -> bool:
    """Whether a param name reads as a learning rate (``lr``, ``optimizer.learning_rate``...)."""
    return bool(_LEARNING_RATE.search(name))


def flatten_params(params: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts become dotted keys; lists and other non-scalars become strings."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_params(value, f"{name}."))
        elif value is None or isinstance(value, (bool, int, float, str)):
            flat[name] = value
        else:
            flat[name] = str(value)
    return flat


def split_params(runs: Iterable[Run]) -> tuple[list[str], dict[str, Any], dict[str, int]]:
    """(varying param names, constant params, runs lacking each param) over ``runs``.

    A missing value (the key absent, or ``None``) is not a value of the param: a param
    varies when it takes two or more values among the runs that have it, and a param
    with one value wherever it is set is a constant. ``lacking`` counts, for every
    param some runs have and others lack, the runs without a value.
    """
    runs = list(runs)
    seen: dict[str, set[str]] = {}
    first: dict[str, Any] = {}
    present: dict[str, int] = {}
    for run in runs:
        for key, value in run.params.items():
            values = seen.setdefault(key, set())
            if value is not None:
                values.add(repr(value))
                first.setdefault(key, value)
                present[key] = present.get(key, 0) + 1
    varying = sorted(key for key, values in seen.items() if len(values) > 1)
    constants = {key: first.get(key) for key in sorted(seen) if len(seen[key]) <= 1}
    lacking = {key: len(runs) - count for key, count in sorted(present.items())
               if count < len(runs)}  # fmt: skip
    return varying, constants, lacking


def varying_params(runs: Iterable[Run]) -> list[str]:
    """Params that take two or more values among the runs that set them (missing is no value)."""
    return split_params(runs)[0]


def expected_length(params: dict[str, Any]) -> ExpectedLength | None:
    """The run's intended length from well-known config keys (``epochs``, ``max_steps``...)."""
    by_leaf = {key.rsplit(".", 1)[-1].lower(): (key, value) for key, value in params.items()}
    for unit, keys in (("epoch", EPOCH_KEYS), ("step", STEP_KEYS)):
        for leaf in keys:
            if leaf in by_leaf:
                key, value = by_leaf[leaf]
                number = _as_positive_number(value)
                if number is not None:
                    return ExpectedLength(unit, number, key)
    return None


def _as_positive_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


class RunStore:
    """All runs of one sweep, the issues found so far and the warnings from reading."""

    def __init__(self, root: Path | str = ".") -> None:
        # a tracking server's URL stays as given (a Path would fold its "//")
        self.root: Path | str = root if isinstance(root, str) and "://" in root else Path(root)
        self.runs: dict[str, Run] = {}
        self.issues: list[Issue] = []
        self.warnings: list[SourceWarning] = []
        self.warning_count = 0
        self.resets: deque[FileReset] = deque(maxlen=MAX_RESETS)
        """The newest file resets that changed a run's points: logs replaced or truncated,
        read again (see :meth:`settle_resets`)."""
        self.resets_seen = 0
        """Such resets ever applied (a count that never goes down)."""
        self._unsettled: list[tuple[FileReset, dict[str, tuple[array, array]]]] = []
        """Resets applied in the read going on, with the points each dropped."""
        self.version = 0
        self._issue_keys: set[tuple[str, str]] = set()
        self._serials: list[int] = []
        """A serial number per issue, parallel to ``issues`` (ascending)."""
        self._next_serial = 0
        self._changed: set[str] = set()
        self._given_names: dict[str, tuple[str, str]] = {}
        """Run id -> (name its source gave, distinct name shown instead)."""

    # -- events ---------------------------------------------------------------
    def apply(self, event: Event, now: float | None = None, live: bool = False) -> Run | None:
        """Apply one event; returns the run it touched (None for warnings), or the run it
        removed for a :class:`RunWithdrawn`.

        ``now`` is when it was read; ``live`` says it arrived while watching (after the
        first full read), so its arrival counts as a sign of life.
        """
        self.version += 1
        if isinstance(event, SourceWarning):
            self._warn(event)
            return None
        if isinstance(event, RunSeen):
            run = self._see(event)
        elif isinstance(event, RunWithdrawn):
            return self._withdraw(event.run_id)
        else:
            run = self.runs.get(event.run_id)
            if run is None:
                self._warn(SourceWarning(event.run_id, "data for an unknown run was ignored"))
                return None
            if isinstance(event, MetricBatch):
                self._add_metrics(run, event, now, live)
            elif isinstance(event, SummarySeen):
                run.summary.update(event.values)
            elif isinstance(event, RunEnded):
                share = _share(run, event.origin) if event.time is not None else None
                if share is not None:  # before this end counts
                    _widen_share(share, None, event.time)
                _keep_end(run, event)
                record_end(run, event)
            elif isinstance(event, FileReset):
                self._unsettled.append((event, drop_origin(run, event.path)))
        self._changed.add(run.id)
        return run

    def _see(self, event: RunSeen) -> Run:
        run = self.runs.get(event.run_id)
        if run is None:
            run = Run(event.run_id, event.name, event.path, event.source)
            self.runs[run.id] = run
        else:
            given = self._given_names.get(run.id)
            name = event.name or run.name
            run.name = given[1] if given is not None and given[0] == name else name
        if event.params is not None:
            run.params = flatten_params(event.params)
            run.expected = expected_length(run.params)
        if event.started_at is not None:
            share = _share(run, event.origin)  # before this start counts
            if share is not None:
                _widen_share(share, event.started_at, None)
            if run.first_update is None:
                run.first_update = event.started_at
        return run

    def _withdraw(self, run_id: str) -> Run | None:
        """Remove a run and its issues (it was not a run of the sweep); the run removed, if any."""
        run = self.runs.pop(run_id, None)
        if run is None:
            return None
        self.retract_issues(run_id, list(run.issue_types))
        self._given_names.pop(run_id, None)
        self._changed.add(run_id)  # incremental views drop its row
        return run

    def _add_metrics(self, run: Run, batch: MetricBatch, now: float | None, live: bool) -> None:
        origin = batch.origin
        siblings: dict[int, MetricSeries] = {}  # the batch's step columns, copied once
        for name, series in batch.metrics.items():
            if len(series.values) == 0:
                continue
            target = run.metrics.get(name)
            if target is None:
                target = run.metrics[name] = MetricSeries()
            target.extend(series.steps, series.values, origin, siblings)
        if batch.epochs is not None and len(batch.epochs.values):
            if run.epochs is None:
                run.epochs = MetricSeries()
            run.epochs.extend(batch.epochs.steps, batch.epochs.values, origin, siblings)
        share = _share(run, origin)  # before this batch counts
        run.records += batch.records
        if share is not None:
            share[0] += batch.records
        _note_intervals(run, batch, now if live else None)
        stamp = batch.times[-1] if len(batch.times) else batch.mtime
        if stamp is not None:
            first = batch.times[0] if len(batch.times) else stamp
            if run.first_update is None or first < run.first_update:
                run.first_update = first
            if run.last_update is None or stamp > run.last_update:
                run.last_update = stamp
            if share is not None:
                _widen_share(share, first, stamp)
        if now is not None:
            run.last_ingest = now
            if live:
                run.last_arrival = now

    def adopt_columns(
        self, run: Run, metrics: dict[str, MetricSeries], epochs: MetricSeries | None
    ) -> None:
        """Give ``run``, which holds no points yet, the series another store built from
        its one metric batch (a one-shot load's child process, :mod:`sweeptui.readalone`):
        what applying that batch here would build, without building it again."""
        run.metrics.update(metrics)
        if epochs is not None:
            run.epochs = epochs

    def settle_resets(self) -> None:
        """Once a read is applied, note each of its resets that changed what the run holds:
        the file now gives other points than it gave. One that gives them all again, and
        perhaps more (a log rewritten whole), changed nothing a view shows."""
        for event, dropped in self._unsettled:
            run = self.runs.get(event.run_id)
            if run is None or not gives_again(run, event.path, dropped):
                self.resets.append(event)
                self.resets_seen += 1
                self.version += 1
        self._unsettled.clear()

    def _warn(self, warning: SourceWarning) -> None:
        self.warning_count += 1
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(warning)

    def distinguish_names(self) -> None:
        """Runs shown under one name that is the end of their paths (three ``version_0``
        folders) get the shortest end of their path no other of them shares."""
        by_name: dict[str, list[Run]] = {}
        for run in self.runs.values():
            given = self._given_names.get(run.id)
            by_name.setdefault(given[0] if given else run.name, []).append(run)
        for name, runs in by_name.items():
            if len(runs) > 1:
                self._distinguish(name, runs)

    def _distinguish(self, name: str, runs: list[Run]) -> None:
        tail = name.split("/")
        parts = [tuple(run.path.split("/")) for run in runs]
        if not all(list(p[-len(tail):]) == tail for p in parts):
            return  # a name of the tool's own (W&B, Optuna): not a path to extend
        depths: list[int | None] = [None] * len(runs)
        for depth in range(len(tail), max(map(len, parts)) + 1):
            counts = Counter(p[-depth:] for p in parts)
            for index, p in enumerate(parts):
                if depths[index] is None and (counts[p[-depth:]] == 1 or depth >= len(p)):
                    depths[index] = depth
        for run, p, depth in zip(runs, parts, depths, strict=True):
            distinct = "/".join(p[-(depth or len(p)):])
            self._given_names[run.id] = (name, distinct)
            if run.name != distinct:
                run.name = distinct
                self._changed.add(run.id)
                self.version += 1

    # -- issues found by detectors -----------------------------------------------
    def add_issue(self, issue: Issue) -> bool:
        """Record an issue once per (run, type); returns False for a repeat."""
        key = (issue.run, issue.type)
        if key in self._issue_keys:
            return False
        self._issue_keys.add(key)
        self.issues.append(issue)
        self._next_serial += 1
        self._serials.append(self._next_serial)
        run = self.runs.get(issue.run)
        if run is not None:
            run.issue_types.append(issue.type)
            self._changed.add(run.id)
        self.version += 1
        return True

    def has_issue(self, run_id: str, issue_type: str) -> bool:
        """Whether ``run_id`` already carries an issue of ``issue_type``."""
        return (run_id, issue_type) in self._issue_keys

    def retract_issues(self, run_id: str, issue_types: Iterable[str]) -> list[Issue]:
        """Withdraw a run's issues of ``issue_types`` (a silence that turned out to be the end).

        The serial numbers of the remaining issues do not change, so views that follow
        :meth:`issues_since` miss nothing.
        """
        types = set(issue_types)
        gone = [i for i in self.issues if i.run == run_id and i.type in types]
        if not gone:
            return []
        keep = [(i, n) for i, n in zip(self.issues, self._serials, strict=True) if i not in gone]
        self.issues = [i for i, _ in keep]
        self._serials = [n for _, n in keep]
        for issue in gone:
            self._issue_keys.discard((issue.run, issue.type))
        run = self.runs.get(run_id)
        if run is not None:
            run.issue_types = [t for t in run.issue_types if t not in types]
            self._changed.add(run_id)
        self.version += 1
        return gone

    @property
    def issues_added(self) -> int:
        """Issues ever added, withdrawn ones included (a count that never goes down)."""
        return self._next_serial

    def issues_since(self, serial: int) -> tuple[list[Issue], int]:
        """(issues added after ``serial``, the newest serial): new issues for a view."""
        start = bisect.bisect_right(self._serials, serial)
        return self.issues[start:], self._next_serial

    def mark_changed(self, run_id: str) -> None:
        """Note that a run's verdict changed (for incremental views)."""
        self._changed.add(run_id)
        self.version += 1

    # -- reading ----------------------------------------------------------------
    def __iter__(self) -> Iterator[Run]:
        return iter(self.runs.values())

    def __len__(self) -> int:
        return len(self.runs)

    def drain_changed(self) -> set[str]:
        """Ids of runs changed since the last call (for incremental views)."""
        changed, self._changed = self._changed, set()
        return changed

    def newest_update(self) -> float | None:
        """The latest update time of any run: 'now' for a post-hoc report."""
        stamps = [run.last_update for run in self.runs.values() if run.last_update is not None]
        return max(stamps) if stamps else None

    def status_counts(self) -> dict[str, int]:
        """Runs per status, every status present (zeros included)."""
        counts = dict.fromkeys(STATUSES, 0)
        for run in self.runs.values():
            counts[run.status] += 1
        return counts

    def issue_counts(self) -> dict[str, int]:
        """Issues per type, only types that occurred."""
        counts: dict[str, int] = {}
        for issue in self.issues:
            counts[issue.type] = counts.get(issue.type, 0) + 1
        return counts

    def metric_names(self) -> list[str]:
        """Every metric and summary name seen in any run, sorted."""
        names: set[str] = set()
        for run in self.runs.values():
            names.update(run.metrics)
            names.update(run.summary)
        return sorted(names)

    def sweep_issues(self) -> list[Issue]:
        """Issues about the sweep as a whole rather than one run."""
        return [issue for issue in self.issues if issue.run == SWEEP_RUN_ID]
