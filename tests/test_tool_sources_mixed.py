"""Every tool layout recognised side by side in one tree, and listed before the generic ones."""

from __future__ import annotations

import json
from pathlib import Path

from sweeptui.sources import get_sources
from tests.tool_fixtures import copy_fixture, load

TOOLS = ("ray", "optuna", "lightning", "hydra")


def test_tool_sources_come_before_the_generic_ones() -> None:
    names = [spec.name for spec in get_sources()]
    for tool in ("ray-tune", "optuna", "lightning", "hydra"):
        assert names.index(tool) < names.index("run-dir") < names.index("results-array")
    assert all(spec.description for spec in get_sources())


def test_a_mixed_tree_gives_each_layout_its_own_source(tmp_path: Path) -> None:
    for tool in TOOLS:
        copy_fixture(tool, tmp_path / "sweeps")
    generic = tmp_path / "sweeps" / "plain" / "lr-0.1"
    generic.mkdir(parents=True)
    (generic / "config.yaml").write_text("lr: 0.1\nepochs: 2\n")
    (generic / "metrics.jsonl").write_text(
        "".join(json.dumps({"epoch": e, "loss": 1.0 / e}) + "\n" for e in (1, 2))
    )
    sweep = load(tmp_path)
    sources: dict[str, set[str]] = {}
    for run in sweep.store:
        sources.setdefault(run.id.split("/")[1], set()).add(run.source)
    assert sources == {
        "ray": {"ray-tune"}, "optuna": {"optuna"}, "lightning": {"lightning"},
        "hydra": {"hydra"}, "plain": {"run-dir"},
    }
    assert sweep.store.warnings == []


def test_one_source_can_be_chosen_by_name(tmp_path: Path) -> None:
    for tool in TOOLS:
        copy_fixture(tool, tmp_path)
    sweep = load(tmp_path, source="optuna")
    assert {run.source for run in sweep.store} == {"optuna"}
