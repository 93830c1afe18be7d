"""The HTML report in a real browser: headless Chromium opens the file offline, every chart draws
(a non-empty SVG with marks in it) and the console stays free of errors.

Uses Playwright's Python package to drive the system's Chromium (no browser download). Skips,
saying why, where either is missing; CI installs Chromium (``.ci/run``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from sweeptui.objective import choose_objective
from sweeptui.report import build_report, write_report
from sweeptui.report.charts import CHARTS
from sweeptui.simulate import generate_benchmark_sweep
from sweeptui.sweep import load_sweep

pytestmark = pytest.mark.browser

SAMPLES = Path(__file__).resolve().parents[1] / "sample_runs"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
# marks plotly draws: lines and areas (path), bars (path.point / rect), the "nothing to plot" note
MARKS = ".scatterlayer path, .barlayer path, .point path, .annotation-text"


def _chromium() -> str | None:
    candidates = [os.environ.get("SWEEPTUI_CHROMIUM"), shutil.which("chromium"),
                  shutil.which("chromium-browser"), "/usr/bin/chromium"]  # fmt: skip
    return next((c for c in candidates if c and Path(c).exists()), None)


def _unavailable(why: str) -> None:
    """Skip where no browser can run; in CI (which installs one) that is a failure instead."""
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the browser test: {why}")
    pytest.skip(why)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright import sync_api
    except ImportError:
        _unavailable("Playwright's Python package is not installed (pip install -e '.[test]')")
    executable = _chromium()
    if executable is None:
        _unavailable("no Chromium on this machine (apt-get install chromium)")
    with sync_api.sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _html_report(sweep_dir: Path, target: Path) -> Path:
    sweep = load_sweep(sweep_dir)
    report = build_report(sweep.store, choose_objective(sweep.store))
    return write_report(report, target, "html")


def _check_page(browser, page_path: Path) -> dict[str, int]:
    """Open the page offline; returns the marks drawn per chart, after asserting no console error."""
    context = browser.new_context(offline=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(page_path.as_uri(), wait_until="load")
        page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot').length === {len(CHARTS)}")
        marks = {}
        for key in CHARTS:
            chart = page.locator(f"#chart-{key}")
            box = chart.locator("svg.main-svg").first.bounding_box()
            assert box and box["width"] > 100 and box["height"] > 100, f"{key}: no drawing surface"
            marks[key] = chart.locator(MARKS).count()
    finally:
        context.close()
    assert not errors, errors
    return marks


@pytest.mark.parametrize("sample", ["run_dirs_sweep", "results_array_sweep", "crash_loop_sweep"])
def test_sample_reports_draw_every_chart(browser, sample: str, tmp_path: Path) -> None:
    marks = _check_page(browser, _html_report(SAMPLES / sample, tmp_path / "report.html"))
    assert all(count > 0 for count in marks.values()), marks


def test_a_thousand_run_sweep_draws_every_chart(browser, tmp_path: Path) -> None:
    counts = generate_benchmark_sweep(tmp_path / "sweep", runs=1000, steps=60, seed=3)
    assert counts["crashed"] and counts["nan"]
    page = _html_report(tmp_path / "sweep", tmp_path / "report.html")
    marks = _check_page(browser, page)
    assert all(count > 0 for count in marks.values()), marks
    assert marks["timeline"] >= 1000  # a bar per run


def test_each_healthy_curve_is_its_own_line(browser, tmp_path: Path) -> None:
    # the healthy runs share one trace; the gap after each curve must keep them apart
    sweep = load_sweep(SAMPLES / "run_dirs_sweep")
    report = build_report(sweep.store, choose_objective(sweep.store))
    healthy = sum(1 for curve in report["curves"]["runs"] if curve["issue"] is None)
    page_path = write_report(report, tmp_path / "report.html", "html")
    context = browser.new_context(offline=True)
    try:
        page = context.new_page()
        page.goto(page_path.as_uri(), wait_until="load")
        lines = page.locator("#chart-curves .scatterlayer .trace").first.locator("path.js-line")
        lines.first.wait_for()
        assert healthy >= 5 and lines.count() == healthy
    finally:
        context.close()
