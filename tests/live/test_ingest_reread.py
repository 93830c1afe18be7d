"""The ingest thread's periodic rescan reads every run in full: a change no event named is caught."""

from __future__ import annotations

import json
import time
from pathlib import Path

from live.helpers import append_points, healthy, write_run

from sweeptui.app.ingest import IngestThread, IngestTiming
from sweeptui.sweep import Sweep


def test_a_change_without_a_file_event_is_read_by_the_periodic_rescan(tmp_path: Path) -> None:
    run = write_run(tmp_path, "quiet", {"lr": 0.1}, healthy(3))
    snapshots = []
    timing = IngestTiming(min_interval=0.05, heartbeat=0.2, rescan=0.3, new_path_rescan=0.3)
    ingest = IngestThread(Sweep(tmp_path), snapshots.append, watch=False, timing=timing)
    ingest.start()  # no watcher: no file event will ever name the changes below
    try:
        deadline = time.monotonic() + 20
        while not (snapshots and snapshots[-1].total == 1) and time.monotonic() < deadline:
            time.sleep(0.05)
        append_points(run, healthy(2))
        (run / "status.json").write_text(json.dumps({"status": "finished"}))
        while snapshots[-1].count("finished") != 1 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        ingest.stop()
    assert snapshots[-1].count("finished") == 1
    assert ingest.sweep.store.runs["quiet"].records == 5
