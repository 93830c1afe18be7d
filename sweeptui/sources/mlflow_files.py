"""MLflow's file store: ``mlruns/<experiment id>/<run id>/``.

Each experiment directory holds a ``meta.yaml`` (name, lifecycle stage) and one
directory per run::

    <run id>/meta.yaml          status (a RunStatus number), start/end times, run name,
                                lifecycle stage
    <run id>/params/<name>      one value per file
    <run id>/tags/<name>        one value per file (mlflow.runName, mlflow.parentRunId...)
    <run id>/metrics/<name>     "<timestamp ms> <value> <step>" per line, appended
    <run id>/artifacts/         whatever the run logged (never read: a config.json here is
                                an artifact, not a run)

Metric keys may hold ``/`` (``val/loss`` is ``metrics/val/loss``). Metric files are
tailed with :class:`~sweeptui.sources.tail.FileTail`; ``meta.yaml`` and the params and
tags directories are re-read when their size or mtime changes. One reader per
experiment directory, so it knows which runs are the parents of nested runs; handed the
changed paths, it reads only those runs. Deleted experiments (``mlruns/.trash/``) and
deleted runs are left out unless ``include_deleted``.

What the files hold, and how it maps: :mod:`sweeptui.sources.mlflow_runs`.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path

from sweeptui.events import Event, SourceWarning
from sweeptui.settings import Settings
from sweeptui.sources.base import Reader, parts_below
from sweeptui.sources.files import UNBOUNDED
from sweeptui.sources.mlflow_runs import (
    FILE_STATUS,
    NAME,
    RUN_NAME_TAG,
    RunState,
    millis,
    param_value,
    sweep_events,
)
from sweeptui.sources.tail import FileTail
from sweeptui.sources.yamlio import YamlError, safe_load

META = "meta.yaml"
TRASH = ".trash"
MAX_META_BYTES = 1024 * 1024
MAX_VALUE_BYTES = 64 * 1024
"""MLflow caps a param value at 6,000 characters and a tag at 8,000; more is not ours."""


def read_small(path: Path, limit: int) -> bytes | None:
    """The first ``limit`` bytes of a regular file, or None when it cannot be read (a FIFO
    or a device, which would block or never end, is refused)."""
    try:
        return UNBOUNDED.read_head(path, limit)
    except OSError:
        return None


def read_meta(path: Path) -> dict | None:
    """A ``meta.yaml`` as a mapping; None when missing, unreadable or not a mapping."""
    data = read_small(path, MAX_META_BYTES)
    if data is None:
        return None
    try:
        meta = safe_load(data)
    except YamlError:
        return None
    return meta if isinstance(meta, dict) else None


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_size, info.st_mtime_ns


class RunFiles:
    """One run directory: what was read of it and the tails of its metric files."""

    def __init__(self, path: Path, state: RunState) -> None:
        self.path = path
        self.state = state
        self.signatures: dict[str, tuple[int, int] | None] = {}
        self.tails: dict[str, FileTail] = {}
        self.bad_lines = 0

    def changed(self, name: str) -> bool:
        """Whether ``name`` (meta.yaml, params, tags, metrics) changed since last seen."""
        signature = _signature(self.path / name)
        if signature == self.signatures.get(name, ()):
            return False
        self.signatures[name] = signature
        return signature is not None


class ExperimentReader(Reader):
    """Reads the runs of one file-store experiment directory."""

    source = NAME

    def __init__(self, root: Path, base: Path, settings: Settings) -> None:
        super().__init__(root, base, settings)
        self.storage = Path(self.relpath()).parent.as_posix()
        self.runs: dict[str, RunFiles] = {}
        self.states: dict[str, RunState] = {}
        self.deleted_experiment = base.parent.name == TRASH
        self._warned: set[str] = set()

    def read(self, changed: Collection[Path | str] | None = None) -> list[Event]:
        """New events of every run (or, with ``changed``, of the runs those paths are in)."""
        events: list[Event] = []
        if not self._check_meta(events):
            return events
        for name in self._run_names(changed, events):
            self._read_run(name, events)
        events.extend(sweep_events(self.states, self.storage, str(self.base), self.settings.include_deleted))
        return events

    def _check_meta(self, events: list[Event]) -> bool:
        """Warn about a missing meta.yaml; False for another experiment than the one asked for."""
        meta = read_meta(self.base / META)
        wanted = self.settings.experiment
        if meta is None:
            also = "its runs are not read (--experiment)" if wanted else "its runs are read"
            self._warn(events, str(self.base), "experiment folder without a readable meta.yaml "
                       f"(MLflow skips it); {also}")  # fmt: skip
            return not wanted
        if meta.get("lifecycle_stage") == "deleted":
            self.deleted_experiment = True
        return not wanted or meta.get("name") == wanted

    def _run_names(self, changed: Collection[Path | str] | None, events: list[Event]) -> list[str]:
        if changed is not None:
            names = {parts[0] for parts in (parts_below(self.base, p) for p in changed) if parts}
            names.discard(META)
            return sorted(name for name in names if (self.base / name).is_dir())
        try:
            with os.scandir(self.base) as entries:
                return sorted(e.name for e in entries if e.is_dir(follow_symlinks=False))
        except OSError as exc:
            self._warn(events, str(self.base), f"cannot list the experiment: {exc.strerror or exc}")
            return []

    def _read_run(self, name: str, events: list[Event]) -> None:
        files = self.runs.get(name)
        if files is None:
            if read_meta(self.base / name / META) is None and not (self.base / name / "metrics").is_dir():
                return  # not a run directory (MLflow keeps other folders here: models, traces)
            state = RunState(name, self.base.name)
            files = self.runs[name] = RunFiles(self.base / name, state)
            self.states[name] = state
        self._read_meta(files, events)
        if files.changed("params"):
            self._read_values(files, "params")
        if files.changed("tags"):
            self._read_values(files, "tags")
        self._read_metrics(files, files.path / "metrics", "", events)

    def _read_meta(self, files: RunFiles, events: list[Event]) -> None:
        if not files.changed(META):
            return
        meta = read_meta(files.path / META)
        if meta is None:
            self._warn(events, str(files.path / META), "run meta.yaml missing or unreadable")
            return
        state = files.state
        status = meta.get("status")
        state.status = FILE_STATUS.get(status, str(status)) if isinstance(status, int) else str(status)
        state.start, state.end = millis(meta.get("start_time")), millis(meta.get("end_time"))
        state.name = str(meta.get("run_name") or state.name or "")
        state.deleted = self.deleted_experiment or meta.get("lifecycle_stage") == "deleted"

    def _read_values(self, files: RunFiles, kind: str) -> None:
        """Every file under ``params/`` or ``tags/`` (names may hold ``/``)."""
        target = files.state.params if kind == "params" else files.state.tags
        top = files.path / kind
        for directory, _subdirs, names in os.walk(top):
            for name in names:
                path = Path(directory) / name
                data = read_small(path, MAX_VALUE_BYTES)
                if data is None:
                    continue
                key = path.relative_to(top).as_posix()
                text = data.decode("utf-8", errors="replace")
                target[key] = param_value(text) if kind == "params" else text
        if kind == "tags" and not files.state.name:
            files.state.name = files.state.tags.get(RUN_NAME_TAG, "")

    def _read_metrics(self, files: RunFiles, directory: Path, prefix: str, events: list[Event]) -> None:
        try:
            with os.scandir(directory) as entries:
                listing = [(e.name, e.is_dir(follow_symlinks=False)) for e in entries]
        except OSError:
            return  # no metrics yet
        for name, is_dir in sorted(listing):
            key = f"{prefix}{name}"
            if is_dir:
                self._read_metrics(files, directory / name, f"{key}/", events)
                continue
            tail = files.tails.get(key)
            if tail is None:
                tail = files.tails[key] = FileTail(directory / name, self.settings)
            self._read_tail(files, key, tail, events)

    def _read_tail(self, files: RunFiles, key: str, tail: FileTail, events: list[Event]) -> None:
        chunk = tail.read_lines()
        for message in chunk.warnings:
            events.append(SourceWarning(str(tail.path), message))
        if chunk.reset is not None:
            events.append(SourceWarning(str(tail.path), f"metric file {chunk.reset}; "
                                        "points already read are kept"))  # fmt: skip
            return  # MLflow only appends: a rewrite is not new points
        for index, line in enumerate(chunk.lines):
            point = parse_metric_line(line)
            if point is None:
                self._bad_line(files, events, tail, chunk.line_number(index))
            else:
                stamp, value, step = point
                files.state.add_point(key, value, step, stamp)

    def _bad_line(self, files: RunFiles, events: list[Event], tail: FileTail, number: int) -> None:
        files.bad_lines += 1
        if files.bad_lines <= 5:
            events.append(SourceWarning(str(tail.path), f"line {number}: not "
                                        "'<timestamp> <value> <step>'; skipped"))  # fmt: skip

    def _warn(self, events: list[Event], path: str, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            events.append(SourceWarning(path, message))


def parse_metric_line(line: bytes) -> tuple[float, float, float] | None:
    """(timestamp ms, value, step) of a metric line; 2, 3 or 5 fields as MLflow writes them."""
    fields = line.split()
    if len(fields) not in (2, 3, 5):
        return None
    try:
        stamp, value = float(fields[0]), float(fields[1])
        step = float(fields[2]) if len(fields) >= 3 else 0.0
    except ValueError:
        return None
    return stamp, value, step


__all__ = ["ExperimentReader", "parse_metric_line", "read_meta"]
