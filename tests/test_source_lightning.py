"""Lightning CSVLogger runs: the committed real fixture, including the logger's rewrites."""

from __future__ import annotations

import csv
from pathlib import Path

from sweeptui.sweep import Sweep
from tests.tool_fixtures import copy_fixture, load, run_where

KINDS = ["healthy", "nan", "crash", "early", "overfit", "killed"]


def csv_column(path: Path, name: str) -> list[tuple[float, float]]:
    """(step, value) of the non-empty cells of ``name``, read with the csv module."""
    with open(path, newline="") as handle:
        return [(float(row["step"]), float(row[name])) for row in csv.DictReader(handle)
                if row.get(name)]


def test_statuses_series_and_issues(tmp_path: Path) -> None:
    root = copy_fixture("lightning", tmp_path)
    sweep = load(tmp_path)
    runs = {kind: run_where(sweep, f"version_{i}") for i, kind in enumerate(KINDS)}
    assert {run.source for run in runs.values()} == {"lightning"}
    assert runs["healthy"].name == "tiny/version_0"
    assert runs["healthy"].params == {"kind": "healthy", "lr": 0.05, "epochs": 8}
    for kind in ("healthy", "nan", "early", "overfit"):
        assert runs[kind].status == "finished", kind
    assert runs["crash"].status == "crashed"
    assert runs["crash"].failure.reason.startswith("RuntimeError: simulated data error")
    assert runs["killed"].status == "killed" and "SIGKILL" in runs["killed"].failure.reason
    for index, kind in enumerate(KINDS):
        metrics = root / "tiny" / f"version_{index}" / "metrics.csv"
        for name in ("train_loss", "val_loss"):
            series = runs[kind].metrics[name]
            points = list(zip(series.steps, series.values, strict=True))
            expected = csv_column(metrics, name)
            assert len(points) == len(expected)
            assert all(a == b or b[1] != b[1] for a, b in zip(points, expected, strict=True))
    assert runs["healthy"].last_epoch == 7
    assert "nan_or_inf_metric" in runs["nan"].issue_types
    assert "crashed" in runs["crash"].issue_types and "killed" in runs["killed"].issue_types
    assert runs["healthy"].issue_types == []


def test_rewrite_with_a_new_column_does_not_ingest_rows_twice(tmp_path: Path) -> None:
    root = copy_fixture("lightning", tmp_path)
    metrics = root / "tiny" / "version_4" / "metrics.csv"
    full = metrics.read_text()
    with open(metrics, newline="") as handle:
        rows = list(csv.DictReader(handle))
    before = [row for row in rows[: next(i for i, r in enumerate(rows) if r["val_gap"])]]
    columns = ["epoch", "step", "train_loss", "val_loss"]
    with open(metrics, "w", newline="") as handle:  # what the logger wrote before val_gap
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(before)
    sweep = Sweep(tmp_path)
    sweep.rescan()
    run = run_where(sweep, "version_4")
    first = len(run.metrics["train_loss"])
    assert first == sum(1 for row in before if row["train_loss"])
    with open(metrics, "w", newline="") as handle:  # rewritten in place, wider header
        handle.write(full)
    sweep.poll()
    assert len(run.metrics["train_loss"]) == len(csv_column(metrics, "train_loss"))
    assert len(run.metrics["val_gap"]) == len(csv_column(metrics, "val_gap"))
    assert list(run.metrics["val_loss"].steps) == [s for s, _ in csv_column(metrics, "val_loss")]
