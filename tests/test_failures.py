"""Crash causes read from error text and exit codes."""

from __future__ import annotations

import pytest

from sweeptui.failures import classify_failure, has_traceback

TRACEBACK = 'Traceback (most recent call last):\n  File "train.py", line 10, in <module>\n'


@pytest.mark.parametrize(
    ("text", "exit_code", "kind", "reason"),
    [
        (TRACEBACK + "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate", None, "oom",
         "CUDA out of memory"),
        ("Out of memory: Killed process 4242 (python)", 137, "oom", "killed by the OOM killer (exit 137)"),
        (TRACEBACK + "ValueError: shapes (3,) and (4,) not aligned", None, "crashed",
         "ValueError: shapes (3,) and (4,) not aligned"),
        ("", 137, "killed", "SIGKILL (exit 137)"),
        ("", -15, "killed", "SIGTERM (exit -15)"),
        ("Killed", None, "killed", "SIGKILL"),
        ("srun: error: *** JOB 12 CANCELLED DUE TO PREEMPTION ***", None, "killed", "preempted"),
        ("RuntimeError: NCCL error in: ProcessGroupNCCL.cpp:1191, unhandled system error", None,
         "crashed", "RuntimeError: NCCL error in: ProcessGroupNCCL.cpp:1191, unhandled system error"),
        ("ncclInternalError: Internal check failed", None, "crashed", "NCCL error"),
        ("", 2, "crashed", "exit code 2"),
        ("worker process exited with exit code 137", None, "killed", "SIGKILL (exit 137)"),
    ],
)  # fmt: skip
def test_classify_failure_names_the_cause(text, exit_code, kind, reason):
    failure = classify_failure(text, exit_code)
    assert (failure.kind, failure.reason) == (kind, reason)


def test_colour_codes_do_not_hide_the_exception():
    text = TRACEBACK + "\x1b[31mValueError\x1b[0m: \x1b[1mboom\x1b[0m\n"
    assert classify_failure(text).reason == "ValueError: boom"


def test_status_claim_is_kept_when_text_is_silent():
    assert classify_failure("stopped", None, "killed").kind == "killed"
    assert classify_failure("stopped", None, "crashed").kind == "crashed"


def test_has_traceback():
    assert has_traceback(TRACEBACK + "KeyError: 'x'")
    assert not has_traceback("epoch 1 loss 0.3\nepoch 2 loss 0.2\n")
