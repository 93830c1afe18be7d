"""Helpers for the app's tests: real run directories, and waiting on app state (bounded)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest


def write_run(
    root: Path, name: str, params: dict, losses: list[float], *, start: float | None = None
) -> Path:
    """A run directory with one record per loss value (step, epoch, train/val loss, time)."""
    run = root / name
    run.mkdir(parents=True, exist_ok=True)
    (run / "config.json").write_text(json.dumps(params), encoding="utf-8")
    append_points(run, losses, first_step=0, start=start)
    return run


def append_points(
    run: Path, losses: list[float], first_step: int | None = None, start: float | None = None
) -> None:
    """Append records to ``run``'s metrics.jsonl, continuing its step count."""
    log = run / "metrics.jsonl"
    existing = log.read_text(encoding="utf-8").count("\n") if log.exists() else 0
    step = existing if first_step is None else first_step
    stamp = time.time() if start is None else start
    lines = []
    for offset, loss in enumerate(losses):
        record = {"step": step + offset, "epoch": step + offset, "train_loss": loss,
                  "val_loss": loss * 1.1, "time": stamp + offset}  # fmt: skip
        lines.append(json.dumps(record) + "\n")  # json writes NaN as a bare token, as Python logs do
    with log.open("a", encoding="utf-8") as handle:
        handle.write("".join(lines))


def healthy(n: int, start: float = 2.0) -> list[float]:
    """A smoothly falling loss curve."""
    return [start * 0.9**i for i in range(n)]


async def wait_for(
    pilot, condition: Callable[[], bool], timeout: float = 15.0, what: str = "condition"
) -> None:
    """Let the app run until ``condition()`` holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await pilot.pause(0.05)
        await asyncio.sleep(0)
