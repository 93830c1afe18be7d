"""The one way sources open files: regular files inside the sweep root, read in bounded amounts.

A sweep directory is other people's output, and anything may sit where a log is
expected: a FIFO (opening it blocks until a writer comes), a device such as
``/dev/urandom`` (endless), a symlink to ``/etc/passwd`` (a leak into a report
people share) or a file of gigabytes. Every source opens files through
:class:`Boundary`, which

* stats the path first and refuses anything but a regular file, then opens it
  non-blocking and checks again on the open descriptor (the path may have been
  swapped in between);
* refuses a path that resolves outside the sweep root (through a symlink) unless
  links are followed on purpose (``--follow-links``); links inside the root, such
  as W&B's ``latest-run``, are read as usual;
* reads whole files only up to a size bound, and error logs only as a tail.

SQLite databases (Optuna's and MLflow's stores) are opened here too: read-only
connections that never create or change the file (:func:`connect_readonly`), the table
names that tell whose store it is (:func:`sqlite_tables`) and what changes when a writer
commits (:func:`sqlite_signature`).

A refusal is a :class:`Refused` error (an ``OSError`` whose ``strerror`` is the
reason), so a reader's existing ``except OSError`` turns it into its warning.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import stat
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

UTF8_BOM = b"\xef\xbb\xbf"
SQLITE_MARK = b"SQLite format 3\x00"
"""The first bytes of every SQLite database file."""
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
"""What Optuna's and MLflow's SQLite stores are called."""
SQLITE_BUSY_SECONDS = 0.2
"""How long one query waits for a writer's lock before the read is retried later."""

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(
    os, "O_CLOEXEC", 0
)

_NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)


class Refused(OSError):
    """A file the boundary will not open; ``strerror`` says why, for the reader's warning."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(errno.EPERM, reason, os.fspath(path))

    def __str__(self) -> str:
        return self.strerror


@dataclass(frozen=True)
class Boundary:
    """Where a sweep's files may be read from, and how much of each.

    ``root`` None means no containment check (a file named on the command line).
    """

    root: Path | None
    follow_links: bool = False
    max_bytes: int = 512 * 1024 * 1024
    _real_root: str = field(init=False, repr=False, compare=False, default="")

    _root_text: str = field(init=False, repr=False, compare=False, default="")

    def __post_init__(self) -> None:
        if self.root is not None:
            object.__setattr__(self, "_real_root", os.path.realpath(self.root))
            object.__setattr__(self, "_root_text", os.fspath(self.root).rstrip(os.sep) or os.sep)

    @staticmethod
    @lru_cache(maxsize=64)
    def of(root: Path | None, follow_links: bool, max_bytes: int) -> Boundary:
        """The boundary for these values (one shared instance: the root is resolved once)."""
        return Boundary(root, follow_links, max_bytes)

    def __reduce__(self) -> tuple:
        # a reader's state sent from a one-shot load's child names its boundary, which
        # the parent holds already: one shared instance again, not a copy per run
        root = None if self.root is None else os.fspath(self.root)
        return _boundary_at, (root, self.follow_links, self.max_bytes)

    # -- checks -----------------------------------------------------------------------
    def check(self, path: Path | str) -> os.stat_result:
        """The stat of ``path`` when it may be read; raises :class:`Refused` or ``OSError``."""
        info = os.stat(path)  # follows links: what matters is what would be read
        self.check_inside(path)
        if not stat.S_ISREG(info.st_mode):
            raise Refused(path, f"not a regular file ({_kind(info.st_mode)}); not read")
        return info

    def check_inside(self, path: Path | str) -> None:
        """Raise :class:`Refused` when ``path`` resolves outside the root and links are not followed."""
        if self.root is None or self.follow_links or self._plainly_inside(os.fspath(path)):
            return
        real = os.path.realpath(path)
        top = self._real_root
        if real != top and not real.startswith(top.rstrip(os.sep) + os.sep):
            raise Refused(
                path, f"a link to {real}, outside the sweep root; not followed (--follow-links follows it)"
            )

    def _plainly_inside(self, path: str) -> bool:
        """Whether ``path`` is written as the root followed by names (no ``.`` or ``..``)
        none of which is a symlink: it then resolves inside the root, found with one
        ``lstat`` per name below the root rather than a full ``realpath``."""
        top = self._root_text
        if not path.startswith(top) or path[len(top) : len(top) + 1] != os.sep or top == os.sep:
            return False
        current = top
        for name in path[len(top) + 1 :].split(os.sep):
            if name in ("", ".", ".."):
                return False
            current = f"{current}{os.sep}{name}"
            try:
                if stat.S_ISLNK(os.lstat(current).st_mode):
                    return False
            except OSError:
                return False
        return True

    def outside(self, path: Path | str) -> str | None:
        """The refusal reason when ``path`` resolves outside the root, else None."""
        try:
            self.check_inside(path)
        except Refused as exc:
            return exc.strerror
        return None

    # -- opening and reading ---------------------------------------------------------------
    def open(self, path: Path | str, *, checked: bool = False) -> BinaryIO:
        """``path`` opened for binary reading (unbuffered), after the checks; the caller closes it.

        ``checked``: the caller ran :meth:`check` on this file already (a tail that
        checks once per file identity, not on every read); the open itself stays
        non-blocking and the descriptor is still checked to be a regular file.
        """
        return self._opened(path, checked)[0]

    def _opened(self, path: Path | str, checked: bool = False) -> tuple[BinaryIO, os.stat_result]:
        """:meth:`open`, with what ``fstat`` said of the file opened."""
        if not checked:
            self.check(path)
        fd = os.open(path, _OPEN_FLAGS)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):  # swapped after the check
                raise Refused(path, f"not a regular file ({_kind(info.st_mode)}); not read")
            os.set_blocking(fd, True)
            return os.fdopen(fd, "rb", buffering=0), info
        except BaseException:
            os.close(fd)
            raise

    def read(self, path: Path | str, limit: int | None = None) -> bytes:
        """The whole file (a leading UTF-8 byte-order mark removed), refused above its bound."""
        bound = self.max_bytes if limit is None else limit
        data = self.read_head(path, bound + 1)
        if len(data) > bound:
            raise Refused(path, f"larger than {bound} bytes; not read")
        return strip_bom(data)

    def read_head(self, path: Path | str, size: int) -> bytes:
        """The first ``size`` bytes of the file (all of a shorter one), after the checks."""
        handle, info = self._opened(path)
        with handle:
            return read_at_most(handle, info.st_size, size)

    def peek(self, path: Path | str, size: int) -> bytes:
        """The first ``size`` bytes of a file the scan found in a directory it walked;
        ``b""`` when it is not a regular file, is refused or cannot be read.

        How a scan tells a file by its first bytes, once per file of every directory:
        the walk never enters a directory outside the root, so a file that is not a
        link itself needs no other check (five system calls instead of eight). A link
        goes through the full :meth:`open`; anything but a regular file is not opened.
        """
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            return b""
        if stat.S_ISLNK(mode) or not _NO_FOLLOW:
            return self._peek_checked(path, size)
        if not stat.S_ISREG(mode):
            return b""
        try:
            fd = os.open(path, _OPEN_FLAGS | _NO_FOLLOW)  # swapped for a link since: refused
        except OSError:
            return b""
        try:
            return os.read(fd, size) if stat.S_ISREG(os.fstat(fd).st_mode) else b""
        except OSError:
            return b""
        finally:
            os.close(fd)

    def _peek_checked(self, path: Path | str, size: int) -> bytes:
        try:
            return self.read_head(path, size)
        except OSError:
            return b""

    def read_tail(self, path: Path | str, limit: int) -> bytes:
        """The last ``limit`` bytes of the file (all of a shorter one)."""
        handle, info = self._opened(path)
        with handle:
            size = info.st_size
            if size > limit:
                handle.seek(size - limit)
            return strip_bom(handle.read(limit)) if size <= limit else handle.read(limit)


def read_at_most(handle: BinaryIO, size: int, count: int) -> bytes:
    """Up to ``count`` bytes of an open file, asking first for what its ``size`` says it holds.

    ``read(n)`` sets n bytes aside before it reads: a request for a bound of 512 MB mapped
    that much memory, ~35 us, for a config of a few bytes. A file grown since its size was
    taken is read on, up to ``count``.
    """
    data = handle.read(min(size + 1, count))
    if size < len(data) < count:
        data += handle.read(count - len(data))
    return data


@lru_cache(maxsize=64)
def _boundary_at(root: str | None, follow_links: bool, max_bytes: int) -> Boundary:
    """:meth:`Boundary.of` for a root given as text (what a pickled boundary carries)."""
    return Boundary.of(None if root is None else Path(root), follow_links, max_bytes)


UNBOUNDED = Boundary(None)
"""Regular files only, no root: for callers that have no sweep root at hand."""


def connect_readonly(path: Path | str) -> sqlite3.Connection:
    """A read-only connection to an SQLite database: it never creates or changes the file,
    and waits at most :data:`SQLITE_BUSY_SECONDS` for a writer's lock."""
    uri = f"{Path(path).resolve().as_uri()}?mode=ro"
    return sqlite3.connect(uri, uri=True, timeout=SQLITE_BUSY_SECONDS)


@dataclass(frozen=True, slots=True)
class SqliteTables:
    """The tables of an SQLite database, or that a writer held it locked when asked."""

    names: frozenset[str] = frozenset()
    locked: bool = False


def sqlite_tables(path: Path, boundary: Boundary | None = None) -> SqliteTables | None:
    """The table names of the SQLite database at ``path``; None when it is not one (no
    SQLite header, refused by ``boundary``, or unreadable)."""
    if (boundary or UNBOUNDED).peek(path, len(SQLITE_MARK)) != SQLITE_MARK:
        return None
    try:
        connection = connect_readonly(path)
        try:
            rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            return SqliteTables(frozenset(row[0] for row in rows))
        finally:
            connection.close()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            return SqliteTables(locked=True)
        return None
    except sqlite3.Error:
        return None


def sqlite_signature(path: Path | str) -> tuple[int, ...] | None:
    """(size, mtime) of a SQLite database and of its write-ahead log when there is one:
    what changes when a writer commits. None when the database is gone."""
    parts: list[int] = []
    for suffix in ("", "-wal"):
        try:
            info = os.stat(f"{path}{suffix}")
        except OSError:
            if suffix == "":
                return None
            continue
        parts.extend((info.st_size, info.st_mtime_ns))
    return tuple(parts)


def strip_bom(data: bytes) -> bytes:
    """``data`` without a leading UTF-8 byte-order mark."""
    return data[3:] if data.startswith(UTF8_BOM) else data


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "not a plain file"


__all__ = [
    "SQLITE_BUSY_SECONDS", "SQLITE_MARK", "SQLITE_SUFFIXES", "UNBOUNDED", "UTF8_BOM", "Boundary",
    "Refused", "SqliteTables", "connect_readonly", "read_at_most", "sqlite_signature", "sqlite_tables",
    "strip_bom",
]  # fmt: skip
