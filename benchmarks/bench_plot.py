"""Benchmark the plot screen with 1,000 runs x 1,000 steps: is it responsive?

Run from the repository root: ``PYTHONPATH=. python benchmarks/bench_plot.py``
(``--runs`` and ``--steps`` shrink it; ``--data DIR`` keeps the generated sweep for reuse).

* curves: building the thinned :class:`~sweeptui.plotdata.CurveSet` of every run (the
  ingest thread's side of a request), median of 5.
* draw: plotext placing those curves (and, for the parameter view, every run's objective)
  on a 160 x 44 canvas and building its text (the UI thread's side), median of 5.
* key to drawn: in the real app (Textual's headless pilot, 160 x 48, the ingest thread
  reading the sweep), from pressing ``g`` until the plot screen has drawn the curves,
  and from ``v`` until the parameter view is drawn; median of 5 each.

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import plotext  # noqa: E402

from sweeptui.app.app import SweepApp  # noqa: E402
from sweeptui.app.ingest import IngestThread  # noqa: E402
from sweeptui.app.screens import PlotScreen  # noqa: E402
from sweeptui.app.screens.plot import draw_curves, draw_param  # noqa: E402
from sweeptui.app.widgets import RunsTable  # noqa: E402
from sweeptui.objective import choose_objective  # noqa: E402
from sweeptui.plotdata import make_curve_set  # noqa: E402
from sweeptui.simulate import generate_benchmark_sweep  # noqa: E402
from sweeptui.snapshot import SnapshotBuilder  # noqa: E402
from sweeptui.sweep import Sweep, load_sweep  # noqa: E402


def timed(job, repeat: int = 5) -> float:
    """Median seconds of ``job()``."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        job()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def draw(job) -> None:
    plotext.clear_figure()
    plotext.plotsize(160, 44)
    job()
    plotext.build()


async def key_to_drawn(root: Path, runs: int) -> tuple[float, float]:
    app = SweepApp(IngestThread(Sweep(root), lambda item: None))
    curves_times, param_times = [], []
    async with app.run_test(size=(160, 48)) as pilot:
        deadline = time.monotonic() + 600
        while app.snapshot is None or app.screen.query_one(RunsTable).row_count < runs:
            if time.monotonic() > deadline:
                raise SystemExit("the sweep did not load")
            await pilot.pause(0.1)
        for _ in range(5):
            start = time.perf_counter()
            await pilot.press("g")
            while not (isinstance(app.screen, PlotScreen) and app.screen.curve_set is not None):
                await pilot.pause(0.005)
            await pilot.pause()  # the draw itself
            curves_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            await pilot.press("v")
            await pilot.pause()
            param_times.append(time.perf_counter() - start)
            await pilot.press("escape")
            await pilot.pause()
    return statistics.median(curves_times), statistics.median(param_times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--data", type=Path, help="where to keep the generated sweep (reused if present)")
    args = parser.parse_args()
    root = args.data or Path(tempfile.mkdtemp(prefix="sweeptui-bench-plot-"))
    if not (root.exists() and any(root.iterdir())):
        generate_benchmark_sweep(root, args.runs, args.steps)
    sweep = load_sweep(root)
    objective = choose_objective(sweep.store)
    ids = sorted(sweep.store.runs)
    print(f"sweep: {len(ids)} runs x {args.steps} steps ({root})")
    curve_set = make_curve_set(sweep.store, ids, objective)
    seconds = timed(lambda: make_curve_set(sweep.store, ids, objective))
    print(f"curves: {seconds * 1000:.1f} ms to thin {len(ids)} curves to {curve_set.points} points")
    seconds = timed(lambda: draw(lambda: draw_curves(plotext, curve_set)))
    print(f"draw curves: {seconds * 1000:.1f} ms (plotext, 160 x 44)")
    snapshot = SnapshotBuilder(sweep.store).build()
    seconds = timed(lambda: draw(lambda: draw_param(plotext, snapshot, tuple(ids), 0)))
    print(f"draw param view: {seconds * 1000:.1f} ms")
    curves_key, param_key = asyncio.run(key_to_drawn(root, len(ids)))
    print(f"key to drawn: g (curves) {curves_key * 1000:.0f} ms, v (param view) {param_key * 1000:.0f} ms")


if __name__ == "__main__":
    main()
