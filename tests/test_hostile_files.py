"""Hostile files in a sweep: FIFOs, devices, links out of the root, unreadable or odd bytes.

Each test builds the input on disk and runs the real readers; cases that used to
hang run ``sweeptui report`` in a subprocess with a timeout, so a regression fails
the test instead of hanging the suite.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from sweeptui.settings import Settings
from sweeptui.sweep import Sweep, load_sweep

REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 60


def write_run(root: Path, name: str, losses=(1.0, 0.9, 0.8), status: str | None = "finished") -> Path:
    run = root / name
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"lr": 0.1, "epochs": len(losses)}))
    text = "".join(json.dumps({"step": i, "loss": v}) + "\n" for i, v in enumerate(losses, 1))
    (run / "metrics.jsonl").write_text(text)
    if status:
        (run / "status.json").write_text(json.dumps({"status": status}))
    return run


def report(root: Path, *args: str, user: int | None = None) -> tuple[int, dict, str]:
    """``sweeptui report ROOT --format json`` in a subprocess; (exit code, report, stderr)."""
    done = subprocess.run(
        [sys.executable, "-m", "sweeptui", "report", str(root), "--format", "json", *args],
        capture_output=True, text=True, timeout=TIMEOUT, cwd=REPO, check=False,
        env={**os.environ, "PYTHONPATH": str(REPO)}, user=user,
    )  # fmt: skip
    return done.returncode, (json.loads(done.stdout) if done.stdout.strip() else {}), done.stderr


def warning_for(data: dict, name: str) -> list[str]:
    return [w["message"] for w in data["warnings"] if w["path"].endswith(name)]


# -- FIFOs and devices -------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["config.json", "error.txt", "status.json", "summary.json"])
def test_a_fifo_in_a_run_directory_is_refused_and_the_sweep_still_read(tmp_path: Path, name: str) -> None:
    write_run(tmp_path, "good")
    bad = write_run(tmp_path, "bad")
    (bad / name).unlink(missing_ok=True)
    os.mkfifo(bad / name)
    code, data, stderr = report(tmp_path)  # used to block forever on the FIFO
    assert code == 0, stderr
    assert {run["id"] for run in data["runs"]} == {"good", "bad"}
    assert any("FIFO" in m for m in warning_for(data, f"bad/{name}"))
    assert next(r for r in data["runs"] if r["id"] == "bad")["steps"] == 3


def test_an_error_log_linked_to_an_endless_device_is_not_read(tmp_path: Path) -> None:
    run = write_run(tmp_path, "run", status=None)
    os.symlink("/dev/urandom", run / "error.txt")
    code, data, _ = report(tmp_path)
    assert code == 0 and data["runs"][0]["steps"] == 3
    assert any("outside the sweep root" in m for m in warning_for(data, "run/error.txt"))
    code, data, _ = report(tmp_path, "--follow-links")  # followed: still a device, still refused
    assert code == 0
    assert any("a device" in m for m in warning_for(data, "run/error.txt"))


def test_a_huge_error_log_is_read_as_a_bounded_tail(tmp_path: Path) -> None:
    run = write_run(tmp_path, "run", status=None)
    with open(run / "error.txt", "w") as handle:
        handle.write("noise line\n" * 1_000_000)  # 11 MB
        handle.write("Traceback (most recent call last):\nRuntimeError: CUDA error: device-side assert\n")
    settings = Settings(error_tail_bytes=4096)
    sweep = load_sweep(tmp_path, settings)
    found = sweep.store.runs["run"]
    assert found.status == "crashed"
    assert len(found.error) <= 4096 and "device-side assert" in found.error


# -- links out of the root ---------------------------------------------------------------------
def test_a_link_out_of_the_root_is_not_followed_unless_asked(tmp_path: Path) -> None:
    secret = tmp_path / "outside" / "passwd"
    secret.parent.mkdir()
    secret.write_text("root:x:0:0:root:/root:/bin/bash\nTraceback (most recent call last):\nOSError: x\n")
    root = tmp_path / "sweep"
    run = write_run(root, "run", status=None)
    os.symlink(secret, run / "error.txt")
    code, data, _ = report(root)
    assert code == 0
    assert "root:x:0:0" not in json.dumps(data)
    skipped = warning_for(data, "run/error.txt")
    assert any("outside the sweep root" in m and "--follow-links" in m for m in skipped)
    code, data, _ = report(root, "--follow-links")
    assert code == 0 and data["runs"][0]["status"] == "crashed"


def test_links_inside_the_root_keep_working_and_directories_outside_are_skipped(tmp_path: Path) -> None:
    root = tmp_path / "sweep"
    write_run(root, "runs/real")
    os.symlink("runs/real", root / "latest-run")  # a W&B-style link inside the root
    outside = write_run(tmp_path, "elsewhere")
    os.symlink(outside, root / "linked-out")
    logs = root / "shared"
    logs.mkdir()
    shutil.move(root / "runs" / "real" / "metrics.jsonl", logs / "real.jsonl")
    os.symlink(logs / "real.jsonl", root / "runs" / "real" / "metrics.jsonl")
    sweep = load_sweep(root)
    # the directory is read once, under whichever of its two names the walk meets first
    inside = [run for run in sweep.store if run.id in ("latest-run", "runs/real")]
    assert len(inside) == 1 and len(inside[0].metrics["loss"]) == 3
    assert not any(run_id.startswith("linked-out") for run_id in sweep.store.runs)
    skipped = [w.message for w in sweep.store.warnings if w.path.endswith("linked-out")]
    assert skipped and "outside the sweep root" in skipped[0]
    followed = load_sweep(root, Settings(follow_links=True))
    assert "linked-out" in followed.store.runs


def test_a_metric_log_linked_out_of_the_root_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.jsonl"
    outside.write_text(json.dumps({"step": 1, "loss": 0.5}) + "\n")
    root = tmp_path / "sweep"
    run = write_run(root, "run")
    (run / "metrics.jsonl").unlink()
    os.symlink(outside, run / "metrics.jsonl")
    sweep = load_sweep(root)
    assert sweep.store.runs["run"].records == 0
    assert any("outside the sweep root" in w.message for w in sweep.store.warnings)


# -- byte-order marks ----------------------------------------------------------------------------
def test_a_byte_order_mark_is_no_data(tmp_path: Path) -> None:
    bom = b"\xef\xbb\xbf"
    run = write_run(tmp_path, "jsonl")
    (run / "metrics.jsonl").write_bytes(bom + (run / "metrics.jsonl").read_bytes())
    (run / "config.json").write_bytes(bom + b'{"lr": 0.1, "epochs": 3}')
    csv_run = tmp_path / "csv"
    csv_run.mkdir()
    (csv_run / "metrics.csv").write_bytes(bom + b"step,loss\n1,1.0\n2,0.5\n")
    (csv_run / "config.yaml").write_bytes(bom + b"lr: 0.2\n")
    sweep = load_sweep(tmp_path)
    first = sweep.store.runs["jsonl"]
    assert list(first.metrics["loss"].values) == [1.0, 0.9, 0.8]  # the first record is kept
    assert first.params == {"lr": 0.1, "epochs": 3}
    second = sweep.store.runs["csv"]
    assert list(second.metrics["loss"].steps) == [1.0, 2.0] and second.params == {"lr": 0.2}
    assert not sweep.store.warnings


# -- an unterminated last record ---------------------------------------------------------------------
def test_a_complete_last_record_without_newline_is_read_once_the_run_ended(tmp_path: Path) -> None:
    run = write_run(tmp_path, "run", status=None)
    with open(run / "metrics.jsonl", "a") as handle:
        handle.write(json.dumps({"step": 4, "loss": 0.7}))  # no newline
    sweep = Sweep(tmp_path)
    sweep.rescan()
    assert len(sweep.store.runs["run"].metrics["loss"]) == 3  # still being written, perhaps
    (run / "status.json").write_text(json.dumps({"status": "finished"}))
    sweep.poll([run / "status.json"])
    assert list(sweep.store.runs["run"].metrics["loss"].values) == [1.0, 0.9, 0.8, 0.7]
    with open(run / "metrics.jsonl", "a") as handle:
        handle.write("\n")  # the newline comes after all: the record is not read twice
    sweep.poll([run / "metrics.jsonl"])
    sweep.poll()
    with open(run / "metrics.jsonl", "a") as handle:
        handle.write(json.dumps({"step": 5, "loss": 0.6}) + "\n")
    sweep.poll([run / "metrics.jsonl"])
    assert list(sweep.store.runs["run"].metrics["loss"].values) == [1.0, 0.9, 0.8, 0.7, 0.6]
    assert sweep.store.runs["run"].records == 5
    assert not sweep.store.warnings


def test_a_quiet_file_gives_its_last_record_to_a_post_hoc_report(tmp_path: Path) -> None:
    run = write_run(tmp_path, "run", status=None)
    log = run / "metrics.jsonl"
    with open(log, "a") as handle:
        handle.write(json.dumps({"step": 4, "loss": 0.7}))
    half = write_run(tmp_path, "half", status=None)
    with open(half / "metrics.jsonl", "a") as handle:
        handle.write('{"step": 4, "lo')  # cut mid-record: never a record
    for path in (log, half / "metrics.jsonl"):
        os.utime(path, (os.stat(path).st_atime, os.stat(path).st_mtime - 60))
    sweep = load_sweep(tmp_path)
    assert len(sweep.store.runs["run"].metrics["loss"]) == 4
    assert len(sweep.store.runs["half"].metrics["loss"]) == 3


# -- unreadable error text ------------------------------------------------------------------------
def test_an_unreadable_error_log_is_a_warning_and_the_crash_is_not_missed() -> None:
    # a root user reads any file: the report then runs as an unprivileged user
    base = Path(tempfile.mkdtemp(prefix="sweeptui-unreadable-"))
    try:
        os.chmod(base, 0o755)
        run = write_run(base, "run", status=None)
        (run / "error.txt").write_text("Traceback (most recent call last):\nRuntimeError: boom\n")
        os.chmod(run / "error.txt", 0)
        for path in [base, run, *run.iterdir()]:
            if path.name != "error.txt":
                os.chmod(path, 0o755 if path.is_dir() else 0o644)
        status, warnings = _load_unprivileged(base)
        assert any("error log not read" in m and "ermission denied" in m for m in warnings)
        assert status == "crashed"
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _load_unprivileged(root: Path) -> tuple[str, list[str]]:
    """Load ``root`` as user ``nobody`` when running as root (root reads any file).

    A forked child drops its privileges and loads the sweep with the modules this
    process already imported; it sends back the run's status and the warnings.
    """
    if os.geteuid() != 0:
        sweep = load_sweep(root)
        return sweep.store.runs["run"].status, [w.message for w in sweep.store.warnings]
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the test runner
        code = 1
        try:
            os.close(read_end)
            os.setgid(65534)
            os.setuid(65534)
            sweep = load_sweep(root, Settings())
            result = [sweep.store.runs["run"].status, [w.message for w in sweep.store.warnings]]
            os.write(write_end, json.dumps(result).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as handle:
        data = handle.read()
    _, status = os.waitpid(pid, 0)
    assert status == 0 and data
    run_status, warnings = json.loads(data)
    return run_status, warnings


# -- settings -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["nan", "0", "-1", "inf", "big"])
def test_a_setting_out_of_range_is_a_usage_error_naming_the_range(tmp_path: Path, value: str) -> None:
    write_run(tmp_path, "run")
    code, _, stderr = report(tmp_path, "--set", f"divergence_factor={value}")
    assert code == 2
    assert "divergence_factor" in stderr and "a number > 1" in stderr
    assert "Traceback" not in stderr


def test_settings_check_types_and_ranges() -> None:
    with pytest.raises(ValueError, match="an integer >= 1"):
        Settings().with_overrides({"overfit_patience": "2.5"})
    with pytest.raises(ValueError, match=r"in \(0, 1\]"):
        Settings().with_overrides({"crash_loop_fraction": 1.5})
    with pytest.raises(ValueError, match="true or false"):
        Settings().with_overrides({"follow_links": "maybe"})
    with pytest.raises(ValueError, match="a number > 0"):
        Settings().with_overrides({"stall_factor": True})  # a bool from a YAML file is no number
    assert Settings().with_overrides({"follow_links": "yes"}).follow_links is True


def test_every_numeric_setting_has_a_range() -> None:
    from dataclasses import fields

    from sweeptui.settings import RANGES

    numeric = {f.name for f in fields(Settings) if f.type in ("int", "float", int, float)}
    assert numeric == set(RANGES)
    with pytest.raises(ValueError, match=r"in \(0, 1\)"):
        Settings().with_overrides({"alpha": "1"})


def test_a_journal_is_told_by_its_first_bytes_only_through_the_boundary(tmp_path: Path) -> None:
    journal = next((REPO / "tests" / "fixtures" / "optuna" / "journal").glob("*.log"))
    outside = tmp_path / "outside" / "journal.log"
    outside.parent.mkdir()
    shutil.copy(journal, outside)
    root = tmp_path / "sweep"
    (root / "inside").mkdir(parents=True)
    shutil.copy(journal, root / "inside" / "journal.log")
    os.symlink(root / "inside" / "journal.log", root / "inside" / "again.log")  # a link inside
    (root / "linked").mkdir()
    os.symlink(outside, root / "linked" / "journal.log")
    os.mkfifo(root / "inside" / "pipe.log")  # never opened: a reader would block on it
    sources = {reader.base.parent.name + "/" + reader.base.name: reader
               for reader in load_sweep(root).readers}  # fmt: skip
    assert "inside/journal.log" in sources and "inside/again.log" in sources
    assert "linked/journal.log" not in sources and "inside/pipe.log" not in sources
    followed = load_sweep(root, Settings(follow_links=True)).readers
    assert any(str(reader.base).endswith("linked/journal.log") for reader in followed)


def test_a_bounded_read_takes_a_file_up_to_its_bound_and_refuses_one_byte_more(tmp_path):
    from sweeptui.sources.files import Boundary, Refused

    boundary = Boundary(tmp_path)
    (tmp_path / "small.json").write_bytes(b'\xef\xbb\xbf{"lr": 0.1}')
    assert boundary.read(tmp_path / "small.json") == b'{"lr": 0.1}'
    (tmp_path / "at.bin").write_bytes(b"x" * 4096)
    assert boundary.read(tmp_path / "at.bin", limit=4096) == b"x" * 4096
    (tmp_path / "over.bin").write_bytes(b"x" * 4097)
    with pytest.raises(Refused, match="larger than 4096 bytes"):
        boundary.read(tmp_path / "over.bin", limit=4096)
    (tmp_path / "empty.json").write_bytes(b"")
    assert boundary.read(tmp_path / "empty.json") == b""


def test_a_pickled_boundary_comes_back_as_the_shared_one_with_its_checks(tmp_path):
    import pickle

    from sweeptui.sources.files import UNBOUNDED, Boundary, Refused

    boundary = Boundary.of(tmp_path, False, 4096)
    copy = pickle.loads(pickle.dumps(boundary))
    assert copy is boundary
    assert pickle.loads(pickle.dumps(UNBOUNDED)).root is None
    outside = tmp_path.parent / f"{tmp_path.name}-outside.txt"
    outside.write_text("secret")
    (tmp_path / "link.txt").symlink_to(outside)
    with pytest.raises(Refused, match="outside the sweep root"):
        copy.read(tmp_path / "link.txt")


def test_a_file_grown_after_its_size_was_taken_is_read_on_up_to_the_count(tmp_path):
    import os

    from sweeptui.sources.files import read_at_most

    path = tmp_path / "growing.log"
    path.write_bytes(b"a" * 10)
    with open(path, "rb", buffering=0) as handle:
        size = os.fstat(handle.fileno()).st_size
        with open(path, "ab") as writer:  # the writer goes on after the size was taken
            writer.write(b"b" * 20)
        assert read_at_most(handle, size, 1000) == b"a" * 10 + b"b" * 20
    with open(path, "rb", buffering=0) as handle:
        assert read_at_most(handle, 10, 25) == b"a" * 10 + b"b" * 15  # never past the count
    with open(path, "rb", buffering=0) as handle:
        assert read_at_most(handle, 100, 1000) == b"a" * 10 + b"b" * 20  # shrunk since
