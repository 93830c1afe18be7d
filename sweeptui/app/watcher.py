"""File watching: which paths under the sweep root changed since the last look.

Watchdog handlers only record paths in a thread-safe :class:`DirtyPaths` set and
wake the ingest thread; they never touch the store or the UI. Native events
(inotify and friends) are used where they work; watchdog's polling observer is
used instead when the root is on a network or FUSE filesystem (events from other
hosts never arrive there), when the inotify watch limit is hit, when the native
observer thread dies, or when ``--poll`` asks for it. Each fallback leaves a
human-readable note for the header. This module does not import Textual.
"""

from __future__ import annotations

import errno
import os
import re
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

# watchdog warns when a directory is re-watched during a rescan race; harmless, and a
# warning printed on stderr would tear through the full-screen UI.
warnings.filterwarnings(
    "ignore", message=r"Callback with id .* already exists", category=RuntimeWarning
)

NETWORK_FS = frozenset(
    {
        "nfs", "nfs4", "cifs", "smb", "smb2", "smb3", "smbfs", "ncpfs", "afs", "9p", "lustre",
        "gpfs", "beegfs", "glusterfs", "cephfs", "ceph", "orangefs", "pvfs2", "panfs", "davfs",
        "virtiofs", "vboxsf", "prl_fs", "vmhgfs", "sshfs", "wekafs",
    }
)  # fmt: skip
"""Filesystem types whose changes made elsewhere raise no local events."""

DEFAULT_POLL_SECONDS = 2.0
WATCHED_EVENTS = [
    FileCreatedEvent, FileModifiedEvent, FileMovedEvent, FileDeletedEvent,
    DirCreatedEvent, DirMovedEvent, DirDeletedEvent,
]  # fmt: skip
"""Writes, creations, moves and deletions. Opens and reads are left out: our own reads
of 10,000 run directories would otherwise flood (and overflow) the inotify queue. Closes
after writing are left out too: each append already raised a modification (a truncating
open does as well), so they only doubled the events of every log line."""
LIMIT_ERRNOS = (errno.ENOSPC, errno.EMFILE)
"""inotify's 'watch limit reached' (ENOSPC) and 'too many instances' (EMFILE)."""


@dataclass(frozen=True, slots=True)
class Mount:
    """One line of /proc/self/mountinfo, the parts we need."""

    point: str
    fstype: str


def parse_mountinfo(text: str) -> list[Mount]:
    """Mount points and filesystem types from mountinfo text (malformed lines skipped).

    Format per line: ``id parent major:minor root point options [optional...] - fstype source super``.
    Octal escapes in paths (``\\040`` for a space) are decoded.
    """
    mounts = []
    for line in text.splitlines():
        fields = line.split()
        if "-" not in fields:
            continue
        dash = fields.index("-")
        if dash < 5 or dash + 1 >= len(fields):
            continue
        mounts.append(Mount(_unescape(fields[4]), fields[dash + 1]))
    return mounts


_OCTAL = re.compile(r"\\([0-7]{3})")


def _unescape(path: str) -> str:
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), path)


def mount_type(path: Path | str, mounts: list[Mount]) -> str | None:
    """The filesystem type of the longest mount point containing ``path``."""
    target = os.path.realpath(str(path))
    best: Mount | None = None
    for mount in mounts:
        point = mount.point.rstrip("/") or "/"
        inside = target == point or target.startswith(point if point == "/" else point + "/")
        if inside and (best is None or len(point) > len(best.point.rstrip("/") or "/")):
            best = mount
    return best.fstype if best else None


def is_network_fs(fstype: str | None) -> bool:
    """Whether inotify cannot be trusted on ``fstype`` (network, cluster or FUSE filesystems)."""
    if fstype is None:
        return False
    return fstype in NETWORK_FS or fstype.startswith("fuse") or fstype.split(".")[0] in NETWORK_FS


def read_mountinfo() -> list[Mount]:
    """This process's mounts; empty when /proc is unavailable (not Linux)."""
    try:
        return parse_mountinfo(Path("/proc/self/mountinfo").read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return []


class DirtyPaths:
    """Paths changed since the last :meth:`drain`; safe to use from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._paths: set[str] = set()
        self.wakeup = threading.Event()
        """Set whenever a path is added, so the ingest thread can sleep until then."""

    def add(self, *paths: str) -> None:
        """Record changed paths and wake the consumer."""
        with self._lock:
            self._paths.update(p for p in paths if p)
        self.wakeup.set()

    def drain(self) -> set[str]:
        """Every path recorded since the previous call."""
        with self._lock:
            paths, self._paths = self._paths, set()
        self.wakeup.clear()
        return paths


class _Recorder(FileSystemEventHandler):
    """Watchdog handler: remember what changed, nothing else."""

    def __init__(self, dirty: DirtyPaths) -> None:
        self.dirty = dirty

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return  # reads (our own included) change nothing
        if event.is_directory and event.event_type == "modified":
            return  # a file inside changed: that file's own event says which
        self.dirty.add(os.fsdecode(event.src_path), os.fsdecode(getattr(event, "dest_path", "") or ""))


class SweepWatcher:
    """Watches a sweep root recursively and records changed paths.

    ``poll`` forces the polling observer with that interval (seconds).
    :attr:`notes` explains any fallback; :meth:`check` replaces a dead observer.
    """

    def __init__(
        self, root: Path, dirty: DirtyPaths, poll: float | None = None, mounts: list[Mount] | None = None
    ) -> None:
        self.root = Path(root)
        self.dirty = dirty
        self.poll_interval = poll or DEFAULT_POLL_SECONDS
        self.notes: list[str] = []
        self.polling = False
        self._observer = None
        self._force_poll = poll is not None
        self._mounts = mounts

    def start(self) -> None:
        """Start the native observer, or the polling one when native events cannot be trusted."""
        reason = self._polling_reason()
        if reason:
            self._start_polling(reason)
            return
        try:
            self._observer = self._schedule(Observer(timeout=0.5))
        except OSError as exc:
            if exc.errno not in LIMIT_ERRNOS:
                raise
            self._start_polling("the inotify watch limit is reached (fs.inotify.max_user_watches)")

    def check(self) -> None:
        """Switch to polling when the observer thread died (a watchdog or kernel error)."""
        if self._observer is not None and not self._observer.is_alive():
            self._observer = None
            self._start_polling("the file-event watcher stopped")

    def stop(self) -> None:
        """Stop and join the observer."""
        observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            observer.join(timeout=5)

    def _polling_reason(self) -> str | None:
        if self._force_poll:
            return "--poll"
        mounts = self._mounts if self._mounts is not None else read_mountinfo()
        fstype = mount_type(self.root, mounts)
        if is_network_fs(fstype):
            return f"the directory is on a {fstype} filesystem"
        return None

    def _start_polling(self, reason: str) -> None:
        self.polling = True
        self.notes.append(f"polling every {self.poll_interval:g}s: {reason}")
        self._observer = self._schedule(PollingObserver(timeout=self.poll_interval))

    def _schedule(self, observer):
        observer.schedule(_Recorder(self.dirty), str(self.root), recursive=True, event_filter=WATCHED_EVENTS)
        try:
            observer.start()
        except BaseException:
            observer.unschedule_all()
            raise
        return observer
