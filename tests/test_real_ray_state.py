"""Ray Tune experiments as projects commit them (``make_ray_state.py``): trial folders
missing, the 2021 state format, early worker deaths, one report per 500 epochs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.tool_fixtures import FIXTURES, load, report_everything, run_where


def copy_experiment(name: str, target: Path, mtime: float = 1735689600) -> Path:
    """One experiment of the fixture, every file given one mtime (as a checkout does)."""
    destination = target / name
    shutil.copytree(FIXTURES / "ray_state" / name, destination)
    for path in [destination, *destination.rglob("*")]:
        os.utime(path, (mtime, mtime))
    return destination


def test_the_2021_state_alone_gives_every_trial(tmp_path: Path) -> None:
    copy_experiment("exp_2021", tmp_path)
    sweep = load(tmp_path)
    assert len(sweep.store) == 12
    counts = sweep.store.status_counts()
    assert counts["finished"] == 10 and counts["crashed"] == 1 and counts["failed"] == 1
    run = run_where(sweep, "_00000_0_")
    assert run.params == {"lr": 0.001, "batch_size": 32, "num_iterations": 10}
    assert run.metrics["mean_loss"].last_step == 10 and run.metrics["mean_loss"].last is not None
    assert run.name.startswith("train_mnist_a1b2c_00000_0_")
    crashed = run_where(sweep, "_00004_4_")
    assert crashed.status == "crashed" and "error.txt was not kept" in crashed.failure.reason
    (warning,) = sweep.store.warnings
    assert warning.message.startswith("12 of 12 trials") and "logs are missing" in warning.message


def test_missing_folders_are_read_from_the_2023_state(tmp_path: Path) -> None:
    copy_experiment("exp_2023", tmp_path)
    sweep = load(tmp_path)
    assert len(sweep.store) == 40
    assert sweep.store.status_counts()["finished"] == 33
    no_folder = run_where(sweep, "_00030_30_")
    assert not (tmp_path / no_folder.id).exists()
    assert no_folder.params["epochs"] == 500 and no_folder.metrics["val_loss"].last is not None
    assert [w.message[:15] for w in sweep.store.warnings] == ["30 of 40 trials"]


def test_possible_causes_are_no_oom_verdict(tmp_path: Path) -> None:
    root = copy_experiment("exp_2023", tmp_path)
    sweep = load(tmp_path)
    died = [run for run in sweep.store if run.status not in ("finished", "running")]
    assert len(died) == 7 and all("OOM killer" in (run.error or "") for run in died)
    assert {run.failure.kind for run in died} == {"killed"}
    assert {run.failure.reason for run in died} == {"worker process died unexpectedly"}
    assert "oom" not in sweep.store.issue_counts()
    assert all((root / run.id.split("/", 1)[1] / "error.txt").is_file() for run in died)


def test_one_report_of_500_epochs_is_not_a_short_run(tmp_path: Path) -> None:
    copy_experiment("exp_2023", tmp_path)
    sweep = load(tmp_path)
    finished = [run for run in sweep.store if run.status == "finished"]
    assert {run.metrics["val_loss"].last_step for run in finished} == {1}  # one tune.report
    assert {run.expected.count for run in finished} == {500}
    assert "short_run" not in sweep.store.issue_counts()


def test_early_deaths_in_a_copied_sweep_are_not_its_latest_runs(tmp_path: Path) -> None:
    copy_experiment("exp_2023", tmp_path)
    sweep = load(tmp_path)
    assert "crash_loop" not in sweep.store.issue_counts()  # the last 33 trials succeeded
    died = [run for run in sweep.store if run.status == "failed"]
    finished = [run for run in sweep.store if run.status == "finished"]
    assert max(run.ended_at for run in died) < min(run.ended_at for run in finished)


def test_a_crash_loop_at_the_end_is_still_found(tmp_path: Path) -> None:
    """The other way round: the same trials, the deaths dated last, make a crash loop."""
    root = copy_experiment("exp_2023", tmp_path)
    state = next(root.glob("experiment_state-*.json"))
    text = state.read_text().replace('\\"start_time\\": 1677664', '\\"start_time\\": 1677699')
    assert text != state.read_text()
    state.write_text(text)
    sweep = load(tmp_path)
    assert "crash_loop" in sweep.store.issue_counts()


def test_reports_never_crash(tmp_path: Path) -> None:
    copy_experiment("exp_2021", tmp_path)
    copy_experiment("exp_2023", tmp_path)
    markdown = report_everything(load(tmp_path), tmp_path)
    assert "have no trial folder" in markdown and "crash_loop" not in markdown
