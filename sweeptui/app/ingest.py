"""The ingest thread: the one thread that owns the :class:`~sweeptui.sweep.Sweep`.

It applies the paths the watcher saw change, rescans for new runs every few
seconds (catching whatever events missed), runs the time-based detectors, and
emits immutable results through one ``emit`` callback: a
:class:`~sweeptui.snapshot.SweepSnapshot` at most every ``min_interval`` seconds,
a :class:`~sweeptui.snapshot.RunDetail` or an
:class:`~sweeptui.app.export.ExportResult` when asked for one, and
:class:`IngestError` when a cycle failed. Requests from the UI (detail, export)
arrive on a queue and are served between cycles. This module does not import
Textual: the app turns what is emitted into messages.
"""

from __future__ import annotations

import functools
import queue
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sweeptui.app.alerts import IssueCommand
from sweeptui.app.export import export_report
from sweeptui.app.watcher import DirtyPaths, SweepWatcher
from sweeptui.plotdata import make_curve_set
from sweeptui.snapshot import SnapshotBuilder, SweepSnapshot, analyze_sweep, make_detail
from sweeptui.store import RunStore
from sweeptui.sweep import Sweep


@dataclass(frozen=True, slots=True)
class IngestError:
    """A cycle of the ingest thread failed; it keeps going."""

    message: str
    details: str


@dataclass(frozen=True, slots=True)
class IngestTiming:
    """How often the ingest thread does each kind of work (seconds)."""

    min_interval: float = 0.25
    """Shortest gap between two snapshots (4 Hz at most)."""
    heartbeat: float = 1.0
    """A snapshot at least this often even when nothing changed (the clock moves)."""
    tick: float = 1.0
    """Time-based detectors (stalls, crash loops)."""
    rescan: float = 5.0
    """Full walk for new runs and files the events missed."""
    analysis: float = 2.0
    """Parameter risk and recommendations."""
    new_path_rescan: float = 1.0
    """Shortest gap between rescans triggered by paths that belong to no known run."""


Emit = Callable[[object], None]
REMOTE_RESCAN = 0.5
"""Seconds between reads of a remote sweep's readers (each polls its server when due)."""
RESCAN_COST_FACTOR = 20.0


class IngestThread(threading.Thread):
    """Owns the sweep; turns file changes into snapshots for the UI."""

    def __init__(
        self,
        sweep: Sweep,
        emit: Emit,
        *,
        metric: str | None = None,
        goal: str | None = None,
        poll: float | None = None,
        watch: bool = True,
        on_issue: IssueCommand | None = None,
        timing: IngestTiming | None = None,
        clock: Callable[[], float] = time.time,
        export_target: Path | None = None,
    ) -> None:
        super().__init__(name="sweeptui-ingest", daemon=True)
        self.sweep = sweep
        self.emit = emit
        self.timing = timing or IngestTiming()
        self.clock = clock
        analyze = functools.partial(analyze_sweep, settings=sweep.settings)
        self.builder = SnapshotBuilder(sweep.store, metric, goal, analyze=analyze, clock=clock)
        self.dirty = DirtyPaths()
        self.watcher = SweepWatcher(sweep.root, self.dirty, poll) if watch else None
        self.on_issue = on_issue
        self.export_target = export_target
        self.stopping = threading.Event()
        self.notes: list[str] = []
        self._requests: queue.SimpleQueue[tuple[str, object]] = queue.SimpleQueue()
        self._asked = threading.Event()
        """Set by a request: a key press is answered now, not after the pause that coalesces
        bursts of file changes."""
        self._due: dict[str, float] = {}
        """When each periodic job (tick, rescan, analysis) is next due."""
        self._published = 0.0
        self._analysed_version = -1
        self._new_paths_due = 0.0

    def first_snapshot(self) -> SweepSnapshot:
        """The runs table of what the sweep holds, built before the thread starts: the app's
        first frame shows it (the analysis panels follow from the thread)."""
        return self.builder.build([*self.sweep.notes(), *self.sweep.unread()], analyse=False)

    # -- requests from other threads ----------------------------------------------
    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to finish its cycle and wait for it."""
        self.stopping.set()
        self._asked.set()
        self.dirty.wakeup.set()
        if self.is_alive():
            self.join(timeout)

    def request_detail(self, run_id: str) -> None:
        """Emit a :class:`~sweeptui.snapshot.RunDetail` of ``run_id`` soon."""
        self._request("detail", run_id)

    def request_curves(self, run_ids: tuple[str, ...]) -> None:
        """Emit a :class:`~sweeptui.plotdata.CurveSet` of ``run_ids`` soon."""
        self._request("curves", tuple(run_ids))

    def request_export(self) -> None:
        """Write the report now and emit the :class:`~sweeptui.app.export.ExportResult`."""
        self._request("export", None)

    def request_refresh(self) -> None:
        """Emit a snapshot soon even if nothing changed."""
        self._request("refresh", None)

    def _request(self, kind: str, payload: object) -> None:
        self._requests.put((kind, payload))
        self._asked.set()
        self.dirty.wakeup.set()

    # -- the loop ------------------------------------------------------------------
    def run(self) -> None:
        self._guarded(self._start)
        while not self.stopping.is_set():
            self.dirty.wakeup.wait(self._sleep_time())
            if self.stopping.is_set():
                break
            self._guarded(self._cycle)
            # Coalesce bursts: at most one snapshot per min_interval (a request cuts it short).
            self._asked.wait(self.timing.min_interval)
        if self.watcher is not None:
            self.watcher.stop()

    def _start(self) -> None:
        if self.watcher is not None:
            self.watcher.start()
            self.notes.extend(self.watcher.notes)
        now = self.clock()
        # Issues already in the files when watching starts are shown, not alerted:
        # --on-issue is for what goes wrong from now on.
        # A sweep read before watching began (see sweeptui.app.run.watch) is read again in
        # full: only what changed since, which the watcher may have missed.
        self.sweep.rescan(reread=bool(self.sweep.readers))
        self.sweep.tick(now)
        # the runs table first; the analysis panels (pandas) follow in the next cycle
        self._publish(now, analyse=False)
        for kind in ("tick", "rescan"):
            self._due[kind] = now + getattr(self.timing, kind)
        self._due["analysis"] = now

    def _cycle(self) -> None:
        now = self.clock()
        refresh = self._serve_requests()  # first: someone is waiting for the answer
        changed = self._apply_changes(now)
        if self._is_due("tick", now):
            changed |= bool(self._submit_issues(self.sweep.tick(now)))
            self._check_watcher()
        if self._is_due("rescan", now):
            changed |= self._rescan(reread=True)
        refresh |= self._serve_requests()
        analyse = self._is_due("analysis", now) and self._analysis_stale()
        heartbeat = now - self._published >= self.timing.heartbeat
        if changed or refresh or analyse or heartbeat:
            self._publish(now, analyse=analyse)

    def _apply_changes(self, now: float) -> bool:
        paths = self.dirty.drain()
        if not paths:
            return False
        result = self.sweep.poll(paths)
        self._submit_issues(result.issues)
        changed = result.events > 0
        # a path no reader owns may be a new run: rescan, at most every new_path_rescan
        if result.unowned and now >= self._new_paths_due:
            self._new_paths_due = now + self.timing.new_path_rescan
            changed |= self._rescan()
        return changed

    def _rescan(self, reread: bool = False) -> bool:
        started = time.perf_counter()
        result = self.sweep.rescan(reread)
        # A walk of a huge tree is slow: keep periodic rescans under ~5% of the time.
        spent = time.perf_counter() - started
        self._due["rescan"] = max(self._due.get("rescan", 0.0), self.clock() + RESCAN_COST_FACTOR * spent)
        self._submit_issues(result.issues)
        return result.events > 0 or bool(result.warnings)

    def _check_watcher(self) -> None:
        if self.watcher is None:
            return
        before = len(self.watcher.notes)
        self.watcher.check()
        self.notes.extend(self.watcher.notes[before:])

    def _serve_requests(self) -> bool:
        self._asked.clear()  # before draining: a request that comes meanwhile sets it again
        refresh = False
        while True:
            try:
                kind, payload = self._requests.get_nowait()
            except queue.Empty:
                return refresh
            if kind == "detail":
                self.emit(make_detail(self.sweep.store, str(payload), self.builder.objective))
            elif kind == "curves":
                self.emit(make_curve_set(self.sweep.store, payload, self.builder.objective))
            elif kind == "export":
                self.emit(export_report(self.sweep.store, self.builder.objective, self.export_target,
                                        settings=self.sweep.settings))  # fmt: skip
            refresh = refresh or kind == "refresh"

    def _analysis_stale(self) -> bool:
        return self.sweep.store.version != self._analysed_version

    def _publish(self, now: float, analyse: bool) -> None:
        snapshot = self.builder.build(
            [*self.notes, *self.sweep.notes(), *self.sweep.unread()], analyse=analyse
        )
        if analyse:
            self._analysed_version = self.sweep.store.version
        self._published = now
        self.emit(snapshot)

    def _submit_issues(self, issues: list) -> list:
        if issues and self.on_issue is not None:
            store = self.sweep.store
            self.on_issue.submit((i, *_run_about(store, i.run)) for i in issues)
        return issues

    def _is_due(self, kind: str, now: float) -> bool:
        if now < self._due.get(kind, 0.0):
            return False
        self._due[kind] = now + getattr(self.timing, kind)
        return True

    def _sleep_time(self) -> float:
        now = self.clock()
        pending = [self._due.get(k, now) for k in ("tick", "rescan", "analysis")]
        pending.append(self._published + self.timing.heartbeat)
        return min(max(min(pending) - now, 0.05), self.timing.heartbeat)

    def _guarded(self, action: Callable[[], None]) -> None:
        """Run one step; a failure is reported and the thread keeps going."""
        try:
            action()
        except Exception as exc:  # one bad cycle must not end live monitoring
            self.emit(IngestError(f"{type(exc).__name__}: {exc}", traceback.format_exc()))


def _run_about(store: RunStore, run_id: str) -> tuple[str | None, str | None]:
    """The run's name and its directory (or file) as an absolute path, for ``--on-issue``
    (for a run on a tracking server: its store and experiment as the run id shows them)."""
    run = store.runs.get(run_id)
    if run is None:
        return None, None
    if isinstance(store.root, str):
        return run.name, run.path
    return run.name, str((store.root / run.path).resolve())


def make_ingest(sweep: Sweep, emit: Emit = lambda item: None, **options) -> IngestThread:
    """The ingest thread for ``sweep``: file events for a directory; for a remote sweep (a
    tracking server) no file watcher, its readers asked often (they poll when due)."""
    if not sweep.remote:
        return IngestThread(sweep, emit, **options)
    options.pop("poll", None)
    timing = options.pop("timing", None) or IngestTiming(rescan=REMOTE_RESCAN)
    return IngestThread(sweep, emit, watch=False, timing=timing, **options)
