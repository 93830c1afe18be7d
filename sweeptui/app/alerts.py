"""``--on-issue CMD``: run a command for each new issue, never blocking anything.

The command gets the issue as JSON on stdin (the report's ``issues[]`` shape plus
``run_name`` and ``run_dir``, the run's directory or file, so a command can find what
the run left there: a PID file, a Slurm job id). One worker thread runs the commands one after another from a
bounded queue: a slow command delays later alerts but never piles up threads or
processes; when the queue is full, further issues are counted as dropped.
This module does not import Textual.
"""

from __future__ import annotations

import contextlib
import math
import queue
import shlex
import subprocess
import threading
from collections.abc import Iterable

import orjson

from sweeptui.issues import Issue

QUEUE_SIZE = 100
COMMAND_TIMEOUT = 60.0


def issue_payload(issue: Issue, run_name: str | None = None, run_dir: str | None = None) -> bytes:
    """The JSON document a command receives for ``issue``."""
    data = issue.to_dict()
    data["run_name"] = run_name
    data["run_dir"] = run_dir
    data = {key: _json_safe(value) for key, value in data.items()}
    return orjson.dumps(data) + b"\n"


def _json_safe(value: object) -> object:
    """JSON has no NaN or infinity: those become null."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


class IssueCommand:
    """Runs ``command`` (a shell-like string, split with :mod:`shlex`) once per issue."""

    def __init__(self, command: str, timeout: float = COMMAND_TIMEOUT, queue_size: int = QUEUE_SIZE) -> None:
        self.argv = shlex.split(command)
        if not self.argv:
            raise ValueError("--on-issue needs a command")
        self.timeout = timeout
        self.dropped = 0
        self.failures: list[str] = []
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=queue_size)
        self._thread = threading.Thread(target=self._work, name="sweeptui-on-issue", daemon=True)
        self._thread.start()

    def submit(self, issues: Iterable[tuple[Issue, ...]]) -> None:
        """Queue one command run per (issue, run name[, run directory]); never blocks."""
        for issue, *about in issues:
            try:
                self._queue.put_nowait(issue_payload(issue, *about))
            except queue.Full:
                self.dropped += 1

    def close(self, timeout: float = 5.0) -> None:
        """Let queued commands finish (up to ``timeout`` seconds), then stop the worker."""
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=timeout)
        self._thread.join(timeout)

    def _work(self) -> None:
        while (payload := self._queue.get()) is not None:
            self._run(payload)

    def _run(self, payload: bytes) -> None:
        try:
            subprocess.run(
                self.argv, input=payload, timeout=self.timeout, check=False,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        except (OSError, subprocess.SubprocessError) as exc:
            if len(self.failures) < 20:
                self.failures.append(f"{self.argv[0]}: {exc}")
