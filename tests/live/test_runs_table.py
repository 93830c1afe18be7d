"""The runs table in the real app: scrolling, cursor keys, clicks, empty states, repaints."""

from __future__ import annotations

from pathlib import Path

from live.helpers import append_points, healthy, wait_for, write_run

from sweeptui.app.app import SweepApp
from sweeptui.app.ingest import IngestThread, IngestTiming
from sweeptui.app.screens import RunDetailScreen
from sweeptui.app.widgets import RunsTable, SweepHeader
from sweeptui.sweep import Sweep

FAST = IngestTiming(min_interval=0.05, heartbeat=0.5, tick=0.5, rescan=0.5, analysis=0.5, new_path_rescan=0.2)


def make_app(root: Path) -> SweepApp:
    return SweepApp(IngestThread(Sweep(root), lambda item: None, timing=FAST))


def line(table: RunsTable, y: int) -> str:
    """Line ``y`` of the table's content as it is drawn."""
    return table.render_line(y).text


async def test_keys_move_the_cursor_and_the_header_stays(tmp_path: Path) -> None:
    for index in range(120):
        write_run(tmp_path, f"run_{index:03d}", {"lr": 0.001 * (1 + index % 3)}, healthy(3))
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.screen.query_one(RunsTable)
        await wait_for(pilot, lambda: table.row_count == 120, what="all runs")
        assert table.selected_run() == "run_000"
        await pilot.press("end")  # at once: the view follows even before the layout settles
        assert table.scroll_offset.y > 0

        header = app.screen.query_one(SweepHeader)  # two lines from the first snapshot on
        await wait_for(pilot, lambda: header.region.height >= 2, what="the header's layout")
        await pilot.press("home")

        await pilot.press("end")
        assert table.selected_run() == "run_119"
        assert table.scroll_offset.y > 0
        assert line(table, 0).split()[:3] == ["status", "run", "params"]  # the header stays on top
        last_line = table.scrollable_content_region.height - 1
        assert "run_119" in line(table, last_line)

        await pilot.press("home", "down", "down")
        assert table.selected_run() == "run_002"
        assert table.scroll_offset.y == 0
        await pilot.press("pagedown")
        page = table.scrollable_content_region.height - 2
        assert table.selected_run() == f"run_{2 + page:03d}"
        assert table.scroll_offset.y == page  # the view moved a page, the cursor kept its line
        assert f"run_{2 + page:03d}" in line(table, 3)


async def test_click_opens_the_run_under_the_pointer(tmp_path: Path) -> None:
    for name in ("alpha", "beta", "gamma"):
        write_run(tmp_path, name, {"lr": 0.01}, healthy(4))
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.screen.query_one(RunsTable)
        await wait_for(pilot, lambda: table.row_count == 3, what="three runs")
        # the sweep header grows from one line to two with the first snapshot, moving the
        # table down: click only once that layout is in place
        header = app.screen.query_one(SweepHeader)
        await wait_for(pilot, lambda: header.region.height >= 2, what="the header's layout")
        third = table.get_row_index("gamma") + 1  # below the header line
        await pilot.click(RunsTable, offset=(10, third + 1))  # +1 for the border
        await wait_for(pilot, lambda: isinstance(app.screen, RunDetailScreen), what="the detail")
        assert app.screen.run_id == "gamma"


async def test_empty_states_say_why_nothing_shows(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.screen.query_one(RunsTable)
        await wait_for(pilot, lambda: app.snapshot is not None, what="the first snapshot")
        assert "waiting for runs" in line(table, 1)

        write_run(tmp_path, "only", {"lr": 0.01}, healthy(3))
        await wait_for(pilot, lambda: table.row_count == 1, what="the run")
        table.set_filter("nothing-like-this", app.snapshot)
        assert table.row_count == 0
        assert "no runs match the filter" in line(table, 1)


async def test_a_new_point_redraws_its_row(tmp_path: Path) -> None:
    write_run(tmp_path, "steady", {"lr": 0.01}, healthy(3))
    write_run(tmp_path, "growing", {"lr": 0.02}, healthy(3))
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.screen.query_one(RunsTable)
        await wait_for(pilot, lambda: table.row_count == 2, what="both runs")
        row = table.get_row_index("growing") + 1
        before = line(table, row)
        assert "ep 2 " in before  # epochs 0, 1, 2 logged
        append_points(tmp_path / "growing", healthy(2, start=0.5))
        await wait_for(pilot, lambda: line(table, row) != before, what="the redrawn row")
        assert "ep 4 " in line(table, row)


async def test_a_sweep_read_before_the_app_starts_is_in_its_first_frame(tmp_path: Path) -> None:
    for index in range(40):
        write_run(tmp_path, f"run_{index:03d}", {"lr": 0.001 * (1 + index % 3)}, healthy(3))
    sweep = Sweep(tmp_path)
    sweep.load()
    ingest = IngestThread(sweep, lambda item: None, timing=FAST)
    app = SweepApp(None, snapshot=ingest.first_snapshot())  # no thread: nothing else can fill it
    async with app.run_test(size=(120, 30)):
        table = app.screen.query_one(RunsTable)
        assert table.row_count == 40
        assert table.border_title.startswith("runs: 40/40")
        assert app.snapshot.analysis.recommendations == ()  # the panels come from the thread
