"""The report document and its Markdown / JSON / HTML renderings."""

from __future__ import annotations

import json

import numpy as np
from helpers import add_run, end_run

from sweeptui.issues import Issue
from sweeptui.objective import choose_objective
from sweeptui.report import build_report, render, write_report
from sweeptui.report.curves import compact_columns
from sweeptui.store import RunStore

HOSTILE = "evil|[red]x[/]\x1b]0;title\x07`rm`"


def _store() -> RunStore:
    store = RunStore("/sweeps/demo")
    add_run(store, "good", {"lr": 0.001, "model": "vit"}, val_loss=[1.0, 0.5, 0.4])
    end_run(store, "good", "finished")
    add_run(store, "worse", {"lr": 0.01, "model": "vit"}, val_loss=[1.0, 0.8])
    end_run(store, "worse", "finished")
    add_run(store, "nan", {"lr": 0.1, "model": "vit"}, val_loss=[1.0, float("nan")])
    store.add_issue(Issue("nan_or_inf_metric", "nan", "val_loss became NaN at epoch 2", step=2.0))
    add_run(store, HOSTILE, {"lr": 0.1, "model": HOSTILE})
    end_run(store, HOSTILE, error="Traceback (most recent call last):\nKeyError: 'x'")
    store.add_issue(Issue("crashed", HOSTILE, "KeyError before the first metric"))
    return store


def test_report_document_has_the_stable_schema():
    store = _store()
    report = build_report(store, choose_objective(store))
    assert report["schema"] == "sweeptui.report/1"
    assert report["summary"]["status_counts"] == {
        "running": 1, "finished": 2, "crashed": 0, "killed": 0, "failed": 1,
    }  # fmt: skip
    assert report["summary"]["issue_counts"] == {"nan_or_inf_metric": 1, "crashed": 1}
    # the NaN run's best finite point (1.0) still ranks it, behind the healthy runs
    assert [entry["name"] for entry in report["leaderboard"]] == ["good", "worse", "nan"]
    assert report["varying_params"] == ["lr", "model"]
    by_id = {run["id"]: run for run in report["runs"]}
    assert by_id["good"]["steps"] == 3 and by_id["good"]["best"] == 0.4
    assert by_id["nan"]["issues"] == ["nan_or_inf_metric"] and by_id["nan"]["last"] is None
    assert {i["type"] for i in report["issues"]} == {"nan_or_inf_metric", "crashed"}
    assert all(i["severity"] == "high" for i in report["issues"])


def test_json_rendering_is_strict_json():
    store = _store()
    text = render(build_report(store, choose_objective(store)), "json")

    def reject(token):
        raise AssertionError(f"non-standard JSON token {token}")

    assert json.loads(text, parse_constant=reject)["schema"] == "sweeptui.report/1"


def test_markdown_neutralises_hostile_names():
    store = _store()
    markdown = render(build_report(store, choose_objective(store)), "md")
    assert "\x1b" not in markdown and "\x07" not in markdown
    assert "evil\\|\\[red\\]x\\[/\\]" in markdown
    assert "## Issues" in markdown and "`nan_or_inf_metric`" in markdown
    leaderboard = markdown.split("## Leaderboard")[1].split("##")[0]
    assert leaderboard.index("good") < leaderboard.index("worse")


def test_html_escapes_markup(tmp_path):
    store = _store()
    report = build_report(store, choose_objective(store))
    report["root"] = "<script>alert(1)</script>"
    page = render(report, "html")
    assert "<script>alert(1)" not in page and "<table>" in page


def test_write_report_is_atomic_and_leaves_no_temp_files(tmp_path):
    store = _store()
    target = tmp_path / "out" / "report.md"
    write_report(build_report(store, choose_objective(store)), target, "md")
    assert target.read_text().startswith("# Sweep report")
    assert [p.name for p in target.parent.iterdir()] == ["report.md"]


def test_empty_store_renders_a_helpful_report():
    report = build_report(RunStore("/nowhere"), None)
    markdown = render(report, "md")
    assert "No runs were found" in markdown and report["leaderboard"] == []


def test_curves_hold_nan_and_inf_points_as_null_and_whole_steps_as_integers():
    store = RunStore("/sweeps/demo")
    values = [1.0, 0.75, float("nan"), 0.5, float("inf"), float("-inf"), 0.25]
    add_run(store, "odd", {"lr": 0.1}, val_loss=values)
    store.add_issue(Issue("nan_or_inf_metric", "odd", "val_loss became NaN", step=2.0))
    add_run(store, "zeros", {"lr": 0.2}, val_loss=[0.0, float("nan"), 0.0])
    report = build_report(store, choose_objective(store))
    curves = {curve["id"]: curve for curve in report["curves"]["runs"]}
    assert curves["odd"]["values"] == [1.0, 0.75, None, 0.5, None, None, 0.25]
    assert all(type(step) is int for step in curves["odd"]["steps"])
    assert curves["zeros"]["values"] == [0.0, None, 0.0]
    tokens: list[str] = []
    json.loads(render(report, "json"), parse_constant=tokens.append)
    assert tokens == []  # no NaN or Infinity token


def test_curve_columns_are_each_compacted_by_their_own_numbers():
    """Columns made JSON-ready together: each keeps its own rounding (7 significant
    digits of its smallest magnitude), whole numbers come out as integers, and a
    neighbour's NaN, zeros or size never changes another column."""
    nan, inf = float("nan"), float("inf")
    columns = [
        np.array([1.0, 2.0, 3.0]),  # whole: integers
        np.array([-0.0, 5.0]),  # whole, with a negative zero
        np.array([0.123456789, 12.3456789]),  # 7 significant digits of 0.123...
        np.array([1234.56789, 0.000123456789]),  # of 0.000123...: more places for both
        np.array([1.5, nan, inf, -inf]),  # non-finite: None, the rest rounded
        np.array([0.0, nan]),  # no magnitude to round by: as they are
        np.array([]),  # empty
        np.array([2.0**60, 1.0]),  # whole but beyond exact integers: floats
        np.array([3.0, nan]),  # whole but not all finite: floats and None
        np.array([1e-300, 1.0]),  # tiny: at most 15 places
    ]
    got = compact_columns(columns)
    assert got[0] == [1, 2, 3] and all(type(x) is int for x in got[0])
    assert got[1] == [0, 5] and all(type(x) is int for x in got[1])
    assert got[2] == [0.1234568, 12.3456789]
    assert got[3] == [1234.56789, 0.0001234568]
    assert got[4] == [1.5, None, None, None]
    assert got[5] == [0.0, None] and type(got[5][0]) is float
    assert got[6] == []
    assert got[7] == [2.0**60, 1.0] and type(got[7][1]) is float
    assert got[8] == [3.0, None] and type(got[8][0]) is float
    assert got[9] == [0.0, 1.0]
    # alone, each column comes out the same as among the others
    assert [compact_columns([column])[0] for column in columns] == got
    assert compact_columns([]) == [] and compact_columns([np.array([])]) == [[]]
