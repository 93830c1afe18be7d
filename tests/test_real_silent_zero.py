"""A tree where nothing becomes a run says what it saw and why, never a silent zero."""

from __future__ import annotations

from pathlib import Path

import pytest

from sweeptui.cli import main
from tests.test_real_ray_state import copy_experiment
from tests.tool_fixtures import copy_fixture


def report_stderr(root: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["report", str(root)]) == 0
    return capsys.readouterr().err


def test_a_recognised_experiment_with_no_trial_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_experiment("exp_empty", tmp_path)
    err = report_stderr(tmp_path, capsys)
    assert "ray-tune layout recognised at exp_empty" in err
    assert "experiment_state-2023-11-14_22-13-20.json" in err
    assert "lists no trial" in err


def test_a_tree_with_no_layout_names_what_it_saw(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = tmp_path / "results" / "mnist"
    outputs.mkdir(parents=True)
    for seed in range(3):
        (outputs / f"seed{seed}.txt").write_text("final accuracy 0.98\n")
        (outputs / f"seed{seed}.pt").write_bytes(b"\x80\x02")
    (outputs / "curves.png").write_bytes(b"\x89PNG")
    err = report_stderr(tmp_path, capsys)
    assert "no run found under" in err and "no sweep layout recognised" in err
    assert "3 .txt" in err and "3 .pt" in err and "1 .png" in err
    assert "ray-tune" in err and "run-dir" in err


def test_nothing_is_said_when_runs_are_found(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_experiment("exp_2021", tmp_path)
    assert "no run read" not in report_stderr(tmp_path, capsys)


def test_segments_of_a_resumed_run_are_not_idle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """W&B directories that resume a run report under the first one's id: not 'no run'."""
    copy_fixture("wandb_resumed", tmp_path)
    assert report_stderr(tmp_path, capsys) == ""
