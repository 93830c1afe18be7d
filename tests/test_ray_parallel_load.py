"""A one-shot load reading Ray trials in child processes gives exactly the serial load.

The real fixture experiment (finished, NaN, crashed with error.txt, killed trials)
gets extra trials beside it: odd lines (NaN tokens, a bad line), a partial last
line, plain ones. Loaded serially and in forked children, the stores must agree on
everything; after a parallel load, lines appended to the logs are read once by a poll.
"""

from __future__ import annotations

import dataclasses
import json
import os
import resource
from pathlib import Path

import pytest

from sweeptui.sources import forked, ray_tune
from sweeptui.store import MetricSeries
from sweeptui.sweep import Sweep
from tests.test_ray_results import as_lines, odd_records, plain_record
from tests.tool_fixtures import copy_fixture

NOW = 1_900_000_000.0
"""Every load judges the runs at the same moment, so their verdicts compare equal."""


def write_trial(experiment: Path, name: str, text: str) -> Path:
    directory = experiment / name
    directory.mkdir()
    (directory / "params.json").write_text(json.dumps({"lr": 0.01, "name": name}))
    (directory / "result.json").write_text(text)
    return directory


def build_experiment(tmp_path: Path) -> Path:
    """The fixture experiment plus odd, partial and plain trials; the experiment dir."""
    experiment = copy_fixture("ray", tmp_path) / "exp"
    odd = as_lines([plain_record(step) for step in range(1, 40)] + [o for o, _ in odd_records()])
    write_trial(experiment, "extra_odd", "".join(line + "\n" for line in odd))
    complete = "".join(json.dumps(plain_record(step)) + "\n" for step in range(1, 49))
    write_trial(experiment, "extra_partial", complete + json.dumps(plain_record(49))[:30])
    write_trial(experiment, "extra_empty", "")
    for index in range(12):
        records = [json.dumps(plain_record(step)) + "\n" for step in range(1, 30 + index)]
        write_trial(experiment, f"extra_plain_{index:02d}", "".join(records))
    return experiment


def store_state(sweep: Sweep) -> list:
    """Everything the store holds (series as raw bytes, so NaNs compare bit for bit, with
    the ranges and origins they keep)."""
    state: list = []
    for run in sweep.store:
        fields = {f.name: getattr(run, f.name) for f in dataclasses.fields(run)}
        del fields["last_ingest"]  # the clock at apply time
        fields["metrics"] = [(name, *series_state(series)) for name, series in run.metrics.items()]
        epochs = fields.pop("epochs")
        fields["epochs"] = None if epochs is None else series_state(epochs)
        state.append(repr(sorted(fields.items())))
    state.append(repr(sweep.store.issues))
    state.append(repr(sweep.store.warnings))
    return state


def series_state(series: MetricSeries) -> tuple:
    """A series' points as raw bytes, its kept ranges and where its points came from."""
    return (series.steps.tobytes(), series.values.tobytes(), series.step_range,
            series.best("min"), series.best("max"), series._stretches())  # fmt: skip


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def parallel_load(root: Path) -> Sweep:
    """Load ``root`` with the trials read in child processes (skip where none can fork)."""
    with forked.one_shot_load():
        if forked.worker_count(2) == 0:
            pytest.skip("no second core or no fork here: the load stays serial")
    before = children_cpu()
    sweep = Sweep(root)
    sweep.load(now=NOW)
    assert children_cpu() > before, "the trials were not read in child processes"
    return sweep


def test_parallel_load_gives_the_serial_store(tmp_path: Path, monkeypatch) -> None:
    experiment = build_experiment(tmp_path)
    serial = Sweep(tmp_path)
    serial_result = serial.load(now=NOW)
    monkeypatch.setattr(ray_tune, "PARALLEL_MIN_TRIALS", 2)
    parallel = parallel_load(tmp_path)
    assert store_state(parallel) == store_state(serial)
    trials = [path for path in experiment.iterdir() if path.is_dir()]
    assert len(list(serial.store)) == len(trials) + 1  # and the fixture's lone exp_oom trial
    assert any("not valid JSON" in w.message for w in serial.store.warnings)
    assert any(run.status == "crashed" for run in serial.store)
    assert serial_result.issues  # the fixture's NaN, crash and overfitting trials
    with_issues = Sweep(tmp_path)
    assert repr(with_issues.load(now=NOW).issues) == repr(serial_result.issues)


def test_a_poll_after_a_parallel_load_reads_only_the_new_lines(
    tmp_path: Path, monkeypatch
) -> None:
    experiment = build_experiment(tmp_path)
    monkeypatch.setattr(ray_tune, "PARALLEL_MIN_TRIALS", 2)
    sweep = parallel_load(tmp_path)
    partial = experiment / "extra_partial" / "result.json"
    plain = experiment / "extra_plain_00" / "result.json"
    records = {run.id: run.records for run in sweep.store}
    complete = json.dumps(plain_record(49))
    with partial.open("a") as handle:  # finish the cut line, then one more record
        handle.write(complete[30:] + "\n" + json.dumps(plain_record(50)) + "\n")
    with plain.open("a") as handle:
        handle.write(json.dumps({**plain_record(30), "train_loss": float("nan")}) + "\n")
    sweep.poll([partial, plain])
    sweep.poll([partial, plain])  # nothing new: nothing read twice
    after = {run.id: run.records for run in sweep.store}
    partial_id, plain_id = (path.parent.relative_to(tmp_path).as_posix() for path in (partial, plain))
    assert after[partial_id] == records[partial_id] + 2
    assert after[plain_id] == records[plain_id] + 1
    assert {k: v for k, v in after.items() if k not in (partial_id, plain_id)} == {
        k: v for k, v in records.items() if k not in (partial_id, plain_id)
    }
    runs = {run.id: run for run in sweep.store}
    assert runs[partial_id].metrics["train_loss"].steps.tolist() == list(range(1, 51))
    assert runs[partial_id].metrics["train_loss"].steps.tolist()[-2:] == [49.0, 50.0]
    last = runs[plain_id].metrics["train_loss"]
    assert last.steps.tolist()[-1] == 30.0 and last.values.tolist()[-1] != last.values.tolist()[-1]
    assert_a_log_empty_at_load_is_replaced_whole_after_a_parallel_load(sweep, experiment, tmp_path)
    serial_run = Sweep(tmp_path)
    serial_run.load(now=NOW)
    assert store_state_series(serial_run) == store_state_series(sweep)


def store_state_series(sweep: Sweep) -> dict:
    """Per run, its metric series as bytes: what a load and a load-then-poll share."""
    return {run.id: [(name, series.steps.tobytes(), series.values.tobytes())
                     for name, series in run.metrics.items()] for run in sweep.store}


def assert_a_log_empty_at_load_is_replaced_whole_after_a_parallel_load(
    sweep: Sweep, experiment: Path, root: Path
) -> None:
    """A log empty at load time (its reader came back from a worker process): the file
    replaced by a copy of itself is read again in place of what it gave, not twice."""
    log = experiment / "extra_empty" / "result.json"
    run_id = log.parent.relative_to(root).as_posix()
    text = "".join(json.dumps(plain_record(step)) + "\n" for step in range(1, 6))
    log.write_text(text)
    sweep.poll([log])
    copy = log.with_name("result.json.new")
    copy.write_text(text)
    copy.replace(log)
    sweep.poll([log])
    (run,) = [run for run in sweep.store if run.id == run_id]
    assert run.records == 5
    assert run.metrics["train_loss"].steps.tolist() == [float(step) for step in range(1, 6)]
    assert any(w.message.startswith("replaced by a new file") for w in sweep.store.warnings)


def test_a_worker_dying_mid_load_costs_time_not_data(
    tmp_path: Path, tmp_path_factory, monkeypatch
) -> None:
    """A child process that dies (killed, out of memory) breaks the pool: the trials not
    yet taken over are read serially, so the store is still the serial one."""
    build_experiment(tmp_path)
    serial = Sweep(tmp_path)
    serial.load(now=NOW)
    monkeypatch.setattr(ray_tune, "PARALLEL_MIN_TRIALS", 2)
    read_alone = ray_tune.RayExperimentReader._read_trial_alone
    died = tmp_path_factory.mktemp("marks") / "a worker died"  # outside the sweep

    def dies_on_one_trial(self, name):  # an injected fault: runs in the child only
        if name == "extra_plain_05":
            died.touch()
            os._exit(9)
        return read_alone(self, name)

    monkeypatch.setattr(ray_tune.RayExperimentReader, "_read_trial_alone", dies_on_one_trial)
    survived = parallel_load(tmp_path)
    assert died.exists()
    assert store_state(survived) == store_state(serial)
