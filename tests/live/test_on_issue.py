"""``--on-issue``: a real command receives each issue as JSON on stdin."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import time
from pathlib import Path

from live.helpers import append_points, healthy, write_run

from sweeptui.app.alerts import IssueCommand
from sweeptui.app.ingest import IngestThread, IngestTiming
from sweeptui.issues import Issue
from sweeptui.sweep import Sweep


def _append_stdin_to(path: Path) -> str:
    script = f"import sys; open({str(path)!r}, 'a').write(sys.stdin.read())"
    return f"{sys.executable} -c \"{script}\""


def test_each_issue_reaches_the_command_as_json(tmp_path: Path) -> None:
    out = tmp_path / "issues.jsonl"
    command = IssueCommand(_append_stdin_to(out))
    command.submit([
        (Issue("nan_or_inf_metric", "runs/a", "val_loss became NaN", step=12.0, metric="val_loss"), "a"),
        (Issue("divergence", "runs/b", "loss x40", step=math.inf), "b [red]"),
    ])  # fmt: skip
    command.close(timeout=30)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["type"] for line in lines] == ["nan_or_inf_metric", "divergence"]
    assert lines[0]["run"] == "runs/a" and lines[0]["step"] == 12.0 and lines[0]["severity"] == "high"
    assert lines[1]["run_name"] == "b [red]" and lines[1]["step"] is None  # no NaN/inf in JSON
    assert command.failures == []


def test_a_slow_command_never_piles_up(tmp_path: Path) -> None:
    command = IssueCommand(f"{sys.executable} -c \"import time; time.sleep(2)\"", queue_size=1)
    started = time.monotonic()
    command.submit((Issue("crashed", f"r{i}", "died"), None) for i in range(10))
    submit_seconds = time.monotonic() - started
    assert command.dropped >= 8  # one running at most, one queued, the rest dropped
    command.close(timeout=0.1)
    print(f"submitting 10 issues took {submit_seconds:.3f}s")


def test_a_missing_command_is_reported_not_raised(tmp_path: Path) -> None:
    command = IssueCommand(str(tmp_path / "no-such-command"))
    command.submit([(Issue("oom", "r", "out of memory"), None)])
    command.close(timeout=10)
    assert command.failures and "no-such-command" in command.failures[0]


def test_ingest_thread_runs_the_command_for_new_issues_only(tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    write_run(sweep_dir, "old_nan", {"lr": 1.0}, [*healthy(2), math.nan])
    write_run(sweep_dir, "later", {"lr": 0.1}, healthy(2))
    out = tmp_path / "issues.jsonl"
    command = IssueCommand(_append_stdin_to(out))
    snapshots = []
    ingest = IngestThread(Sweep(sweep_dir), snapshots.append, on_issue=command,
                          timing=IngestTiming(min_interval=0.05, heartbeat=0.3))  # fmt: skip
    ingest.start()
    try:
        deadline = time.monotonic() + 20
        while not any(getattr(s, "issue_count", 0) for s in snapshots) and time.monotonic() < deadline:
            time.sleep(0.05)
        append_points(sweep_dir / "later", [math.inf])
        while not (out.exists() and out.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        ingest.stop()
        command.close(timeout=30)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["run"] for line in lines] == ["later"]
    assert lines[0]["run_dir"] == str((sweep_dir / "later").resolve())  # where a PID file would be
    assert not ingest.is_alive()


def test_the_pid_recipe_stops_a_run_that_went_nan(tmp_path: Path) -> None:
    """docs/recipes/stop_by_pid.py, run by --on-issue, sends SIGTERM to the PID the run left."""
    recipe = Path(__file__).resolve().parents[2] / "docs" / "recipes" / "stop_by_pid.py"
    run_dir = tmp_path / "lr0.3"
    run_dir.mkdir()
    training = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        (run_dir / "pid").write_text(f"{training.pid}\n")
        command = IssueCommand(f"{sys.executable} {recipe}")
        command.submit([
            (Issue("overfitting_suspect", "lr0.3", "val rises"), "lr0.3", str(run_dir)),  # left alone
            (Issue("nan_or_inf_metric", "lr0.3", "val_loss became NaN", step=7.0), "lr0.3", str(run_dir)),
        ])  # fmt: skip
        command.close(timeout=30)
        assert training.wait(timeout=30) == -signal.SIGTERM
        assert command.failures == []
    finally:
        if training.poll() is None:
            training.kill()
            training.wait()
