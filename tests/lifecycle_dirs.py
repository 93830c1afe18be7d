"""Run directories written as plain training scripts write them, timed with ``os.utime``.

Each run gets ``config.json`` and ``metrics.jsonl`` (one record per epoch, with or
without a ``time`` field) or ``metrics.csv`` (one row per epoch, no times); an optional
end marker or error file; every file's mtime is set to the run's last write, as the
files of a real run would carry.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

NOW = 1_790_000_000.0
"""The clock the post-hoc tests judge at (a fixed moment, so verdicts are reproducible)."""
MONTH = 365.25 * 86400 / 12


@dataclass
class Spec:
    """One run: how many of its ``epochs`` it logged, from when, how fast, how it ended."""

    name: str
    logged: int
    start: float
    interval: float = 3.0
    epochs: int | None = 20
    params: dict | None = None
    timed: bool = True
    marker: str | None = None  # a file name such as DONE or exit_code
    marker_text: str = ""
    error: str | None = None  # error.txt content
    record: dict | None = None  # extra keys per record
    log: str = "jsonl"  # or "csv": metrics.csv with an epoch column and no times

    @property
    def last_write(self) -> float:
        """When the run last wrote a file."""
        return self.start + self.interval * max(self.logged, 1)


def write_spec(root: Path, spec: Spec) -> Path:
    """Write ``spec`` under ``root``; returns the run directory."""
    run = root / spec.name
    run.mkdir(parents=True, exist_ok=True)
    config = dict(spec.params or {})
    if spec.epochs is not None:
        config.setdefault("epochs", spec.epochs)
    (run / "config.json").write_text(json.dumps(config))
    if spec.logged and spec.log == "csv":
        rows = ["epoch,train_loss,val_loss\n"]
        for epoch in range(spec.logged):
            loss = epoch_loss(epoch)
            rows.append(f"{epoch},{loss!r},{loss * 1.1!r}\n")
        (run / "metrics.csv").write_text("".join(rows))
    elif spec.logged:
        lines = []
        for epoch in range(spec.logged):
            loss = epoch_loss(epoch)
            record = {"epoch": epoch, "train_loss": loss, "val_loss": loss * 1.1, **(spec.record or {})}
            if spec.timed:
                record["time"] = spec.start + spec.interval * (epoch + 1)
            lines.append(json.dumps(record) + "\n")
        (run / "metrics.jsonl").write_text("".join(lines))
    else:
        (run / "train.log").write_text("loading dataset...\n")
    if spec.marker:
        (run / spec.marker).write_text(spec.marker_text)
    if spec.error is not None:
        (run / "error.txt").write_text(spec.error)
    retime(run, spec.last_write)
    return run


def epoch_loss(epoch: int) -> float:
    """A training loss falling to a floor: the same curve in every run."""
    return 2.0 * math.exp(-epoch / 6) + 0.1


def retime(path: Path, stamp: float) -> None:
    """Set the mtime (and atime) of ``path`` and every file under it to ``stamp``."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    for file in files:
        os.utime(file, (stamp, stamp))


def shift_tree(root: Path, seconds: float) -> None:
    """Move every file's mtime under ``root`` by ``seconds`` (an archive made older)."""
    for file in root.rglob("*"):
        if file.is_file():
            stamp = file.stat().st_mtime + seconds
            os.utime(file, (stamp, stamp))


def sequential_sweep(
    root: Path, runs: int, *, end: float, epochs: int = 20, interval: float = 3.0,
    cut: dict[int, int] | None = None, timed: bool = True, marker: str | None = None,
) -> list[Spec]:  # fmt: skip
    """``runs`` runs one after another, the last one's last write at ``end``.

    ``cut`` maps a run index to the epochs it logged before it stopped without a word.
    """
    cut = cut or {}
    per_run = interval * epochs + 5.0
    first = end - per_run * runs
    specs = []
    for index in range(runs):
        logged = cut.get(index, epochs)
        spec = Spec(
            f"run-{index:03d}", logged, first + per_run * index + 5.0, interval, epochs,
            params={"lr": [1e-4, 1e-3, 1e-2][index % 3], "seed": index}, timed=timed,
            marker=marker if logged == epochs else None,
        )  # fmt: skip
        write_spec(root, spec)
        specs.append(spec)
    return specs


def parallel_sweep(
    root: Path, runs: int, *, end: float, epochs: int = 20, interval: float = 3.0,
    cut: dict[int, int] | None = None,
) -> list[Spec]:  # fmt: skip
    """``runs`` runs started together, each logging every ``interval`` seconds."""
    cut = cut or {}
    start = end - interval * epochs
    specs = []
    for index in range(runs):
        logged = cut.get(index, epochs)
        spec = Spec(f"par-{index:03d}", logged, start, interval, epochs,
                    params={"lr": [1e-4, 1e-3][index % 2], "seed": index})  # fmt: skip
        write_spec(root, spec)
        specs.append(spec)
    return specs
