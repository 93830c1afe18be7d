"""The main screen's space: the table as tall as its runs, the panels below, `v`, the filter."""

from __future__ import annotations

from pathlib import Path

import pytest
from live.helpers import healthy, wait_for, write_run

from sweeptui.app.app import SweepApp
from sweeptui.app.ingest import IngestThread, IngestTiming
from sweeptui.app.screens.main import MainScreen, table_rows
from sweeptui.app.widgets import RunsTable
from sweeptui.sweep import Sweep

FAST = IngestTiming(min_interval=0.05, heartbeat=0.5, tick=0.5, rescan=1.0, analysis=0.5, new_path_rescan=0.2)


def _app(root: Path) -> SweepApp:
    return SweepApp(IngestThread(Sweep(root), lambda item: None, timing=FAST))


def _sweep(root: Path, runs: int) -> None:
    for index in range(runs):
        params = {"batch_size": [32, 64][index % 2], "learning_rate": [0.001, 0.01][index // 2 % 2]}
        write_run(root, f"run_{index:02d}", params, healthy(3))


def test_table_rows_leave_the_panels_a_third() -> None:
    assert table_rows(5, 37) == 8  # five runs, a header line and two borders
    assert table_rows(500, 37) == 37 - 12  # many runs: the panels keep a third
    assert table_rows(500, 20) == 20 - 7  # short: the panels keep their minimum
    assert table_rows(0, 20) == 4  # the empty table still shows its header and a line


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)], ids=["80x24", "120x40", "200x60"])
async def test_table_takes_what_its_runs_need_and_the_panels_the_rest(tmp_path: Path, size) -> None:
    _sweep(tmp_path, 6)
    app = _app(tmp_path)
    async with app.run_test(size=size) as pilot:
        table = app.screen.query_one(RunsTable)
        await wait_for(pilot, lambda: table.row_count == 6, what="the runs")
        await wait_for(pilot, lambda: table.outer_size.height == 6 + 3, what="the table sized to its runs")
        panels = app.screen.query_one("#panels")
        assert panels.region.y == table.region.bottom
        assert panels.region.bottom == size[1] - 1  # the rest, down to the footer
        risk = app.screen.query_one("#risk-box")
        assert risk.display == (size[0] >= 120)  # narrow terminals leave the risk panel to `v`
        summary = app.screen.query_one("#summary")
        assert summary.display == (size[1] < 32)


async def test_v_shows_each_panel_alone_then_all_of_them(tmp_path: Path) -> None:
    _sweep(tmp_path, 4)
    app = _app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, MainScreen)
        await wait_for(pilot, lambda: screen.query_one(RunsTable).row_count == 4, what="the runs")
        shown = []
        for _ in range(5):
            await pilot.press("v")
            await pilot.pause()
            boxes = ("runs", "feed-box", "recommendations-box", "risk-box")
            visible = [name for name in boxes if screen.query_one(f"#{name}").display
                       and screen.query_one(f"#{name}").region.height > 0]  # fmt: skip
            shown.append((screen.view, visible))
        assert shown == [
            ("runs", ["runs"]),
            ("issues", ["feed-box"]),
            ("recommendations", ["recommendations-box"]),
            ("risk", ["risk-box"]),
            ("all", ["runs", "feed-box", "recommendations-box"]),
        ]
        await pilot.press("v", "v")  # the issues alone take the whole body
        await pilot.pause()
        feed = screen.query_one("#feed-box")
        assert feed.region.y == screen.query_one("#body").region.y and feed.region.bottom == 24 - 1


async def test_filter_matches_what_the_table_shows(tmp_path: Path) -> None:
    _sweep(tmp_path, 4)
    app = _app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.screen.query_one(RunsTable)
        await wait_for(pilot, lambda: table.row_count == 4, what="the runs")
        assert "bs=64" in table.get_cell("run_01", "params").plain  # compact at 80 columns
        for text, wanted in (("bs=64", 2), ("batch_size=64", 2), ("lr=0.01", 2), ("bs=64 lr=0.01", 1)):
            table.set_filter(text, app.snapshot)
            assert table.row_count == wanted, text


async def test_a_panel_with_something_to_show_gets_more_room(tmp_path: Path) -> None:
    import math

    from live.helpers import append_points

    _sweep(tmp_path, 4)
    app = _app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.query_one(RunsTable).row_count == 4, what="the runs")
        feed, advice = screen.query_one("#feed-box"), screen.query_one("#recommendations-box")
        assert abs(feed.outer_size.width - advice.outer_size.width) <= 1  # both empty: alike
        append_points(tmp_path / "run_00", [math.nan])
        await wait_for(pilot, lambda: app.snapshot.issue_count == 1, what="the NaN issue")
        await pilot.pause()
        assert feed.outer_size.width > 1.8 * advice.outer_size.width  # the feed has news: 2fr to 1fr
