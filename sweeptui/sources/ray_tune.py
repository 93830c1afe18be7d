"""The Ray Tune layout: an experiment directory of trial directories.

Ray Tune writes, under ``<storage_path>/<experiment>/``:

- ``experiment_state-<date>.json``: rewritten whole; ``trial_data`` is a list of
  ``[trial_json, runtime_json]`` pairs whose members are JSON documents *inside JSON
  strings* (with bare ``NaN`` tokens). The trial half holds ``status``
  (``PENDING``/``RUNNING``/``PAUSED``/``TERMINATED``/``ERROR``) and ``relative_logdir``.
- one directory per trial with ``params.json`` (the config), ``result.json`` (one JSON
  object per reported result, appended), ``progress.csv`` (the same records as CSV) and,
  on failure, ``error.txt``.

:class:`RayExperimentReader` owns the experiment: it finds trial directories as they
appear, tails each trial's ``result.json`` (or ``progress.csv`` when there is no
``result.json``; never both, they hold the same records) and maps the statuses of the
experiment state: TERMINATED -> finished, ERROR -> crashed with ``error.txt`` for the
classifier, RUNNING/PENDING -> running. A RUNNING trial whose driver died stays running:
the stall and vanish detectors judge it. A trial directory found without any experiment
state is read by :class:`RayTrialReader` on its own.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

import orjson

from sweeptui.events import Event, RunEnded, RunSeen, SourceWarning
from sweeptui.settings import Settings
from sweeptui.sources.base import Match, Reader, ScanContext, SourceSpec, parts_below
from sweeptui.sources.jsonio import MILLISECONDS_THRESHOLD, parse_json, parse_time, to_float
from sweeptui.sources.run_dir import Columns, CsvLog, MetricLog, Watched, parse_mapping
from sweeptui.sources.tail import TailRead

NAME = "ray-tune"
STATE_PREFIX = "experiment_state-"
RESULT_NAME = "result.json"
PROGRESS_NAME = "progress.csv"
PARAMS_NAME = "params.json"
ERROR_NAME = "error.txt"
STEP_KEY = "training_iteration"
TIME_KEY = "timestamp"
BOOKKEEPING = frozenset({
    STEP_KEY, TIME_KEY, "time_this_iter_s", "time_total_s", "time_since_restore",
    "iterations_since_restore", "timesteps_since_restore", "timesteps_total", "episodes_total",
    "pid", "done", "trial_id", "date", "hostname", "node_ip", "config", "experiment_tag",
    "checkpoint_dir_name", "should_checkpoint", "warmup_time", "experiment_id",
})  # fmt: skip
"""Fields Ray adds to every result: not metrics."""
STATUS_MAP = {"TERMINATED": "finished", "ERROR": "crashed"}
DATE_SUFFIX = re.compile(r"_\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}$")


def is_state_file(name: str) -> bool:
    """``experiment_state-<date>.json``."""
    return name.startswith(STATE_PREFIX) and name.endswith(".json")


def is_trial_dir(files: list[str] | set[str]) -> bool:
    """A trial directory holds ``params.json`` and ``result.json`` or ``progress.csv``."""
    return PARAMS_NAME in files and (RESULT_NAME in files or PROGRESS_NAME in files)


def trial_name(directory: str) -> str:
    """The trial directory name without Ray's trailing creation date."""
    return DATE_SUFFIX.sub("", directory)


# -- one trial --------------------------------------------------------------------------------
class ResultLog(MetricLog):
    """``result.json``: one JSON object per reported result (bare NaN tokens allowed)."""

    def ingest(
        self, chunk: TailRead, columns: Columns, events: list[Event], ends: list[RunEnded]
    ) -> None:
        """Parse the new lines and add their metrics at their ``training_iteration``.

        Lines go one by one only while the rewrite guard checks records (the first one,
        or after a reset); the rest are parsed in one call and added column by column.
        """
        guard, lines = self.guard, chunk.lines
        records: list[dict] = []
        index = 0
        while index < len(lines) and guard.active:
            record = self._parse(lines[index], chunk, index, events)
            index += 1
            if record is None:
                continue
            admit, message = guard.admit(record)
            if message:
                self.warn(events, message)
            if admit:
                records.append(record)
        bulk = self._parse_many(lines, index, chunk, events)
        guard.count(len(bulk))
        records.extend(bulk)
        add_results(records, guard.consumed - len(records), columns)

    def _parse_many(
        self, lines: list[bytes], start: int, chunk: TailRead, events: list[Event]
    ) -> list[dict]:
        """``lines[start:]`` as records: one orjson call, line by line only on failure."""
        if start >= len(lines):
            return []
        try:
            parsed = orjson.loads(b"[" + b",".join(line for line in lines[start:]
                                                   if line.strip()) + b"]")
        except orjson.JSONDecodeError:  # NaN tokens or a bad line: find them one by one
            parsed = [self._parse(lines[i], chunk, i, events) for i in range(start, len(lines))]
            return [record for record in parsed if record is not None]
        good = [record for record in parsed if type(record) is dict]
        if len(good) != len(parsed):
            self.warn(events, f"{len(parsed) - len(good)} lines are not JSON objects; skipped")
        return good

    def _parse(self, line: bytes, chunk: TailRead, index: int, events: list[Event]) -> Any:
        if not line.strip():
            return None
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            try:
                record, _ = parse_json(line)
            except ValueError:
                self.bad_line(events, chunk, index, "not valid JSON")
                return None
        if not isinstance(record, dict):
            self.bad_line(events, chunk, index, "not a JSON object")
            return None
        return record


def add_results(records: list[dict], first_position: int, columns: Columns) -> None:
    """Ray results: numeric fields other than Ray's bookkeeping, at their iteration.

    The hot path of a large experiment, column by column: one pass per metric key
    instead of a Python-level loop over every field of every record.
    """
    if not records:
        return
    steps = [record.get(STEP_KEY) for record in records]
    for offset, step in enumerate(steps):
        if (type(step) is not int and type(step) is not float) or step != step:
            number = to_float(step)
            steps[offset] = number if number is not None and number == number else float(
                first_position + offset + 1
            )
    for record in records:
        stamp = _record_time(record.get(TIME_KEY))
        if stamp is not None:
            columns.times.append(stamp)
    for key in set().union(*records) - BOOKKEEPING:
        values = [record.get(key) for record in records]
        column = columns.column(key)
        if all(type(value) is float or type(value) is int for value in values):
            column[0].extend(steps)
            column[1].extend(values)
            continue
        for step, value in zip(steps, values, strict=True):
            number = value if type(value) is float or type(value) is int else (
                to_float(value) if type(value) is str else None
            )
            if number is not None:
                column[0].append(step)
                column[1].append(number)
    columns.records += len(records)


def _record_time(stamp: Any) -> float | None:
    if (type(stamp) is int or type(stamp) is float) and 0 < stamp < MILLISECONDS_THRESHOLD:
        return stamp  # Ray's integer epoch seconds: the common case, no parser call
    return None if stamp is None else parse_time(stamp)


class ProgressLog(CsvLog):
    """``progress.csv``: Ray's CSV copy of the results, used when ``result.json`` is absent."""

    def _set_header(self, cells: list[str]) -> None:
        renamed = ["step" if cell.strip() == STEP_KEY else cell for cell in cells]
        super()._set_header(renamed)
        self.metric_columns = [
            (position, name) for position, name in self.metric_columns if name not in BOOKKEEPING
        ]


class Trial:
    """The files of one trial directory, read incrementally."""

    def __init__(self, reader: Reader, directory: Path) -> None:
        self.reader = reader
        self.directory = directory
        self.run_id = reader.relpath(directory)
        self.name = trial_name(directory.name)
        self.params_file = Watched(directory / PARAMS_NAME)
        self.error_file = Watched(directory / ERROR_NAME)
        self.log: MetricLog | None = None
        self.seen = False
        self.status: str | None = None
        self.ended = False
        self.started_at: float | None = None

    def read(self, events: list[Event], names: set[str] | None = None) -> None:
        """New params and metric records of this trial.

        With ``names`` (file names in the trial directory that changed) only those of
        ``params.json`` and the metric log are looked at; None looks at both.
        """
        if names is None or PARAMS_NAME in names or not self.seen:
            self._read_params(events)
        if self.log is None:
            self.log = self._open_log()
        elif names is not None and self.log.path.name not in names:
            return
        if self.log is not None:
            columns = Columns()
            ends: list[RunEnded] = []
            self.log.read(columns, events, ends)
            batch = columns.build(self.run_id)
            if batch is not None:
                events.append(batch)

    def _read_params(self, events: list[Event]) -> None:
        params = None
        if self.params_file.changed():
            data = self.params_file.read_bytes()
            params = parse_mapping(self.params_file.path, data) if data else None
            if params is None and data:
                events.append(SourceWarning(str(self.params_file.path), "params.json unreadable"))
            if params is not None:
                self.params_file.accept()
        if params is not None or not self.seen:
            self.seen = True
            events.append(
                RunSeen(self.run_id, self.name, self.run_id, NAME, params, self.started_at)
            )

    def _open_log(self) -> MetricLog | None:
        settings = self.reader.settings
        if (self.directory / RESULT_NAME).exists():
            return ResultLog(self.directory / RESULT_NAME, settings, self.run_id)
        if (self.directory / PROGRESS_NAME).exists():
            return ProgressLog(self.directory / PROGRESS_NAME, settings, self.run_id)
        return None

    def end(self, status: str | None, events: list[Event], time: float | None = None) -> None:
        """Emit the end once the experiment state says TERMINATED or ERROR."""
        self.status = status
        ended = STATUS_MAP.get(status or "")
        if ended is None or self.ended:
            return
        if ended == "finished":
            self.ended = True
            events.append(RunEnded(self.run_id, "finished", time=time))
            return
        self.ended = True
        text = self._error_text()
        if text:
            events.append(RunEnded(self.run_id, None, text, time=time))
        else:
            events.append(RunEnded(self.run_id, "crashed", "trial status ERROR", time=time))

    def _error_text(self) -> str | None:
        data = self.error_file.read_bytes(self.reader.settings.error_tail_bytes)
        return data.decode("utf-8", errors="replace").strip() if data else None


# -- the experiment -----------------------------------------------------------------------------
def trial_entries(state: dict) -> list[dict]:
    """The trials of an experiment state, each merged into one dict.

    Ray 2.x stores ``[trial_json, runtime_json]`` string pairs under ``trial_data``; older
    versions a list of JSON strings (or dicts) under ``checkpoints``.
    """
    raw = state.get("trial_data")
    if raw is None:
        raw = state.get("checkpoints", [])
    entries: list[dict] = []
    for item in raw if isinstance(raw, list) else []:
        parts = item if isinstance(item, list) else [item]
        merged: dict = {}
        for part in parts:
            decoded = _decode(part)
            if isinstance(decoded, dict):
                merged.update(decoded)
        if merged:
            entries.append(merged)
    return entries


def _decode(part: Any) -> Any:
    if isinstance(part, str):
        try:
            return parse_json(part)[0]
        except ValueError:
            return None
    return part


def trial_dir_name(entry: dict) -> str | None:
    """The trial's directory name from ``relative_logdir`` (or an older ``logdir``)."""
    for key in ("relative_logdir", "trial_dir_name", "logdir", "local_path"):
        value = entry.get(key)
        if isinstance(value, str) and value:
            return Path(value).name
    return None


class RayExperimentReader(Reader):
    """Reads one Ray Tune experiment directory: its state file and every trial."""

    source = NAME

    def __init__(self, root: Path, base: Path, settings: Settings) -> None:
        super().__init__(root, base, settings)
        self.trials: dict[str, Trial] = {}
        self.state_file: Watched | None = None
        self.statuses: dict[str, tuple[str, float | None, float | None]] = {}
        self._warned: set[str] = set()

    def read(self, changed: Collection[Path | str] | None = None) -> list[Event]:
        """New trials, their new records, and status changes from the experiment state.

        When every path in ``changed`` lies inside a known trial directory, only those
        trials are read; anything else (the experiment state, a new trial) reads all.
        """
        by_trial = _hinted_files(self.base, changed, self.trials)
        if by_trial is not None:
            return self._read_trials(by_trial)
        events: list[Event] = []
        names = self._list(events)
        if names is None:
            return events
        self._read_state(names, events)
        for name in names:
            if name not in self.trials and self._is_trial(name):
                self.trials[name] = Trial(self, self.base / name)
        for name, trial in self.trials.items():
            status, started, ended = self.statuses.get(name, (None, None, None))
            trial.started_at = started
            trial.read(events)
            trial.end(status, events, ended)
        return events

    def _read_trials(self, by_trial: dict[str, set[str]]) -> list[Event]:
        """Read just the trials in ``by_trial``, each only for its changed files."""
        events: list[Event] = []
        for name, trial in self.trials.items():
            files = by_trial.get(name)
            if files:
                status, _started, ended = self.statuses.get(name, (None, None, None))
                trial.read(events, files)
                trial.end(status, events, ended)
        return events

    def _list(self, events: list[Event]) -> list[str] | None:
        try:
            return sorted(os.listdir(self.base))
        except OSError as exc:
            self._warn_once(events, f"cannot list experiment directory: {exc.strerror}")
            return None

    def _is_trial(self, name: str) -> bool:
        if name in self.statuses:
            return True
        try:
            return is_trial_dir(set(os.listdir(self.base / name)))
        except OSError:
            return False

    def _read_state(self, names: list[str], events: list[Event]) -> None:
        states = [name for name in names if is_state_file(name)]
        if not states:
            return
        newest = max(states, key=lambda name: _mtime(self.base / name))
        if self.state_file is None or self.state_file.path.name != newest:
            self.state_file = Watched(self.base / newest)
        if not self.state_file.changed():
            return
        data = self.state_file.read_bytes()
        try:
            state = parse_json(data)[0] if data else None
        except ValueError:
            state = None
        if not isinstance(state, dict):
            return  # half-written (rewritten whole): the next change brings a complete one
        self.state_file.accept()
        for entry in trial_entries(state):
            directory = trial_dir_name(entry)
            status = entry.get("status")
            if directory and isinstance(status, str):
                ended = parse_time(entry.get("last_result_time")) if status in STATUS_MAP else None
                self.statuses[directory] = (status, parse_time(entry.get("start_time")), ended)

    def _warn_once(self, events: list[Event], message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            events.append(SourceWarning(str(self.base), message))


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


class RayTrialReader(Reader):
    """A lone Ray trial directory (no experiment state beside it): ends only via error.txt."""

    source = NAME

    def __init__(self, root: Path, base: Path, settings: Settings) -> None:
        super().__init__(root, base, settings)
        self.trial = Trial(self, base)

    def read(self, changed: Collection[Path | str] | None = None) -> list[Event]:
        """New params and records; an ``error.txt`` ends the trial as failed.

        ``changed`` naming files of the trial directory narrows the read to them.
        """
        events: list[Event] = []
        names = _hinted_names(self.base, changed)
        self.trial.read(events, names)
        if (names is None or ERROR_NAME in names) and (self.base / ERROR_NAME).exists():
            self.trial.end("ERROR", events)
        return events


def _hinted_names(base: Path, changed: Collection[Path | str] | None) -> set[str] | None:
    """Names of the files directly in ``base`` that ``changed`` names; None for a full read.

    Paths deeper down (checkpoint directories) are never read and add nothing; the
    directory itself, or a path outside it, asks for a full read.
    """
    if changed is None:
        return None
    names: set[str] = set()
    for path in changed:
        parts = parts_below(base, path)
        if not parts:
            return None
        if len(parts) == 1:
            names.add(parts[0])
    return names


def _hinted_files(
    base: Path, changed: Collection[Path | str] | None, trials: dict[str, Trial]
) -> dict[str, set[str]] | None:
    """Per known trial, the names of its files in ``changed``; None for a full read.

    Anything not inside a known trial directory (the experiment state, a new
    trial, the trial directory itself) asks for a full read.
    """
    if changed is None:
        return None
    by_trial: dict[str, set[str]] = {}
    for path in changed:
        parts = parts_below(base, path)
        if not parts or len(parts) < 2 or parts[0] not in trials:
            return None
        files = by_trial.setdefault(parts[0], set())
        if len(parts) == 2:
            files.add(parts[1])
    return by_trial


def match(directory: Path, subdirs: list[str], files: list[str], ctx: ScanContext) -> Match | None:
    """An experiment directory (a state file) or a lone trial directory; owns the subtree."""
    if any(is_state_file(name) for name in files):
        reader: Reader = RayExperimentReader(ctx.root, directory, ctx.settings)
    elif is_trial_dir(files):
        reader = RayTrialReader(ctx.root, directory, ctx.settings)
    else:
        return None
    return Match(readers=[reader], claimed=set(files), prune=True)


SOURCE = SourceSpec(
    NAME,
    "Ray Tune experiment: experiment_state-*.json + trial dirs (params.json, result.json)",
    match,
)

__all__ = ["SOURCE", "RayExperimentReader", "RayTrialReader", "trial_entries"]
