"""Atomic writes replace regular files but never a device, FIFO or symlink."""

from __future__ import annotations

import os
import threading

from sweeptui.atomic import write_atomic


def test_regular_file_is_replaced_whole(tmp_path):
    target = tmp_path / "deep" / "report.md"
    write_atomic(target, "one")
    write_atomic(target, "two")
    assert target.read_text() == "two"
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.md"]


def test_new_files_follow_the_umask_and_existing_modes_are_kept(tmp_path):
    previous = os.umask(0o022)
    try:
        fresh = write_atomic(tmp_path / "fresh.md", "x")
        kept = tmp_path / "kept.md"
        kept.write_text("old")
        kept.chmod(0o640)
        write_atomic(kept, "new")
    finally:
        os.umask(previous)
    assert fresh.stat().st_mode & 0o777 == 0o644
    assert kept.stat().st_mode & 0o777 == 0o640


def test_symlink_is_followed_and_kept(tmp_path):
    real = tmp_path / "real.md"
    real.write_text("old")
    link = tmp_path / "link.md"
    link.symlink_to(real)
    write_atomic(link, "new")
    assert link.is_symlink() and real.read_text() == "new"


def test_fifo_is_written_in_place_not_replaced(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    write_atomic(fifo, "through the pipe")
    reader.join(timeout=10)
    assert received == ["through the pipe"]
    assert fifo.is_fifo()


def test_dev_null_stays_a_device():
    write_atomic("/dev/null", "discarded")
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")
