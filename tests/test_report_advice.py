"""What the report advises and how it ranks, on the bundled samples and small planted sweeps."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from helpers import add_run, end_run

from sweeptui.objective import choose_objective
from sweeptui.report import build_report, render
from sweeptui.settings import Settings, load_settings
from sweeptui.simulate import write_run_dir
from sweeptui.store import RunStore
from sweeptui.sweep import load_sweep

SAMPLES = Path(__file__).resolve().parent.parent / "sample_runs"


def _report(directory: Path, **kwargs) -> dict:
    """The report of a sample sweep as it stood when its expectations hold (or of any
    sweep, judged now)."""
    expected = directory / "expected.json"
    judged_at = json.loads(expected.read_text())["judged_at"] if expected.exists() else None
    store = load_sweep(directory, now=judged_at).store
    return build_report(store, choose_objective(store), **kwargs)


# -- leaderboard -------------------------------------------------------------------------------
def test_leaderboard_puts_every_healthy_run_before_any_high_severity_one() -> None:
    store = RunStore("/sweep")
    add_run(store, "blew_up", {"lr": 1.0}, val_loss=[0.5, 0.1, 866.0])  # best-ever 0.1, then 866
    add_run(store, "steady", {"lr": 0.001}, val_loss=[0.9, 0.6, 0.4])
    from sweeptui.issues import Issue

    store.add_issue(Issue("divergence", "blew_up", "val_loss 866 is 8660x its minimum", step=3))
    objective = choose_objective(store)
    board = build_report(store, objective)["leaderboard"]
    assert [e["name"] for e in board] == ["steady", "blew_up"]
    assert [e["high_severity"] for e in board] == [False, True]
    assert board[1]["ranked_value"] == 0.1 and board[1]["last"] == 866.0
    last = build_report(store, objective, rank="last")
    assert last["ranking"] == {"value": "last", "high_severity_last": True}
    assert [e["ranked_value"] for e in last["leaderboard"]] == [0.4, 866.0]
    markdown = render(build_report(store, objective), "md")
    assert "Ranked by each run's best value of `val_loss`" in markdown
    assert "| val_loss (best) | last |" in markdown


@pytest.mark.parametrize("sweep_name", ["run_dirs_sweep", "results_array_sweep"])
def test_sample_leaderboards_rank_healthy_runs_first(sweep_name: str) -> None:
    board = _report(SAMPLES / sweep_name)["leaderboard"]
    flags = [entry["high_severity"] for entry in board]
    assert flags == sorted(flags)
    assert all(not e["high_severity"] for e in board[:3])


def test_rank_must_be_best_or_last() -> None:
    store = RunStore("/sweep")
    add_run(store, "a", {}, val_loss=[1.0])
    with pytest.raises(ValueError, match="best, last"):
        build_report(store, choose_objective(store), rank="median")


# -- alpha ---------------------------------------------------------------------------------------
def test_alpha_is_stated_in_the_json_and_the_sensitivity_text_and_is_a_setting() -> None:
    default = _report(SAMPLES / "run_dirs_sweep")
    assert default["analysis"] == {"alpha": 0.01, "correction": "holm"}
    assert "alpha = 0.01" in render(default, "md").split("## Sensitivity")[1]
    loose = load_settings(None, ["alpha=0.5"])
    report = _report(SAMPLES / "run_dirs_sweep", settings=loose)
    assert report["analysis"]["alpha"] == 0.5
    section = render(report, "md").split("## Sensitivity")[1].split("##")[0]
    assert section.count("alpha = 0.5") == 1 and "alpha = 0.01" not in section
    for entry in report["sensitivity"]:
        if entry["kruskal_p_adjusted"] is not None:
            assert entry["significant"] == (entry["kruskal_p_adjusted"] < 0.5)
    # some p (Holm) lies between 0.01 and 0.5: not significant by default, significant at 0.5
    assert not any(e["significant"] for e in default["sensitivity"])
    assert any(e["significant"] for e in report["sensitivity"])


# -- prefer --------------------------------------------------------------------------------------
def _three_models(good: list[float], other: list[float]) -> RunStore:
    """model=broken always crashes; model=a and model=b finish with the given final val_loss."""
    store = RunStore("/sweep")
    for index in range(6):
        add_run(store, f"broken_{index}", {"model": "broken", "seed": index}, val_loss=[2.0])
        end_run(store, f"broken_{index}", "crashed", error="RuntimeError: shape mismatch")
    for name, finals in (("a", good), ("b", other)):
        for index, final in enumerate(finals):
            add_run(store, f"{name}_{index}", {"model": name, "seed": index}, val_loss=[2.0, 1.0, final])
            end_run(store, f"{name}_{index}", "finished")
    return store


def _prefers(store: RunStore) -> list[dict]:
    report = build_report(store, choose_objective(store))
    return [r for r in report["recommendations"] if r["kind"] == "prefer"]


def test_prefer_needs_a_significant_test_and_the_best_run() -> None:
    store = _three_models([0.30, 0.31, 0.32, 0.33, 0.34, 0.35], [0.60, 0.61, 0.62, 0.63, 0.64, 0.65])
    (prefer,) = _prefers(store)
    assert prefer["title"] == "Prefer model = a"
    assert prefer["evidence"]["example_runs"] == ["a_0"]
    assert prefer["evidence"]["p_adjusted"] < 0.01
    assert "Mann-Whitney" in prefer["text"]


def test_no_prefer_when_the_remaining_values_score_alike() -> None:
    store = _three_models([0.30, 0.41, 0.52, 0.63, 0.34, 0.45], [0.31, 0.40, 0.53, 0.62, 0.35, 0.44])
    assert _prefers(store) == []


def test_results_array_sample_prefers_nothing_against_its_best_run() -> None:
    report = _report(SAMPLES / "results_array_sweep")
    best = report["leaderboard"][0]
    assert best["params"]["model"] == "resnet50"
    for rec in report["recommendations"]:
        if rec["kind"] == "prefer" and rec["params"] == ["model"]:
            assert rec["title"].endswith(best["params"]["model"])


# -- crash loop cause -------------------------------------------------------------------------------
def test_crash_loop_names_the_code_version_it_follows() -> None:
    report = _report(SAMPLES / "crash_loop_sweep")
    stop = report["recommendations"][0]
    assert stop["kind"] == "stop"
    assert "likely cause: code_version = 8d41a07" in stop["title"]
    cause = stop["evidence"]["likely_cause"]
    assert (cause["param"], cause["bucket"], cause["rest_died_runs"]) == ("code_version", "8d41a07", 0)
    markdown = render(report, "md")
    assert "no parameter range to blame" not in markdown


def _generator():
    spec = importlib.util.spec_from_file_location("sample_generate", SAMPLES / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_crash_loop_spread_over_every_value_names_no_cause(tmp_path: Path) -> None:
    plans = _generator().crash_loop_plans()
    for plan in plans:
        plan.params["code_version"] = "8d41a07"  # one version: nothing ties the deaths to a value
    for plan in plans:
        write_run_dir(tmp_path, plan)
    report = _report(tmp_path)
    assert "crash_loop" in {i["type"] for i in report["issues"]}
    stop = report["recommendations"][0]
    assert stop["kind"] == "stop" and "likely_cause" not in stop["evidence"]


def test_default_settings_keep_alpha_strict() -> None:
    assert Settings().alpha == 0.01


# -- plurals -------------------------------------------------------------------------------------
def test_counts_of_one_are_singular() -> None:
    from sweeptui.numbers import counted, noun

    assert [counted(1, "runs"), counted(2, "runs"), counted(0, "issues")] == ["1 run", "2 runs", "0 issues"]
    assert [noun(1, "epochs"), noun(1.5, "epochs"), noun(1, "batches")] == ["epoch", "epochs", "batch"]


def test_report_text_says_one_run_and_one_epoch() -> None:
    report = _report(SAMPLES / "crash_loop_sweep")
    markdown = render(report, "md")
    assert "1 run is still running: its outcome may change." in markdown
    assert "1 runs" not in markdown and "1 issues" not in markdown
    loop = next(i for i in report["issues"] if i["type"] == "crash_loop")
    assert loop["message"].endswith("(median 1 epoch)")


def test_alpha_outside_zero_and_one_is_refused() -> None:
    for bad in ("0", "1", "2", "-0.1"):
        with pytest.raises(ValueError, match=r"'alpha' needs a number in \(0, 1\)"):
            load_settings(None, [f"alpha={bad}"])
