"""A committed Hydra ``multirun/`` tree: a stray top-level ``multirun.yaml``, jobs two
levels below it, metrics in CSVs named after the experiment (``make_hydra_nested.py``)."""

from __future__ import annotations

import csv
from pathlib import Path

from tests.tool_fixtures import copy_fixture, load, report_everything, run_where


def test_every_job_below_a_stray_multirun_yaml_is_found(tmp_path: Path) -> None:
    root = copy_fixture("hydra_nested", tmp_path)
    assert (root / "multirun" / "multirun.yaml").is_file()
    sweep = load(tmp_path)
    jobs = sorted(path.parent.parent.relative_to(tmp_path).as_posix()
                  for path in root.glob("multirun/*/*/*/.hydra/config.yaml"))
    assert sorted(run.id for run in sweep.store) == jobs and len(jobs) == 10
    assert {run.source for run in sweep.store} == {"hydra"}
    run = run_where(sweep, "14-03-11/4")
    assert run.params["optim.lr"] == 0.01 and run.params["model.hidden"] == 128


def test_a_lone_csv_of_another_name_is_the_metric_log(tmp_path: Path) -> None:
    root = copy_fixture("hydra_nested", tmp_path)
    sweep = load(tmp_path)
    table = root / "multirun/2024-02-10/14-03-11/2/mnist_mlp.csv"
    with open(table, newline="") as handle:
        rows = list(csv.DictReader(handle))
    run = run_where(sweep, "14-03-11/2")
    assert list(run.metrics["val_loss"].values) == [float(row["val_loss"]) for row in rows]
    assert run.last_epoch == 5
    for path in root.glob("multirun/2024-02-11/09-20-45/[012]"):
        assert len(run_where(sweep, path.relative_to(root).as_posix()).metrics["val_acc"]) == 6


def test_two_csvs_and_no_log_say_why_none_was_read(tmp_path: Path) -> None:
    copy_fixture("hydra_nested", tmp_path)
    sweep = load(tmp_path)
    run = run_where(sweep, "09-20-45/3")
    assert run.metrics == {}
    (warning,) = [w for w in sweep.store.warnings if w.path.endswith("09-20-45/3")]
    assert "predictions.csv, resnet_cifar.csv" in warning.message and "ambiguous" in warning.message
    assert "ambiguous" in report_everything(sweep, tmp_path)


def test_a_project_config_above_multirun_does_not_hide_the_jobs(tmp_path: Path) -> None:
    """A repository commits its ``config.yaml`` at the top, beside ``multirun/``."""
    root = copy_fixture("hydra_nested", tmp_path)
    (root / "config.yaml").write_text("defaults:\n  - model: mlp\nepochs: 6\n")
    (root / "train.py").write_text("print('train')\n")
    sweep = load(tmp_path)
    assert len(sweep.store) == 10 and {run.source for run in sweep.store} == {"hydra"}
