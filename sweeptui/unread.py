"""Why a sweep shows no runs: what the walk saw, and why none of it became a run.

A tree where no layout is recognised, or a directory whose marker files a layout
recognised but whose reader gave no run (an experiment state listing no trial, a
storage with no trial yet), must not look like an empty success. When other places
gave runs, only readers that can tell an empty place is a problem (``why_no_run``)
are named, so a stray JSON file is no noise. :func:`explain`
turns the scanner's counts, the readers and the runs into a few lines, said on
stderr by ``report`` and in the header by ``watch``. Core module: no UI.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from sweeptui.sources import get_sources
from sweeptui.sources.base import Reader
from sweeptui.sources.scan import Seen
from sweeptui.store import RunStore

MAX_IDLE = 3
"""Idle readers named one by one; the rest are counted."""
KIND_HINTS = {
    ".csv": "a CSV is read as a run's metrics when named metrics.csv (or alone in a Hydra job)",
    ".jsonl": "a *.jsonl metric log makes its directory a run",
    ".json": "JSON is read as run config (config.json, params.json) or as results arrays",
    ".out": "console logs are read as error text beside a run's metrics",
    ".log": "console logs are read as error text beside a run's metrics",
    ".txt": "text files are read only as error text (error.txt) beside a run's metrics",
}


def explain(root: Path, readers: list[Reader], store: RunStore, seen: Seen) -> list[str]:
    """Lines saying why runs are missing; empty when every recognised layout gave runs."""
    if not readers:
        return [nothing_found(root, seen)] if not len(store) else []
    productive = _run_dirs(run.path for run in store)
    # Once some runs exist, only a reader that can tell an empty place is a problem (a
    # Ray experiment listing no trial) is named: a results file that is not an array or
    # an MLflow experiment without runs is no news then.
    idle = [reader for reader in readers
            if (not len(store) or callable(getattr(reader, "why_no_run", None)))
            and reader.relpath() not in productive
            and getattr(reader, "run_id", None) not in store.runs]
    lines = [_idle_line(reader, store) for reader in idle[:MAX_IDLE]]
    if len(idle) > MAX_IDLE:
        lines.append(f"and {len(idle) - MAX_IDLE} more recognised places read no run")
    return lines


def nothing_found(root: Path, seen: Seen) -> str:
    """'No layout recognised' with what the walk saw and what sweeptui reads."""
    files = sum(seen.kinds.values())
    common = seen.kinds.most_common(5)
    kinds = ", ".join(f"{count} {kind}" for kind, count in common)
    layouts = ", ".join(spec.name for spec in get_sources())
    text = (f"no run found under {root}: no sweep layout recognised in {seen.directories} "
            f"directories and {files} files" + (f" ({kinds})" if kinds else ""))
    hint = next((KIND_HINTS[kind] for kind, _ in common if kind in KIND_HINTS), None)
    if hint:
        text += f"; {hint}"
    return text + f". Layouts read: {layouts} (`sweeptui sources`)"


def _run_dirs(paths: Iterable[str]) -> set[str]:
    """Every run path and each of its parents (``a/b/c`` -> ``a/b/c``, ``a/b``, ``a``, ``.``)."""
    found = {"."}
    for path in paths:
        while path and path not in found:
            found.add(path)
            path = os.path.dirname(path)
    return found


def _idle_line(reader: Reader, store: RunStore) -> str:
    place = reader.relpath()
    why = _why(reader, store)
    return f"{reader.source} layout recognised at {place} ({_files(reader.base)}) but no run read: {why}"


def _why(reader: Reader, store: RunStore) -> str:
    own = getattr(reader, "why_no_run", None)
    if callable(own):
        reason = own()
        if reason:
            return reason
    base = str(reader.base)
    for warning in store.warnings:
        if warning.path == base or warning.path.startswith(base + os.sep):
            return warning.message
    return "none of its files holds a run yet"


def _files(base: Path) -> str:
    if not base.is_dir():
        return base.name
    try:
        names = sorted(name for name in os.listdir(base) if (base / name).is_file())
    except OSError:
        return "unlistable"
    shown = ", ".join(names[:3])
    return shown + (f" and {len(names) - 3} more files" if len(names) > 3 else "") or "no files"


__all__ = ["explain", "nothing_found"]
