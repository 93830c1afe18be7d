"""Optuna storages: the committed real journal and SQLite files read by the optuna source."""

from __future__ import annotations

import json
import math
import os
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from sweeptui.sources.optuna import decode_param
from sweeptui.sweep import Sweep
from tests.tool_fixtures import copy_fixture, load

KINDS = ["healthy", "nan", "crash", "pruned", "overfit", "killed"]


def by_kind(sweep: Sweep, storage: str) -> dict[str, object]:
    runs = [run for run in sweep.store if f"{storage}/tiny/" in run.id]
    return {run.params.get("kind", "waiting"): run for run in runs}


def journal_series(path: Path) -> dict[int, list[float]]:
    """Intermediate values per trial id, straight from the journal with the stdlib."""
    series: dict[int, list[float]] = {}
    for line in path.read_text().splitlines():
        op = json.loads(line)
        if op["op_code"] == 7:
            series.setdefault(op["trial_id"], []).append(float(op["intermediate_value"]))
    return series


@pytest.mark.parametrize("storage", ["journal/optuna_journal.log", "rdb/study.db"])
def test_trial_states_params_and_values(tmp_path: Path, storage: str) -> None:
    copy_fixture("optuna", tmp_path)
    sweep = load(tmp_path)
    runs = by_kind(sweep, storage)
    assert set(runs) == {*KINDS, "waiting"}
    assert {run.source for run in runs.values()} == {"optuna"}
    assert runs["healthy"].status == "finished" and runs["overfit"].status == "finished"
    assert runs["pruned"].status == "finished" and runs["pruned"].summary["pruned"] == 1.0
    assert runs["pruned"].failure is None and runs["pruned"].issue_types == []  # pruning is deliberate
    assert runs["crash"].status == "crashed" and "crashed" in runs["crash"].issue_types
    assert runs["killed"].status == "running" and runs["waiting"].status == "running"
    assert runs["healthy"].params == {"kind": "healthy", "lr": 0.01, "layers": 2}
    assert isinstance(runs["healthy"].params["layers"], int)
    assert runs["healthy"].name.startswith("tiny#")
    healthy = runs["healthy"].metrics["val_loss"]
    assert list(healthy.steps) == [float(step) for step in range(1, 9)]
    assert runs["healthy"].summary["val_loss"] == healthy.values[-1]
    nan_values = runs["nan"].metrics["val_loss"].values
    assert math.isnan(nan_values[-1]) and all(map(math.isfinite, nan_values[:-1]))
    assert "nan_or_inf_metric" in runs["nan"].issue_types


def test_journal_and_database_agree_and_match_the_raw_journal(tmp_path: Path) -> None:
    root = copy_fixture("optuna", tmp_path)
    sweep = load(tmp_path)
    journal, rdb = by_kind(sweep, "optuna_journal.log"), by_kind(sweep, "study.db")
    raw = journal_series(root / "journal" / "optuna_journal.log")
    for kind in KINDS:
        mine = list(journal[kind].metrics["val_loss"].values)
        other = list(rdb[kind].metrics["val_loss"].values)
        number = int(journal[kind].id.rsplit("/", 1)[1])
        assert len(mine) == len(other) == len(raw[number])
        for a, b, c in zip(mine, other, raw[number], strict=True):
            assert (a == b == c) or (math.isnan(a) and math.isnan(b) and math.isnan(c))
        assert journal[kind].status == rdb[kind].status


def test_second_study_in_the_database_is_kept_apart(tmp_path: Path) -> None:
    copy_fixture("optuna", tmp_path)
    sweep = load(tmp_path)
    other = [run for run in sweep.store if "/other/" in run.id]
    assert len(other) == 2
    assert all(set(run.params) == {"x"} and "value" in run.summary for run in other)


def test_journal_is_tailed_incrementally(tmp_path: Path) -> None:
    source = copy_fixture("optuna", tmp_path / "full") / "journal" / "optuna_journal.log"
    lines = source.read_text().splitlines(keepends=True)
    live = tmp_path / "live" / "optuna_journal.log"
    live.parent.mkdir()
    live.write_text("".join(lines[:20]) + lines[20][:15])
    sweep = Sweep(tmp_path / "live")
    sweep.rescan()
    with open(live, "a") as handle:
        handle.write(lines[20][15:] + "".join(lines[21:]))
    sweep.poll()
    reference = load(tmp_path / "full")
    for run in reference.store:
        if "optuna_journal.log" not in run.id:
            continue
        twin = sweep.store.runs["optuna_journal.log" + run.id.split("optuna_journal.log")[1]]
        assert twin.status == run.status and twin.params == run.params
        for name, series in run.metrics.items():
            assert len(twin.metrics[name]) == len(series)


def test_a_locked_database_warns_and_is_read_once_released(tmp_path: Path) -> None:
    root = copy_fixture("optuna", tmp_path)
    database = root / "rdb" / "study.db"
    writer = sqlite3.connect(database, timeout=0.1)
    writer.execute("BEGIN EXCLUSIVE")
    sweep = Sweep(tmp_path)
    sweep.rescan()
    assert not any("study.db" in run.id for run in sweep.store)
    assert any("cannot read the Optuna database" in w.message for w in sweep.store.warnings)
    writer.rollback()
    writer.close()
    sweep.poll()
    assert sum("study.db/tiny/" in run.id for run in sweep.store) == 7


def test_categorical_and_integer_params_are_decoded() -> None:
    choices = json.dumps({"name": "CategoricalDistribution", "attributes": {"choices": ["a", "b"]}})
    assert decode_param(1.0, choices) == "b"
    assert decode_param(3.0, {"name": "IntDistribution", "attributes": {}}) == 3
    assert decode_param(0.5, {"name": "FloatDistribution", "attributes": {}}) == 0.5
    assert decode_param(7.0, "not json") == 7.0


# -- a journal whose worker was killed while the others went on ---------------------------------

WORKER = "cda2bb2f-92eb-4514-9364-0f0bb45031e8-140023269841792"
DISTRIBUTION = json.dumps({"name": "FloatDistribution",
                           "attributes": {"step": None, "low": 0.001, "high": 0.1, "log": True}})


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).isoformat()


def _trial_ops(trial_id: int, start: float, losses: list[float], end: float | None) -> list[dict]:
    """One trial's operations, shaped as Optuna's JournalStorage writes them (see the fixture)."""
    ops: list[dict] = [
        {"op_code": 4, "worker_id": WORKER, "study_id": 0, "datetime_start": None, "state": 4,
         "value": None, "values": None, "distributions": {}, "params": {}, "user_attrs": {},
         "system_attrs": {}, "intermediate_values": {}},
        {"op_code": 6, "worker_id": WORKER, "trial_id": trial_id, "state": 0, "values": None,
         "datetime_start": _iso(start)},
        {"op_code": 5, "worker_id": WORKER, "trial_id": trial_id, "param_name": "lr",
         "param_value_internal": 0.001 * (trial_id + 1), "distribution": DISTRIBUTION},
    ]  # fmt: skip
    ops += [{"op_code": 7, "worker_id": WORKER, "trial_id": trial_id, "step": step,
             "intermediate_value": loss} for step, loss in enumerate(losses, 1)]  # fmt: skip
    if end is not None:
        ops.append({"op_code": 6, "worker_id": WORKER, "trial_id": trial_id, "state": 1,
                    "values": [losses[-1]], "datetime_complete": _iso(end)})  # fmt: skip
    return ops


def test_a_journal_trial_killed_while_later_trials_ran_is_killed_not_running(tmp_path: Path) -> None:
    # A sequential study: trial 0's worker died at 09:00 after three epochs (its trial stays
    # RUNNING); a new worker ran trials 1..12 from 09:05, ten minutes each; trial 13 is
    # logging right now. The file was just written, so its time alone says every trial is current.
    now = time.time()
    start = now - 125 * 60
    head = [{"op_code": 0, "worker_id": WORKER, "study_name": "tiny", "directions": [1]},
            {"op_code": 3, "worker_id": WORKER, "study_id": 0,
             "system_attr": {"study:metric_names": ["val_loss"]}}]  # fmt: skip
    ops = head + _trial_ops(0, start, [1.4, 1.0, 0.8], None)
    for trial in range(1, 13):
        begin = start + 5 * 60 + (trial - 1) * 600
        ops += _trial_ops(trial, begin, [1.4, 1.0, 0.7, 0.5], begin + 590)
    ops += _trial_ops(13, now - 60, [1.4, 1.1], None)
    journal = tmp_path / "optuna_journal.log"
    journal.write_text("".join(json.dumps(op) + "\n" for op in ops))
    os.utime(journal, (now, now))
    sweep = load(tmp_path)
    runs = {run.id.rsplit("/", 1)[1]: run for run in sweep.store}
    assert runs["0"].status == "killed", runs["0"].status_reason
    assert "other runs kept writing after it" in runs["0"].status_reason
    assert runs["13"].status == "running"
    assert {runs[str(trial)].status for trial in range(1, 13)} == {"finished"}
