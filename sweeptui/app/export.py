"""Where the app's report goes, and writing it (Markdown and JSON, atomically; HTML on request).

``--export PATH`` is a directory (existing, ending in a slash, or without a
suffix) that receives a timestamped pair, or a file path whose sibling gets the
other format (``out/sweep.md`` -> ``out/sweep.json``). A ``.html`` path gets the
HTML report with charts, and the Markdown and JSON beside it (``out/sweep.html``
-> ``out/sweep.md``, ``out/sweep.json``). Without it, the pair goes to the current
directory as ``sweeptui-report-YYYYmmdd-HHMMSS.md/.json``. This module does not
import Textual (nor the plotting library, unless HTML is written).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from sweeptui.objective import Objective
from sweeptui.settings import Settings
from sweeptui.store import RunStore


@dataclass(frozen=True, slots=True)
class ExportResult:
    """The files one export wrote, or why it failed."""

    markdown: Path | None
    json: Path | None
    error: str | None = None
    html: Path | None = None

    @property
    def ok(self) -> bool:
        """True when every file was written."""
        return self.error is None

    def describe(self) -> str:
        """``a.html, a.md and a.json``: the files, for a message."""
        names = [str(p) for p in (self.html, self.markdown, self.json) if p is not None]
        return ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else "".join(names)


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
    if target.suffix.lower() in (".html", ".htm"):
        return target.with_suffix(".md"), target.with_suffix(".json")
    return target, target.with_suffix(".json")


def html_path(target: Path | None) -> Path | None:
    """The HTML file an export to ``target`` writes: only a ``.html`` target asks for one."""
    if target is None or target.suffix.lower() not in (".html", ".htm") or target.is_dir():
        return None
    return target


def export_report(
    store: RunStore, objective: Objective | None, target: Path | None, now: float | None = None,
    settings: Settings | None = None,
) -> ExportResult:  # fmt: skip
    """Build the report from ``store`` and write every format asked for; errors are returned, not raised.

    Each format is written on its own: one that fails (a full disk, a folder where the
    file should go) is named in ``error`` and the others are still written; the result
    holds the paths of those written.
    """
    from sweeptui.report import build_report, write_report  # the analysis (pandas): when it is written

    markdown, json_path = export_paths(target, now)
    page = html_path(target)
    report = build_report(store, objective, settings=settings)
    written: dict[str, Path] = {}
    errors: list[str] = []
    for fmt, path in (("json", json_path), ("md", markdown), ("html", page)):
        if path is None:
            continue
        try:
            write_report(report, path, fmt)
            written[fmt] = path
        except OSError as exc:
            errors.append(f"{path}: {exc.strerror or exc}")
    error = "; ".join(errors) or None
    return ExportResult(written.get("md"), written.get("json"), error, written.get("html"))
