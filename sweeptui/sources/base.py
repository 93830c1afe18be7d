"""What every source provides: a matcher that recognises its layout, and readers.

A *source* is one on-disk layout (a results-array JSON file, a run directory, a
Ray Tune experiment...). Its matcher looks at one directory listing and may claim
files or the whole subtree; for what it claims it creates *readers*. A reader owns
one file or directory, remembers how far it has read, and on each ``read()``
returns only the new events; handed the paths that changed, it may look at just
those files. Readers never raise on bad input: they return a
:class:`~sweeptui.events.SourceWarning` and keep their last good state.

Adding a layout is one new module with a ``SOURCE`` spec, listed in
:mod:`sweeptui.sources`.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sweeptui.events import Event, SourceWarning
from sweeptui.settings import Settings
from sweeptui.sources.files import Boundary


def is_server_url(target: str) -> bool:
    """Whether ``target`` names a tracking server rather than a directory."""
    return target.startswith(("http://", "https://"))


FIXED_ATTRIBUTES = frozenset(("root", "base", "settings", "notes"))
"""A reader's attributes that no read changes (``notes`` is the sweep's, shared)."""


class Reader(ABC):
    """Incrementally reads one run, file or experiment and emits events."""

    source: str = "?"
    reads_alone: bool = False
    """Whether a full read depends on nothing but this reader's files and state (and the
    sweep's :attr:`notes`): a one-shot load may then read it in a child process and
    take over the state it left (:meth:`state`, :meth:`resume`)."""

    def __init__(self, root: Path, base: Path, settings: Settings) -> None:
        self.root = root
        self.base = base
        self.settings = settings
        self.notes: set[str] = set()
        """Keys of the warnings said once per sweep; the scanner hands every reader it
        creates the same set (:attr:`ScanContext.notes`)."""

    def note_once(self, events: list, key: str, warning: SourceWarning) -> None:
        """Add ``warning`` to ``events`` unless a warning under ``key`` was said in this sweep."""
        if key not in self.notes:
            self.notes.add(key)
            events.append(warning)

    @property
    def boundary(self) -> Boundary:
        """How this reader opens files: regular, inside the root, size-bounded."""
        return boundary_of(self.root, self.settings)

    @property
    def key(self) -> tuple[str, str]:
        """Identity used to avoid creating the same reader twice on rescans."""
        return (self.source, str(self.base))

    def relpath(self, path: Path | None = None) -> str:
        """``path`` (default: the base) relative to the sweep root, POSIX style."""
        target = path or self.base
        try:
            rel = target.relative_to(self.root)
        except ValueError:
            return target.as_posix()
        return rel.as_posix() or "."

    def owns(self, path: Path) -> bool:
        """Whether a change to ``path`` concerns this reader."""
        return path == self.base or self.base in path.parents

    @abstractmethod
    def read(self, changed: Collection[Path | str] | None = None) -> list[Event]:
        """Events for everything new since the previous call (cheap when nothing changed).

        ``changed`` is a hint: the paths this reader owns that the file watcher saw
        change. A reader may then look only at those files; ``None`` means look at
        everything (first read, ``Sweep.poll()`` without paths, a rereading rescan).
        A reader that cannot use the hint reads everything. Whatever a hinted read
        skipped is found by the next full read, which the live app's periodic
        rescans make (:meth:`sweeptui.sweep.Sweep.rescan` with ``reread``).
        """

    def size_hint(self) -> int | None:
        """Bytes a full read would parse, roughly (None: unknown); asked of a few readers
        to tell whether reading in child processes pays."""
        return None

    def state(self) -> dict[str, Any]:
        """What reading changed in this reader: every attribute but :data:`FIXED_ATTRIBUTES`."""
        return {key: value for key, value in vars(self).items() if key not in FIXED_ATTRIBUTES}

    def resume(self, state: dict[str, Any]) -> None:
        """Continue from the :meth:`state` a copy of this reader left in another process."""
        vars(self).update(state)

    def note(self) -> str | None:
        """A line for the live header on how reading goes (a tracking server: its poll
        interval, or that it is unreachable); None for readers of files."""
        return None

    def read_parts(self, changed: Collection[Path | str] | None = None) -> Iterable[list[Event]]:
        """The events of one :meth:`read`, in order, as lists that may arrive one by one.

        The sweep applies each list as it comes, so a reader of many runs can hand
        over one run's events while it still reads the next (see
        :mod:`sweeptui.sources.forked`). The default is :meth:`read` as one list.
        """
        return (self.read(changed),)


def boundary_of(root: Path, settings: Settings) -> Boundary:
    """The file boundary of a sweep at ``root`` read with ``settings``."""
    return Boundary.of(root, settings.follow_links, settings.max_json_bytes)


def parts_below(base: Path | str, path: Path | str) -> tuple[str, ...] | None:
    """The parts of ``path`` below ``base``: ``()`` for ``base`` itself, None when outside.

    Both are normalised first (``a/./b`` and ``a//b`` are ``a/b``); plain string work,
    as it runs for every changed path of a poll.
    """
    top = os.path.normpath(base)
    target = os.path.normpath(path)
    if target == top:
        return ()
    prefix = top if top.endswith(os.sep) else top + os.sep
    if not target.startswith(prefix):
        return None
    return tuple(target[len(prefix) :].split(os.sep))


@dataclass
class Match:
    """What a source takes in one directory."""

    readers: list[Reader] = field(default_factory=list)
    claimed: set[str] = field(default_factory=set)
    """File names in the directory that no later source should look at."""
    prune: bool = False
    """True when the source owns the whole subtree: the scanner does not descend."""


MatchFn = Callable[[Path, list[str], list[str], "ScanContext"], "Match | None"]


@dataclass
class ScanContext:
    """Shared by the matchers during one scan: the root, the settings, file names taken."""

    root: Path
    settings: Settings
    shared: dict[object, Any] = field(default_factory=dict)
    """State readers created by one scanner share (keyed by source and directory)."""
    notes: set[str] = field(default_factory=set)
    """Keys of the warnings said once per sweep (see :meth:`Reader.note_once`)."""


@dataclass(frozen=True)
class SourceSpec:
    """A layout sweeptui can read: its name, a one-line description and its matcher.

    ``match(directory, subdirs, files, ctx)`` sees one directory listing (files not
    yet claimed by an earlier source) and returns a :class:`Match` or ``None``.
    """

    name: str
    description: str
    match: MatchFn
