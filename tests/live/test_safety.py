"""Hostile run names, params and logs are shown as literal, harmless text."""

from __future__ import annotations

import json
import math
from pathlib import Path

from live.helpers import append_points, healthy, wait_for, write_run
from rich.text import Text

from sweeptui.app.app import SweepApp, issue_toast
from sweeptui.app.format import safe
from sweeptui.app.ingest import IngestThread, IngestTiming
from sweeptui.app.screens import RunDetailScreen
from sweeptui.app.widgets import IssueFeed, RunsTable
from sweeptui.issues import Issue
from sweeptui.sweep import Sweep

MARKUP_NAME = "[red]evil[/][@click=app.quit]x"
ESCAPE_NAME = "t\x1b]0;pwned\x07itle\u202egnp"
FAST = IngestTiming(min_interval=0.05, heartbeat=0.5, tick=0.5, rescan=1.0, analysis=0.5, new_path_rescan=0.2)


def test_safe_keeps_markup_literal_and_drops_escapes() -> None:
    assert safe(MARKUP_NAME).plain == MARKUP_NAME
    assert safe(MARKUP_NAME).spans == []
    cleaned = safe(ESCAPE_NAME).plain
    assert "\x1b" not in cleaned and "\u202e" not in cleaned and "\x07" not in cleaned
    assert cleaned == "titlegnp"


def test_toast_text_is_one_clean_line() -> None:
    issue = Issue("crashed", "r", "boom\x1b[2J\nnext [b]line[/b]")
    assert issue_toast(issue, MARKUP_NAME) == f"{MARKUP_NAME}: boom next [b]line[/b]"


async def test_hostile_names_params_and_logs_in_the_app(tmp_path: Path) -> None:
    run = write_run(tmp_path, "hostile", {"note": "[bold]x[/bold]\x1b[31m", "lr": 0.1}, healthy(3))
    write_run(tmp_path, "other", {"note": "plain", "lr": 0.2, "name": "plain"}, healthy(3))
    (run / "config.json").write_text(json.dumps({"note": "[bold]x[/bold]\x1b[31m", "lr": 0.1,
                                                 "name": MARKUP_NAME}))  # fmt: skip
    (run / "error.txt").write_text(
        "Traceback (most recent call last):\n  File \"t.py\", line 1\n"
        f"ValueError: {MARKUP_NAME} \x1b]8;;http://x\x07link\x1b]8;;\x07 [/]\n"
    )
    append_points(run, [math.nan])
    app = SweepApp(IngestThread(Sweep(tmp_path), lambda item: None, timing=FAST))
    async with app.run_test(size=(160, 48)) as pilot:
        table = app.screen.query_one(RunsTable)
        await wait_for(pilot, lambda: table.row_count == 2, what="both runs")
        await wait_for(pilot, lambda: app.snapshot.issue_count >= 1, what="issues")
        params = table.get_cell("hostile", "params")
        assert isinstance(params, Text)
        assert "name=[red]evil" in params.plain and "\x1b" not in params.plain
        assert all(span.style in ("", "dim") for span in params.spans)

        table.move_cursor(row=table.get_row_index("hostile"))
        await pilot.press("enter")
        def detail_shown() -> bool:
            return isinstance(app.screen, RunDetailScreen) and app.screen.detail is not None

        await wait_for(pilot, detail_shown, what="the detail")
        error = app.screen.query_one("#detail-error").render().plain
        assert f"ValueError: {MARKUP_NAME}" in error  # markup shown literally
        assert "link" in error and "\x1b" not in error and "\x07" not in error
        await pilot.press("escape")
        feed = app.screen.query_one(IssueFeed).render().plain
        assert "hostile" in feed and "\x1b" not in feed
    assert app.return_code in (None, 0)  # the [@click=app.quit] text never quit the app
