"""Ray Tune experiments: the committed real fixture read by the ray-tune source."""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path

from sweeptui.sources.ray_tune import trial_entries
from tests.tool_fixtures import copy_fixture, load, run_where


def result_column(trial_dir: Path, key: str) -> list[float]:
    """A metric straight from result.json with the standard library (NaN tokens allowed)."""
    lines = (trial_dir / "result.json").read_text().splitlines()
    return [float(json.loads(line)[key]) for line in lines if line.strip()]


def trial_dir(root: Path, kind: str) -> Path:
    (found,) = root.glob(f"exp/*kind={kind}_*")
    return found


def same(first: list[float], second: list[float]) -> bool:
    return len(first) == len(second) and all(
        a == b or (math.isnan(a) and math.isnan(b)) for a, b in zip(first, second, strict=True)
    )


def test_statuses_series_and_issues_of_a_real_experiment(tmp_path: Path) -> None:
    root = copy_fixture("ray", tmp_path)
    sweep = load(tmp_path)
    runs = {kind: run_where(sweep, f"kind={kind}_") for kind in
            ("healthy", "nan", "crash", "early", "overfit", "killed")}
    assert {run.source for run in runs.values()} == {"ray-tune"}
    assert runs["healthy"].status == "finished" and runs["early"].status == "finished"
    assert runs["crash"].status == "crashed" and "ValueError" in runs["crash"].failure.reason
    assert runs["killed"].status == "killed"
    assert "worker process died" in runs["killed"].failure.reason
    for kind, run in runs.items():
        directory = trial_dir(root, kind)
        assert same(list(run.metrics["val_loss"].values), result_column(directory, "val_loss"))
        steps = result_column(directory, "training_iteration")
        assert list(run.metrics["val_loss"].steps) == steps
        assert run.params == json.loads((directory / "params.json").read_text())
        assert "pid" not in run.metrics and "time_total_s" not in run.metrics
    assert "nan_or_inf_metric" in runs["nan"].issue_types
    assert "overfitting_suspect" in runs["overfit"].issue_types
    assert runs["healthy"].issue_types == []
    oom = run_where(sweep, "exp_oom/")
    assert oom.status == "failed" and oom.failure.kind == "oom" and "oom" in oom.issue_types


def test_statuses_come_from_the_experiment_state_strings(tmp_path: Path) -> None:
    root = copy_fixture("ray", tmp_path)
    (state_file,) = (root / "exp").glob("experiment_state-*.json")
    entries = trial_entries(json.loads(state_file.read_text()))
    statuses = {Path(entry["relative_logdir"]).name: entry["status"] for entry in entries}
    assert sorted(statuses.values()).count("ERROR") == 2
    sweep = load(tmp_path)
    expected = {"TERMINATED": "finished", "ERROR": ("crashed", "killed")}
    for name, status in statuses.items():
        run = run_where(sweep, name)
        assert run.status in expected[status]


def test_progress_csv_is_read_when_there_is_no_result_json(tmp_path: Path) -> None:
    root = copy_fixture("ray", tmp_path)
    directory = trial_dir(root, "overfit")
    with open(directory / "progress.csv", newline="") as handle:
        expected = [float(row["val_loss"]) for row in csv.DictReader(handle)]
    (directory / "result.json").unlink()
    run = run_where(load(tmp_path), "kind=overfit_")
    assert list(run.metrics["val_loss"].values) == expected
    assert "pid" not in run.metrics and "done" not in run.metrics
    assert run.metrics["val_loss"].steps[-1] == len(expected)


def test_a_running_experiment_is_read_incrementally_and_half_written_state_waits(
    tmp_path: Path,
) -> None:
    root = copy_fixture("ray", tmp_path)
    directory = trial_dir(root, "healthy")
    full = (directory / "result.json").read_text().splitlines(keepends=True)
    (state_file,) = (root / "exp").glob("experiment_state-*.json")
    state = state_file.read_text()
    state_file.write_text(state.replace("TERMINATED", "RUNNING"))
    (directory / "result.json").write_text("".join(full[:3]) + full[3][:20])  # mid-line
    from sweeptui.sweep import Sweep

    sweep = Sweep(tmp_path)
    sweep.rescan()
    run = run_where(sweep, "kind=healthy_")
    assert len(run.metrics["val_loss"]) == 3 and run.status == "running"
    state_file.write_text(state[: len(state) // 2])  # caught mid-rewrite
    with open(directory / "result.json", "a") as handle:
        handle.write(full[3][20:] + "".join(full[4:]))
    sweep.poll()
    assert len(run.metrics["val_loss"]) == len(full) and run.status == "running"
    state_file.write_text(state)
    os.utime(state_file)
    sweep.poll()
    assert run.status == "finished" and len(run.metrics["val_loss"]) == len(full)


def _plan_longer_run(trial: Path, iterations: int) -> None:
    """Plan the trial in Tune's own unit (a length in epochs is never compared with
    training iterations)."""
    params = json.loads((trial / "params.json").read_text())
    params.pop("epochs")
    (trial / "params.json").write_text(json.dumps({**params, "num_iterations": iterations}))


def test_a_trial_tune_stopped_is_not_a_short_run(tmp_path: Path) -> None:
    """Tune marks the last result of a trial its stopper or scheduler ended with done:
    such a trial is short on purpose (ASHA stops most trials of a sweep early)."""
    early = trial_dir(copy_fixture("ray", tmp_path), "early")
    _plan_longer_run(early, 40)  # 5 of 40 iterations: short by any measure
    run = run_where(load(tmp_path), "kind=early_")
    assert run.status == "finished" and run.stopped_early
    assert "short_run" not in run.issue_types

    lines = (early / "result.json").read_text().splitlines()
    lines[-1] = lines[-1].replace('"done": true', '"done": false')  # as if it just stopped
    (early / "result.json").write_text("\n".join(lines) + "\n")
    run = run_where(load(tmp_path), "kind=early_")
    assert not run.stopped_early and "short_run" in run.issue_types
