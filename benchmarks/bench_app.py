"""Benchmark the live app: 1,000 runs appending every second, and scrolling 10,000 runs.

Run from the repository root: ``PYTHONPATH=. python benchmarks/bench_app.py``
(``--runs``, ``--seconds``, ``--scroll-runs`` shrink it for a quick look).

* Live: a separate writer process appends one JSONL record per second to each of
  ``--runs`` run directories while the app (headless, real ingest thread, real
  file watcher) shows them. It measures key-press-to-redraw latency (``down``
  pressed through the pilot, until the app is idle again with the cursor moved)
  and the CPU used by this process (UI + ingest thread; the writer excluded) over
  the period, as a percentage of one core.
* Scroll: ``--scroll-runs`` finished runs loaded into the table; latency of
  ``pagedown``/``end``/``home`` key presses.

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sweeptui.app.app import SweepApp
from sweeptui.app.ingest import IngestThread
from sweeptui.app.widgets import RunsTable
from sweeptui.sweep import Sweep

WRITER = r"""
import json, sys, time
root, runs, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
start = time.time()
step = 10
while time.time() - start < seconds:
    tick = time.time()
    for i in range(runs):
        with open(f"{root}/run_{i:05d}/metrics.jsonl", "a") as f:
            f.write(json.dumps({"step": step, "train_loss": 1.0 / (step + i % 7),
                                "val_loss": 1.1 / (step + i % 5), "time": tick}) + "\n")
    step += 1
    time.sleep(max(0.0, 1.0 - (time.time() - tick)))
"""


def make_sweep(root: Path, runs: int, points: int = 10, finished: bool = False) -> None:
    """``runs`` run directories with ``points`` records each (and DONE when ``finished``)."""
    now = time.time()
    for index in range(runs):
        run = root / f"run_{index:05d}"
        run.mkdir(parents=True)
        params = {"lr": [1e-4, 1e-3, 1e-2, 1e-1][index % 4], "batch_size": [32, 64, 128][index % 3],
                  "seed": index, "max_steps": 100000}  # fmt: skip
        (run / "config.json").write_text(json.dumps(params))
        lines = [json.dumps({"step": s, "train_loss": 1.0 / (s + 1), "val_loss": 1.1 / (s + 1),
                             "time": now - points + s}) for s in range(points)]  # fmt: skip
        (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
        if finished:
            (run / "DONE").write_text("")


async def wait_rows(app: SweepApp, pilot, rows: int, timeout: float = 600.0) -> float:
    start = time.perf_counter()
    while app.screen.query_one(RunsTable).row_count < rows:
        if time.perf_counter() - start > timeout:
            raise TimeoutError("rows never appeared")
        await pilot.pause(0.1)
    return time.perf_counter() - start


async def key_latency(pilot, app: SweepApp, key: str) -> float:
    """Seconds from pressing ``key`` until the app is idle again (the redraw is done)."""
    start = time.perf_counter()
    await pilot.press(key)
    await pilot.pause()
    return time.perf_counter() - start


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return (f"median {statistics.median(ordered) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, "
            f"max {ordered[-1] * 1000:.1f} ms (n={len(ordered)})")  # fmt: skip


async def live(runs: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_sweep(root, runs)
        app = SweepApp(IngestThread(Sweep(root), lambda item: None))
        async with app.run_test(size=(160, 48)) as pilot:
            loaded = await wait_rows(app, pilot, runs)
            print(f"live: {runs} runs shown {loaded:.2f}s after start")
            writer = subprocess.Popen([sys.executable, "-c", WRITER, str(root), str(runs), str(seconds)])
            await pilot.pause(2.0)  # let the first appends flow
            cpu0, wall0 = time.process_time(), time.perf_counter()
            samples = []
            while writer.poll() is None:
                for key in ("down", "up"):
                    samples.append(await key_latency(pilot, app, key))
                await pilot.pause(0.25)
            cpu = (time.process_time() - cpu0) / (time.perf_counter() - wall0) * 100
            snapshot = app.snapshot
            print(f"live: key-press-to-redraw {summary(samples)}")
            print(f"live: CPU {cpu:.0f}% of one core (UI + ingest) over {seconds - 2:.0f}s of appends")
            steps = [row.step for row in snapshot.rows if row.step is not None]
            print(f"live: last snapshot: newest step {max(steps):.0f}, version {snapshot.version}")


async def scroll(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        make_sweep(root, runs, points=5, finished=True)
        print(f"scroll: wrote {runs} runs in {time.perf_counter() - start:.1f}s")
        app = SweepApp(IngestThread(Sweep(root), lambda item: None))
        async with app.run_test(size=(160, 48)) as pilot:
            loaded = await wait_rows(app, pilot, runs)
            print(f"scroll: {runs} runs in the table {loaded:.2f}s after start")
            samples = []
            for _ in range(3):
                for key in ("pagedown",) * 10 + ("end", "home"):
                    samples.append(await key_latency(pilot, app, key))
            print(f"scroll: key-press-to-redraw {summary(samples)}")
            for key in ("s", "s"):
                elapsed = await key_latency(pilot, app, key)
                print(f"scroll: sort by {app.screen.query_one(RunsTable).sort_key}: {elapsed * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--scroll-runs", type=int, default=10000)
    args = parser.parse_args()
    asyncio.run(live(args.runs, args.seconds))
    asyncio.run(scroll(args.scroll_runs))


if __name__ == "__main__":
    main()
