"""A metric log replaced or truncated while watching: it replaces what it gave the run.

The run's points are then exactly what its files hold, the detectors judge them again
(an issue only the old points raised goes away, one the new content shows is raised),
a warning says so once, and a report read afterwards agrees with the live sweep.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

from sweeptui.events import FileReset, SourceWarning
from sweeptui.settings import Settings
from sweeptui.sources import run_dir
from sweeptui.sources.run_dir import SPILL_RECORDS
from sweeptui.store import MetricSeries
from sweeptui.sweep import Sweep, load_sweep
from tests.tool_fixtures import copy_fixture

OLD_LOSSES = [2.0 * 0.7**step for step in range(10)]
"""A healthy run: the loss falls to 0.08."""
FRESH_LOSSES = [3.0, 2.6, 2.2]
"""A fresh run of the same name, starting high: above 10x the old minimum."""
RESET_NOTE = "the points read from it before are dropped and it is read again from its start"


def jsonl(losses: list[float], first_step: int = 0) -> str:
    return "".join(json.dumps({"step": first_step + i, "loss": loss}) + "\n"
                   for i, loss in enumerate(losses))  # fmt: skip


def csv(losses: list[float]) -> str:
    return "step,loss\n" + "".join(f"{step},{loss!r}\n" for step, loss in enumerate(losses))


def make_run(root: Path, name: str, log: str, text: str) -> Path:
    run = root / name
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"lr": 0.1, "epochs": 20}))
    (run / log).write_text(text)
    stamp(run)
    return run


def stamp(run: Path, ago: float = 5.0) -> None:
    """Date every file of ``run`` a few seconds back: recent, so the run is running."""
    moment = time.time() - ago
    for path in run.iterdir():
        os.utime(path, (moment, moment))


def rename_over(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file and rename it over ``path`` (a new inode)."""
    fresh = path.with_name(path.name + ".tmp")
    fresh.write_text(text)
    os.replace(fresh, path)


def watching(root: Path) -> Sweep:
    sweep = Sweep(root)
    sweep.rescan()
    return sweep


def points(sweep: Sweep, run: str, metric: str = "loss") -> list[tuple[float, float | str]]:
    """(step, value) of each point; a NaN value as ``"NaN"``, so that points compare equal."""
    series = sweep.store.runs[run].metrics[metric]
    values = [value if value == value else "NaN" for value in series.values.tolist()]
    return list(zip(series.steps.tolist(), values, strict=True))


def issues(sweep: Sweep, run: str) -> list[tuple]:
    return sorted((i.type, i.step, i.metric, i.message) for i in sweep.store.issues if i.run == run)


def resets_said(sweep: Sweep) -> list[str]:
    return [w.message for w in sweep.store.warnings if RESET_NOTE in w.message]


def assert_report_agrees(sweep: Sweep, root: Path, run: str) -> None:
    """A report read from the final files holds the live run's points, status and issues."""
    now = time.time()
    sweep.tick(now)
    report = load_sweep(root, now=now)
    live, posthoc = sweep.store.runs[run], report.store.runs[run]
    assert {name: points(sweep, run, name) for name in live.metrics} == {
        name: points(report, run, name) for name in posthoc.metrics
    }
    assert live.records == posthoc.records
    assert live.status == posthoc.status
    assert issues(sweep, run) == issues(report, run)


def test_a_jsonl_log_renamed_over_replaces_its_points(tmp_path: Path) -> None:
    run = make_run(tmp_path, "run_003", "metrics.jsonl", jsonl(OLD_LOSSES))
    sweep = watching(tmp_path)
    assert len(points(sweep, "run_003")) == 10
    rename_over(run / "metrics.jsonl", jsonl(FRESH_LOSSES))
    stamp(run, ago=1.0)
    result = sweep.poll([run / "metrics.jsonl"])
    assert points(sweep, "run_003") == [(0.0, 3.0), (1.0, 2.6), (2.0, 2.2)]
    assert sweep.store.runs["run_003"].records == 3
    assert issues(sweep, "run_003") == [] and result.issues == []  # no false divergence
    assert resets_said(sweep) == [f"replaced by a new file; {RESET_NOTE}"]
    assert [reset.path for reset in sweep.store.resets] == [str(run / "metrics.jsonl")]
    sweep.poll()
    sweep.poll([run / "metrics.jsonl"])
    assert len(resets_said(sweep)) == 1 and sweep.store.resets_seen == 1  # once, not per read
    assert_report_agrees(sweep, tmp_path, "run_003")


def test_a_jsonl_log_truncated_and_rewritten_in_place_replaces_its_points(tmp_path: Path) -> None:
    run = make_run(tmp_path, "run_003", "metrics.jsonl", jsonl(OLD_LOSSES))
    sweep = watching(tmp_path)
    log = run / "metrics.jsonl"
    inode = log.stat().st_ino
    log.write_text("")  # the writer truncates...
    sweep.poll([log])
    with log.open("a") as handle:  # ...then writes its new records
        handle.write(jsonl(FRESH_LOSSES))
    stamp(run, ago=1.0)
    sweep.poll([log])
    assert log.stat().st_ino == inode
    assert points(sweep, "run_003") == [(0.0, 3.0), (1.0, 2.6), (2.0, 2.2)]
    assert issues(sweep, "run_003") == []
    assert resets_said(sweep) == [f"truncated; {RESET_NOTE}"]
    assert_report_agrees(sweep, tmp_path, "run_003")


def test_a_log_truncated_and_rewritten_between_two_reads_is_a_reset_too(tmp_path: Path) -> None:
    run = make_run(tmp_path, "r", "metrics.jsonl", jsonl(OLD_LOSSES))
    sweep = watching(tmp_path)
    (run / "metrics.jsonl").write_text(jsonl(FRESH_LOSSES))  # smaller: seen as truncated
    sweep.poll()
    assert points(sweep, "r") == [(0.0, 3.0), (1.0, 2.6), (2.0, 2.2)]
    assert issues(sweep, "r") == []
    assert_report_agrees(sweep, tmp_path, "r")


def test_a_csv_log_renamed_over_or_truncated_replaces_its_points(tmp_path: Path) -> None:
    run = make_run(tmp_path, "run_003", "metrics.csv", csv(OLD_LOSSES))
    sweep = watching(tmp_path)
    rename_over(run / "metrics.csv", csv(FRESH_LOSSES))
    sweep.poll()
    assert points(sweep, "run_003") == [(0.0, 3.0), (1.0, 2.6), (2.0, 2.2)]
    assert issues(sweep, "run_003") == []
    assert resets_said(sweep) == [f"replaced by a new file; {RESET_NOTE}"]
    (run / "metrics.csv").write_text(csv([1.5, 1.2]))  # in place, shorter
    sweep.poll()
    assert points(sweep, "run_003") == [(0.0, 1.5), (1.0, 1.2)]
    assert sweep.store.runs["run_003"].records == 2
    assert resets_said(sweep)[-1] == f"truncated; {RESET_NOTE}"
    assert_report_agrees(sweep, tmp_path, "run_003")


def test_points_from_the_run_s_other_files_are_kept(tmp_path: Path) -> None:
    run = make_run(tmp_path, "r", "metrics.jsonl", jsonl(OLD_LOSSES))
    eval_log = "".join(json.dumps({"step": step, "val_loss": 1.0 / (step + 1), "loss": 0.5}) + "\n"
                       for step in range(4))  # fmt: skip
    (run / "eval.jsonl").write_text(eval_log)
    sweep = watching(tmp_path)
    assert len(points(sweep, "r")) == 14  # loss from both files
    with (run / "metrics.jsonl").open("a") as handle:  # interleave the origins of "loss"
        handle.write(jsonl([0.07], first_step=10))
    with (run / "eval.jsonl").open("a") as handle:
        handle.write(json.dumps({"step": 4, "val_loss": 0.2, "loss": 0.4}) + "\n")
    sweep.poll()
    rename_over(run / "metrics.jsonl", jsonl(FRESH_LOSSES))
    sweep.poll()
    assert sorted(points(sweep, "r")) == sorted(
        [(0.0, 3.0), (1.0, 2.6), (2.0, 2.2)] + [(float(step), 0.5) for step in range(4)] + [(4.0, 0.4)]
    )
    assert len(points(sweep, "r", "val_loss")) == 5
    assert sweep.store.runs["r"].records == 3 + 5
    assert_report_agrees_on_sets(sweep, tmp_path, "r")


def assert_report_agrees_on_sets(sweep: Sweep, root: Path, run: str) -> None:
    """With one metric fed by two files, the order of its points depends on the reading;
    the points themselves do not."""
    report = load_sweep(root, now=time.time())
    for name in sweep.store.runs[run].metrics:
        assert sorted(points(sweep, run, name)) == sorted(points(report, run, name))
    assert set(sweep.store.runs[run].metrics) == set(report.store.runs[run].metrics)


def test_issues_the_new_content_shows_are_raised_and_those_it_does_not_go(tmp_path: Path) -> None:
    run = make_run(tmp_path, "r", "metrics.jsonl", jsonl([1.0, 0.9, math.nan, 0.8]))
    sweep = watching(tmp_path)
    assert [i.type for i in sweep.store.issues] == ["nan_or_inf_metric"]
    rename_over(run / "metrics.jsonl", jsonl([1.0, 0.9, 0.8]))
    result = sweep.poll()
    assert sweep.store.issues == [] and result.issues == []
    assert sweep.store.runs["r"].issue_types == []
    rename_over(run / "metrics.jsonl", jsonl([1.0, math.inf]))
    result = sweep.poll()
    assert [i.type for i in result.issues] == ["nan_or_inf_metric"]
    assert result.issues[0].step == 1.0
    assert_report_agrees(sweep, tmp_path, "r")


def test_an_issue_the_new_content_still_shows_is_kept_not_raised_again(tmp_path: Path) -> None:
    diverging = OLD_LOSSES + FRESH_LOSSES
    run = make_run(tmp_path, "r", "metrics.jsonl", jsonl(diverging))
    sweep = watching(tmp_path)
    (before,) = sweep.store.issues
    assert before.type == "divergence"
    added = sweep.store.issues_added
    rename_over(run / "metrics.jsonl", jsonl([*diverging, 2.0]))  # the same log, one more line
    result = sweep.poll()
    assert result.issues == [] and sweep.store.issues == [before]
    assert sweep.store.issues_added == added  # nothing withdrawn and found again
    assert len(points(sweep, "r")) == 14
    assert resets_said(sweep) == [f"replaced by a new file; {RESET_NOTE}"]
    assert sweep.store.resets_seen == 0  # it gives what it gave, and more: no news for a toast
    assert_report_agrees(sweep, tmp_path, "r")


def test_an_end_the_old_log_claimed_is_withdrawn_with_its_points(tmp_path: Path) -> None:
    crashed = jsonl(OLD_LOSSES) + json.dumps({"status": "crashed", "error": "RuntimeError: boom"}) + "\n"
    run = make_run(tmp_path, "r", "metrics.jsonl", crashed)
    sweep = watching(tmp_path)
    assert sweep.store.runs["r"].status == "crashed"
    assert [i.type for i in sweep.store.issues] == ["crashed"]
    rename_over(run / "metrics.jsonl", jsonl(FRESH_LOSSES))  # the job started over
    stamp(run, ago=1.0)
    sweep.poll()
    sweep.tick(time.time())
    assert sweep.store.runs["r"].status == "running"
    assert sweep.store.issues == [] and sweep.store.runs["r"].failure is None
    assert_report_agrees(sweep, tmp_path, "r")
    finished = jsonl(FRESH_LOSSES) + json.dumps({"status": "finished"}) + "\n"
    rename_over(run / "metrics.jsonl", finished)  # ...and this time it finished (short)
    sweep.poll()
    assert sweep.store.runs["r"].status == "finished"
    assert_report_agrees(sweep, tmp_path, "r")


def test_an_end_from_another_file_stands_when_the_log_is_reset(tmp_path: Path) -> None:
    run = make_run(tmp_path, "r", "metrics.jsonl", jsonl(OLD_LOSSES) + '{"status": "finished"}\n')
    (run / "error.txt").write_text("Traceback (most recent call last):\nRuntimeError: CUDA out of memory.\n")
    sweep = watching(tmp_path)
    assert sweep.store.runs["r"].failure.kind == "oom"
    rename_over(run / "metrics.jsonl", jsonl(FRESH_LOSSES))
    sweep.poll()
    live = sweep.store.runs["r"]
    assert live.status == "crashed" and live.failure.kind == "oom"
    (issue,) = sweep.store.issues
    assert issue.type == "oom" and issue.step == 2.0  # where the run is now
    assert_report_agrees(sweep, tmp_path, "r")


def test_ordinary_appends_ingest_each_record_once_without_a_reset(tmp_path: Path) -> None:
    run = make_run(tmp_path, "r", "metrics.jsonl", jsonl(OLD_LOSSES[:4]))
    sweep = watching(tmp_path)
    for step in range(4, 10):
        with (run / "metrics.jsonl").open("a") as handle:
            handle.write(jsonl([OLD_LOSSES[step]], first_step=step))
        sweep.poll([run / "metrics.jsonl"])
    sweep.poll()
    assert points(sweep, "r") == [(float(step), loss) for step, loss in enumerate(OLD_LOSSES)]
    assert sweep.store.runs["r"].records == 10
    assert resets_said(sweep) == [] and sweep.store.resets_seen == 0


def test_a_large_replacement_read_in_parts_holds_only_the_new_content(tmp_path: Path) -> None:
    run = make_run(tmp_path, "r", "metrics.jsonl", jsonl(OLD_LOSSES))
    sweep = watching(tmp_path)
    count = SPILL_RECORDS + 10  # handed to the store in two parts
    rename_over(run / "metrics.jsonl", jsonl([1.0 + 1.0 / (i + 1) for i in range(count)]))
    sweep.poll()
    (series,) = sweep.store.runs["r"].metrics.values()
    assert len(series) == count and series.steps.tolist()[:2] == [0.0, 1.0]
    assert sweep.store.runs["r"].records == count
    assert issues(sweep, "r") == []


def test_a_series_drops_the_points_of_one_origin_wherever_they_sit() -> None:
    series = MetricSeries()
    series.extend([0.0, 1.0], [5.0, 4.0], "a")
    series.extend([0.0], [9.0], "b")
    series.extend([2.0], [3.0], "a")
    series.extend([1.0, 2.0], [8.0, 7.0], "b")
    assert [column.tolist() for column in series.of("a")] == [[0.0, 1.0, 2.0], [5.0, 4.0, 3.0]]
    assert [column.tolist() for column in series.drop("a")] == [[0.0, 1.0, 2.0], [5.0, 4.0, 3.0]]
    assert series.steps.tolist() == [0.0, 1.0, 2.0] and series.values.tolist() == [9.0, 8.0, 7.0]
    assert series.best("min") == 7.0 and series.step_range == (0.0, 2.0)
    assert len(series.drop("a")[0]) == 0
    series.extend([3.0], [1.0], "a")
    assert len(series.drop("b")[0]) == 3
    assert series.values.tolist() == [1.0] and series.best("max") == 1.0
    assert len(series.drop("a")[0]) == 1 and len(series) == 0 and series.best("min") is None


def test_an_optuna_journal_rewritten_shorter_replays_in_place_of_what_it_gave(tmp_path: Path) -> None:
    journal = copy_fixture("optuna", tmp_path) / "journal" / "optuna_journal.log"
    (tmp_path / "optuna" / "rdb").rename(tmp_path / "rdb_elsewhere")  # the journal alone
    lines = journal.read_text().splitlines(keepends=True)
    sweep = watching(tmp_path / "optuna")
    before = sum(len(series) for run in sweep.store for series in run.metrics.values())
    journal.write_text("".join(lines[: len(lines) // 2]))  # the study started over
    sweep.poll()
    report = load_sweep(tmp_path / "optuna", now=time.time())
    sweep.tick(time.time())
    after = 0
    for run in sweep.store:
        twin = report.store.runs.get(run.id)
        if twin is None:  # a trial the new journal does not hold (yet): no points left
            assert run.metrics == {} and run.records == 0
            continue
        assert {name: points(sweep, run.id, name) for name in run.metrics} == {
            name: points(report, run.id, name) for name in twin.metrics
        }
        assert run.status == twin.status and issues(sweep, run.id) == issues(report, run.id)
        after += sum(len(series) for series in run.metrics.values())
    assert 0 < after < before
    assert any(w.message.startswith("journal truncated; the points read from it before are dropped")
               for w in sweep.store.warnings)


def test_a_requeued_slurm_job_s_truncated_log_replaces_its_points_and_its_end(tmp_path: Path) -> None:
    folder = copy_fixture("slurm", tmp_path) / "array_sweep"
    log = folder / "slurm-88231_4.out"
    run_id = log.relative_to(tmp_path).as_posix()
    sweep = watching(tmp_path)
    assert sweep.store.runs[run_id].status == "killed" and sweep.store.runs[run_id].last_epoch == 6
    lines = log.read_text().splitlines(keepends=True)
    header = [line for line in lines if not line.startswith(("Epoch ", "slurmstepd"))]
    epochs = [line for line in lines if line.startswith("Epoch ")]
    log.write_text("".join(header + epochs[:3]))  # requeued: Slurm truncates the log, starts over
    sweep.poll([log])
    run = sweep.store.runs[run_id]
    assert run.metrics["val_loss"].steps.tolist() == [1.0, 2.0, 3.0]
    assert run.failure is None and not run.ended
    assert "killed" not in run.issue_types
    assert any(w.message == f"truncated; {RESET_NOTE}" for w in sweep.store.warnings)
    assert_report_agrees(sweep, tmp_path, run_id)


def test_a_results_array_rewritten_whole_is_no_reset(tmp_path: Path) -> None:
    """A results array is rewritten whole after each experiment by design: it is re-read
    whole, never taken for an appended log that was reset."""
    path = tmp_path / "sweep_results_intermediate.json"
    first = {"name": "a", "config": {"lr": 0.1}, "train_losses": [1.0, 0.9], "status": "running"}
    path.write_text(json.dumps([first]))
    sweep = watching(tmp_path)
    rename_over(path, json.dumps([{**first, "train_losses": [1.0, 0.9, 0.8]},
                                  {"name": "b", "train_losses": [2.0], "status": "running"}]))  # fmt: skip
    sweep.poll()
    assert points(sweep, "a", "train_loss") == [(1.0, 1.0), (2.0, 0.9), (3.0, 0.8)]  # epochs from 1
    assert sweep.store.runs["a"].records == 3 and sweep.store.resets_seen == 0
    assert resets_said(sweep) == []


def test_a_lightning_csv_widened_by_a_column_is_read_again_without_news(tmp_path: Path) -> None:
    run = tmp_path / "lightning_logs" / "version_0"
    run.mkdir(parents=True)
    (run / "hparams.yaml").write_text("lr: 0.01\nmax_epochs: 5\n")
    log = run / "metrics.csv"
    log.write_text("epoch,step,train_loss\n0,0,1.0\n0,1,0.9\n")
    sweep = watching(tmp_path)
    (run_id,) = sweep.store.runs
    # the logger rewrites the file in place with the new header when val_loss first appears
    log.write_text("epoch,step,train_loss,val_loss\n0,0,1.0,\n0,1,0.9,\n0,1,,0.95\n")
    sweep.poll([log])
    assert points(sweep, run_id, "train_loss") == [(0.0, 1.0), (1.0, 0.9)]
    assert points(sweep, run_id, "val_loss") == [(1.0, 0.95)]
    assert sweep.store.runs[run_id].records == 3
    assert resets_said(sweep) == [f"truncated; {RESET_NOTE}"]
    assert sweep.store.resets_seen == 0  # nothing shown changed: no toast
    assert_report_agrees(sweep, tmp_path, run_id)


def test_a_log_replaced_between_two_passes_of_one_read_keeps_nothing_of_the_old(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr(run_dir, "READ_BYTES", 64)  # a read of a few lines per pass
    path = tmp_path / "metrics.jsonl"
    old = jsonl(OLD_LOSSES[:1]) + '{"status": "crashed"}\n' + jsonl(OLD_LOSSES[1:], first_step=1)
    path.write_text(old)
    log = run_dir.JsonlLog(path, Settings(), "r")
    columns, events, ends = log.columns(), [], []
    passes = log.passes(columns, events, ends)
    next(passes)  # the first lines of the old content, its end line among them
    assert ends and columns.records
    rename_over(path, jsonl(FRESH_LOSSES))
    for _ in passes:
        pass
    batch = columns.build("r")
    assert ends == [] and [type(e) for e in events if not isinstance(e, SourceWarning)] == [FileReset]
    assert batch.metrics["loss"].values.tolist() == FRESH_LOSSES and batch.records == 3
    assert batch.origin == str(path)
