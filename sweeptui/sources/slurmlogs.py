"""Slurm log names, and which run folder a log beside it belongs to.

Shared by the run-directory reader (a run's own or neighbouring ``slurm-<jobid>.out``
is its error text) and the Slurm source (a folder of only such logs is a sweep).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

SLURM_LOG = re.compile(r"^slurm-(\d+)(?:_(\d+))?\.(out|err)$")
JOB_ID_KEYS = frozenset({"slurm_job_id", "slurm_jobid", "job_id", "jobid", "slurm_array_job_id"})
"""Config keys under which a run records its Slurm job id."""


def is_slurm_log(name: str) -> bool:
    """``slurm-<jobid>.out`` / ``.err`` (``slurm-<job>_<task>.*`` for array tasks)."""
    return SLURM_LOG.match(name) is not None


def job_of(name: str) -> str | None:
    """``"4242"`` or ``"4242_3"`` for a Slurm log name, else None."""
    found = SLURM_LOG.match(name)
    if found is None:
        return None
    return found.group(1) + (f"_{found.group(2)}" if found.group(2) else "")


_LISTINGS: dict[str, tuple[int, list[str]]] = {}
"""Directory -> (mtime_ns, Slurm log names): one listing per directory change, however many
runs sit in it."""


def slurm_logs_in(directory: Path) -> list[str]:
    """The Slurm log names in ``directory`` (cached until the directory changes)."""
    key = os.fspath(directory)
    try:
        stamp = os.stat(key).st_mtime_ns
    except OSError:
        return []
    cached = _LISTINGS.get(key)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    try:
        names = sorted(name for name in os.listdir(key) if SLURM_LOG.match(name))
    except OSError:
        names = []
    if len(_LISTINGS) > 4096:
        _LISTINGS.clear()
    _LISTINGS[key] = (stamp, names)
    return names


def job_logs_for(run_dir: Path, params: dict | None) -> list[Path]:
    """Slurm logs beside ``run_dir`` (in its parent) that belong to it: the folder's name
    holds the job id (``run_4242``, ``4242_3``), or its config records it."""
    names = slurm_logs_in(run_dir.parent)
    if not names:
        return []
    wanted = _recorded_jobs(params)
    # job ids in the folder name: "run_4242_3" holds 4242_3 and 4242 (short numbers such as
    # a seed or a learning rate's digits are no job id)
    tokens = {t for t in re.findall(r"\d+_\d+|\d+", run_dir.name) if len(t.split("_")[0]) >= 4}
    tokens |= {t for t in re.findall(r"\d+", run_dir.name) if len(t) >= 4}
    found = []
    for name in names:
        job = job_of(name)
        if job is not None and (job in wanted or job in tokens):
            found.append(run_dir.parent / name)
    return found


def _recorded_jobs(params: dict | None) -> set[str]:
    jobs: set[str] = set()
    for key, value in (params or {}).items():
        if isinstance(value, dict):
            jobs |= _recorded_jobs(value)
        elif str(key).lower() in JOB_ID_KEYS and value is not None and not isinstance(value, bool):
            jobs.add(str(value).strip())
    return jobs


__all__ = ["JOB_ID_KEYS", "SLURM_LOG", "is_slurm_log", "job_logs_for", "job_of", "slurm_logs_in"]
