"""A one-shot load reading and judging run directories in child processes gives exactly
the serial load: the same runs, series, statuses, issues (type, step, epoch, metric,
message, time) and warnings, on every tool fixture, every bundled sample sweep and a
sweep of odd run directories; and a poll after a parallel load continues it exactly.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import pytest

from sweeptui import readalone
from sweeptui.sources import forked
from sweeptui.sweep import Sweep
from tests.test_ray_parallel_load import NOW, children_cpu, store_state
from tests.tool_fixtures import FIXTURES, copy_fixture

SAMPLES = Path(__file__).resolve().parents[1] / "sample_runs"
TOOLS = sorted(path.name for path in FIXTURES.iterdir() if path.is_dir())


def loaded(root: Path, parallel: bool, monkeypatch) -> tuple[Sweep, list]:
    """``root`` loaded at :data:`NOW`, with run directories read in children or not;
    the sweep and the issues its load returned."""
    monkeypatch.setattr(readalone, "PARALLEL_MIN_READERS", 2 if parallel else 10**9)
    monkeypatch.setattr(forked, "MIN_IDLE_CORES", 0.0)  # however busy the machine is
    monkeypatch.setattr(readalone, "PARALLEL_MIN_BYTES", 0)  # however short the logs
    sweep = Sweep(root)
    before = children_cpu()
    issues = sweep.load(now=NOW).issues
    if parallel and any(reader.reads_alone for reader in sweep.readers[1:]):
        assert children_cpu() > before, "no run directory was read in a child process"
    return sweep, issues


def assert_same_load(root: Path, monkeypatch) -> Sweep:
    """The serial and the parallel load of ``root`` agree on everything; the parallel one."""
    serial, serial_issues = loaded(root, False, monkeypatch)
    parallel, parallel_issues = loaded(root, True, monkeypatch)
    assert store_state(parallel) == store_state(serial)
    assert [run.verdict for run in parallel.store] == [run.verdict for run in serial.store]
    assert repr(parallel_issues) == repr(serial_issues)
    return parallel


@pytest.fixture(autouse=True)
def _forking_possible() -> None:
    with forked.one_shot_load():
        if forked.worker_count(2) == 0:
            pytest.skip("no second core or no fork here: a load stays serial")


@pytest.mark.parametrize("tool", TOOLS)
def test_every_tool_fixture_loads_the_same_in_children(tool: str, tmp_path: Path, monkeypatch) -> None:
    assert_same_load(copy_fixture(tool, tmp_path), monkeypatch)


@pytest.mark.parametrize("sample", sorted(p.name for p in SAMPLES.iterdir() if p.is_dir()))
def test_every_sample_sweep_loads_the_same_in_children(
    sample: str, tmp_path: Path, monkeypatch
) -> None:
    root = tmp_path / sample
    shutil.copytree(SAMPLES / sample, root)
    sweep = assert_same_load(root, monkeypatch)
    assert len(sweep.store) > 1


# -- a sweep of odd run directories ---------------------------------------------------------
def record(step: int, loss: float, val: float) -> dict:
    return {"step": step, "epoch": step // 10, "train_loss": loss, "val_loss": val,
            "time": 1_700_000_000.0 + step}  # fmt: skip


def write_run(root: Path, name: str, records: list[dict], tail: str = "", **files: str) -> Path:
    run = root / name
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"lr": 0.01, "name": name, "epochs": 10}))
    lines = "".join(json.dumps(item) + "\n" for item in records)
    (run / "metrics.jsonl").write_text(lines + tail)
    for filename, text in files.items():
        (run / filename.replace("_dot_", ".")).write_text(text)
    return run


def odd_sweep(root: Path) -> Path:
    """Healthy, NaN, diverging, overfitting, crashed, bad-line, partial-line and
    Python-tagged runs, enough of them that the children share the work."""
    healthy = [record(step, 2.0 / (1 + step), 2.1 / (1 + step)) for step in range(100)]
    for index in range(6):
        write_run(root, f"healthy_{index}", healthy, DONE="")
    write_run(root, "nan", [*healthy[:40], record(40, math.nan, math.nan), *healthy[41:60]],
              error_dot_txt="Traceback (most recent call last):\nValueError: loss is nan\n")  # fmt: skip
    diverging = [record(step, 1.0 * (1.6 ** max(0, step - 30)), 1.0) for step in range(60)]
    write_run(root, "diverging", diverging, exit_code="1\n")
    overfit = [record(step, 1.0 / (1 + step), 0.5 + abs(step - 40) / 40) for step in range(100)]
    write_run(root, "overfit", overfit, DONE="")
    bad = "".join(json.dumps(item) + "\n" for item in healthy[:50]) + "{not json\n"
    write_run(root, "bad_line", healthy[50:], tail=bad)
    write_run(root, "partial", healthy[:30], tail=json.dumps(healthy[30])[:25])
    write_run(root, "short", healthy[:20], DONE="")
    for index in range(3):  # the same once-per-sweep note from several runs
        run = write_run(root, f"tagged_{index}", healthy[:30], DONE="")
        (run / "config.json").unlink()
        (run / "hparams.yaml").write_text("lr: 0.01\nbetas: !!python/tuple [0.9, 0.99]\n")
    old = NOW - 86_400 * 30
    for path in root.rglob("*"):
        os.utime(path, (old, old))
    return root


def test_a_sweep_of_odd_run_directories_loads_the_same_in_children(
    tmp_path: Path, monkeypatch
) -> None:
    sweep = assert_same_load(odd_sweep(tmp_path / "sweep"), monkeypatch)
    types = {(issue.run, issue.type) for issue in sweep.store.issues}
    assert ("nan", "nan_or_inf_metric") in types
    assert ("diverging", "divergence") in types
    assert ("overfit", "overfitting_suspect") in types
    assert any("not valid JSON" in warning.message for warning in sweep.store.warnings)
    tags = [w for w in sweep.store.warnings if "python" in w.message.lower()]
    assert len(tags) == 1, "a once-per-sweep note said once, whichever child read it"


def test_a_poll_after_a_parallel_load_continues_like_a_serial_one(
    tmp_path: Path, monkeypatch
) -> None:
    """Lines appended after the load are read once, and the detectors carry on from the
    state the children left: a run turning NaN or diverging afterwards is flagged the same."""
    roots = [odd_sweep(tmp_path / "serial"), odd_sweep(tmp_path / "parallel")]
    sweeps = [loaded(roots[0], False, monkeypatch)[0], loaded(roots[1], True, monkeypatch)[0]]
    later = [record(step, 2.0 / (1 + step), 2.1 / (1 + step)) for step in range(100, 130)]
    later.append(record(130, math.nan, 1.0))
    rising = [record(step, 1.0 * 1.7 ** (step - 99), 1.0) for step in range(100, 115)]
    for root, sweep in zip(roots, sweeps, strict=True):
        with (root / "healthy_0" / "metrics.jsonl").open("a") as handle:
            handle.write("".join(json.dumps(item) + "\n" for item in later))
        with (root / "healthy_1" / "metrics.jsonl").open("a") as handle:
            handle.write("".join(json.dumps(item) + "\n" for item in rising))
        with (root / "partial" / "metrics.jsonl").open("a") as handle:
            handle.write("\n")
        sweep.poll([root / "healthy_0" / "metrics.jsonl", root / "healthy_1" / "metrics.jsonl",
                    root / "partial" / "metrics.jsonl"])  # fmt: skip
        sweep.poll(None)  # nothing new: nothing read twice
    for sweep in sweeps:
        for run in sweep.store:
            run.last_arrival = None  # the clock at each poll
    serial, parallel = (store_state(sweep) for sweep in sweeps)
    assert [line.replace("/serial/", "/x/") for line in serial] == [
        line.replace("/parallel/", "/x/") for line in parallel
    ]
    types = {(issue.run, issue.type) for issue in sweeps[1].store.issues}
    assert ("healthy_0", "nan_or_inf_metric") in types and ("healthy_1", "divergence") in types
    runs = {run.id: run for run in sweeps[1].store}
    assert runs["healthy_0"].records == 131 and runs["partial"].records == 30  # its cut line is bad


def test_a_child_dying_mid_load_costs_time_not_data(
    tmp_path: Path, tmp_path_factory, monkeypatch
) -> None:
    """A child that dies breaks the pool: the readers not yet taken over are read here."""
    root = odd_sweep(tmp_path / "sweep")
    serial, _ = loaded(root, False, monkeypatch)
    read_alone = readalone.read_alone
    died = tmp_path_factory.mktemp("marks") / "a child died"  # outside the sweep

    def dies_on_one_run(reader, *args):  # an injected fault: runs in the child only
        if reader.base.name == "overfit":
            died.touch()
            os._exit(9)
        return read_alone(reader, *args)

    monkeypatch.setattr(readalone, "read_alone", dies_on_one_run)
    survived, _ = loaded(root, True, monkeypatch)
    assert died.exists()
    assert store_state(survived) == store_state(serial)


def test_the_pipe_children_send_results_through_holds_a_chunk_of_long_reads() -> None:
    """A child goes on reading once its results are in the pipe: a widened pipe (1 MB
    on Linux) holds a chunk's results whole, where 64 KB made it wait for the parent."""
    import fcntl
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
    try:
        forked._widen_result_pipe(pool)
        size = fcntl.fcntl(pool._result_queue._writer.fileno(), fcntl.F_GETPIPE_SZ)
        assert size >= forked.RESULT_PIPE_BYTES
        assert list(pool.map(abs, [-1, -2])) == [1, 2]
    finally:
        pool.shutdown()


def test_work_meanwhile_that_fails_does_not_stop_the_children(tmp_path: Path, monkeypatch) -> None:
    """An import that fails while the children read (a broken install) fails again where
    the caller needs it and says why there; the children go on reading meanwhile."""
    root = odd_sweep(tmp_path / "sweep")
    serial, _ = loaded(root, False, monkeypatch)
    taken: list[str] = []
    take_over = Sweep._take_over

    def counted(self, reader, *args):
        taken.append(reader.base.name)
        return take_over(self, reader, *args)

    def broken_import():
        raise ImportError("no module named 'pandas'")

    monkeypatch.setattr(Sweep, "_take_over", counted)
    monkeypatch.setattr(readalone, "PARALLEL_MIN_READERS", 2)
    monkeypatch.setattr(forked, "MIN_IDLE_CORES", 0.0)
    monkeypatch.setattr(readalone, "PARALLEL_MIN_BYTES", 0)
    counts = []
    for meanwhile in (lambda: None, broken_import):
        taken.clear()
        sweep = Sweep(root)
        sweep.load(now=NOW, meanwhile=meanwhile)
        assert store_state(sweep) == store_state(serial)
        counts.append(len(taken))
    assert counts[1] == counts[0] > 2, "as many reads taken over from children either way"
