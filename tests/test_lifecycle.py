"""A run's status and reason from evidence (sweeptui.lifecycle), on real run directories.

Every test writes run directories the way a plain training script does (config.json,
metrics.jsonl, no end marker unless said), sets their mtimes with ``os.utime`` and
judges them at a fixed clock. Boundary tests pin each default threshold: they fail
when the default changes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from sweeptui.report.markdown import render_markdown
from sweeptui.report.model import build_report
from sweeptui.settings import Settings
from sweeptui.sweep import Sweep
from tests.lifecycle_dirs import (
    MONTH,
    NOW,
    Spec,
    parallel_sweep,
    retime,
    sequential_sweep,
    shift_tree,
    write_spec,
)


def load_at(root: Path, now: float, settings: Settings | None = None) -> Sweep:
    """Read ``root`` once and judge every run at ``now``."""
    sweep = Sweep(root, settings)
    sweep.load(now=now)
    return sweep


def runs_by_name(sweep: Sweep) -> dict:
    return {run.name: run for run in sweep.store}


def statuses(sweep: Sweep) -> dict[str, str]:
    return {run.name: run.status for run in sweep.store}


# -- implicit completion ------------------------------------------------------------------


def test_a_sequential_sweep_without_markers_finishes_its_complete_runs(tmp_path: Path) -> None:
    specs = sequential_sweep(tmp_path, 12, end=NOW - 600, cut={4: 3})
    write_spec(tmp_path, Spec("never", 0, NOW - 3 * 3600))
    runs = runs_by_name(load_at(tmp_path, NOW))
    for spec in specs:
        run = runs[spec.name]
        if spec.name == "run-004":
            assert run.status == "killed"
            assert run.issue_types == ["killed"]
            assert "3 of 20 epochs logged" in run.status_reason
            assert "other runs kept writing after it" in run.status_reason
        else:
            assert (run.status, run.issue_types) == ("finished", []), spec.name
            assert run.status_reason.startswith("reached 20 of 20 epochs (epochs=20 in its config)")
            assert not run.verdict.explicit
    assert runs["never"].status == "failed"
    assert runs["never"].status_reason.startswith("never logged a metric; no file written for 3.0 h")


def test_an_archive_has_nothing_running(tmp_path: Path) -> None:
    sequential_sweep(tmp_path, 12, end=NOW - 21 * MONTH, cut={2: 3, 7: 11})
    write_spec(tmp_path, Spec("never", 0, NOW - 21 * MONTH - 3600))
    sweep = load_at(tmp_path, NOW)
    counts = sweep.store.status_counts()
    assert counts == {"running": 0, "finished": 10, "crashed": 0, "killed": 2, "failed": 1}
    runs = runs_by_name(sweep)
    assert runs["run-002"].status_reason.startswith("no file written for 21 months; 3 of 20 epochs logged")
    assert "11 of 20 epochs logged" in runs["run-007"].status_reason
    assert all(not run.issue_types for run in sweep.store if run.status == "finished")


def test_a_lone_archived_run_cut_midway_is_killed_without_others_moving_on(tmp_path: Path) -> None:
    write_spec(tmp_path, Spec("alone", 5, NOW - 40 * 86400))
    [run] = load_at(tmp_path, NOW).store
    assert run.status == "killed" and "no file written for 40.0 d; 5 of 20 epochs" in run.status_reason
    assert "other runs" not in run.status_reason


def test_a_csv_log_without_times_or_markers_live_and_archived(tmp_path: Path) -> None:
    """metrics.csv rows carry no times: the files' mtimes alone date the runs."""
    end = NOW - 40_000
    for name, logged in (("done-a", 20), ("done-b", 20), ("cut", 7), ("never", 0)):
        write_spec(tmp_path, Spec(name, logged, end - 3.0 * max(logged, 1), log="csv"))
    # unknown cadence: quiet for 600 s is not yet a stall, 601 s is
    assert set(statuses(load_at(tmp_path, end + 600)).values()) == {"running"}
    live = runs_by_name(load_at(tmp_path, end + 601))
    assert {name: run.status for name, run in live.items()} == {
        "done-a": "finished", "done-b": "finished", "cut": "running", "never": "running",
    }  # fmt: skip
    assert live["cut"].verdict.stalled and live["never"].verdict.stalled
    assert live["done-a"].status_reason.startswith("reached 20 of 20 epochs (epochs=20 in its config)")
    shift_tree(tmp_path, -5 * MONTH)
    sweep = load_at(tmp_path, end)
    counts = sweep.store.status_counts()
    assert counts == {"running": 0, "finished": 2, "crashed": 0, "killed": 1, "failed": 1}
    runs = runs_by_name(sweep)
    assert runs["cut"].status_reason.startswith("no file written for 5 months; 7 of 20 epochs logged")
    assert runs["never"].status_reason.startswith("never logged a metric; no file written for 5 months")
    [killed] = (issue.message for issue in sweep.store.issues if issue.run == runs["never"].id)
    assert killed.startswith("vanished without an end marker before logging any metric: never logged")
    assert "no file written for 5 months" in killed
    for name in ("done-a", "done-b"):
        assert runs[name].issue_types == [], name
        assert runs[name].status_reason == (
            "reached 20 of 20 epochs (epochs=20 in its config), then no file written for 5 months"
        )


def test_a_parallel_sweep_cut_midway_and_completed(tmp_path: Path) -> None:
    parallel_sweep(tmp_path, 6, end=NOW - 1800, cut={1: 10, 4: 12})
    sweep = load_at(tmp_path, NOW)
    assert statuses(sweep) == {
        "par-000": "finished", "par-001": "killed", "par-002": "finished",
        "par-003": "finished", "par-004": "killed", "par-005": "finished",
    }  # fmt: skip


def test_a_final_test_line_after_the_last_epoch_does_not_flip_the_status(tmp_path: Path) -> None:
    spec = Spec("r", 20, NOW - 200, interval=3.0)
    run_dir = write_spec(tmp_path, spec)
    sweep = Sweep(tmp_path)
    sweep.rescan()
    sweep.tick(spec.last_write + 61)
    [run] = sweep.store
    assert run.status == "finished"
    with (run_dir / "metrics.jsonl").open("a") as log:
        log.write(json.dumps({"epoch": 20, "test_loss": 0.3, "time": spec.last_write + 70}) + "\n")
    retime(run_dir, spec.last_write + 70)
    sweep.poll(None)
    for moment in (spec.last_write + 71, spec.last_write + 100, spec.last_write + 200):
        sweep.tick(moment)
        assert run.status == "finished" and run.issue_types == []
    # a report reading the files once the test line is quiet agrees
    assert statuses(load_at(tmp_path, spec.last_write + 70 + 61)) == {"r": "finished"}


def test_steps_are_never_compared_with_an_expected_length_in_epochs(tmp_path: Path) -> None:
    run = tmp_path / "steps"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"epochs": 20}))
    (run / "metrics.jsonl").write_text(
        "".join(json.dumps({"step": s, "loss": 1.0 / (s + 1)}) + "\n" for s in range(2000))
    )
    retime(run, NOW - 86400)
    [judged] = load_at(tmp_path, NOW).store
    assert judged.status == "killed" and "2000 steps logged" in judged.status_reason


def test_a_per_epoch_log_without_an_epoch_column_completes_at_exactly_its_epochs(tmp_path: Path) -> None:
    for name, steps in (("dense", 20), ("short", 19)):
        run = tmp_path / name
        run.mkdir()
        (run / "config.json").write_text(json.dumps({"epochs": 20}))
        (run / "metrics.jsonl").write_text(
            "".join(json.dumps({"step": s, "val_loss": 1.0 / (s + 1)}) + "\n" for s in range(steps))
        )
        retime(run, NOW - 86400)
    assert statuses(load_at(tmp_path, NOW)) == {"dense": "finished", "short": "killed"}


def test_expected_length_from_nested_and_named_config_keys(tmp_path: Path) -> None:
    nested = Spec("nested", 10, NOW - 3600, epochs=None, params={"trainer": {"max_epochs": 10}})
    hf = Spec("hf", 5, NOW - 3600, epochs=None, params={"num_train_epochs": 5})
    short = Spec("short", 4, NOW - 3600, epochs=None, params={"trainer": {"max_epochs": 10}})
    for spec in (nested, hf, short):
        write_spec(tmp_path, spec)
    runs = runs_by_name(load_at(tmp_path, NOW))
    assert "(trainer.max_epochs=10 in its config)" in runs["nested"].status_reason
    assert runs["hf"].status == "finished" and "num_train_epochs=5" in runs["hf"].status_reason
    assert runs["short"].status == "killed" and "4 of 10 epochs logged" in runs["short"].status_reason


def test_without_a_config_length_the_sweeps_completed_length_stands_in(tmp_path: Path) -> None:
    """Three quiet runs share the longest length: it is the sweep's; two cannot say so."""
    for index, logged in enumerate((20, 20, 20, 8, 8)):
        write_spec(tmp_path, Spec(f"a{index}", logged, NOW - 86400 + index * 100, epochs=None))
    judged = load_at(tmp_path / ".", NOW)
    assert statuses(judged) == {"a0": "finished", "a1": "finished", "a2": "finished",
                                "a3": "killed", "a4": "killed"}  # fmt: skip
    assert "the length 3 quiet or finished runs reached" in runs_by_name(judged)["a0"].status_reason


def test_two_runs_at_the_longest_length_are_not_enough_to_call_it_complete(tmp_path: Path) -> None:
    """Pins ``sweep_length_min_runs`` (3)."""
    for index, logged in enumerate((20, 20, 8, 8, 8)):
        write_spec(tmp_path, Spec(f"a{index}", logged, NOW - 86400 + index * 100, epochs=None))
    assert set(statuses(load_at(tmp_path, NOW)).values()) == {"killed"}


# -- silence against the clock: pinned thresholds -------------------------------------------


def fast_pair(root: Path, interval: float = 1.0) -> Spec:
    """'slow' cut at epoch 5 of 20 (a record every ``interval``), 'busy' still writing later."""
    slow = Spec("slow", 5, NOW - 10_000, interval=interval)
    write_spec(root, slow)
    write_spec(root, Spec("busy", 19, slow.last_write - 10, interval=1.0, epochs=200))
    return slow


def test_a_run_logging_every_second_is_stalled_after_a_minute(tmp_path: Path) -> None:
    """Pins ``stall_floor_seconds`` (60) and ``vanish_factor`` (3)."""
    slow = fast_pair(tmp_path)
    verdicts = {}
    for silence in (60, 61, 180, 181):
        [run] = [r for r in load_at(tmp_path, slow.last_write + silence).store if r.name == "slow"]
        verdicts[silence] = (run.status, run.verdict.stalled)
    assert verdicts == {60: ("running", False), 61: ("running", True),
                        180: ("running", True), 181: ("killed", False)}  # fmt: skip


def test_a_slower_cadence_raises_the_threshold(tmp_path: Path) -> None:
    """Pins ``stall_factor`` (10): a record every 10 s stalls after 100 s, not 60."""
    slow = fast_pair(tmp_path, interval=10.0)
    at = {s: runs_by_name(load_at(tmp_path, slow.last_write + s))["slow"] for s in (100, 101)}
    assert (at[100].verdict.stalled, at[101].verdict.stalled) == (False, True)
    assert "threshold 100 s; median update interval 10 s" in at[101].status_reason


def test_without_record_times_the_cadence_is_unknown_and_a_slow_start_is_allowed(tmp_path: Path) -> None:
    """Pins ``stall_unknown_cadence_seconds`` (600)."""
    spec = Spec("untimed", 4, NOW - 5000, timed=False)
    write_spec(tmp_path, spec)
    at = {s: runs_by_name(load_at(tmp_path, spec.last_write + s))["untimed"] for s in (600, 601)}
    assert (at[600].verdict.stalled, at[601].verdict.stalled) == (False, True)


def test_a_silent_run_nobody_moved_past_stays_stalled_until_the_abandon_limit(tmp_path: Path) -> None:
    """Pins the 'other runs moved on' condition and ``abandon_seconds`` (3600)."""
    for index in range(3):  # a parallel sweep whose driver died: all stop at once
        write_spec(tmp_path, Spec(f"p{index}", 7, NOW - 50_000, interval=1.0))
    last = NOW - 50_000 + 7
    for silence, expected in ((181, "running"), (3600, "running"), (3601, "killed")):
        assert set(statuses(load_at(tmp_path, last + silence)).values()) == {expected}, silence


def test_the_abandon_limit_grows_with_a_slow_cadence(tmp_path: Path) -> None:
    """Pins ``abandon_factor`` (20): a record every 10 min; threshold 100 min; gone after 2000."""
    spec = Spec("slow", 4, NOW - 10 * 86400, interval=600.0)
    write_spec(tmp_path, spec)
    at = {s: runs_by_name(load_at(tmp_path, spec.last_write + s))["slow"].status for s in (120_000, 120_001)}
    assert at == {120_000: "running", 120_001: "killed"}


def test_a_complete_run_finishes_once_quiet_past_its_threshold(tmp_path: Path) -> None:
    spec = Spec("done", 20, NOW - 1000, interval=1.0)
    write_spec(tmp_path, spec)
    at = {s: runs_by_name(load_at(tmp_path, spec.last_write + s))["done"].status for s in (60, 61)}
    assert at == {60: "running", 61: "finished"}


# -- explicit evidence and named causes ------------------------------------------------------

KEYBOARD = """Traceback (most recent call last):
  File "train.py", line 40, in <module>
    loss.backward()
KeyboardInterrupt
"""
OOM = """Traceback (most recent call last):
  File "train.py", line 40, in <module>
torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB
"""


def test_causes_are_named(tmp_path: Path) -> None:
    start = NOW - 3600
    specs = [
        Spec("done", 20, start, marker="DONE"),
        Spec("exit0", 20, start, marker="exit_code", marker_text="0\n"),
        Spec("ctrl_c", 6, start, error=KEYBOARD),
        Spec("exit130", 6, start, marker="exit_code", marker_text="130\n"),
        Spec("sigterm", 6, start, marker="exit_code", marker_text="143\n"),
        Spec("terminated", 6, start, error="Terminated\n"),
        Spec("oom", 6, start, error=OOM),
        Spec("early_death", 0, start, error=OOM),
    ]
    for spec in specs:
        write_spec(tmp_path, spec)
    runs = runs_by_name(load_at(tmp_path, NOW))
    assert runs["done"].status_reason == "end marker (DONE file); 20 of 20 epochs logged"
    assert runs["exit0"].status_reason.startswith("exit code 0 (exit_code file)")
    for name in ("ctrl_c", "exit130"):
        assert runs[name].status == "killed", name
        assert runs[name].status_reason.startswith("interrupted (Ctrl-C)"), name
    for name in ("sigterm", "terminated"):
        assert runs[name].status == "killed" and "SIGTERM" in runs[name].status_reason, name
    assert runs["oom"].status == "crashed" and runs["oom"].issue_types == ["oom"]
    assert runs["early_death"].status == "failed"
    assert runs["early_death"].status_reason.startswith("died before logging any metric: CUDA out of memory")
    assert all(run.verdict.explicit for run in runs.values())


LIGHTNING_STOP = """GPU available: False, used: False
LOCAL_RANK: 0 - CUDA_VISIBLE_DEVICES: [0]
Metric val_loss improved by 0.081 >= min_delta = 0.0. New best score: 0.412
Monitored metric val_loss did not improve in the last 3 records. Best score: 0.412. Signaling Trainer to stop.
"""
EARLY_STOP_LOGS = {
    "lightning": ("train.log", LIGHTNING_STOP, "Lightning EarlyStopping in train.log"),
    "keras": ("stdout.log", "Epoch 11/50\n12/12 - 0s - loss: 0.40\nEpoch 12: early stopping\n",
              "Keras EarlyStopping in stdout.log"),
    "lightgbm": ("job.err", "[LightGBM] [Info] Early stopping, best iteration is:\n[9]\tvalid's l2: 0.4\n",
                 "LightGBM early stopping in job.err"),
}  # fmt: skip


def test_an_early_stop_printed_in_a_log_is_a_finish_on_purpose(tmp_path: Path) -> None:
    # Twelve of fifty epochs, no end marker, silent for a day: killed, unless the log says
    # the early-stopping callback ended it. A banner naming early stopping is not a stop.
    start = NOW - 86400
    for name, (log, text, _) in EARLY_STOP_LOGS.items():
        run = write_spec(tmp_path, Spec(name, 12, start, epochs=50))
        (run / log).write_text(text)
        retime(run, start + 36)
    banner = write_spec(tmp_path, Spec("banner", 12, start, epochs=50))
    (banner / "train.log").write_text("Using EarlyStopping(patience=3); early stopping enabled\n")
    retime(banner, start + 36)
    crash = write_spec(tmp_path, Spec("stop_then_crash", 12, start, epochs=50))
    (crash / "train.log").write_text(LIGHTNING_STOP + KEYBOARD)
    retime(crash, start + 36)
    sweep = load_at(tmp_path, NOW)
    runs = runs_by_name(sweep)
    for name, (_, _, evidence) in EARLY_STOP_LOGS.items():
        run = runs[name]
        assert (run.status, run.stopped_early, run.issue_types) == ("finished", True, []), name
        assert run.status_reason == f"stopped early on purpose ({evidence}); 12 of 50 epochs logged"
    assert runs["banner"].status == "killed" and not runs["banner"].stopped_early
    assert runs["stop_then_crash"].status == "killed"  # the Ctrl-C after the stop line wins
    assert "finished (stopped early)" in render_markdown(build_report(sweep.store, None))


# -- what the report says -----------------------------------------------------------------------


def test_every_json_run_has_its_reason_and_markdown_counts_the_evidence(tmp_path: Path) -> None:
    sequential_sweep(tmp_path, 6, end=NOW - 86400, cut={3: 4})
    write_spec(tmp_path, Spec("crash", 6, NOW - 90000, error=OOM))
    write_spec(tmp_path, Spec("marked", 20, NOW - 90000, marker="DONE"))
    report = build_report(load_at(tmp_path, NOW).store, None)
    assert all(run["status_reason"] for run in report["runs"])
    evidence = report["summary"]["status_evidence"]
    assert evidence == {
        "explicit": 2, "inferred": 6,
        "explicit_by": {"end marker": 1, "error text": 1},
        "inferred_by": {"expected length reached": 5, "silence": 1},
    }  # fmt: skip
    text = render_markdown(report)
    assert ("Statuses: 2 from explicit evidence (1 end marker, 1 error text); "
            "6 inferred (5 expected length reached, 1 silence).") in text  # fmt: skip


# -- the analysis stands on the statuses --------------------------------------------------------

NAN_ERROR = "Traceback (most recent call last):\nValueError: loss is NaN\n"
SHAPE_ERROR = "Traceback (most recent call last):\nRuntimeError: shape mismatch in attention block\n"


def planted_dirs(root: Path, seed: int, runs: int, *, markers: bool) -> None:
    """A sequential sweep with planted causes: lr >= 0.01 dies (NaN) at epoch 2, swin_small
    crashes at epoch 3; the rest complete their 8 epochs with a DONE file or without one."""
    rng = np.random.default_rng(seed)
    start = NOW - 86400
    for index in range(runs):
        lr = float(10 ** rng.uniform(-5, -1))
        model = str(rng.choice(["resnet18", "vit_small", "swin_small"]))
        batch = int(rng.choice([32, 64, 128]))
        params = {"lr": lr, "model": model, "batch_size": batch}
        error, logged = None, 8
        if model == "swin_small":
            error, logged = SHAPE_ERROR, 3
        elif lr >= 0.01:
            error, logged = NAN_ERROR, 2
        marker = "DONE" if markers and error is None else None
        spec = Spec(f"run-{index:03d}", logged, start + index * 30, interval=3.0, epochs=8,
                    params=params, error=error, marker=marker)  # fmt: skip
        write_spec(root, spec)


def significant(sweep: Sweep) -> set[tuple[str, str, tuple[str, ...]]]:
    from sweeptui.analysis import analyze
    from sweeptui.objective import choose_objective

    result = analyze(sweep.store, choose_objective(sweep.store)).to_dict()
    return {(e["param"], str(e["bucket"]), tuple(sorted(e["findings"])))
            for e in result["param_effects"] if e["significant"]}  # fmt: skip


def test_the_analysis_of_a_marker_free_sweep_finds_the_same_causes(tmp_path: Path) -> None:
    planted_dirs(tmp_path / "marked", 4, 150, markers=True)
    planted_dirs(tmp_path / "bare", 4, 150, markers=False)
    marked, bare = load_at(tmp_path / "marked", NOW), load_at(tmp_path / "bare", NOW)
    assert statuses(marked) == statuses(bare)
    found = significant(bare)
    assert found == significant(marked)
    assert {param for param, _, _ in found} == {"lr", "model"}
