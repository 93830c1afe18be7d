"""End to end: the real ``sweeptui watch`` in a real terminal (tmux), ended by SIGHUP
(the ssh link drops) or SIGTERM (a job scheduler or ``kill``)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from live.helpers import append_points, healthy, write_run

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.tmux,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


class Tmux:
    """A private tmux server (its own socket), stopped at the end."""

    def __init__(self, socket: Path) -> None:
        self.socket = socket
        self.server: subprocess.Popen | None = None

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["tmux", "-S", str(self.socket), *args], capture_output=True, text=True,
                              check=check, timeout=20)  # fmt: skip

    def new_session(self, name: str, command: str, width: int, height: int) -> None:
        args = ("new-session", "-d", "-s", name, "-x", str(width), "-y", str(height), command)
        if self.run(*args, check=False).returncode == 0:
            return
        # Where tmux cannot daemonise (no character device at /dev/null in some sandboxes),
        # run the server in the foreground as our own child instead.
        self.server = subprocess.Popen(["tmux", "-D", "-S", str(self.socket)],
                                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)  # fmt: skip
        wait_until(self.socket.exists, 10, "the tmux server")
        self.run(*args)

    def screen(self, name: str) -> str:
        return self.run("capture-pane", "-p", "-t", name, check=False).stdout

    def pane_pid(self, name: str) -> int:
        return int(self.run("display-message", "-p", "-t", name, "#{pane_pid}").stdout.strip())

    def stop(self) -> None:
        self.run("kill-server", check=False)
        if self.server is not None:
            self.server.terminate()
            self.server.wait(10)


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def watch_command(cwd: Path, prefix: str, *args: str | Path) -> str:
    """The shell command that runs ``sweeptui watch ARGS`` from ``cwd`` in a colour terminal."""
    words = " ".join(shlex.quote(str(arg)) for arg in args)
    return (f"cd {shlex.quote(str(cwd))} && PYTHONPATH={shlex.quote(str(ROOT))} TERM=xterm-256color "
            f"{prefix} {shlex.quote(sys.executable)} -m sweeptui watch {words}")  # fmt: skip


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    server = Tmux(tmp_path / "tmux.sock")
    yield server
    server.stop()


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM], ids=["SIGHUP", "SIGTERM"])
def test_watch_updates_live_and_writes_the_report_on_a_signal(
    tmp_path: Path, tmux: Tmux, signum: signal.Signals
) -> None:
    sweep = tmp_path / "sweep"
    write_run(sweep, "first_run", {"lr": 0.1, "epochs": 50}, healthy(3))
    out = tmp_path / "out" / "final.md"
    out.parent.mkdir()
    command = watch_command(tmp_path, "exec", sweep, "--export", out)
    tmux.new_session("watch", command, 120, 40)
    wait_until(lambda: "first_run" in tmux.screen("watch"), 30, "the first run on screen")

    write_run(sweep, "second_run", {"lr": 0.01, "epochs": 50}, healthy(2))
    append_points(sweep / "first_run", healthy(9)[3:])
    wait_until(lambda: "second_run" in tmux.screen("watch"), 30, "the new run on screen")
    wait_until(lambda: "ep 8" in tmux.screen("watch"), 30, "the appended points on screen")

    pid = tmux.pane_pid("watch")
    os.kill(pid, signum)
    wait_until(lambda: out.with_suffix(".json").exists() and out.exists(), 30, "the report files")
    report = json.loads(out.with_suffix(".json").read_text())
    assert sorted(run["id"] for run in report["runs"]) == ["first_run", "second_run"]
    assert "second_run" in out.read_text()


@pytest.mark.parametrize("no_export", [False, True], ids=["default", "no-export"])
def test_quitting_says_where_the_report_went_or_writes_none(
    tmp_path: Path, tmux: Tmux, no_export: bool
) -> None:
    sweep = tmp_path / "sweep"
    write_run(sweep, "only_run", {"lr": 0.1, "epochs": 50}, healthy(3))
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    flag = " --no-export" if no_export else ""
    command = (
        f"cd {shlex.quote(str(cwd))} && PYTHONPATH={shlex.quote(str(ROOT))} TERM=xterm-256color "
        f"{shlex.quote(sys.executable)} -m sweeptui watch {shlex.quote(str(sweep))}{flag}; sleep 30"
    )
    tmux.new_session("quit", command, 120, 30)
    wait_until(lambda: "only_run" in tmux.screen("quit"), 30, "the run on screen")
    tmux.run("send-keys", "-t", "quit", "q")
    wait_until(lambda: "sweeptui: " in tmux.screen("quit"), 30, "the exit line")
    written = sorted(p.name for p in cwd.iterdir())
    screen = " ".join(tmux.screen("quit").split())
    if no_export:
        assert written == [] and "no report written (--no-export; quit)" in screen
    else:
        assert [Path(name).suffix for name in written] == [".json", ".md"]
        assert str(cwd / written[1]) in "".join(screen.split())  # the path may wrap across lines
        assert "report written to" in screen and "--no-export skips it" in screen


def test_a_write_that_fails_on_quit_is_one_line_and_keeps_the_other_files(tmp_path: Path, tmux: Tmux) -> None:
    sweep = tmp_path / "sweep"
    write_run(sweep, "only_run", {"lr": 0.1, "epochs": 50}, healthy(3))
    out = tmp_path / "out" / "final.md"
    out.parent.mkdir()
    command = watch_command(tmp_path, "", sweep, "--export", out) + "; echo exit=$?; sleep 30"
    tmux.new_session("fail", command, 200, 30)
    wait_until(lambda: "only_run" in tmux.screen("fail"), 30, "the run on screen")
    out.with_suffix(".json").mkdir()  # the JSON report's place taken after startup
    tmux.run("send-keys", "-t", "fail", "q")
    wait_until(lambda: "exit=" in tmux.screen("fail"), 30, "the exit line")
    screen = tmux.screen("fail")
    assert f"sweeptui: could not write the report: {out.with_suffix('.json')}: Is a directory" in screen
    assert f"sweeptui: wrote {out} (quit)" in screen and "exit=1" in screen
    assert "Traceback" not in screen
    assert out.read_text().startswith("# Sweep report")
