"""Where ``--export`` puts the Markdown and JSON report (and the HTML one, when asked)."""

from __future__ import annotations

import time
from pathlib import Path

from sweeptui.app.export import export_paths, export_report
from sweeptui.objective import choose_objective
from sweeptui.sweep import load_sweep

SAMPLE = Path(__file__).resolve().parents[2] / "sample_runs" / "crash_loop_sweep"

NOW = time.mktime((2026, 1, 2, 3, 4, 5, 0, 0, -1))


def test_directory_gets_a_timestamped_pair(tmp_path: Path) -> None:
    md, js = export_paths(tmp_path, NOW)
    assert (md, js) == (tmp_path / "sweeptui-report-20260102-030405.md",
                        tmp_path / "sweeptui-report-20260102-030405.json")  # fmt: skip
    assert export_paths(tmp_path / "new-dir", NOW)[0].parent == tmp_path / "new-dir"


def test_file_path_gets_a_sibling(tmp_path: Path) -> None:
    assert export_paths(tmp_path / "r.md", NOW) == (tmp_path / "r.md", tmp_path / "r.json")
    assert export_paths(tmp_path / "r.json", NOW) == (tmp_path / "r.md", tmp_path / "r.json")


def test_default_is_the_current_directory(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    md, js = export_paths(None, NOW)
    assert md.parent == tmp_path and md.name.startswith("sweeptui-report-") and js.suffix == ".json"


def test_an_html_path_gets_the_charts_and_both_other_formats(tmp_path: Path) -> None:
    assert export_paths(tmp_path / "r.html", NOW) == (tmp_path / "r.md", tmp_path / "r.json")
    sweep = load_sweep(SAMPLE)
    result = export_report(sweep.store, choose_objective(sweep.store), tmp_path / "r.html")
    assert result.ok and result.html == tmp_path / "r.html"
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and "chart-timeline" in page
    assert (tmp_path / "r.md").read_text(encoding="utf-8").startswith("# Sweep report")
    assert result.describe() == f"{tmp_path / 'r.html'}, {tmp_path / 'r.md'} and {tmp_path / 'r.json'}"


def test_a_format_that_cannot_be_written_loses_none_of_the_others(tmp_path: Path) -> None:
    (tmp_path / "r.json").mkdir()  # a folder where the JSON report should go
    sweep = load_sweep(SAMPLE)
    result = export_report(sweep.store, choose_objective(sweep.store), tmp_path / "r.html")
    assert not result.ok and result.error == f"{tmp_path / 'r.json'}: Is a directory"
    assert (tmp_path / "r.md").read_text(encoding="utf-8").startswith("# Sweep report")
    assert (tmp_path / "r.html").read_text(encoding="utf-8").startswith("<!doctype html>")
    assert result.describe() == f"{tmp_path / 'r.html'} and {tmp_path / 'r.md'}"
