"""A real MLflow tracking server, a sweep logged to it by a separate process, and sweeptui
following it: the report, the app under the pilot, and the server going away and coming back.

One server per module (its start-up takes seconds); it listens on 127.0.0.1 on a free port,
keeps its SQLite store in a temporary directory, and is stopped by its PID.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from live.helpers import wait_for

from sweeptui.app.app import SweepApp
from sweeptui.app.ingest import IngestTiming, make_ingest
from sweeptui.app.widgets import RunsTable, SweepHeader
from sweeptui.sources.mlflow_server import ServerReader
from sweeptui.sweep import Sweep, open_sweep

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("mlflow") is None,
    reason="needs mlflow (pip install -e '.[test]' installs it) to run a real tracking server",
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
LOGGER = FIXTURES / "mlflow_live_sweep.py"
FIXTURE_STORE = FIXTURES / "mlflow" / "mlflow.db"
START_SECONDS = 240.0
"""The server's start-up (imports, store migration) is slow on a busy machine."""
FAST = IngestTiming(min_interval=0.05, heartbeat=0.3, tick=0.5, rescan=0.2, analysis=0.5)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """``mlflow server`` in its own process group, started and stopped by its PID."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = [
            sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(self.port),
            "--backend-store-uri", f"sqlite:///{self.directory / 'mlflow.db'}",
            "--default-artifact-root", str(self.directory / "artifacts"), "--workers", "1",
        ]  # fmt: skip
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        log = open(self.directory / "server.log", "ab")  # noqa: SIM115 - the server keeps it
        self.process = subprocess.Popen(command, stdout=log, stderr=log, env=env, start_new_session=True)
        log.close()
        deadline = time.monotonic() + START_SECONDS
        while not self.healthy():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                log_tail = (self.directory / "server.log").read_text()[-2000:]
                pytest.fail(f"mlflow server did not start: {log_tail}")
            time.sleep(0.3)

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as answer:
                return answer.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        """SIGTERM to the server's process group (its id is the server's PID), then SIGKILL."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("mlflow-server")
    # a store MLflow already made: the server skips creating the schema (seconds saved)
    shutil.copy(FIXTURE_STORE, directory / "mlflow.db")
    running = Server(directory)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def log_sweep(server: Server, experiment: str, pause: float, *runs: str) -> subprocess.Popen:
    """The logging process: real MLflow, writing to the server over HTTP."""
    return subprocess.Popen(
        [sys.executable, str(LOGGER), server.url, experiment, str(pause), *runs],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


def poll_until(sweep: Sweep, condition: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out following the server"
        sweep.rescan(reread=True)
        time.sleep(0.1)


def by_name(sweep: Sweep) -> dict:
    return {run.name: run for run in sweep.store}


def reader_of(sweep: Sweep) -> ServerReader:
    [reader] = sweep.readers
    assert isinstance(reader, ServerReader)
    return reader


def test_a_sweep_is_followed_while_it_is_logged_and_reported(server: Server) -> None:
    logger = log_sweep(server, "live-sweep", 0.2)
    sweep = open_sweep(server.url, experiment="live-sweep", interval=0.2)
    partial: list[int] = []

    def healthy_seen_growing() -> bool:
        run = by_name(sweep).get("healthy")
        if run is not None and "val_loss" in run.metrics and run.status == "running":
            partial.append(len(run.metrics["val_loss"]))
        return logger.poll() is not None

    poll_until(sweep, healthy_seen_growing)
    assert logger.returncode == -signal.SIGKILL, logger.stderr.read().decode()[-2000:]
    poll_until(sweep, lambda: len(sweep.store) == 4 and by_name(sweep)["crashed"].ended)
    poll_until(sweep, lambda: len(by_name(sweep)["killed"].metrics.get("val_loss", ())) == 3)
    assert partial and min(partial) < 8  # read while the run was being logged
    runs = by_name(sweep)
    assert runs["healthy"].status == "finished" and len(runs["healthy"].metrics["val_loss"]) == 8
    assert runs["nan"].status == "finished" and "nan_or_inf_metric" in runs["nan"].issue_types
    assert runs["crashed"].status == "crashed" and "crashed" in runs["crashed"].issue_types
    assert runs["killed"].status == "running" and runs["killed"].params["lr"] == 0.01
    later = sweep.tick(runs["killed"].last_update + 3600)
    assert {"stalled", "killed"} & {issue.type for issue in later if issue.run == runs["killed"].id}

    reader = reader_of(sweep)
    reader.next_poll = 0.0
    before = dict(reader.client.calls)
    sweep.rescan(reread=True)  # nothing changed: the runs that may have, no history
    made = {name: count - before.get(name, 0) for name, count in reader.client.calls.items()}
    assert made.get("metrics/get-history", 0) == 0 and 1 <= made["runs/search"] <= 2

    report = subprocess.run(
        [sys.executable, "-m", "sweeptui", "report", server.url, "--experiment", "live-sweep"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    assert f"# Sweep report: {server.url} (experiment live-sweep)" in report.stdout
    assert "4 runs: 2 finished, 1 running" in report.stdout
    assert "nan_or_inf_metric" in report.stdout and "MLflow run status FAILED" in report.stdout


def test_points_logged_again_at_lower_steps_are_each_read_once(server: Server) -> None:
    # A run resumed from its step-3 checkpoint logs steps 3 and 4 again, then goes on: a
    # history ordered by step would put the new points among the old ones already read.
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=server.url)
    experiment = client.create_experiment("resumed-sweep")
    run = client.create_run(experiment, run_name="resumed").info.run_id
    base = int(time.time() * 1000) - 60_000
    logged: list[float] = []

    def log(step: int, value: float, second: int) -> None:
        client.log_metric(run, "val_loss", value, timestamp=base + second * 1000, step=step)
        logged.append(value)

    for step in range(5):
        log(step, 1.0 / (step + 1), step)
    sweep = open_sweep(server.url, experiment="resumed-sweep", interval=0.1)

    def points() -> list[float]:
        found = by_name(sweep).get("resumed")
        series = None if found is None else found.metrics.get("val_loss")
        return [] if series is None else list(series.values)

    poll_until(sweep, lambda: len(points()) == 5)
    for second, (step, value) in enumerate([(3, 0.31), (4, 0.26), (5, 0.21)], start=10):
        log(step, value, second)
    poll_until(sweep, lambda: len(points()) >= 8, timeout=30)
    assert points() == logged
    assert list(by_name(sweep)["resumed"].metrics["val_loss"].steps) == [0, 1, 2, 3, 4, 3, 4, 5]
    # the last point, at a lower step, leaves MLflow's latest point where it was; then the run ends
    log(4, 0.2, 13)
    client.set_terminated(run, "FINISHED")
    poll_until(sweep, lambda: by_name(sweep)["resumed"].ended, timeout=30)
    assert points() == logged
    report = open_sweep(server.url, experiment="resumed-sweep")
    report.load()
    assert list(by_name(report)["resumed"].metrics["val_loss"].values) == logged  # read at once, the same


def header_text(app: SweepApp) -> str:
    return str(app.screen_stack[0].query_one(SweepHeader).render())


def table(app: SweepApp) -> RunsTable:
    return app.screen_stack[0].query_one(RunsTable)


async def test_the_app_follows_the_server_and_outlives_it(server: Server) -> None:
    sweep = open_sweep(server.url, experiment="pilot-sweep", interval=0.3)
    app = SweepApp(make_ingest(sweep, timing=FAST))
    logger = log_sweep(server, "pilot-sweep", 0.05, "healthy", "nan")
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: logger.poll() is not None, timeout=120, what="the logger")
        await wait_for(pilot, lambda: table(app).row_count == 2 and app.snapshot.count("finished") == 2,
                       timeout=30, what="both runs, finished")  # fmt: skip
        assert "polled every 0.3s" in header_text(app)
        assert any(issue.type == "nan_or_inf_metric" for issue in app.snapshot.issues)

        server.stop()
        await wait_for(pilot, lambda: "unreachable since" in header_text(app), timeout=30,
                       what="the header saying the server is unreachable")  # fmt: skip
        assert table(app).row_count == 2 and app.snapshot.count("finished") == 2  # the last data stays
        assert any("MLflow server unreachable" in text for text in app.snapshot.warnings)
        assert not app.ingest_errors

        server.start()
        reader_of(sweep).next_poll = 0.0  # skip the rest of the backoff: the test has no minute
        await wait_for(pilot, lambda: "polled every" in header_text(app), timeout=60,
                       what="the server answering again")  # fmt: skip
        late = log_sweep(server, "pilot-sweep", 0.05, "late")
        await wait_for(pilot, lambda: late.poll() is not None, timeout=120, what="the late run's logger")
        await wait_for(pilot, lambda: table(app).row_count == 3, timeout=30, what="the run logged after")
        assert any("reachable again" in text for text in app.snapshot.warnings)
        assert not app.ingest_errors
