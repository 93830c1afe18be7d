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
