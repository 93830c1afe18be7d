"""MLflow's SQLite store (``sqlite:///mlflow.db``, the default backend since MLflow 3.7).

Read with the standard library's :mod:`sqlite3`, read-only (``mode=ro`` URI), whenever
the file or its ``-wal`` changes. Runs and experiments are small and read whole; params,
tags and metric points are read incrementally by row id (only rows newer than the last
read), metric rows one (run, metric) pair per statement so no read holds the database long. A
``database is locked`` (or any SQLite error) gives one warning and the read is retried
on the next poll; nothing already read is lost. Metric rows of a run not read yet (the
run committed after the runs query) wait for that run.

What the tables hold, and how it maps: :mod:`sweeptui.sources.mlflow_runs`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from pathlib import Path

from sweeptui.events import Event, SourceWarning
from sweeptui.settings import Settings
from sweeptui.sources.base import Reader
from sweeptui.sources.files import SQLITE_SUFFIXES, connect_readonly, sqlite_signature, sqlite_tables
from sweeptui.sources.mlflow_runs import (
    NAME,
    RUN_NAME_TAG,
    SQL_INFINITY,
    RunState,
    millis,
    param_value,
    sql_metric,
    sweep_events,
)

TABLES = frozenset({"experiments", "runs", "metrics", "params", "tags", "latest_metrics"})


class SqliteReader(Reader):
    """Reads one MLflow SQLite store read-only, incrementally by row id."""

    source = NAME

    def __init__(self, root: Path, base: Path, settings: Settings) -> None:
        super().__init__(root, base, settings)
        self.storage = self.relpath()
        self.signature: tuple | None = None
        self.runs: dict[str, RunState] = {}
        self.waiting: dict[str, list[tuple]] = {}
        """Metric points whose run was not read yet, by run uuid: (key, values, steps, stamps)."""
        self.last_row = {"metrics": 0, "params": 0, "tags": 0}
        self.others: set[str] = set()
        """Runs of experiments other than ``settings.experiment``: not read."""
        self._problem: str | None = None

    def owns(self, path: Path) -> bool:
        """The database file and its ``-wal`` / ``-journal`` companions."""
        return path.parent == self.base.parent and path.name.startswith(self.base.name)

    def read(self, changed: Collection[Path | str] | None = None) -> list[Event]:
        """Query what is new in the changed database (one file: the hint narrows nothing)."""
        signature = sqlite_signature(self.base)
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
        events.extend(sweep_events(self.runs, self.storage, str(self.base), self.settings.include_deleted))
        return events

    # -- queries -----------------------------------------------------------------------
    def _query(self) -> bool:
        """Read what is new; False when rows are left for the next read."""
        connection = connect_readonly(self.base)
        try:
            self._read_runs(connection)
            self._read_pairs(connection, "params")
            self._read_pairs(connection, "tags")
            return self._read_metrics(connection)
        finally:
            connection.close()

    def _read_runs(self, connection: sqlite3.Connection) -> None:
        experiments = {
            str(number): (name, stage) for number, name, stage in connection.execute(
                "SELECT experiment_id, name, lifecycle_stage FROM experiments")
        }  # fmt: skip
        wanted = self.settings.experiment
        rows = connection.execute(
            "SELECT run_uuid, experiment_id, name, status, start_time, end_time, lifecycle_stage "
            "FROM runs"
        )
        for uuid, experiment, name, status, start, end, stage in rows:
            experiment_name, experiment_stage = experiments.get(str(experiment), ("", None))
            if wanted and experiment_name != wanted:
                self.others.add(uuid)  # another experiment: another sweep
                continue
            run = self.runs.get(uuid)
            if run is None:
                run = self.runs[uuid] = RunState(uuid, str(experiment))
            run.name = name or run.name
            run.status = str(status or "RUNNING")
            run.start, run.end = millis(start), millis(end)
            run.deleted = stage == "deleted" or experiment_stage == "deleted"
            for points in self.waiting.pop(uuid, ()):
                run.add_points(*points)

    def _read_pairs(self, connection: sqlite3.Connection, table: str) -> None:
        """New rows of ``params`` or ``tags`` (key, value, run) by row id."""
        rows = connection.execute(
            f"SELECT rowid, key, value, run_uuid FROM {table} WHERE rowid > ? ORDER BY rowid",
            (self.last_row[table],),
        )
        for row_id, key, value, uuid in rows:
            run = self.runs.get(uuid)
            if uuid in self.others:
                self.last_row[table] = row_id
                continue
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
        """New metric rows, one (run, metric) at a time; True when no row waits for its run.

        One query finds which (run, metric) pairs have rows newer than the last read (by
        row id, the rowid B-tree: cheap however large the table); then each pair's new
        rows come through MLflow's (run, key, step) index, already in step order, as plain
        numbers handed over as whole columns. No Python call per point, no text per row,
        and each statement is short (a writer waits on none for long).
        """
        (newest,) = connection.execute("SELECT max(rowid) FROM metrics").fetchone()
        low = self.last_row["metrics"]
        if not newest or newest <= low:
            return not self.waiting
        pairs = connection.execute(
            "SELECT run_uuid, key, max(is_nan) FROM metrics NOT INDEXED "
            "WHERE rowid > ? AND rowid <= ? GROUP BY run_uuid, key",
            (low, newest),
        ).fetchall()
        for uuid, key, any_nan in pairs:
            if uuid not in self.others:
                self._read_pair(connection, uuid, key, bool(any_nan), low, newest)
        self.last_row["metrics"] = newest
        return not self.waiting

    def _read_pair(self, connection: sqlite3.Connection, uuid: str, key: str, any_nan: bool,
                   low: int, high: int) -> None:  # fmt: skip
        rows = connection.execute(
            "SELECT value, step, timestamp, is_nan FROM metrics WHERE run_uuid = ? AND key = ? "
            "AND rowid > ? AND rowid <= ? ORDER BY timestamp, step",  # the order they were logged
            (uuid, key, low, high),
        ).fetchall()
        if not rows:
            return
        values, steps, stamps, nans = zip(*rows, strict=True)
        if any_nan or max(values) >= SQL_INFINITY or min(values) <= -SQL_INFINITY:
            values = tuple(map(sql_metric, values, nans))
        run = self.runs.get(uuid)
        if run is None:
            self.waiting.setdefault(uuid, []).append((key, values, steps, stamps))
        else:
            run.add_points(key, values, steps, stamps)


def is_mlflow_sqlite(path: Path) -> bool:
    """An SQLite file with MLflow's tracking tables (``runs``, ``metrics``, ``params``...)."""
    if path.suffix not in SQLITE_SUFFIXES:
        return False
    tables = sqlite_tables(path)
    if tables is None:
        return False
    if tables.locked:  # a writer holds the lock: claim it only if it is called like MLflow's store
        return path.name == "mlflow.db"
    return tables.names >= TABLES


__all__ = ["SqliteReader", "is_mlflow_sqlite"]
