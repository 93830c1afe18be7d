"""Hydra multirun sweeps: the committed real fixture read by the hydra source."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from sweeptui.sources.hydra import parse_overrides
from sweeptui.store import Run
from sweeptui.sweep import Sweep
from tests.tool_fixtures import copy_fixture, load


def by_kind(sweep: Sweep) -> dict[str, Run]:
    return {run.params["kind"]: run for run in sweep.store}


def test_jobs_statuses_params_and_issues(tmp_path: Path) -> None:
    root = copy_fixture("hydra", tmp_path)
    runs = by_kind(load(tmp_path))
    assert set(runs) == {"healthy", "nanloss", "crash", "early", "overfit", "killed"}
    assert {run.source for run in runs.values()} == {"hydra"}
    assert runs["healthy"].params == {"kind": "healthy", "optim.lr": 0.01, "epochs": 8}
    assert runs["healthy"].name.endswith("/0 kind=healthy optim.lr=0.01")
    for kind in ("healthy", "nanloss", "early", "overfit"):
        assert runs[kind].status == "finished", kind
    assert runs["crash"].status == "crashed"
    assert runs["crash"].failure.reason == "ValueError: simulated shape mismatch with lr=0.01"
    assert runs["killed"].status == "killed" and runs["killed"].failure.reason == "SIGKILL"
    for run in runs.values():
        log = root.parent / run.id / "metrics.jsonl"
        records = [json.loads(line) for line in log.read_text().splitlines()]
        expected = [r["val_loss"] for r in records if "val_loss" in r]
        got = run.metrics["val_loss"].values
        assert len(got) == len(expected)
        assert all(a == b or (a != a and b != b) for a, b in zip(got, expected, strict=True))
        overrides = yaml.safe_load((log.parent / ".hydra" / "overrides.yaml").read_text())
        assert f"kind={run.params['kind']}" in overrides
    assert "nan_or_inf_metric" in runs["nanloss"].issue_types
    assert "overfitting_suspect" in runs["overfit"].issue_types
    assert "crashed" in runs["crash"].issue_types and "killed" in runs["killed"].issue_types


def test_a_single_job_directory_is_read_without_its_sweep(tmp_path: Path) -> None:
    root = copy_fixture("hydra", tmp_path)
    (job,) = [p for p in root.glob("multirun/*/*/*") if (p / ".hydra").is_dir()
              and "kind=overfit" in (p / ".hydra" / "overrides.yaml").read_text()]
    sweep = load(job)
    (run,) = list(sweep.store)
    assert run.source == "hydra" and run.params["kind"] == "overfit"
    assert run.status == "finished"


def test_overrides_are_parsed_as_yaml_into_nested_params() -> None:
    parsed = parse_overrides(["optim.lr=1e-3", "+model=big", "layers=[1,2]", "flag=true", "x"])
    assert parsed == {"optim": {"lr": 1e-3}, "model": "big", "layers": [1, 2], "flag": True}
