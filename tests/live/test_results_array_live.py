"""The live app on a results array rewritten while it watches: an odd element is one
reading warning in the header and the warnings list, however often the file is rewritten."""

from __future__ import annotations

import json
from pathlib import Path

from live.helpers import wait_for

from sweeptui.app.app import SweepApp
from sweeptui.app.ingest import IngestThread, IngestTiming
from sweeptui.app.widgets import SweepHeader
from sweeptui.sweep import Sweep

FAST = IngestTiming(min_interval=0.05, heartbeat=0.2, tick=0.2, rescan=0.5, analysis=0.5, new_path_rescan=0.2)


def experiment(name: str, losses: list) -> dict:
    return {"name": name, "config": {"lr": 0.1, "epochs": 3}, "val_losses": losses}


async def test_an_odd_loss_warns_once_across_rewrites(tmp_path: Path) -> None:
    results = tmp_path / "sweep_results_intermediate.json"
    results.write_text(json.dumps([experiment("exp_1", [0.9, True])]))
    ingest = IngestThread(Sweep(tmp_path), lambda item: None, timing=FAST)
    app = SweepApp(ingest)
    said = "exp_1: val_losses[1] is true, not a number; skipped"
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.total == 1, what="the run")
        await wait_for(pilot, lambda: any(said in line for line in app.snapshot.warnings), what="the warning")
        for epochs in range(3, 6):  # the script rewrites the whole file after each experiment
            records = [experiment("exp_1", [0.9, True, 0.7]), experiment(f"exp_{epochs}", [1.0])]
            results.write_text(json.dumps(records))
            await wait_for(pilot, lambda e=epochs: f"exp_{e}" in ingest.sweep.store.runs, what="the rewrite")
        await pilot.pause(0.6)  # a rescan reads the file again
        assert app.snapshot.warning_count == 1
        assert " 1 warning" in str(app.screen_stack[0].query_one(SweepHeader).render())
        assert ingest.sweep.store.runs["exp_1"].metrics["val_loss"].steps.tolist() == [1.0, 3.0]
