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

The state file lists every trial with its config, status and last result, so a trial
whose folder was not kept (synced elsewhere, deleted, not committed) is still a run:
its params from the state's ``config``, one point per metric from ``last_result``, its
status, and one warning per experiment that such trials' logs are missing.

Times come from the trials' own evidence: result timestamps, the state's
``start_time`` / ``last_result_time`` (``last_update_time`` in older states), else the
date in the trial folder's name. A trial that died before its first result ends at
its start, not at whenever its files were copied.
"""

from __future__ import annotations

import os
import re
from array import array
from collections.abc import Collection, Iterator
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from sweeptui.events import Event, RunEnded, RunSeen, SourceWarning
from sweeptui.settings import Settings
from sweeptui.sources.base import Match, Reader, ScanContext, SourceSpec, parts_below
from sweeptui.sources.columns import doubles, plain_doubles
from sweeptui.sources.forked import forked_map, worker_count
from sweeptui.sources.jsonio import (
    MILLISECONDS_THRESHOLD,
    parse_block,
    parse_json,
    parse_json_fallback,
    parse_time,
    to_float,
)
from sweeptui.sources.run_dir import (
    Columns,
    CsvLog,
    MetricLog,
    Watched,
    parse_mapping,
)
from sweeptui.sources.tail import LineBlock, TailRead

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
PARALLEL_MIN_TRIALS = 64
"""Trials a one-shot load must find before it reads them in child processes: below
this, forking costs more than the parsing it spreads."""


def is_state_file(name: str) -> bool:
    """``experiment_state-<date>.json``."""
    return name.startswith(STATE_PREFIX) and name.endswith(".json")


def is_trial_dir(files: list[str] | set[str]) -> bool:
    """A trial directory holds ``params.json`` and ``result.json`` or ``progress.csv``."""
    return PARAMS_NAME in files and (RESULT_NAME in files or PROGRESS_NAME in files)


def trial_name(directory: str) -> str:
    """The trial directory name without Ray's trailing creation date."""
    return DATE_SUFFIX.sub("", directory)


def folder_time(directory: str) -> float | None:
    """The creation time in a trial directory's name (Ray writes the local date)."""
    found = DATE_SUFFIX.search(directory)
    if found is None:
        return None
    day, _, clock = found.group(0)[1:].partition("_")
    return parse_time(f"{day}T{clock.replace('-', ':')}")


# -- one trial --------------------------------------------------------------------------------
FEW_RECORDS = 16
"""Below this many records (a live read) value-by-value rules cost less than numpy calls."""


class ResultLog(MetricLog):
    """``result.json``: one JSON object per reported result (bare NaN tokens allowed).

    The tail hands complete lines over as blocks of bytes; a block is parsed by one
    orjson call as a JSON array (its newlines turned into commas). A span orjson
    rejects (bare ``NaN`` tokens, a bad line) is halved until the halves parse, and
    spans of a few lines go line by line, so every line gets exactly the fate it
    would get alone: a record, or a warning naming its line.
    """

    def __init__(self, path: Path, settings: Settings, run_id: str) -> None:
        super().__init__(path, settings, run_id)
        self.tail.split = False
        self.last_done = False
        """The newest record's ``done``: Tune sets it when a stopper or a scheduler ends the trial."""

    def ingest(
        self, chunk: TailRead, columns: Columns, events: list[Event], ends: list[RunEnded]
    ) -> None:
        """Parse the new lines and add their metrics at their ``training_iteration``."""
        index = 0
        for block in chunk.blocks:
            records = self._ingest_block(block, index, chunk, events)
            add_results(records, self.consumed - len(records), columns)
            if records:
                self.last_done = records[-1].get("done") is True
            index += block.lines

    def _ingest_block(
        self, block: LineBlock, first: int, chunk: TailRead, events: list[Event]
    ) -> list[dict]:
        """The records of one block to add; ``first`` is the index of its first line."""

        def whole(elements: memoryview, first: int, lines: int) -> list | None:
            try:
                parsed = orjson.loads(b"".join((b"[", elements, b"]")))
            except orjson.JSONDecodeError:
                return None
            if len(parsed) != lines:
                return None
            # each non-object element is warned about as its line would be
            return parsed if set(map(type, parsed)) == {dict} else self._objects(parsed, first, chunk, events)

        def alone(data: bytes, first: int) -> list:
            return self._parse_lines(data, first, chunk, events)

        records = parse_block(block.data, block.lines, first, whole, alone)
        self.consumed += len(records)
        return records

    def _objects(self, parsed: list, first: int, chunk: TailRead, events: list[Event]) -> list:
        """The dicts of ``parsed`` (one element a line); a warning for each other line."""
        kept = []
        for offset, value in enumerate(parsed):
            if type(value) is dict:
                kept.append(value)
            else:
                self.bad_line(events, chunk, first + offset, "not a JSON object")
        return kept

    def _parse_lines(
        self, data: bytes, first: int, chunk: TailRead, events: list[Event]
    ) -> list[dict]:
        """The exact path: each line of ``data`` on its own."""
        parsed = (self._parse(line, chunk, first + offset, events)
                  for offset, line in enumerate(data.split(b"\n")[:-1]))
        return [record for record in parsed if record is not None]

    def _parse(self, line: bytes, chunk: TailRead, index: int, events: list[Event]) -> Any:
        if not line.strip():
            return None
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            try:
                record, _ = parse_json_fallback(line)
            except ValueError:
                self.bad_line(events, chunk, index, "not valid JSON")
                return None
        if not isinstance(record, dict):
            self.bad_line(events, chunk, index, "not a JSON object")
            return None
        return record


def add_results(records: list[dict], first_position: int, columns: Columns) -> None:
    """Ray results: numeric fields other than Ray's bookkeeping, at their iteration.

    The hot path of a large experiment, column by column: each column is gathered
    by one C-level pass and converted to doubles at once when it holds only plain
    numbers; a column holding anything else (bools, strings, nulls, a missing key),
    or any column of a few records, takes the value-by-value rules. Record ``i``
    sits at its ``training_iteration``, or at its position ``first_position + i + 1``
    when that is missing or not a number.
    """
    if not records:
        return
    few = len(records) < FEW_RECORDS
    steps = _steps(records, first_position, few)
    stamps = _times(_gather(records, TIME_KEY), few)
    if stamps:
        columns.extend_times(stamps)
    for key in _metric_keys(records):
        values = _gather(records, key)
        converted = None if few else _plain(values)
        if converted is not None:
            columns.extend(key, steps, converted)
            continue
        kept_steps, kept_values = [], []
        for step, value in zip(steps, values, strict=True):
            number = value if type(value) is float or type(value) is int else (
                to_float(value) if type(value) is str else None
            )
            if number is not None:
                kept_steps.append(step)
                kept_values.append(number)
        if kept_values:
            column = columns.column(key)
            column[0].extend(kept_steps)
            column[1].extend(kept_values)
        else:
            columns.column(key)  # a key seen with no number still makes its (empty) column
    columns.records += len(records)


def _metric_keys(records: list[dict]) -> list[str]:
    """Every key but Ray's bookkeeping, in the order the records first hold them.

    The order is the order metrics reach the store and the detectors in (which of
    two metrics turning NaN at one step is named, for one), so it must not depend on
    set iteration.
    """
    found = set().union(*records) - BOOKKEEPING
    ordered = [key for key in records[0] if key in found]
    missing = found.difference(ordered)
    for record in records if missing else ():
        for key in record:
            if key in missing:
                ordered.append(key)
                missing.discard(key)
        if not missing:
            break
    return ordered


def _gather(records: list[dict], key: str) -> list:
    """``record.get(key)`` of every record, in one C-level pass when all hold the key."""
    try:
        return list(map(itemgetter(key), records))
    except KeyError:
        return [record.get(key) for record in records]


def _plain(values: list) -> array | None:
    """``values`` as doubles when all are ints or floats (no bools); else None."""
    try:
        return plain_doubles(values)
    except OverflowError:  # an integer beyond float range: the value-by-value rules
        return None


def _steps(records: list[dict], first_position: int, few: bool) -> array:
    """Each record's ``training_iteration``; its position when missing, not a number or NaN."""
    values = _gather(records, STEP_KEY)
    converted = None if few else _plain(values)
    if converted is not None and not np.isnan(np.frombuffer(converted, dtype=np.float64)).any():
        return converted
    steps = []
    for offset, step in enumerate(values):
        if (type(step) is not int and type(step) is not float) or step != step:
            number = to_float(step)
            step = number if number is not None and number == number else float(
                first_position + offset + 1
            )
        steps.append(step)
    return doubles(steps)


def _times(stamps: list, few: bool) -> array:
    """The wall-clock seconds of the records that have a usable ``timestamp``."""
    converted = None if few else _plain(stamps)
    if converted is not None:
        points = np.frombuffer(converted, dtype=np.float64)
        if (np.abs(points) <= MILLISECONDS_THRESHOLD).all():  # finite seconds: as they are
            return converted
    found = (_record_time(stamp) for stamp in stamps)
    return array("d", [stamp for stamp in found if stamp is not None])


def _record_time(stamp: Any) -> float | None:
    if (type(stamp) is int or type(stamp) is float) and 0 < stamp < MILLISECONDS_THRESHOLD:
        return stamp  # Ray's integer epoch seconds: the common case, no parser call
    return None if stamp is None else parse_time(stamp)


class ProgressLog(CsvLog):
    """``progress.csv``: Ray's CSV copy of the results, used when ``result.json`` is absent."""

    last_done = False
    """The newest row's ``done`` (see :attr:`ResultLog.last_done`)."""
    _done_column: int | None = None

    def _set_header(self, cells: list[str]) -> None:
        renamed = ["step" if cell.strip() == STEP_KEY else cell for cell in cells]
        super()._set_header(renamed)
        self.metric_columns = [
            (position, name) for position, name in self.metric_columns if name not in BOOKKEEPING
        ]
        names = [cell.strip() for cell in renamed]
        self._done_column = names.index("done") if "done" in names else None

    def _add_row(
        self, cells: list[str], position: int, columns: Columns, ends: list[RunEnded]
    ) -> None:
        super()._add_row(cells, position, columns, ends)
        if self._done_column is not None and self._done_column < len(cells):
            self.last_done = cells[self._done_column].strip() == "True"


class Trial:
    """The files of one trial directory, read incrementally."""

    def __init__(self, reader: Reader, directory: Path) -> None:
        self.reader = reader
        self.directory = directory
        self.run_id = reader.relpath(directory)
        self.name = trial_name(directory.name)
        self.params_file = Watched(directory / PARAMS_NAME, reader.boundary)
        self.error_file = Watched(directory / ERROR_NAME, reader.boundary)
        self.log: MetricLog | None = None
        self.seen = False
        self.status: str | None = None
        self.ended = False
        self.started_at: float | None = None
        self.state: dict | None = None
        """The experiment state's entry for a trial whose folder is missing."""
        self.state_iteration: Any = None

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
        if self.log is None and self.state is not None:
            self._read_last_result(events)
        if self.log is not None:
            columns = self.log.columns()
            ends: list[RunEnded] = []
            self.log.read(columns, events, ends)
            batch = columns.build(self.run_id)
            if batch is not None:
                events.append(batch)

    def _read_last_result(self, events: list[Event]) -> None:
        """The state's last result as one record, when it is new (no log to read)."""
        last = self.state.get("last_result") if self.state else None
        if not isinstance(last, dict) or not last or last.get(STEP_KEY) == self.state_iteration:
            return
        self.state_iteration = last.get(STEP_KEY)
        columns = Columns()
        add_results([last], 0, columns)
        batch = columns.build(self.run_id)
        if batch is not None:
            events.append(batch)

    def _read_params(self, events: list[Event]) -> None:
        params = None
        if not self.seen and self.state is not None and not self.params_file.path.exists():
            config = self.state.get("config")
            params = config if isinstance(config, dict) else None
        elif self.params_file.changed():
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
        results = self.directory / RESULT_NAME
        if results.exists():
            return ResultLog(results, settings, self.run_id)
        progress = self.directory / PROGRESS_NAME
        if progress.exists():
            return ProgressLog(progress, settings, self.run_id)
        return None

    def end(self, status: str | None, events: list[Event], time: float | None = None) -> None:
        """Emit the end once the experiment state says TERMINATED or ERROR."""
        self.status = status
        ended = STATUS_MAP.get(status or "")
        if ended is None or self.ended:
            return
        if ended == "finished":
            self.ended = True
            stopped = bool(getattr(self.log, "last_done", False))  # by a stopper or scheduler
            events.append(RunEnded(self.run_id, "finished", time=time, stopped_early=stopped))
            return
        self.ended = True
        text = self._error_text()
        if not text and self.state is not None and isinstance(self.state.get("error_msg"), str):
            text = self.state["error_msg"]
        if text:
            events.append(RunEnded(self.run_id, None, text, time=time))
        else:
            missing = " (its error.txt was not kept)" if self.state is not None else ""
            events.append(RunEnded(self.run_id, "crashed", f"trial status ERROR{missing}", time=time))

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
        self.entries: dict[str, dict] = {}
        """Each trial's entry in the experiment state, by directory name."""
        self._warned: set[str] = set()

    def read(self, changed: Collection[Path | str] | None = None) -> list[Event]:
        """New trials, their new records, and status changes from the experiment state.

        When every path in ``changed`` lies inside a known trial directory, only those
        trials are read; anything else (the experiment state, a new trial) reads all.
        """
        return [event for part in self.read_parts(changed) for event in part]

    def read_parts(self, changed: Collection[Path | str] | None = None) -> Iterator[list[Event]]:
        """The events of :meth:`read`: the experiment's own, then each trial's in turn.

        During a one-shot load of many trials (:data:`PARALLEL_MIN_TRIALS`) the trials
        are read in forked child processes (:mod:`sweeptui.sources.forked`); each
        child's result is taken over in trial order, so the events and the state
        left for later reads are those of a serial read.
        """
        by_trial = _hinted_files(self.base, changed, self.trials)
        if by_trial is not None:
            yield self._read_trials(by_trial)
            return
        events: list[Event] = []
        names = self._list(events)
        if names is None:
            yield events
            return
        self._read_state(names, events)
        for name in names:
            if name not in self.trials and self._is_trial(name):
                self.trials[name] = Trial(self, self.base / name)
        self._add_state_only(set(names), events)
        yield events
        pending = list(self.trials)
        workers = worker_count(len(pending)) if len(pending) >= PARALLEL_MIN_TRIALS else 0
        done = 0
        if workers:
            for trial_events, state in forked_map(self._read_trial_alone, pending, workers):
                vars(self.trials[pending[done]]).update(state)
                done += 1
                yield trial_events
        for name in pending[done:]:
            trial_events = []
            self._read_trial(name, trial_events)
            yield trial_events

    def _read_trial(self, name: str, events: list[Event], files: set[str] | None = None) -> None:
        """One trial's new records (only ``files`` when given), then its end when the
        experiment state has one."""
        trial = self.trials[name]
        status, started, ended = self.statuses.get(name, (None, None, None))
        trial.started_at = started
        trial.read(events, files)
        trial.end(status, events, ended)

    def _read_trial_alone(self, name: str) -> tuple[list[Event], dict[str, Any]]:
        """In a child process: one trial's events and the trial's state after reading.

        The state (tail offsets, records read, files accepted, end emitted) is every
        attribute but the back reference to this reader; the parent takes it over so
        its next read continues where the child stopped.
        """
        events: list[Event] = []
        self._read_trial(name, events)
        state = dict(vars(self.trials[name]))
        del state["reader"]
        return events, state

    def _read_trials(self, by_trial: dict[str, set[str]]) -> list[Event]:
        """Read just the trials in ``by_trial``, each only for its changed files."""
        events: list[Event] = []
        for name in self.trials:
            files = by_trial.get(name)
            if files:
                self._read_trial(name, events, files)
        return events

    def why_no_run(self) -> str:
        """Why this experiment gave no run (asked when it gave none)."""
        if self.state_file is None or self.state_file.signature is None:
            return "its experiment_state file is not readable JSON (half-written, or not Ray's)"
        return "the experiment state lists no trial and no trial folder is beside it"

    def _add_state_only(self, names: set[str], events: list[Event]) -> None:
        """Trials the experiment state lists whose folders are not there: read from it."""
        missing = 0
        for directory, entry in self.entries.items():
            if directory in names:
                continue
            trial = self.trials.get(directory)
            if trial is None:
                trial = self.trials[directory] = Trial(self, self.base / directory)
            trial.state = entry
            missing += 1
        if missing and self.state_file is not None:
            self._warn_once(events, (
                f"{missing} of {len(self.entries)} trials in {self.state_file.path.name} have no "
                "trial folder: shown with the state's status and last result; their logs are missing"
            ))

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
            self.state_file = Watched(self.base / newest, self.boundary)
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
                started = parse_time(entry.get("start_time")) or folder_time(directory)
                ended = _end_time(entry, started) if status in STATUS_MAP else None
                self.statuses[directory] = (status, started, ended)
                self.entries[directory] = entry

    def _warn_once(self, events: list[Event], message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            events.append(SourceWarning(str(self.base), message))


def _end_time(entry: dict, started: float | None) -> float | None:
    """When an ended trial's state says it last reported; its start when it never did."""
    for key in ("last_result_time", "last_update_time"):
        stamp = parse_time(entry.get(key))
        if stamp is not None:
            return stamp
    last = entry.get("last_result")
    stamp = parse_time(last.get(TIME_KEY)) if isinstance(last, dict) else None
    return stamp if stamp is not None else started


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
        self.trial.started_at = folder_time(base.name)

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
        if parts is None or len(parts) < 2 or parts[0] not in trials:
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
