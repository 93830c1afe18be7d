"""A sweep logged by real MLflow into a local store (SQLite, then the file store) while
sweeptui reads the directory: points arrive while runs are running, and the planted runs end
with their statuses and issues."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sweeptui.snapshot import SnapshotBuilder
from sweeptui.sweep import Sweep

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("mlflow") is None,
    reason="needs mlflow (pip install -e '.[test]' installs it) to log a live sweep",
)

LOGGER = Path(__file__).resolve().parent / "fixtures" / "mlflow_live_sweep.py"


@pytest.mark.parametrize("uri", ["sqlite:///mlflow.db", "file:./mlruns"])
def test_a_sweep_logged_live_to_a_local_store_is_followed(tmp_path: Path, uri: str) -> None:
    env = {**os.environ, "MLFLOW_ALLOW_FILE_STORE": "true"}
    logger = subprocess.Popen([sys.executable, str(LOGGER), uri, "local-sweep", "0.2"], cwd=tmp_path,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    sweep = Sweep(tmp_path)
    seen_running: list[int] = []
    deadline = time.monotonic() + 180
    while logger.poll() is None:
        assert time.monotonic() < deadline, "the logger did not finish"
        sweep.rescan(reread=True)  # what the live app does on its periodic rescans
        healthy = next((run for run in sweep.store if run.name == "healthy"), None)
        if healthy is not None and healthy.status == "running" and "val_loss" in healthy.metrics:
            seen_running.append(len(healthy.metrics["val_loss"]))
        time.sleep(0.1)
    assert logger.returncode == -signal.SIGKILL, logger.stderr.read().decode()[-2000:]
    sweep.rescan(reread=True)
    runs = {run.name: run for run in sweep.store}
    assert sorted(runs) == ["crashed", "healthy", "killed", "nan"]
    assert seen_running and min(seen_running) < 8  # read while it was being logged
    assert runs["healthy"].status == "finished" and len(runs["healthy"].metrics["val_loss"]) == 8
    assert "nan_or_inf_metric" in runs["nan"].issue_types
    assert runs["crashed"].status == "crashed" and "crashed" in runs["crashed"].issue_types
    assert runs["killed"].status == "running" and len(runs["killed"].metrics["val_loss"]) == 3
    assert {run.source for run in sweep.store} == {"mlflow"}


@pytest.fixture(params=["sqlite", "files"])
def client(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Real MLflow's client writing to a local store in ``tmp_path``: SQLite, then files."""
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    root = tmp_path / "mlruns"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}" if request.param == "sqlite" else root.as_uri()
    return MlflowClient(tracking_uri=uri)


def test_runs_shown_then_found_not_to_be_trials_leave_the_table(tmp_path: Path, client) -> None:
    # Optuna's and Ray's MLflow callbacks open a parent run first and nest the trials
    # under it: a watch that polls in between sees the parent alone, as a run. Once a
    # child names it, it is no trial; nor is a trial deleted after it was shown.
    experiment = client.create_experiment("nested-sweep")
    parent = client.create_run(experiment, run_name="study").info.run_id
    client.log_param(parent, "sampler", "TPE")
    sweep = Sweep(tmp_path)
    sweep.rescan(reread=True)
    assert [run.name for run in sweep.store] == ["study"]
    table = SnapshotBuilder(sweep.store)  # the rows the live table shows
    assert [row.name for row in table.build().rows] == ["study"]
    trials = []
    for number in range(3):
        tags = {"mlflow.parentRunId": parent}
        trial = client.create_run(experiment, run_name=f"trial-{number}", tags=tags).info.run_id
        client.log_param(trial, "lr", 0.01 * (number + 1))
        for epoch in range(4):
            loss = float("nan") if number == 2 and epoch == 3 else 1.0 / (epoch + 1)
            client.log_metric(trial, "val_loss", loss, step=epoch)
        client.set_terminated(trial, "FINISHED")
        trials.append(trial)
    sweep.rescan(reread=True)
    assert sorted(run.name for run in sweep.store) == ["trial-0", "trial-1", "trial-2"]
    assert "nan_or_inf_metric" in next(r for r in sweep.store if r.name == "trial-2").issue_types
    client.delete_run(trials[2])
    sweep.rescan(reread=True)
    assert sorted(run.name for run in sweep.store) == ["trial-0", "trial-1"]
    assert sorted(row.name for row in table.build().rows) == ["trial-0", "trial-1"]
    assert not [issue for issue in sweep.store.issues if issue.run.endswith(trials[2])]
    assert sweep.store.status_counts()["finished"] == 2


def test_a_resumed_run_reads_the_same_live_and_at_once(tmp_path: Path, client) -> None:
    # resumed from its step-3 checkpoint: steps 3 and 4 are logged again, later
    run = client.create_run(client.create_experiment("resumed")).info.run_id
    base = int(time.time() * 1000) - 60_000
    live = Sweep(tmp_path)
    plan = [(0, 1.0), (1, 0.6), (2, 0.4), (3, 0.3), (4, 0.25), (3, 0.33), (4, 0.27), (5, 0.22)]
    for second, (step, value) in enumerate(plan):
        client.log_metric(run, "val_loss", value, timestamp=base + second * 1000, step=step)
        if second in (4, 6):
            live.rescan(reread=True)
    client.set_terminated(run, "FINISHED")
    live.rescan(reread=True)
    at_once = Sweep(tmp_path)
    at_once.load()
    for sweep in (live, at_once):
        [series] = (found.metrics["val_loss"] for found in sweep.store)
        assert list(zip(series.steps, series.values, strict=True)) == plan
