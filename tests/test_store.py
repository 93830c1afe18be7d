"""The run store: events in, runs with statuses and columnar series out."""

from __future__ import annotations

import math
import pickle
from array import array

import pytest
from helpers import add_run, end_run

from sweeptui.events import MetricBatch, RunSeen, Series, SourceWarning, SummarySeen
from sweeptui.issues import Issue
from sweeptui.store import MetricSeries, RunStore, expected_length, flatten_params


def test_flatten_params_dots_nested_keys_and_stringifies_lists():
    flat = flatten_params({"optim": {"lr": 0.1, "betas": [0.9, 0.99]}, "model": "vit", "seed": None})
    assert flat == {"optim.lr": 0.1, "optim.betas": "[0.9, 0.99]", "model": "vit", "seed": None}


@pytest.mark.parametrize(
    ("params", "unit", "count"),
    [
        ({"epochs": 10}, "epoch", 10),
        ({"trainer.max_epochs": "20"}, "epoch", 20),
        ({"max_steps": 5000}, "step", 5000),
        ({"epochs": True}, None, None),
        ({"epochs": -1}, None, None),
        ({"lr": 0.1}, None, None),
    ],
)
def test_expected_length_reads_well_known_keys(params, unit, count):
    found = expected_length(params)
    if unit is None:
        assert found is None
    else:
        assert (found.unit, found.count) == (unit, count)


def test_metrics_keep_nan_and_inf_values():
    store = RunStore()
    add_run(store, "a", {"epochs": 4}, loss=[1.0, float("nan"), float("inf"), 0.5])
    run = store.runs["a"]
    values = run.metrics["loss"].values
    assert values[0] == 1.0 and math.isnan(values[1]) and math.isinf(values[2])
    assert run.metrics["loss"].best("min") == 0.5
    assert run.records == 4


def test_progress_counts_zero_based_epochs_as_complete():
    store = RunStore()
    add_run(store, "a", {"epochs": 3}, loss=[3, 2, 1])
    assert store.runs["a"].fraction_done() == pytest.approx(1.0)


def test_error_without_metrics_is_failed_and_oom_is_classified():
    store = RunStore()
    add_run(store, "early", {})
    end_run(store, "early", error="Traceback (most recent call last):\nValueError: bad config")
    add_run(store, "oom", {}, loss=[1.0, 0.9])
    end_run(store, "oom", error="RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB")
    assert store.runs["early"].status == "failed"
    assert store.runs["early"].failure.reason == "ValueError: bad config"
    assert store.runs["oom"].status == "crashed"
    assert store.runs["oom"].failure.kind == "oom"


def test_signal_exit_code_marks_killed():
    store = RunStore()
    add_run(store, "k", {}, loss=[1.0])
    end_run(store, "k", exit_code=137)
    assert store.runs["k"].status == "killed"


def test_finished_and_summary():
    store = RunStore()
    add_run(store, "ok", {"epochs": 1}, loss=[0.3])
    store.apply(SummarySeen("ok", {"final_test_loss": 0.25}))
    end_run(store, "ok", status="finished")
    run = store.runs["ok"]
    assert run.status == "finished" and run.summary == {"final_test_loss": 0.25}
    assert store.status_counts()["finished"] == 1


def test_issues_recorded_once_per_run_and_type():
    store = RunStore()
    add_run(store, "a", {}, loss=[1.0])
    assert store.add_issue(Issue("divergence", "a", "x"))
    assert not store.add_issue(Issue("divergence", "a", "again"))
    assert store.runs["a"].issue_types == ["divergence"]
    assert store.issue_counts() == {"divergence": 1}


def test_unknown_issue_type_is_rejected():
    with pytest.raises(ValueError):
        Issue("not_a_type", "a", "x")


def test_events_for_unknown_runs_become_warnings_and_changes_are_drained():
    store = RunStore()
    store.apply(SummarySeen("ghost", {"x": 1.0}))
    store.apply(SourceWarning("f.json", "bad"))
    assert store.warning_count == 2
    add_run(store, "a", {})
    assert store.drain_changed() == {"a"}
    assert store.drain_changed() == set()


def test_series_length_is_tracked_across_extends_and_ignores_non_finite_points():
    series = MetricSeries()
    assert series.steps_counted() == 0.0
    series.extend([0.0, 1.0], [float("nan"), 2.0])
    assert (series.steps_counted(), series.values_counted()) == (2.0, 2.0)
    series.extend(range(2, 40), [float("inf")] * 38)  # a large chunk takes the numpy path
    series.extend([float("nan")], [5.0])
    assert (series.steps_counted(), series.values_counted()) == (40.0, 5.0)


def test_a_series_pickled_to_another_process_keeps_its_points_ranges_and_origins() -> None:
    series = MetricSeries()
    series.extend(array("d", [1.0, 2.0, 3.0]), array("d", [0.5, math.nan, -math.inf]), "a.jsonl")
    series.extend(array("d", [4.0]), array("d", [7.0]), "b.jsonl")
    copy = pickle.loads(pickle.dumps(series, protocol=pickle.HIGHEST_PROTOCOL))
    assert copy.steps.tobytes() == series.steps.tobytes()
    assert copy.values.tobytes() == series.values.tobytes()
    assert (copy.step_range, copy.best("min"), copy.best("max")) == ((1.0, 4.0), 0.5, 7.0)
    assert copy._stretches() == series._stretches() == [(0, 3, "a.jsonl"), (3, 4, "b.jsonl")]
    copy.extend(array("d", [5.0]), array("d", [9.0]), "b.jsonl")
    assert len(series) == 4 and copy.best("max") == 9.0 and series.best("max") == 7.0
    assert copy.drop("a.jsonl")[0].tolist() == [1.0, 2.0, 3.0] and len(copy) == 2


def test_the_series_of_one_batch_share_their_step_column_until_one_grows() -> None:
    store = RunStore("/sweeps/demo")
    store.apply(RunSeen("run", "run", "run", "test", {}))
    steps = array("d", [1.0, 2.0, 3.0])
    batch = MetricBatch("run", {"loss": Series(steps, array("d", [3.0, 2.0, 1.0])),
                                "acc": Series(steps, array("d", [0.1, 0.2, 0.3]))}, records=3)  # fmt: skip
    batch.epochs = Series(steps, array("d", [0.0, 0.0, 1.0]))
    store.apply(batch)
    run = store.runs["run"]
    loss, acc = run.metrics["loss"], run.metrics["acc"]
    assert loss._steps is acc._steps is run.epochs._steps and loss._steps is not steps
    loss.extend(array("d", [4.0]), array("d", [0.5]))  # a live point for one metric only
    assert loss.steps.tolist() == [1.0, 2.0, 3.0, 4.0] and acc.steps.tolist() == [1.0, 2.0, 3.0]
    assert run.epochs.steps.tolist() == [1.0, 2.0, 3.0]
    assert (loss.step_range, acc.step_range) == ((1.0, 4.0), (1.0, 3.0))
    copies = pickle.loads(pickle.dumps([acc, run.epochs], protocol=pickle.HIGHEST_PROTOCOL))
    assert copies[0]._steps is copies[1]._steps  # shared in transit, pickled once
    copies[1].extend(array("d", [5.0]), array("d", [2.0]))
    assert copies[0].steps.tolist() == [1.0, 2.0, 3.0] and len(copies[1]) == 4


@pytest.mark.parametrize("size", [2, 5, 40, 64, 65, 300])
def test_a_series_keeps_the_finite_range_of_its_points_whatever_their_number(size: int) -> None:
    import random

    rng = random.Random(size)
    for trial in range(40):
        values = [rng.uniform(-5, 5) for _ in range(size)]
        for _ in range(trial % 4):  # NaN and infinities anywhere, first included
            values[rng.randrange(size)] = rng.choice([math.nan, math.inf, -math.inf])
        if trial == 39:
            values = [math.nan] * size
        series = MetricSeries()
        half = size // 2
        series.extend(array("d", range(half)), array("d", values[:half]))
        series.extend(array("d", range(half, size)), array("d", values[half:]))
        finite = [v for v in values if math.isfinite(v)]
        expected = (min(finite), max(finite)) if finite else (None, None)
        assert (series.best("min"), series.best("max")) == expected
        assert series.step_range == (0.0, float(size - 1))
