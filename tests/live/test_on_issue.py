"""``--on-issue``: a real command receives each issue as JSON on stdin."""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

from sweeptui.app.alerts import IssueCommand
from sweeptui.issues import Issue


def _append_stdin_to(path: Path) -> str:
    script = f"import sys; open({str(path)!r}, 'a').write(sys.stdin.read())"
    return f"{sys.executable} -c \"{script}\""


def test_each_issue_reaches_the_command_as_json(tmp_path: Path) -> None:
    out = tmp_path / "issues.jsonl"
    command = IssueCommand(_append_stdin_to(out))
    command.submit([
        (Issue("nan_or_inf_metric", "runs/a", "val_loss became NaN", step=12.0, metric="val_loss"), "a"),
        (Issue("divergence", "runs/b", "loss x40", step=math.inf), "b [red]"),
    ])  # fmt: skip
    command.close(timeout=30)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["type"] for line in lines] == ["nan_or_inf_metric", "divergence"]
    assert lines[0]["run"] == "runs/a" and lines[0]["step"] == 12.0 and lines[0]["severity"] == "high"
    assert lines[1]["run_name"] == "b [red]" and lines[1]["step"] is None  # no NaN/inf in JSON
    assert command.failures == []


def test_a_slow_command_never_piles_up(tmp_path: Path) -> None:
    command = IssueCommand(f"{sys.executable} -c \"import time; time.sleep(2)\"", queue_size=1)
    started = time.monotonic()
    command.submit((Issue("crashed", f"r{i}", "died"), None) for i in range(10))
    submit_seconds = time.monotonic() - started
    assert command.dropped >= 8  # one running at most, one queued, the rest dropped
    command.close(timeout=0.1)
    print(f"submitting 10 issues took {submit_seconds:.3f}s")


def test_a_missing_command_is_reported_not_raised(tmp_path: Path) -> None:
    command = IssueCommand(str(tmp_path / "no-such-command"))
    command.submit([(Issue("oom", "r", "out of memory"), None)])
    command.close(timeout=10)
    assert command.failures and "no-such-command" in command.failures[0]
