"""Slurm job logs: ``slurm-<jobid>.out`` / ``slurm-<jobid>_<task>.out`` (and ``.err``).

``sbatch`` writes a job's stdout and stderr to ``slurm-<jobid>.out`` in the directory it
was submitted from (``slurm-<array job>_<task>.out`` for array tasks); ``slurmstepd`` adds
its own lines when Slurm ends the job: ``*** JOB 42 ON node CANCELLED AT <time> DUE TO
TIME LIMIT ***``, ``Detected 1 oom-kill event(s)``, ``srun: error: node: task 0: Killed``.
Those lines are read by :func:`sweeptui.failures.classify_failure`.

Where the logs sit decides what they are:

- **In a run's folder**, or beside run folders that name the job (``run_4242/``) or record
  its id in their config (``slurm_job_id: 4242``): error text of that run, read by the
  run-directory reader (:func:`sweeptui.sources.slurmlogs.job_logs_for`).
- **In a folder of only Slurm logs** (array jobs that print their metrics to stdout): a
  sweep, each job a run (:class:`SlurmJobReader`). Its metrics are the ``name=value`` /
  ``name: value`` numbers of lines that carry a step (``epoch``, ``step``, ``iter``, Keras's
  ``Epoch 3/10``) or a loss or accuracy; ``Namespace(...)`` / ``{...}`` lines printed by the
  script are its params; ``Epoch N/M`` gives its planned length. Its status comes from how
  the log ends: Slurm's cancel, OOM and kill lines or a traceback end it as killed, oom or
  crashed; a last line saying ``done`` / ``finished`` / ``complete`` ends it as finished;
  anything else is left to the stall and vanish rules.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

from sweeptui.events import Event, FileReset, RunEnded, RunSeen, SourceWarning
from sweeptui.failures import has_traceback
from sweeptui.settings import Settings
from sweeptui.sources.base import Match, Reader, ScanContext, SourceSpec
from sweeptui.sources.jsonio import to_float
from sweeptui.sources.run_dir import KILL_LINE, Columns, ErrorText, is_run_dir
from sweeptui.sources.slurmlogs import SLURM_LOG, job_of
from sweeptui.sources.tail import FileTail, reset_note

NAME = "slurm"
READ_BYTES = 16 * 1024 * 1024

_PAIR = re.compile(
    r"(?<![\w.])([A-Za-z_][\w./-]*)\s*[=:]\s*"
    r"(-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|NaN|inf|Inf))(?![\w.:/])"
)
_EPOCH_OF = re.compile(r"\bEpoch\s+(\d+)\s*/\s*(\d+)", re.I)
_STEP_KEYS = ("global_step", "step", "iteration", "iter", "it")
_EPOCH_KEYS = ("epoch",)
_MEASURE = re.compile(r"loss|acc|error|err\b|score|perplexity|ppl|f1|auc|reward|return|mse|mae", re.I)
_PARAMS_LINE = re.compile(r"^\s*(?:\w+\s*[:=]\s*)?(Namespace\(.*\)|\{.*\})\s*$")
_DONE_LINE = re.compile(r"\b(?:done|finished|complete|completed)\b", re.I)


# -- a job of a folder of Slurm logs ------------------------------------------------------------
class SlurmJobReader(Reader):
    """One job's ``slurm-<id>.out`` (and its ``.err``): metrics printed to stdout, its end."""

    source = NAME

    def __init__(self, root: Path, base: Path, settings: Settings) -> None:
        super().__init__(root, base, settings)
        self.job = job_of(base.name) or base.stem
        self.run_id = self.relpath()
        self.tail = FileTail(base, settings, boundary=self.boundary)
        self.err = base.with_suffix(".err")
        self.errors = [ErrorText(base, self.boundary), ErrorText(self.err, self.boundary)]
        for error in self.errors:
            error.strict = False  # a job's stderr holds warnings too: only failures count
        self.params: dict[str, Any] = {}
        self.planned: float | None = None
        self.position = 0
        self.stepped = False
        """Once lines carry steps, a line without one (a closing summary) is no record."""
        self.seen = False
        self.ended = False
        self.err_ended = False
        """Ended by its ``.err``: that stands when the log itself is reset."""
        self.last_line = ""

    def owns(self, path: Path) -> bool:
        """The log and its ``.err`` sibling."""
        return path in (self.base, self.err)

    def read(self, changed: Collection[Path | str] | None = None) -> list[Event]:
        """New metric lines, params printed by the script, and the job's end."""
        events: list[Event] = []
        columns = Columns(str(self.base))
        params_changed = False
        more = True
        while more:
            chunk = self.tail.read_lines(READ_BYTES)
            more = chunk.more
            events.extend(SourceWarning(str(self.base), message) for message in chunk.warnings)
            if chunk.reset is not None:
                self._start_over(chunk.reset, columns, events)
            if chunk.lines:
                columns.mtime = chunk.mtime
            for raw in chunk.lines:
                params_changed |= self._line(raw, columns)
        if not self.seen or params_changed:
            params = dict(self.params)
            if self.planned is not None:
                params.setdefault("epochs", self.planned)
            events.insert(0, RunSeen(self.run_id, f"slurm-{self.job}", self.run_id, NAME,
                                     params or None))
            self.seen = True
        batch = columns.build(self.run_id)
        if batch is not None:
            events.append(batch)
        events.extend(self._end())
        return events

    def _start_over(self, kind: str, columns: Columns, events: list[Event]) -> None:
        """The log was truncated (a requeued job: Slurm opens it for truncation by default)
        or replaced: what it gave is withdrawn, the log read again from its start."""
        origin = str(self.base)
        columns.discard()
        self.position, self.stepped, self.last_line = 0, False, ""
        self.ended = self.err_ended
        self.errors[0].verdict = None  # its failure is judged again on what it holds now
        events.append(FileReset(self.run_id, origin, kind))
        events.append(SourceWarning(origin, reset_note(kind)))

    def _line(self, raw: bytes, columns: Columns) -> bool:
        """Take one line; True when it gave params."""
        text = raw.decode("utf-8", errors="replace").split("\r")[-1].strip()
        if not text:
            return False
        self.last_line = text
        params = _params_in(text)
        if params is not None:
            self.params.update(params)
            return True
        record = _record_in(text)
        if record is None:
            return False
        planned = record.pop("_planned", None)
        if planned is not None:
            self.planned = planned
        epoch = record.pop("epoch", None)
        step = next((record.pop(key) for key in _STEP_KEYS if key in record), None)
        if step is None and epoch is None and self.stepped:
            return False
        self.stepped = self.stepped or step is not None or epoch is not None
        self.position += 1
        at = step if step is not None else epoch if epoch is not None else float(self.position)
        if epoch is not None:
            columns.epoch_steps.append(at)
            columns.epoch_values.append(epoch)
        for name, value in record.items():
            column = columns.column(name)
            column[0].append(at)
            column[1].append(value)
        columns.records += 1
        return False

    def _end(self) -> list[Event]:
        events: list[Event] = []
        origin = str(self.base)
        for error in self.errors:
            ended = error.check(self.run_id, self.settings.error_tail_bytes)
            if ended is not None:
                self.ended = True
                if error is self.errors[0]:
                    ended.origin = origin  # withdrawn if the log is reset
                else:
                    self.err_ended = True
                events.append(ended)
        if not self.ended and _DONE_LINE.search(self.last_line) and not _failing(self.last_line):
            self.ended = True
            events.append(RunEnded(self.run_id, "finished", evidence=f"last line of {self.base.name}",
                                   origin=origin))  # fmt: skip
        return events


def _failing(text: str) -> bool:
    return has_traceback(text) or bool(KILL_LINE.search(text))


def _params_in(text: str) -> dict | None:
    """``Namespace(lr=0.01, ...)`` or a printed dict, as params; None for other lines."""
    found = _PARAMS_LINE.match(text)
    if found is None:
        return None
    body = found.group(1)
    try:
        if body.startswith("Namespace("):
            call = ast.parse(body, mode="eval").body
            if not isinstance(call, ast.Call):
                return None
            return {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords if kw.arg}
        value = ast.literal_eval(body)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, dict) and value else None


def _record_in(text: str) -> dict[str, float] | None:
    """The numbers of a metric line, or None when the line is not one."""
    record: dict[str, float] = {}
    epoch = _EPOCH_OF.search(text)
    if epoch is not None:
        record["epoch"] = float(epoch.group(1))
        record["_planned"] = float(epoch.group(2))
    for key, raw in _PAIR.findall(text):
        value = to_float(raw)
        if value is None:
            continue
        name = key.lower() if key.lower() in (*_STEP_KEYS, *_EPOCH_KEYS) else key
        record.setdefault(name, value)
    measures = [key for key in record if key not in ("_planned", *_STEP_KEYS, *_EPOCH_KEYS)]
    if not measures:
        return None
    stepped = any(key in record for key in (*_STEP_KEYS, *_EPOCH_KEYS))
    if not stepped and not any(_MEASURE.search(key) for key in measures):
        return None
    return record


# -- matching ------------------------------------------------------------------------------------
def match(directory: Path, subdirs: list[str], files: list[str], ctx: ScanContext) -> Match | None:
    """A folder of Slurm logs with no run folder in it: each ``.out`` log is a job run.

    Logs beside run folders are theirs (read by those runs' readers): not claimed here.
    """
    logs = [name for name in files if SLURM_LOG.match(name)]
    if not logs or is_run_dir(directory, subdirs, files):
        return None
    if any(_holds_runs(directory / sub) for sub in subdirs):
        return None
    outs = [name for name in logs if name.endswith(".out")]
    readers: list[Reader] = [SlurmJobReader(ctx.root, directory / name, ctx.settings) for name in outs]
    return Match(readers=readers, claimed=set(logs), prune=False)


def _holds_runs(directory: Path) -> bool:
    """Whether a subfolder looks like a run of another layout (its logs are then its own)."""
    try:
        names = os.listdir(directory)
    except OSError:
        return False
    folders = [name for name in names if (directory / name).is_dir()]
    return is_run_dir(directory, folders, names) or ".hydra" in names or any(
        name.startswith("events.out.tfevents.") for name in names
    )


SOURCE = SourceSpec(
    NAME,
    "Slurm job logs: a folder of slurm-<jobid>.out files (each job a run); beside runs, their error text",
    match,
)

__all__ = ["SOURCE", "SlurmJobReader"]
