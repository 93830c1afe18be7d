"""The run-directory layout: one directory per run with config, metric logs and markers.

A run directory holds append-only metric logs (``*.jsonl``, ``metrics.csv``) that are
tailed with :class:`~sweeptui.sources.tail.FileTail`, config files merged into the
run's params, summary files, end markers (``status.json``, ``DONE``, ``exit_code``)
and error text (``error.txt``, ``*.err``, ``stderr*``, ``*.log``). Metric records are
gathered into plain per-metric lists and turned into one ``MetricBatch`` per read:
this is the hot path for logs of millions of records.
"""

from __future__ import annotations

import csv
import json
import os
import re
import struct
import time
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from sweeptui.events import (
    Event,
    FileReset,
    RunEnded,
    RunSeen,
    SourceWarning,
    SummarySeen,
)
from sweeptui.failures import classify_failure, early_stop, has_traceback
from sweeptui.settings import Settings
from sweeptui.sources.base import Match, Reader, ScanContext, SourceSpec, parts_below
from sweeptui.sources.columns import (
    MIN_SPAN,
    TIME_KEYS,
    Columns,
    add_leading_lines,
    add_record,
    add_uniform,
    record_time,
    segments,
)
from sweeptui.sources.files import UNBOUNDED, Boundary
from sweeptui.sources.jsonio import (
    parse_block,
    parse_json,
    parse_json_fallback,
    parse_time,
    to_float,
    values_equal,
)
from sweeptui.sources.slurmlogs import is_slurm_log, job_logs_for
from sweeptui.sources.tail import FileTail, LineBlock, TailRead, reset_note
from sweeptui.sources.yamlio import load_yaml, tags_note

NAME = "run-dir"

CONFIG_NAMES = (
    "config.json", "config.yaml", "config.yml", "params.json", "params.yaml", "hparams.yaml",
    "hparams.json", "args.json",
)  # fmt: skip
SUMMARY_NAMES = ("summary.json", "final.json")
STATUS_NAME = "status.json"
MARKER_NAMES = ("DONE", "_SUCCESS", "COMPLETED")
EXIT_NAMES = ("exit_code", "exitcode")
OWN_JSON = frozenset((*CONFIG_NAMES, *SUMMARY_NAMES, STATUS_NAME))
WATCHED_NAMES = frozenset((*OWN_JSON, *MARKER_NAMES, *EXIT_NAMES))
"""Small files re-read whole when they change."""

END_WORDS = {
    "finished": "finished", "completed": "finished", "done": "finished", "success": "finished",
    "crashed": "crashed", "failed": "crashed", "error": "crashed",
    "killed": "killed", "terminated": "killed",
}  # fmt: skip
KILL_LINE = re.compile(r"\bKilled\b|\bSIGKILL\b|\bSIGTERM\b|^Terminated\b|\bKeyboardInterrupt\b", re.M)
READ_BYTES = 16 * 1024 * 1024
"""Bytes of a log turned into columns per pass, so raw text never piles up."""
SPILL_RECORDS = 1 << 17
"""Records gathered from a read's logs before they go out as a batch of their own: the
store and the detectors take a log of millions of lines part by part, so what is held
besides the store stays bounded (the detectors judge the same whatever the batching)."""
MAX_LINE_WARNINGS = 20
"""Bad-line warnings per log file before the rest are only counted."""
QUIET_SECONDS = 5.0
"""A log untouched this long is done with its last line, newline or not."""


def is_metric_log(name: str) -> bool:
    """``*.jsonl`` files and ``metrics.csv``."""
    return name.endswith(".jsonl") or name == "metrics.csv"


def is_error_file(name: str) -> bool:
    """Files whose tail may hold a traceback or a kill message (a Slurm job log included)."""
    return (
        name == "error.txt"
        or name.endswith((".err", ".log"))
        or name.startswith("stderr")
        or is_slurm_log(name)
    )


def _parse_array(elements: memoryview) -> list | None:
    """``elements`` (JSON values separated by commas) as a list; None when it does not parse.

    orjson first; the standard library for what only it reads (bare ``NaN`` and
    ``Infinity``, integers beyond 64 bits), on strict UTF-8 text so that a line with
    bad bytes is left to the line-by-line path, which warns about it.
    """
    text = b"".join((b"[", elements, b"]"))
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(text.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None


def _follows(name: str) -> bool:
    """Whether the run-directory reader follows a file called ``name``."""
    return is_metric_log(name) or is_error_file(name) or name in WATCHED_NAMES


def _end_from(record: dict, run_id: str, time: float | None) -> RunEnded | None:
    word = record.get("status", record.get("event"))
    status = END_WORDS.get(word.strip().lower()) if isinstance(word, str) else None
    if status is None:
        return None
    error = record.get("error")
    return RunEnded(run_id, status, str(error) if error else None, _exit_code(record), time)


def _exit_code(record: dict) -> int | None:
    code = record.get("exit_code")
    if isinstance(code, int) and not isinstance(code, bool):
        return code
    if isinstance(code, str):
        try:
            return int(code.strip())
        except ValueError:
            return None
    return None


# -- metric logs ---------------------------------------------------------------------------
class MetricLog:
    """One tailed metric log; subclasses turn its lines into columns.

    Its points go out in batches of their own, stamped with the log as their origin
    (:meth:`columns`): when the file is replaced or truncated, a
    :class:`~sweeptui.events.FileReset` takes back everything it gave the run and
    the file is read again from its start, so the run holds what the file holds now
    (as a report read afterwards would), each complete record once.
    """

    __slots__ = ("bad_lines", "consumed", "origin", "path", "run_id", "tail")

    def __init__(
        self, path: Path, settings: Settings, run_id: str, boundary: Boundary = UNBOUNDED
    ) -> None:
        self.path = path
        self.run_id = run_id
        self.tail = FileTail(path, settings, boundary=boundary)
        self.origin = self.tail.file  # the same string: one per log at 20,000 runs
        self.consumed = 0
        """Records of the current content read so far (a record's position, its step
        when it has none)."""
        self.bad_lines = 0

    def columns(self) -> Columns:
        """Empty columns for this log's points, stamped with its origin."""
        return Columns(self.origin)

    def read(self, columns: Columns, events: list[Event], ends: list[RunEnded]) -> None:
        """Add every new complete record to ``columns``; warnings go to ``events``."""
        for _ in self.passes(columns, events, ends):
            pass

    def passes(self, columns: Columns, events: list[Event], ends: list[RunEnded]) -> Iterator[None]:
        """:meth:`read`, pausing after each pass of at most :data:`READ_BYTES` bytes so the
        caller may hand over what ``columns`` holds (see :meth:`Columns.take`).

        ``columns`` hold this log's points only (see :meth:`columns`).
        """
        more = True
        while more:
            chunk = self.tail.read_lines(READ_BYTES)
            more = chunk.more
            for message in chunk.warnings:
                self.warn(events, message)
            if chunk.reset is not None:
                self._start_over(chunk.reset, columns, events, ends)
            if chunk.lines or chunk.blocks:
                columns.mtime = chunk.mtime
                self.ingest(chunk, columns, events, ends)
            yield

    def warn(self, events: list[Event], message: str) -> None:
        """A warning about this file."""
        events.append(SourceWarning(str(self.path), message))

    def bad_line(self, events: list[Event], chunk: TailRead, index: int, why: str) -> None:
        """Warn about one unreadable line (the first few per file; then only count)."""
        self.bad_lines += 1
        if self.bad_lines <= MAX_LINE_WARNINGS:
            self.warn(events, f"line {chunk.line_number(index)}: {why}; skipped")
        if self.bad_lines == MAX_LINE_WARNINGS:
            self.warn(events, "further bad lines in this file are skipped without a warning")

    def _start_over(
        self, kind: str, columns: Columns, events: list[Event], ends: list[RunEnded]
    ) -> None:
        """The file was replaced or truncated: withdraw its points, read it from its start."""
        columns.discard()  # points of the old content not handed over yet
        ends[:] = [ended for ended in ends if ended.origin != self.origin]  # nor its ends
        self.consumed = 0
        self.on_reset()
        events.append(FileReset(self.run_id, self.origin, kind))
        self.warn(events, reset_note(kind))

    def on_reset(self) -> None:
        """Forget per-content state after truncation or replacement."""

    def finish(self, columns: Columns, events: list[Event], ends: list[RunEnded]) -> None:
        """Read a complete last record that has no newline (the writer is done with the file)."""

    def ingest(
        self, chunk: TailRead, columns: Columns, events: list[Event], ends: list[RunEnded]
    ) -> None:
        """Turn ``chunk.lines`` into columns."""
        raise NotImplementedError


_BLANK: Any = object()


class JsonlLog(MetricLog):
    """A JSON-lines log: one object per line."""

    __slots__ = ()

    def __init__(
        self, path: Path, settings: Settings, run_id: str, boundary: Boundary = UNBOUNDED
    ) -> None:
        super().__init__(path, settings, run_id, boundary)
        self.tail.split = False  # lines come as blocks of bytes, parsed a block at a time

    def ingest(
        self, chunk: TailRead, columns: Columns, events: list[Event], ends: list[RunEnded]
    ) -> None:
        """Parse each block of lines and add their fields as metric points.

        The leading lines a training loop writes (one key set, plain numbers) go
        straight from their bytes to columns (:func:`add_leading_lines`). The rest of
        a block is parsed by one orjson call as a JSON array (its newlines turned into
        commas), which costs no bytes object and no call per line. A span orjson
        rejects is tried with the standard library (bare ``NaN`` tokens), then halved
        until its halves parse; spans of a few lines go line by line, so every line
        gets exactly the fate it would get alone.
        """
        index = 0
        for block in chunk.blocks:
            taken, size = add_leading_lines(block.data, self.consumed, columns)
            self.consumed += taken
            if taken < block.lines:
                rest = LineBlock(block.data[size:], block.lines - taken) if taken else block
                records = self._parse_block(rest, index + taken, chunk, events)
                self._add(records, index + taken, chunk, columns, events, ends)
            index += block.lines

    def _parse_block(
        self, block: LineBlock, first: int, chunk: TailRead, events: list[Event]
    ) -> list:
        """Parsed records of the block's lines (line ``first`` on), index for index."""

        def whole(elements: memoryview, _first: int, lines: int) -> list | None:
            parsed = _parse_array(elements)
            return parsed if parsed is not None and len(parsed) == lines else None

        def alone(data: bytes, first: int) -> list:
            return self._parse_lines(data, first, chunk, events)

        return parse_block(block.data, block.lines, first, whole, alone)

    def _parse_lines(self, data: bytes, first: int, chunk: TailRead, events: list[Event]) -> list:
        """The exact path: each line of ``data`` on its own, index for index."""
        lines = data.split(b"\n")[:-1]
        pending = iter(lines)
        records: list = []
        loads, decode_error = orjson.loads, orjson.JSONDecodeError
        while True:
            try:
                records.extend(map(loads, pending))  # keeps what parsed before a failure
                return records
            except decode_error:
                index = len(records)
                records.append(self._slow_parse(lines[index], chunk, first + index, events))

    def _add(
        self,
        records: list,
        start: int,
        chunk: TailRead,
        columns: Columns,
        events: list[Event],
        ends: list[RunEnded],
    ) -> None:
        """Add one slice of parsed records: in bulk where they allow it, else one by one."""
        # a read of a few lines (the live case) is cheaper record by record
        if len(records) < MIN_SPAN:  # too few for a uniform span: no segments
            for index in range(len(records)):
                self._add_one(records[index], start + index, chunk, columns, events, ends)
            return
        if add_uniform(records, self.consumed, columns):
            self.consumed += len(records)  # the usual case: one key set, plain numbers
            return
        for low, high, uniform in segments(records, 0):
            if uniform and add_uniform(records[low:high], self.consumed, columns):
                self.consumed += high - low
                continue
            for index in range(low, high):
                self._add_one(records[index], start + index, chunk, columns, events, ends)

    def _add_one(
        self,
        record: Any,
        index: int,
        chunk: TailRead,
        columns: Columns,
        events: list[Event],
        ends: list[RunEnded],
    ) -> None:
        """The exact per-record path: bad lines, end markers, odd values."""
        if record is _BLANK:
            return
        self.consumed += 1
        if type(record) is not dict:
            if not isinstance(record, tuple):  # tuples mark lines already warned about
                self.bad_line(events, chunk, index, "not a JSON object")
            return
        add_record(record, self.consumed - 1, columns)
        if "status" in record or "event" in record:
            self._maybe_end(record, ends)

    def finish(self, columns: Columns, events: list[Event], ends: list[RunEnded]) -> None:
        """Read the unterminated last line once, when it is a complete JSON object.

        The tail then skips that line when its newline comes after all.
        """
        data = self.tail.pending
        if not data.strip():
            return
        try:
            record = orjson.loads(data)
        except orjson.JSONDecodeError:
            try:
                record, _ = parse_json_fallback(data)
            except ValueError:
                return  # incomplete: still being written, or bad (said when its newline comes)
        if type(record) is not dict or not self.tail.take_pending():
            return
        chunk = TailRead(first_line=self.tail.lines_done + 1)
        self._add_one(record, 0, chunk, columns, events, ends)

    def _slow_parse(self, line: bytes, chunk: TailRead, index: int, events: list[Event]) -> Any:
        """A line orjson rejected: blank, bad, or JSON only the standard library reads."""
        if not line.strip():
            return _BLANK
        try:
            record, replaced = parse_json_fallback(line)
        except ValueError:
            self.bad_line(events, chunk, index, "not valid JSON")
            return ("bad line", line)
        if replaced:
            self.warn(events, f"line {chunk.line_number(index)}: invalid UTF-8 bytes replaced")
        return record

    def _maybe_end(self, record: dict, ends: list[RunEnded]) -> None:
        ended = _end_from(record, self.run_id, record_time(record))
        if ended is not None:
            ended.origin = self.origin  # withdrawn if the log is reset
            ends.append(ended)


class CsvLog(MetricLog):
    """A CSV log: a header row, then one row per record (empty cell = missing)."""

    __slots__ = ("header", "metric_columns", "roles")

    def __init__(
        self, path: Path, settings: Settings, run_id: str, boundary: Boundary = UNBOUNDED
    ) -> None:
        super().__init__(path, settings, run_id, boundary)
        self.header: list[str] | None = None
        self.roles: dict[str, int] = {}
        self.metric_columns: list[tuple[int, str]] = []

    def on_reset(self) -> None:
        """A rewritten CSV starts with a (possibly different) header."""
        self.header = None

    def ingest(
        self, chunk: TailRead, columns: Columns, events: list[Event], ends: list[RunEnded]
    ) -> None:
        """Split each row and add its numeric cells as points at its step."""
        for index, line in enumerate(chunk.lines):
            cells = self._cells(line, chunk, index, events)
            if cells is None:
                continue
            if self.header is None:
                self._set_header(cells)
                continue
            self.consumed += 1
            self._add_row(cells, self.consumed - 1, columns, ends)

    def _cells(self, line: bytes, chunk: TailRead, index: int, events: list[Event]) -> list | None:
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            text = line.decode("utf-8", errors="replace")
            self.warn(events, f"line {chunk.line_number(index)}: invalid UTF-8 bytes replaced")
        text = text.rstrip("\r")
        if not text.strip():
            return None
        if '"' not in text:
            return text.split(",")
        return next(csv.reader([text]), None)

    def _set_header(self, cells: list[str]) -> None:
        self.header = [cell.strip() for cell in cells]
        self.roles = {}
        self.metric_columns = []
        for position, name in enumerate(self.header):
            if name in ("step", "epoch", "status", "event", "error", "exit_code"):
                self.roles.setdefault(name, position)
            elif name in TIME_KEYS:
                self.roles.setdefault("time", position)
            elif name:
                self.metric_columns.append((position, name))

    def _cell(self, cells: list[str], role: str) -> str | None:
        position = self.roles.get(role)
        if position is None or position >= len(cells) or cells[position] == "":
            return None
        return cells[position]

    def _add_row(
        self, cells: list[str], position: int, columns: Columns, ends: list[RunEnded]
    ) -> None:
        epoch_cell = self._cell(cells, "epoch")
        epoch = to_float(epoch_cell.strip()) if epoch_cell is not None else None
        step_cell = self._cell(cells, "step")
        step = to_float(step_cell.strip()) if step_cell is not None else epoch
        if step is None or step != step:
            step = float(position)
        if epoch is not None:
            columns.epoch_steps.append(step)
            columns.epoch_values.append(epoch)
        time_cell = self._cell(cells, "time")
        stamp = parse_time(time_cell.strip()) if time_cell is not None else None
        if stamp is not None:
            columns.times.append(stamp)
        width = len(cells)
        metrics = columns.metrics
        points = 0
        for index, name in self.metric_columns:
            if index >= width or not (cell := cells[index]):
                continue
            try:
                value = float(cell)
            except ValueError:
                continue
            column = metrics.get(name)
            if column is None:
                column = metrics[name] = ([], [])
            column[0].append(step)
            column[1].append(value)
            points += 1
        marker = self._cell(cells, "status") or self._cell(cells, "event")
        if points or marker is None:
            columns.records += 1  # an end-marker row alone is not a metric record
        if marker is not None:
            self._maybe_end(cells, stamp, ends)

    def _maybe_end(self, cells: list[str], stamp: float | None, ends: list[RunEnded]) -> None:
        record = {role: self._cell(cells, role) for role in ("status", "event", "error")}
        record["exit_code"] = self._cell(cells, "exit_code")
        record = {key: value for key, value in record.items() if value is not None}
        ended = _end_from(record, self.run_id, stamp)
        if ended is not None:
            ended.origin = self.origin  # withdrawn if the log is reset
            ends.append(ended)


# -- files read whole when they change ---------------------------------------------------------
class Watched:
    """A small file re-read when its (size, mtime, inode) changes: one stat when idle.

    It is read through its :class:`~sweeptui.sources.files.Boundary`; why the last
    read failed (refused, unreadable) is kept in :attr:`problem`.
    """

    __slots__ = ("boundary", "path", "problem", "seen", "signature")

    def __init__(self, path: Path, boundary: Boundary = UNBOUNDED) -> None:
        self.path = path
        self.boundary = boundary
        self.signature: bytes | tuple[int, int, int] | None = None
        self.seen: bytes | tuple[int, int, int] | None = None
        """The version :meth:`changed` saw last, before the read it leads to."""
        self.problem: str | None = None

    def changed(self) -> bool:
        """True when the file exists and differs from the last :meth:`accept`-ed version."""
        try:
            info = os.stat(self.path)
        except OSError:
            self.signature = self.seen = None  # re-read it if it comes back
            return False
        self.seen = _signature(info)
        return self.seen != self.signature

    def accept(self) -> None:
        """Remember the version :meth:`changed` saw as read.

        That version, taken before the read: a file rewritten during the read then
        differs from it and is read again, where a stat after the read would take the
        new version for read (a status file rewritten in that moment never read again).
        """
        if self.seen is None:  # no changed() before: the version now
            try:
                self.seen = _signature(os.stat(self.path))
            except OSError:
                return
        self.signature, self.seen = self.seen, None

    def read_bytes(self, limit: int | None = None) -> bytes | None:
        """The content (or its last ``limit`` bytes); None when unreadable or refused."""
        try:
            if limit is None:
                data = self.boundary.read(self.path)
            else:
                data = self.boundary.read_tail(self.path, limit)
        except OSError as exc:
            self.problem = exc.strerror or str(exc)
            return None
        self.problem = None
        return data


_SIGNATURE = struct.Struct("<qqQ")


def _signature(info: os.stat_result) -> bytes | tuple[int, int, int]:
    """(size, mtime in ns, inode), packed in 24 bytes: two such files per run directory,
    and a tuple of three integers costs ~150 bytes at 20,000 runs. A value out of range
    for the packing (never seen) keeps the tuple."""
    try:
        return _SIGNATURE.pack(info.st_size, info.st_mtime_ns, info.st_ino)
    except struct.error:
        return (info.st_size, info.st_mtime_ns, info.st_ino)


def parse_mapping(path: Path, data: bytes, tags: list[str] | None = None) -> dict | None:
    """A JSON or YAML file's top-level mapping; None when it is not one or does not parse.

    YAML Python-object tags are read as plain values (:mod:`sweeptui.sources.yamlio`);
    the tags met are added to ``tags`` when given.
    """
    try:
        if path.suffix in (".yaml", ".yml"):
            value, found = load_yaml(data.decode("utf-8", errors="replace"))
            if tags is not None:
                tags.extend(found)
        else:
            value, _ = parse_json(data)
    except ValueError:  # not JSON, or not YAML (YamlError)
        return None
    return value if isinstance(value, dict) else None


class ErrorText:
    """An error or output log: its tail is read when it changes and judged once per verdict.

    Only the last ``tail_bytes`` are read, whatever the file's size.
    """

    __slots__ = ("_reported", "file", "strict", "verdict")

    def __init__(self, path: Path, boundary: Boundary = UNBOUNDED) -> None:
        self.file = Watched(path, boundary)
        # any text in error.txt or *.err is an error; a Slurm job's stderr holds warnings too
        self.strict = path.name == "error.txt" or (
            path.name.endswith(".err") and not is_slurm_log(path.name)
        )
        self.verdict: str | None = None
        self._reported: str | None = None

    def check(
        self, run_id: str, tail_bytes: int, warnings: list[Event] | None = None
    ) -> RunEnded | None:
        """A RunEnded with the tail when it newly shows an error; None otherwise.

        A log that cannot be read is a warning (into ``warnings``); an error file
        (``error.txt``, ``*.err``) with content that cannot be read is still taken
        as the crash it announces.
        """
        if not self.file.changed():
            return None
        data = self.file.read_bytes(tail_bytes)
        self.file.accept()
        if data is None:
            return self._unreadable(run_id, warnings)
        self._reported = None
        text = data.decode("utf-8", errors="replace").strip()
        if not text:
            return None
        failing = has_traceback(text) or KILL_LINE.search(text)
        stopper = None if failing else early_stop(text)
        if stopper is not None:
            return self._stopped_early(run_id, stopper)
        if not (self.strict or failing):
            return None
        verdict = classify_failure(text).reason
        if verdict == self.verdict:  # a growing log with the same failure: said already
            return None
        self.verdict = verdict
        return RunEnded(run_id, None, error=text, evidence=self.file.path.name)

    def _stopped_early(self, run_id: str, stopper: str) -> RunEnded | None:
        """The run ended on purpose: its early-stopping callback said so (once)."""
        if self.verdict == stopper:
            return None
        self.verdict = stopper
        evidence = f"{stopper} in {self.file.path.name}"
        return RunEnded(run_id, "finished", stopped_early=True, evidence=evidence)

    def _unreadable(self, run_id: str, warnings: list[Event] | None) -> RunEnded | None:
        problem = self.file.problem or "unreadable"
        if problem == self._reported:
            return None
        self._reported = problem
        if warnings is not None:
            warnings.append(SourceWarning(str(self.file.path), f"error log not read: {problem}"))
        try:
            size = os.stat(self.file.path).st_size
        except OSError:
            return None
        if not self.strict or size == 0 or self.file.boundary.outside(self.file.path):
            return None  # a refused link or an empty file announces nothing
        if problem.startswith("not a regular file"):
            return None
        return RunEnded(run_id, "crashed", error=f"{self.file.path.name} could not be read ({problem})")


# -- the reader ----------------------------------------------------------------------------------
class RunDirReader(Reader):
    """Reads one run directory: params, metric logs, summary, end markers, error text."""

    source = NAME
    reads_alone = True

    def __init__(self, root: Path, base: Path, settings: Settings) -> None:
        super().__init__(root, base, settings)
        self.run_id = self.relpath()
        self.logs: dict[str, MetricLog] = {}
        self.errors: dict[str, ErrorText] = {}
        self.files: dict[str, Watched] = {}
        self.params: dict | None = None
        self.config_parts: dict[str, dict] = {}
        self.summary: dict[str, float] = {}
        self.seen = False
        self.marker_done = False
        self.ended = False
        self._warned: set[str] | None = None
        """Warnings given once (made on the first: an empty set costs 200 bytes a run)."""

    def size_hint(self) -> int | None:
        """The bytes of the directory's metric logs (None when it cannot be listed)."""
        try:
            with os.scandir(self.base) as entries:
                return sum(entry.stat().st_size for entry in entries
                           if is_metric_log(entry.name) and entry.is_file())  # fmt: skip
        except OSError:
            return None

    def read(self, changed: Collection[Path | str] | None = None) -> list[Event]:
        """Events for everything new in the directory since the previous read.

        With ``changed`` naming only files already followed, just those are read: no
        listing, no stat of the others. A new file to follow, the directory itself or
        a path outside it makes it a full read; a path the reader never reads (a
        checkpoint, anything inside a subdirectory) adds nothing.
        """
        return self._read_names(self._hinted_names(changed))

    def read_parts(self, changed: Collection[Path | str] | None = None) -> Iterable[list[Event]]:
        """The events of :meth:`read` in parts: a large log's points go out every
        :data:`SPILL_RECORDS` records, each part applied before the next is read.

        A subclass that rewrites the events of a read as a whole reads in one part.
        """
        if type(self)._read_names is not RunDirReader._read_names:
            return (self.read(changed),)
        return self._parts(self._hinted_names(changed))

    def _hinted_names(self, changed: Collection[Path | str] | None) -> set[str] | None:
        """The followed files ``changed`` points at, or None when a full read is needed."""
        if changed is None or not self.seen:
            return None
        names: set[str] = set()
        for path in changed:
            parts = parts_below(self.base, path)
            if not parts:  # the directory itself, or not ours: look at everything
                return None
            name = parts[0]
            if len(parts) > 1 or name in names:
                continue
            if name in self.logs or name in self.errors or name in self.files:
                names.add(name)
            elif _follows(name):
                return None  # a new file to follow: the listing finds it
        return names

    def _read_names(self, names: set[str] | None) -> list[Event]:
        """Read the followed files in ``names`` (None: list the directory, read all)."""
        return [event for part in self._parts(names) for event in part]

    def _parts(self, names: set[str] | None) -> Iterator[list[Event]]:
        """The events of reading the files in ``names``, in parts (see :meth:`read_parts`)."""
        events: list[Event] = []
        if names is None:
            listing = self._list(events)
            if listing is None:
                yield events
                return
            self._track(listing)
        elif not names:
            return
        # a hint naming only a metric log (the live case) skips the small files outright
        small_files = names is None or not names.isdisjoint(self.files)
        if small_files:
            self._read_config(events, names)
        if names is None:
            self._track_job_logs()
        ends: list[RunEnded] = []
        for name, log in self.logs.items():
            if names is None or name in names:
                yield from self._read_log(log, events, ends)
        if small_files:
            self._read_summary(events, names)
        for name, error in self.errors.items():
            if names is None or name in names:
                ended = error.check(self.run_id, self.settings.error_tail_bytes, events)
                if ended is not None:
                    ends.append(ended)
        if small_files:
            self._read_markers(ends, events, names)
        self.ended = self.ended or bool(ends)
        self._finish_logs(events, ends, names)
        events.extend(ends)
        yield events

    def _read_log(self, log: MetricLog, events: list[Event], ends: list[RunEnded]) -> Iterator[list[Event]]:
        """Read one log into ``events``: its points as batches of their own (its origin),
        and ``events`` so far handed over as a part every :data:`SPILL_RECORDS` records."""
        columns = log.columns()
        for _ in log.passes(columns, events, ends):
            if columns.records >= SPILL_RECORDS:
                events.append(columns.take(self.run_id))
                part = events[:]
                events.clear()  # the same list: the log adds its warnings to it
                yield part
        batch = columns.build(self.run_id)
        if batch is not None:
            events.append(batch)

    def _finish_logs(self, events: list[Event], ends: list[RunEnded], names: set[str] | None) -> None:
        """Read complete unterminated last records of logs whose run ended or that are quiet."""
        for name, log in self.logs.items():
            wanted = names is None or name in names or self.ended
            if wanted and log.tail.has_pending and (self.ended or _quiet(log.path)):
                columns = log.columns()
                log.finish(columns, events, ends)
                batch = columns.build(self.run_id)
                if batch is not None:
                    events.append(batch)

    # -- listing ------------------------------------------------------------------------
    def _list(self, events: list[Event]) -> list[str] | None:
        try:
            names = os.listdir(self.base)
        except OSError as exc:
            self._warn_once(events, str(self.base), f"cannot list run directory: {exc.strerror}")
            return None
        if self._warned:  # listed again: a later failure is news
            listing = f"{self.base}:cannot list"
            self._warned = {key for key in self._warned if not key.startswith(listing)}
        return names

    def _track(self, names: list[str]) -> None:
        """Start following files that appeared since the last read."""
        for name in names:
            if name in self.logs or name in self.errors or name in self.files:
                continue
            path = self.base / name
            if name.endswith(".jsonl"):
                self.logs[name] = JsonlLog(path, self.settings, self.run_id, self.boundary)
            elif name == "metrics.csv":
                self.logs[name] = CsvLog(path, self.settings, self.run_id, self.boundary)
            elif is_error_file(name):
                self.errors[name] = ErrorText(path, self.boundary)
            elif name in WATCHED_NAMES:
                self.files[name] = Watched(path, self.boundary)

    def _track_job_logs(self) -> None:
        """Follow the Slurm logs beside the run folder that name its job (as ``../<name>``)."""
        for path in job_logs_for(self.base, self.params):
            key = f"../{path.name}"
            if key not in self.errors:
                self.errors[key] = ErrorText(path, self.boundary)

    def _warn_once(self, events: list[Event], path: str, message: str) -> None:
        key = f"{path}:{message}"
        if self._warned is None:
            self._warned = set()
        if key not in self._warned:
            self._warned.add(key)
            events.append(SourceWarning(path, message))

    # -- config, summary, markers ----------------------------------------------------------
    def _changed_mappings(
        self, names: tuple[str, ...], label: str, events: list[Event]
    ) -> Iterator[tuple[str, dict]]:
        """(name, mapping) for each of ``names`` that changed and parses as a mapping.

        A file that does not parse keeps its last good version (it is not accepted, so
        it is retried when it changes again) and warns once.
        """
        for name in names:
            watched = self.files.get(name)
            if watched is None or not watched.changed():
                continue
            data = watched.read_bytes()
            if data is None:
                if watched.problem:
                    self._warn_once(events, str(watched.path), f"{label} not read: {watched.problem}")
                continue
            tags: list[str] = []
            parsed = parse_mapping(watched.path, data, tags)
            if parsed is None:
                self._warn_once(events, str(watched.path), f"{label} is not a readable mapping")
                continue
            if tags:
                self.note_once(events, "python-tags", SourceWarning(str(watched.path), tags_note(tags)))
            watched.accept()
            yield name, parsed

    def _read_config(self, events: list[Event], names: set[str] | None) -> None:
        changed = False
        candidates = _chosen(CONFIG_NAMES, names)
        for name, parsed in self._changed_mappings(candidates, "config", events):
            self.config_parts[name] = parsed
            changed = True
        if self.seen and not changed:
            return
        params: dict | None = None
        if len(self.config_parts) == 1:  # the usual case: that file's mapping, not a copy
            [params] = self.config_parts.values()
        elif self.config_parts:
            params = {}
            for name in CONFIG_NAMES:
                params.update(self.config_parts.get(name, {}))
        if self.seen and values_equal(params, self.params):
            return
        self.seen, self.params = True, params
        events.append(RunSeen(self.run_id, self.base.name, self.run_id, NAME, params,
                              self._config_time()))

    def _config_time(self) -> float | None:
        """When the config was written, for a run with no metric log (yet): the only time
        a run that dies during start-up leaves to judge its silence by."""
        if self.logs:
            return None
        for name in CONFIG_NAMES:
            watched = self.files.get(name)
            if watched is not None:
                try:
                    return os.stat(watched.path).st_mtime
                except OSError:
                    continue
        return None

    def _read_summary(self, events: list[Event], names: set[str] | None) -> None:
        changed: dict[str, float] = {}
        candidates = _chosen(SUMMARY_NAMES, names)
        for _, parsed in self._changed_mappings(candidates, "summary", events):
            for key, value in parsed.items():
                number = to_float(value) if not isinstance(value, (list, dict)) else None
                if number is not None and not values_equal(self.summary.get(key), number):
                    changed[key] = number
        if changed:
            self.summary.update(changed)
            events.append(SummarySeen(self.run_id, changed))

    def _read_markers(
        self, ends: list[RunEnded], events: list[Event], names: set[str] | None
    ) -> None:
        status = self.files.get(STATUS_NAME) if names is None or STATUS_NAME in names else None
        if status is not None and status.changed():
            self._read_status(status, ends, events)
        for name in _chosen(MARKER_NAMES, names):
            if name in self.files and not self.marker_done and self.files[name].changed():
                self.files[name].accept()
                self.marker_done = True
                ends.append(RunEnded(self.run_id, "finished", evidence=f"{name} file"))
        for name in _chosen(EXIT_NAMES, names):
            watched = self.files.get(name)
            if watched is not None and watched.changed():
                self._read_exit_code(watched, ends, events)

    def _read_status(self, watched: Watched, ends: list[RunEnded], events: list[Event]) -> None:
        data = watched.read_bytes()
        if data is None and watched.problem:
            self._warn_once(events, str(watched.path), f"status file not read: {watched.problem}")
        parsed = parse_mapping(watched.path, data) if data else None
        if parsed is None:
            if data:
                self._warn_once(events, str(watched.path), "status file is not a JSON object")
            return  # empty or half-written: retried on the next read
        watched.accept()
        ended = _end_from(parsed, self.run_id, parse_time(parsed.get("time")))
        if ended is not None:
            ends.append(ended)

    def _read_exit_code(self, watched: Watched, ends: list[RunEnded], events: list[Event]) -> None:
        data = watched.read_bytes()
        if data is None and watched.problem:
            self._warn_once(events, str(watched.path), f"exit code file not read: {watched.problem}")
        text = data.decode("utf-8", errors="replace").strip() if data else ""
        if not text:
            return  # not written yet
        watched.accept()
        try:
            code = int(text.split()[0])
        except ValueError:
            self._warn_once(events, str(watched.path), "exit code file holds no integer")
            return
        said = f"{watched.path.name} file"
        if code == 0:
            ends.append(RunEnded(self.run_id, "finished", exit_code=0, evidence=said))
        else:
            ends.append(RunEnded(self.run_id, None, exit_code=code, evidence=said))


def _quiet(path: Path) -> bool:
    """Whether ``path`` was last written :data:`QUIET_SECONDS` ago or more."""
    try:
        return time.time() - os.stat(path).st_mtime >= QUIET_SECONDS
    except OSError:
        return False


def _chosen(candidates: tuple[str, ...], names: set[str] | None) -> tuple[str, ...]:
    """``candidates`` in their order, only those in ``names`` (all of them for None)."""
    if names is None:
        return candidates
    return tuple(name for name in candidates if name in names)


# -- the matcher -------------------------------------------------------------------------------
SWEEP_FOLDERS = frozenset({"multirun", "outputs", "lightning_logs", "wandb", "mlruns", "ray_results"})
"""Folders sweep tools fill with runs: a config beside one is a project's, not a run's."""


def _holds_run_files(directory: Path) -> bool:
    if directory.name in SWEEP_FOLDERS:
        return True
    try:
        names = os.listdir(directory)
    except OSError:
        return False
    return any(is_metric_log(name) or name in CONFIG_NAMES for name in names)


def is_run_dir(directory: Path, subdirs: list[str], files: list[str]) -> bool:
    """A metric log, or a config with no run-like subdirectory (nor a folder sweep tools
    fill, such as ``multirun/`` or ``lightning_logs/``) and no results-array file."""
    if any(is_metric_log(name) for name in files):
        return True
    if not any(name in CONFIG_NAMES for name in files):
        return False
    if any(name.endswith(".json") and name not in OWN_JSON for name in files):
        return False  # a sweep's own config beside its results-array files
    return not any(_holds_run_files(directory / sub) for sub in subdirs)


def match(directory: Path, subdirs: list[str], files: list[str], ctx: ScanContext) -> Match | None:
    """Claim the directory and its subtree when it is a run directory."""
    if not is_run_dir(directory, subdirs, files):
        return None
    reader = RunDirReader(ctx.root, directory, ctx.settings)
    return Match(readers=[reader], claimed=set(files), prune=True)


SOURCE = SourceSpec(
    NAME,
    "one directory per run: config file, metrics.jsonl / metrics.csv, end markers, error logs",
    match,
)

__all__ = ["SOURCE", "Columns", "CsvLog", "JsonlLog", "RunDirReader", "add_record", "is_run_dir"]
