"""Messages from the ingest thread to the app: small dataclasses around core results."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from sweeptui.app.export import ExportResult
from sweeptui.app.ingest import IngestError
from sweeptui.plotdata import CurveSet
from sweeptui.snapshot import RunDetail, SweepSnapshot


@dataclass
class SnapshotReady(Message):
    """A new sweep snapshot. Only the newest matters: it replaces a queued older one."""

    snapshot: SweepSnapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SnapshotReady)


@dataclass
class DetailReady(Message):
    """The detail of one run, asked for by the detail screen."""

    detail: RunDetail


@dataclass
class CurvesReady(Message):
    """The curves of the shown runs, asked for by the plot screen."""

    curves: CurveSet


@dataclass
class ExportFinished(Message):
    """An export asked for with ``e`` finished (or failed)."""

    result: ExportResult


@dataclass
class IngestFailed(Message):
    """One ingest cycle failed; monitoring goes on."""

    error: IngestError


def wrap(item: object) -> Message | None:
    """The message carrying a result emitted by the ingest thread (None for unknown items)."""
    if isinstance(item, SweepSnapshot):
        return SnapshotReady(item)
    if isinstance(item, RunDetail):
        return DetailReady(item)
    if isinstance(item, CurveSet):
        return CurvesReady(item)
    if isinstance(item, ExportResult):
        return ExportFinished(item)
    if isinstance(item, IngestError):
        return IngestFailed(item)
    return None
