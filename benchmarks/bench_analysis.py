"""Time :func:`sweeptui.analysis.analyze` on synthetic planted sweeps of 1,000 and 10,000 runs.

Run from the repository root: ``PYTHONPATH=.:tests python benchmarks/bench_analysis.py``.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from planted import planted_store

from sweeptui.analysis import analyze
from sweeptui.objective import choose_objective


def bench(runs: int, repeats: int) -> None:
    """Build one sweep of ``runs`` runs and print the median analysis time."""
    store = planted_store(0, runs, ("lr", "model", "pair"))
    objective = choose_objective(store)
    analyze(store, objective)  # warm imports and caches
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        analyze(store, objective)
        times.append(time.perf_counter() - start)
    print(f"{runs:>6} runs: median {1000 * statistics.median(times):7.1f} ms, "
          f"min {1000 * min(times):7.1f} ms over {repeats} repeats")  # fmt: skip


if __name__ == "__main__":
    bench(1_000, 10)
    bench(10_000, 3)
