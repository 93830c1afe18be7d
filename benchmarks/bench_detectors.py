"""Detector benchmark: what judging the runs' metric points costs on a cold load.

``python benchmarks/bench_detectors.py [--runs 1000 --steps 1000] [--data DIR] [--rounds 5]``
takes the ingest benchmark's sweep (generated, or reused from ``DIR``: see
``bench_ingest.py``), reads it once in this process keeping every metric batch a reader
hands over (a one-shot read gives each run's whole log as one batch), then per round
feeds those batches to a fresh store and :class:`~sweeptui.detectors.engine.DetectorEngine`
and times ``DetectorEngine.on_metrics`` alone, in process time (another process on the
machine then costs the figure less). Prints the best round, per run and per point,
beside its target; nothing fails on a missed target (machines differ).
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
for path in (HERE.parent, HERE):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from bench_ingest import prepare  # noqa: E402

from sweeptui.events import MetricBatch, RunSeen  # noqa: E402
from sweeptui.sweep import Sweep  # noqa: E402

RUN_TARGET_MS = 0.5
"""Milliseconds of detector work per run of 1,000 points (three metrics)."""


def read_batches(directory: Path) -> list[tuple[str, MetricBatch]]:
    """Every metric batch of a serial read of ``directory``, with its run, in order."""
    sweep = Sweep(directory)
    judge = sweep.detectors.on_metrics
    kept: list[tuple[str, MetricBatch]] = []

    def keep(run, batch):
        kept.append((run.id, copy.deepcopy(batch)))
        return judge(run, batch)

    sweep.detectors.on_metrics = keep
    sweep.rescan()  # outside a one-shot load: read here, not in child processes
    return kept


def judge_round(batches: list[tuple[str, MetricBatch]]) -> tuple[float, int]:
    """(process seconds inside ``on_metrics``, issues raised) for one fresh engine."""
    from sweeptui.detectors.engine import DetectorEngine
    from sweeptui.settings import Settings
    from sweeptui.store import RunStore

    store = RunStore()
    engine = DetectorEngine(store, Settings())
    spent, issues = 0.0, 0
    for run_id, batch in batches:
        if run_id not in store.runs:
            store.apply(RunSeen(run_id, run_id, run_id, "jsonl"))
        run = store.apply(copy.deepcopy(batch))  # the store keeps what it is given
        began = time.process_time()
        issues += len(engine.on_metrics(run, batch))
        spent += time.process_time() - began
    return spent, issues


def main(argv: list[str] | None = None) -> int:
    """Read once, judge ``--rounds`` times, print one line per figure."""
    parser = argparse.ArgumentParser(description="sweeptui detector benchmark")
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--data", help="cache directory for the generated sweep (reused)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sweeptui-bench-") as scratch:
        directory, origin = prepare(args, Path(scratch))
        batches = read_batches(directory)
    runs = len({run_id for run_id, _ in batches})
    points = sum(len(s.values) for _, batch in batches for s in batch.metrics.values())
    print(f"sweep      : {args.runs} runs x {args.steps} steps ({origin})")
    print(f"batches    : {len(batches):,} metric batches of {runs:,} runs, {points:,} points")
    rounds = [judge_round(batches) for _ in range(max(1, args.rounds))]
    best = min(seconds for seconds, _ in rounds)
    per_run_ms = 1000 * best / max(runs, 1)
    every = ", ".join(f"{seconds:.3f}" for seconds, _ in rounds)
    verdict = "OK" if per_run_ms <= RUN_TARGET_MS else "MISSED"
    print(f"detectors  : {best:8.3f} s  best of {len(rounds)} ({every}); "
          f"{per_run_ms:.3f} ms a run, {1e9 * best / max(points, 1):.0f} ns a point  "
          f"[target <= {RUN_TARGET_MS:g} ms a run: {verdict}]  ({rounds[0][1]} issues)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
