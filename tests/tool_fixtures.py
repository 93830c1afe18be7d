"""Helpers for the tool-layout tests: copy a committed fixture, load it, find its runs."""

from __future__ import annotations

import shutil
from pathlib import Path

from sweeptui.store import Run
from sweeptui.sweep import Sweep

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def copy_fixture(tool: str, target: Path) -> Path:
    """Copy ``tests/fixtures/<tool>`` to ``target/<tool>`` and return the copy."""
    destination = target / tool
    shutil.copytree(FIXTURES / tool, destination)
    return destination


def load(root: Path, source: str | None = None) -> Sweep:
    """A Sweep that read everything under ``root`` once (with post-hoc detectors)."""
    sweep = Sweep(root, source=source)
    sweep.load()
    return sweep


def run_where(sweep: Sweep, fragment: str) -> Run:
    """The one run whose id contains ``fragment``."""
    found = [run for run in sweep.store if fragment in run.id]
    assert len(found) == 1, f"{fragment!r} matched {[run.id for run in found]}"
    return found[0]


def report_everything(sweep: Sweep, target: Path) -> str:
    """Every view of a loaded sweep: the report in each format, the export written on
    exit, and an analysed app snapshot. Returns the Markdown; any crash fails the test."""
    from sweeptui.app.export import export_report
    from sweeptui.objective import choose_objective
    from sweeptui.report import build_report, render
    from sweeptui.snapshot import SnapshotBuilder

    objective = choose_objective(sweep.store)
    report = build_report(sweep.store, objective)
    markdown = render(report, "md")
    render(report, "json")
    render(report, "html")
    exported = export_report(sweep.store, objective, target / "export.md")
    assert exported.error is None and exported.markdown.is_file() and exported.json.is_file()
    SnapshotBuilder(sweep.store).build(analyse=True)
    return markdown
