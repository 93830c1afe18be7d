#!/usr/bin/env python3
"""Stop a run the moment it goes NaN or diverges: ``sweeptui watch DIR --on-issue 'python3 stop_by_pid.py'``.

The training script leaves its process id in its run directory (``pid``, one line), e.g.
``Path(run_dir, "pid").write_text(str(os.getpid()))``. sweeptui hands each new issue to this
script as JSON on stdin; for a NaN or a divergence it sends SIGTERM to that process, so the
run stops burning GPU hours on a result nobody can use. Deaths need no action.
"""

import contextlib
import json
import os
import signal
import sys
from pathlib import Path

DOOMED = {"nan_or_inf_metric", "divergence"}

issue = json.load(sys.stdin)
if issue["type"] not in DOOMED or not issue.get("run_dir"):
    sys.exit(0)
run_dir = Path(issue["run_dir"])
pid_file = (run_dir if run_dir.is_dir() else run_dir.parent) / "pid"
try:
    pid = int(pid_file.read_text().split()[0])
except (OSError, ValueError, IndexError):
    sys.exit(f"{issue['run']}: no readable pid file at {pid_file}")
with contextlib.suppress(ProcessLookupError):  # already gone
    os.kill(pid, signal.SIGTERM)
print(f"{issue['run']}: {issue['message']}; sent SIGTERM to {pid}")
