"""Feeding real events through a real RunStore and DetectorEngine, in batches of any size."""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field

import numpy as np

from sweeptui.detectors.engine import DetectorEngine
from sweeptui.events import MetricBatch, RunEnded, RunSeen, Series
from sweeptui.issues import Issue
from sweeptui.settings import Settings
from sweeptui.store import RunStore


@dataclass
class Curve:
    """One run's log: metrics on steps, optional per-step epoch and record time."""

    metrics: dict[str, tuple[np.ndarray, np.ndarray]]
    epoch_of_step: dict[float, float] = field(default_factory=dict)
    time_of_step: dict[float, float] = field(default_factory=dict)

    def record_steps(self) -> np.ndarray:
        """Every step that has a record, in order."""
        return np.unique(np.concatenate([steps for steps, _ in self.metrics.values()]))


class Harness:
    """A store and an engine, plus helpers that speak in runs and curves."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.store = RunStore()
        self.engine = DetectorEngine(self.store, settings or Settings())
        self.issues: list[Issue] = []

    def see(self, run_id: str, params: dict | None = None) -> None:
        self.store.apply(RunSeen(run_id, run_id, f"runs/{run_id}", "jsonl", params=params))

    def feed(
        self, run_id: str, curve: Curve, batch_size: int | None = None, now: float | None = None
    ) -> list[Issue]:
        """Feed every record of ``curve``, ``batch_size`` records a batch (None: one batch)."""
        steps = curve.record_steps()
        size = batch_size or max(1, steps.size)
        new: list[Issue] = []
        for start in range(0, steps.size, size):
            new += self.batch(run_id, curve, steps[start : start + size], now)
        return new

    def batch(
        self, run_id: str, curve: Curve, steps: np.ndarray, now: float | None = None
    ) -> list[Issue]:
        """One MetricBatch holding the records at ``steps``."""
        low, high = steps[0], steps[-1]
        metrics = {}
        for name, (s, v) in curve.metrics.items():
            mask = (s >= low) & (s <= high)
            if mask.any():
                metrics[name] = Series(array("d", s[mask]), array("d", v[mask]))
        epochs = None
        known = [st for st in steps if st in curve.epoch_of_step]
        if known:
            epochs = Series(array("d", known), array("d", [curve.epoch_of_step[s] for s in known]))
        times = array("d", [curve.time_of_step[s] for s in steps if s in curve.time_of_step])
        event = MetricBatch(run_id, metrics, records=int(steps.size), times=times, epochs=epochs)
        run = self.store.apply(event, now)
        new = self.engine.on_metrics(run, event)
        self.issues += new
        return new

    def end(
        self,
        run_id: str,
        status: str | None,
        error: str | None = None,
        exit_code: int | None = None,
        time: float | None = None,
    ) -> list[Issue]:
        run = self.store.apply(RunEnded(run_id, status, error, exit_code, time))
        new = self.engine.on_end(run)
        self.issues += new
        return new

    def of_type(self, issue_type: str) -> list[Issue]:
        return [issue for issue in self.store.issues if issue.type == issue_type]


def signature(issues: list[Issue]) -> list[tuple]:
    """What must not depend on batching: type, run, onset, metric and message."""
    return sorted((i.type, i.run, i.step, i.epoch, i.metric, i.message) for i in issues)


def decaying_loss(
    rng: np.random.Generator, steps: int, noise: float, spike_rate: float = 0.0
) -> np.ndarray:
    """A healthy training loss: exponential decay to a floor, multiplicative noise, spikes."""
    t = np.arange(steps, dtype=np.float64)
    clean = 2.3 * np.exp(-t / (steps / 5)) + 0.25
    noisy = clean * np.clip(1 + noise * rng.standard_normal(steps), 0.3, None)
    spikes = rng.random(steps) < spike_rate
    noisy[spikes] *= rng.uniform(2.0, 3.0, spikes.sum())
    return noisy
