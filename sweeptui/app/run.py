"""Running the live app: ``sweeptui watch`` and ``sweeptui demo``.

Sets up the sweep, the ingest thread and the optional ``--on-issue`` command,
runs the app, then (after the ingest thread is stopped and joined) writes the
final report from the store. Without a usable terminal (``TERM=dumb`` or stdout
not a TTY) it prints the headless report instead.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sweeptui.settings import Settings


@dataclass(frozen=True)
class WatchOptions:
    """What ``watch`` was asked to do, beyond the directory and detector settings."""

    metric: str | None = None
    goal: str | None = None
    source: str | None = None
    poll: float | None = None
    export: Path | None = None
    bell: bool = False
    alerts: bool = True
    on_issue: str | None = None
    export_on_exit: bool = True
    """False with ``--no-export``: quitting writes no report (``e`` still does)."""
    experiment: str | None = None
    """With a tracking server URL: the MLflow experiment that is the sweep."""


def terminal_usable() -> bool:
    """Whether a full-screen app can run here."""
    return os.environ.get("TERM", "") != "dumb" and sys.stdout.isatty()


def print_headless(root: Path | str, settings: Settings, options: WatchOptions) -> int:
    """The post-hoc Markdown report on stdout, with a note on stderr saying why."""
    from sweeptui.objective import choose_objective, unknown_metric
    from sweeptui.report import build_report, render
    from sweeptui.sweep import load_sweep

    print("sweeptui watch: no interactive terminal (TERM=dumb or not a TTY); "
          "printing the report instead", file=sys.stderr)  # fmt: skip
    sweep = load_sweep(root, settings, options.source, options.experiment)
    for line in sweep.unread():
        print(f"sweeptui: {line}", file=sys.stderr)
    problem = unknown_metric(sweep.store, options.metric) if options.metric else None
    if problem:
        print(f"sweeptui watch: error: --metric: {problem}", file=sys.stderr)
        return 2
    objective = choose_objective(sweep.store, options.metric, options.goal)
    sys.stdout.write(render(build_report(sweep.store, objective, settings=settings), "md"))
    return 0


UI_SWITCH_INTERVAL = 0.001
"""Seconds a busy thread may hold the interpreter while another waits, during ``watch``.

The UI thread takes the interpreter lock back after every write to the terminal; with
CPython's default (5 ms) each of those hand-overs could wait out a burst of the ingest
thread, and a frame has many of them."""


def watch(root: Path | str, settings: Settings, options: WatchOptions) -> int:
    """Run the live monitor on ``root`` (a directory or a tracking server's URL) until quit
    or a signal; then write the report."""
    if not terminal_usable():
        return print_headless(root, settings, options)
    from sweeptui.sweep import open_sweep

    sweep = open_sweep(root, settings, options.source, options.experiment, options.poll)
    if not sweep.remote:
        # The first full read, before any thread runs, so run directories are read in
        # child processes while this one imports the app; the ingest thread then reads
        # only what changed since.
        sweep.load(meanwhile=_import_app)
    from sweeptui.app.alerts import IssueCommand
    from sweeptui.app.app import SweepApp
    from sweeptui.app.export import export_report
    from sweeptui.app.ingest import make_ingest
    from sweeptui.objective import choose_objective

    command = IssueCommand(options.on_issue) if options.on_issue else None
    ingest = make_ingest(
        sweep, metric=options.metric, goal=options.goal, poll=options.poll,
        on_issue=command, export_target=options.export,
    )  # fmt: skip
    # a sweep already read is on screen from the first frame, not after the thread's first cycle
    first = None if sweep.remote else ingest.first_snapshot()
    app = SweepApp(ingest, snapshot=first, alerts=options.alerts, bell=options.bell, handle_signals=True)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(UI_SWITCH_INTERVAL)
    try:
        app.run()
    finally:
        sys.setswitchinterval(interval)
        ingest.stop()
        if command is not None:
            command.close()
    if not options.export_on_exit:
        _tell(f"sweeptui: no report written (--no-export; {app.exit_reason})")
        return 0
    objective = choose_objective(sweep.store, options.metric, options.goal)
    result = export_report(sweep.store, objective, options.export, settings=settings)
    if result.ok:
        _tell(exported_text(result, options.export, app.exit_reason))
        return 0
    _tell(f"sweeptui: could not write the report: {result.error}")
    if result.describe():
        _tell(f"sweeptui: wrote {result.describe()} ({app.exit_reason})")
    return 1


def _import_app() -> None:
    import sweeptui.app.app  # noqa: F401 - Textual and the widgets, for the app that follows


def exported_text(result, target: Path | None, reason: str) -> str:
    """The exit line saying where the report went (and, for the default place, how to change it)."""
    text = f"sweeptui: report written to {result.describe()} ({reason})"
    if target is None:
        text += "\n  (the current directory by default: --export PATH chooses where, --no-export skips it)"
    return text


def _tell(line: str) -> None:
    """Print to stderr if a terminal is still there (after SIGHUP it may be gone)."""
    # After SIGHUP the terminal may be gone with the ssh link; the files are what matters.
    with contextlib.suppress(OSError, ValueError):
        print(line, file=sys.stderr, flush=True)


def demo(directory: Path | None, settings: Settings, options: WatchOptions, speed: float = 30.0) -> int:
    """Write a simulated sweep in real time (a background thread) and watch it."""
    from sweeptui.simulate import LiveSimulator, demo_plans

    root = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="sweeptui-demo-"))
    simulator = LiveSimulator(root, demo_plans())
    stop = threading.Event()
    writer = threading.Thread(target=_drive, args=(simulator, stop, speed), name="sweeptui-demo", daemon=True)
    writer.start()
    _tell(f"sweeptui demo: writing a simulated sweep into {root}")
    try:
        return watch(root, settings, options)
    finally:
        stop.set()
        writer.join(timeout=5)


def _drive(simulator, stop: threading.Event, speed: float, tick: float = 0.5) -> None:
    """Advance the simulator ``speed`` simulated seconds per wall second until stopped or done."""
    began = time.monotonic()
    while not stop.is_set() and not simulator.done:
        simulator.step(simulator.base_time + (time.monotonic() - began) * speed)
        stop.wait(tick)
