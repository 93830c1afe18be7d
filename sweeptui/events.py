"""Typed events: the only thing sources hand to the rest of sweeptui.

A source reads files and emits these; the store applies them. Nothing here knows
about files, detectors or the UI. Events are plain slotted dataclasses so a batch
of thousands costs little to build.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import Literal

EndStatus = Literal["finished", "crashed", "killed"]
"""How a run ended, as far as its files say. ``failed`` (and every status of a run
without an end) is derived by :mod:`sweeptui.lifecycle`."""


@dataclass(slots=True)
class RunSeen:
    """A run exists (or its metadata changed). Emitted before any other event for it.

    ``params`` replaces the known params when not ``None``; nested dicts are allowed
    (the store flattens them to dotted keys).
    """

    run_id: str
    name: str
    path: str
    source: str
    params: dict | None = None
    started_at: float | None = None
    origin: str | None = None
    """The appended log ``started_at`` comes from, when a reset of it may withdraw it."""


@dataclass(slots=True)
class Series:
    """New points of one metric: parallel ``steps`` and ``values`` (float64 arrays).

    Values may be NaN or +/-inf: those are data, never dropped.
    """

    steps: array = field(default_factory=lambda: array("d"))
    values: array = field(default_factory=lambda: array("d"))


@dataclass(slots=True)
class MetricBatch:
    """New metric records of one run, in columns.

    ``records`` counts the complete records this batch came from (one JSONL line,
    CSV row or per-epoch entry each). ``times`` holds the wall-clock timestamps of
    the records that carried one (seconds since the epoch), used for cadence and
    stall detection; ``mtime`` is the file's modification time when records carry
    no timestamp. ``epochs`` maps step -> epoch where the log records both.
    ``origin`` names the file the points came from, when a :class:`FileReset` may
    later withdraw them (an appended log); None for points that stay.
    """

    run_id: str
    metrics: dict[str, Series]
    records: int
    times: array = field(default_factory=lambda: array("d"))
    mtime: float | None = None
    epochs: Series | None = None
    origin: str | None = None


@dataclass(slots=True)
class SummarySeen:
    """Final or summary values of a run (``final_test_loss``, ``training_time_seconds``...)."""

    run_id: str
    values: dict[str, float]


@dataclass(slots=True)
class RunEnded:
    """A run's files say it ended: an end marker, an exit code, or error text.

    ``status`` is ``None`` when only error text is known and the classifier in
    :mod:`sweeptui.failures` should decide. ``error`` is the raw text (tail of a
    traceback or log), kept for the detail view and for crash classification.
    """

    run_id: str
    status: EndStatus | None
    error: str | None = None
    exit_code: int | None = None
    time: float | None = None
    stopped_early: bool = False
    """The sweep tool ended the run on purpose before its planned length (a pruner, an
    early-stopping scheduler, a stopper): a short run that is no problem."""
    evidence: str | None = None
    """What said so, in a few words for the run's status reason (``"DONE file"``,
    ``"Optuna state PRUNED"``, ``"Slurm state TIMEOUT"``); None: the status alone."""
    origin: str | None = None
    """The appended log that said so (an end line in a metric log, a journal), when a
    :class:`FileReset` of it may withdraw the claim; None for evidence that stays."""


@dataclass(slots=True)
class FileReset:
    """An appended log was replaced (a new file under its name) or truncated: the points
    it gave the run so far (its ``MetricBatch.origin``) no longer stand.

    The store drops them, and any end the file claimed (``RunEnded.origin``), and the
    detectors judge the run again; what the file holds now follows in events of that
    origin, read from its start. ``kind`` is ``"replaced"`` or ``"truncated"``.
    """

    run_id: str
    path: str
    kind: str


@dataclass(slots=True)
class RunWithdrawn:
    """A run shown earlier turned out not to be a run of the sweep (the parent of nested
    trials, a run deleted in its tool): it leaves the store with its issues. ``reason``
    says why, for the views' notes."""

    run_id: str
    reason: str


@dataclass(slots=True)
class SourceWarning:
    """Something in the input could not be read as expected; shown, never fatal."""

    path: str
    message: str


Event = RunSeen | MetricBatch | SummarySeen | RunEnded | FileReset | RunWithdrawn | SourceWarning
