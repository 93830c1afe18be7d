"""Crash causes in the real error texts that sweep tools write (from the committed fixtures)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sweeptui.failures import classify_failure, has_traceback

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture_text(pattern: str) -> str:
    (path,) = FIXTURES.glob(pattern)
    return path.read_text()


def test_ray_actor_death_is_a_kill_not_an_oom() -> None:
    text = fixture_text("ray/exp/*kind=killed*/error.txt")
    assert "OOM killer" in text  # Ray lists it among possible causes...
    failure = classify_failure(text)
    assert failure.kind == "killed"  # ...but nothing says it acted
    assert failure.reason == "worker process died unexpectedly"


def test_ray_oom_killer_message_is_an_oom() -> None:
    failure = classify_failure(fixture_text("ray/exp_oom/*/error.txt"))
    assert failure.kind == "oom" and failure.reason == "killed by Ray's OOM killer"


def test_ray_trial_exception_names_the_exception_type() -> None:
    failure = classify_failure(fixture_text("ray/exp/*kind=crash*/error.txt"))
    assert failure.kind == "crashed"
    assert failure.reason.startswith("ValueError: simulated bad batch")


def test_hydra_driver_log_and_shell_kill_line() -> None:
    texts = [path.read_text() for path in FIXTURES.glob("hydra/multirun/*/*/launcher.err")]
    crash = next(text for text in texts if "Error executing job" in text)
    kill = next(text for text in texts if "Killed" in text)
    assert classify_failure(crash).reason == "ValueError: simulated shape mismatch with lr=0.01"
    assert classify_failure(kill) == classify_failure("Killed")
    assert classify_failure(kill).kind == "killed"


def test_lightning_traceback_and_exit_codes() -> None:
    stderr = fixture_text("lightning/tiny/version_2/stderr.log")
    assert has_traceback(stderr)
    failure = classify_failure(stderr, exit_code=1)
    assert failure.reason.startswith("RuntimeError: simulated data error")
    assert classify_failure("", exit_code=137).reason == "SIGKILL (exit 137)"


@pytest.mark.parametrize(
    ("text", "kind", "reason_start"),
    [
        ("ray.exceptions.ActorDiedError: The actor died unexpectedly before finishing this task.",
         "killed", "worker process died unexpectedly"),
        ("Task was killed due to the node running low on memory.\nOOM kill reason: ...",
         "oom", "killed by Ray's OOM killer"),
        ("The worker died or was killed: SIGTERM received", "killed",
         "worker process died unexpectedly: SIGTERM"),
        ("RuntimeError: NCCL error in: ProcessGroupNCCL.cpp:1191, unhandled system error",
         "crashed", ""),
        ("Received SIGTERM: instance preempted by the cloud provider", "killed", "preempted"),
    ],
)
def test_tool_texts(text: str, kind: str, reason_start: str) -> None:
    failure = classify_failure(text)
    assert failure.kind == kind
    assert failure.reason.startswith(reason_start)
