"""Benchmark the live app in a real terminal (tmux): 1,000 live runs, and 10,000 runs scrolled.

Run from the repository root: ``PYTHONPATH=. python benchmarks/bench_app.py``
(``--runs``, ``--seconds``, ``--scroll-runs`` shrink it for a quick look). Needs tmux.

* Live: ``sweeptui watch`` runs in a tmux pane while a separate writer process
  appends one JSONL record per second to each of ``--runs`` run directories.
  Key-press-to-redraw latency, two probes: from ``tmux send-keys ?`` until the pane
  shows the help screen (and from ``?`` again until it is gone): a screen switch; and
  from ``p`` until the header shows the PAUSED badge (and ``p`` again until it is
  gone): a light redraw. The pane is polled every 2 ms (the probe itself costs ~7 ms).
  Append latency: a record with a new step appended to a run the writer leaves alone
  (sorted first by name, so it is on screen) until its step shows in the table.
  Closing help with ``Escape`` is timed separately: a lone Esc byte is held ~100 ms
  by Textual's input thread before it counts as a key (it may start a key sequence).
  CPU: user + system time of the app process (UI + ingest thread; the writer is
  another process) as a percentage of one core, measured over the first half of the
  period with no key presses, then over the second half while the latency probes run.
* Scroll: ``--scroll-runs`` idle runs; latency of ``PageDown`` and ``Ctrl-End``/``Ctrl-Home``
  until the table region of the pane changes.

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
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
                  "max_steps": 100000}  # fmt: skip
        (run / "config.json").write_text(json.dumps(params))
        lines = [json.dumps({"step": s, "train_loss": 1.0 / (s + 1), "val_loss": 1.1 / (s + 1),
                             "time": now - points + s}) for s in range(points)]  # fmt: skip
        (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
        if finished:
            (run / "DONE").write_text("")


PROBE_STEP = 900001
"""Steps the append probe writes: numbers no other cell shows."""


def append_record(run: Path, step: int) -> None:
    """One JSONL record at ``step`` appended to ``run``'s log."""
    with open(run / "metrics.jsonl", "a") as log:
        log.write(json.dumps({"step": step, "train_loss": 0.5, "val_loss": 0.6, "time": time.time()}) + "\n")


class Pane:
    """The app running in a private tmux server."""

    def __init__(self, socket: Path, sweep: Path, width: int = 160, height: int = 48) -> None:
        self.socket = socket
        self.server = subprocess.Popen(["tmux", "-D", "-S", str(socket)], stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        while not socket.exists():
            time.sleep(0.05)
        command = (f"cd {shlex.quote(str(sweep.parent))} && PYTHONPATH={shlex.quote(str(ROOT))} "
                   f"exec {shlex.quote(sys.executable)} -m sweeptui watch {shlex.quote(str(sweep))} "
                   f"--export {shlex.quote(str(sweep.parent / 'out'))}/")  # fmt: skip
        self.tmux("new-session", "-d", "-s", "bench", "-x", str(width), "-y", str(height), command)
        self.pid = int(self.tmux("display-message", "-p", "-t", "bench", "#{pane_pid}").strip())

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-S", str(self.socket), *args], capture_output=True, text=True,
                              check=False).stdout  # fmt: skip

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "bench")

    def table(self) -> str:
        return "\n".join(self.screen().splitlines()[2:-1])

    def wait(self, condition, timeout: float = 600.0) -> float:
        start = time.perf_counter()
        while not condition():
            if time.perf_counter() - start > timeout:
                raise TimeoutError("the pane never showed what was expected")
            time.sleep(0.002)
        return time.perf_counter() - start

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        self.tmux("send-keys", "-t", "bench", "q")
        time.sleep(2)
        self.tmux("kill-server")
        self.server.wait(10)


def press_until(pane: Pane, key: str, condition) -> float:
    start = time.perf_counter()
    pane.tmux("send-keys", "-t", "bench", key)
    try:
        pane.wait(condition, timeout=60)
    except TimeoutError:
        print(f"no redraw after {key}; the pane shows:\n{pane.screen()}", file=sys.stderr)
        raise
    return time.perf_counter() - start


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return (f"median {statistics.median(ordered) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
            f"max {ordered[-1] * 1000:.0f} ms (n={len(ordered)})")  # fmt: skip


def live(runs: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sweep = Path(tmp) / "sweep"
        make_sweep(sweep, runs)
        probe = sweep / "a_probe"  # not written by the writer; first when sorted by name
        probe.mkdir()
        (probe / "config.json").write_text("{}")
        append_record(probe, 0)
        pane = Pane(Path(tmp) / "tmux.sock", sweep)
        try:
            loaded = pane.wait(lambda: f"{runs + 1} runs" in pane.screen())
            print(f"live: {runs} runs on screen {loaded:.1f}s after start")
            while "sort: name" not in pane.screen():  # the probe run first, on screen
                pane.tmux("send-keys", "-t", "bench", "s")
                time.sleep(0.2)
            writer = subprocess.Popen([sys.executable, "-c", WRITER, str(sweep), str(runs), str(seconds)])
            time.sleep(2)
            # First half: nobody touches the keyboard, so the CPU figure is the cost of
            # watching alone (drawing the help screen for each probe costs CPU too).
            cpu0, wall0 = pane.cpu_seconds(), time.perf_counter()
            time.sleep(max(1.0, (seconds - 2) / 2))
            watching = (pane.cpu_seconds() - cpu0) / (time.perf_counter() - wall0) * 100
            cpu0, wall0 = pane.cpu_seconds(), time.perf_counter()
            screens, escapes, badge, appends = [], [], [], []
            while writer.poll() is None:
                step = PROBE_STEP + len(appends)
                start = time.perf_counter()
                append_record(probe, step)
                pane.wait(lambda step=step: str(step) in pane.table(), timeout=60)
                appends.append(time.perf_counter() - start)
                # closed with "?" (the same binding as Esc): a lone Esc byte is held by
                # Textual's input thread ~100 ms (its ESCDELAY, checked in 100 ms steps)
                # to tell it from the start of an escape sequence, so Esc is timed apart
                for close in ("?", "Escape"):
                    screens.append(press_until(pane, "?", lambda: "Issue badges" in pane.screen()))
                    closed = press_until(pane, close, lambda: "Issue badges" not in pane.screen())
                    (escapes if close == "Escape" else screens).append(closed)
                    time.sleep(0.25)
                badge.append(press_until(pane, "p", lambda: "PAUSED" in pane.screen()))
                badge.append(press_until(pane, "p", lambda: "PAUSED" not in pane.screen()))
                time.sleep(0.25)
            probing = (pane.cpu_seconds() - cpu0) / (time.perf_counter() - wall0) * 100
            print(f"live: key-press-to-redraw, help screen open/close (?): {summary(screens)}")
            print(f"live: key-press-to-redraw, help screen closed with Esc: {summary(escapes)} "
                  f"(includes the ~100 ms wait for a lone Esc)")
            print(f"live: key-press-to-redraw, pause badge on/off (p): {summary(badge)}")
            print(f"live: a line appended to a run's log until it shows: {summary(appends)}")
            print(f"live: CPU {watching:.0f}% of one core (UI + ingest) while {runs} runs append "
                  f"every second; {probing:.0f}% while also opening and closing the help screen")
        finally:
            pane.close()


def scroll(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sweep = Path(tmp) / "sweep"
        start = time.perf_counter()
        make_sweep(sweep, runs, points=5)
        print(f"scroll: wrote {runs} runs in {time.perf_counter() - start:.1f}s")
        pane = Pane(Path(tmp) / "tmux.sock", sweep)
        try:
            loaded = pane.wait(lambda: f"runs: {runs}/{runs}" in pane.screen())
            print(f"scroll: {runs} runs in the table {loaded:.1f}s after start")
            time.sleep(1.5)
            samples = []
            for key in ("PageDown",) * 10 + ("C-End", "C-Home") + ("PageDown",) * 10:
                before = pane.table()
                samples.append(press_until(pane, key, lambda before=before: pane.table() != before))
                time.sleep(0.1)
            print(f"scroll: key-press-to-redraw {summary(samples)}")
            before = pane.table()
            elapsed = press_until(pane, "s", lambda: pane.table() != before)
            print(f"scroll: first sort change of {runs} rows redrawn in {elapsed * 1000:.0f} ms")
        finally:
            pane.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--scroll-runs", type=int, default=10000)
    parser.add_argument("--only", choices=("live", "scroll"), help="run just one of the two")
    args = parser.parse_args()
    if args.only != "scroll":
        live(args.runs, args.seconds)
    if args.only != "live":
        scroll(args.scroll_runs)


if __name__ == "__main__":
    main()
