"""The core never imports Textual; only ``sweeptui.app`` does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CORE = [
    "sweeptui.snapshot", "sweeptui.sweep", "sweeptui.report", "sweeptui.cli",
    "sweeptui.app.watcher", "sweeptui.app.ingest", "sweeptui.app.alerts", "sweeptui.app.export",
    "sweeptui.app.run",
]  # fmt: skip


def test_core_modules_do_not_import_textual() -> None:
    code = "import sys\n" + "".join(f"import {m}\n" for m in CORE) + "print('textual' in sys.modules)"
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True)
    assert out.stdout.strip() == "False"
