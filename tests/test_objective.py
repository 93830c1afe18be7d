"""Choosing the metric that ranks runs."""

from __future__ import annotations

from helpers import add_run

from sweeptui.events import SummarySeen
from sweeptui.objective import choose_objective
from sweeptui.store import RunStore


def test_validation_loss_preferred_over_training_loss_and_accuracy():
    store = RunStore()
    add_run(store, "a", {}, train_loss=[1, 0.5], val_loss=[1.2, 0.7], val_acc=[0.5, 0.6])
    objective = choose_objective(store)
    assert (objective.metric, objective.goal, objective.automatic) == ("val_loss", "min", True)
    assert objective.value(store.runs["a"]) == 0.7


def test_user_metric_and_goal_guess():
    store = RunStore()
    add_run(store, "a", {}, val_acc=[0.5, 0.9, 0.8])
    objective = choose_objective(store, "val_acc")
    assert objective.goal == "max" and objective.value(store.runs["a"]) == 0.9


def test_non_finite_summary_is_no_objective_and_no_metrics_gives_none():
    store = RunStore()
    add_run(store, "a", {})
    assert choose_objective(store) is None
    store.apply(SummarySeen("a", {"final_test_loss": float("nan")}))
    objective = choose_objective(store)
    assert objective.metric == "final_test_loss" and objective.value(store.runs["a"]) is None
