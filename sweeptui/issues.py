"""Issues: what detectors report about a run (or the whole sweep).

The type names are part of the report's JSON schema and of the app's badges, so
they live here once and nowhere else.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum


class Severity(str, Enum):
    """How urgently a person should look."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """0 for high, 2 for low: sorts the worst first."""
        return ("high", "medium", "low").index(self.value)


ISSUE_TYPES: dict[str, tuple[Severity, str]] = {
    "nan_or_inf_metric": (Severity.HIGH, "a metric became NaN or infinite"),
    "divergence": (Severity.HIGH, "a loss exploded"),
    "crashed": (Severity.HIGH, "the run died with an error"),
    "oom": (Severity.HIGH, "the run ran out of memory"),
    "killed": (Severity.HIGH, "ended by a signal, or vanished mid-run"),
    "stalled": (Severity.MEDIUM, "silent for longer than its own cadence allows"),
    "short_run": (Severity.MEDIUM, "ended with far fewer steps than expected"),
    "overfitting_suspect": (Severity.MEDIUM, "validation loss rises while training loss falls"),
    "crash_loop": (Severity.HIGH, "most of the latest runs died early"),
}
"""Every issue type: its severity and a one-line description."""

SWEEP_RUN_ID = "*"
"""The ``run`` of a sweep-level issue (``crash_loop``)."""


@dataclass(frozen=True, slots=True)
class Issue:
    """One finding: a run went bad in a specific way, at a specific step.

    ``step``/``epoch`` give the onset where it is known; ``metric`` the metric that
    showed it. ``message`` is one line with the numbers. ``time`` is when the
    evidence was seen (record time when known, else ingestion time).
    """

    type: str
    run: str
    message: str
    step: float | None = None
    epoch: float | None = None
    metric: str | None = None
    time: float | None = None

    def __post_init__(self) -> None:
        if self.type not in ISSUE_TYPES:
            raise ValueError(f"unknown issue type {self.type!r}")

    @property
    def severity(self) -> Severity:
        """Fixed per type: see :data:`ISSUE_TYPES`."""
        return ISSUE_TYPES[self.type][0]

    def to_dict(self) -> dict:
        """The issue as it appears in ``issues[]`` of the JSON report."""
        data = asdict(self)
        data["severity"] = self.severity.value
        return data
