"""Analysis on odd params: null or absent values, settings that are not hyperparameters,
and a section that fails. The report is always written, with a warning for what broke."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from sweeptui.analysis import analyze
from sweeptui.app.export import export_report
from sweeptui.cli import main
from sweeptui.objective import choose_objective
from sweeptui.report import build_report, render
from sweeptui.report import model as report_model
from sweeptui.sweep import load_sweep


def write_run(root: Path, name: str, config: dict, losses: list, status: str = "finished") -> None:
    """One run directory: config.json, metrics.jsonl (val_loss per step), status.json."""
    run = root / name
    run.mkdir(parents=True)
    (run / "config.json").write_bytes(orjson.dumps(config))
    lines = [json.dumps({"step": step, "val_loss": loss}) for step, loss in enumerate(losses, 1)]
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    (run / "status.json").write_text(json.dumps({"status": status}))


def null_and_absent_sweep(root: Path) -> None:
    """``sched`` is null in one run and absent from the others (as W&B writes it)."""
    for index in range(6):
        config = {"lr": [0.1, 0.01][index % 2]}
        if index == 0:
            config["sched"] = None
        write_run(root, f"run{index}", config, [1.0, 0.8 - index * 0.01, 0.7])


@pytest.mark.parametrize("fmt", ["md", "json", "html"])
def test_a_param_null_in_one_run_and_absent_in_others_never_stops_the_report(
    tmp_path: Path, fmt: str, capsys
) -> None:
    null_and_absent_sweep(tmp_path / "sweep")
    code = main(["report", str(tmp_path / "sweep"), "--format", fmt])
    assert code == 0
    out = capsys.readouterr().out
    assert "run5" in out
    if fmt == "json":
        report = json.loads(out)
        assert all(e["param"] != "sched" for e in report["param_effects"])
        assert "sched" not in report["varying_params"]


def test_the_live_export_of_that_sweep_is_written(tmp_path: Path) -> None:
    null_and_absent_sweep(tmp_path / "sweep")
    sweep = load_sweep(tmp_path / "sweep")
    objective = choose_objective(sweep.store)
    result = export_report(sweep.store, objective, tmp_path / "out.md")
    assert result.ok, result.error
    assert "run5" in (tmp_path / "out.md").read_text()
    assert json.loads((tmp_path / "out.json").read_text())["summary"]["runs"] == 6


def test_a_failing_analysis_section_becomes_a_warning_and_the_rest_is_written(
    tmp_path: Path, monkeypatch
) -> None:
    null_and_absent_sweep(tmp_path / "sweep")
    sweep = load_sweep(tmp_path / "sweep")
    objective = choose_objective(sweep.store)

    def broken(*args, **kwargs):
        raise RuntimeError("planted failure")

    # a genuine failure inside one section: the function the analysis calls raises
    monkeypatch.setattr("sweeptui.analysis.sensitivity", broken)
    report = build_report(sweep.store, objective)
    messages = [w["message"] for w in report["warnings"]]
    assert any("sensitivity" in m and "planted failure" in m for m in messages)
    assert report["sensitivity"] == []
    assert report["param_effects"]  # the sections around it are still there
    assert report["next_sweep"]["wandb"]["parameters"]
    for fmt in ("md", "json", "html"):
        assert "run5" in render(report, fmt)


def test_a_failing_report_section_becomes_a_warning(tmp_path: Path, monkeypatch) -> None:
    null_and_absent_sweep(tmp_path / "sweep")
    sweep = load_sweep(tmp_path / "sweep")

    def broken(store, objective):
        raise ValueError("planted section failure")

    monkeypatch.setitem(report_model.EXTRA_SECTIONS, "extra_test_section", broken)
    report = build_report(sweep.store, choose_objective(sweep.store))
    assert any("extra_test_section" in w["message"] for w in report["warnings"])
    assert report["leaderboard"]


def missing_values_sweep(root: Path) -> None:
    """Training runs set optim.lr and the W&B project; evaluation runs lack both and crash.

    Training: lr 0.1 or 0.01 (healthy). Evaluation: no lr, no project, all crashed, so
    a "(missing)" bucket would be significant for deaths on both params.
    """
    for index in range(12):
        config = {"optim": {"lr": [0.1, 0.01][index % 2]}, "wandb_project": "scaling",
                  "data_dir": f"/data/{index % 2}", "log_interval": [10, 50][index % 2]}  # fmt: skip
        write_run(root, f"train{index:02d}", config, [1.0, 0.9, 0.8])
    for index in range(10):
        run = root / f"eval{index:02d}"
        write_run(root, f"eval{index:02d}", {"batch": 8}, [1.0], status="crashed")
        (run / "error.txt").write_text("Traceback (most recent call last):\nRuntimeError: eval failed\n")


def test_missing_values_are_no_bucket_no_finding_and_no_range(tmp_path: Path) -> None:
    missing_values_sweep(tmp_path / "sweep")
    sweep = load_sweep(tmp_path / "sweep")
    analysis = analyze(sweep.store, choose_objective(sweep.store))
    buckets = {(e["param"], e["bucket"]) for e in analysis.param_effects}
    assert not any("missing" in bucket for _, bucket in buckets)
    assert all(e["param"] != "wandb_project" for e in analysis.param_effects)
    recommendations = " ".join(r["title"] for r in analysis.recommendations)
    assert "missing" not in recommendations and "wandb_project" not in recommendations
    caveat = next(c for c in analysis.caveats if c["kind"] == "params_missing")
    assert caveat["params"]["optim.lr"] == 10 and caveat["params"]["batch"] == 12
    assert "optim.lr (10 of 22 runs)" in caveat["text"]
    parameters = analysis.next_sweep["wandb"]["parameters"]
    assert parameters["optim"]["parameters"]["lr"] == {"values": [0.01, 0.1]}
    assert "missing" not in analysis.next_sweep["optuna"]


def test_settings_that_are_not_hyperparameters_are_not_findings(tmp_path: Path) -> None:
    missing_values_sweep(tmp_path / "sweep")
    sweep = load_sweep(tmp_path / "sweep")
    analysis = analyze(sweep.store, choose_objective(sweep.store))
    tested = {e["param"] for e in analysis.param_effects}
    assert tested == {"optim.lr"}  # data_dir and log_interval vary but are settings
    space = analysis.next_sweep["wandb"]["parameters"]
    assert "values" not in space.get("data_dir", {}) and "values" not in space.get("log_interval", {})
