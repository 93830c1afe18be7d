"""Runs read and judged in forked child processes during a one-shot load.

A post-hoc load of a sweep of many run directories spends its time parsing logs and
judging each run's metrics, and no run depends on another for either. During a
one-shot load (:func:`sweeptui.sources.forked.one_shot_load`) :func:`read_in_children`
hands the readers that read alone (:attr:`~sweeptui.sources.base.Reader.reads_alone`)
to forked children, when the machine has a core to spare (see
:func:`~sweeptui.sources.forked.spare_core`) and the runs have logs long enough for it
to pay (:data:`PARALLEL_MIN_BYTES`). A child reads one reader in full, admits its events, and applies
them to a store and detector engine of its own that hold just that run, the way the
parent would; so the issues each metric batch raised there are the ones it would raise
in the parent. The parent then takes the reader's state over, applies the events to
its store and records the child's verdicts instead of judging the batches again; a run
the read gave one metric batch comes with the columns the child's store built from it,
which the parent takes as they are instead of building them again (that batch comes
without its points). Run endings and the sweep-level checks stay in the parent: they
depend on the other runs.

What a child cannot vouch for, the parent reads again itself (its copy of the reader is
untouched): a run the parent already knows from another reader, a once-per-sweep note
another reader has said already, a file reset (judged against the points before it), a
reader or store error (said as a serial read says it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sweeptui.detectors.engine import DetectorEngine, RunState
from sweeptui.events import Event, FileReset, MetricBatch, RunEnded
from sweeptui.issues import Issue
from sweeptui.lifecycle import Lifecycle
from sweeptui.settings import Settings
from sweeptui.sources.admit import admit
from sweeptui.sources.base import Reader
from sweeptui.sources.forked import forked_map, spare_core, worker_count
from sweeptui.store import MetricSeries, RunStore

PARALLEL_MIN_READERS = 64
"""Readers below which a load reads serially (forking costs more than it saves)."""
PARALLEL_MIN_BYTES = 4 * 1024
"""Median bytes of metric logs a reader must have for children to pay. A log of a few
lines comes back as records the parent applies itself, which costs it about what reading
them does (2,000 runs of 5 lines: 1.7-2.0 s either way, half as much CPU again with
children); from a dozen lines on it comes back as built columns (20,000 runs of 50 lines,
~5 KB each: 27.9 s read serially, 16.9 s with children, the parent's peak 229 MB
against 216)."""
SIZE_SAMPLE = 16
"""Readers whose size is looked at (evenly spread over the eligible ones)."""


BuiltColumns = tuple[dict[str, MetricSeries], MetricSeries | None]
"""A run's metric series and its step -> epoch series, as a store built them."""


@dataclass(slots=True)
class ReadAlone:
    """One reader's full read, made in a child process."""

    parts: list[list[Event]]
    """The events of the read, in its parts, admitted (:func:`~sweeptui.sources.admit.admit`)."""
    state: dict[str, Any]
    """The reader's state after the read (:meth:`~sweeptui.sources.base.Reader.state`)."""
    notes: set[str]
    """Once-per-sweep notes the read said."""
    verdicts: list[list[Issue]]
    """Per metric batch, in order: the issues the metric detectors raised on it."""
    runs: dict[str, RunState]
    """The metric detectors' state of each run the read touched, after it."""
    columns: dict[str, BuiltColumns] = field(default_factory=dict)
    """The metric columns built from each run's one metric batch (sent without its points)."""

    def run_ids(self) -> set[str]:
        """The runs the events name."""
        return {event.run_id for events in self.parts for event in events if hasattr(event, "run_id")}


def read_in_children(
    readers: list[tuple[Reader, Any]], settings: Settings, root: Path | str, now: float, live: bool
) -> Iterator[tuple[int, ReadAlone | None]]:
    """``(position, read)`` for the readers of ``readers`` (reader, hint) that a child may
    read in full, in order; nothing when too few or when no child can be forked.
    A None read is one the child could not make (the parent reads it itself)."""
    eligible = [index for index, (reader, changed) in enumerate(readers)
                if changed is None and reader.reads_alone]  # fmt: skip
    if len(eligible) < PARALLEL_MIN_READERS or not _worth_it([readers[i][0] for i in eligible]):
        return
    workers = worker_count(len(eligible))
    if not workers:
        return

    def work(index: int) -> tuple[int, ReadAlone | None]:
        return index, read_alone(readers[index][0], settings, root, now, live)

    yield from forked_map(work, eligible, workers)


def _worth_it(readers: list[Reader]) -> bool:
    """Whether children would pay: a core to spare, and readers with enough to parse."""
    if not spare_core():
        return False
    sample = readers[:: max(1, len(readers) // SIZE_SAMPLE)][:SIZE_SAMPLE]
    sizes = sorted(size for reader in sample if (size := reader.size_hint()) is not None)
    return not sizes or sizes[len(sizes) // 2] >= PARALLEL_MIN_BYTES


def read_alone(
    reader: Reader, settings: Settings, root: Path | str, now: float, live: bool
) -> ReadAlone | None:
    """In a child: ``reader`` read in full and its metric batches judged; None on any error
    (the parent's serial read then meets it and says so as it always does)."""
    before = set(reader.notes)
    try:
        parts = [admit(events) for events in reader.read_parts(None)]
        if any(type(event) is FileReset for events in parts for event in events):
            return None  # a file reset mid-read is judged against the points before it
        verdicts, store, engine, batches = _judge(parts, settings, root, now, live)
        columns = _columns_built(parts, store, batches)
    except Exception:  # the parent reads this reader again and reports it
        return None
    runs = {run_id: engine.run_state(run_id) for run_id in store.runs}
    return ReadAlone(parts, reader.state(), reader.notes - before, verdicts, runs, columns)


def _judge(
    parts: list[list[Event]], settings: Settings, root: Path | str, now: float, live: bool
) -> tuple[list[list[Issue]], RunStore, DetectorEngine, Counter[str]]:
    """The parent's application of ``parts`` to a store holding only their runs: the
    issues of each metric batch, the store and engine, and each run's batches applied."""
    store = RunStore(root)
    engine = DetectorEngine(store, settings, Lifecycle(settings))
    engine.hold_sweep_checks(True)
    verdicts: list[list[Issue]] = []
    batches: Counter[str] = Counter()
    for events in parts:
        for event in events:
            run = store.apply(event, now, live)
            if run is None:
                continue
            if isinstance(event, MetricBatch):
                batches[run.id] += 1
                verdicts.append(engine.on_metrics(run, event))
            elif isinstance(event, RunEnded):
                engine.on_end(run)
    return verdicts, store, engine, batches


def _columns_built(
    parts: list[list[Event]], store: RunStore, batches: Counter[str]
) -> dict[str, BuiltColumns]:
    """The columns of each run the store built from one metric batch; that batch is
    replaced in ``parts`` by one without points (they travel once, as columns)."""
    single = {run_id for run_id, count in batches.items() if count == 1 and run_id in store.runs}
    for events in parts:
        for index, event in enumerate(events):
            if type(event) is MetricBatch and event.run_id in single:
                events[index] = replace(event, metrics={}, epochs=None)
    return {run_id: (store.runs[run_id].metrics, store.runs[run_id].epochs) for run_id in single}


__all__ = ["PARALLEL_MIN_READERS", "BuiltColumns", "ReadAlone", "read_alone", "read_in_children"]
