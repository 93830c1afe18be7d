"""The price of failure: wall time and lost run-hours per run, read from real sweep directories."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sweeptui.analysis.cost import compute_section, sweep_costs
from sweeptui.objective import choose_objective
from sweeptui.report import build_report, render
from sweeptui.sweep import load_sweep

BASE = 1_700_000_000.0
CADENCE = 360.0  # one record every 6 minutes: 10 records span 0.9 h


def _write_run(root: Path, name: str, losses: list[float], *, lr: float, times: bool = True) -> Path:
    run = root / name
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"lr": lr, "epochs": 10}))
    lines = []
    for epoch, loss in enumerate(losses, start=1):
        record = {"step": epoch, "epoch": epoch, "val_loss": loss}
        if times:
            record["time"] = BASE + (epoch - 1) * CADENCE
        lines.append(json.dumps(record))  # json writes a bare NaN token, as PyTorch loggers do
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    return run


def _finish(run: Path, status: str, when: float, error: str | None = None) -> None:
    (run / "status.json").write_text(json.dumps({"status": status, "time": when}))
    if error:
        (run / "error.txt").write_text(error)
        os.utime(run / "error.txt", (when, when))


@pytest.fixture
def sweep_dir(tmp_path: Path) -> Path:
    healthy = [1.0 / epoch for epoch in range(1, 11)]
    done = _write_run(tmp_path, "healthy", healthy, lr=0.001)
    _finish(done, "finished", BASE + 9 * CADENCE)
    nan = [1.0, 0.9, 0.8, 0.7, 0.6, float("nan"), float("nan"), float("nan"), float("nan"), float("nan")]
    went_nan = _write_run(tmp_path, "went_nan", nan, lr=0.1)
    _finish(went_nan, "finished", BASE + 9 * CADENCE)
    crashed = _write_run(tmp_path, "crashed", healthy[:4], lr=0.01)
    _finish(crashed, "crashed", BASE + 3 * CADENCE,
            "Traceback (most recent call last):\nRuntimeError: shape mismatch\n")  # fmt: skip
    untimed = _write_run(tmp_path, "untimed", healthy, lr=0.003, times=False)
    _finish(untimed, "finished", None)  # no time anywhere but the file's own
    return tmp_path


def test_lost_hours_count_after_a_nan_and_all_of_a_death(sweep_dir: Path) -> None:
    sweep = load_sweep(sweep_dir)
    costs = sweep_costs(sweep.store)
    assert costs["healthy"].hours == pytest.approx(0.9)
    assert costs["healthy"].lost_hours == 0
    # NaN at step 6 of steps 1..10: the last 4 of 9 intervals were lost
    assert costs["went_nan"].lost_hours == pytest.approx(0.9 * 4 / 9)
    assert costs["went_nan"].cause == "nan_or_inf_metric"
    assert costs["went_nan"].lost_since == pytest.approx(BASE + 5 * CADENCE)
    assert costs["crashed"].hours == pytest.approx(0.3)
    assert costs["crashed"].lost_hours == pytest.approx(0.3)
    assert costs["crashed"].cause == "crashed"
    assert not costs["untimed"].known

    section = compute_section(costs)
    assert section["run_hours"] == pytest.approx(2.1)
    assert section["lost_run_hours"] == pytest.approx(0.4 + 0.3)
    assert section["lost_share"] == pytest.approx(0.7 / 2.1)
    assert section["by_issue"] == pytest.approx({"nan_or_inf_metric": 0.4, "crashed": 0.3})
    assert list(section["by_issue"]) == ["nan_or_inf_metric", "crashed"]  # the costliest first
    assert (section["known_runs"], section["unknown_runs"]) == (3, 1)


def test_report_carries_compute_and_says_what_was_lost(sweep_dir: Path) -> None:
    sweep = load_sweep(sweep_dir)
    report = build_report(sweep.store, choose_objective(sweep.store))
    assert report["compute"]["lost_run_hours"] == pytest.approx(0.7)
    by_id = {run["id"]: run for run in report["runs"]}
    assert by_id["went_nan"]["lost_to"] == "nan_or_inf_metric"
    assert by_id["went_nan"]["lost_run_hours"] == pytest.approx(0.4)
    assert by_id["untimed"]["run_hours"] is None and by_id["untimed"]["lost_run_hours"] is None
    for rec in report["recommendations"]:
        assert rec["saved_run_hours"] >= 0
    for entry in report["param_effects"]:  # one value per bucket here: each bucket is one run
        run = next(r for r in report["runs"] if r["params"]["lr"] == entry["value"])
        assert entry["saved_run_hours"] == pytest.approx(run["lost_run_hours"] or 0.0)
    text = render(report, "md")
    overview = text.split("\n\n")[1]
    assert "33% of the sweep's 2.1 run-hours went into runs that had already gone NaN or died" in overview
    assert "(1 run without timestamps not counted)" in overview


def test_a_sweep_without_timestamps_says_nothing_about_run_hours(tmp_path: Path) -> None:
    _write_run(tmp_path, "a", [1.0, 0.5], lr=0.1, times=False)
    _write_run(tmp_path, "b", [1.0, float("nan")], lr=0.2, times=False)
    sweep = load_sweep(tmp_path)
    report = build_report(sweep.store, choose_objective(sweep.store))
    assert report["compute"]["known_runs"] == 0 and report["compute"]["run_hours"] == 0
    text = render(report, "md")
    assert "run-hours" not in text


def test_recommendations_are_ordered_by_the_hours_they_save(tmp_path: Path) -> None:
    """Eight runs at lr 0.1 go NaN at once; four at batch 512 crash after one record:
    the NaN fix saves more and comes first, each saying how much."""
    healthy = [1.0 / epoch for epoch in range(1, 11)]
    for index in range(8):
        run = _write_run(tmp_path, f"nan_{index}", [1.0] + [float("nan")] * 9, lr=0.1)
        (run / "config.json").write_text(json.dumps({"lr": 0.1, "batch": 64, "epochs": 10}))
        _finish(run, "finished", BASE + 9 * CADENCE)
    for index in range(4):
        run = _write_run(tmp_path, f"crash_{index}", healthy[:2], lr=0.001)
        (run / "config.json").write_text(json.dumps({"lr": 0.001, "batch": 512, "epochs": 10}))
        _finish(run, "crashed", BASE + CADENCE, "Traceback (most recent call last):\nKeyError: 'x'\n")
    for index in range(12):
        run = _write_run(tmp_path, f"ok_{index}", healthy, lr=0.001)
        (run / "config.json").write_text(json.dumps({"lr": 0.001, "batch": 64, "epochs": 10}))
        _finish(run, "finished", BASE + 9 * CADENCE)
    sweep = load_sweep(tmp_path)
    report = build_report(sweep.store, choose_objective(sweep.store))
    recs = [r for r in report["recommendations"] if r["kind"] == "avoid"]
    assert [r["family"] for r in recs] == ["numerical", "death"]
    assert recs[0]["saved_run_hours"] == pytest.approx(8 * 0.8)  # NaN from step 2 of 1..10: 8/9 of 0.9 h
    assert recs[1]["saved_run_hours"] == pytest.approx(4 * 0.1)
    text = render(report, "md")
    assert "Would have saved 6.4 run-hours in this sweep." in text
    assert text.index("Would have saved 6.4") < text.index("Would have saved 0.4 run-hours")
