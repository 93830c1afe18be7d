"""The Optuna layouts: a ``JournalFileBackend`` journal and an RDB SQLite file.

Both describe studies of trials; each trial becomes one run:

- run id ``<storage file relative to the root>/<study name>/<trial number>``, name
  ``<study name>#<number>``, path the storage file;
- params from the trial's params (categorical choices decoded from the distribution);
- the intermediate values are the metric series, step = the reported step, named by the
  study's objective name (``study:metric_names``) or ``value``;
- the final values go to the summary (``value`` or the objective names);
- states: COMPLETE -> finished; PRUNED -> finished, stopped early on purpose (and
  ``pruned = 1`` in the summary)
  (a normal outcome, never a crash); FAIL -> crashed; RUNNING / WAITING -> running (a
  trial whose worker was killed stays RUNNING: the stall and vanish detectors judge it).

The journal (one JSON operation per line, appended by every worker) is tailed with
:class:`~sweeptui.sources.tail.FileTail` and replayed the way Optuna replays it. The
SQLite file is read with the standard library in read-only URI mode whenever it (or its
``-wal`` file) changes; only intermediate values with a higher row id than already seen
are fetched. A locked or half-written database gives a warning and is retried.
Neither reader imports Optuna.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from sweeptui.events import (
    Event,
    FileReset,
    MetricBatch,
    RunEnded,
    RunSeen,
    Series,
    SourceWarning,
    SummarySeen,
)
from sweeptui.settings import Settings
from sweeptui.sources.base import Match, Reader, ScanContext, SourceSpec, boundary_of
from sweeptui.sources.files import (
    SQLITE_SUFFIXES,
    UNBOUNDED,
    Boundary,
    connect_readonly,
    sqlite_signature,
    sqlite_tables,
)
from sweeptui.sources.jsonio import parse_json, parse_time, to_float
from sweeptui.sources.tail import FileTail

NAME = "optuna"
JOURNAL_MARK = b'{"op_code"'
JOURNAL_SUFFIXES = (".log", ".jsonl", ".journal")
OPTUNA_TABLES = frozenset({"studies", "trials", "trial_intermediate_values"})
"""The tables that make an SQLite file an Optuna RDB storage."""

STATE_NAMES = {0: "RUNNING", 1: "COMPLETE", 2: "PRUNED", 3: "FAIL", 4: "WAITING"}
"""Optuna's ``TrialState`` values as the journal stores them."""
NONFINITE = {"NAN": math.nan, "INF_POS": math.inf, "INF_NEG": -math.inf}
"""How the RDB schema stores non-finite values: NULL plus this type tag."""

# journal operation codes (optuna.storages.journal JournalOperation)
CREATE_STUDY, DELETE_STUDY, SET_STUDY_USER_ATTR, SET_STUDY_SYSTEM_ATTR = 0, 1, 2, 3
CREATE_TRIAL, SET_TRIAL_PARAM, SET_TRIAL_STATE_VALUES, SET_TRIAL_INTERMEDIATE = 4, 5, 6, 7


# -- the shared trial model ----------------------------------------------------------------------
@dataclass
class Study:
    """A study's name and objective names."""

    name: str
    metric_names: list[str] = field(default_factory=list)

    def metric(self) -> str:
        """The name of the intermediate-value series."""
        return self.metric_names[0] if self.metric_names else "value"

    def value_names(self, count: int) -> list[str]:
        """Summary names of ``count`` final values."""
        if len(self.metric_names) == count:
            return list(self.metric_names)
        return ["value"] if count == 1 else [f"value_{i}" for i in range(count)]


@dataclass
class TrialState:
    """One trial as far as read, plus what has been emitted for it."""

    study: Study
    number: int
    state: str = "RUNNING"
    params: dict[str, Any] = field(default_factory=dict)
    values: list[float] | None = None
    started: float | None = None
    completed: float | None = None
    new_steps: list[float] = field(default_factory=list)
    new_values: list[float] = field(default_factory=list)
    dirty: bool = True
    emitted_params: dict | None = None
    ended: bool = False
    heard: float | None = None
    """When the newest operation read for this trial was written, as far as the storage tells."""


def trial_run_id(trial: TrialState, storage: str) -> str:
    """The run id of ``trial`` in the storage file ``storage``."""
    return f"{storage}/{trial.study.name}/{trial.number}"


def trial_events(
    trial: TrialState, storage: str, mtime: float | None, origin: str | None = None
) -> list[Event]:
    """The events for what changed in ``trial`` since the last call; its points carry
    ``origin`` (the journal, which a reset may make take them back)."""
    if not trial.dirty:
        return []
    trial.dirty = False
    run_id = trial_run_id(trial, storage)
    events: list[Event] = []
    if trial.emitted_params is None or trial.params != trial.emitted_params:
        trial.emitted_params = dict(trial.params)
        name = f"{trial.study.name}#{trial.number}"
        events.append(RunSeen(run_id, name, storage, NAME, dict(trial.params), trial.started,
                              origin))  # fmt: skip
    if trial.new_steps:
        series = Series()
        series.steps.extend(trial.new_steps)
        series.values.extend(trial.new_values)
        count = len(trial.new_steps)
        metrics = {trial.study.metric(): series}
        events.append(MetricBatch(run_id, metrics, count, mtime=mtime, origin=origin))
        trial.new_steps, trial.new_values = [], []
    if not trial.ended and trial.state in ("COMPLETE", "PRUNED", "FAIL"):
        trial.ended = True
        events.extend(_end_events(trial, run_id, origin))
    return events


def _end_events(trial: TrialState, run_id: str, origin: str | None) -> list[Event]:
    summary: dict[str, float] = {}
    if trial.values:
        for name, value in zip(trial.study.value_names(len(trial.values)), trial.values,
                               strict=False):
            number = to_float(value)
            summary[name] = math.nan if number is None else number
    if trial.state == "PRUNED":
        summary["pruned"] = 1.0
    events: list[Event] = [SummarySeen(run_id, summary)] if summary else []
    if trial.state == "FAIL":
        events.append(RunEnded(run_id, "crashed", "trial state FAIL", time=trial.completed,
                               origin=origin))  # fmt: skip
    else:
        pruned = trial.state == "PRUNED"
        events.append(RunEnded(run_id, "finished", time=trial.completed, stopped_early=pruned,
                               origin=origin))  # fmt: skip
    return events


def decode_param(internal: Any, distribution: Any) -> Any:
    """An external param value from Optuna's internal float and its distribution JSON."""
    if isinstance(distribution, str):
        try:
            distribution = json.loads(distribution)
        except ValueError:
            return internal
    if not isinstance(distribution, dict):
        return internal
    kind = str(distribution.get("name", ""))
    attributes = distribution.get("attributes") or {}
    if kind == "CategoricalDistribution":
        choices = attributes.get("choices") or []
        try:
            return choices[int(internal)]
        except (TypeError, ValueError, IndexError):
            return internal
    if kind.startswith("Int") and isinstance(internal, (int, float)) and math.isfinite(internal):
        return int(internal)
    return internal


# -- the journal --------------------------------------------------------------------------------
class JournalReader(Reader):
    """Tails a ``JournalFileBackend`` file and replays its operations."""

    source = NAME

    def __init__(self, root: Path, base: Path, settings: Settings) -> None:
        super().__init__(root, base, settings)
        self.tail = FileTail(base, settings, boundary=self.boundary)
        self.storage = self.relpath()
        self._reset_state()

    def _reset_state(self) -> None:
        self.studies: dict[int, Study] = {}
        self.next_study_id = 0
        self.trials: dict[int, TrialState] = {}
        self.trial_count = 0
        self.study_trials: dict[int, int] = {}

    def read(self, changed: Collection[Path | str] | None = None) -> list[Event]:
        """Replay the new operations; events for every trial they touched.

        One file: the ``changed`` hint narrows nothing.
        """
        events: list[Event] = []
        chunk = self.tail.read_lines()
        for message in chunk.warnings:
            events.append(SourceWarning(str(self.base), message))
        if chunk.reset is not None:
            self._start_over(chunk.reset, events)
        self._replay(chunk.lines, chunk.mtime)
        for trial in self.trials.values():
            mtime = chunk.mtime if trial.heard is None else trial.heard
            events.extend(trial_events(trial, self.storage, mtime, str(self.base)))
        return events

    def _start_over(self, kind: str, events: list[Event]) -> None:
        """The journal was replaced or truncated: every trial's points from it are withdrawn
        and the journal replayed from its start."""
        origin = str(self.base)
        events.extend(FileReset(trial_run_id(trial, self.storage), origin, kind)
                      for trial in self.trials.values())  # fmt: skip
        events.append(SourceWarning(origin, f"journal {kind}; the points read from it before "
                                            "are dropped and it is replayed from its start"))  # fmt: skip
        self._reset_state()

    def _replay(self, lines: list[bytes], mtime: float | None) -> None:
        """Apply the operations, dating each trial's newest one.

        Intermediate values carry no time, but the journal is appended in order and
        trial starts and completions are dated: an operation was written no later than
        the next dated one after it. So a trial whose worker was killed stops being
        heard from while the others' dates move on, even when every trial is read at
        once from a file just written (its time alone would call them all current).
        """
        undated: list[TrialState] = []
        for line in lines:
            operation = _parse_operation(line)
            if operation is None:
                continue
            trial = self._apply(operation)
            stamp = _operation_time(operation, mtime)
            if stamp is not None:
                for waiting in undated:
                    waiting.heard = stamp
                undated.clear()
            if trial is not None:
                trial.heard = stamp
                if stamp is None:
                    undated.append(trial)
        for waiting in undated:
            waiting.heard = mtime

    def _apply(self, op: dict) -> TrialState | None:
        """Apply one operation; the trial it touched, if any."""
        code = op.get("op_code")
        if code == CREATE_STUDY:
            self._create_study(op)
        elif code == DELETE_STUDY:
            self.studies.pop(op.get("study_id"), None)
        elif code == SET_STUDY_SYSTEM_ATTR:
            self._study_attr(op)
        elif code == CREATE_TRIAL:
            return self._create_trial(op)
        elif code in (SET_TRIAL_PARAM, SET_TRIAL_STATE_VALUES, SET_TRIAL_INTERMEDIATE):
            trial = self.trials.get(op.get("trial_id"))
            if trial is None or trial.state in ("COMPLETE", "PRUNED", "FAIL"):
                return None  # Optuna ignores updates to unknown or finished trials too
            if code == SET_TRIAL_PARAM:
                name = op.get("param_name")
                trial.params[name] = decode_param(op.get("param_value_internal"),
                                                  op.get("distribution"))
            elif code == SET_TRIAL_STATE_VALUES:
                _set_state(trial, op)
            else:
                _add_point(trial, op.get("step"), op.get("intermediate_value"))
            trial.dirty = True
            return trial
        return None

    def _create_study(self, op: dict) -> None:
        name = op.get("study_name")
        if not isinstance(name, str) or any(s.name == name for s in self.studies.values()):
            return
        self.studies[self.next_study_id] = Study(name)
        self.study_trials[self.next_study_id] = 0
        self.next_study_id += 1

    def _study_attr(self, op: dict) -> None:
        study = self.studies.get(op.get("study_id"))
        attrs = op.get("system_attr")
        if study is not None and isinstance(attrs, dict):
            names = attrs.get("study:metric_names")
            if isinstance(names, list):
                study.metric_names = [str(name) for name in names]

    def _create_trial(self, op: dict) -> TrialState | None:
        study_id = op.get("study_id")
        study = self.studies.get(study_id)
        if study is None:
            return None
        trial = TrialState(study, self.study_trials[study_id])
        self.study_trials[study_id] += 1
        self.trials[self.trial_count] = trial
        self.trial_count += 1
        trial.state = STATE_NAMES.get(op.get("state", 0), "RUNNING")
        trial.started = parse_time(op.get("datetime_start"))
        trial.completed = parse_time(op.get("datetime_complete"))
        distributions = op.get("distributions") or {}
        for name, internal in (op.get("params") or {}).items():
            trial.params[name] = decode_param(internal, distributions.get(name))
        for step, value in sorted((op.get("intermediate_values") or {}).items(),
                                  key=lambda item: to_float(item[0]) or 0.0):
            _add_point(trial, step, value)
        values = op.get("values")
        if values is None and op.get("value") is not None:
            values = [op.get("value")]
        trial.values = values if isinstance(values, list) else None
        return trial


def _operation_time(op: dict, mtime: float | None) -> float | None:
    """When a dated operation was written (a trial's start or completion), capped at the file's time."""
    stamp = parse_time(op.get("datetime_complete")) or parse_time(op.get("datetime_start"))
    if stamp is None or mtime is None:
        return stamp
    return min(stamp, mtime)  # a worker's clock ahead of the file's cannot date it later than the file


def _parse_operation(line: bytes) -> dict | None:
    try:
        operation = orjson.loads(line)
    except orjson.JSONDecodeError:
        try:
            operation = parse_json(line)[0]
        except ValueError:
            return None
    return operation if isinstance(operation, dict) else None


def _set_state(trial: TrialState, op: dict) -> None:
    trial.state = STATE_NAMES.get(op.get("state"), trial.state)
    if op.get("datetime_start"):
        trial.started = parse_time(op["datetime_start"])
    if op.get("datetime_complete"):
        trial.completed = parse_time(op["datetime_complete"])
    if isinstance(op.get("values"), list):
        trial.values = op["values"]


def _add_point(trial: TrialState, step: Any, value: Any) -> None:
    step_number = to_float(step)
    number = to_float(value)
    if step_number is None:
        return
    trial.new_steps.append(step_number)
    trial.new_values.append(math.nan if number is None else number)


# -- the RDB (SQLite) storage -------------------------------------------------------------------
class SqliteReader(Reader):
    """Reads an Optuna RDB SQLite file read-only whenever it changes."""

    source = NAME

    def __init__(self, root: Path, base: Path, settings: Settings) -> None:
        super().__init__(root, base, settings)
        self.storage = self.relpath()
        self.signature: tuple | None = None
        self.trials: dict[int, TrialState] = {}
        self.last_value_id = 0
        self._problem: str | None = None

    def owns(self, path: Path) -> bool:
        """The database file and its ``-wal`` / ``-journal`` companions."""
        return path.parent == self.base.parent and path.name.startswith(self.base.name)

    def read(self, changed: Collection[Path | str] | None = None) -> list[Event]:
        """Query the changed database; events for every trial that changed.

        One database: the ``changed`` hint narrows nothing.
        """
        signature = sqlite_signature(self.base)
        if signature is None or signature == self.signature:
            return []
        events: list[Event] = []
        try:
            self._query()
        except sqlite3.Error as exc:
            message = f"cannot read the Optuna database (retried): {exc}"
            if message != self._problem:
                self._problem = message
                events.append(SourceWarning(str(self.base), message))
            return events
        self._problem = None
        self.signature = signature
        mtime = signature[1] / 1e9
        for trial in self.trials.values():
            events.extend(trial_events(trial, self.storage, mtime))
        return events

    def _query(self) -> None:
        connection = connect_readonly(self.base)
        try:
            with connection:  # one read transaction: a consistent snapshot
                studies = self._studies(connection)
                self._read_trials(connection, studies)
        finally:
            connection.close()

    def _studies(self, connection: sqlite3.Connection) -> dict[int, Study]:
        studies = {sid: Study(name) for sid, name in
                   connection.execute("SELECT study_id, study_name FROM studies")}
        rows = connection.execute(
            "SELECT study_id, value_json FROM study_system_attributes WHERE key = ?",
            ("study:metric_names",),
        )
        for study_id, value in rows:
            names = _json_or_none(value)
            if study_id in studies and isinstance(names, list):
                studies[study_id].metric_names = [str(name) for name in names]
        return studies

    def _read_trials(self, connection: sqlite3.Connection, studies: dict[int, Study]) -> None:
        rows = connection.execute(
            "SELECT trial_id, number, study_id, state, datetime_start, datetime_complete "
            "FROM trials ORDER BY trial_id"
        )
        for trial_id, number, study_id, state, start, complete in rows:
            study = studies.get(study_id)
            if study is None:
                continue
            trial = self.trials.get(trial_id)
            if trial is None:
                trial = self.trials[trial_id] = TrialState(study, int(number))
            trial.study.metric_names = study.metric_names
            if trial.state != state or (start and trial.started is None):
                trial.state, trial.dirty = str(state), True
                trial.started = _sql_time(start)
                trial.completed = _sql_time(complete)
        self._read_params(connection)
        self._read_values(connection)
        self._read_intermediate(connection)

    def _read_params(self, connection: sqlite3.Connection) -> None:
        rows = connection.execute(
            "SELECT trial_id, param_name, param_value, distribution_json FROM trial_params"
        )
        for trial_id, name, internal, distribution in rows:
            trial = self.trials.get(trial_id)
            if trial is not None:
                value = decode_param(internal, distribution)
                if trial.params.get(name) != value:
                    trial.params[name] = value
                    trial.dirty = True

    def _read_values(self, connection: sqlite3.Connection) -> None:
        found: dict[int, dict[int, float]] = {}
        rows = connection.execute(
            "SELECT trial_id, objective, value, value_type FROM trial_values"
        )
        for trial_id, objective, value, kind in rows:
            found.setdefault(trial_id, {})[objective] = _sql_value(value, kind)
        for trial_id, by_objective in found.items():
            trial = self.trials.get(trial_id)
            if trial is not None and trial.values is None:
                trial.values = [by_objective[key] for key in sorted(by_objective)]
                trial.dirty = True

    def _read_intermediate(self, connection: sqlite3.Connection) -> None:
        rows = connection.execute(
            "SELECT trial_intermediate_value_id, trial_id, step, intermediate_value, "
            "intermediate_value_type FROM trial_intermediate_values "
            "WHERE trial_intermediate_value_id > ? ORDER BY trial_intermediate_value_id",
            (self.last_value_id,),
        )
        for row_id, trial_id, step, value, kind in rows:
            self.last_value_id = max(self.last_value_id, row_id)
            trial = self.trials.get(trial_id)
            if trial is not None:
                _add_point(trial, step, _sql_value(value, kind))
                trial.dirty = True


def _sql_value(value: Any, kind: Any) -> float:
    if value is None:
        return NONFINITE.get(str(kind), math.nan)
    return float(value)


def _sql_time(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    return parse_time(str(value))


def _json_or_none(value: Any) -> Any:
    try:
        return json.loads(value) if isinstance(value, str) else None
    except ValueError:
        return None


# -- the matcher ---------------------------------------------------------------------------------
def is_journal(path: Path, boundary: Boundary = UNBOUNDED) -> bool:
    """A file whose first line is an Optuna journal operation."""
    return path.suffix in JOURNAL_SUFFIXES and boundary.peek(path, len(JOURNAL_MARK)) == JOURNAL_MARK


def is_optuna_sqlite(path: Path, boundary: Boundary = UNBOUNDED) -> bool:
    """An SQLite file with Optuna's ``studies`` and ``trial_intermediate_values`` tables."""
    if path.suffix not in SQLITE_SUFFIXES:
        return False
    tables = sqlite_tables(path, boundary)
    # a writer holding the lock: claimed now, the reader warns and retries
    return tables is not None and (tables.locked or tables.names >= OPTUNA_TABLES)


_CANDIDATE_ENDINGS = (*JOURNAL_SUFFIXES, *SQLITE_SUFFIXES)


def match(directory: Path, subdirs: list[str], files: list[str], ctx: ScanContext) -> Match | None:
    """Claim journal files and Optuna SQLite files; the rest of the directory stays open."""
    readers: list[Reader] = []
    claimed: set[str] = set()
    boundary = boundary_of(ctx.root, ctx.settings)
    for name in files:
        if not name.endswith(_CANDIDATE_ENDINGS):  # most files: no path built, nothing opened
            continue
        path = directory / name
        if is_journal(path, boundary):
            readers.append(JournalReader(ctx.root, path, ctx.settings))
        elif is_optuna_sqlite(path, boundary):
            readers.append(SqliteReader(ctx.root, path, ctx.settings))
            claimed.update({f"{name}-wal", f"{name}-shm", f"{name}-journal"})
        else:
            continue
        claimed.add(name)
    if not readers:
        return None
    return Match(readers=readers, claimed=claimed)


SOURCE = SourceSpec(
    NAME,
    "Optuna storage: JournalFileBackend journal or RDB SQLite file (*.db, *.sqlite3)",
    match,
)

__all__ = ["SOURCE", "JournalReader", "SqliteReader", "decode_param"]
