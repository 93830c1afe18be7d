"""Smoke tests of the ingest and detector benchmarks: each runs end to end and prints
every figure line.

No timing assertions: only that each measurement produced its line with a number.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_benchmark_prints_every_figure(tmp_path: Path) -> None:
    cache = tmp_path / "sweep"
    command = [sys.executable, str(REPO / "benchmarks" / "bench_ingest.py"),
               "--runs", "5", "--steps", "20", "--data", str(cache)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = {line.split(":", 1)[0].strip(): line for line in done.stdout.splitlines()}
    assert re.search(r"5 runs x 20 steps: 100 lines", lines["sweep"])
    for figure in ("raw read", "floor", "ingest"):
        assert re.search(r"\d+\.\d{3} s", lines[figure]), lines[figure]
    assert "x floor" in lines["ingest"]
    assert re.search(r"\d+\.\d MB above baseline", lines["peak RSS"])
    assert "report" in lines
    # a second run reuses the cached sweep instead of writing it again
    again = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert again.returncode == 0 and f"reused {cache}" in again.stdout


def test_detector_benchmark_prints_every_figure(tmp_path: Path) -> None:
    command = [sys.executable, str(REPO / "benchmarks" / "bench_detectors.py"),
               "--runs", "5", "--steps", "20", "--rounds", "2"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = {line.split(":", 1)[0].strip(): line for line in done.stdout.splitlines()}
    assert "5 runs x 20 steps" in lines["sweep"]
    assert re.search(r"5 metric batches of 5 runs, 300 points", lines["batches"])
    assert re.search(r"\d+\.\d{3} s  best of 2 .* ms a run, \d+ ns a point", lines["detectors"])
