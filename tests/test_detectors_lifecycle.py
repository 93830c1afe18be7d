"""Run-lifecycle detectors: failures, stalls and vanished runs, short runs, crash loops."""

from __future__ import annotations

import numpy as np

from sweeptui.issues import SWEEP_RUN_ID
from sweeptui.settings import Settings
from tests.detector_feed import Curve, Harness

OOM_TRACEBACK = """Traceback (most recent call last):
  File "train.py", line 88, in <module>
    loss.backward()
  File "/usr/lib/python3.11/site-packages/torch/_tensor.py", line 522, in backward
    torch.autograd.backward(
torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 23.65 GiB total)
"""

VALUE_TRACEBACK = """Traceback (most recent call last):
  File "train.py", line 41, in <module>
    model = build(cfg)
  File "train.py", line 17, in build
    raise ValueError(f"unknown activation {name!r}")
ValueError: unknown activation 'gelu2'
"""


def epoch_curve(epochs: int, start_time: float = 0.0, seconds_per_epoch: float = 10.0) -> Curve:
    """One record per epoch (0-based), a falling val_loss, a timestamp per record."""
    steps = np.arange(epochs, dtype=np.float64)
    return Curve(
        {"val_loss": (steps, 1.0 / (steps + 1))},
        epoch_of_step={float(s): float(s) for s in steps},
        time_of_step={float(s): start_time + seconds_per_epoch * (s + 1) for s in steps},
    )


# -- crashed / oom / killed ---------------------------------------------------------------------


def test_failures_are_named_with_reason_and_place():
    harness = Harness()
    for run in ("oom", "bad", "sig", "ok"):
        harness.see(run, {"epochs": 20})
        harness.feed(run, epoch_curve(20 if run == "ok" else 7))
    harness.end("oom", None, OOM_TRACEBACK)
    harness.end("bad", "crashed", VALUE_TRACEBACK, exit_code=1)
    harness.end("sig", "killed", "slurmstepd: error: *** JOB 4411 CANCELLED ***", exit_code=137)
    harness.end("ok", "finished")
    by_run = {issue.run: issue for issue in harness.store.issues}
    assert set(by_run) == {"oom", "bad", "sig"}
    assert by_run["oom"].type == "oom" and "CUDA out of memory" in by_run["oom"].message
    assert by_run["bad"].type == "crashed" and "unknown activation" in by_run["bad"].message
    assert by_run["sig"].type == "killed" and "SIGKILL" in by_run["sig"].message
    assert all((i.step, i.epoch) == (6, 6) for i in by_run.values())
    assert "at step 6 (epoch 6)" in by_run["bad"].message


def test_a_run_that_died_before_any_metric_says_so():
    harness = Harness()
    harness.see("r1")
    [issue] = harness.end("r1", None, VALUE_TRACEBACK)
    assert issue.type == "crashed" and issue.step is None
    assert "before logging any metric" in issue.message
    assert harness.store.runs["r1"].status == "failed"


# -- stalled and vanished ----------------------------------------------------------------------


def test_stall_fires_past_the_threshold_and_vanish_marks_killed_once_others_moved_on():
    harness = Harness()
    harness.see("slow")
    harness.see("busy")
    harness.feed("slow", epoch_curve(101, 0.0, 10.0), 1)  # a record every 10 s until t=1010
    harness.feed("busy", epoch_curve(110, 0.0, 10.0), 7)  # ...until t=1100
    # threshold max(60 s floor, 10 x 10 s) = 100 s
    assert harness.engine.on_tick(1010.0 + 100.0) == []
    [stalled] = harness.engine.on_tick(1010.0 + 101.0)
    assert (stalled.type, stalled.run, stalled.step) == ("stalled", "slow", 100)
    assert harness.store.runs["slow"].status == "running"
    # vanish: 3 x 100 s of silence while 'busy' wrote later
    assert [i.run for i in harness.engine.on_tick(1010.0 + 300.0)] == ["busy"]  # busy stalls
    [killed] = harness.engine.on_tick(1010.0 + 301.0)
    assert (killed.type, killed.run) == ("killed", "slow")
    assert "vanished mid-run" in killed.message and "other runs kept writing" in killed.message
    assert harness.store.runs["slow"].status == "killed"
    assert harness.store.runs["busy"].status == "running"
    # the killed issue says how long the run was silent: the stall it replaced is withdrawn
    assert [(i.type, i.run) for i in harness.store.issues] == [("stalled", "busy"), ("killed", "slow")]


def test_cadence_sets_the_threshold_when_slower_than_the_floor():
    harness = Harness()
    harness.see("r1")
    harness.feed("r1", epoch_curve(20, 0.0, 60.0), 1, now=0.0)  # a record a minute
    run = harness.store.runs["r1"]
    last = run.last_update  # 1200
    assert harness.engine.finalize(last + 599.0) == []  # threshold 10 x 60 s = 600 s
    issues = harness.engine.finalize(last + 601.0)
    assert [i.type for i in issues] == ["stalled"]  # nobody else moved on: not vanished


def test_silence_is_measured_from_record_times_not_ingest_times():
    harness = Harness()
    harness.see("dead")
    harness.see("alive")
    # Everything ingested at once (a report), but the records tell the story.
    harness.feed("dead", epoch_curve(10, 0.0, 10.0), now=5.0)  # last record at t=100
    harness.feed("alive", epoch_curve(400, 0.0, 10.0), now=5.0)  # last record at t=4000
    issues = harness.engine.finalize(4000.0)
    assert sorted((i.type, i.run) for i in issues) == [("killed", "dead")]
    assert harness.store.runs["dead"].status == "killed"
    assert harness.store.runs["alive"].status == "running"


def test_a_vanished_run_without_records_becomes_failed():
    harness = Harness()
    harness.see("empty")
    harness.see("alive")
    harness.store.runs["empty"].last_update = 0.0  # started_at known, nothing logged since
    harness.feed("alive", epoch_curve(400, 0.0, 10.0))
    harness.engine.finalize(harness.store.newest_update())
    assert harness.store.runs["empty"].status == "failed"
    assert harness.store.has_issue("empty", "killed")


# -- short_run --------------------------------------------------------------------------------


def test_short_run_from_config():
    harness = Harness()
    harness.see("short", {"optim": {"lr": 0.1}, "trainer": {"epochs": 10}})
    harness.see("full", {"trainer": {"epochs": 10}})
    harness.feed("short", epoch_curve(3))
    harness.feed("full", epoch_curve(10))
    [issue] = harness.end("short", "finished")
    assert harness.end("full", "finished") == []
    assert issue.type == "short_run" and "3 of 10 epochs" in issue.message
    assert (issue.step, issue.epoch) == (2, 2)


def test_short_run_from_the_sweep_median_once_enough_runs_finished():
    harness = Harness()
    for run, epochs in (("a", 50), ("tiny", 5), ("b", 48)):
        harness.see(run)
        harness.feed(run, epoch_curve(epochs))
        assert harness.end(run, "finished") == []  # fewer than 3 finished runs: no median
    harness.see("c")
    harness.feed("c", epoch_curve(50))
    harness.end("c", "finished")
    [issue] = harness.engine.finalize(harness.store.newest_update())
    assert (issue.type, issue.run) == ("short_run", "tiny")
    assert "median 49" in issue.message


def test_crashed_runs_are_not_short_runs():
    harness = Harness()
    harness.see("r1", {"epochs": 100})
    harness.feed("r1", epoch_curve(2))
    issues = harness.end("r1", None, VALUE_TRACEBACK)
    assert [i.type for i in issues] == ["crashed"]


# -- crash_loop -------------------------------------------------------------------------------


def run_sweep(harness: Harness, outcomes: list[tuple[str, int]]) -> None:
    """Runs of a 20-epoch config ending one after another: (how it ended, epochs done)."""
    for index, (outcome, epochs) in enumerate(outcomes):
        run = f"run{index:02d}"
        harness.see(run, {"epochs": 20, "lr": 10.0**-index})
        harness.feed(run, epoch_curve(epochs, start_time=1000.0 * index))
        end_time = 1000.0 * index + 900.0
        if outcome == "finished":
            harness.end(run, "finished", time=end_time)
        else:
            error = OOM_TRACEBACK if outcome == "oom" else VALUE_TRACEBACK
            harness.end(run, None, error, time=end_time)


def test_crash_loop_fires_when_most_recent_runs_die_early():
    harness = Harness()
    early = [("crashed", 2), ("oom", 1), ("crashed", 2), ("crashed", 3)]
    run_sweep(harness, [("finished", 20), ("finished", 20), *early, *early])
    [issue] = harness.store.sweep_issues()
    assert issue.type == "crash_loop" and issue.run == SWEEP_RUN_ID
    assert issue.message == "8 of the last 10 runs died early (median 2 epochs)"


def test_no_crash_loop_below_the_fraction_or_before_a_full_window():
    harness = Harness()
    run_sweep(harness, [("crashed", 2)] * 9)  # all dead, but the window is 10
    assert harness.store.sweep_issues() == []
    late = Harness()
    # 6 early deaths + 2 late crashes (at 18 of 20 epochs) + 2 finished: 6/10 < 0.7
    run_sweep(late, [("crashed", 2)] * 6 + [("crashed", 18)] * 2 + [("finished", 20)] * 2)
    assert late.store.sweep_issues() == []


def test_crash_loop_window_setting_is_honoured():
    harness = Harness(Settings(crash_loop_window=4, crash_loop_fraction=0.75))
    run_sweep(harness, [("finished", 20), ("crashed", 1), ("crashed", 1), ("crashed", 1)])
    assert [i.message for i in harness.store.sweep_issues()] == [
        "3 of the last 4 runs died early (median 1 epoch)"
    ]
