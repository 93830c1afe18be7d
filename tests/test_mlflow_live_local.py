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
