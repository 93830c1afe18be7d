"""The demo: a simulated sweep written in real time while the app watches it."""

from __future__ import annotations

import threading
from pathlib import Path

from live.helpers import wait_for

from sweeptui.app.app import SweepApp
from sweeptui.app.ingest import IngestThread, IngestTiming
from sweeptui.app.run import _drive
from sweeptui.app.widgets import ParamRiskPanel, Recommendations, RunsTable
from sweeptui.simulate import LiveSimulator, demo_plans
from sweeptui.sweep import Sweep


async def test_demo_sweep_goes_bad_in_every_way_on_screen(tmp_path: Path) -> None:
    simulator = LiveSimulator(tmp_path, demo_plans(epochs=20, interval=1.0))
    stop = threading.Event()
    writer = threading.Thread(target=_drive, args=(simulator, stop, 40.0, 0.05), daemon=True)
    timing = IngestTiming(min_interval=0.05, heartbeat=0.3, tick=0.3, rescan=0.5, new_path_rescan=0.1)
    app = SweepApp(IngestThread(Sweep(tmp_path), lambda item: None, timing=timing))
    async with app.run_test(size=(120, 40)) as pilot:
        writer.start()
        try:
            table = app.screen.query_one(RunsTable)
            await wait_for(pilot, lambda: table.row_count == 36, 60, "all demo runs")
            wanted = {"nan_or_inf_metric", "divergence", "crashed", "oom", "killed"}

            def found() -> set[str]:
                return {issue.type for issue in app.snapshot.issues}

            await wait_for(pilot, lambda: wanted <= found(), 20, f"the failures ({found()})")

            def advice() -> str:
                return str(app.screen.query_one(Recommendations).render())

            planted = ("Avoid lr >= 0.01", "Avoid batch_size >= 128")
            await wait_for(pilot, lambda: all(t in advice() for t in planted), 30, "the planted causes")
            risk = str(app.screen.query_one(ParamRiskPanel).render())
            assert "batch_size" in risk and "lr" in risk
        finally:
            stop.set()
            writer.join(10)
    assert app.snapshot.count("finished") >= 3
