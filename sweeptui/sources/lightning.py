"""PyTorch Lightning's loggers: ``<save_dir>/[<name>/]version_N/``.

Lightning's default logger (``TensorBoardLogger``, ``lightning_logs/version_N/``)
writes ``events.out.tfevents.*`` beside ``hparams.yaml``: such a folder (event files,
no ``metrics.csv``) is read by the TensorBoard reader
(:mod:`sweeptui.sources.tensorboard`: scalars, ``hparams.yaml`` as params, several
writer processes as segments), named like any Lightning run. The rest of this
docstring is about the ``CSVLogger``, whose ``metrics.csv`` is read when a folder
holds both.

Each ``version_N`` directory holds ``metrics.csv`` (sparse rows, one per ``log`` call,
``step`` and ``epoch`` columns; the logger rewrites the whole file in place when a new
column appears) and ``hparams.yaml``. It is read by the generic run-directory reader,
whose CSV tail reads the file again after such a rewrite, in place of what it gave;
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
from sweeptui.sources.tensorboard import EVENT_FILE_PREFIX, TensorBoardRunReader

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


class LightningEventsReader(TensorBoardRunReader):
    """One ``version_N`` directory of the default ``TensorBoardLogger``."""

    source = NAME

    def __init__(self, root: Path, base: Path, settings: Settings) -> None:
        super().__init__(root, base, settings)
        self.display_name = f"{base.parent.name}/{base.name}"


def match(directory: Path, subdirs: list[str], files: list[str], ctx: ScanContext) -> Match | None:
    """A ``version_N`` directory holding ``metrics.csv``, ``hparams.yaml`` or event files."""
    if not VERSION_DIR.match(directory.name):
        return None
    events = any(name.startswith(EVENT_FILE_PREFIX) for name in files)
    if "metrics.csv" in files or ("hparams.yaml" in files and not events):
        reader: RunDirReader | TensorBoardRunReader = LightningReader(
            ctx.root, directory, ctx.settings
        )
    elif events:
        reader = LightningEventsReader(ctx.root, directory, ctx.settings)
    else:
        return None
    return Match(readers=[reader], claimed=set(files), prune=True)


SOURCE = SourceSpec(
    NAME,
    "PyTorch Lightning: <name>/version_N/ with metrics.csv (CSVLogger) or event files, hparams.yaml",
    match,
)

__all__ = ["SOURCE", "LightningEventsReader", "LightningReader"]
