"""The live app driven by the pilot: real files written while it watches."""

from __future__ import annotations

import json
import math
from pathlib import Path

from live.helpers import append_points, healthy, wait_for, write_run
from textual.notifications import Notification, Notify

from sweeptui.app.app import SweepApp
from sweeptui.app.ingest import IngestThread, IngestTiming
from sweeptui.app.screens import HelpScreen, RunDetailScreen
from sweeptui.app.widgets import IssueFeed, RunsTable, SweepHeader
from sweeptui.sweep import Sweep

FAST = IngestTiming(min_interval=0.05, heartbeat=0.5, tick=0.5, rescan=1.0, analysis=0.5, new_path_rescan=0.2)


def make_app(root: Path, **kwargs) -> SweepApp:
    export = kwargs.pop("export", None)
    ingest = IngestThread(Sweep(root), lambda item: None, timing=FAST, export_target=export)
    return SweepApp(ingest, **kwargs)


def table(app: SweepApp) -> RunsTable:
    return app.screen_stack[0].query_one(RunsTable)


def feed_text(app: SweepApp) -> str:
    return str(app.screen_stack[0].query_one(IssueFeed).render())


def cell(app: SweepApp, run_id: str, column: str) -> str:
    return table(app).get_cell(run_id, column).plain


async def test_table_and_feed_follow_the_files(tmp_path: Path) -> None:
    write_run(tmp_path, "lr_small", {"lr": 0.001, "epochs": 20}, healthy(3))
    write_run(tmp_path, "lr_big", {"lr": 0.1, "epochs": 20}, healthy(3))
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: table(app).row_count == 2, what="the two runs")
        assert cell(app, "lr_small", "step") == "ep 2"

        append_points(tmp_path / "lr_small", healthy(4)[1:])
        await wait_for(pilot, lambda: cell(app, "lr_small", "step") == "ep 5", what="appended points")

        write_run(tmp_path, "lr_huge", {"lr": 1.0, "epochs": 20}, healthy(2))
        await wait_for(pilot, lambda: table(app).row_count == 3, what="a new run directory")

        append_points(tmp_path / "lr_big", [math.nan])
        await wait_for(pilot, lambda: "nan_or_inf_metric" in feed_text(app), what="the NaN issue")
        assert "lr_big" in feed_text(app)
        assert "NaN" in cell(app, "lr_big", "issues")
        assert app.snapshot.issue_count >= 1
        header = str(app.screen_stack[0].query_one(SweepHeader).render())
        assert "3 runs" in header


async def test_filter_sort_detail_help_pause(tmp_path: Path) -> None:
    for index, lr in enumerate((0.001, 0.01, 0.1)):
        params = {"lr": lr, "optimizer": "adam" if index else "sgd"}
        write_run(tmp_path, f"run_{index}", params, healthy(4 + index))
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: table(app).row_count == 3, what="three runs")
        # below 140 columns the table takes the full width (the first frame may still be wide)
        await wait_for(pilot, lambda: table(app).region.width == 100, what="the narrow layout")
        header = table(app).render_line(0).text.split()  # no header word is cut at 100 columns
        assert header == [column.label for column in table(app).columns if column.label]

        await pilot.press("slash", "s", "g", "d")
        await wait_for(pilot, lambda: table(app).row_count == 1, what="the filter")
        assert table(app).selected_run() == "run_0"
        await pilot.press("enter", "escape")
        await wait_for(pilot, lambda: table(app).row_count == 3, what="the filter cleared")

        await pilot.press("s")
        assert table(app).sort_key != "arrival"

        table(app).focus()
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunDetailScreen), what="the detail screen")
        await wait_for(pilot, lambda: app.screen.detail is not None, what="the run detail")
        assert app.screen.detail.id == table(app).selected_run()
        assert {"train_loss", "val_loss"} <= {c.metric for c in app.screen.detail.curves}
        await pilot.press("escape")
        assert not isinstance(app.screen, RunDetailScreen)

        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")

        await pilot.press("p")
        frozen = cell(app, "run_2", "step")
        append_points(tmp_path / "run_2", healthy(3))
        version = app.snapshot.version
        await wait_for(pilot, lambda: app.snapshot.version != version, what="a snapshot while paused")
        assert cell(app, "run_2", "step") == frozen
        await pilot.press("p")
        assert cell(app, "run_2", "step") != frozen


async def test_export_key_writes_both_formats(tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    write_run(sweep_dir, "only", {"lr": 0.1}, healthy(5))
    out = tmp_path / "out" / "now.md"
    app = make_app(sweep_dir, export=out)
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: table(app).row_count == 1, what="the run")
        await pilot.press("e")
        await wait_for(pilot, lambda: out.exists() and out.with_suffix(".json").exists(), what="the export")
    report = json.loads(out.with_suffix(".json").read_text())
    assert [run["id"] for run in report["runs"]] == ["only"]
    assert "only" in out.read_text()


async def test_toast_for_high_severity_issue(tmp_path: Path) -> None:
    write_run(tmp_path, "goes_nan", {"lr": 1.0}, healthy(3))
    app = make_app(tmp_path)
    toasts: list[Notification] = []

    def record(message) -> None:
        if isinstance(message, Notify):
            toasts.append(message.notification)

    async with app.run_test(notifications=True, message_hook=record) as pilot:
        await wait_for(pilot, lambda: table(app).row_count == 1, what="the run")
        append_points(tmp_path / "goes_nan", [math.inf])
        await wait_for(pilot, lambda: any(t.title == "nan_or_inf_metric" for t in toasts), what="the toast")
    toast = next(t for t in toasts if t.title == "nan_or_inf_metric")
    assert toast.severity == "error"
    assert toast.message.startswith("goes_nan: ")


async def test_ingest_thread_stops_on_exit(tmp_path: Path) -> None:
    write_run(tmp_path, "one", {"lr": 0.1}, healthy(2))
    app = make_app(tmp_path)
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: table(app).row_count == 1, what="the run")
        await pilot.press("q")
    assert not app.ingest.is_alive()


async def test_polling_is_noted_in_the_header_and_still_updates(tmp_path: Path) -> None:
    write_run(tmp_path, "polled", {"lr": 0.1}, healthy(2))
    ingest = IngestThread(Sweep(tmp_path), lambda item: None, poll=0.2, timing=FAST)
    app = SweepApp(ingest)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: table(app).row_count == 1, what="the run")
        header = str(app.screen.query_one(SweepHeader).render())
        assert "polling every 0.2s: --poll" in header
        append_points(tmp_path / "polled", healthy(5)[2:])
        await wait_for(pilot, lambda: cell(app, "polled", "step") == "ep 4", what="points seen by polling")


async def test_issues_found_at_start_are_shown_but_not_alerted(tmp_path: Path) -> None:
    write_run(tmp_path, "was_nan", {"lr": 1.0}, [*healthy(3), math.nan])
    write_run(tmp_path, "fine", {"lr": 0.1}, healthy(3))
    app = make_app(tmp_path)
    toasts: list[Notification] = []

    def record(message) -> None:
        if isinstance(message, Notify):
            toasts.append(message.notification)

    async with app.run_test(notifications=True, message_hook=record) as pilot:
        await wait_for(pilot, lambda: "nan_or_inf_metric" in feed_text(app), what="the old issue in the feed")
        append_points(tmp_path / "fine", [math.inf])
        await wait_for(pilot, lambda: any("fine" in t.message for t in toasts), what="the new issue's toast")
    assert not any("was_nan" in t.message for t in toasts)


async def test_a_burst_of_high_severity_issues_is_one_toast(tmp_path: Path) -> None:
    for index in range(5):
        write_run(tmp_path, f"run_{index}", {"lr": 0.1 * (index + 1)}, healthy(3))
    app = make_app(tmp_path)
    toasts: list[Notification] = []

    def record(message) -> None:
        if isinstance(message, Notify):
            toasts.append(message.notification)

    async with app.run_test(notifications=True, message_hook=record) as pilot:
        await wait_for(pilot, lambda: table(app).row_count == 5, what="the runs")
        for index in range(5):  # written together: one snapshot finds them all
            append_points(tmp_path / f"run_{index}", [math.nan])
        await wait_for(pilot, lambda: app.snapshot.issue_count == 5, what="the five NaN issues")
        await pilot.pause(0.3)
    alerts = [t for t in toasts if t.severity == "error"]
    assert 1 <= len(alerts) <= 2  # one toast per snapshot (the burst may straddle two)
    burst = next(t for t in alerts if t.title.endswith(" high-severity issues"))
    count = int(burst.title.split()[0])
    lines = burst.message.splitlines()
    assert all(line.startswith("run_") and "NaN" in line for line in lines[:3])
    assert len(lines) == min(count, 3) + (count > 3)  # at most three named, the rest counted
    if count > 3:
        assert lines[-1] == f"and {count - 3} more"
