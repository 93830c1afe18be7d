"""Walking the sweep root: find runs and hand each to the source that claims it.

The walk never follows a symlink into a directory it has already visited (so a
symlink loop ends with a warning), nor one that leads out of the sweep root unless
links are followed on purpose (a warning says what was skipped), skips unreadable
directories with a warning, and remembers the readers it created so a rescan only
adds new ones.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sweeptui.events import SourceWarning
from sweeptui.settings import Settings
from sweeptui.sources.base import Reader, ScanContext, SourceSpec, boundary_of

SKIP_DIRS = frozenset({".git", "__pycache__", ".ipynb_checkpoints", "node_modules", ".venv"})
EVENT_FILE_PREFIX = "events.out.tfevents."


@dataclass
class Seen:
    """What the last walk saw outside the subtrees readers claimed (for 'nothing found')."""

    directories: int = 0
    kinds: Counter = field(default_factory=Counter)
    """File kinds (``.out``, ``events.out.tfevents.*``, a name without a suffix) -> count."""

    def add(self, name: str) -> None:
        """Count one file by its kind."""
        if name.startswith(EVENT_FILE_PREFIX):
            kind = EVENT_FILE_PREFIX + "*"
        else:
            suffix = os.path.splitext(name)[1]
            kind = suffix if suffix and len(suffix) <= 12 else name
        self.kinds[kind] += 1


class Scanner:
    """Finds readers under ``root`` using ``sources`` in priority order."""

    def __init__(self, root: Path, sources: Sequence[SourceSpec], settings: Settings) -> None:
        self.root = root
        self.sources = list(sources)
        self.context = ScanContext(root, settings)
        self.boundary = boundary_of(root, settings)
        self.readers: dict[tuple[str, str], Reader] = {}
        self.seen = Seen()
        self._warned: set[str] = set()

    def scan(self) -> tuple[list[Reader], list[SourceWarning]]:
        """Walk the tree once; return the readers not seen before and any warnings."""
        fresh: list[Reader] = []
        warnings: list[SourceWarning] = []
        visited: set[tuple[int, int]] = set()
        seen = Seen()
        stack = [self.root]
        while stack:
            directory = stack.pop()
            listing = self._list(directory, visited, warnings)
            if listing is None:
                continue
            subdirs, files = listing
            if self._match(directory, subdirs, files, fresh):
                continue
            seen.directories += 1
            for name in files:
                seen.add(name)
            stack.extend(directory / name for name in sorted(subdirs, reverse=True))
        self.seen = seen
        return fresh, warnings

    def _match(self, directory: Path, subdirs: list[str], files: list[str], fresh: list) -> bool:
        """Offer the listing to each source; True when one pruned the subtree."""
        remaining = list(files)
        for spec in self.sources:
            match = spec.match(directory, subdirs, remaining, self.context)
            if match is None:
                continue
            for reader in match.readers:
                if reader.key not in self.readers:
                    reader.notes = self.context.notes
                    self.readers[reader.key] = reader
                    fresh.append(reader)
            remaining = [name for name in remaining if name not in match.claimed]
            if match.prune:
                return True
        return False

    def _list(
        self, directory: Path, visited: set[tuple[int, int]], warnings: list[SourceWarning]
    ) -> tuple[list[str], list[str]] | None:
        try:
            info = directory.stat()
        except OSError as exc:
            self._warn_once(warnings, directory, f"cannot read directory: {exc.strerror or exc}")
            return None
        identity = (info.st_dev, info.st_ino)
        if identity in visited:
            self._warn_once(warnings, directory, "symlink loop: directory already visited, skipped")
            return None
        visited.add(identity)
        subdirs: list[str] = []
        files: list[str] = []
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    self._sort_entry(entry, subdirs, files, warnings)
        except OSError as exc:
            self._warn_once(warnings, directory, f"cannot list directory: {exc.strerror or exc}")
            return None
        return subdirs, sorted(files)

    def _sort_entry(
        self, entry: os.DirEntry, subdirs: list[str], files: list[str], warnings: list[SourceWarning]
    ) -> None:
        try:
            if entry.is_dir():
                if entry.name in SKIP_DIRS:
                    return
                outside = self.boundary.outside(entry.path) if entry.is_symlink() else None
                if outside is not None:
                    self._warn_once(warnings, Path(entry.path), f"directory {outside}")
                    return
                subdirs.append(entry.name)
            elif entry.is_file():
                files.append(entry.name)
        except OSError:
            pass  # a dangling symlink or a file deleted mid-scan: nothing to read

    def _warn_once(self, warnings: list[SourceWarning], path: Path, message: str) -> None:
        key = f"{path}:{message}"
        if key not in self._warned:
            self._warned.add(key)
            warnings.append(SourceWarning(str(path), message))
