"""The PyTorch Lightning ``CSVLogger`` layout: ``<save_dir>/<name>/version_N/``.

Each ``version_N`` directory holds ``metrics.csv`` (sparse rows, one per ``log`` call,
``step`` and ``epoch`` columns; the logger rewrites the whole file in place when a new
column appears) and ``hparams.yaml``. It is read by the generic run-directory reader,
whose CSV tail and rewrite guard skip the rows already ingested after such a rewrite;
this source adds the run name ``<name>/version_N`` and Lightning's own end line in a
captured log (`` `Trainer.fit` stopped: ...``), which means the run finished. Error text
and exit codes that a launcher leaves beside the logs (``stderr*``, ``*.log``,
``exit_code``) are read as for any run directory.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from sweeptui.events import Event, RunEnded, RunSeen
from sweeptui.settings import Settings
from sweeptui.sources.base import Match, ScanContext, SourceSpec
from sweeptui.sources.run_dir import RunDirReader

NAME = "lightning"
VERSION_DIR = re.compile(r"^version_\d+$")
FIT_STOPPED = re.compile(rb"`Trainer\.fit` stopped")


class LightningReader(RunDirReader):
    """One ``version_N`` directory of a ``CSVLogger``."""

    source = NAME

    def __init__(self, root: Path, base: Path, settings: Settings) -> None:
        super().__init__(root, base, settings)
        self.display_name = f"{base.parent.name}/{base.name}"
        self.fit_stopped = False
        self.log_sizes: dict[str, int] = {}

    def _read_names(self, names: set[str] | None) -> list[Event]:
        """The run-directory events, renamed, plus a finish from Lightning's end line."""
        events = super()._read_names(names)
        for event in events:
            if isinstance(event, RunSeen):
                event.source, event.name = NAME, self.display_name
        if not self.fit_stopped and self._fit_stopped(names):
            self.fit_stopped = True
            events.append(RunEnded(self.run_id, "finished"))
        return events

    def _fit_stopped(self, names: set[str] | None) -> bool:
        """Whether a captured log (re-read only when its size changed) has the end line.

        Only the logs in ``names`` are looked at (all of them for None).
        """
        for name, error in self.errors.items():
            if names is not None and name not in names:
                continue
            try:
                size = os.stat(error.file.path).st_size
            except OSError:
                continue
            if self.log_sizes.get(name) == size:
                continue
            self.log_sizes[name] = size
            data = error.file.read_bytes(self.settings.error_tail_bytes)
            if data and FIT_STOPPED.search(data):
                return True
        return False


def match(directory: Path, subdirs: list[str], files: list[str], ctx: ScanContext) -> Match | None:
    """A ``version_N`` directory holding ``metrics.csv`` or ``hparams.yaml``."""
    if not VERSION_DIR.match(directory.name):
        return None
    if "metrics.csv" not in files and "hparams.yaml" not in files:
        return None
    reader = LightningReader(ctx.root, directory, ctx.settings)
    return Match(readers=[reader], claimed=set(files), prune=True)


SOURCE = SourceSpec(
    NAME,
    "PyTorch Lightning CSVLogger: <name>/version_N/metrics.csv + hparams.yaml",
    match,
)

__all__ = ["SOURCE", "LightningReader"]
