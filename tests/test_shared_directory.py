"""A sweep spread over machines: another process appends under the root while we poll."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from sweeptui.sweep import Sweep

WRITER = r'''
import json, sys, time
from pathlib import Path
root = Path(sys.argv[1])
experiment = root / "exp"
journal = root / "optuna" / "journal.log"
ops = [{"op_code": 0, "worker_id": "w", "study_name": "s", "directions": [1]}]
for trial in range(3):
    ops.append({"op_code": 4, "worker_id": "w", "study_id": 0, "datetime_start": None,
                "state": 0})
for step in range(1, 41):
    for trial in range(3):
        name = f"train_{trial:05d}_{trial}_x={trial}_2024-01-01_00-00-00"
        directory = experiment / name
        if step == 1:
            directory.mkdir(parents=True)
            (directory / "params.json").write_text(json.dumps({"x": trial}))
        with open(directory / "result.json", "a") as handle:
            handle.write(json.dumps({"loss": trial + 1.0 / step, "training_iteration": step,
                                     "timestamp": time.time()}) + "\n")
        ops.append({"op_code": 7, "worker_id": "w", "trial_id": trial, "step": step,
                    "intermediate_value": trial + 1.0 / step})
    with open(journal, "a") as handle:  # one write per batch, as each worker flushes
        handle.write("".join(json.dumps(op) + "\n" for op in ops))
    ops = []
    time.sleep(0.05)
'''


def test_records_from_another_process_arrive_exactly_once(tmp_path: Path) -> None:
    (tmp_path / "exp").mkdir()
    (tmp_path / "exp" / "experiment_state-2024-01-01_00-00-00.json").write_text(
        json.dumps({"trial_data": [], "runner_data": {}})
    )
    (tmp_path / "optuna").mkdir()
    (tmp_path / "optuna" / "journal.log").write_text(
        json.dumps({"op_code": 3, "worker_id": "w", "study_id": 9, "system_attr": {}}) + "\n"
    )
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)])
    sweep = Sweep(tmp_path)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            sweep.rescan()
            sweep.poll()
            if writer.poll() is not None:
                break
            time.sleep(0.02)
    finally:
        writer.wait(timeout=30)
    assert writer.returncode == 0
    sweep.rescan()
    sweep.poll()
    trials = [run for run in sweep.store if run.source == "ray-tune"]
    studies = [run for run in sweep.store if run.source == "optuna"]
    assert len(trials) == 3 and len(studies) == 3
    for run in trials + studies:
        loss = run.metrics.get("loss") or run.metrics["value"]
        assert list(loss.steps) == [float(step) for step in range(1, 41)], run.id
    assert all(run.records == 40 for run in trials)
