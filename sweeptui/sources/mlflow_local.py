"""The ``mlflow`` layout: MLflow's SQLite store and file store, found in a directory tree.

- an SQLite file with MLflow's tracking tables (``mlflow.db``, any ``*.db`` /
  ``*.sqlite``) -> one :class:`~sweeptui.sources.mlflow_sqlite.SqliteReader`;
- a file-store root (``mlruns/``, or any directory whose numbered sub-directories hold
  an experiment ``meta.yaml``) -> one
  :class:`~sweeptui.sources.mlflow_files.ExperimentReader` per experiment directory.
  The source owns the whole tree (nothing below it is another layout: a run's
  ``artifacts/config.json`` is an artifact), ``.trash/`` (deleted experiments) is read
  only with ``include_deleted``, and an experiment folder without ``meta.yaml`` is read
  with a warning;
- a single experiment directory given as the root is read the same way.

Both may sit side by side in one folder; both are read.
"""

from __future__ import annotations

from pathlib import Path

from sweeptui.sources.base import Match, Reader, ScanContext, SourceSpec
from sweeptui.sources.files import SQLITE_SUFFIXES
from sweeptui.sources.mlflow_files import META, TRASH, ExperimentReader, read_small
from sweeptui.sources.mlflow_runs import NAME
from sweeptui.sources.mlflow_sqlite import SqliteReader, is_mlflow_sqlite

STORE_NAME = "mlruns"
HEAD_BYTES = 4096


def is_experiment_meta(path: Path) -> bool:
    """A ``meta.yaml`` as MLflow writes it for an experiment (not for a run)."""
    head = read_small(path, HEAD_BYTES) or b""
    return b"artifact_location:" in head and b"experiment_id:" in head and b"run_uuid:" not in head


def is_store_root(directory: Path, subdirs: list[str]) -> bool:
    """``mlruns/`` itself, or a directory whose numbered folders are MLflow experiments."""
    numbered = [name for name in subdirs if name.isdigit()]
    if directory.name == STORE_NAME and (numbered or TRASH in subdirs):
        return True
    return any(is_experiment_meta(directory / name / META) for name in numbered)


def _experiment_readers(directory: Path, subdirs: list[str], ctx: ScanContext) -> list[Reader]:
    readers: list[Reader] = [
        ExperimentReader(ctx.root, directory / name, ctx.settings)
        for name in sorted(subdirs) if name.isdigit()
    ]  # fmt: skip
    trash = directory / TRASH
    if ctx.settings.include_deleted and trash.is_dir():
        readers.extend(ExperimentReader(ctx.root, path, ctx.settings)
                       for path in sorted(trash.iterdir()) if path.is_dir())  # fmt: skip
    return readers


def match(directory: Path, subdirs: list[str], files: list[str], ctx: ScanContext) -> Match | None:
    """Claim MLflow SQLite files here, and the whole tree of a file store."""
    readers: list[Reader] = []
    claimed: set[str] = set()
    for name in files:
        if name.endswith(SQLITE_SUFFIXES) and is_mlflow_sqlite(directory / name):
            readers.append(SqliteReader(ctx.root, directory / name, ctx.settings))
            claimed.update({name, f"{name}-wal", f"{name}-shm", f"{name}-journal"})
    prune = False
    if is_store_root(directory, subdirs):
        readers.extend(_experiment_readers(directory, subdirs, ctx))
        prune = True
    elif META in files and is_experiment_meta(directory / META):
        readers.append(ExperimentReader(ctx.root, directory, ctx.settings))
        prune = True
    if not readers and not prune:
        return None
    if prune:
        claimed.update(files)
    return Match(readers=readers, claimed=claimed, prune=prune)


SOURCE = SourceSpec(
    NAME,
    "MLflow: SQLite store mlflow.db, file store mlruns/<experiment>/<run>/; a server by URL",
    match,
)

__all__ = ["SOURCE", "is_store_root"]
