"""W&B runs as projects commit them: evaluation scripts resuming a training run's id,
and an epoch logged once while the losses go on per step (``make_wandb_resumed.py``)."""

from __future__ import annotations

from pathlib import Path

from sweeptui.objective import choose_objective
from sweeptui.report import build_report
from tests.tool_fixtures import copy_fixture, load, report_everything


def test_directories_sharing_an_id_are_one_run_in_time_order(tmp_path: Path) -> None:
    copy_fixture("wandb_resumed", tmp_path)
    sweep = load(tmp_path)
    assert len(sweep.store) == 4  # six run directories, four W&B ids
    (resumed,) = [run for run in sweep.store if "r7k2train" in run.id]
    assert resumed.id.endswith("run-20240301_100000-r7k2train")  # the first segment's
    assert resumed.params == {"lr": 0.02, "epochs": 10, "batch_size": 64}
    assert len(resumed.metrics["train_loss"]) == 200
    assert list(resumed.metrics["test_loss"].steps) == [200, 201]  # evaluations after training
    assert resumed.status == "finished" and resumed.issue_types == []
    notes = [w.message for w in sweep.store.warnings if "r7k2train" in w.message]
    assert len(notes) == 1 and "3 segments" in notes[0]


def test_an_epoch_logged_once_is_no_length(tmp_path: Path) -> None:
    copy_fixture("wandb_resumed", tmp_path)
    sweep = load(tmp_path)
    (run,) = [run for run in sweep.store if "q3m9steps" in run.id]
    assert run.expected is not None and run.expected.unit == "epoch"
    assert run.last_epoch == 0 and len(run.metrics["train_loss"]) == 200
    assert run.progress()[0] is None  # 200 steps are not measured against 10 epochs
    assert run.status == "finished" and "short_run" not in run.issue_types


def test_report_shows_each_run_once(tmp_path: Path) -> None:
    copy_fixture("wandb_resumed", tmp_path)
    store = load(tmp_path).store
    report = build_report(store, choose_objective(store))
    names = [row["name"] for row in report["runs"]]
    assert names.count("bright-river-1") == 1
    assert "short_run" not in report_everything(load(tmp_path), tmp_path)
