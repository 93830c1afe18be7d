"""Optuna storages: the committed real journal and SQLite files read by the optuna source."""

from __future__ import annotations

import json
import math
import sqlite3
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
