"""Results-array files: half-written rewrites, intermediate + final, records to events."""

from __future__ import annotations

import json
import math
from pathlib import Path

from sweeptui.events import MetricBatch, RunEnded, RunSeen, SummarySeen
from sweeptui.settings import Settings
from sweeptui.sources.results_array import ResultsArrayReader, singular
from sweeptui.sweep import Sweep


def experiment(name: str, losses: list, **extra) -> dict:
    return {"name": name, "config": {"lr": 0.1, "epochs": 3}, "train_losses": losses, **extra}


def write(path: Path, value) -> None:
    path.write_text(json.dumps(value))  # Python's json writes bare NaN tokens


def reader_for(path: Path, shared: dict | None = None) -> ResultsArrayReader:
    return ResultsArrayReader(path.parent, path, Settings(), {} if shared is None else shared)


def test_singular_names() -> None:
    assert singular("train_losses") == "train_loss"
    assert singular("val_accuracies") == "val_accuracy"
    assert singular("train_accs") == "train_acc"
    assert singular("val_loss") == "val_loss"


def test_record_becomes_run_series_summary_and_end(tmp_path: Path) -> None:
    path = tmp_path / "sweep_results_final.json"
    write(path, {"experiments": [experiment(
        "lr-0.1", [1.0, float("nan"), None, 0.5], val_accuracies=["nan", 0.5, 0.6, 0.7],
        final_test_loss=float("inf"), success=True, end_time="2023-11-14T22:13:20Z",
    )]})  # fmt: skip
    events = reader_for(path).read()
    seen, batch, summary, ended = events
    assert isinstance(seen, RunSeen) and seen.run_id == "lr-0.1" and seen.path == "."
    assert seen.params == {"lr": 0.1, "epochs": 3}
    assert isinstance(batch, MetricBatch) and batch.records == 4
    loss = batch.metrics["train_loss"]
    assert list(loss.steps) == [1.0, 2.0, 4.0]
    assert loss.values[0] == 1.0 and math.isnan(loss.values[1])
    assert math.isnan(batch.metrics["val_accuracy"].values[0])
    assert list(batch.epochs.values) == [1.0, 2.0, 3.0, 4.0]
    assert list(batch.times) == [1700000000.0]
    assert isinstance(summary, SummarySeen) and summary.values["final_test_loss"] == math.inf
    assert isinstance(ended, RunEnded) and ended.status == "finished"


def test_half_written_file_keeps_last_good_read_then_completes(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    write(path, [experiment("a", [1.0, 0.9])])
    reader = reader_for(path)
    assert sum(isinstance(e, MetricBatch) for e in reader.read()) == 1
    full = json.dumps([experiment("a", [1.0, 0.9, 0.8]), experiment("b", [2.0])])
    path.write_text(full[: len(full) // 2])
    events = reader.read()
    assert [type(e).__name__ for e in events] == ["SourceWarning"]
    assert "half-written" in events[0].message
    assert reader.read() == []  # same broken content: retried, not warned again
    path.write_text(full)
    batches = {e.run_id: e for e in reader.read() if isinstance(e, MetricBatch)}
    assert list(batches["a"].metrics["train_loss"].values) == [0.8]
    assert list(batches["a"].metrics["train_loss"].steps) == [3.0]
    assert list(batches["b"].metrics["train_loss"].values) == [2.0]


def test_file_without_records_stays_silent(tmp_path: Path) -> None:
    path = tmp_path / "package.json"
    write(path, {"name": "x", "version": "1.0", "tags": ["a", "b"]})
    assert reader_for(path).read() == []


def test_status_strings_and_failure_text(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    write(path, {"results": [
        {"run_id": 7, "status": "running"},
        {"trial_id": "t", "status": "killed"},
        {"success": False, "error_message": "CUDA out of memory", "exit_code": 1},
    ]})  # fmt: skip
    ends = {e.run_id: e for e in reader_for(path).read() if isinstance(e, RunEnded)}
    assert set(ends) == {"t", "exp-002"}
    assert ends["t"].status == "killed"
    assert ends["exp-002"].status is None and ends["exp-002"].error == "CUDA out of memory"
    assert ends["exp-002"].exit_code == 1


def test_intermediate_and_final_are_counted_once(tmp_path: Path) -> None:
    sub = tmp_path / "grid"
    sub.mkdir()
    intermediate = [experiment("a", [1.0, 0.9]), experiment("b", [3.0])]
    write(sub / "sweep_results_intermediate.json", intermediate)
    write(sub / "sweep_results_final.json", [
        experiment("a", [1.0, 0.9], success=True),
        experiment("b", [3.0, 2.0], success=True),
        experiment("c", [5.0], success=False, error="ValueError: bad lr"),
    ])  # fmt: skip
    sweep = Sweep(tmp_path)
    sweep.rescan()
    sweep.poll()
    runs = sweep.store.runs
    assert sorted(runs) == ["grid/a", "grid/b", "grid/c"]
    assert list(runs["grid/a"].metrics["train_loss"].values) == [1.0, 0.9]
    assert list(runs["grid/b"].metrics["train_loss"].steps) == [1.0, 2.0]
    assert runs["grid/a"].records == 2 and runs["grid/b"].records == 2
    assert runs["grid/a"].path == "grid"
    assert runs["grid/a"].status == "finished"
    assert runs["grid/c"].status == "crashed"
    assert runs["grid/a"].expected.count == 3


def test_rewritten_file_is_followed_across_polls(tmp_path: Path) -> None:
    path = tmp_path / "sweep_results_intermediate.json"
    write(path, [experiment("a", [1.0], status="running")])
    sweep = Sweep(tmp_path)
    sweep.rescan()
    assert sweep.store.runs["a"].status == "running"
    finished = experiment("a", [1.0, 0.5], status="completed")
    write(path, [finished, {"name": "b", "status": "failed"}])
    sweep.poll()
    a, b = sweep.store.runs["a"], sweep.store.runs["b"]
    assert list(a.metrics["train_loss"].values) == [1.0, 0.5] and a.status == "finished"
    assert b.status == "failed"  # ended badly before any metric


def test_non_utf8_bytes_warn_and_still_parse(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_bytes(b'[{"name": "caf\xe9", "train_losses": [NaN, 1.0]}]')
    events = reader_for(path).read()
    warnings = [e for e in events if type(e).__name__ == "SourceWarning"]
    assert len(warnings) == 1 and "UTF-8" in warnings[0].message
    batch = next(e for e in events if isinstance(e, MetricBatch))
    assert math.isnan(batch.metrics["train_loss"].values[0])


def test_path_replaced_by_a_directory_warns_once(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    write(path, [experiment("a", [1.0])])
    reader = reader_for(path)
    reader.read()
    path.unlink()
    path.mkdir()
    assert len(reader.read()) == 1
    assert reader.read() == []


def warning_texts(sweep: Sweep) -> list[str]:
    return [w.message for w in sweep.store.warnings]


def test_odd_elements_of_a_series_are_skipped_one_warning_each(tmp_path: Path) -> None:
    path = tmp_path / "sweep_results_intermediate.json"
    odd = [0.9, True, 0.7, [0.5], "oops", float("nan"), None, {"v": 1}, 0.4]
    write(path, [experiment("exp_7", [1.0, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1], val_losses=odd)])
    sweep = Sweep(tmp_path)
    sweep.rescan()
    run = sweep.store.runs["exp_7"]
    loss = run.metrics["val_loss"]
    assert list(loss.steps) == [1.0, 3.0, 6.0, 9.0]  # each number at its own epoch
    assert loss.values[1] == 0.7 and math.isnan(loss.values[2]) and loss.values[3] == 0.4
    assert any(i.type == "nan_or_inf_metric" and i.metric == "val_loss" for i in sweep.store.issues)
    assert warning_texts(sweep) == [
        "exp_7: val_losses[1] is true, not a number; skipped",
        "exp_7: val_losses[3] is a list, not a number; skipped",
        "exp_7: val_losses[4] is a string, not a number; skipped",
        "exp_7: val_losses[7] is an object, not a number; skipped",
    ]
    # rewritten whole after the next experiment, and copied into the final file: no repeats
    later = [experiment("exp_7", [1.0] * 10, val_losses=[*odd, False]), experiment("exp_8", [2.0])]
    write(path, later)
    write(tmp_path / "sweep_results_final.json", later)
    sweep.poll()
    assert warning_texts(sweep)[4:] == ["exp_7: val_losses[9] is false, not a number; skipped"]
    assert list(sweep.store.runs["exp_7"].metrics["train_loss"].steps) == [float(s) for s in range(1, 11)]
    assert "exp_8" in sweep.store.runs


def test_a_list_without_numbers_is_no_series_and_no_warning(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    write(path, [experiment("a", [1.0], tags=["resnet", True], gaps=[None, None])])
    sweep = Sweep(tmp_path)
    sweep.rescan()
    assert "tag" not in sweep.store.runs["a"].metrics and warning_texts(sweep) == []


def test_elements_that_are_not_experiments_warn_once_each(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    items = [experiment("a", [1.0]), 4, "exp_2", [experiment("c", [1.0])], None, experiment("e", [2.0])]
    write(path, items)
    sweep = Sweep(tmp_path)
    sweep.rescan()
    assert sorted(sweep.store.runs) == ["a", "e"]
    assert warning_texts(sweep) == [
        "element [1] is a number, not an experiment object; skipped",
        "element [2] is a string, not an experiment object; skipped",
        "element [3] is a list, not an experiment object; skipped",
        "element [4] is null, not an experiment object; skipped",
    ]
    assert all(w.path == str(path) for w in sweep.store.warnings)
    write(path, [*items, experiment("f", [3.0])])
    sweep.poll()
    assert len(sweep.store.warnings) == 4 and sorted(sweep.store.runs) == ["a", "e", "f"]
    write(tmp_path / "keyed.json", {"experiments": [{"name": "k", "train_losses": [1.0]}, "x"]})
    sweep.rescan()
    assert warning_texts(sweep)[4:] == ["experiments[1] is a string, not an experiment object; skipped"]


def test_success_spelled_as_a_string(tmp_path: Path) -> None:
    from sweeptui.cli import main

    sweep = tmp_path / "sweep"
    sweep.mkdir()
    error = "RuntimeError: loss exploded"
    records = [experiment(f"no-{word}", [1.0, 0.9], success=word, error=error)
               for word in ("false", "False", "0", "no")]  # fmt: skip
    records += [experiment(f"yes-{word}", [1.0, 0.9, 0.8], success=word) for word in ("true", "1", "yes")]
    records.append({"name": "early", "success": "FALSE", "error": "ValueError: bad lr"})
    records.append(experiment("unsure", [1.0, 0.9, 0.8], success="maybe", status="completed"))
    write(sweep / "sweep_results_final.json", records)
    out = tmp_path / "report.json"
    assert main(["report", str(sweep), "--format", "json", "-o", str(out)]) == 0
    report = json.loads(out.read_text())
    runs = {r["id"]: r for r in report["runs"]}
    for word in ("false", "False", "0", "no"):
        assert runs[f"no-{word}"]["status"] == "crashed", runs[f"no-{word}"]
        assert "RuntimeError" in runs[f"no-{word}"]["status_reason"]
    assert all(runs[f"yes-{word}"]["status"] == "finished" for word in ("true", "1", "yes"))
    assert runs["early"]["status"] == "failed" and "ValueError" in runs["early"]["status_reason"]
    assert runs["unsure"]["status"] == "finished"  # its status field decides
    assert [w["message"] for w in report["warnings"]] == [
        'unsure: success is "maybe", not true or false; its end is read from its other fields'
    ]
