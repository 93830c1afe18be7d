"""Slurm job logs as GPU-cluster sweeps leave them (``make_slurm.py``)."""

from __future__ import annotations

from pathlib import Path

from tests.tool_fixtures import copy_fixture, load, report_everything, run_where


def test_a_folder_of_job_logs_is_a_sweep_of_jobs(tmp_path: Path) -> None:
    copy_fixture("slurm", tmp_path)
    sweep = load(tmp_path)
    jobs = {run.name: run for run in sweep.store if run.source == "slurm"}
    assert sorted(jobs) == [f"slurm-88231_{task}" for task in range(8)]
    done = jobs["slurm-88231_0"]
    assert done.params == {"lr": 0.001, "batch_size": 64, "epochs": 10, "seed": 0,
                           "data": "/scratch/u/cifar10"}
    assert list(done.metrics["val_loss"].steps) == [float(e) for e in range(1, 11)]
    assert done.last_epoch == 10 and set(done.metrics) == {"train_loss", "val_loss", "val_acc"}
    for task in range(4):
        assert jobs[f"slurm-88231_{task}"].status == "finished"


def test_how_each_job_log_ends_gives_its_status(tmp_path: Path) -> None:
    copy_fixture("slurm", tmp_path)
    jobs = {run.name: run for run in load(tmp_path).store if run.source == "slurm"}
    timed_out, oom, raised, killed = (jobs[f"slurm-88231_{task}"] for task in (4, 5, 6, 7))
    assert timed_out.status == "killed" and timed_out.failure.reason == "cancelled by Slurm: time limit"
    assert timed_out.last_epoch == 6
    assert oom.failure.kind == "oom" and "oom" in oom.issue_types
    assert raised.status == "crashed" and raised.failure.reason.startswith("ValueError: Expected input")
    assert killed.status == "killed" and killed.failure.reason == "SIGKILL"


def test_logs_in_or_beside_run_folders_are_their_error_text(tmp_path: Path) -> None:
    copy_fixture("slurm", tmp_path)
    sweep = load(tmp_path)
    own = run_where(sweep, "run_folders/lr0.01")
    assert own.status == "killed" and own.failure.reason == "cancelled by Slurm: time limit"
    assert run_where(sweep, "run_folders/lr0.1").status == "finished"
    named = run_where(sweep, "run_folders/job_90103")  # the folder names the job
    assert named.failure is not None and named.failure.kind == "oom"
    recorded = run_where(sweep, "run_folders/baseline")  # the config records the job id
    assert recorded.status == "crashed" and recorded.failure.reason.startswith("ValueError")
    assert not any(run.source == "slurm" for run in sweep.store if "run_folders" in run.id)


def test_a_warning_in_a_job_stderr_is_no_crash(tmp_path: Path) -> None:
    root = copy_fixture("slurm", tmp_path)
    (root / "array_sweep" / "slurm-88231_0.err").write_text(
        "/opt/conda/lib/python3.10/site-packages/torch/utils/data/dataloader.py:557: "
        "UserWarning: This DataLoader will create 8 worker processes\n")
    run = run_where(load(tmp_path), "slurm-88231_0.out")
    assert run.status == "finished" and run.failure is None


def test_report_export_and_snapshot(tmp_path: Path) -> None:
    copy_fixture("slurm", tmp_path)
    markdown = report_everything(load(tmp_path), tmp_path)
    assert "cancelled by Slurm: time limit" in markdown
