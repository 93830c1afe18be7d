"""Run directories end to end: tailed logs, rewrites, markers, error text, the scanner."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from sweeptui.events import MetricBatch, RunEnded
from sweeptui.settings import Settings
from sweeptui.simulate import generate_benchmark_sweep
from sweeptui.sources import get_sources, run_dir
from sweeptui.sources.run_dir import RunDirReader, Watched
from sweeptui.sources.scan import Scanner
from sweeptui.sweep import Sweep


def lines(*records: dict) -> str:
    return "".join(json.dumps(record) + "\n" for record in records)


def append(path: Path, text: str) -> None:
    with open(path, "a") as handle:
        handle.write(text)


def make_run(root: Path, name: str, log: str = "", config: str = "epochs: 3\n") -> Path:
    run = root / name
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(config)
    (run / "metrics.jsonl").write_text(log)
    return run


def loaded(root: Path, settings: Settings | None = None) -> Sweep:
    sweep = Sweep(root, settings)
    sweep.rescan()
    sweep.poll()
    return sweep


def values(sweep: Sweep, run: str, metric: str) -> list[float]:
    return list(sweep.store.runs[run].metrics[metric].values)


def messages(sweep: Sweep) -> list[str]:
    return [warning.message for warning in sweep.store.warnings]


AGAIN = "the points read from it before are dropped and it is read again from its start"
"""What a reset log's warning says after the kind of reset."""


def test_jsonl_run_with_nan_tokens_epochs_and_end_marker(tmp_path: Path) -> None:
    make_run(tmp_path, "lr-0.1", lines({"step": 0, "epoch": 0, "loss": 1.0, "time": 1700000000}))
    append(tmp_path / "lr-0.1" / "metrics.jsonl", '{"step": 1, "epoch": 1, "loss": NaN, '
           '"acc": "inf", "flag": true, "note": "x"}\n{"status": "crashed", "error": "boom"}\n')
    sweep = loaded(tmp_path)
    run = sweep.store.runs["lr-0.1"]
    assert run.name == "lr-0.1" and run.params == {"epochs": 3}
    loss = run.metrics["loss"]
    assert list(loss.steps) == [0.0, 1.0] and math.isnan(loss.values[1])
    assert list(run.metrics["acc"].values) == [math.inf]
    assert set(run.metrics) == {"loss", "acc"}
    assert list(run.epochs.values) == [0.0, 1.0]
    assert run.records == 2 and run.status == "crashed" and run.error == "boom"
    assert run.first_update == 1700000000.0


def test_appends_are_read_incrementally_and_partial_lines_wait(tmp_path: Path) -> None:
    run = make_run(tmp_path, "r", lines({"step": 0, "loss": 3.0}))
    sweep = loaded(tmp_path)
    append(run / "metrics.jsonl", '{"step": 1, "loss": 2.0}\n{"step": 2, "lo')
    sweep.poll()
    assert values(sweep, "r", "loss") == [3.0, 2.0]
    append(run / "metrics.jsonl", 'ss": 1.0}\n')
    sweep.poll()
    sweep.poll()
    assert values(sweep, "r", "loss") == [3.0, 2.0, 1.0]
    assert sweep.store.runs["r"].records == 3


def test_bad_lines_warn_with_file_and_line_and_the_rest_is_read(tmp_path: Path) -> None:
    log = lines({"step": 0, "loss": 1.0}) + "{oops\n[1, 2]\n" + lines({"step": 3, "loss": 0.5})
    make_run(tmp_path, "r", log)
    sweep = loaded(tmp_path)
    assert values(sweep, "r", "loss") == [1.0, 0.5]
    found = [(w.path, w.message) for w in sweep.store.warnings]
    path = str(tmp_path / "r" / "metrics.jsonl")
    assert (path, "line 2: not valid JSON; skipped") in found
    assert (path, "line 3: not a JSON object; skipped") in found


def test_non_utf8_line_warns_and_keeps_its_values(tmp_path: Path) -> None:
    run = make_run(tmp_path, "r")
    (run / "metrics.jsonl").write_bytes(b'{"step": 0, "tag": "\xff", "loss": 2.5}\n')
    sweep = loaded(tmp_path)
    assert values(sweep, "r", "loss") == [2.5]
    assert any("line 1: invalid UTF-8" in message for message in messages(sweep))


def test_csv_log_with_empty_cells_and_nan(tmp_path: Path) -> None:
    run = tmp_path / "r"
    run.mkdir()
    (run / "metrics.csv").write_text("epoch,train_loss,val_loss\n0,1.0,\n1,nan,0.8\n")
    sweep = loaded(tmp_path)
    loss = sweep.store.runs["r"].metrics["train_loss"]
    assert loss.values[0] == 1.0 and math.isnan(loss.values[1])
    assert list(sweep.store.runs["r"].metrics["val_loss"].steps) == [1.0]


def test_csv_rewritten_with_an_added_column_ingests_each_row_once(tmp_path: Path) -> None:
    run = tmp_path / "r"
    run.mkdir()
    csv = run / "metrics.csv"
    csv.write_text("step,loss\n0,1.0\n1,0.9\n")
    sweep = loaded(tmp_path)
    csv.write_text("")  # the logger truncates, then rewrites everything
    sweep.poll()
    csv.write_text("step,loss,acc\n0,1.0,0.1\n1,0.9,0.2\n2,0.8,0.3\n")
    sweep.poll()
    run_state = sweep.store.runs["r"]
    assert values(sweep, "r", "loss") == [1.0, 0.9, 0.8]
    assert list(run_state.metrics["acc"].steps) == [0.0, 1.0, 2.0]  # what the file holds now
    assert run_state.records == 3
    assert f"truncated; {AGAIN}" in messages(sweep)


def test_truncated_and_restarted_log_replaces_what_it_gave(tmp_path: Path) -> None:
    run = make_run(tmp_path, "r", lines({"step": 0, "loss": 5.0}, {"step": 1, "loss": 4.0}))
    sweep = loaded(tmp_path)
    (run / "metrics.jsonl").write_text(lines({"step": 0, "loss": 9.0}))
    sweep.poll()
    assert values(sweep, "r", "loss") == [9.0]
    assert sweep.store.runs["r"].records == 1
    assert f"truncated; {AGAIN}" in messages(sweep)


def test_delete_and_recreate_reads_the_new_file(tmp_path: Path) -> None:
    run = make_run(tmp_path, "r", lines({"step": 0, "loss": 5.0}, {"step": 1, "loss": 4.0}))
    sweep = loaded(tmp_path)
    (run / "metrics.jsonl").unlink()
    sweep.poll()
    sweep.poll()
    assert sum("missing" in m for m in messages(sweep)) == 1
    (run / "metrics.jsonl").write_text(lines({"step": 0, "loss": 7.0}, {"step": 1, "loss": 6.0}))
    sweep.poll()
    assert values(sweep, "r", "loss") == [7.0, 6.0]
    assert f"replaced by a new file; {AGAIN}" in messages(sweep)


def test_atomic_rewrite_of_the_same_log_is_not_double_counted(tmp_path: Path) -> None:
    run = make_run(tmp_path, "r", lines({"step": 0, "loss": 5.0}, {"step": 1, "loss": 4.0}))
    sweep = loaded(tmp_path)
    fresh = run / "tmp"
    fresh.write_text(lines(*({"step": i, "loss": 5.0 - i} for i in range(4))))
    os.replace(fresh, run / "metrics.jsonl")
    sweep.poll()
    assert values(sweep, "r", "loss") == [5.0, 4.0, 3.0, 2.0]
    assert sweep.store.runs["r"].records == 4
    assert f"replaced by a new file; {AGAIN}" in messages(sweep)


def test_error_file_created_later_is_picked_up(tmp_path: Path) -> None:
    run = make_run(tmp_path, "r", lines({"step": 0, "loss": 1.0}))
    sweep = loaded(tmp_path)
    assert sweep.store.runs["r"].status == "running"
    (run / "error.txt").write_text("Traceback (most recent call last):\n"
                                   "RuntimeError: CUDA out of memory. Tried to allocate\n")
    sweep.poll()
    run_state = sweep.store.runs["r"]
    assert run_state.status == "crashed" and run_state.failure.kind == "oom"
    sweep.poll()
    assert run_state.error.startswith("Traceback")


def test_run_without_metrics_that_crashed_is_failed(tmp_path: Path) -> None:
    run = tmp_path / "r"
    run.mkdir()
    (run / "config.json").write_text('{"lr": 0.1}')
    (run / "stderr.txt").write_text("loading\nKilled\n")
    sweep = loaded(tmp_path)
    assert sweep.store.runs["r"].status == "failed"


def test_plain_output_log_without_errors_does_not_end_the_run(tmp_path: Path) -> None:
    run = make_run(tmp_path, "r", lines({"step": 0, "loss": 1.0}))
    (run / "output.log").write_text("epoch 0 done\n")
    assert loaded(tmp_path).store.runs["r"].status == "running"


def test_markers_status_exit_code_and_summary(tmp_path: Path) -> None:
    done = make_run(tmp_path, "done", lines({"loss": 1.0}))
    (done / "DONE").write_text("")
    (done / "summary.json").write_text('{"best_loss": 0.5, "note": "x", "final": NaN}')
    status = make_run(tmp_path, "status", lines({"loss": 1.0}))
    marker = {"status": "killed", "exit_code": 143, "time": 1700000000}
    (status / "status.json").write_text(json.dumps(marker))
    code = make_run(tmp_path, "code", lines({"loss": 1.0}))
    (code / "exit_code").write_text("1\n")
    sweep = loaded(tmp_path)
    runs = sweep.store.runs
    assert runs["done"].status == "finished"
    assert runs["done"].summary["best_loss"] == 0.5 and math.isnan(runs["done"].summary["final"])
    assert "note" not in runs["done"].summary
    assert runs["status"].status == "killed" and runs["status"].exit_code == 143
    assert runs["status"].ended_at == 1700000000.0
    assert runs["code"].status == "crashed" and runs["code"].exit_code == 1


def test_config_change_updates_params(tmp_path: Path) -> None:
    run = make_run(tmp_path, "r", lines({"loss": 1.0}), config="lr: 0.1\n")
    sweep = loaded(tmp_path)
    (run / "config.yaml").write_text("lr: 0.2\nepochs: 10\n")
    sweep.poll()
    assert sweep.store.runs["r"].params == {"lr": 0.2, "epochs": 10}


def test_sweep_root_config_is_not_a_run(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("method: grid\n")
    make_run(tmp_path, "a", lines({"loss": 1.0}))
    make_run(tmp_path / "nested", "b", lines({"loss": 2.0}))
    sweep = loaded(tmp_path)
    assert sorted(sweep.store.runs) == ["a", "nested/b"]
    assert sweep.store.runs["nested/b"].path == "nested/b"


def test_new_run_directory_is_found_on_rescan(tmp_path: Path) -> None:
    make_run(tmp_path, "a", lines({"loss": 1.0}))
    sweep = loaded(tmp_path)
    make_run(tmp_path, "b", lines({"loss": 2.0}))
    sweep.rescan()
    assert sorted(sweep.store.runs) == ["a", "b"]
    assert values(sweep, "b", "loss") == [2.0]


def test_symlink_loop_warns_and_the_scan_ends(tmp_path: Path) -> None:
    make_run(tmp_path, "a", lines({"loss": 1.0}))
    (tmp_path / "deep").mkdir()
    (tmp_path / "deep" / "loop").symlink_to(tmp_path)
    scanner = Scanner(tmp_path, get_sources(), Settings())
    readers, warnings = scanner.scan()
    assert [reader.base.name for reader in readers] == ["a"]
    assert any("symlink loop" in warning.message for warning in warnings)


def test_50_mb_line_with_a_lowered_cap_is_skipped(tmp_path: Path) -> None:
    run = make_run(tmp_path, "r")
    with open(run / "metrics.jsonl", "w") as handle:
        handle.write(lines({"step": 0, "loss": 1.0}))
        handle.write('{"blob": "' + "b" * (50 * 1024 * 1024) + '"}\n')
        handle.write(lines({"step": 2, "loss": 0.5}))
    sweep = loaded(tmp_path, Settings(max_line_bytes=64 * 1024))
    assert values(sweep, "r", "loss") == [1.0, 0.5]
    assert any("line 2 is longer than 65536 bytes" in m for m in messages(sweep))


def test_idle_reader_returns_nothing(tmp_path: Path) -> None:
    make_run(tmp_path, "r", lines({"loss": 1.0}))
    reader = RunDirReader(tmp_path, tmp_path / "r", Settings())
    first = reader.read()
    assert any(isinstance(event, MetricBatch) for event in first)
    assert reader.read() == []


def test_deleted_run_directory_warns_once(tmp_path: Path) -> None:
    run = make_run(tmp_path, "r", lines({"loss": 1.0}))
    reader = RunDirReader(tmp_path, run, Settings())
    reader.read()
    for child in run.iterdir():
        child.unlink()
    run.rmdir()
    assert len(reader.read()) == 1
    assert reader.read() == []


def test_many_records_build_one_batch(tmp_path: Path) -> None:
    records = [{"step": i, "loss": 1.0 / (i + 1), "acc": i / 1000} for i in range(20000)]
    make_run(tmp_path, "r", lines(*records))
    events = RunDirReader(tmp_path, tmp_path / "r", Settings()).read()
    batches = [event for event in events if isinstance(event, MetricBatch)]
    assert len(batches) == 1 and batches[0].records == 20000
    assert batches[0].metrics["loss"].values[-1] == 1.0 / 20000
    assert not any(isinstance(event, RunEnded) for event in events)


def test_csv_end_marker_row_ends_the_run_without_counting_as_a_record(tmp_path: Path) -> None:
    run = tmp_path / "r"
    run.mkdir()
    (run / "metrics.csv").write_text("step,loss,status\n0,1.0,\n1,0.9,\n,,finished\n")
    sweep = loaded(tmp_path)
    assert sweep.store.runs["r"].status == "finished"
    assert sweep.store.runs["r"].records == 2


def test_crash_marker_line_alone_makes_a_failed_run(tmp_path: Path) -> None:
    make_run(tmp_path, "r", lines({"event": "failed", "error": "ValueError: bad config"}))
    run = loaded(tmp_path).store.runs["r"]
    assert run.status == "failed" and run.records == 0


def test_a_large_log_goes_to_the_store_in_parts_with_the_same_verdicts(tmp_path, monkeypatch) -> None:
    """Points of a long log are handed over every SPILL_RECORDS records (memory stays
    bounded); the store, the issues and the warnings match a read in one part."""
    generate_benchmark_sweep(tmp_path / "sweep", runs=40, steps=1200, seed=3)
    (tmp_path / "sweep" / "run_00001" / "metrics.jsonl").open("a").write("{not json\n")
    whole = Sweep(tmp_path / "sweep")
    whole.load()
    monkeypatch.setattr(run_dir, "SPILL_RECORDS", 100)
    monkeypatch.setattr(run_dir, "READ_BYTES", 5000)
    reader = RunDirReader(tmp_path / "sweep", tmp_path / "sweep" / "run_00002", Settings())
    parts = list(reader.read_parts())
    assert len(parts) > 5 and all(isinstance(part[-1], MetricBatch) for part in parts[:-1])
    parted = Sweep(tmp_path / "sweep")
    parted.load()

    def state(sweep: Sweep) -> tuple:
        runs = {run.id: (run.status, run.records, {name: (series.steps.tolist(), series.values.tolist())
                                                   for name, series in run.metrics.items()})
                for run in sweep.store}  # fmt: skip
        issues = sorted((i.run, i.type, i.step, i.message) for i in sweep.store.issues)
        return repr(runs), issues, sorted(w.message for w in sweep.store.warnings)

    assert {"divergence", "nan_or_inf_metric", "crashed"} <= {i[1] for i in state(whole)[1]}
    assert state(parted) == state(whole)


def test_a_small_file_rewritten_just_after_its_read_is_read_again(tmp_path: Path) -> None:
    """The version taken as read is the one seen before the read: a status file rewritten
    between the read and the bookkeeping is still news on the next look."""
    status = tmp_path / "status.json"
    status.write_text('{"status": "running"}')
    watched = Watched(status)
    assert watched.changed()
    assert watched.read_bytes() == b'{"status": "running"}'
    status.write_text('{"status": "finished", "time": 1700000000}')  # the run ends right then
    watched.accept()
    assert watched.changed()
    assert b"finished" in watched.read_bytes()
    watched.accept()
    assert not watched.changed()
