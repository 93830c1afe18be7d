"""The run detail screen's text and plot marks, from real runs of the demo's sweep."""

from __future__ import annotations

from pathlib import Path

import pytest

from sweeptui.app.screens.detail import chosen_curves, issues_text, plot_marks, title_text
from sweeptui.objective import choose_objective
from sweeptui.simulate import demo_plans, plan_curves, run_records, write_run_dir
from sweeptui.snapshot import make_detail
from sweeptui.sweep import load_sweep

PLANS = {plan.name: plan for plan in demo_plans()}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    for plan in PLANS.values():
        write_run_dir(root, plan)
    return load_sweep(root).store


def _detail(store, run_id: str):
    return make_detail(store, run_id, choose_objective(store))


def _step(run_id: str, epoch: int) -> float:
    return next(r["step"] for r in run_records(PLANS[run_id]) if r["epoch"] == epoch)


def test_nan_run_is_marked_where_its_values_stop_being_finite(store) -> None:
    plan = next(p for p in PLANS.values() if p.fate == "nan")
    detail = _detail(store, plan.name)
    marks = plot_marks(detail, chosen_curves(detail))
    assert [(m.kind, m.label, m.step) for m in marks] == [
        ("non_finite", "NaN", _step(plan.name, plan.bad_epoch))
    ]


def test_divergence_is_marked_where_the_loss_began_to_climb(store) -> None:
    plan = next(p for p in PLANS.values() if p.fate == "divergence")
    detail = _detail(store, plan.name)
    (mark,) = [m for m in plot_marks(detail, chosen_curves(detail)) if m.kind == "divergence"]
    # the fate grows the loss from bad_epoch on: its lowest point sits at or just before it
    assert _step(plan.name, plan.bad_epoch - 1) <= mark.step <= _step(plan.name, plan.bad_epoch)


def test_overfitting_is_marked_at_the_validation_minimum(store) -> None:
    plan = next(p for p in PLANS.values() if p.fate == "overfit")
    detail = _detail(store, plan.name)
    (mark,) = plot_marks(detail, chosen_curves(detail))
    curves = plan_curves(PLANS[plan.name])
    lowest_epoch = int(curves.epoch[curves.val_loss.argmin()])
    assert (mark.kind, mark.label, mark.step) == ("minimum", "val_loss min", _step(plan.name, lowest_epoch))


def test_healthy_run_has_no_marks(store) -> None:
    plan = next(p for p in PLANS.values() if p.fate == "healthy")
    detail = _detail(store, plan.name)
    assert plot_marks(detail, chosen_curves(detail)) == []


def test_title_names_the_run_once_and_issues_keep_their_spacing(store) -> None:
    plan = next(p for p in PLANS.values() if p.fate == "crashed")
    detail = _detail(store, plan.name)
    assert title_text(detail).plain.count(plan.name) == 1
    nan = next(p for p in PLANS.values() if p.fate == "nan")
    text = issues_text(_detail(store, nan.name)).plain
    assert f"at epoch {nan.bad_epoch} (train_loss)" in text


def test_a_path_that_says_more_than_the_name_is_shown(tmp_path: Path) -> None:
    plan = next(p for p in PLANS.values() if p.fate == "healthy")
    write_run_dir(tmp_path / "group_a", plan)
    store = load_sweep(tmp_path).store
    (run_id,) = store.runs
    detail = make_detail(store, run_id, None)
    assert "group_a" in title_text(detail).plain
