"""The bundled sample sweeps and the simulator that writes them.

(a) the committed ``sample_runs/`` is exactly what ``sample_runs/generate.py`` writes;
(b) reading each sample sweep gives the statuses and issues its ``expected.json`` states;
(c) the simulator: live writing, planted rules, the random-failure null case, and curves
    that trip (or stay clear of) the documented detector thresholds.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest

from sweeptui.simulate import (
    BASE_TIME,
    FATES,
    LiveSimulator,
    Rule,
    RunPlan,
    demo_plans,
    plan_curves,
    plan_sweep,
    random_failures,
    write_results_array,
    write_run_dir,
)

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample_runs"
SWEEPS = ("results_array_sweep", "run_dirs_sweep", "crash_loop_sweep")


def _load_generator():
    spec = importlib.util.spec_from_file_location("sample_generate", SAMPLES / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "generate.py" and "__pycache__" not in p.parts
    }


# -- (a) committed samples are the generator's output ----------------------------------------
def test_regenerated_samples_are_byte_identical(tmp_path: Path) -> None:
    _load_generator().generate_all(tmp_path)
    fresh, committed = _files(tmp_path), _files(SAMPLES)
    assert sorted(fresh) == sorted(committed)
    changed = [name for name in fresh if fresh[name] != committed[name]]
    assert changed == [], "regenerate with: python sample_runs/generate.py"


def test_samples_stay_small() -> None:
    assert sum(len(data) for data in _files(SAMPLES).values()) < 2 * 1024 * 1024


def test_run_dirs_sample_covers_every_per_run_issue() -> None:
    expected = json.loads((SAMPLES / "run_dirs_sweep" / "expected.json").read_text())
    issues = {issue for run in expected["runs"].values() for issue in run["issues"]}
    assert issues == {"nan_or_inf_metric", "divergence", "crashed", "oom", "killed", "stalled",
                      "short_run", "overfitting_suspect"}  # fmt: skip
    statuses = {run["status"] for run in expected["runs"].values()}
    assert statuses == {"running", "finished", "crashed", "killed", "failed"}
    assert any(not run["issues"] for run in expected["runs"].values())


def _stamps(path: Path) -> list[float]:
    """Every record time a sample file holds (JSONL/status ``time``, CSV ``time``, ISO start/end)."""
    from datetime import datetime

    text = path.read_text(encoding="utf-8")
    if path.suffix == ".csv":
        rows = [line.split(",") for line in text.splitlines()]
        column = rows[0].index("time") if rows and "time" in rows[0] else None
        return [] if column is None else [float(row[column]) for row in rows[1:]]
    if path.suffix == ".jsonl":
        return [json.loads(line)["time"] for line in text.splitlines() if '"time"' in line]
    data = json.loads(text)
    if isinstance(data, list):  # results array
        return [datetime.fromisoformat(r[k]).timestamp() for r in data for k in ("start_time", "end_time")]
    return [data["time"]] if isinstance(data, dict) and "time" in data else []


@pytest.mark.parametrize("sweep_name", SWEEPS)
def test_sample_times_lie_before_their_files_were_written(sweep_name: str, tmp_path: Path) -> None:
    # Freshly generated ones (every mtime is "now") and the committed ones (mtime = checkout):
    # a record stamped later than its own file is a generator bug.
    _load_generator().generate_all(tmp_path)
    files = [p for root in (tmp_path, SAMPLES) for p in (root / sweep_name).rglob("*")
             if p.suffix in (".jsonl", ".csv", ".json")]  # fmt: skip
    checked = 0
    for path in files:
        mtime = path.stat().st_mtime
        stamps = _stamps(path)
        assert all(stamp < mtime for stamp in stamps), (path, max(stamps))
        checked += len(stamps)
    assert checked > 40


def test_align_silent_runs_puts_the_last_record_silence_before_the_newest() -> None:
    from sweeptui.simulate import align_silent_runs

    plans = [RunPlan("done", {"epochs": 5}, interval=60.0),
             RunPlan("quiet", {"epochs": 5}, "stalled", 3, interval=60.0, silence=900.0)]  # fmt: skip
    reference = align_silent_runs(plans)
    assert reference == plan_curves(plans[0]).end_time
    assert plan_curves(plans[1]).time[-1] == pytest.approx(reference - 900.0)


# -- (b) reading the samples gives the expected verdicts --------------------------------------
@pytest.mark.parametrize("sweep_name", SWEEPS)
def test_sample_sweep_matches_expected(sweep_name: str) -> None:
    from sweeptui.sweep import load_sweep

    directory = SAMPLES / sweep_name
    expected = json.loads((directory / "expected.json").read_text())
    sweep = load_sweep(directory, now=expected["judged_at"])
    got = {
        run.id: {"status": run.status, "issues": sorted(set(run.issue_types))}
        for run in sweep.store
    }
    mismatches = {
        run_id: {"expected": want, "got": got.get(run_id)}
        for run_id, want in expected["runs"].items()
        if got.get(run_id) != want
    }
    assert mismatches == {}
    assert sorted(got) == sorted(expected["runs"])
    sweep_issues = sorted({issue.type for issue in sweep.store.sweep_issues()})
    assert sweep_issues == expected["sweep_issues"]


@pytest.mark.parametrize("sweep_name", SWEEPS)
def test_read_today_a_sample_is_an_archive_with_nothing_running(sweep_name: str) -> None:
    from sweeptui.sweep import load_sweep

    expected = json.loads((SAMPLES / sweep_name / "expected.json").read_text())
    sweep = load_sweep(SAMPLES / sweep_name)
    assert sweep.store.status_counts()["running"] == 0
    for run in sweep.store:
        if expected["runs"][run.id]["status"] == "running":
            assert run.status in ("killed", "finished") and run.status_reason, run.id


# -- (c) the simulator -----------------------------------------------------------------------
def _overfit_trips(val: np.ndarray, train: np.ndarray, rise=0.05, patience=3, drop=0.02,
                   window=3, factor=5.0, points=30) -> bool:  # fmt: skip
    """The documented rule, recomputed from scratch at each point: the level (mean of the
    last ``window`` points without the highest) above its lowest value so far by more than
    ``max(rise, factor x noise)`` at ``patience`` points in a row, while the training level
    fell by ``drop`` since the lowest level. Noise: mean |third difference| / |previous value|
    over the last ``points`` points, over sqrt(20) * sqrt(2 / pi)."""

    def level(series: np.ndarray, i: int) -> float:
        kept = sorted(series[i - window + 1 : i + 1])[:-1]
        return sum(kept) / len(kept)

    def jump(i: int) -> float:
        return abs(val[i] - 3 * val[i - 1] + 3 * val[i - 2] - val[i - 3]) / abs(val[i - 1])

    best, best_train, streak = math.inf, math.nan, 0
    for i in range(window - 1, len(val)):
        now, train_now = level(val, i), level(train, i)
        recent = [jump(j) for j in range(max(3, i - points + 1), i + 1)]
        noise = sum(recent) / len(recent) / (math.sqrt(20) * math.sqrt(2 / math.pi)) if recent else 0
        if now < best:
            best, best_train = now, train_now
        streak = streak + 1 if now > best * (1 + max(rise, factor * noise)) else 0
        if streak >= patience and train_now <= best_train * (1 - drop):
            return True
    return False


def _divergence_trips(loss: np.ndarray, factor=10.0, min_points=3) -> bool:
    """The documented rule: a finite value above ``factor`` times the running minimum."""
    finite = np.where(np.isfinite(loss), loss, np.inf)
    running_min = np.minimum.accumulate(finite)
    later = np.arange(len(loss)) >= min_points
    return bool(np.any(later & np.isfinite(loss) & (loss > factor * running_min)))


@pytest.mark.parametrize("epochs", [8, 12, 20, 50])
def test_healthy_curves_stay_clear_of_the_thresholds(epochs: int) -> None:
    for seed in range(150):
        plan = RunPlan("r", {"epochs": epochs}, "healthy", seed=seed)
        curves = plan_curves(plan)
        assert np.all(np.isfinite(curves.train_loss))
        assert not _overfit_trips(curves.val_loss, curves.train_loss), seed
        assert not _divergence_trips(curves.train_loss), seed
        assert not _divergence_trips(curves.val_loss), seed
        assert curves.train_loss[-1] < curves.train_loss[0] / 2
        assert curves.val_accuracy[-1] > curves.val_accuracy[0] + 0.3
        assert np.mean(curves.val_loss > curves.train_loss) > 0.8


@pytest.mark.parametrize("seed", range(20))
def test_planted_curves_trip_their_rule(seed: int) -> None:
    params = {"epochs": 20}
    overfit = plan_curves(RunPlan("o", params, "overfit", 7, seed=seed))
    assert _overfit_trips(overfit.val_loss, overfit.train_loss)
    assert not _divergence_trips(overfit.val_loss)
    diverged = plan_curves(RunPlan("d", params, "divergence", 8, seed=seed))
    assert _divergence_trips(diverged.train_loss)
    assert np.all(np.isfinite(diverged.train_loss))
    nan = plan_curves(RunPlan("n", params, "nan", 6, seed=seed))
    assert np.all(np.isfinite(nan.train_loss[:5])) and np.all(np.isnan(nan.train_loss[5:]))


def test_plan_expectations_follow_the_fate() -> None:
    crashed = RunPlan("c", {"epochs": 10}, "crashed", 3)
    assert (crashed.expected_status, crashed.expected_issues) == ("crashed", {"crashed"})
    assert crashed.logged_epochs == 3
    assert RunPlan("f", {"epochs": 10}, "failed").logged_epochs == 0
    assert RunPlan("v", {"epochs": 10}, "vanished", 4).expectation() == {
        "status": "killed", "issues": ["killed"]}  # fmt: skip
    with pytest.raises(ValueError):
        RunPlan("x", {"epochs": 10}, "exploded")
    with pytest.raises(ValueError):
        RunPlan("x", {"epochs": 10}, "crashed", 11)


def test_planted_rules_assign_fates_by_params() -> None:
    grid = {"lr": [1e-3, 2e-2], "model": ["resnet18", "swin_small"], "batch_size": [64, 256]}
    rules = [
        Rule("model == 'swin_small'", "crashed", bad_epoch=2),
        Rule("lr >= 0.02", "nan", bad_epoch=3),
        Rule("batch_size == 256 and lr == 1e-3", "oom", bad_epoch=1),
    ]
    for plan in plan_sweep(grid, rules, epochs=6):
        p = plan.params
        if p["model"] == "swin_small":
            want = ("crashed", 2)
        elif p["lr"] >= 0.02:
            want = ("nan", 3)
        elif p["batch_size"] == 256:
            want = ("oom", 1)
        else:
            want = ("healthy", None)
        assert (plan.fate, plan.bad_epoch) == want, plan.name


def test_plan_sweep_runs_are_sequential_and_uniquely_named() -> None:
    plans = plan_sweep({"lr": [1e-3, 3e-3, 1e-2], "wd": [0.0, 1e-4]}, [], epochs=5)
    assert len({plan.name for plan in plans}) == 6
    ends = [plan_curves(plan).end_time for plan in plans]
    starts = [BASE_TIME + plan.start for plan in plans]
    assert all(start > end for start, end in zip(starts[1:], ends[:-1], strict=True))


def test_random_failures_ignore_params() -> None:
    rate = 0.3
    first = random_failures({"lr": [1e-3, 1e-2], "model": ["a", "b", "c"]}, rate, seed=5)
    second = random_failures({"depth": [2, 4, 8], "wd": [0, 1]}, rate, seed=5)
    assert [p.fate for p in first] == [p.fate for p in second]
    big = random_failures({"lr": [1e-4, 1e-3, 1e-2, 1e-1], "i": list(range(500))}, rate, seed=1)
    by_lr: dict[float, list[bool]] = {}
    for plan in big:
        by_lr.setdefault(plan.params["lr"], []).append(plan.fate != "healthy")
    for failures in by_lr.values():
        assert abs(np.mean(failures) - rate) < 0.08
    assert random_failures({"i": list(range(50))}, 0.0)[0].fate == "healthy"


def test_write_run_dir_files_per_fate(tmp_path: Path) -> None:
    params = {"epochs": 10, "lr": 0.01}
    layouts = {
        "healthy": {}, "nan": {"bad_epoch": 4}, "crashed": {"bad_epoch": 3},
        "oom": {"bad_epoch": 2, "end_marker": "status"}, "failed": {},
        "stalled": {"bad_epoch": 5}, "short": {"bad_epoch": 3, "metrics_format": "csv"},
    }  # fmt: skip
    for fate, extra in layouts.items():
        write_run_dir(tmp_path, RunPlan(fate, params, fate, seed=1, **extra))
    names = {fate: sorted(p.name for p in (tmp_path / fate).iterdir()) for fate in layouts}
    assert names["healthy"] == ["DONE", "config.json", "metrics.jsonl"]
    assert names["crashed"] == ["config.json", "error.txt", "metrics.jsonl"]
    assert names["oom"] == ["config.json", "error.txt", "metrics.jsonl", "status.json"]
    assert names["failed"] == ["config.json", "error.txt"]
    assert names["stalled"] == ["config.json", "metrics.jsonl"]
    assert names["short"] == ["DONE", "config.json", "metrics.csv"]
    nan_lines = (tmp_path / "nan" / "metrics.jsonl").read_text().splitlines()
    assert "NaN" not in nan_lines[2] and '"train_loss": NaN' in nan_lines[3]
    assert len((tmp_path / "short" / "metrics.csv").read_text().splitlines()) == 1 + 3
    status = json.loads((tmp_path / "oom" / "status.json").read_text())
    assert status["status"] == "crashed" and "CUDA out of memory" in status["error"]


def test_results_array_files(tmp_path: Path) -> None:
    plans = [RunPlan(f"e{i}", {"epochs": 6}, fate, bad, seed=i)
             for i, (fate, bad) in enumerate([("healthy", None), ("nan", 2), ("crashed", 3)])]
    intermediate, final = write_results_array(tmp_path, plans, intermediate_count=1)
    assert "NaN" in final.read_text()
    records = json.loads(final.read_text())
    assert [r["experiment_name"] for r in records] == ["e0", "e1", "e2"]
    assert json.loads(intermediate.read_text()) == records[:1]
    assert [r["success"] for r in records] == [True, True, False]
    assert len(records[2]["train_losses"]) == 3 and "Traceback" in records[2]["error"]


def test_live_simulator_step_writes_valid_records(tmp_path: Path) -> None:
    plans = [
        RunPlan("ok", {"epochs": 5}, "healthy", seed=1, interval=10.0),
        RunPlan("dies", {"epochs": 5}, "crashed", 2, seed=2, interval=10.0, start=5.0),
        RunPlan("hangs", {"epochs": 5}, "stalled", 3, seed=3, interval=10.0),
    ]
    sim = LiveSimulator(tmp_path, plans, base_time=BASE_TIME)
    assert sim.step(BASE_TIME - 1) == 0
    counts = []
    for now in np.arange(BASE_TIME, BASE_TIME + 100, 7.0):
        sim.step(float(now))
        lines = (tmp_path / "ok" / "metrics.jsonl").read_text().splitlines()
        counts.append(len(lines))
        records = [json.loads(line) for line in lines if "epoch" in line]
        assert [r["epoch"] for r in records] == list(range(1, len(records) + 1))
        assert all(r["time"] <= now for r in records)
    assert counts == sorted(counts) and counts[0] == 0 and counts[-1] == 5
    assert (tmp_path / "ok" / "DONE").exists()
    assert "ValueError" in (tmp_path / "dies" / "error.txt").read_text()
    assert len((tmp_path / "dies" / "metrics.jsonl").read_text().splitlines()) == 2
    assert sorted(p.name for p in (tmp_path / "hangs").iterdir()) == ["config.json",
                                                                      "metrics.jsonl"]
    assert sim.done


def test_live_simulator_matches_static_writer(tmp_path: Path) -> None:
    plans = demo_plans(epochs=8, interval=5.0)
    assert {plan.fate for plan in plans} <= set(FATES)
    sim = LiveSimulator(tmp_path / "live", plans, base_time=BASE_TIME)
    sim.step(BASE_TIME + 10_000)
    for plan in plans:
        write_run_dir(tmp_path / "static", plan)
    assert _files(tmp_path / "live") == _files(tmp_path / "static")
