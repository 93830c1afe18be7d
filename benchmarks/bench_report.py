"""End-to-end benchmark: whole sweeptui processes against a bare parse of the same lines.

``python benchmarks/bench_report.py [--runs 1000 --steps 1000] [--data DIR] [--rounds 3]``

Every figure is a whole process, start to exit, measured from outside (wall time, and
CPU time and peak RSS from ``wait4``), alternated with a bare-parse process on the same
files so that the ratios are taken under the same machine load:

- floor: a bare Python process that reads every ``*.jsonl`` and ``orjson.loads`` each
  line (``json.loads`` for the lines with bare ``NaN`` tokens, which orjson rejects);
- report: ``python -m sweeptui report DIR --format json -o FILE`` (target <= 2x floor,
  peak RSS < 300 MB);
- watch: ``python -m sweeptui watch DIR`` in a private tmux server, until its runs
  table first shows every run (``runs: N/N``), polled every 50 ms (target <= 2.5x
  floor); skipped without tmux or with ``--no-watch``;
- memory: one run of ``--big-lines`` (5,000,000) metric lines, ingested by
  ``sweeptui.sweep.load_sweep`` (target: peak RSS < 300 MB, time <= 3x the floor of
  that file), and ``--many-runs`` (20,000) runs of 50 lines (peak RSS < 300 MB);
  ``--no-memory`` skips them.

Sweeps are generated into ``--data`` (reused when already there) or a temporary
directory. Targets are printed beside the figures; nothing fails on a missed target.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

REPORT_TARGET = 2.0
WATCH_TARGET = 2.5
BIG_TARGET = 3.0
RSS_TARGET_MB = 300.0
MB = 1024 * 1024
MARKER = ".bench_report.json"

FLOOR = """
import json, os, sys
import orjson
loads, error = orjson.loads, orjson.JSONDecodeError
for folder, _dirs, names in os.walk(sys.argv[1]):
    for name in names:
        if name.endswith(".jsonl"):
            with open(os.path.join(folder, name), "rb") as handle:
                for line in handle.read().splitlines():
                    try:
                        loads(line)
                    except error:
                        json.loads(line)
"""

INGEST = """
import sys
from sweeptui.sweep import load_sweep
if sys.argv[2] == "ingest":
    load_sweep(sys.argv[1])
"""


# -- processes ---------------------------------------------------------------------------------
def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    # bytecode cached, as in an installed package after its first run: recompiling
    # sweeptui's modules at every start (~0.2 s) is not what a user waits for
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_process(command: list[str]) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS in MB) of one process, start to exit."""
    began = time.perf_counter()
    child = subprocess.Popen(command, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - began
    error = child.stderr.read().decode(errors="replace") if child.stderr else ""
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode not in (0, 1) or "Traceback" in error:
        raise SystemExit(f"{' '.join(command)} failed: {error.strip()[-500:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024  # Linux: KiB


def floor_process(directory: Path) -> tuple[float, float, float]:
    return run_process([sys.executable, "-c", FLOOR, str(directory)])


# -- sweeps ------------------------------------------------------------------------------------
def prepared(directory: Path, shape: dict, write) -> Path:
    """``directory`` holding the sweep of ``shape``, written by ``write`` unless already there."""
    marker = directory / MARKER
    if marker.exists() and json.loads(marker.read_text()) == shape:
        return directory
    if directory.exists():
        if any(directory.iterdir()) and not marker.exists():
            raise SystemExit(f"{directory} is not empty and holds no benchmark sweep: not touching it")
        shutil.rmtree(directory)
    began = time.perf_counter()
    write(directory)
    marker.write_text(json.dumps(shape))
    print(f"wrote {directory} in {time.perf_counter() - began:.1f} s")
    return directory


def write_big_run(directory: Path, lines: int) -> None:
    """One run: ``config.json`` and ``lines`` lines of step, train_loss, time (~70 bytes each)."""
    run = directory / "big_run"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"lr": 0.001, "max_steps": lines}))
    rng = np.random.default_rng(0)
    with open(run / "metrics.jsonl", "w") as handle:
        for start in range(0, lines, 500_000):
            steps = np.arange(start + 1, min(lines, start + 500_000) + 1)
            loss = 0.3 + 2.0 * np.exp(-steps / (lines / 3)) * np.exp(rng.normal(0, 0.03, steps.size))
            stamps = 1_700_000_000.0 + steps * 0.05
            handle.write("".join(
                f'{{"step": {step}, "train_loss": {value:.12f}, "time": {stamp:.3f}}}\n'
                for step, value, stamp in zip(steps.tolist(), loss.tolist(), stamps.tolist(), strict=True)
            ))  # fmt: skip
    (run / "DONE").write_text("")


def sweep_summary(directory: Path) -> str:
    files = lines = size = 0
    for folder, _dirs, names in os.walk(directory):
        for name in names:
            path = Path(folder) / name
            files += 1
            size += path.stat().st_size
            if name.endswith(".jsonl"):
                with open(path, "rb") as handle:
                    lines += sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(MB), b""))
    return f"{lines:,} lines, {size / MB:.0f} MB in {files:,} files"


# -- measurements --------------------------------------------------------------------------------
def verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def alternate(label: str, directory: Path, measure, rounds: int) -> list[tuple]:
    """``rounds`` pairs of (floor, measured), each pair run back to back, printed as they come."""
    pairs = []
    for number in range(1, rounds + 1):
        floor = floor_process(directory)
        measured = measure()
        pairs.append((floor, measured))
        inside = (f" (cpu {measured[1]:5.2f} s, peak RSS {measured[2]:5.0f} MB)"
                  if measured[1] == measured[1] else "")  # fmt: skip
        cpu = f" (cpu {measured[1] / floor[1]:.2f}x)" if inside else ""
        print(f"  round {number}: floor {floor[0]:6.2f} s (cpu {floor[1]:5.2f} s)   "
              f"{label} {measured[0]:6.2f} s{inside}   ratio {measured[0] / floor[0]:.2f}x{cpu}")
    return pairs


def conclude(label: str, pairs: list[tuple], target: float, rss: bool = True) -> None:
    ratios = [m[0] / f[0] for f, m in pairs]
    within = sum(ratio <= target for ratio in ratios)
    line = (f"{label}: median {statistics.median(ratios):.2f}x the floor "
            f"({', '.join(f'{r:.2f}' for r in ratios)}); {within} of {len(ratios)} "
            f"rounds within {target:g}x: {verdict(within * 2 > len(ratios))}")  # fmt: skip
    if rss:
        peak = max(m[2] for _, m in pairs)
        line += f"; peak RSS {peak:.0f} MB [< {RSS_TARGET_MB:g} MB: {verdict(peak < RSS_TARGET_MB)}]"
    print(line)


def bench_report(directory: Path, scratch: Path, rounds: int) -> None:
    output = scratch / "report.json"
    command = [sys.executable, "-m", "sweeptui", "report", str(directory), "--format", "json",
               "-o", str(output)]  # fmt: skip
    print("report (whole process, start to exit):")
    conclude("report", alternate("report", directory, lambda: run_process(command), rounds),
             REPORT_TARGET)  # fmt: skip


def watch_first_table(directory: Path, scratch: Path, runs: int) -> tuple[float, float, float]:
    """Seconds from starting ``sweeptui watch`` in tmux until the table shows every run."""
    socket = scratch / "tmux.sock"
    server = subprocess.Popen(["tmux", "-D", "-S", str(socket)], stdin=subprocess.DEVNULL, env=_env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    tmux = ["tmux", "-S", str(socket)]
    try:
        while not socket.exists():
            time.sleep(0.02)
        command = (f"cd {shlex.quote(str(scratch))} && PYTHONPATH={shlex.quote(str(REPO))} "
                   f"exec {shlex.quote(sys.executable)} -m sweeptui watch {shlex.quote(str(directory))} "
                   f"--no-alerts --export {shlex.quote(str(scratch / 'out'))}/")  # fmt: skip
        began = time.perf_counter()
        subprocess.run([*tmux, "new-session", "-d", "-s", "bench", "-x", "160", "-y", "48", command],
                       check=True)  # fmt: skip
        wanted = f"runs: {runs}/{runs}"
        while True:
            screen = subprocess.run([*tmux, "capture-pane", "-p", "-t", "bench"],
                                    capture_output=True, text=True).stdout  # fmt: skip
            if wanted in screen:
                return time.perf_counter() - began, float("nan"), float("nan")
            if time.perf_counter() - began > 600:
                raise SystemExit("watch never showed the whole table")
            time.sleep(0.05)
    finally:
        subprocess.run([*tmux, "send-keys", "-t", "bench", "q"], capture_output=True)
        time.sleep(1.0)
        subprocess.run([*tmux, "kill-server"], capture_output=True)
        server.wait(10)


def bench_watch(directory: Path, scratch: Path, runs: int, rounds: int) -> None:
    if shutil.which("tmux") is None:
        print("watch: skipped (needs tmux)")
        return
    print(f"watch (process start until the table shows runs: {runs}/{runs}):")
    pairs = alternate("watch", directory, lambda: watch_first_table(directory, scratch, runs), rounds)
    conclude("watch", pairs, WATCH_TARGET, rss=False)


def ingest_process(directory: Path, mode: str) -> tuple[float, float, float]:
    return run_process([sys.executable, "-c", INGEST, str(directory), mode])


def bench_memory(data: Path, big_lines: int, many_runs: int, rounds: int) -> None:
    from sweeptui.simulate import generate_benchmark_sweep

    baseline = ingest_process(data, "baseline")  # imports only
    print(f"memory: import-only baseline process {baseline[2]:.0f} MB peak RSS")
    big = prepared(data / f"big-{big_lines}", {"big_lines": big_lines},
                   lambda d: write_big_run(d, big_lines))  # fmt: skip
    print(f"memory: one run, {sweep_summary(big)} (load_sweep in a child process):")
    pairs = alternate("ingest", big, lambda: ingest_process(big, "ingest"), rounds)
    conclude("memory: big run", pairs, BIG_TARGET)
    many = prepared(data / f"many-{many_runs}", {"runs": many_runs, "steps": 50},
                    lambda d: generate_benchmark_sweep(d, runs=many_runs, steps=50))  # fmt: skip
    wall, _, peak = ingest_process(many, "ingest")
    print(f"memory: {many_runs:,} runs x 50 lines ({sweep_summary(many)}): load_sweep {wall:.2f} s, "
          f"peak RSS {peak:.0f} MB [< {RSS_TARGET_MB:g} MB: {verdict(peak < RSS_TARGET_MB)}]")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="sweeptui end-to-end benchmark")
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data", help="directory for the generated sweeps (reused)")
    parser.add_argument("--big-lines", type=int, default=5_000_000)
    parser.add_argument("--many-runs", type=int, default=20_000)
    parser.add_argument("--no-watch", action="store_true")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--only", choices=("report", "watch", "memory"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sweeptui-bench-") as scratch:
        data = Path(args.data) if args.data else Path(scratch) / "data"
        data.mkdir(parents=True, exist_ok=True)
        run(args, data, Path(scratch))
    return 0


def run(args: argparse.Namespace, data: Path, scratch: Path) -> None:
    from sweeptui.simulate import generate_benchmark_sweep

    sweep = prepared(data / f"sweep-{args.runs}x{args.steps}", {"runs": args.runs, "steps": args.steps},
                     lambda d: generate_benchmark_sweep(d, runs=args.runs, steps=args.steps))  # fmt: skip
    print(f"sweep: {args.runs} runs x {args.steps} steps: {sweep_summary(sweep)}; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    if args.only in (None, "report"):
        bench_report(sweep, scratch, args.rounds)
    if args.only in (None, "watch") and not args.no_watch:
        bench_watch(sweep, scratch, args.runs, args.rounds)
    if args.only in (None, "memory") and not args.no_memory:
        bench_memory(data, args.big_lines, args.many_runs, args.rounds)


if __name__ == "__main__":
    raise SystemExit(main())
