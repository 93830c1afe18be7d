"""Atomic file writes: readers of a report never see half of it.

A write goes to ``.<name>.XXXXXXXX.tmp`` beside the target, then is renamed over it.
A write killed midway (SIGKILL, a power cut) leaves that file behind, and a report
with charts can be hundreds of megabytes, so the next write to the same target
removes such leftovers first.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
import time
from pathlib import Path

STALE_TEMP_SECONDS = 600.0
"""A temp file of ours untouched for this long is a leftover, not a write in progress.

Another process may be writing the same target right now (``e`` in ``watch`` while a
cron job writes the report): its temp file grows, so its mtime moves, except while
``fsync`` pushes it to a slow or network disk, which can take minutes for a big file.
Ten minutes of silence leaves that margin; a leftover waits at most for one more write.
Asking which process holds the file open would mean reading every process's
descriptors, and misses writers on other machines sharing the folder.
"""
_TEMP_MIDDLE = re.compile(r"[a-z0-9_]{8}")
"""The random part ``tempfile.mkstemp`` puts between our prefix and suffix."""


def write_atomic(path: Path | str, text: str) -> Path:
    """Write ``text`` to ``path`` so that a reader sees the old file or the new one, never half.

    A regular file (or a new one) is written beside the target, fsynced and renamed over
    it; a symlink is followed so the link survives. A target that exists but is not a
    regular file (``/dev/null``, ``/dev/stdout``, a FIFO) is written in place: renaming
    over a device would replace the device itself.
    """
    target = Path(path)
    if target.is_symlink():
        target = target.resolve()
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        with open(target, "w", encoding="utf-8") as handle:
            handle.write(text)
        return target
    return _replace(target, text)


def _replace(target: Path, text: str) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        # mkstemp creates 0600; give the file the mode a plain open() would have
        os.fchmod(fd, _existing_mode(target) or 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def remove_stale_temps(target: Path, now: float | None = None) -> list[Path]:
    """Remove the temp files killed writes to ``target`` left beside it; returns them.

    Only names of exactly our pattern for this target (``.<name>.XXXXXXXX.tmp``), only
    regular files (never a symlink, whose target could be anyone's), only those
    untouched for :data:`STALE_TEMP_SECONDS`. Failing to remove one never stops the write.
    """
    prefix = f".{target.name}."
    cutoff = (time.time() if now is None else now) - STALE_TEMP_SECONDS
    removed: list[Path] = []
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return removed
    for entry in entries:
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        if not _TEMP_MIDDLE.fullmatch(name[len(prefix) : -len(".tmp")]):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and info.st_mtime < cutoff:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue  # removed by another writer meanwhile, or not ours to remove
    return removed


def _existing_mode(target: Path) -> int | None:
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        return None


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
