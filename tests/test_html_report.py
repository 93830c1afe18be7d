"""The HTML report: one self-contained page whose charts draw only what the JSON report holds."""

from __future__ import annotations

import json
import math
from pathlib import Path

from sweeptui.objective import choose_objective
from sweeptui.report import build_report, render
from sweeptui.report.charts import CHARTS, curves_chart, failure_rate_chart, timeline_chart
from sweeptui.sweep import load_sweep

SAMPLES = Path(__file__).resolve().parents[1] / "sample_runs"
HOSTILE = "</script><script>alert(1)</script><img src=x onerror=alert(2)>"


def _report(path: Path) -> dict:
    sweep = load_sweep(path)
    return build_report(sweep.store, choose_objective(sweep.store))


def _write_run(root: Path, name: str, params: dict, losses: list[float], start: float) -> None:
    run = root / name.replace("/", "_").replace("<", "_").replace(">", "_")[:60]
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"name": name, **params}))
    lines = [json.dumps({"step": i + 1, "epoch": i + 1, "val_loss": v, "time": start + 60 * i})
             for i, v in enumerate(losses)]  # fmt: skip
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    (run / "DONE").write_text("")


def test_every_chart_is_on_the_page_beside_its_section() -> None:
    page = render(_report(SAMPLES / "run_dirs_sweep"), "html")
    for key in CHARTS:
        assert f'id="chart-{key}"' in page
    assert page.count("plotly.js v") == 1  # embedded once: the page works offline
    assert "<script src=" not in page
    charts = ["timeline", "time_vs_objective", "curves", "failure_rate", "deaths", "objective_vs_params"]
    positions = [page.index(">Run status<"), *(page.index(f'id="chart-{key}"') for key in charts)]
    assert positions == sorted(positions)
    assert page.index(">When runs died<") < page.index('id="chart-deaths"')


def test_hostile_names_stay_text(tmp_path: Path) -> None:
    _write_run(tmp_path, "ok", {"lr": 0.001, "model": "resnet"}, [1.0, 0.8, 0.6], 1_700_000_000)
    _write_run(tmp_path, "bad", {"lr": 0.1, "model": HOSTILE}, [1.0, 0.9, 0.5], 1_700_000_500)
    page = render(_report(tmp_path), "html")
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;img src=x" in page  # shown, escaped, in the chart labels


def test_charts_draw_the_numbers_of_the_json_report() -> None:
    report = _report(SAMPLES / "run_dirs_sweep")
    fig = failure_rate_chart(report)
    drawn = [y for trace in fig.data for y in trace.y]
    assert drawn == [e["issue_rate"] for e in report["param_effects"]]
    colours = [c for trace in fig.data for c in trace.marker.color]
    assert (colours.count("#d62728") == sum(e["significant"] for e in report["param_effects"]))

    curves = curves_chart(report)
    drawn_values = sorted(float(y) for trace in curves.data if trace.mode == "lines"
                          for y in trace.y if y is not None and not math.isnan(y))  # fmt: skip
    in_json = sorted(v for c in report["curves"]["runs"] for v in c["values"] if v is not None)
    assert drawn_values == in_json
    gaps = sum(1 for trace in curves.data if trace.mode == "lines" for y in trace.y if math.isnan(y))
    assert gaps >= len(report["curves"]["runs"])  # one after each curve at least

    timeline = timeline_chart(report)
    hours = sorted(h for trace in timeline.data if trace.name in ("finished", "crashed", "killed", "running")
                   for h in trace.customdata)  # fmt: skip
    assert hours == sorted(round(r["run_hours"], 3) for r in report["runs"] if r["run_hours"])


def test_curves_are_thinned_but_keep_the_onset(tmp_path: Path) -> None:
    """A 2,000-point curve keeps a few hundred points, its first NaN among them."""
    run = tmp_path / "long"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"lr": 0.1}))
    values = [1.0 / (1 + i / 100) for i in range(2000)]
    values[1501:] = [math.nan] * (2000 - 1501)
    lines = [json.dumps({"step": i, "val_loss": v}) for i, v in enumerate(values)]
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    curve = _report(tmp_path)["curves"]["runs"][0]
    assert len(curve["steps"]) <= 401
    assert 1501 in curve["steps"] and curve["values"][curve["steps"].index(1501)] is None
    assert curve["onset"]["type"] == "nan_or_inf_metric" and curve["onset"]["step"] == 1501
    assert curve["onset"]["value"] == values[1500]
