"""Tool layouts that can lack an end marker, judged by the lifecycle rules on re-timed copies
of the committed fixtures (made by the real tools): a live copy, and the same files as an
archive (Hydra's as an archive only: its records carry their own times, days old). The
TensorBoard, W&B and MLflow fixtures, older than the abandon limit, are checked as archives
in their own test files."""

from __future__ import annotations

import os
import time
from pathlib import Path

from sweeptui.store import Run
from sweeptui.sweep import Sweep
from tests.lifecycle_dirs import MONTH, shift_tree
from tests.tool_fixtures import copy_fixture

NOW = time.time() + 3600
"""The fixtures' records were stamped when they were made: judge after all of them."""


def retime_all(root: Path, stamp: float) -> None:
    for file in root.rglob("*"):
        if file.is_file():
            os.utime(file, (stamp, stamp))


def load_at(root: Path, now: float) -> Sweep:
    sweep = Sweep(root)
    sweep.load(now=now)
    return sweep


def strip_ends(root: Path) -> None:
    """Remove what a launcher adds (captured output, exit codes): a bare logger's files."""
    for file in list(root.rglob("*")):
        if file.name in ("exit_code", "stderr.log"):
            file.unlink()


def test_lightning_csv_without_end_evidence(tmp_path: Path) -> None:
    root = copy_fixture("lightning", tmp_path)
    strip_ends(root)
    retime_all(root, NOW - 30)
    fresh = load_at(root, NOW)
    assert {run.status for run in fresh.store} == {"running"}
    complete = {run.name for run in fresh.store if run.fraction_done() == 1.0}
    assert complete, "the fixture must hold runs that logged all their epochs"
    # the CSV carries no times: the cadence is unknown and the stall threshold 600 s
    later = load_at(root, NOW - 30 + 601)
    for run in later.store:
        if run.name in complete:
            assert run.status == "finished", run.name
            assert not {"stalled", "killed"} & set(run.issue_types), run.name
        else:
            assert run.status == "running" and run.verdict.stalled, run.name
    shift_tree(root, -21 * MONTH)
    archive = load_at(root, NOW)
    assert "running" not in {run.status for run in archive.store}
    for run in archive.store:
        expected = "finished" if run.name in complete else "killed"
        assert run.status == expected, run.name
        assert "no file written for 21 months" in run.status_reason


def test_optuna_running_and_waiting_trials(tmp_path: Path) -> None:
    root = copy_fixture("optuna", tmp_path)
    retime_all(root, NOW - 30)
    live = {run.id: run for run in load_at(root, NOW).store}
    left = [run for run in live.values() if run.params.get("kind") == "killed"]
    waiting = [run for run in live.values() if not run.params]
    assert len(left) == 2 and len(waiting) >= 2  # journal and SQLite
    assert all(run.status == "running" for run in left + waiting)
    shift_tree(root, -30 * 86400)  # the study's storage untouched for a month
    archive = {run.id: run for run in load_at(root, NOW).store}
    for run in left:
        assert archive[run.id].status == "killed"
        assert "no file written for 30.0 d" in archive[run.id].status_reason
    for run in waiting:
        assert archive[run.id].status == "failed"
        assert archive[run.id].status_reason.startswith("never logged a metric")
    assert "running" not in {run.status for run in archive.values()}


def hydra_by_kind(root: Path, now: float) -> dict[str, Run]:
    return {run.params["kind"]: run for run in load_at(root, now).store}


def test_hydra_archive_has_nothing_running(tmp_path: Path) -> None:
    root = copy_fixture("hydra", tmp_path)
    retime_all(root, NOW - 4 * MONTH)
    runs = hydra_by_kind(root, NOW)
    assert "running" not in {run.status for run in runs.values()}
    for kind in ("healthy", "nanloss", "early", "overfit"):  # each wrote its end line
        assert runs[kind].status == "finished", kind
    assert (runs["crash"].status, runs["killed"].status) == ("crashed", "killed")


def test_hydra_archive_without_end_evidence(tmp_path: Path) -> None:
    """No end lines in the logs, no driver stderr: the config's ``epochs`` (8) decides."""
    root = copy_fixture("hydra", tmp_path)
    for log in root.rglob("launcher.err"):
        log.unlink()
    for log in root.rglob("metrics.jsonl"):
        records = [line for line in log.read_text().splitlines() if '"status"' not in line]
        log.write_text("\n".join(records) + "\n")
    retime_all(root, NOW - 4 * MONTH)
    runs = hydra_by_kind(root, NOW)
    assert "running" not in {run.status for run in runs.values()}
    for kind in ("healthy", "nanloss", "overfit"):
        assert runs[kind].status == "finished", kind
        assert runs[kind].status_reason.startswith("reached 8 of 8 epochs (epochs=8 in its config)")
    for kind, logged in (("crash", 2), ("early", 3), ("killed", 3)):
        assert runs[kind].status == "killed", kind
        assert f"{logged} of 8 epochs logged" in runs[kind].status_reason, kind
