"""``watch`` on a tree where nothing is a run says why in the header, until runs appear."""

from __future__ import annotations

from pathlib import Path

from live.helpers import healthy, wait_for, write_run

from sweeptui.app.app import SweepApp
from sweeptui.app.ingest import IngestThread, IngestTiming
from sweeptui.app.widgets import SweepHeader
from sweeptui.sweep import Sweep

FAST = IngestTiming(min_interval=0.05, heartbeat=0.3, tick=0.5, rescan=0.5, analysis=0.5, new_path_rescan=0.2)


def header(app: SweepApp) -> str:
    return str(app.screen_stack[0].query_one(SweepHeader).render())


async def test_header_says_why_no_run_then_clears(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("sweep started\n")
    app = SweepApp(IngestThread(Sweep(tmp_path), lambda item: None, timing=FAST))
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: "no run found" in header(app), what="the no-run note")
        assert "1 .txt" in header(app), header(app)
        write_run(tmp_path, "first", {"lr": 0.1}, healthy(2))
        await wait_for(pilot, lambda: "no run found" not in header(app), what="the first run")
        assert app.snapshot.total == 1
