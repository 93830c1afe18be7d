"""The results-array layout: JSON files holding one record per experiment.

A sweep script rewrites such a file whole after every experiment, without an atomic
rename, so a read may catch it half-written: a failed parse keeps the last good
state and is retried on the next poll. Each record becomes a run with per-epoch
series (list-valued fields), summary scalars and an end status. Intermediate and
final files in one directory describe the same runs, so what was already emitted
for a run is tracked per directory and shared by the readers of that directory.

Hand-written sweep scripts put odd things in these files: a ``true`` or a ``[0.5]``
among the losses, a bare string among the experiments, ``"success": "false"``. Each
odd element is skipped with one warning (remembered across reads, so a file
rewritten a hundred times warns once) and everything around it is read: a series
keeps its other numbers at their own epochs, the array its other experiments, and
``success`` is read from the strings that spell a boolean.
"""

from __future__ import annotations

import json
import os
from array import array
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sweeptui.events import (
    Event,
    MetricBatch,
    RunEnded,
    RunSeen,
    Series,
    SourceWarning,
    SummarySeen,
)
from sweeptui.settings import Settings
from sweeptui.sources.base import Match, Reader, ScanContext, SourceSpec
from sweeptui.sources.files import Refused
from sweeptui.sources.jsonio import json_kind, parse_json, parse_time, to_float, values_equal

NAME = "results-array"

RUN_DIR_JSON_NAMES = frozenset(
    {"config.json", "params.json", "hparams.json", "args.json", "summary.json", "final.json",
     "status.json"}
)  # fmt: skip
"""JSON files of the run-directory layout: never results arrays."""

IDENTITY_KEYS = ("name", "experiment_name", "run_name", "id", "experiment_id", "run_id", "trial_id")
PARAM_KEYS = ("config_params", "config", "params", "hyperparameters", "hparams")
TIME_KEYS = ("start_time", "end_time", "timestamp")
ERROR_KEYS = ("error", "error_message", "traceback", "exception")
NOT_SUMMARY = frozenset(
    (*IDENTITY_KEYS, *PARAM_KEYS, *TIME_KEYS, *ERROR_KEYS, "status", "success", "exit_code")
)
NOT_SERIES = frozenset({"epoch", "epochs", "step", "steps"})

FINISHED_WORDS = frozenset({"completed", "finished", "success", "done"})
CRASHED_WORDS = frozenset({"failed", "error", "crashed"})
KILLED_WORDS = frozenset({"killed", "terminated", "cancelled", "canceled"})
SUCCESS_WORDS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
"""How ``success`` is spelled as a string (lower-cased) by scripts that write it so."""


@dataclass
class RunState:
    """What has been emitted for one run, shared by every reader of its directory."""

    seen: bool = False
    params: Any = None
    started_at: float | None = None
    points: dict[str, int] = field(default_factory=dict)
    epochs: int = 0
    summary: dict[str, float] = field(default_factory=dict)
    ended: bool = False
    warned: set[tuple[str, object]] = field(default_factory=set)
    """Odd elements already warned about, e.g. ``("val_losses", 3)``."""


class ResultsArrayReader(Reader):
    """Re-parses one results-array file when it changes and emits what is new."""

    source = NAME

    def __init__(
        self, root: Path, base: Path, settings: Settings, shared: dict[str, RunState]
    ) -> None:
        super().__init__(root, base, settings)
        self.runs = shared
        self.directory = self.relpath(base.parent)
        self._signature: tuple[int, int, int] | None = None
        self._warned: set[object] = set()

    def read(self, changed: Collection[Path | str] | None = None) -> list[Event]:
        """Events for runs and points not emitted yet (one stat when nothing changed).

        One file: the ``changed`` hint narrows nothing.
        """
        events: list[Event] = []
        info = self._stat(events)
        if info is None:
            return events
        signature = (info.st_size, info.st_mtime_ns, info.st_ino)
        if signature == self._signature:
            return events
        if info.st_size > self.settings.max_json_bytes:
            self._signature = signature
            self._warn(events, ("big", info.st_size), f"larger than max_json_bytes "
                       f"({self.settings.max_json_bytes}); not parsed")  # fmt: skip
            return events
        value = self._parse(info, events)
        if value is _FAILED:
            return events
        self._signature = signature
        found = find_records(value)
        if found is not None:
            self._emit_all(*found, info.st_mtime, events)
        return events

    # -- file access ------------------------------------------------------------------
    def _stat(self, events: list[Event]) -> os.stat_result | None:
        try:
            info = self.boundary.check(self.base)
        except Refused as exc:
            self._warn(events, "stat", exc.strerror)
            return None
        except OSError as exc:
            self._warn(events, "stat", f"cannot read file: {exc.strerror or exc}")
            return None
        self._warned.discard("stat")
        return info

    def _parse(self, info: os.stat_result, events: list[Event]) -> Any:
        try:
            data = self.boundary.read(self.base)
        except OSError as exc:
            self._warn(events, "open", f"cannot read file: {exc.strerror or exc}")
            return _FAILED
        if not data.strip():
            return _FAILED  # caught between truncate and write: retried on the next poll
        try:
            value, replaced = parse_json(data)
        except ValueError:
            self._warn(
                events, ("parse", info.st_size, info.st_mtime_ns),
                "not valid JSON (half-written?); keeping the last good read, will retry",
            )  # fmt: skip
            return _FAILED
        if replaced:
            self._warn(events, ("utf8", info.st_mtime_ns), "invalid UTF-8 bytes replaced")
        return value

    def _warn(self, events: list[Event], key: object, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            events.append(SourceWarning(str(self.base), message))

    # -- records -> events -------------------------------------------------------------
    def _emit_all(self, where: str, items: list, mtime: float, events: list[Event]) -> None:
        seen_ids: dict[str, int] = {}
        for index, record in enumerate(items):
            if not isinstance(record, dict):
                kind = json_kind(record)
                self._warn(events, ("element", where, index, kind), f"{where or 'element '}[{index}] "
                           f"is {kind}, not an experiment object; skipped")  # fmt: skip
                continue
            identity = record_identity(record, index)
            count = seen_ids[identity] = seen_ids.get(identity, 0) + 1
            if count > 1:  # a repeated name: keep the records apart, in order
                identity = f"{identity}#{count}"
            run_id = identity if self.directory == "." else f"{self.directory}/{identity}"
            state = self.runs.setdefault(run_id, RunState())
            self._emit_record(run_id, identity, record, state, mtime, events)

    def _emit_record(
        self, run_id: str, name: str, record: dict, state: RunState, mtime: float,
        events: list[Event],
    ) -> None:  # fmt: skip
        params = next((record[k] for k in PARAM_KEYS if isinstance(record.get(k), dict)), None)
        started = parse_time(record.get("start_time"))
        if not state.seen or not values_equal(params, state.params):
            events.append(RunSeen(run_id, name, self.directory, NAME, params, started))
            state.seen, state.params, state.started_at = True, params, started
        end_time = parse_time(record.get("end_time"))
        if end_time is None:
            end_time = parse_time(record.get("timestamp"))
        series, skipped = record_series(record)
        for label, index, value in skipped:
            message = f"{name}: {label}[{index}] is {json_kind(value)}, not a number; skipped"
            self._warn_run(events, state, (label, index), message)
        batch = new_points(run_id, series, state, end_time, mtime)
        if batch is not None:
            events.append(batch)
        summary = new_summary(record, state)
        if summary:
            events.append(SummarySeen(run_id, summary))
        if not state.ended:
            self._check_success(name, record, state, events)
            ended = end_event(run_id, record, end_time)
            if ended is not None:
                state.ended = True
                events.append(ended)

    def _check_success(self, name: str, record: dict, state: RunState, events: list[Event]) -> None:
        """Warn (once) about a ``success`` that spells no boolean: it decides nothing then."""
        value = record.get("success")
        if value is None or success_flag(value) is not None:
            return
        shown = json.dumps(value)[:40] if isinstance(value, (str, int, float)) else json_kind(value)
        self._warn_run(events, state, ("success", shown), f"{name}: success is {shown}, not true "
                       "or false; its end is read from its other fields")  # fmt: skip

    def _warn_run(self, events: list[Event], state: RunState, key: tuple[str, object], message: str) -> None:
        """One warning per odd element of a run, whichever file of the directory shows it first."""
        if key not in state.warned:
            state.warned.add(key)
            events.append(SourceWarning(str(self.base), message))


_FAILED: Any = object()


def find_records(value: Any) -> tuple[str, list] | None:
    """Where the array of records is (``""``: the value itself, else its key) and the array.

    The array is the value itself or the first list holding an object under a key. Its
    other elements are returned too (the reader warns about each), so that every
    experiment keeps its position, and with it its ``exp-NNN`` name, across rewrites.
    """
    if isinstance(value, list):
        candidates = [("", value)]
    elif isinstance(value, dict):
        candidates = [(str(k), v) for k, v in value.items() if isinstance(v, list)]
    else:
        return None
    for where, candidate in candidates:
        if any(isinstance(item, dict) for item in candidate):
            return where, candidate
        if not candidate and isinstance(value, dict):
            return where, candidate
    return None


def record_identity(record: dict, index: int) -> str:
    """The record's name from the first identity key present, else ``exp-NNN``."""
    for key in IDENTITY_KEYS:
        value = record.get(key)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    return f"exp-{index:03d}"


def singular(name: str) -> str:
    """``train_losses`` -> ``train_loss``, ``val_accuracies`` -> ``val_accuracy``."""
    if name.endswith("sses"):
        return name[:-2]
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith("s") and not name.endswith("ss"):
        return name[:-1]
    return name


Skipped = tuple[str, int, Any]
"""An element of a per-epoch list that is not a number: the list's key, its index, the value."""


def number_list(value: Any) -> tuple[list[float | None], list[int]] | None:
    """A per-epoch list's numbers and the indexes of its elements that are not numbers.

    Nulls (an epoch without a value) and skipped elements are None, so every number
    keeps its epoch: ``[0.9, true, 0.7]`` has 0.7 at epoch 3. Numeric strings and
    ``NaN``/``Infinity`` are numbers; ``true`` and ``false`` are not. None when the
    value is not a list, or holds no number and not only nulls (a list of names).
    """
    if not isinstance(value, list) or not value:
        return None
    numbers: list[float | None] = []
    skipped: list[int] = []
    for index, item in enumerate(value):
        number = None if item is None else to_float(item)
        if number is None and item is not None:
            skipped.append(index)
        numbers.append(number)
    if skipped and numbers.count(None) == len(numbers):
        return None
    return numbers, skipped


def record_series(record: dict) -> tuple[dict[str, list[float | None]], list[Skipped]]:
    """Every per-epoch series of a record, named by metric, and the elements skipped."""
    lists = [(key, singular(key), value) for key, value in record.items()
             if key not in NOT_SERIES and key not in PARAM_KEYS]  # fmt: skip
    history = record.get("history")
    if isinstance(history, dict):
        lists.extend((f"history.{key}", str(key), value) for key, value in history.items())
    series: dict[str, list[float | None]] = {}
    skipped: list[Skipped] = []
    for label, name, value in lists:
        found = number_list(value)
        if found is not None:
            series[name] = found[0]
            skipped.extend((label, index, value[index]) for index in found[1])
    return series, skipped


def new_points(
    run_id: str, series: dict[str, list[float | None]], state: RunState, end_time: float | None,
    mtime: float,
) -> MetricBatch | None:  # fmt: skip
    """A batch of the epochs of ``series`` not emitted yet for this run, or None."""
    metrics: dict[str, Series] = {}
    longest = state.epochs
    for name, numbers in series.items():
        done = state.points.get(name, 0)
        if len(numbers) <= done:
            continue
        steps, values = array("d"), array("d")
        for position in range(done, len(numbers)):
            number = numbers[position]
            if number is not None:
                steps.append(position + 1)
                values.append(number)
        state.points[name] = len(numbers)
        longest = max(longest, len(numbers))
        metrics[name] = Series(steps, values)
    if not metrics:
        return None
    epoch_steps = array("d", range(state.epochs + 1, longest + 1))
    records = longest - state.epochs
    state.epochs = longest
    times = array("d", [end_time]) if end_time is not None else array("d")
    epochs = Series(epoch_steps, array("d", epoch_steps)) if records else None
    return MetricBatch(run_id, metrics, records, times, mtime, epochs)


def new_summary(record: dict, state: RunState) -> dict[str, float]:
    """Numeric scalar fields whose value differs from what was last emitted."""
    changed: dict[str, float] = {}
    for key, value in record.items():
        if key in NOT_SUMMARY or isinstance(value, (list, dict)):
            continue
        number = to_float(value)
        if number is None:
            continue
        if key not in state.summary or not values_equal(state.summary[key], number):
            changed[key] = number
    state.summary.update(changed)
    return changed


def end_event(run_id: str, record: dict, end_time: float | None) -> RunEnded | None:
    """How the record says the experiment ended, or None while it is still going."""
    error = next((str(record[k]) for k in ERROR_KEYS if record.get(k)), None)
    exit_code = record.get("exit_code")
    if not isinstance(exit_code, int) or isinstance(exit_code, bool):
        exit_code = None
    success = success_flag(record.get("success"))
    if success is True:
        return RunEnded(run_id, "finished", None, exit_code, end_time)
    if success is False:
        return RunEnded(run_id, None, error or "success: false", exit_code, end_time)
    status = record.get("status")
    word = status.strip().lower() if isinstance(status, str) else ""
    if word in FINISHED_WORDS:
        return RunEnded(run_id, "finished", error, exit_code, end_time)
    if word in CRASHED_WORDS:
        return RunEnded(run_id, "crashed", error, exit_code, end_time)
    if word in KILLED_WORDS:
        return RunEnded(run_id, "killed", error, exit_code, end_time)
    return None


def success_flag(value: Any) -> bool | None:
    """``success`` as a boolean: ``true``/``false``, 1/0, or a string spelling one
    (``"False"``, ``"no"``, ``"1"``...); None for anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        return SUCCESS_WORDS.get(value.strip().lower())
    return None


def match(directory: Path, subdirs: list[str], files: list[str], ctx: ScanContext) -> Match | None:
    """A reader for every unclaimed ``*.json`` file that is not a run-directory file."""
    names = [n for n in files if n.endswith(".json") and n not in RUN_DIR_JSON_NAMES]
    if not names:
        return None
    shared = ctx.shared.setdefault((NAME, str(directory)), {})
    readers: list[Reader] = [
        ResultsArrayReader(ctx.root, directory / name, ctx.settings, shared) for name in names
    ]
    return Match(readers=readers, claimed=set(names))


SOURCE = SourceSpec(
    NAME,
    "JSON files holding an array of per-experiment records (rewritten after each experiment)",
    match,
)

__all__ = ["SOURCE", "ResultsArrayReader", "find_records", "singular"]
