"""Without a terminal, ``watch`` prints the headless report and says why on stderr."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from live.helpers import healthy, write_run

ROOT = Path(__file__).resolve().parents[2]


def test_watch_without_a_tty_prints_the_report(tmp_path: Path) -> None:
    write_run(tmp_path, "run_a", {"lr": 0.1}, healthy(4))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TERM": "xterm-256color"}
    out = subprocess.run(
        [sys.executable, "-m", "sweeptui", "watch", str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("# Sweep report")
    assert "run_a" in out.stdout
    assert "no interactive terminal" in out.stderr


def test_watch_rejects_a_missing_directory(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "sweeptui", "watch", str(tmp_path / "nope")],
                         capture_output=True, text=True, env=env, timeout=60)  # fmt: skip
    assert out.returncode == 2 and "directory not found" in out.stderr
