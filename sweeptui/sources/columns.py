"""Metric records turned into columns: the hot path of the run-directory reader.

:class:`Columns` gathers the new points of one read per metric. Points arrive three
ways and keep their order: record by record into plain lists (:func:`add_record`,
used for anything unusual); a whole span of parsed records at once as float64 arrays
(:func:`add_uniform`, used when the records share one key set and hold plain
numbers, which is what a training loop writes); or such lines straight from their
bytes (:func:`add_leading_lines`, through the C reader
:mod:`sweeptui.sources._jsonl_columns` where the install could compile it). All give
the same points.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from itertools import chain
from operator import itemgetter

import numpy as np

from sweeptui.events import MetricBatch, Series
from sweeptui.sources.jsonio import MILLISECONDS_THRESHOLD, parse_time, to_float

try:
    from sweeptui.sources._jsonl_columns import leading_columns
except ImportError:  # installed without a C compiler: the Python path reads every line
    leading_columns = None

TIME_KEYS = ("time", "timestamp", "_timestamp", "wall_time")
NOT_METRICS = frozenset(("step", "epoch", "status", "event", "exit_code", *TIME_KEYS))
MIN_SPAN = 8
"""Spans shorter than this are cheaper record by record than column by column."""

NUMBERS_OR_NULL = frozenset((int, float, type(None)))


@dataclass
class PointBatch:
    """Points one read collected, per metric, before they become a MetricBatch.

    For readers that decode one point at a time (binary logs); readers of JSON
    lines and CSV rows use :class:`Columns`, which can also take whole spans.
    """

    metrics: dict[str, tuple[array, array]] = field(default_factory=dict)
    times: array = field(default_factory=lambda: array("d"))
    records: int = 0
    summary: dict[str, float] = field(default_factory=dict)

    def add(self, name: str, step: float, value: float) -> None:
        """Append one point of metric ``name``."""
        column = self.metrics.get(name)
        if column is None:
            column = self.metrics[name] = (array("d"), array("d"))
        column[0].append(step)
        column[1].append(value)


class Columns:
    """New points of one read: per metric, converted arrays followed by pending lists.

    ``metrics[name]`` is ``(steps, values)`` lists for record-by-record appends; a
    bulk add first moves a column's pending lists into its arrays, so points stay
    in arrival order. ``origin`` is the file they come from, when a reset of it may
    take them back (see :attr:`~sweeptui.events.MetricBatch.origin`).
    """

    __slots__ = (
        "_arrays", "_epoch_arrays", "_time_array", "epoch_steps", "epoch_values", "metrics",
        "mtime", "origin", "records", "times",
    )  # fmt: skip

    def __init__(self, origin: str | None = None) -> None:
        self.origin = origin
        self._clear()

    def discard(self) -> None:
        """Forget every point gathered (they came from content that no longer stands)."""
        self._clear()

    def _clear(self) -> None:
        self.metrics: dict[str, tuple[list, list]] = {}
        self.epoch_steps: list[float] = []
        self.epoch_values: list[float] = []
        self.times: list[float] = []
        self.records = 0
        self.mtime: float | None = None
        self._arrays: dict[str, tuple[array, array]] = {}
        self._epoch_arrays = (array("d"), array("d"))
        self._time_array = array("d")

    def column(self, name: str) -> tuple[list, list]:
        """The (steps, values) lists of ``name``, created on first use."""
        found = self.metrics.get(name)
        if found is None:
            found = self.metrics[name] = ([], [])
        return found

    def extend(self, name: str, steps: array, values: array) -> None:
        """Append converted points to ``name`` after its pending ones."""
        pending = self.column(name)
        target = self._settled(name, pending)
        target[0].extend(steps)
        target[1].extend(values)

    def extend_epochs(self, steps: array, epochs: array) -> None:
        """Append converted step -> epoch pairs after the pending ones."""
        target = self._epoch_arrays
        _settle(self.epoch_steps, target[0])
        _settle(self.epoch_values, target[1])
        target[0].extend(steps)
        target[1].extend(epochs)

    def extend_times(self, stamps: array) -> None:
        """Append converted record times after the pending ones."""
        _settle(self.times, self._time_array)
        self._time_array.extend(stamps)

    def build(self, run_id: str) -> MetricBatch | None:
        """One MetricBatch of everything gathered, or None when nothing was."""
        if not self.records and not self.metrics:
            return None
        shared = _SharedSteps()
        metrics = {}
        for name, lists in self.metrics.items():
            steps, values = self._settled(name, lists)
            metrics[name] = Series(shared(steps), values)
        epoch_steps, epoch_values = self._epoch_arrays
        self._epoch_arrays = epoch_steps, epoch_values = (
            _moved(self.epoch_steps, epoch_steps), _moved(self.epoch_values, epoch_values)
        )
        epochs = Series(shared(epoch_steps), epoch_values) if epoch_steps else None
        self._time_array = _moved(self.times, self._time_array)
        return MetricBatch(
            run_id, metrics, self.records, self._time_array, self.mtime, epochs, self.origin
        )

    def take(self, run_id: str) -> MetricBatch | None:
        """:meth:`build`, leaving these columns empty for the points that follow."""
        batch = self.build(run_id)
        self._clear()
        return batch

    def _settled(self, name: str, pending: tuple[list, list]) -> tuple[array, array]:
        """The arrays of ``name`` with its pending lists moved into them."""
        target = self._arrays.get(name)
        if target is None:  # only record-by-record points (a live read): convert at once
            target = self._arrays[name] = (_moved(pending[0]), _moved(pending[1]))
            return target
        _settle(pending[0], target[0])
        _settle(pending[1], target[1])
        return target


class _SharedSteps:
    """One array object for equal step columns of a batch.

    The metrics of a training loop's records share their steps; a batch that holds
    them once pickles (a child process's read, sent to its parent) at about half the
    size. Readers of a batch copy its arrays, never extend them.
    """

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: dict[bytes, array] = {}

    def __call__(self, steps: array) -> array:
        return self._seen.setdefault(steps.tobytes(), steps)


def _settle(pending: list, target: array) -> None:
    """Move ``pending`` into ``target`` as doubles."""
    if pending:
        target.extend(doubles(pending))
        pending.clear()


def _moved(pending: list, target: array | None = None) -> array:
    """``target`` with ``pending`` moved into it; a new array when ``target`` is empty."""
    if target:
        _settle(pending, target)
        return target
    converted = doubles(pending)
    pending.clear()
    return converted


def doubles(values: list) -> array:
    """``values`` as an ``array('d')``; an integer beyond float range becomes infinite."""
    try:
        return array("d", values)
    except OverflowError:
        return array("d", (to_float(v) for v in values))


# -- record by record ------------------------------------------------------------------------
def record_time(record: dict) -> float | None:
    """The record's wall-clock time in seconds, from the first time key it carries."""
    for key in TIME_KEYS:
        value = record.get(key)
        if value is not None:
            if type(value) is float and value < MILLISECONDS_THRESHOLD:
                return value  # the common case, without the general parser
            return parse_time(value)
    return None


def add_record(record: dict, position: int, columns: Columns) -> None:
    """Add one parsed JSONL record's numeric fields as points at its step.

    The exact path for any record; plain numbers skip every helper call.
    """
    epoch = record.get("epoch")
    step = record.get("step", epoch)
    kind = type(step)
    if kind is not float and kind is not int:
        step = position if step is None else to_float(step)
        if step is None:
            step = position
    if step != step:  # a NaN step cannot order points
        step = position
    if epoch is not None:
        kind = type(epoch)
        if kind is float or kind is int or (epoch := to_float(epoch)) is not None:
            columns.epoch_steps.append(step)
            columns.epoch_values.append(epoch)
    stamp = record_time(record)
    if stamp is not None:
        columns.times.append(stamp)
    metrics = columns.metrics
    points = 0
    for key, value in record.items():
        kind = type(value)
        if (kind is not float and kind is not int) and (
            kind is not str or (value := to_float(value)) is None
        ):
            continue
        if key in NOT_METRICS:
            continue
        column = metrics.get(key)
        if column is None:
            column = metrics[key] = ([], [])
        column[0].append(step)
        column[1].append(value)
        points += 1
    if points or not ("status" in record or "event" in record):
        columns.records += 1  # an end-marker line alone is not a metric record


# -- a span at once ------------------------------------------------------------------------------
class _NotUniform(Exception):
    """The span needs the record-by-record path."""


def add_uniform(span: list, position: int, columns: Columns) -> bool:
    """Add ``span`` (records at positions ``position``...) column by column.

    Gives exactly the points :func:`add_record` would give record by record, or
    returns False without touching ``columns`` when the span needs that path: not
    all dicts with one key set, an end marker, a non-numeric or NaN step, an
    unusual time, or a metric holding anything but numbers and nulls (strings such
    as ``"nan"``, bools, lists...).
    """
    try:
        planned = _plan(span, position)
    except (_NotUniform, KeyError, TypeError, OverflowError):
        return False
    _add_planned(planned, len(span), columns)
    return True


def add_leading_lines(data: bytes, position: int, columns: Columns) -> tuple[int, int]:
    """Add the leading lines of ``data`` (complete JSON lines, records at positions
    ``position``...) straight from their bytes, when they are objects with one key set
    holding plain numbers; ``(lines, bytes)`` taken, ``(0, 0)`` when none were.

    The C reader (:mod:`sweeptui.sources._jsonl_columns`) converts them, and the lines
    then go the way :func:`add_uniform` takes them as parsed records, giving the same
    points; the rest of ``data`` is for the caller's parse. Takes nothing when the
    reader is not built (no C compiler at install), for fewer than :data:`MIN_SPAN`
    lines, or when the span needs the record-by-record path.
    """
    if leading_columns is None:
        return 0, 0
    found = leading_columns(data)
    if found is None or found[2] < MIN_SPAN:
        return 0, 0
    keys, packed, lines, size = found
    try:
        planned = _planned_table(keys, _unpacked(keys, packed, lines), position, lines)
    except _NotUniform:
        return 0, 0
    _add_planned(planned, lines, columns)
    return lines, size


def _unpacked(keys: tuple[str, ...], packed: bytes, lines: int) -> dict[str, array]:
    """The C reader's doubles (each key's ``lines`` in turn) as one array per key."""
    view, width = memoryview(packed), lines * 8
    table = {}
    for index, key in enumerate(keys):
        table[key] = column = array("d")
        column.frombytes(view[index * width : (index + 1) * width])
    return table


def _add_planned(planned: tuple, count: int, columns: Columns) -> None:
    """Add the columns :func:`_planned` converted from ``count`` records."""
    steps, epochs, stamps, metrics = planned
    if epochs is not None:
        columns.extend_epochs(steps, epochs)
    if stamps is not None:
        columns.extend_times(stamps)
    # New columns appear in the order the record-by-record path would meet them.
    for _, name, kept, values in sorted(metrics, key=itemgetter(0)):
        if kept is None:
            columns.extend(name, steps, values)
        else:
            columns.extend(name, array("d", [steps[i] for i in kept]), values)
    columns.records += count


def _plan(span: list, position: int) -> tuple:
    """Every column of the span, converted; raises when the span is not uniform."""
    first = span[0]
    if type(first) is not dict:
        raise _NotUniform
    if set(map(len, span)) != {len(first)}:  # with every key found below: one key set
        raise _NotUniform
    keys = tuple(first)
    table = _table(span, keys)
    if table is not None:  # the usual case: every value a plain number
        return _planned_table(keys, table, position, len(span))
    return _planned(keys, partial(_numbers, span), partial(_metric, span), position, len(span), span)


def _planned_table(keys: tuple[str, ...], table: dict[str, array], position: int, count: int) -> tuple:
    """:func:`_planned` for a span whose every value is a plain number, one array a key."""
    return _planned(keys, table.__getitem__, lambda key: (0, key, None, table[key]), position, count)


def _planned(
    keys: tuple[str, ...],
    numbers: Callable[[str], array],
    metric: Callable[[str], tuple | None],
    position: int,
    count: int,
    span: list | None = None,
) -> tuple:
    """``(steps, epochs, stamps, metrics)`` of ``count`` records with ``keys``, their
    columns got from ``numbers`` and ``metric``; raises when the span is not uniform.
    ``span``: the records, when some may lack a key (the per-key path)."""
    if "status" in keys or "event" in keys:
        raise _NotUniform  # an end marker goes record by record
    epochs = numbers("epoch") if "epoch" in keys else None
    steps = _steps(numbers, keys, epochs, position, count)
    time_key = next((name for name in TIME_KEYS if name in keys), None)
    stamps = _times(numbers, time_key) if time_key is not None else None
    read = ("step", "epoch", time_key)
    metrics = []
    for key in keys:
        if key in NOT_METRICS:
            if span is not None and key not in read and not all(key in record for record in span):
                raise _NotUniform  # a key no column reads must still be in every record
            continue
        metrics.append(metric(key))
    return steps, epochs, stamps, [found for found in metrics if found is not None]


def _table(span: list, keys: tuple) -> dict[str, array] | None:
    """Every key's column as doubles when the span's values are all plain numbers (no
    null, string or bool), converted at once; None otherwise (the per-key path then
    sorts the span out). Raises KeyError when a record lacks one of ``keys``.

    ``struct`` packs Python numbers into doubles about four times faster than
    ``array('d')`` takes them (which parses each value as a call argument), and one
    pass over the records' values costs less than a pass per key.
    """
    width = len(keys)
    if width < 2:  # itemgetter of one key gives the value, not a row
        return None
    rows = list(map(itemgetter(*keys), span))
    try:
        packed = struct.pack(f"{len(rows) * width}d", *chain.from_iterable(rows))
    except struct.error:  # a null, a string, a container, an int beyond float range
        return None
    matrix = np.frombuffer(packed, dtype=np.float64).reshape(len(rows), width)
    # struct, like array('d'), takes bools as 0 and 1: only those values need a look
    for index in np.flatnonzero((matrix == 0.0) | (matrix == 1.0)).tolist():
        if type(rows[index // width][index % width]) is bool:
            return None
    columns = matrix.T.copy()
    return {key: array("d", columns[position].tobytes()) for position, key in enumerate(keys)}


def _numbers(span: list, key: str) -> array:
    converted = plain_doubles(list(map(itemgetter(key), span)))
    if converted is None:
        raise _NotUniform
    return converted


def plain_doubles(values: list) -> array | None:
    """``values`` as doubles when every one is an int or a float; else None.

    ``array('d')`` rejects nulls, strings, lists and dicts itself but takes bools as
    0 and 1, so the types are looked at only where a 0 or 1 could hide a bool. An
    integer beyond float range raises OverflowError.
    """
    try:  # struct converts numbers several times faster than array('d') does
        converted = array("d", struct.pack(f"{len(values)}d", *values))
    except struct.error:  # array('d') tells a non-number from an int beyond float range
        try:
            converted = array("d", values)
        except TypeError:
            return None
    points = np.frombuffer(converted, dtype=np.float64)
    suspects = np.flatnonzero((points == 0.0) | (points == 1.0)).tolist()
    if not suspects:
        return converted
    held = itemgetter(*suspects)(values) if len(suspects) > 1 else (values[suspects[0]],)
    return None if bool in set(map(type, held)) else converted


def _steps(
    numbers: Callable[[str], array], keys: tuple[str, ...], epochs: array | None, position: int, count: int
) -> array:
    if "step" in keys:
        steps = numbers("step")
    elif epochs is not None:
        steps = epochs
    else:
        return array("d", range(position, position + count))
    if np.isnan(np.frombuffer(steps, dtype=np.float64)).any():
        raise _NotUniform  # a NaN step takes the record's position
    return steps


def _times(numbers: Callable[[str], array], key: str) -> array:
    stamps = numbers(key)
    # Finite seconds only: milliseconds, NaN and the like go through parse_time.
    if not (np.abs(np.frombuffer(stamps, dtype=np.float64)) <= MILLISECONDS_THRESHOLD).all():
        raise _NotUniform
    return stamps


def _metric(span: list, key: str) -> tuple[int, str, list | None, array] | None:
    """``(first index holding a number, key, indices kept or None for all, values)``.

    None when the key holds only nulls (no point, no column, as record by record).
    """
    values = list(map(itemgetter(key), span))
    converted = plain_doubles(values)
    if converted is not None:
        return 0, key, None, converted
    if not set(map(type, values)) <= NUMBERS_OR_NULL:
        raise _NotUniform
    kept = [i for i, value in enumerate(values) if value is not None]
    if not kept:
        return None
    return kept[0], key, kept, array("d", [values[i] for i in kept])


def segments(records: list, first: int) -> list[tuple[int, int, bool]]:
    """``(low, high, uniform)`` spans covering ``records[first:]`` in order.

    A uniform span holds at least :data:`MIN_SPAN` dicts with the same keys; every
    other record is a span of its own for the record-by-record path.
    """
    runs: list[list[int]] = []  # [low, high] of consecutive dicts sharing keys
    previous: tuple | None = None
    for index in range(first, len(records)):
        record = records[index]
        key = tuple(record) if type(record) is dict else None
        if key is not None and key == previous:
            runs[-1][1] = index + 1
        else:
            runs.append([index, index + 1])
            previous = key
    spans: list[tuple[int, int, bool]] = []
    for low, high in runs:
        if high - low >= MIN_SPAN:
            spans.append((low, high, True))
        else:
            spans.extend((index, index + 1, False) for index in range(low, high))
    return spans


__all__ = [
    "NOT_METRICS", "TIME_KEYS", "Columns", "add_leading_lines", "add_record", "add_uniform", "doubles",
    "record_time", "segments",
]  # fmt: skip
