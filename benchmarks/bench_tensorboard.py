"""Benchmark: load 1,000 TensorBoard runs x 1,000 steps with sweeptui, and with TensorBoard.

Writes real event files (TFRecord framing, Event protobufs with two legacy scalar
values per step, byte-for-byte the format SummaryWriter writes) once into
``bench_data/tensorboard`` (reused when present), then times
``sweeptui.sweep.load_sweep`` on them. When ``tensorboard`` is importable its
``EventAccumulator`` loads a subset of the same runs and the full-sweep time is
extrapolated linearly (stated as such).

    PYTHONPATH=. python benchmarks/bench_tensorboard.py [--runs 1000] [--steps 1000] [--subset 50]
"""

from __future__ import annotations

import argparse
import math
import random
import struct
import time
from pathlib import Path

from sweeptui.sources.tfrecord import frame
from sweeptui.sweep import load_sweep

FILE_VERSION = b"brain.Event:2"


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        byte = number & 0x7F
        number >>= 7
        if number:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _scalar_event(wall_time: float, step: int, values: dict[str, float]) -> bytes:
    summary = b""
    for tag, value in values.items():
        raw = tag.encode()
        inner = b"\x0a" + _varint(len(raw)) + raw + b"\x15" + struct.pack("<f", value)
        summary += b"\x0a" + _varint(len(inner)) + inner
    return (b"\x09" + struct.pack("<d", wall_time) + b"\x10" + _varint(step)
            + b"\x2a" + _varint(len(summary)) + summary)


def write_sweep(root: Path, runs: int, steps: int) -> None:
    """``runs`` directories each holding one event file of ``steps`` scalar events."""
    marker = root / f".complete-{runs}x{steps}"
    if marker.exists():
        return
    rng = random.Random(0)
    start = 1_700_000_000.0
    for index in range(runs):
        run_dir = root / f"run-{index:04d}"
        run_dir.mkdir(parents=True, exist_ok=True)
        chunks = [frame(b"\x09" + struct.pack("<d", start) + b"\x1a" + _varint(len(FILE_VERSION))
                        + FILE_VERSION)]
        decay = rng.uniform(0.001, 0.01)
        for step in range(steps):
            loss = 2.0 * math.exp(-decay * step) + rng.uniform(0, 0.05)
            values = {"train_loss": loss, "val_loss": loss * 1.1}
            chunks.append(frame(_scalar_event(start + step * 0.5, step, values)))
        name = f"events.out.tfevents.{int(start)}.bench.{index}.0"
        (run_dir / name).write_bytes(b"".join(chunks))
    marker.touch()


def time_sweeptui(root: Path) -> tuple[float, int, int]:
    began = time.perf_counter()
    sweep = load_sweep(root)
    elapsed = time.perf_counter() - began
    points = sum(len(series) for run in sweep.store for series in run.metrics.values())
    return elapsed, len(sweep.store), points


def time_tensorboard(root: Path, subset: int) -> tuple[float, int, int] | None:
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        return None
    run_dirs = sorted(p for p in root.iterdir() if p.is_dir())[:subset]
    began = time.perf_counter()
    points = 0
    for run_dir in run_dirs:
        accumulator = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
        accumulator.Reload()
        points += sum(len(accumulator.Scalars(tag)) for tag in accumulator.Tags()["scalars"])
    return time.perf_counter() - began, len(run_dirs), points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--subset", type=int, default=50,
                        help="runs EventAccumulator loads (its time is scaled to all runs)")
    parser.add_argument("--data", type=Path, default=Path("bench_data/tensorboard"))
    args = parser.parse_args()
    root = args.data / f"{args.runs}x{args.steps}"
    began = time.perf_counter()
    write_sweep(root, args.runs, args.steps)
    print(f"event files ready in {time.perf_counter() - began:.1f} s: {root}")
    ours, runs, points = time_sweeptui(root)
    print(f"sweeptui load_sweep: {ours:.2f} s for {runs} runs, {points:,} points "
          f"({points / ours / 1e6:.2f} M points/s)")
    theirs = time_tensorboard(root, args.subset)
    if theirs is None:
        print("tensorboard not importable: EventAccumulator not timed")
        return
    elapsed, loaded, their_points = theirs
    scaled = elapsed * args.runs / loaded
    print(f"tensorboard EventAccumulator: {elapsed:.2f} s for {loaded} runs, "
          f"{their_points:,} points -> {scaled:.1f} s estimated for {args.runs} runs "
          "(linear scaling)")
    print(f"ratio: sweeptui is {scaled / ours:.1f}x faster")


if __name__ == "__main__":
    main()
