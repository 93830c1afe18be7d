"""Statuses in the live app: the same as the report on a static directory, and a live sweep
whose complete runs finish (not stall) while the one cut off is killed."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from live.helpers import wait_for

from sweeptui.app.app import SweepApp
from sweeptui.app.ingest import IngestThread, IngestTiming
from sweeptui.app.screens import RunDetailScreen
from sweeptui.app.widgets import RunsTable
from sweeptui.settings import Settings
from sweeptui.sweep import Sweep
from tests.lifecycle_dirs import MONTH, NOW, Spec, parallel_sweep, sequential_sweep, write_spec

FAST = IngestTiming(min_interval=0.05, heartbeat=0.2, tick=0.2, rescan=1.0, analysis=0.5, new_path_rescan=0.2)
OOM = "Traceback (most recent call last):\ntorch.OutOfMemoryError: CUDA out of memory.\n"


def mixed_directory(root: Path) -> None:
    """A static directory with a bit of everything: done, cut off, crashed, never logged, archived."""
    sequential_sweep(root / "recent", 6, end=NOW - 900, cut={2: 4})
    parallel_sweep(root / "parallel", 4, end=NOW - 120, cut={1: 9})
    sequential_sweep(root / "archive", 5, end=NOW - 21 * MONTH, cut={0: 3})
    write_spec(root / "recent", Spec("crash", 6, NOW - 5000, error=OOM))
    write_spec(root / "recent", Spec("never", 0, NOW - 7200))
    write_spec(root / "recent", Spec("fresh", 7, NOW - 30, interval=2.0))


def app_statuses(app: SweepApp) -> dict[str, str]:
    return {row.id: row.status for row in app.snapshot.rows}


async def test_watch_and_report_agree_on_a_static_directory(tmp_path: Path) -> None:
    mixed_directory(tmp_path)
    report = Sweep(tmp_path)
    report.load(now=NOW)
    expected = {run.id: run.status for run in report.store}
    assert set(expected.values()) == {"running", "finished", "killed", "crashed", "failed"}
    ingest = IngestThread(Sweep(tmp_path), lambda item: None, timing=FAST, clock=lambda: NOW)
    app = SweepApp(ingest)
    async with app.run_test(size=(140, 50)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.total == len(expected),
                       what="every run")  # fmt: skip
        await pilot.pause(0.5)  # a few ticks: nothing may drift
        assert app_statuses(app) == expected
        table = app.screen_stack[0].query_one(RunsTable)
        assert table.get_cell("recent/run-002", "status").plain.startswith("☠")
        table.focus()
        row = [row.id for row in app.snapshot.rows].index("recent/run-002")
        table.move_cursor(row=row)
        await pilot.press("enter")
        shown = lambda: isinstance(app.screen, RunDetailScreen) and app.screen.detail is not None  # noqa: E731
        await wait_for(pilot, shown, what="the run detail")
        assert app.screen.detail.status_reason == report.store.runs["recent/run-002"].status_reason
        assert "4 of 20 epochs logged" in app.screen.detail.status_reason
        shown_text = str(app.screen.query_one("#detail-config").render())
        assert "killed because" in shown_text and "4 of 20 epochs logged" in shown_text


def write_live(run: Path, epoch: int) -> None:
    with (run / "metrics.jsonl").open("a") as log:
        log.write(json.dumps({"epoch": epoch, "val_loss": 1.0 / (epoch + 1), "time": time.time()}) + "\n")


async def test_a_live_sweep_finishes_complete_runs_and_kills_the_one_cut_off(tmp_path: Path) -> None:
    """Three runs log every 0.1 s; one stops at epoch 4 of 12, the others complete and stop.

    Thresholds scaled down (floor 0.5 s) so the test takes seconds, not minutes.
    """
    runs = []
    for name in ("a", "b", "cut"):
        run = tmp_path / name
        run.mkdir()
        (run / "config.json").write_text(json.dumps({"epochs": 12, "name": name}))
        runs.append(run)
    settings = Settings(stall_floor_seconds=0.5, stall_factor=3.0, stall_unknown_cadence_seconds=0.5)
    ingest = IngestThread(Sweep(tmp_path, settings), lambda item: None, timing=FAST)
    app = SweepApp(ingest)
    stop = threading.Event()

    def train() -> None:
        for epoch in range(12):
            for run in runs:
                if run.name != "cut" or epoch < 4:
                    write_live(run, epoch)
            if stop.wait(0.1):
                return

    async with app.run_test(size=(140, 40)) as pilot:
        writer = threading.Thread(target=train, daemon=True)
        writer.start()
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.total == 3, what="three runs")
        seen: dict[str, set[str]] = {"a": set(), "b": set(), "cut": set()}

        def settled() -> bool:
            for row in app.snapshot.rows:
                seen[row.name].add(row.status)
            return app_statuses(app) == {"a": "finished", "b": "finished", "cut": "killed"}

        await wait_for(pilot, settled, timeout=20, what="complete runs finished, the cut one killed")
        stop.set()
        writer.join()
        assert seen["a"] <= {"running", "finished"} and seen["b"] <= {"running", "finished"}
        issues = {(issue.run, issue.type) for issue in app.snapshot.issues}
        assert issues == {("cut", "killed")}  # the stall on the way was withdrawn by the kill
        # the report on the same files, judged now, agrees
        report = Sweep(tmp_path, settings)
        report.load()
        assert {run.id: run.status for run in report.store} == app_statuses(app)
