"""Crash causes read from error text and exit codes, and early stops read from logs.

One place decides whether a dead run crashed, ran out of memory or was killed, and
names the cause in a short phrase ("CUDA out of memory", "ValueError: ...",
"SIGKILL (exit 137)"). Sources pass raw text; the store and the crash detector use
the verdict. :func:`early_stop` recognises the line a training library prints when
its early-stopping callback ends a run on purpose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sweeptui.textsafe import clean_text

_OOM_PATTERNS = (
    (
        re.compile(r"killed due to the node running low on memory|OOM kill reason", re.I),
        "killed by Ray's OOM killer",
    ),
    (re.compile(r"CUDA out of memory|CUDA error: out of memory", re.I), "CUDA out of memory"),
    (re.compile(r"torch\.(?:cuda\.)?OutOfMemoryError|\bOutOfMemoryError\b"), "OutOfMemoryError"),
    (re.compile(r"RESOURCE_EXHAUSTED|ResourceExhaustedError"), "device memory exhausted"),
    (re.compile(r"\bMemoryError\b"), "MemoryError"),
    (re.compile(r"oom[-_ ]kill|Out of memory: Killed process|OOMKilled", re.I), "killed by the OOM killer"),
    (re.compile(r"\bOut Of Memory\b|exceeded (?:job )?memory limit"), "out of memory (Slurm)"),
    (re.compile(r"Cannot allocate memory|std::bad_alloc", re.I), "cannot allocate memory"),
)
_NCCL = re.compile(r"NCCL (?:error|WARN|timeout)|ncclInternalError|ncclSystemError|ProcessGroupNCCL", re.I)
_TIMEOUT = re.compile(r"\b(?:TimeoutError|DistStoreError|Watchdog caught collective operation timeout)\b")
_PREEMPT = re.compile(r"preempt(?:ed|ion)|spot instance|DUE TO PREEMPTION", re.I)
SLURM_CANCEL = re.compile(
    r"\*\*\* (?:JOB|STEP) [\w.]+ ON \S+ CANCELLED AT \S+(?: DUE TO ([A-Z][A-Z ]*?))?(?: \*\*\*|$)",
    re.M,
)
"""slurmstepd's line when Slurm ends a job: ``*** JOB 42 ON node CANCELLED AT <time> DUE TO
TIME LIMIT ***`` (no reason: cancelled with ``scancel``)."""
_SIGNAL = re.compile(
    r"\b(SIGKILL|SIGTERM|SIGINT|SIGHUP|SIGSEGV|SIGABRT|SIGBUS)\b|signal (\d+)|\bKilled\b|Terminated"
)
_EXIT = re.compile(r"exit(?:ed)?(?: with)?(?: code| status)?[ =:]+(-?\d+)", re.I)
_EXCEPTION = re.compile(
    r"^(?:[\w.]+\.)?([A-Z]\w*(?:Error|Exception|Interrupt|Exit|Failure|Warning))(?::\s*(.*))?$",
    re.M,
)
_WORKER_DIED = re.compile(
    r"The actor died unexpectedly|actor is dead because its worker process has died"
    r"|Worker unexpectedly exits|worker died or was killed|raylet died",
    re.I,
)
_HINTS = re.compile(
    r"(?:Some common causes include:|There are some potential root causes\.).*"
    r"|\(1\)[^\n]*OOM killer[^\n]*\n?[^\n]*\(2\)[^\n]*ray stop[^\n]*(?:\n[^\n]*\(3\)[^\n]*)?",
    re.I,
)
"""Ray's boilerplate list of possible causes ("(1) OOM killer (2) ray stop (3) SIGSEGV",
worded differently across versions; it names the OOM killer whether or not it acted):
removed before the patterns run so a plain worker death is not called an OOM."""
_RAY_DEATHS = ("ActorDiedError", "RayActorError", "WorkerCrashedError", "ActorUnavailableError")
_TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\s+File \".*\", line \d+", re.M)

INTERRUPTED = "interrupted (Ctrl-C)"
"""The reason of a run stopped by KeyboardInterrupt, SIGINT or exit 130."""

SIGNAL_NAMES = {1: "SIGHUP", 2: "SIGINT", 6: "SIGABRT", 9: "SIGKILL", 11: "SIGSEGV", 15: "SIGTERM"}
KILLING_SIGNALS = {"SIGKILL", "SIGTERM", "SIGINT", "SIGHUP"}


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a run died: ``kind`` is the issue type, ``status`` the run status it implies."""

    kind: str  # "crashed", "oom" or "killed"
    reason: str

    @property
    def status(self) -> str:
        """``killed`` for signals and preemption, otherwise ``crashed`` (OOM included)."""
        return "killed" if self.kind == "killed" else "crashed"


def classify_failure(text: str, exit_code: int | None = None, status: str | None = None) -> Failure:
    """Read error text (a traceback, a log tail) and an exit code; say what killed the run.

    ``status`` is what the files claimed (``crashed``/``killed``) and wins when the
    text says nothing more specific.
    """
    # Coloured tracebacks (rich, colorlog) put escape codes before the exception name.
    text = _HINTS.sub("", clean_text(text or ""))
    if exit_code is None and (found := _EXIT.search(text)):
        exit_code = int(found.group(1))
    for pattern, reason in _OOM_PATTERNS:
        if pattern.search(text):
            return Failure("oom", _with_exit(reason, exit_code))
    if exit_code == 137 and re.search(r"memory|oom", text, re.I):
        return Failure("oom", "killed by the OOM killer (exit 137)")
    cancel = SLURM_CANCEL.search(text)
    if cancel is not None:
        why = (cancel.group(1) or "").strip().lower()
        if why == "preemption":
            return Failure("killed", "preempted (Slurm)")
        return Failure("killed", f"cancelled by Slurm: {why}" if why else "cancelled by Slurm (scancel)")
    exception = _last_exception(text)
    if _NCCL.search(text):
        named = exception is not None and "NCCL" in exception
        return Failure("crashed", exception if named else _join("NCCL error", exception))
    if _TIMEOUT.search(text) and exception is None:
        return Failure("crashed", "distributed timeout")
    signal = _signal(text, exit_code)
    if _PREEMPT.search(text):
        return Failure("killed", _join("preempted", signal))
    if _WORKER_DIED.search(text) and (exception is None or exception.startswith(_RAY_DEATHS)):
        return Failure("killed", _join("worker process died unexpectedly", signal))
    if _interrupted(exception, signal):
        return Failure("killed", _with_exit(INTERRUPTED, exit_code if exit_code != 130 else None))
    if exception is not None:
        return Failure("crashed", _with_exit(exception, exit_code))
    if signal is not None:
        return Failure("killed", signal)
    if status == "killed":
        return Failure("killed", _first_line(text) or "killed")
    if exit_code not in (None, 0):
        return Failure("crashed", f"exit code {exit_code}")
    return Failure("crashed", _first_line(text) or "error (no message)")


_EARLY_STOPS = (
    (re.compile(r"Signaling Trainer to stop"), "Lightning EarlyStopping"),
    (re.compile(r"^Epoch \d+: early stopping\b", re.M), "Keras EarlyStopping"),
    (re.compile(r"Early stopping, best iteration is"), "LightGBM early stopping"),
    (re.compile(r"Stopping\. Best iteration"), "XGBoost early stopping"),
)
"""Lines printed only when a callback stops training, never when it is merely configured
(a bare "early stopping" also appears in startup banners and config dumps)."""


def early_stop(text: str) -> str | None:
    """Which library's early stopping ended the run, when the log says so; else None."""
    for pattern, name in _EARLY_STOPS:
        if pattern.search(text):
            return name
    return None


def has_traceback(text: str) -> bool:
    """True when the text holds a Python traceback or a fatal error line."""
    return (
        bool(_TRACEBACK.search(text))
        or any(p.search(text) for p, _ in _OOM_PATTERNS)
        or bool(SLURM_CANCEL.search(text))
    )


def _last_exception(text: str) -> str | None:
    matches = list(_EXCEPTION.finditer(text))
    if not matches:
        return None
    last = matches[-1]
    name, detail = last.group(1), (last.group(2) or "").strip()
    return f"{name}: {_clip(detail)}" if detail else name


def _interrupted(exception: str | None, signal: str | None) -> bool:
    """A person pressed Ctrl-C: the last exception is KeyboardInterrupt, or SIGINT/exit 130.

    Checked before other exceptions: W&B writes ``KeyboardInterrupt`` and then exits
    with 255, which says nothing about the cause.
    """
    if exception is not None:
        return exception.startswith("KeyboardInterrupt")
    return signal is not None and signal.startswith("SIGINT")


def _signal(text: str, exit_code: int | None) -> str | None:
    if exit_code is not None and (exit_code > 128 or exit_code < 0):
        number = exit_code - 128 if exit_code > 128 else -exit_code
        name = SIGNAL_NAMES.get(number, f"signal {number}")
        if name in KILLING_SIGNALS or number in SIGNAL_NAMES:
            return f"{name} (exit {exit_code})"
    match = _SIGNAL.search(text)
    if match is None:
        return None
    if match.group(1):
        return match.group(1)
    if match.group(2):
        number = int(match.group(2))
        return SIGNAL_NAMES.get(number, f"signal {number}")
    return "SIGKILL" if match.group(0) == "Killed" else "SIGTERM"


def _with_exit(reason: str, exit_code: int | None) -> str:
    return f"{reason} (exit {exit_code})" if exit_code not in (None, 0, 1) else reason


def _join(head: str, tail: str | None) -> str:
    return f"{head}: {tail}" if tail else head


def _first_line(text: str) -> str:
    for line in text.strip().splitlines():
        if line.strip():
            return _clip(line.strip())
    return ""


def _clip(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def exit_code_reason(exit_code: int) -> str:
    """A short phrase for an exit code alone (``exit 137 (SIGKILL)``)."""
    signal = _signal("", exit_code)
    return signal or f"exit code {exit_code}"


__all__ = [
    "INTERRUPTED", "SLURM_CANCEL", "Failure", "classify_failure", "early_stop", "exit_code_reason",
    "has_traceback",
]  # fmt: skip
