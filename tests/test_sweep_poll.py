"""Sweep.poll reads only the runs whose files changed, however the paths are spelled."""

from __future__ import annotations

import json
import os

from sweeptui.sweep import Sweep


def _write_run(root, name, steps):
    run = root / name
    run.mkdir(parents=True, exist_ok=True)
    (run / "config.json").write_text(json.dumps({"epochs": 10}))
    with open(run / "metrics.jsonl", "a") as log:
        for step in steps:
            log.write(json.dumps({"step": step, "loss": 1.0 / (step + 1)}) + "\n")


def test_poll_by_changed_path_reads_just_that_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write_run(tmp_path / "sweep", "a", [0, 1])
    _write_run(tmp_path / "sweep", "b", [0, 1])
    sweep = Sweep("sweep")  # a relative root, as typed on the command line
    sweep.rescan()
    _write_run(tmp_path / "sweep", "a", [2])
    _write_run(tmp_path / "sweep", "b", [2])
    result = sweep.poll([os.path.join("sweep", "a", "metrics.jsonl")])  # a plain string
    assert result.changed_runs == {"a"}
    assert (sweep.store.runs["a"].records, sweep.store.runs["b"].records) == (3, 2)
    assert sweep.poll(["sweep/b/./metrics.jsonl"]).changed_runs == {"b"}  # normalised
    assert sweep.poll(["elsewhere/metrics.jsonl"]).events == 0


def test_a_failure_applying_one_runs_events_keeps_the_other_runs(tmp_path, monkeypatch):
    """Events are read for a group of runs, then applied: one run's failure must not
    drop the events already read for the others (their offsets have moved on)."""
    for name in ("a", "b", "c"):
        _write_run(tmp_path, name, [0, 1])
    sweep = Sweep(tmp_path)
    sweep.rescan()
    for name in ("a", "b", "c"):
        _write_run(tmp_path, name, [2, 3])
    healthy_on_metrics = sweep.detectors.on_metrics

    def fails_for_b(run, batch):  # an injected fault: a detector bug on one run
        if run.id == "b":
            raise RuntimeError("detector bug")
        return healthy_on_metrics(run, batch)

    monkeypatch.setattr(sweep.detectors, "on_metrics", fails_for_b)
    result = sweep.poll([tmp_path / name / "metrics.jsonl" for name in ("a", "b", "c")])
    assert (sweep.store.runs["a"].records, sweep.store.runs["c"].records) == (4, 4)
    assert any("applying events failed" in w.message and w.path == "b" for w in result.warnings)
