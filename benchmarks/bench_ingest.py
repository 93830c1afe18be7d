"""Ingest benchmark: how close sweeptui's reading and detection come to the parsing floor.

``python benchmarks/bench_ingest.py [--runs 1000 --steps 1000] [--data DIR]`` writes a
synthetic sweep (:func:`sweeptui.simulate.generate_benchmark_sweep`) into a temporary
directory, or reuses ``DIR`` when it already holds one with the same shape, and prints:

- raw read: reading every byte of every file;
- floor: reading each metric log and ``orjson.loads`` of every line (the least any reader
  must do);
- ingest: ``sweeptui.sweep.load_sweep`` (scan, read, store, detect), timed in a child
  process, with its ratio to the floor;
- peak RSS of that child above a baseline child that only imports sweeptui, numpy and
  pandas (``getrusage(RUSAGE_CHILDREN).ru_maxrss``);
- the wall time of ``python -m sweeptui report DIR --format json -o /dev/null``.

Targets are printed beside the figures; nothing fails on a missed target (machines
differ), but the exit status is 1 when ingestion itself fails.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

MARKER = ".bench_sweep.json"
FLOOR_TARGET = 3.0
RSS_TARGET_MB = 300.0
REPORT_TARGET_S = 5.0
MB = 1024 * 1024


# -- children --------------------------------------------------------------------------------
def child_main(mode: str, directory: str | None) -> int:
    """Inside a child process: import the stack, and for ``ingest`` read the sweep."""
    import numpy  # noqa: F401
    import pandas  # noqa: F401

    import sweeptui.sweep

    if mode == "baseline":
        return 0
    began = time.perf_counter()
    sweep = sweeptui.sweep.load_sweep(directory)
    seconds = time.perf_counter() - began
    print(json.dumps({"seconds": seconds, "runs": len(sweep.store),
                      "issues": len(sweep.store.issues)}))  # fmt: skip
    return 0


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def _children_peak_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux reports KiB


def measure_ingest(directory: Path) -> tuple[dict | None, str, int, int]:
    """(child's result or None, error text, baseline peak bytes, ingest peak bytes).

    The baseline child runs first, so the maximum over children after it is its own
    peak; after the ingest child the maximum is the ingest peak (it imports the same).
    """
    script = str(Path(__file__).resolve())
    subprocess.run([sys.executable, script, "--child", "baseline"], env=_child_env(), check=True)
    baseline = _children_peak_bytes()
    done = subprocess.run(
        [sys.executable, script, "--child", "ingest", "--data", str(directory)],
        env=_child_env(), capture_output=True, text=True,
    )  # fmt: skip
    peak = _children_peak_bytes()
    if done.returncode != 0:
        return None, _tail(done.stderr), baseline, peak
    return json.loads(done.stdout.strip().splitlines()[-1]), "", baseline, peak


def measure_report(directory: Path) -> tuple[float | None, str]:
    """Wall seconds of the report command, or None and why it did not run."""
    if not (REPO / "sweeptui" / "cli.py").exists():
        return None, "skipped: the sweeptui CLI does not exist yet"
    command = [sys.executable, "-m", "sweeptui", "report", str(directory),
               "--format", "json", "-o", os.devnull]  # fmt: skip
    began = time.perf_counter()
    done = subprocess.run(command, env=_child_env(), capture_output=True, text=True)
    seconds = time.perf_counter() - began
    if done.returncode not in (0, 1):  # 1: the report may flag issues through its exit status
        return None, f"failed (exit {done.returncode}): {_tail(done.stderr)}"
    if "Traceback" in done.stderr:
        return None, f"failed: {_tail(done.stderr)}"
    return seconds, ""


def _tail(text: str, lines: int = 3) -> str:
    return " | ".join(text.strip().splitlines()[-lines:]) or "(no output)"


# -- in-process figures ----------------------------------------------------------------------
def prepare(args: argparse.Namespace, scratch: Path) -> tuple[Path, str]:
    """The sweep directory to measure and a note on where it came from."""
    from sweeptui.simulate import generate_benchmark_sweep

    shape = {"runs": args.runs, "steps": args.steps, "seed": args.seed}
    directory = Path(args.data) if args.data else scratch / "sweep"
    marker = directory / MARKER
    if marker.exists() and json.loads(marker.read_text()) == shape:
        return directory, f"reused {directory}"
    if directory.exists() and any(directory.iterdir()) and not marker.exists():
        raise SystemExit(f"{directory} is not empty and holds no benchmark sweep: not touching it")
    if marker.exists():  # a sweep of another shape: start over
        import shutil

        shutil.rmtree(directory)
    began = time.perf_counter()
    generate_benchmark_sweep(directory, runs=args.runs, steps=args.steps, seed=args.seed)
    marker.write_text(json.dumps(shape))
    return directory, f"generated in {time.perf_counter() - began:.1f} s"


def sweep_files(directory: Path) -> list[Path]:
    """Every file of the sweep except the benchmark's own marker, in a stable order."""
    found = []
    for folder, _dirs, names in os.walk(directory):
        found.extend(Path(folder) / name for name in names if name != MARKER)
    return sorted(found)


def raw_read(files: list[Path]) -> tuple[float, int]:
    """(seconds, bytes) to read every byte of every file."""
    began = time.perf_counter()
    total = sum(len(path.read_bytes()) for path in files)
    return time.perf_counter() - began, total


def parse_floor(files: list[Path]) -> tuple[float, int]:
    """(seconds, lines) to read each metric log and ``orjson.loads`` every line.

    orjson rejects bare ``NaN`` tokens, so those lines fall back to :func:`json.loads`,
    as any reader of such logs must.
    """
    import orjson

    loads, error = orjson.loads, orjson.JSONDecodeError
    lines = 0
    began = time.perf_counter()
    for path in files:
        if path.suffix != ".jsonl":
            continue
        for line in path.read_bytes().splitlines():
            try:
                loads(line)
            except error:
                json.loads(line)
            lines += 1
    return time.perf_counter() - began, lines


def _verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def main(argv: list[str] | None = None) -> int:
    """Run every measurement and print one line per figure."""
    parser = argparse.ArgumentParser(description="sweeptui ingest benchmark")
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", help="cache directory for the generated sweep (reused)")
    parser.add_argument("--child", choices=["baseline", "ingest"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child_main(args.child, args.data)
    with tempfile.TemporaryDirectory(prefix="sweeptui-bench-") as scratch:
        return run_benchmark(args, Path(scratch))


def run_benchmark(args: argparse.Namespace, scratch: Path) -> int:
    """Generate or reuse the sweep, measure, print."""
    directory, origin = prepare(args, scratch)
    files = sweep_files(directory)
    read_s, total_bytes = raw_read(files)
    floor_s, lines = parse_floor(files)
    print(f"sweep      : {args.runs} runs x {args.steps} steps: {lines:,} lines, "
          f"{total_bytes / MB:.1f} MB in {len(files):,} files ({origin})")  # fmt: skip
    print(f"raw read   : {read_s:8.3f} s  ({total_bytes / MB / max(read_s, 1e-9):.0f} MB/s)")
    print(f"floor      : {floor_s:8.3f} s  ({lines / max(floor_s, 1e-9):,.0f} lines/s, "
          "read + orjson.loads per line)")  # fmt: skip
    result, error, baseline, peak = measure_ingest(directory)
    if result is None:
        print(f"ingest     : FAILED: {error}")
        print("peak RSS   : n/a (ingest failed)")
    else:
        ratio = result["seconds"] / max(floor_s, 1e-9)
        print(f"ingest     : {result['seconds']:8.3f} s  {ratio:.2f}x floor  "
              f"[target <= {FLOOR_TARGET:g}x floor: {_verdict(ratio <= FLOOR_TARGET)}]  "
              f"(load_sweep: {result['runs']} runs, {result['issues']} issues)")  # fmt: skip
        above = max(0, peak - baseline) / MB
        print(f"peak RSS   : {above:8.1f} MB above baseline (ingest child {peak / MB:.1f} MB, "
              f"baseline child {baseline / MB:.1f} MB)  "
              f"[target < {RSS_TARGET_MB:g} MB: {_verdict(above < RSS_TARGET_MB)}]")  # fmt: skip
    report_s, note = measure_report(directory)
    if report_s is None:
        print(f"report     : {note}")
    else:
        print(f"report     : {report_s:8.3f} s  "
              f"[target: a few seconds (<= {REPORT_TARGET_S:g} s): "
              f"{_verdict(report_s <= REPORT_TARGET_S)}]")  # fmt: skip
    return 0 if result is not None else 1


if __name__ == "__main__":
    raise SystemExit(main())
