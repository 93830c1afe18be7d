"""The live app when a run's log is replaced under it: the table shows the new content, the
false divergence the old points and the new would make never appears, and a toast says the
log was re-read."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from live.helpers import wait_for, write_run
from textual.notifications import Notification, Notify

from sweeptui.app.app import SweepApp
from sweeptui.app.ingest import IngestThread, IngestTiming
from sweeptui.app.widgets import IssueFeed, RunsTable
from sweeptui.sweep import Sweep, load_sweep

FAST = IngestTiming(min_interval=0.05, heartbeat=0.2, tick=0.2, rescan=1.0, analysis=0.5, new_path_rescan=0.2)
FALLING = [2.0 * 0.7**step for step in range(10)]
FRESH = [3.0, 2.6, 2.2]
"""A fresh run's first losses: after the old ones they would read as a divergence."""


def fresh_log(start: float) -> str:
    """The new run's records, in the format :func:`write_run` writes."""
    records = [{"step": step, "epoch": step, "train_loss": loss, "val_loss": loss * 1.1,
                "time": start + step} for step, loss in enumerate(FRESH)]  # fmt: skip
    return "".join(json.dumps(record) + "\n" for record in records)


def app_with_toasts(root: Path) -> tuple[SweepApp, list[Notification], Callable[[object], None]]:
    """The app on ``root``, the toasts it shows and the message hook that records them."""
    app = SweepApp(IngestThread(Sweep(root), lambda item: None, timing=FAST))
    toasts: list[Notification] = []

    def record(message: object) -> None:
        if isinstance(message, Notify):
            toasts.append(message.notification)

    return app, toasts, record


def feed_text(app: SweepApp) -> str:
    return str(app.screen_stack[0].query_one(IssueFeed).render())


def cell(app: SweepApp, run_id: str, column: str) -> str:
    return app.screen_stack[0].query_one(RunsTable).get_cell(run_id, column).plain


async def test_a_replaced_log_shows_its_new_content_without_a_false_divergence(tmp_path: Path) -> None:
    write_run(tmp_path, "run_003", {"lr": 0.1, "epochs": 20}, FALLING, start=time.time() - 20)
    write_run(tmp_path, "run_004", {"lr": 0.01, "epochs": 20}, FALLING, start=time.time() - 20)
    app, toasts, record = app_with_toasts(tmp_path)
    async with app.run_test(size=(140, 40), notifications=True, message_hook=record) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.total == 2, what="the runs")
        assert cell(app, "run_003", "step") == "ep 9"
        log = tmp_path / "run_003" / "metrics.jsonl"
        replacement = log.with_name("metrics.jsonl.tmp")
        replacement.write_text(fresh_log(time.time()))
        os.replace(replacement, log)
        await wait_for(pilot, lambda: any(t.title == "log re-read" for t in toasts), what="the toast")
        await wait_for(pilot, lambda: cell(app, "run_003", "step") == "ep 2", what="the new content")
        await pilot.pause(0.6)  # a few ticks and a rescan: nothing may come back
        assert "divergence" not in feed_text(app)
        assert app.snapshot.issue_count == 0
        assert cell(app, "run_004", "step") == "ep 9"  # the other run is untouched
        (toast,) = [t for t in toasts if t.title == "log re-read"]
        assert toast.severity == "warning"
        assert toast.message == ("run_003/metrics.jsonl replaced by a new file: its earlier points "
                                 "dropped, read again from its start")  # fmt: skip
        said = "metrics.jsonl: replaced by a new file; the points read from it before are dropped"
        assert any(said in line for line in app.snapshot.warnings)  # with the reading warnings
        live = app.ingest.sweep.store.runs["run_003"].metrics["train_loss"].values.tolist()
    assert live == FRESH
    report = load_sweep(tmp_path)
    assert report.store.runs["run_003"].metrics["train_loss"].values.tolist() == FRESH
    assert report.store.issues == []


async def test_a_log_truncated_and_rewritten_shows_what_its_new_content_raises(tmp_path: Path) -> None:
    write_run(tmp_path, "run_007", {"lr": 0.3, "epochs": 20}, FALLING, start=time.time() - 20)
    app, toasts, record = app_with_toasts(tmp_path)
    async with app.run_test(size=(140, 40), notifications=True, message_hook=record) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.total == 1, what="the run")
        log = tmp_path / "run_007" / "metrics.jsonl"
        with log.open("r+") as handle:  # the same file, cut and written again
            handle.truncate(0)
            handle.write(fresh_log(time.time()).replace('"train_loss": 2.2', '"train_loss": NaN'))
        await wait_for(pilot, lambda: "nan_or_inf_metric" in feed_text(app), what="the new NaN")
        await wait_for(pilot, lambda: any(t.title == "log re-read" for t in toasts), what="the toast")
        assert cell(app, "run_007", "step") == "ep 2"
        assert "divergence" not in feed_text(app)
        (toast,) = [t for t in toasts if t.title == "log re-read"]
        assert toast.message.startswith("run_007/metrics.jsonl truncated: its earlier points dropped")
