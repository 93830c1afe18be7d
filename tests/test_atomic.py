"""Atomic writes replace regular files but never a device, FIFO or symlink."""

from __future__ import annotations

import os
import threading
import time

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


def test_a_killed_write_leaves_a_temp_file_the_next_write_removes(tmp_path):
    target = tmp_path / "report.html"
    old = time.time() - 3600
    ours = tmp_path / ".report.html.k3x_9q0z.tmp"  # exactly what mkstemp names for this target
    ours.write_text("half a report")
    fresh = tmp_path / ".report.html.a1b2c3d4.tmp"  # another writer's, being written now
    fresh.write_text("being written")
    others = [
        tmp_path / ".report.html.backup.tmp",  # not mkstemp's random part
        tmp_path / ".other.html.k3x_9q0z.tmp",  # another target's
        tmp_path / "report.html.k3x_9q0z.tmp",  # no leading dot
        tmp_path / ".report.html.k3x_9q0z.tmp.keep",
    ]
    for path in others:
        path.write_text("not ours")
    victim = tmp_path / "elsewhere.txt"
    victim.write_text("keep me")
    link = tmp_path / ".report.html.zzzzzzzz.tmp"  # a symlink of our pattern: never followed
    link.symlink_to(victim)
    for path in (ours, *others, link):
        os.utime(path, (old, old), follow_symlinks=False)
    write_atomic(target, "the report")
    assert target.read_text() == "the report"
    assert not ours.exists()
    assert fresh.exists() and all(path.exists() for path in others)
    assert link.is_symlink() and victim.read_text() == "keep me"
