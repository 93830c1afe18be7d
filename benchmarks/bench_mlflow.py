"""Benchmark: 1,000 runs x 1,000 steps in an MLflow SQLite store, sweeptui against MLflow.

Builds the store once in ``bench_data/mlflow`` (reused when present): the schema, the
experiment and the runs are made by real MLflow (``MlflowClient``), then the metric rows
(``train_loss`` and ``val_loss`` per step, 2,000 per run) are inserted by direct SQL in
the schema MLflow made, the way MLflow's own ``log_batch`` writes them (NaN as ``0`` with
``is_nan``), because logging two million points through the client would take hours.
Then, in one run:

- ``sweeptui``: ``load_sweep(DIR, source="mlflow")`` (read, store, every detector) and the
  SQLite reader alone;
- ``mlflow``: ``MlflowClient.get_metric_history`` for every run and metric, the way people
  read a sweep today (timed on ``--subset`` runs and scaled linearly when smaller);
- ``poll``: with the sweep loaded, 10 runs each get one more point; the cost of the poll
  that reads them (and of one that finds nothing new).

    PYTHONPATH=. python benchmarks/bench_mlflow.py [--runs 1000] [--steps 1000] [--subset 1000]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sweeptui.sources.mlflow_sqlite import SqliteReader
from sweeptui.sweep import Sweep

KEYS = ("train_loss", "val_loss")
BASE_MS = 1_795_000_000_000


def build_store(directory: Path, runs: int, steps: int) -> Path:
    """The store, made once: schema and runs by MLflow, metric rows by SQL."""
    database = directory / "mlflow.db"
    marker = directory / f".complete-{runs}x{steps}"
    if marker.exists():
        return database
    import mlflow  # noqa: F401 - only to say which version made the schema
    from mlflow.tracking import MlflowClient

    directory.mkdir(parents=True, exist_ok=True)
    database.unlink(missing_ok=True)
    client = MlflowClient(f"sqlite:///{database}")
    experiment = client.create_experiment("bench-sweep", artifact_location=str(directory / "artifacts"))
    uuids = [client.create_run(experiment, run_name=f"run-{i:04d}").info.run_id for i in range(runs)]
    connection = sqlite3.connect(database)
    rng = random.Random(0)
    with connection:
        connection.executemany(
            "INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)",
            [(key, value, uuid) for i, uuid in enumerate(uuids)
             for key, value in (("lr", str(10 ** rng.uniform(-4, -1))), ("layers", str(1 + i % 4)),
                                ("epochs", str(steps)))],
        )  # fmt: skip
        for index, uuid in enumerate(uuids):
            connection.executemany(
                "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?,?,?,?,?,?)",
                _points(uuid, index, steps, rng),
            )
        connection.execute(
            "UPDATE runs SET status = 'FINISHED', end_time = start_time + ? WHERE experiment_id = ?",
            (steps * 1000, experiment),
        )
    connection.close()
    marker.write_text(f"made by mlflow {sys.modules['mlflow'].__version__}\n")
    return database


def _points(uuid: str, index: int, steps: int, rng: random.Random) -> list[tuple]:
    nan_from = steps // 3 if index % 50 == 7 else None  # 2% of runs turn NaN
    rows = []
    for step in range(steps):
        stamp = BASE_MS + index * 10 + step * 1000
        loss = 2.0 * math.exp(-step / 300) + 0.05 * rng.random()
        for key, value in zip(KEYS, (loss, loss * 1.1), strict=True):
            is_nan = nan_from is not None and step >= nan_from
            rows.append((key, 0.0 if is_nan else value, stamp, uuid, step, int(is_nan)))
    return rows


class Timer:
    """Wall and CPU seconds of a block (CPU: this process; the machine may be shared)."""

    def __enter__(self) -> Timer:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu

    def __str__(self) -> str:
        return f"{self.wall:.2f} s ({self.cpu:.2f} s CPU)"


def time_sweeptui(directory: Path) -> tuple[Timer, Timer, int]:
    """(load_sweep time, reader-only time, points)."""
    with Timer() as load:
        sweep = Sweep(directory, source="mlflow")
        sweep.load()
    points = sum(len(series) for run in sweep.store for series in run.metrics.values())
    reader = SqliteReader(directory, directory / "mlflow.db", sweep.settings)
    with Timer() as alone:
        reader.read()
    return load, alone, points


def time_mlflow(database: Path, subset: int) -> tuple[Timer, int, int]:
    """(time for ``subset`` runs, runs timed, points) with MlflowClient.get_metric_history."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{database}")
    [experiment] = [e for e in client.search_experiments() if e.name == "bench-sweep"]
    runs = client.search_runs([experiment.experiment_id], max_results=50_000)[:subset]
    with Timer() as spent:
        points = sum(len(client.get_metric_history(run.info.run_id, key)) for run in runs for key in KEYS)
    return spent, len(runs), points


def time_poll(directory: Path, changed: int) -> tuple[float, float]:
    """(seconds of a poll that reads ``changed`` new points, seconds of an idle poll)."""
    sweep = Sweep(directory, source="mlflow")
    sweep.load()
    database = directory / "mlflow.db"
    connection = sqlite3.connect(database)
    uuids = [row[0] for row in connection.execute("SELECT run_uuid FROM runs LIMIT ?", (changed,))]
    with connection:
        connection.executemany(
            "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?,?,?,?,?,?)",
            [("val_loss", 0.5, BASE_MS + 10**9, uuid, 10**6, 0) for uuid in uuids],
        )
    connection.close()
    try:
        started = time.perf_counter()
        result = sweep.poll()
        with_points = time.perf_counter() - started
        assert len(result.changed_runs) == changed, result.changed_runs
        os.utime(database)  # a changed mtime: the reader queries again and finds nothing new
        started = time.perf_counter()
        sweep.poll()
        return with_points, time.perf_counter() - started
    finally:
        with sqlite3.connect(database) as connection:  # the store stays as built, for the next run
            connection.execute("DELETE FROM metrics WHERE step = ?", (10**6,))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--subset", type=int, default=None, help="runs timed with MLflow (default: all)")
    parser.add_argument("--data", type=Path, default=Path("bench_data/mlflow"))
    args = parser.parse_args()
    started = time.perf_counter()
    database = build_store(args.data, args.runs, args.steps)
    size = database.stat().st_size / 1e6
    print(f"store:     {args.runs} runs x {args.steps} steps x {len(KEYS)} metrics, "
          f"{size:.0f} MB ({time.perf_counter() - started:.1f} s to make or find)")  # fmt: skip
    load, reader, points = time_sweeptui(args.data)
    print(f"sweeptui:  load_sweep {load} ({points:,} points, every detector); "
          f"SQLite reader alone {reader}")  # fmt: skip
    subset = args.subset or args.runs
    spent, timed, mlflow_points = time_mlflow(database, subset)
    scale = args.runs / max(1, timed)
    wall, cpu = spent.wall * scale, spent.cpu * scale
    note = f" (timed on {timed} runs, {mlflow_points:,} points, scaled linearly)"
    note = "" if timed == args.runs else note
    print(f"mlflow:    get_metric_history for every run and metric {wall:.2f} s ({cpu:.2f} s CPU){note}")
    print(f"ratio:     sweeptui load_sweep is {wall / load.wall:.1f}x faster than MlflowClient "
          f"({cpu / load.cpu:.1f}x in CPU); the reader alone {wall / reader.wall:.1f}x "
          f"({cpu / reader.cpu:.1f}x)")  # fmt: skip
    with_points, idle = time_poll(args.data, 10)
    print(f"poll:      10 runs with one new point each {with_points * 1000:.1f} ms; "
          f"nothing new {idle * 1000:.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
