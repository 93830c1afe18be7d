"""Hinted reads: a reader handed the paths that changed reads only those, and loses nothing.

Every test here compares against what the sweep's files hold, or against a second
copy of the same files read without hints: a hinted read must give the same
events as a full one whenever the hint names what changed.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from sweeptui.events import FileReset, MetricBatch, RunEnded, RunSeen, SourceWarning, SummarySeen
from sweeptui.settings import Settings
from sweeptui.sources.lightning import LightningReader
from sweeptui.sources.run_dir import RunDirReader
from sweeptui.sweep import Sweep


def lines(*records: dict) -> str:
    return "".join(json.dumps(record) + "\n" for record in records)


def append(path: Path, text: str) -> None:
    with open(path, "a") as handle:
        handle.write(text)


def make_run(root: Path, name: str = "r", steps: range = range(3)) -> Path:
    run = root / name
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"lr": 0.1, "epochs": 10}))
    (run / "metrics.jsonl").write_text(lines(*({"step": s, "loss": 1.0 / (s + 1)} for s in steps)))
    return run


def steps_of(sweep: Sweep, run: str, metric: str = "loss") -> list[float]:
    return list(sweep.store.runs[run].metrics[metric].steps)


def without_root(events: list, root: Path) -> list:
    """Events with warning paths made relative, so two copies of a run compare equal."""
    return [SourceWarning(e.path.replace(str(root), "<root>"), e.message)
            if isinstance(e, SourceWarning) else e for e in events]


# -- a run directory ---------------------------------------------------------------------------
def test_a_hinted_poll_reads_the_appended_record_exactly_once(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    sweep = Sweep(tmp_path)
    sweep.rescan()
    append(run / "metrics.jsonl", lines({"step": 3, "loss": 0.2}))
    result = sweep.poll([run / "metrics.jsonl"])
    assert result.changed_runs == {"r"} and steps_of(sweep, "r") == [0, 1, 2, 3]
    assert sweep.poll([run / "metrics.jsonl"]).events == 0
    assert sweep.poll().events == 0 and sweep.rescan(reread=True).events == 0
    assert steps_of(sweep, "r") == [0, 1, 2, 3] and sweep.store.runs["r"].records == 4


def test_a_partial_line_waits_for_its_newline_under_hints(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    sweep = Sweep(tmp_path)
    sweep.rescan()
    line = lines({"step": 3, "loss": 0.2})
    append(run / "metrics.jsonl", line[:7])
    assert sweep.poll([str(run / "metrics.jsonl")]).events == 0
    append(run / "metrics.jsonl", line[7:])
    sweep.poll([str(run / "metrics.jsonl")])
    assert steps_of(sweep, "r") == [0, 1, 2, 3]


def test_a_hint_naming_a_new_file_in_a_known_run_picks_it_up(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    sweep = Sweep(tmp_path)
    sweep.rescan()
    (run / "eval.jsonl").write_text(lines({"step": 0, "val_acc": 0.5}, {"step": 1, "val_acc": 0.6}))
    result = sweep.poll([run / "eval.jsonl"])
    assert result.changed_runs == {"r"} and result.unowned == []
    assert list(sweep.store.runs["r"].metrics["val_acc"].values) == [0.5, 0.6]
    sweep.poll([run / "eval.jsonl"])
    assert len(sweep.store.runs["r"].metrics["val_acc"]) == 2


def test_a_hint_for_a_file_the_reader_never_reads_reads_nothing(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    sweep = Sweep(tmp_path)
    sweep.rescan()
    (run / "checkpoint.pt").write_bytes(b"\0" * 16)
    (run / "ckpt").mkdir()
    (run / "ckpt" / "last.pt").write_bytes(b"\0")
    result = sweep.poll([run / "checkpoint.pt", run / "ckpt", run / "ckpt" / "last.pt"])
    assert result.events == 0 and result.unowned == []


def test_a_change_the_hint_missed_is_caught_by_a_rescan_that_rereads(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    (run / "status.json").write_text("")  # followed from the start, not yet written
    sweep = Sweep(tmp_path)
    sweep.rescan()
    append(run / "metrics.jsonl", lines({"step": 3, "loss": 0.2}))
    (run / "status.json").write_text(json.dumps({"status": "finished"}))
    sweep.poll([run / "metrics.jsonl"])  # the event for status.json was lost
    assert steps_of(sweep, "r") == [0, 1, 2, 3] and sweep.store.runs["r"].status == "running"
    sweep.rescan()  # a walk for new runs alone does not reread known ones
    assert sweep.store.runs["r"].status == "running"
    sweep.rescan(reread=True)
    assert sweep.store.runs["r"].status == "finished" and steps_of(sweep, "r") == [0, 1, 2, 3]


def _twin_readers(tmp_path: Path, prepare, reader_type=RunDirReader):
    """The same run under two roots, each read once: one to get hints, one to read in full."""
    roots = [tmp_path / "hinted", tmp_path / "full"]
    readers = []
    for root in roots:
        run = make_run(root)
        prepare(run)
        reader = reader_type(root, run, Settings())
        reader.read()
        readers.append(reader)
    return roots, readers


def _same_change(tmp_path: Path, prepare, change, changed_name: str, reader_type=RunDirReader):
    """Events of a hinted read and of a full read after the same change to both copies."""
    roots, (hinted, full) = _twin_readers(tmp_path, prepare, reader_type)
    for root in roots:
        change(root / "r")
    got = hinted.read([roots[0] / "r" / changed_name])
    expected = full.read()
    assert without_root(got, roots[0]) == without_root(expected, roots[1])
    assert hinted.read([roots[0] / "r" / changed_name]) == [] and full.read() == []
    return got


def _nothing(run: Path) -> None:
    pass


def test_a_changed_config_gives_the_same_events_as_a_full_read(tmp_path: Path) -> None:
    def change(run: Path) -> None:
        (run / "config.json").write_text(json.dumps({"lr": 0.01, "epochs": 20}))

    got = _same_change(tmp_path, _nothing, change, "config.json")
    assert [type(e) for e in got] == [RunSeen] and got[0].params == {"lr": 0.01, "epochs": 20}


def test_a_written_status_file_gives_the_same_events_as_a_full_read(tmp_path: Path) -> None:
    def prepare(run: Path) -> None:
        (run / "status.json").write_text("")

    def change(run: Path) -> None:
        (run / "status.json").write_text(json.dumps({"status": "failed", "error": "CUDA error"}))

    got = _same_change(tmp_path, prepare, change, "status.json")
    assert [(type(e), e.status) for e in got] == [(RunEnded, "crashed")]


def test_a_growing_error_log_gives_the_same_events_as_a_full_read(tmp_path: Path) -> None:
    def prepare(run: Path) -> None:
        (run / "error.txt").write_text("")

    def change(run: Path) -> None:
        append(run / "error.txt", "Traceback (most recent call last):\nRuntimeError: CUDA out of memory\n")

    got = _same_change(tmp_path, prepare, change, "error.txt")
    assert len(got) == 1 and "out of memory" in got[0].error


def test_summary_exit_code_and_new_marker_give_the_same_events_as_a_full_read(
    tmp_path: Path,
) -> None:
    def prepare(run: Path) -> None:
        (run / "summary.json").write_text("{}")
        (run / "exit_code").write_text("")

    def summary(run: Path) -> None:
        (run / "summary.json").write_text(json.dumps({"test_acc": 0.9}))

    got = _same_change(tmp_path / "summary", prepare, summary, "summary.json")
    assert got == [SummarySeen("r", {"test_acc": 0.9})]

    def exit_code(run: Path) -> None:
        (run / "exit_code").write_text("137\n")

    got = _same_change(tmp_path / "exit", prepare, exit_code, "exit_code")
    assert [(e.status, e.exit_code) for e in got] == [(None, 137)]

    def marker(run: Path) -> None:  # a file not followed yet: the read lists the directory
        (run / "DONE").write_text("")

    got = _same_change(tmp_path / "done", prepare, marker, "DONE")
    assert [(type(e), e.status) for e in got] == [(RunEnded, "finished")]


def test_a_deleted_or_rewritten_log_under_hints_matches_a_full_read(tmp_path: Path) -> None:
    def delete(run: Path) -> None:
        (run / "metrics.jsonl").unlink()

    got = _same_change(tmp_path / "deleted", _nothing, delete, "metrics.jsonl")
    assert [e.message for e in got] == ["file is missing (deleted or a dangling link)"]

    def rewrite(run: Path) -> None:  # replaced by a copy holding one more record
        replacement = run / "metrics.tmp"
        replacement.write_text(lines(*({"step": s, "loss": 1.0 / (s + 1)} for s in range(4))))
        replacement.replace(run / "metrics.jsonl")

    roots, (hinted, full) = _twin_readers(tmp_path / "rewritten", _nothing)
    for root in roots:
        rewrite(root / "r")
    got = hinted.read([roots[0] / "r" / "metrics.tmp", roots[0] / "r" / "metrics.jsonl"])
    expected = full.read()
    batches = [e for e in got if isinstance(e, MetricBatch)]
    assert [type(e) for e in got if not isinstance(e, SourceWarning)] == [FileReset, MetricBatch]
    assert [b.records for b in batches] == [4]  # read again in place of what it gave
    assert list(batches[0].metrics["loss"].steps) == [0, 1, 2, 3]
    assert [e.message for e in got if isinstance(e, SourceWarning)] == [
        e.message for e in expected if isinstance(e, SourceWarning)
    ]


def test_lightning_end_line_in_a_growing_log_is_seen_under_hints(tmp_path: Path) -> None:
    def prepare(run: Path) -> None:
        (run.parent / "version_0").mkdir()
        (run / "stderr.log").write_text("Epoch 1: 100%\n")

    def change(run: Path) -> None:
        append(run / "stderr.log", "`Trainer.fit` stopped: `max_epochs=2` reached.\n")

    roots = [tmp_path / "hinted", tmp_path / "full"]
    readers = []
    for root in roots:
        run = root / "tiny" / "version_0"
        run.mkdir(parents=True)
        (run / "metrics.csv").write_text("epoch,step,train_loss\n0,0,1.0\n")
        (run / "stderr.log").write_text("Epoch 1: 100%\n")
        reader = LightningReader(root, run, Settings())
        reader.read()
        readers.append(reader)
    for root in roots:
        change(root / "tiny" / "version_0")
    got = readers[0].read([roots[0] / "tiny" / "version_0" / "stderr.log"])
    assert got == readers[1].read()
    assert [(type(e), e.status) for e in got] == [(RunEnded, "finished")]


def test_mixed_hinted_and_full_polls_ingest_every_record_once(tmp_path: Path) -> None:
    names = [f"run_{i}" for i in range(4)]
    logs = {name: make_run(tmp_path, name, range(0)) / "metrics.jsonl" for name in names}
    sweep = Sweep(tmp_path)
    sweep.rescan()
    rng = random.Random(7)
    text = dict.fromkeys(names, "")  # every record meant for the log
    flushed = dict.fromkeys(names, 0)  # characters of it written so far
    for _round in range(80):
        changed = []
        for name in rng.sample(names, rng.randint(1, len(names))):
            first = text[name].count("\n")
            text[name] += lines(*({"step": first + k, "loss": 1.0 / (first + k + 1)}
                                  for k in range(rng.randint(1, 3))))
            cut = len(text[name]) - rng.choice([0, 0, 5])  # now and then, half a line
            append(logs[name], text[name][flushed[name] : cut])
            flushed[name] = cut
            changed.append(logs[name])
        action = rng.random()
        if action < 0.6:
            sweep.poll(changed)
        elif action < 0.75:
            sweep.poll(changed[:1])  # the events of the others were lost
        elif action < 0.9:
            sweep.poll()
        else:
            sweep.rescan(reread=True)
        for name in names:
            complete = text[name][: flushed[name]].count("\n")
            steps = steps_of(sweep, name) if "loss" in sweep.store.runs[name].metrics else []
            assert steps == list(range(len(steps))) and len(steps) <= complete  # never twice
            if action >= 0.75 or (action < 0.6 and logs[name] in changed):
                assert len(steps) == complete
    for name in names:
        append(logs[name], text[name][flushed[name] :])
    sweep.rescan(reread=True)
    for name in names:
        total = text[name].count("\n")
        assert steps_of(sweep, name) == list(range(total)), name
        assert sweep.store.runs[name].records == total


def test_a_lone_ray_trial_reads_its_results_and_error_under_hints(tmp_path: Path) -> None:
    trial = tmp_path / "train_0001"
    trial.mkdir()
    (trial / "params.json").write_text(json.dumps({"lr": 0.1}))
    (trial / "result.json").write_text(lines({"training_iteration": 1, "loss": 1.0}))
    sweep = Sweep(tmp_path)
    sweep.rescan()
    (run,) = sweep.store
    append(trial / "result.json", lines({"training_iteration": 2, "loss": 0.5}))
    (trial / "events.out.tfevents.1.host").write_bytes(b"\0" * 8)  # Ray's copy: never read
    sweep.poll([trial / "result.json", trial / "events.out.tfevents.1.host"])
    assert list(run.metrics["loss"].values) == [1.0, 0.5] and run.status == "running"
    (trial / "error.txt").write_text("Traceback (most recent call last):\nValueError: bad batch\n")
    sweep.poll([trial / "error.txt"])
    assert run.status == "crashed" and "bad batch" in run.error
    assert list(run.metrics["loss"].values) == [1.0, 0.5]
