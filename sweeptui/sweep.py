"""One sweep being read: scanner + readers -> store -> detectors.

:class:`Sweep` is the engine every view uses. The headless report calls
:meth:`Sweep.load` once; the live app calls :meth:`Sweep.poll` with the paths the
file watcher saw change, and :meth:`Sweep.tick` on a timer. Only one thread may
drive a Sweep; views receive snapshots built from it, never the store itself.

Both drive the same judgment of each run's status (:mod:`sweeptui.lifecycle`) at the
clock's time, so on the same files ``report`` and ``watch`` agree. Data read by the
first full read is judged by its own times; data arriving later while watching also
counts by when it arrived.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sweeptui.detectors.engine import DetectorEngine
from sweeptui.events import Event, FileReset, MetricBatch, RunEnded, RunWithdrawn, SourceWarning
from sweeptui.issues import Issue
from sweeptui.lifecycle import Lifecycle
from sweeptui.readalone import BuiltColumns, ReadAlone, read_in_children
from sweeptui.settings import Settings
from sweeptui.sources import get_sources
from sweeptui.sources.admit import admit
from sweeptui.sources.base import Reader, is_server_url
from sweeptui.sources.forked import one_shot_load
from sweeptui.sources.scan import Scanner
from sweeptui.store import RunStore

HELD_RECORDS = 4096
"""Records (and other events) read before they are applied to the store."""


@dataclass
class PollResult:
    """What one poll changed: new issues, new warnings, runs touched."""

    issues: list[Issue] = field(default_factory=list)
    warnings: list[SourceWarning] = field(default_factory=list)
    changed_runs: set[str] = field(default_factory=set)
    events: int = 0
    unowned: list[str] = field(default_factory=list)
    """Changed paths no reader owns: perhaps a new run, worth a rescan."""


class Sweep:
    """Reads a sweep directory incrementally and keeps its store and issues current."""

    def __init__(
        self,
        root: Path | str,
        settings: Settings | None = None,
        source: str | None = None,
        readers: list[Reader] | None = None,
    ) -> None:
        """A sweep under the directory ``root``; or, given ``readers``, the sweep those
        readers follow (a tracking server: ``root`` is then its URL and nothing is scanned)."""
        self.remote = readers is not None
        self.root: Path | str = root if self.remote else Path(root)
        self.settings = settings or Settings()
        self.store = RunStore(self.root)
        self.lifecycle = Lifecycle(self.settings)
        self.detectors = DetectorEngine(self.store, self.settings, self.lifecycle)
        self.scanner = None if self.remote else Scanner(Path(root), get_sources(source), self.settings)
        self.readers: list[Reader] = []
        self._unread: list[Reader] = list(readers or [])
        self._indexed = -1
        self._live = False
        """True after the first full read: later data counts by when it arrived."""
        self._explained: tuple[tuple[int, int, int] | None, list[str]] = (None, [])

    # -- driving ---------------------------------------------------------------
    def load(self, now: float | None = None, meanwhile: Callable[[], object] | None = None) -> PollResult:
        """Post-hoc: read everything once and judge every run at ``now`` (the clock).

        ``meanwhile`` is work for this process while child processes read (see
        :func:`~sweeptui.sources.forked.one_shot_load`); it is not run when none does.
        """
        with one_shot_load(meanwhile):  # readers may be read in child processes
            result = self.rescan()  # every reader is new here, so this reads everything
        result.issues.extend(self.detectors.finalize(time.time() if now is None else now))
        self.detectors.release_ended(settled=True)
        return result

    def rescan(self, reread: bool = False) -> PollResult:
        """Walk the tree for new runs and files; read the new readers.

        ``reread`` also reads every known reader in full, catching whatever the file
        events missed and whatever a hinted read (see :meth:`poll`) skipped; the live
        app asks for it on its periodic rescans.
        """
        known = len(self.readers)
        fresh, warnings = self.scanner.scan() if self.scanner is not None else ([], [])
        fresh, self._unread = [*self._unread, *fresh], []
        self.readers.extend(fresh)
        result = PollResult(warnings=list(warnings))
        for warning in warnings:
            self.store.apply(warning)
        readers = self.readers if reread else self.readers[known:]
        result = _merge(result, self._read([(reader, None) for reader in readers]))
        self._live = True
        self.store.distinguish_names()
        return result

    def poll(self, changed: Iterable[Path | str] | None = None) -> PollResult:
        """Read what changed (``None``: every reader, in full). Cheap when nothing did.

        Each owning reader is handed the changed paths it owns, so it may read just
        those files (see :meth:`sweeptui.sources.base.Reader.read`).
        """
        if changed is None:
            return self._read([(reader, None) for reader in self.readers])
        unowned: list[str] = []
        owners = self._owners(list(changed), unowned)
        result = self._read([(self.readers[position], paths) for position, paths in owners])
        result.unowned = unowned
        return result

    def notes(self) -> list[str]:
        """The readers' lines for the live header (a tracking server's state)."""
        return [note for reader in self.readers if (note := reader.note())]

    def unread(self) -> list[str]:
        """Why runs are missing (nothing recognised, or a recognised place gave no run).

        Empty when every recognised place gave runs (and for a tracking server, whose
        reader says its own state in :meth:`notes`); recomputed only when the number of
        runs, readers or warnings changed (the live app asks at every snapshot).
        """
        if self.scanner is None:
            return []
        key = (len(self.store), len(self.readers), self.store.warning_count)
        if self._explained[0] != key:
            from sweeptui.unread import explain

            lines = explain(Path(self.root), self.readers, self.store, self.scanner.seen)
            self._explained = (key, lines)
        return self._explained[1]

    def tick(self, now: float | None = None) -> list[Issue]:
        """Time-based checks while watching: stalls against the clock, crash loops."""
        return self.detectors.on_tick(time.time() if now is None else now)

    # -- internals ---------------------------------------------------------------
    def _owners(
        self, paths: list[Path | str], unowned: list[str]
    ) -> list[tuple[int, list[Path | str]]]:
        """(reader position, the paths it owns) for the owners of ``paths``, in reader order.

        Paths nobody owns go to ``unowned``. Looked up by base path (a path's owners
        have it or one of its parents, up to the root, as base), so a poll costs per
        changed path rather than per reader; readers that override
        :meth:`Reader.owns` are asked directly.
        """
        if len(self.readers) != self._indexed:
            self._build_index()
        by_base, top = self._by_base, self._top
        owned: dict[int, list[Path | str]] = {}
        for path in paths:
            # plain strings: walking Path.parents costs ~30 us a path, too much at
            # a thousand changed files a second
            candidate = os.path.normpath(path)
            found = False
            while True:
                for position in by_base.get(candidate, ()):
                    owned.setdefault(position, []).append(path)
                    found = True
                parent = os.path.dirname(candidate)
                if candidate == top or parent == candidate:
                    break  # no reader's base lies above the root
                candidate = parent
            for position in self._custom_owners:
                if self.readers[position].owns(Path(path)):
                    owned.setdefault(position, []).append(path)
                    found = True
            if not found:
                unowned.append(str(path))
        return sorted(owned.items())

    def _build_index(self) -> None:
        self._top = os.path.normpath(self.root)
        self._by_base: dict[str, list[int]] = {}
        self._custom_owners: list[int] = []
        for position, reader in enumerate(self.readers):
            if type(reader).owns is Reader.owns:
                self._by_base.setdefault(os.path.normpath(reader.base), []).append(position)
            else:
                self._custom_owners.append(position)
        self._indexed = len(self.readers)

    def _read(self, readers: list[tuple[Reader, list[Path | str] | None]]) -> PollResult:
        """Read each reader (with its hint, or in full for None) and apply the events.

        Events are applied in reader order, a group of readers at a time: reading a
        few hundred runs and then applying their events keeps each half's code and
        data warm (measured: a poll of 1,000 one-line changes costs ~15% less than
        reading and applying run by run). A group ends once it holds
        :data:`HELD_RECORDS` records, so a large read is applied at once; a reader that
        hands its events over in parts (:meth:`Reader.read_parts`) has them applied as
        they come. The sweep-level judgement (a crash loop) is made once, after the
        whole read: the order runs are read in is not the order they ended in. So is
        the judgement of a run whose file was reset: on the content the read brought.
        """
        result = PollResult()
        now = time.time()
        self.detectors.hold_sweep_checks(True)
        try:
            self._read_all(readers, now, result)
        finally:
            result.issues.extend(self.detectors.rejudge())
            self.store.settle_resets()
            result.issues.extend(self.detectors.hold_sweep_checks(False))
            self.detectors.release_ended()
        return result

    def _read_all(
        self, readers: list[tuple[Reader, list[Path | str] | None]], now: float, result: PollResult
    ) -> None:
        """The reading and applying of :meth:`_read`; during a one-shot load, readers
        that read alone are read and judged in child processes (:mod:`sweeptui.readalone`)."""
        held: list[list[Event]] = []
        size = 0
        with _collector_paused():
            children = read_in_children(readers, self.settings, self.root, now, self._live)
            taken = next(children, None)
            for index, (reader, changed) in enumerate(readers):
                if taken is not None and taken[0] == index:
                    read, taken = taken[1], next(children, None)
                    if read is not None and self._fits(reader, read):
                        self._apply_all(held, now, result)
                        held, size = [], 0
                        self._take_over(reader, read, now, result)
                        continue
                try:
                    for events in reader.read_parts(changed):
                        held.append(events)
                        size += len(events) + sum(
                            e.records for e in events if type(e) is MetricBatch
                        )
                        if size >= HELD_RECORDS:
                            self._apply_all(held, now, result)
                            held, size = [], 0
                except Exception as exc:  # a reader bug must not take the sweep down
                    held.append([SourceWarning(str(reader.base), f"reader failed: {exc!r}")])
            children.close()
            self._apply_all(held, now, result)

    def _fits(self, reader: Reader, read: ReadAlone) -> bool:
        """Whether a child's read stands for the serial one here: its runs are new to the
        store and it said no once-per-sweep note another reader has said since the fork."""
        known = self.store.runs
        return read.notes.isdisjoint(reader.notes) and not any(i in known for i in read.run_ids())

    def _take_over(self, reader: Reader, read: ReadAlone, now: float, result: PollResult) -> None:
        """Apply a child's read as :meth:`_apply_all` would, with the child's verdicts."""
        reader.resume(read.state)
        reader.notes.update(read.notes)
        verdicts = iter(read.verdicts)
        for events in read.parts:
            self._apply_events(events, now, result, verdicts, read.columns)
        for run_id, state in read.runs.items():
            self.detectors.adopt(run_id, state)

    def _apply_all(self, held: list[list[Event]], now: float, result: PollResult) -> None:
        """Apply each reader's events; a failure costs that reader's events, not the group's."""
        for events in held:
            self._apply_events(events, now, result)

    def _apply_events(
        self, events: list[Event], now: float, result: PollResult,
        verdicts: Iterator[list[Issue]] | None = None, built: dict[str, BuiltColumns] | None = None,
    ) -> None:  # fmt: skip
        """Apply one reader's events, admitted here; or admitted and judged in a child
        process, which gave ``verdicts`` (the metric detectors' issues per batch) and the
        columns it ``built`` for runs of one batch (which then comes without points)."""
        try:
            for event in admit(events) if verdicts is None else events:
                self._apply(event, now, result, verdicts, built)
        except Exception as exc:  # a store or detector bug must not drop other runs' data
            where = next((e.run_id for e in events if hasattr(e, "run_id")), "?")
            warning = SourceWarning(str(where), f"applying events failed: {exc!r}")
            self.store.apply(warning)
            result.warnings.append(warning)

    def _apply(
        self, event: Event, now: float, result: PollResult, verdicts: Iterator[list[Issue]] | None,
        built: dict[str, BuiltColumns] | None,
    ) -> None:  # fmt: skip
        result.events += 1
        run = self.store.apply(event, now, self._live)
        if run is None:
            if isinstance(event, SourceWarning):
                result.warnings.append(event)
            return
        result.changed_runs.add(run.id)
        if isinstance(event, RunWithdrawn):
            self.detectors.forget_run(run.id)
        elif isinstance(event, MetricBatch):
            if verdicts is None:
                result.issues.extend(self.detectors.on_metrics(run, event))
            else:
                if built and run.id in built:
                    self.store.adopt_columns(run, *built[run.id])
                result.issues.extend(self.detectors.judged(run, next(verdicts)))
        elif isinstance(event, RunEnded):
            result.issues.extend(self.detectors.on_end(run))
        elif isinstance(event, FileReset):
            self.detectors.on_reset(run)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while records are read.

    Parsed records are plain acyclic dicts and lists, freed by reference counting;
    but holding thousands of them at once makes the collector run full passes over
    every live object again and again (measured: 2.5 s -> 1.5 s for a 1M-record
    load). The previous state is restored whatever happens.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _merge(first: PollResult, second: PollResult) -> PollResult:
    first.issues.extend(second.issues)
    first.warnings.extend(second.warnings)
    first.changed_runs |= second.changed_runs
    first.events += second.events
    return first


def open_sweep(
    target: Path | str,
    settings: Settings | None = None,
    source: str | None = None,
    experiment: str | None = None,
    interval: float | None = None,
) -> Sweep:
    """A sweep in a directory, or followed on an MLflow tracking server (an ``http(s)://``
    URL; ``experiment`` picks one, ``interval`` is the poll interval in seconds)."""
    if isinstance(target, str) and is_server_url(target):
        # here: the HTTP client's imports cost a tenth of a second a directory never needs
        from sweeptui.sources.mlflow_server import DEFAULT_INTERVAL, ServerReader

        settings = settings or Settings()
        reader = ServerReader(target, experiment, settings, interval or DEFAULT_INTERVAL)
        label = f"{target} (experiment {experiment})" if experiment else target
        return Sweep(label, settings, readers=[reader])
    return Sweep(target, settings, source)


def load_sweep(
    root: Path | str,
    settings: Settings | None = None,
    source: str | None = None,
    experiment: str | None = None,
    now: float | None = None,
    meanwhile: Callable[[], object] | None = None,
) -> Sweep:
    """Read a whole sweep (a directory, or a tracking server's URL) post-hoc, judging
    every run at ``now`` (default: the clock): the ``report`` command's engine.
    ``meanwhile``: see :meth:`Sweep.load`."""
    sweep = open_sweep(root, settings, source, experiment)
    sweep.load(now, meanwhile)
    return sweep
