"""Where the app's report goes, and writing it (Markdown and JSON, atomically).

``--export PATH`` is a directory (existing, ending in a slash, or without a
suffix) that receives a timestamped pair, or a file path whose sibling gets the
other format (``out/sweep.md`` -> ``out/sweep.json``). Without it, the pair goes
to the current directory as ``sweeptui-report-YYYYmmdd-HHMMSS.md/.json``.
This module does not import Textual.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from sweeptui.objective import Objective
from sweeptui.report import build_report, write_report
from sweeptui.settings import Settings
from sweeptui.store import RunStore


@dataclass(frozen=True, slots=True)
class ExportResult:
    """The files one export wrote, or why it failed."""

    markdown: Path | None
    json: Path | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when both files were written."""
        return self.error is None


def export_paths(target: Path | None, now: float | None = None) -> tuple[Path, Path]:
    """The Markdown and JSON paths an export to ``target`` writes."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(time.time() if now is None else now))
    if target is None:
        target = Path.cwd()
    text = str(target)
    if target.is_dir() or text.endswith(("/", "\\")) or not target.suffix:
        base = target / f"sweeptui-report-{stamp}"
        return base.with_suffix(".md"), base.with_suffix(".json")
    if target.suffix.lower() == ".json":
        return target.with_suffix(".md"), target
    return target, target.with_suffix(".json")


def export_report(
    store: RunStore, objective: Objective | None, target: Path | None, now: float | None = None,
    settings: Settings | None = None,
) -> ExportResult:  # fmt: skip
    """Build the report from ``store`` and write both formats; errors are returned, not raised."""
    markdown, json_path = export_paths(target, now)
    try:
        report = build_report(store, objective, settings=settings)
        write_report(report, json_path, "json")
        write_report(report, markdown, "md")
    except OSError as exc:
        return ExportResult(markdown, json_path, f"{exc.strerror or exc}: {exc.filename or markdown}")
    return ExportResult(markdown, json_path)
