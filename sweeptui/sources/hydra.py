"""The Hydra multirun layout: ``multirun/<date>/<time>/<job>/.hydra/``.

A sweep directory holds ``multirun.yaml`` and one directory per job; each job has
``.hydra/config.yaml`` (the composed config), ``.hydra/overrides.yaml`` (the
``key=value`` strings of this job) and ``.hydra/hydra.yaml``, beside whatever metric log
the job writes. Each job is read by the generic run-directory reader (metric logs, end
markers, error text); this source adds:

- params from the overrides (values parsed as YAML, dotted keys nested), with the full
  config as the fallback when there are none; run-length keys (``epochs``, ``max_steps``...)
  are taken from the config too, so progress and short runs can be judged;
- a job whose only tabular log is a CSV of another name than ``metrics.csv`` (one per
  experiment, ``<experiment>.csv``) has it read as its metric log; with several such
  CSVs and no other log, a warning says why none was read;
- run id = the job directory relative to the root, name ``<time>/<job>`` (plus the
  overrides when the directory name is only the job number);
- sweep-level text: Hydra prints a failing job's traceback on the driver's stderr
  (``Error executing job with overrides: [...]``), not in the job directory. Logs at the
  sweep level (``*.err``, ``*.log``, ``*.out``, ``.submitit/*/*``) are searched for those
  blocks, which end the job with the same overrides; a kill line (``Killed``, ``SIGKILL``)
  there ends every job of the sweep that had not ended, since the driver died with them.

A ``multirun.yaml`` makes a directory a sweep only when jobs (directories holding
``.hydra/``) sit directly in it: a stray copy at the top of a ``multirun/`` tree does not
stop the walk from finding the jobs in ``multirun/<date>/<time>/<job>/`` below it.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

from sweeptui.events import Event, RunEnded, RunSeen
from sweeptui.settings import Settings
from sweeptui.sources.base import Match, Reader, ScanContext, SourceSpec, parts_below
from sweeptui.sources.jsonio import to_float
from sweeptui.sources.run_dir import (
    KILL_LINE,
    CsvLog,
    RunDirReader,
    Watched,
    is_error_file,
    is_metric_log,
)
from sweeptui.sources.yamlio import YamlError, safe_load
from sweeptui.store import EPOCH_KEYS, STEP_KEYS, flatten_params

NAME = "hydra"
HYDRA_DIR = ".hydra"
SWEEP_FILE = "multirun.yaml"
LENGTH_KEYS = frozenset((*EPOCH_KEYS, *STEP_KEYS))
JOB_ERROR = re.compile(r"^Error executing job with overrides: (\[.*\])\s*$", re.M)
SWEEP_LOG_SUFFIXES = (".err", ".log", ".out")


def parse_overrides(lines: Any) -> dict[str, Any]:
    """``["optim.lr=0.01", "+model=big", "~x"]`` -> ``{"optim": {"lr": 0.01}, "model": "big"}``."""
    params: dict[str, Any] = {}
    if not isinstance(lines, list):
        return params
    for line in lines:
        key, sep, raw = str(line).partition("=")
        key = key.lstrip("+~")
        if not sep or not key:
            continue
        try:
            value = safe_load(raw) if raw.strip() else ""
        except YamlError:
            value = raw
        number = to_float(value) if isinstance(value, str) and value == raw.strip() else None
        if number is not None:
            value = number  # Hydra's grammar reads 1e-3 (and nan) as floats; YAML 1.1 does not
        _set_dotted(params, key, value)
    return params


def _set_dotted(target: dict, key: str, value: Any) -> None:
    parts = key.split(".")
    for part in parts[:-1]:
        child = target.get(part)
        if not isinstance(child, dict):
            child = target[part] = {}
        target = child
    target[parts[-1]] = value


class HydraJobReader(RunDirReader):
    """One Hydra job directory: the run-directory reader with params from ``.hydra/``."""

    source = NAME

    def __init__(self, root: Path, base: Path, settings: Settings) -> None:
        super().__init__(root, base, settings)
        self.overrides_file = Watched(base / HYDRA_DIR / "overrides.yaml", self.boundary)
        self.config_file = Watched(base / HYDRA_DIR / "config.yaml", self.boundary)
        self.overrides: list[str] = []
        self.hydra_params: dict | None = None
        self.display_name = f"{base.parent.name}/{base.name}"
        self.ended = False
        self.table_note: str | None = None

    def _hinted_names(self, changed: Collection[Path | str] | None) -> set[str] | None:
        """As for any run directory, except that a change under ``.hydra/`` needs a full read."""
        if changed is not None:
            for path in changed:
                parts = parts_below(self.base, path)
                if parts and parts[0] == HYDRA_DIR:
                    return None
        return super()._hinted_names(changed)

    def _track(self, names: list[str]) -> None:
        """As for any run directory; a lone CSV of another name is the metric log."""
        super()._track(names)
        if any(is_metric_log(name) or name.endswith(".csv") for name in self.logs):
            return
        tables = sorted(name for name in names if name.endswith(".csv"))
        if len(tables) == 1:
            self.logs[tables[0]] = CsvLog(self.base / tables[0], self.settings, self.run_id)
        elif tables:
            self.table_note = (
                f"no metric log read: {len(tables)} CSV files ({', '.join(tables)}) and no "
                "metrics.csv or *.jsonl; which CSV holds the metrics is ambiguous"
            )

    def _read_names(self, names: set[str] | None) -> list[Event]:
        """The run-directory events with Hydra's params and name (``.hydra/`` on full reads)."""
        events = super()._read_names(names)
        if self.table_note is not None:
            self._warn_once(events, str(self.base), self.table_note)
        changed = self._read_hydra() if names is None else False
        for event in events:
            if isinstance(event, RunSeen):
                event.source, event.name = NAME, self.display_name
                event.params = self._merged(event.params)
                changed = False
            elif isinstance(event, RunEnded):
                self.ended = True
        if changed:
            params = self._merged(self.params)
            events.insert(0, RunSeen(self.run_id, self.display_name, self.run_id, NAME, params))
        return events

    def _read_hydra(self) -> bool:
        changed = False
        if self.overrides_file.changed():
            loaded = _load_yaml(self.overrides_file)
            if isinstance(loaded, list):
                self.overrides = [str(item) for item in loaded]
                changed = True
        if self.config_file.changed():
            loaded = _load_yaml(self.config_file)
            if isinstance(loaded, dict):
                self.hydra_params = self._params_from(loaded)
                changed = True
        if changed and self.hydra_params is None:
            self.hydra_params = self._params_from({})
        if changed and self.base.name.isdigit() and self.overrides:
            overrides = " ".join(self.overrides)
            self.display_name = f"{self.base.parent.name}/{self.base.name} {overrides}"
        return changed

    def _params_from(self, config: dict) -> dict:
        params = parse_overrides(self.overrides)
        if not params:
            return config
        for key, value in flatten_params(config).items():
            if key.rsplit(".", 1)[-1].lower() in LENGTH_KEYS and key not in flatten_params(params):
                _set_dotted(params, key, value)
        return params

    def _merged(self, own: dict | None) -> dict | None:
        if self.hydra_params is None:
            return own
        merged = dict(own or {})
        merged.update(self.hydra_params)
        return merged

    def end_from_sweep(self, text: str) -> RunEnded | None:
        """End this job with sweep-level error text (once)."""
        if self.ended or not self.seen:
            return None
        self.ended = True
        return RunEnded(self.run_id, None, error=text)


def _load_yaml(watched: Watched) -> Any:
    data = watched.read_bytes()
    if data is None:
        return None
    try:
        value = safe_load(data.decode("utf-8", errors="replace"))
    except YamlError:
        return None
    watched.accept()
    return value


class HydraSweepReader(Reader):
    """A multirun sweep directory: its jobs, and the driver's logs at the sweep level."""

    source = NAME

    def __init__(self, root: Path, base: Path, settings: Settings) -> None:
        super().__init__(root, base, settings)
        self.jobs: dict[str, HydraJobReader] = {}
        self.logs: dict[str, Watched] = {}
        self.done_blocks: set[str] = set()
        self.killed = False

    def read(self, changed: Collection[Path | str] | None = None) -> list[Event]:
        """Every job's new events, then ends found in the sweep-level logs.

        When every path in ``changed`` lies inside a known job, only those jobs are
        read, each with its own paths; anything else (a sweep-level log, a new job)
        reads everything.
        """
        by_job = self._hinted_jobs(changed)
        if by_job is not None:
            events: list[Event] = []
            for name, job in self.jobs.items():
                if name in by_job:
                    events.extend(job.read(by_job[name]))
            return events
        events = []
        for name in self._job_names():
            if name not in self.jobs:
                self.jobs[name] = HydraJobReader(self.root, self.base / name, self.settings)
        for job in self.jobs.values():
            events.extend(job.read())
        for text in self._changed_logs():
            events.extend(self._ends_from(text))
        return events

    def _hinted_jobs(
        self, changed: Collection[Path | str] | None
    ) -> dict[str, list[Path | str]] | None:
        """``changed`` grouped by the known job holding each path; None when one is elsewhere."""
        if changed is None:
            return None
        by_job: dict[str, list[Path | str]] = {}
        for path in changed:
            parts = parts_below(self.base, path)
            if not parts or parts[0] not in self.jobs:
                return None
            by_job.setdefault(parts[0], []).append(path)
        return by_job

    def _job_names(self) -> list[str]:
        try:
            names = os.listdir(self.base)
        except OSError:
            return []
        return sorted(n for n in names if (self.base / n / HYDRA_DIR).is_dir())

    def _changed_logs(self) -> list[str]:
        texts = []
        for path in self._log_paths():
            watched = self.logs.setdefault(str(path), Watched(path, self.boundary))
            if watched.changed():
                data = watched.read_bytes(self.settings.error_tail_bytes)
                watched.accept()
                if data:
                    texts.append(data.decode("utf-8", errors="replace"))
        return texts

    def _log_paths(self) -> list[Path]:
        paths = [self.base / n for n in _files(self.base) if n.endswith(SWEEP_LOG_SUFFIXES)]
        submitit = self.base / ".submitit"
        if submitit.is_dir():
            for job in sorted(submitit.iterdir()):
                if job.is_dir():
                    paths.extend(job / n for n in _files(job) if is_error_file(n))
        return paths

    def _ends_from(self, text: str) -> list[Event]:
        events: list[Event] = []
        by_overrides = {tuple(job.overrides): job for job in self.jobs.values()}
        matches = list(JOB_ERROR.finditer(text))
        for index, found in enumerate(matches):
            stop = matches[index + 1].start() if index + 1 < len(matches) else len(text)
            block = text[found.start():stop].strip()
            try:
                overrides = tuple(str(item) for item in ast.literal_eval(found.group(1)))
            except (ValueError, SyntaxError):
                continue
            job = by_overrides.get(overrides)
            if job is not None and block not in self.done_blocks:
                self.done_blocks.add(block)
                ended = job.end_from_sweep(block)
                if ended is not None:
                    events.append(ended)
        if not self.killed and (kill := KILL_LINE.search(text)):
            self.killed = True
            line = text[text.rfind("\n", 0, kill.start()) + 1:].split("\n", 1)[0].strip()
            for job in self.jobs.values():
                ended = job.end_from_sweep(line)
                if ended is not None:
                    events.append(ended)
        return events


def _files(directory: Path) -> list[str]:
    try:
        return sorted(n for n in os.listdir(directory) if (directory / n).is_file())
    except OSError:
        return []


def match(directory: Path, subdirs: list[str], files: list[str], ctx: ScanContext) -> Match | None:
    """A multirun sweep (``multirun.yaml`` beside its jobs) or a single job (a ``.hydra``
    directory). A ``multirun.yaml`` with no job beside it claims nothing."""
    if SWEEP_FILE in files and any((directory / sub / HYDRA_DIR).is_dir() for sub in subdirs):
        reader: Reader = HydraSweepReader(ctx.root, directory, ctx.settings)
    elif HYDRA_DIR in subdirs:
        reader = HydraJobReader(ctx.root, directory, ctx.settings)
    else:
        return None
    return Match(readers=[reader], claimed=set(files), prune=True)


SOURCE = SourceSpec(
    NAME,
    "Hydra multirun: multirun/<date>/<time>/<job>/.hydra/ beside the job's metric log",
    match,
)

__all__ = ["SOURCE", "HydraJobReader", "HydraSweepReader", "parse_overrides"]
