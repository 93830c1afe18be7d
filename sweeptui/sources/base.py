"""What every source provides: a matcher that recognises its layout, and readers.

A *source* is one on-disk layout (a results-array JSON file, a run directory, a
Ray Tune experiment...). Its matcher looks at one directory listing and may claim
files or the whole subtree; for what it claims it creates *readers*. A reader owns
one file or directory, remembers how far it has read, and on each ``read()``
returns only the new events. Readers never raise on bad input: they return a
:class:`~sweeptui.events.SourceWarning` and keep their last good state.

Adding a layout is one new module with a ``SOURCE`` spec, listed in
:mod:`sweeptui.sources`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sweeptui.events import Event
from sweeptui.settings import Settings


class Reader(ABC):
    """Incrementally reads one run, file or experiment and emits events."""

    source: str = "?"

    def __init__(self, root: Path, base: Path, settings: Settings) -> None:
        self.root = root
        self.base = base
        self.settings = settings

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
    def read(self) -> list[Event]:
        """Events for everything new since the previous call (cheap when nothing changed)."""


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


@dataclass(frozen=True)
class SourceSpec:
    """A layout sweeptui can read: its name, a one-line description and its matcher.

    ``match(directory, subdirs, files, ctx)`` sees one directory listing (files not
    yet claimed by an earlier source) and returns a :class:`Match` or ``None``.
    """

    name: str
    description: str
    match: MatchFn
