"""MLflow's SQLite store (``sqlite:///mlflow.db``, the default backend since MLflow 3.7).

Read with the standard library's :mod:`sqlite3`, read-only (``mode=ro`` URI), whenever
the file or its ``-wal`` changes. Runs and experiments are small and read whole; params,
tags and metric points are read incrementally by row id (only rows newer than the last
read), metric rows in bounded chunks so no read holds the database for long. A
``database is locked`` (or any SQLite error) gives one warning and the read is retried
on the next poll; nothing already read is lost. Metric rows of a run not read yet (the
run committed after the runs query) wait for that run.

What the tables hold, and how it maps: :mod:`sweeptui.sources.mlflow_runs`.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Collection
from pathlib import Path

from sweeptui.events import Event, SourceWarning
from sweeptui.settings import Settings
from sweeptui.sources.base import Reader
from sweeptui.sources.mlflow_runs import (
    NAME,
    RUN_NAME_TAG,
    RunState,
    millis,
    param_value,
    run_events,
    sql_metric,
    trial_runs,
)

SQLITE_MARK = b"SQLite format 3\x00"
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
TABLES = frozenset({"experiments", "runs", "metrics", "params", "tags"})
CHUNK_ROWS = 200_000
"""Metric rows per query: each query is a short read transaction."""
BUSY_SECONDS = 0.2
"""How long one query waits for a writer's lock before the read is retried later."""


def connect(path: Path) -> sqlite3.Connection:
    """A read-only connection that never creates or changes the file."""
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_SECONDS)


class SqliteReader(Reader):
    """Reads one MLflow SQLite store read-only, incrementally by row id."""

    source = NAME

    def __init__(self, root: Path, base: Path, settings: Settings) -> None:
        super().__init__(root, base, settings)
        self.storage = self.relpath()
        self.signature: tuple | None = None
        self.runs: dict[str, RunState] = {}
        self.waiting: dict[str, list[tuple]] = {}
        """Metric rows whose run was not read yet, by run uuid."""
        self.last_row = {"metrics": 0, "params": 0, "tags": 0}
        self._problem: str | None = None

    def owns(self, path: Path) -> bool:
        """The database file and its ``-wal`` / ``-journal`` companions."""
        return path.parent == self.base.parent and path.name.startswith(self.base.name)

    def read(self, changed: Collection[Path | str] | None = None) -> list[Event]:
        """Query what is new in the changed database (one file: the hint narrows nothing)."""
        signature = self._signature()
        if signature is None or signature == self.signature:
            return []
        events: list[Event] = []
        try:
            complete = self._query()
        except sqlite3.Error as exc:
            message = f"cannot read the MLflow database (retried on the next poll): {exc}"
            if message != self._problem:
                self._problem = message
                events.append(SourceWarning(str(self.base), message))
            complete = False
        else:
            self._problem = None
        if complete:
            self.signature = signature
        include = self.settings.include_deleted
        for run in trial_runs(self.runs):
            events.extend(run_events(run, self.storage, str(self.base), include))
        return events

    def _signature(self) -> tuple | None:
        parts: list[int] = []
        for suffix in ("", "-wal"):
            try:
                info = os.stat(f"{self.base}{suffix}")
            except OSError:
                if suffix == "":
                    return None
                continue
            parts.extend((info.st_size, info.st_mtime_ns))
        return tuple(parts)

    # -- queries -----------------------------------------------------------------------
    def _query(self) -> bool:
        """Read what is new; False when rows are left for the next read."""
        connection = connect(self.base)
        try:
            self._read_runs(connection)
            self._read_pairs(connection, "params")
            self._read_pairs(connection, "tags")
            return self._read_metrics(connection)
        finally:
            connection.close()

    def _read_runs(self, connection: sqlite3.Connection) -> None:
        deleted_experiments = {
            str(row[0]) for row in connection.execute(
                "SELECT experiment_id FROM experiments WHERE lifecycle_stage = 'deleted'")
        }  # fmt: skip
        rows = connection.execute(
            "SELECT run_uuid, experiment_id, name, status, start_time, end_time, lifecycle_stage "
            "FROM runs"
        )
        for uuid, experiment, name, status, start, end, stage in rows:
            run = self.runs.get(uuid)
            if run is None:
                run = self.runs[uuid] = RunState(uuid, str(experiment))
            run.name = name or run.name
            run.status = str(status or "RUNNING")
            run.start, run.end = millis(start), millis(end)
            run.deleted = stage == "deleted" or str(experiment) in deleted_experiments
            for row in self.waiting.pop(uuid, ()):
                run.add_point(*row)

    def _read_pairs(self, connection: sqlite3.Connection, table: str) -> None:
        """New rows of ``params`` or ``tags`` (key, value, run) by row id."""
        rows = connection.execute(
            f"SELECT rowid, key, value, run_uuid FROM {table} WHERE rowid > ? ORDER BY rowid",
            (self.last_row[table],),
        )
        for row_id, key, value, uuid in rows:
            run = self.runs.get(uuid)
            if run is None:
                return  # a run committed after the runs query: read these rows next time
            self.last_row[table] = row_id
            if table == "params":
                run.params[str(key)] = param_value(value)
            else:
                run.tags[str(key)] = str(value)
                if key == RUN_NAME_TAG and not run.name:
                    run.name = str(value)

    def _read_metrics(self, connection: sqlite3.Connection) -> bool:
        """New metric rows in chunks; True when every row there was got read."""
        runs, waiting = self.runs, self.waiting
        while True:
            rows = connection.execute(
                "SELECT rowid, run_uuid, key, value, is_nan, step, timestamp FROM metrics "
                "WHERE rowid > ? ORDER BY rowid LIMIT ?",
                (self.last_row["metrics"], CHUNK_ROWS),
            ).fetchall()
            for _row_id, uuid, key, value, is_nan, step, stamp in rows:
                point = (key, sql_metric(value, is_nan), float(step), stamp)
                run = runs.get(uuid)
                if run is None:
                    waiting.setdefault(uuid, []).append(point)
                else:
                    run.add_point(*point)
            if rows:
                self.last_row["metrics"] = rows[-1][0]
            if len(rows) < CHUNK_ROWS:
                return not waiting


def is_mlflow_sqlite(path: Path) -> bool:
    """An SQLite file with MLflow's tracking tables (``runs``, ``metrics``, ``params``...)."""
    if path.suffix not in SQLITE_SUFFIXES:
        return False
    try:
        with open(path, "rb") as handle:
            if handle.read(len(SQLITE_MARK)) != SQLITE_MARK:
                return False
    except OSError:
        return False
    try:
        connection = connect(path)
        try:
            names = {row[0] for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            connection.close()
    except sqlite3.OperationalError as exc:
        # a writer holds the lock: claim it only if it is called like MLflow's store
        return ("locked" in str(exc) or "busy" in str(exc)) and path.name == "mlflow.db"
    except sqlite3.Error:
        return False
    return names >= TABLES and "latest_metrics" in names


__all__ = ["SqliteReader", "is_mlflow_sqlite"]
