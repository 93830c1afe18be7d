"""Lightning's default logger as projects commit it (``make_lightning_tb.py``): event files
beside ``hparams.yaml`` with Python tags, re-run and resumed folders, three ``version_0``."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.tool_fixtures import FIXTURES, copy_fixture, load, report_everything, run_where


def test_event_files_beside_hparams_are_read(tmp_path: Path) -> None:
    copy_fixture("lightning_tb", tmp_path)
    sweep = load(tmp_path)
    assert len(sweep.store) == 5 and {run.source for run in sweep.store} == {"lightning"}
    run = run_where(sweep, "lightning_tb/lightning_logs/version_0")
    assert len(run.metrics["train_loss"]) == 500 and len(run.metrics["val_loss"]) == 10
    assert run.last_epoch == 9 and "epoch" not in run.metrics
    assert run.params["args.hidden"] == 128 and run.params["args.max_epochs"] == 10
    assert run.params["optimizer_class"] == "torch.optim.adam.Adam"
    assert run.params["kernel_size"] == "[3, 3]"
    assert run.progress() == (10, run.expected)


def test_python_tags_warn_once_per_sweep(tmp_path: Path) -> None:
    copy_fixture("lightning_tb", tmp_path)
    csv_run = tmp_path / "csv_logs" / "version_0"  # the CSV logger's folders too
    csv_run.mkdir(parents=True)
    shutil.copy(FIXTURES / "lightning_tb/lightning_logs/version_0/hparams.yaml", csv_run)
    (csv_run / "metrics.csv").write_text("epoch,step,val_loss\n0,49,1.0\n1,99,0.8\n")
    sweep = load(tmp_path)
    tagged = [w for w in sweep.store.warnings if "Python-object tags" in w.message]
    assert len(tagged) == 1 and "argparse.Namespace" in tagged[0].message
    assert run_where(sweep, "csv_logs").params["args.lr"] == 0.01


def test_three_version_0_runs_get_the_shortest_distinct_names(tmp_path: Path) -> None:
    copy_fixture("lightning_tb", tmp_path)
    names = sorted(run.name for run in load(tmp_path).store if run.id.endswith("version_0"))
    assert names == ["exp_deep/lightning_logs/version_0", "exp_wide/lightning_logs/version_0",
                     "lightning_tb/lightning_logs/version_0"]


def test_a_re_run_into_the_same_folder_is_not_merged_into_one_curve(tmp_path: Path) -> None:
    copy_fixture("lightning_tb", tmp_path)
    sweep = load(tmp_path)
    run = run_where(sweep, "version_1")
    latest, first = run.metrics["train_loss"], run.metrics["segment1/train_loss"]
    assert list(latest.steps) == list(range(500)) and list(first.steps) == list(range(300))
    assert first.best("min") > 2 * latest.best("min")  # two attempts, kept apart
    assert run.last_epoch == 9  # the re-run's epochs: it did all ten
    (note,) = [w.message for w in sweep.store.warnings if w.path.endswith("version_1")]
    assert "2 writer processes" in note and "2024-03-01 10:10 to 2024-03-01 15:10" in note
    assert "segment 2 re-ran" in note


def test_a_re_run_seen_while_watching_keeps_the_first_attempt_shown(tmp_path: Path) -> None:
    from sweeptui.sweep import Sweep

    root = copy_fixture("lightning_tb", tmp_path)
    folder = root / "lightning_logs" / "version_1"
    second = sorted(folder.glob("events.out.tfevents.*"))[1]
    held = second.read_bytes()
    second.unlink()
    sweep = Sweep(tmp_path)
    sweep.rescan()
    second.write_bytes(held)  # the re-run starts while the run is on screen
    sweep.rescan(reread=True)
    run = run_where(sweep, "version_1")
    assert list(run.metrics["train_loss"].steps) == list(range(300))
    assert list(run.metrics["segment2/train_loss"].steps) == list(range(500))


def test_a_resumed_run_is_one_curve_in_time_order(tmp_path: Path) -> None:
    copy_fixture("lightning_tb", tmp_path)
    sweep = load(tmp_path)
    run = run_where(sweep, "version_2")
    assert list(run.metrics["train_loss"].steps) == list(range(500))
    assert not any(name.startswith("segment") for name in run.metrics)
    (note,) = [w.message for w in sweep.store.warnings if w.path.endswith("version_2")]
    assert "2 writer processes" in note and "restarts" not in note


def test_report_export_and_snapshot(tmp_path: Path) -> None:
    copy_fixture("lightning_tb", tmp_path)
    markdown = report_everything(load(tmp_path), tmp_path)
    assert "exp_deep/lightning_logs/version_0" in markdown
