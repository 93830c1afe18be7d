"""MLflow's local stores: the committed real ``mlflow.db`` and ``mlruns/`` (made by
``tests/fixtures/make_mlflow.py``), side by side in one folder, read by the mlflow source."""

from __future__ import annotations

import math
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from sweeptui.settings import Settings
from sweeptui.sources.mlflow_files import parse_metric_line
from sweeptui.sources.mlflow_runs import param_value, sql_metric
from sweeptui.sources.mlflow_server import MAX_BACKOFF, ServerReader
from sweeptui.sweep import Sweep
from tests.tool_fixtures import copy_fixture, load

KINDS = ["healthy", "nan", "crashed", "short", "overfit", "killed", "no_metrics"]
TRIALS = ["trial-0", "trial-1", "trial-2"]
STORES = ["mlflow.db", "mlruns"]


def by_name(sweep: Sweep, store: str) -> dict:
    runs = [run for run in sweep.store if run.id.startswith(f"mlflow/{store}/")]
    named = {run.name: run for run in runs}
    assert len(named) == len(runs), "run names repeat within one store"
    return named


def experiment_dir(root: Path, name: str) -> Path:
    for meta in (root / "mlruns").glob("*/meta.yaml"):
        if f"name: {name}\n" in meta.read_text():
            return meta.parent
    raise AssertionError(name)


def run_dir(root: Path, run_name: str) -> Path:
    [found] = [tag.parent.parent for tag in (root / "mlruns").glob("*/*/tags/mlflow.runName")
               if tag.read_text() == run_name]
    return found


@pytest.fixture
def sweep_dir(tmp_path: Path) -> Path:
    copy_fixture("mlflow", tmp_path)
    return tmp_path


@pytest.mark.parametrize("store", STORES)
def test_statuses_params_and_issues_of_the_planted_runs(sweep_dir: Path, store: str) -> None:
    sweep = load(sweep_dir)
    runs = by_name(sweep, store)
    assert sorted(runs) == sorted(KINDS + TRIALS)  # no deleted run, no parent run
    assert {run.source for run in sweep.store} == {"mlflow"}  # artifacts/config.json is no run
    assert runs["healthy"].status == "finished" and runs["healthy"].issue_types == []
    assert runs["healthy"].params == {"lr": 0.01, "hidden": 32, "epochs": 12, "optimizer": "adam"}
    healthy = runs["healthy"].metrics["val_loss"]
    assert list(healthy.steps) == [float(step) for step in range(12)]
    assert runs["nan"].status == "finished" and "nan_or_inf_metric" in runs["nan"].issue_types
    assert runs["crashed"].status == "crashed" and "crashed" in runs["crashed"].issue_types
    assert "FAILED" in runs["crashed"].error and len(runs["crashed"].metrics["val_loss"]) == 4
    assert "short_run" in runs["short"].issue_types
    assert "overfitting_suspect" in runs["overfit"].issue_types
    # left RUNNING by a killed process; the fixture is far older than the abandon limit
    assert runs["killed"].status == "killed" and len(runs["killed"].metrics["val_loss"]) == 5
    assert "no file written for" in runs["killed"].status_reason
    assert runs["no_metrics"].status == "finished" and runs["no_metrics"].records == 0
    said = [w.message for w in sweep.store.warnings if store in w.path]
    assert "run 'no_metrics' is FINISHED but logged no metric at all" in said
    assert runs["healthy"].first_update is not None and runs["healthy"].ended_at is not None


@pytest.mark.parametrize("store", STORES)
def test_nan_and_inf_are_read_as_logged(sweep_dir: Path, store: str) -> None:
    runs = by_name(load(sweep_dir), store)
    train = runs["nan"].metrics["train_loss"].values
    assert train[0] == math.inf and all(math.isnan(v) for v in train[1:])
    assert all(math.isnan(v) for v in runs["nan"].metrics["val_loss"].values)


def test_both_stores_agree_with_the_raw_tables_and_files(sweep_dir: Path) -> None:
    sweep = load(sweep_dir)
    db, files = by_name(sweep, "mlflow.db"), by_name(sweep, "mlruns")
    connection = sqlite3.connect(sweep_dir / "mlflow" / "mlflow.db")
    for name in KINDS + TRIALS:
        for key in db[name].metrics:
            raw = connection.execute(
                "SELECT m.value, m.is_nan FROM metrics m JOIN runs r ON r.run_uuid = m.run_uuid "
                "WHERE r.name = ? AND m.key = ? ORDER BY m.step", (name, key)).fetchall()
            lines = (run_dir(sweep_dir / "mlflow", name) / "metrics" / key).read_bytes().splitlines()
            from_file = [parse_metric_line(line)[1] for line in lines]
            expected = [sql_metric(value, is_nan) for value, is_nan in raw]
            for mine, theirs, logged in zip(db[name].metrics[key].values, expected, from_file, strict=True):
                assert mine == theirs or (math.isnan(mine) and math.isnan(theirs))
                assert (math.isnan(logged) and math.isnan(mine)) or math.isclose(logged, mine)
            assert list(files[name].metrics[key].steps) == list(db[name].metrics[key].steps)
        assert files[name].status == db[name].status
        assert files[name].params == db[name].params


def test_deleted_runs_and_experiments_are_read_only_when_asked(sweep_dir: Path) -> None:
    everything = Sweep(sweep_dir, Settings(include_deleted=True))
    everything.load()
    db, files = by_name(everything, "mlflow.db"), by_name(everything, "mlruns")
    assert "deleted" in db and "deleted" in files and "scratch-run" in files
    assert any(".trash" in run.id for run in everything.store)


def test_an_experiment_folder_without_meta_yaml_is_read_with_a_warning(sweep_dir: Path) -> None:
    root = sweep_dir / "mlflow"
    (experiment_dir(root, "nested-sweep") / "meta.yaml").unlink()
    sweep = load(sweep_dir)
    assert sorted(by_name(sweep, "mlruns")) == sorted(KINDS + TRIALS)
    assert any("experiment folder without a readable meta.yaml" in w.message for w in sweep.store.warnings)


def test_the_generic_reader_alone_would_take_artifacts_for_runs(sweep_dir: Path) -> None:
    """Why the mlflow source must own mlruns/: a run's artifacts/config.json looks like a run."""
    generic = load(sweep_dir, source="run-dir")
    assert len(generic.store) > 0 and all(run.records == 0 for run in generic.store)
    assert not any(run.source == "run-dir" for run in load(sweep_dir).store)


@pytest.mark.parametrize("store", STORES)
def test_a_run_left_running_is_judged_by_the_lifecycle_rules(sweep_dir: Path, store: str) -> None:
    sweep = Sweep(sweep_dir)
    sweep.rescan()
    killed = by_name(sweep, store)["killed"]
    issues = sweep.tick(killed.last_update + 3 * 3600)
    assert any(issue.run == killed.id for issue in issues)
    assert {"stalled", "killed"} & set(killed.issue_types)


def test_the_sqlite_store_is_read_incrementally_by_row_id(sweep_dir: Path) -> None:
    database = sweep_dir / "mlflow" / "mlflow.db"
    sweep = Sweep(sweep_dir, source="mlflow")
    sweep.rescan()
    killed = by_name(sweep, "mlflow.db")["killed"]
    uuid = killed.id.rsplit("/", 1)[1]
    assert sweep.poll().events == 0  # nothing changed: nothing read
    writer = sqlite3.connect(database)
    with writer:
        writer.executemany(
            "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?,?,?,?,?,?)",
            [("val_loss", 0.5, 1795850400000, uuid, 5, 0), ("val_loss", 0.0, 1795850401000, uuid, 6, 1)],
        )
        writer.execute("UPDATE runs SET status = 'KILLED', end_time = 1795850402000 WHERE run_uuid = ?",
                       (uuid,))
    writer.close()
    result = sweep.poll()
    values = killed.metrics["val_loss"].values
    assert len(values) == 7 and values[5] == 0.5 and math.isnan(values[6])
    assert killed.status == "killed" and killed.ended_at == 1795850402.0
    assert result.changed_runs == {killed.id}


def test_a_locked_database_warns_and_is_read_once_released(sweep_dir: Path) -> None:
    database = sweep_dir / "mlflow" / "mlflow.db"
    writer = sqlite3.connect(database, timeout=0.1)
    writer.execute("BEGIN EXCLUSIVE")
    sweep = Sweep(sweep_dir, source="mlflow")
    sweep.rescan()
    assert by_name(sweep, "mlflow.db") == {}
    assert any("cannot read the MLflow database" in w.message for w in sweep.store.warnings)
    writer.rollback()
    writer.close()
    sweep.poll()
    assert sorted(by_name(sweep, "mlflow.db")) == sorted(KINDS + TRIALS)


WAL_WRITER = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("PRAGMA journal_mode=WAL")
uuid = sys.argv[2]
for step in range(5, 205):
    connection.execute("BEGIN IMMEDIATE")
    connection.execute("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
                       "VALUES ('val_loss', ?, ?, ?, ?, 0)", (1.0 / step, 1795850400000 + step, uuid, step))
    connection.execute("COMMIT")
"""


def test_a_wal_database_written_while_read_loses_nothing(sweep_dir: Path) -> None:
    database = sweep_dir / "mlflow" / "mlflow.db"
    sweep = Sweep(sweep_dir, source="mlflow")
    sweep.rescan()
    killed = by_name(sweep, "mlflow.db")["killed"]
    uuid = killed.id.rsplit("/", 1)[1]
    writer = subprocess.Popen([sys.executable, "-c", WAL_WRITER, str(database), uuid])
    while writer.poll() is None:
        sweep.poll()
    assert writer.returncode == 0
    sweep.poll()
    sweep.poll()
    steps = list(killed.metrics["val_loss"].steps)
    assert steps == [float(step) for step in range(205)]


def test_the_file_store_is_tailed(sweep_dir: Path) -> None:
    root = sweep_dir / "mlflow"
    killed_dir = run_dir(root, "killed")
    sweep = Sweep(sweep_dir, source="mlflow")
    sweep.rescan()
    killed = by_name(sweep, "mlruns")["killed"]
    log = killed_dir / "metrics" / "val_loss"
    with open(log, "a") as handle:
        handle.write("1795850400000 0.25 5\n1795850401000 na")  # the second line is half-written
    sweep.poll([str(log)])
    assert list(killed.metrics["val_loss"].values)[-1] == 0.25 and len(killed.metrics["val_loss"]) == 6
    with open(log, "a") as handle:
        handle.write("n 6\n")
    meta = killed_dir / "meta.yaml"
    meta.write_text(meta.read_text().replace("status: 1", "status: 5").replace(
        "end_time: null", "end_time: 1795850402000"))
    sweep.poll([str(log), str(meta)])
    assert math.isnan(killed.metrics["val_loss"].values[-1])
    assert killed.status == "killed" and killed.ended_at == 1795850402.0


def test_a_new_run_in_the_file_store_is_found_by_a_rescan(sweep_dir: Path) -> None:
    root = sweep_dir / "mlflow"
    sweep = Sweep(sweep_dir, source="mlflow")
    sweep.rescan()
    source = run_dir(root, "healthy")
    twin = source.parent / ("0" * 32)
    shutil.copytree(source, twin)
    (twin / "tags" / "mlflow.runName").write_text("twin")
    meta = twin / "meta.yaml"
    meta.write_text(meta.read_text().replace("run_name: healthy", "run_name: twin"))
    sweep.rescan(reread=True)
    assert by_name(sweep, "mlruns")["twin"].metrics["val_loss"].last == \
        by_name(sweep, "mlruns")["healthy"].metrics["val_loss"].last


def test_params_come_back_as_the_numbers_they_were() -> None:
    assert param_value("12") == 12 and param_value("0.01") == 0.01 and param_value("True") is True
    assert param_value("adam") == "adam" and param_value("nan") == "nan" and param_value("1e-3") == 0.001


def test_metric_lines_as_mlflow_writes_them() -> None:
    assert parse_metric_line(b"1795850374223 2.5 3") == (1795850374223.0, 2.5, 3.0)
    assert parse_metric_line(b"1795850374223 2.5") == (1795850374223.0, 2.5, 0.0)
    assert parse_metric_line(b"1795850374223 -inf 4 train abc123")[1] == -math.inf
    assert parse_metric_line(b"garbage") is None and parse_metric_line(b"1 two 3") is None


def test_sources_lists_mlflow() -> None:
    out = subprocess.run([sys.executable, "-m", "sweeptui", "sources"], capture_output=True, text=True,
                         check=True, env={**os.environ, "COLUMNS": "200"})
    assert "mlflow" in out.stdout and "mlflow.db" in out.stdout


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again on leaving: nothing listens there


def test_an_unreachable_server_warns_once_backs_off_and_keeps_the_data() -> None:
    now = [100.0]
    reader = ServerReader(f"http://127.0.0.1:{closed_port()}", "sweep", Settings(), interval=1.0,
                          clock=lambda: now[0])  # fmt: skip
    sweep = Sweep(reader.url, readers=[reader])
    sweep.rescan()
    [warning] = sweep.store.warnings
    assert "MLflow server unreachable" in warning.message and "Connection refused" in warning.message
    assert "unreachable since" in sweep.notes()[0] and "next try in 2s" in sweep.notes()[0]
    tries = reader.client.requests
    now[0] += 1.5
    sweep.rescan(reread=True)  # still backing off: no request
    assert reader.client.requests == tries
    for _ in range(8):
        now[0] += 61
        sweep.rescan(reread=True)
    assert reader.client.requests == tries + 8 and reader.next_poll - now[0] == MAX_BACKOFF
    reader.failures = 10_000  # down for days: the wait stays a minute
    now[0] += 61
    sweep.rescan(reread=True)
    assert reader.next_poll - now[0] == MAX_BACKOFF
    assert len(sweep.store.warnings) == 1  # said once, not at every try


def test_report_on_an_unreachable_server_is_a_usage_error() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    out = subprocess.run([sys.executable, "-m", "sweeptui", "report", url, "--experiment", "x"],
                         capture_output=True, text=True)  # fmt: skip
    assert out.returncode == 2 and "cannot read the MLflow tracking server" in out.stderr


def test_one_experiment_is_one_sweep_when_named(sweep_dir: Path) -> None:
    sweep = Sweep(sweep_dir, Settings(experiment="nested-sweep"))
    sweep.load()
    for store in STORES:
        assert sorted(by_name(sweep, store)) == TRIALS
    command = [sys.executable, "-m", "sweeptui", "report", str(sweep_dir), "--experiment", "tiny-sweep",
               "--format", "json"]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    assert '"trial-0"' not in out.stdout and '"healthy"' in out.stdout
