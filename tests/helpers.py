"""Test helpers: building stores from real events (imported by the tests)."""

from __future__ import annotations

from array import array

from sweeptui.events import MetricBatch, RunEnded, RunSeen, Series
from sweeptui.store import RunStore


def series(values, start: int = 1) -> Series:
    """A Series of ``values`` at steps start, start+1, ..."""
    values = [float(v) for v in values]
    return Series(array("d", range(start, start + len(values))), array("d", values))


def add_run(store: RunStore, run_id: str, params: dict | None = None, **metrics) -> None:
    """Add a run with per-epoch metric lists (epochs 1..n) through real events."""
    store.apply(RunSeen(run_id, run_id, run_id, "test", params or {}))
    if metrics:
        length = max(len(v) for v in metrics.values())
        batch = MetricBatch(run_id, {k: series(v) for k, v in metrics.items()}, records=length)
        batch.epochs = series(range(1, length + 1))
        store.apply(batch)


def end_run(store: RunStore, run_id: str, status=None, error=None, exit_code=None) -> None:
    """End a run through a real RunEnded event."""
    store.apply(RunEnded(run_id, status, error=error, exit_code=exit_code))
