"""Weights & Biases run directories: the binary transaction log and the ``files/`` layout.

Layout: ``wandb/run-<date>-<id>/`` (online) or ``wandb/offline-run-<date>-<id>/``.
Both hold ``run-<id>.wandb``, the run's transaction log, and ``files/output.log``
(the console). An online run's ``files/`` also holds ``config.yaml``
(``{key: {value: ...}}``), ``wandb-summary.json`` and ``wandb-metadata.json``.

The transaction log is read when present (it alone has the metric history, and for
offline runs config, summary and exit code live nowhere else); ``config.yaml``,
``wandb-summary.json`` and ``wandb-metadata.json`` are read when it is absent.

Transaction log framing (LevelDB log format with a file header)::

    header  := ":W&B" magic:uint16=0xBEE1 version:uint8=0        (7 bytes, file start)
    file    := 32 KiB blocks; a chunk never crosses a block; < 7 bytes left: zero trailer
    chunk   := crc:uint32 length:uint16 type:uint8 data[length]   (little-endian)
               crc = CRC-32 (zlib) of type byte + data
               type: 1 FULL, 2 FIRST, 3 MIDDLE, 4 LAST (a record split across blocks)

Each record is a ``wandb_internal.Record`` protobuf, decoded by hand
(:mod:`sweeptui.sources.protowire`)::

    Record        2 history, 3 summary, 4 output, 5 config, 13 output_raw, 17 run, 18 exit
    HistoryRecord 1 item (repeated), 2 step {1 num}
    *Item         1 key, 2 nested_key (repeated), 16 value_json,
                  or typed: 3 none, 4 boolean, 5 integer (sint64), 6 number, 7 text, 8 json
    Config/SummaryRecord 1 update (repeated item), 2 remove (repeated item)
    RunRecord     1 run_id, 4 config, 8 display_name, 17 start_time {1 seconds, 2 nanos}
    RunExitRecord 1 exit_code, 2 runtime
    Output(Raw)Record 1 output_type, 3 line

Run directories that share a W&B id are one run: ``wandb.init(id=..., resume=...)``
(an evaluation script resuming a training run, a restarted job) writes a new
directory per process. They are read as segments of that run in time order (the
directory names start with their date): one run id (the first directory's), the
first segment's config (what an evaluation adds describes it, not the run), and a
warning that names how many segments the run has. Two directories of one id with the same start
second are copies of one process's output (an offline run and its online layout),
read as they are.

An exit record ends the run (0: finished; otherwise the console tail is the error
text and the failure classifier decides). A log that stops without one (a killed
run, a truncated trailing block) is left to the stall/vanish detectors; what was
complete is ingested and a partial trailing chunk waits for more bytes.
"""

from __future__ import annotations

import math
import os
import re
import struct
import zlib
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
from sweeptui.sources import protowire as pw
from sweeptui.sources.base import Match, Reader, ScanContext, SourceSpec
from sweeptui.sources.columns import PointBatch
from sweeptui.sources.jsonio import parse_json, parse_time, to_float
from sweeptui.sources.run_dir import ErrorText, Watched, parse_mapping

NAME = "wandb"
RUN_DIR = re.compile(r"^(?:offline-)?run-(\d{8}_\d{6})-([A-Za-z0-9_-]+)$")
LOG_HEADER = b":W&B" + struct.pack("<HB", 0xBEE1, 0)
BLOCK_BYTES = 32768
CHUNK_HEADER = struct.Struct("<IHB")
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
READ_BYTES = 64 * 1024 * 1024
"""The log is read in pieces of at most this size (grown when one record is larger)."""
HIDDEN_KEYS = ("_step", "_runtime", "_timestamp", "_wandb")


# -- framing ---------------------------------------------------------------------------
@dataclass
class LogChunks:
    """Complete records cut from a piece of the log, and where reading resumes."""

    records: list[bytes] = field(default_factory=list)
    resume: int = 0
    """File offset of the first byte not yet part of a complete record."""
    errors: list[str] = field(default_factory=list)


def split_log(data: bytes, base: int) -> LogChunks:
    """Cut ``data`` (the log from file offset ``base``) into complete records.

    A chunk that is not fully written stops the cut; ``resume`` then points at the
    first chunk of the unfinished record so it is read again when the file grows.
    A corrupt chunk is reported and the rest of its block skipped (LevelDB's rule).
    """
    result = LogChunks(resume=base)
    pos = 0
    pending: list[bytes] | None = None
    if base == 0:
        if len(data) < len(LOG_HEADER):
            return result
        if data[: len(LOG_HEADER)] != LOG_HEADER:
            result.errors.append("not a W&B transaction log (bad header)")
            return result
        pos = result.resume = len(LOG_HEADER)
    while True:
        absolute = base + pos
        left = BLOCK_BYTES - absolute % BLOCK_BYTES
        if left < CHUNK_HEADER.size:
            pos += left  # block trailer
            continue
        if pos + CHUNK_HEADER.size > len(data):
            break
        checksum, length, kind = CHUNK_HEADER.unpack_from(data, pos)
        if checksum == 0 and length == 0 and kind == 0:
            break  # zero fill: nothing written here yet
        end = pos + CHUNK_HEADER.size + length
        if CHUNK_HEADER.size + length > left or kind not in (FULL, FIRST, MIDDLE, LAST):
            pos = _skip_block(result, base, pos, left, "malformed chunk header")
            pending = None
            continue
        if end > len(data):
            break  # the writer has not finished this chunk
        if zlib.crc32(data[pos + 6 : end]) != checksum:  # type byte + data
            pos = _skip_block(result, base, pos, left, "chunk checksum mismatch")
            pending = None
            continue
        chunk = data[pos + CHUNK_HEADER.size : end]
        pos = end
        if kind in (FULL, FIRST):
            if pending is not None:
                result.errors.append(f"unfinished record dropped before byte {absolute}")
            pending = [chunk]
        elif pending is None:
            result.errors.append(f"record continuation without a start at byte {absolute}")
            result.resume = base + pos
            continue
        else:
            pending.append(chunk)
        if kind in (FULL, LAST):
            result.records.append(b"".join(pending))
            pending = None
            result.resume = base + pos
    return result


def _skip_block(result: LogChunks, base: int, pos: int, left: int, why: str) -> int:
    result.errors.append(f"{why} at byte {base + pos}; rest of the 32 KiB block skipped")
    result.resume = base + pos + left
    return pos + left


# -- record decoding -------------------------------------------------------------------
def _item(raw: memoryview) -> tuple[list[str], Any]:
    """``(key path, value)`` of a History/Config/Summary item."""
    key = ""
    nested: list[str] = []
    value: Any = None
    for number, wire, data in pw.iter_fields(raw):
        if number == 1 and wire == pw.LEN:
            key = pw.text(data)
        elif number == 2 and wire == pw.LEN:
            nested.append(pw.text(data))
        elif number == 16 and wire == pw.LEN:
            value, _ = parse_json(bytes(data))
        elif number == 4 and wire == pw.VARINT:
            value = bool(data)
        elif number == 5 and wire == pw.VARINT:
            value = pw.to_sint(data)
        elif number == 6 and wire == pw.I64:
            value = pw.to_double(data)
        elif number == 7 and wire == pw.LEN:
            value = pw.text(data)
        elif number == 8 and wire == pw.LEN:
            value, _ = parse_json(bytes(data))
    return (nested or [key]), value


def _items(raw: memoryview, number_wanted: int) -> list[tuple[list[str], Any]]:
    return [_item(data) for number, wire, data in pw.iter_fields(raw)
            if number == number_wanted and wire == pw.LEN]


def _set_path(target: dict, path: list[str], value: Any) -> None:
    for part in path[:-1]:
        child = target.get(part)
        if not isinstance(child, dict):
            child = target[part] = {}
        target = child
    target[path[-1]] = value


def _remove_path(target: dict, path: list[str]) -> None:
    for part in path[:-1]:
        target = target.get(part)
        if not isinstance(target, dict):
            return
    target.pop(path[-1], None)


def numeric_leaves(value: Any, prefix: str, out: dict[str, float]) -> None:
    """Numeric leaves of a (nested) summary value as dotted names; bools and text skipped."""
    if isinstance(value, dict):
        for key, child in value.items():
            numeric_leaves(child, f"{prefix}.{key}" if prefix else str(key), out)
        return
    if isinstance(value, str):
        return
    number = to_float(value)
    if number is not None and prefix:
        out[prefix] = number


# -- per-read accumulation -------------------------------------------------------------------------
@dataclass
class _Batch(PointBatch):
    """What one read of a run collected, before it becomes events."""

    epochs: tuple[array, array] = field(default_factory=lambda: (array("d"), array("d")))
    params_changed: bool = False
    ended: RunEnded | None = None


class Segments:
    """The run directories of one W&B id, in time order: one run, several segments."""

    def __init__(self) -> None:
        self.run_id = ""
        """The run id every segment reports under: the first directory's."""
        self.members: list[WandbRunReader] = []
        self.warned = 1

    def join(self, reader: WandbRunReader) -> str:
        """Add a segment (readers are created in time order); returns the run id."""
        if not self.members:
            self.run_id = reader.relpath()
        self.members.append(reader)
        return self.run_id

    def params(self) -> dict[str, Any]:
        """The first segment's config: what later ones add (``eval_split``...) describes
        them, not the run's hyperparameters."""
        for member in self.members:
            if member.params:
                return dict(member.params)
        return {}

    def note(self, path: Path) -> SourceWarning | None:
        """A warning the first time the run is seen with more segments than before."""
        count = len(self.members)
        if count <= self.warned:
            return None
        self.warned = count
        return SourceWarning(str(path), f"{count} run directories share W&B id "
                             f"{self.members[0].wandb_id} (a resumed run): read as one run "
                             f"of {count} segments in time order")


class WandbRunReader(Reader):
    """Reads one W&B run directory: tails its transaction log, or its ``files/``."""

    source = NAME

    def __init__(
        self, root: Path, base: Path, settings: Settings, segments: Segments | None = None
    ) -> None:
        super().__init__(root, base, settings)
        self.segments = segments or Segments()
        self.run_id = self.segments.join(self)
        found = RUN_DIR.match(base.name)
        self.wandb_id = found.group(2) if found else base.name
        self.name = self.wandb_id
        self.params: dict[str, Any] = {}
        self.started_at: float | None = None
        self.offset = 0
        self.log_path: Path | None = None
        self.console: list[str] = []
        self._console_bytes = 0
        self.last_time: float | None = None
        self.exited = False
        self._seen = False
        self._broken = False
        files = base / "files"
        self.config_file = Watched(files / "config.yaml", self.boundary)
        self.summary_file = Watched(files / "wandb-summary.json", self.boundary)
        self.metadata_file = Watched(files / "wandb-metadata.json", self.boundary)
        self.output = ErrorText(files / "output.log", self.boundary)

    # -- reading ------------------------------------------------------------------------
    def read(self, changed: Collection[Path | str] | None = None) -> list[Event]:
        """New history, config, summary and end of the run since the last call.

        The transaction log is one file (and the ``files/`` layout a few stats): the
        ``changed`` hint narrows nothing.
        """
        warnings: list[Event] = []
        batch = _Batch()
        log = self._find_log()
        if log is not None:
            self._read_log(log, batch, warnings)
        else:
            self._read_files(batch, warnings)
        return self._events(batch, warnings)

    def _find_log(self) -> Path | None:
        if self.log_path is None:
            candidates = sorted(self.base.glob("*.wandb"))
            if candidates:
                self.log_path = candidates[0]
        return self.log_path

    def _read_log(self, path: Path, batch: _Batch, warnings: list[Event]) -> None:
        if self._broken:
            return
        try:
            size = path.stat().st_size
            if size < self.offset:
                warnings.append(SourceWarning(str(path), "transaction log shrank; not re-read"))
                self._broken = True
                return
            with self.boundary.open(path) as handle:
                self._read_pieces(handle, size, path, batch, warnings)
        except OSError as exc:
            warnings.append(SourceWarning(str(path), f"cannot read: {exc.strerror or exc}"))

    def _read_pieces(self, handle, size: int, path: Path, batch: _Batch,
                     warnings: list[Event]) -> None:
        want = READ_BYTES
        while self.offset < size:
            handle.seek(self.offset)
            data = handle.read(min(want, size - self.offset))
            cut = split_log(data, self.offset)
            for message in cut.errors:
                warnings.append(SourceWarning(str(path), message))
            if self.offset == 0 and cut.errors and cut.resume == 0:
                self._broken = True  # not a transaction log at all
                return
            for record in cut.records:
                self._record(record, batch, path, warnings)
            progressed = cut.resume > self.offset
            self.offset = cut.resume
            if not progressed:
                if len(data) >= size - self.offset or want >= size:
                    return  # an unfinished record at the end: wait for the writer
                want *= 4

    def _record(self, record: bytes, batch: _Batch, path: Path, warnings: list[Event]) -> None:
        try:
            for number, wire, data in pw.iter_fields(record):
                if wire != pw.LEN:
                    continue
                handler = _HANDLERS.get(number)
                if handler is not None:
                    handler(self, data, batch)
        except (pw.DecodeError, ValueError, struct.error) as exc:
            warnings.append(SourceWarning(str(path), f"undecodable record: {exc}"))

    # -- record handlers ----------------------------------------------------------------
    def _on_run(self, data: memoryview, batch: _Batch) -> None:
        for number, wire, value in pw.iter_fields(data):
            if number == 8 and wire == pw.LEN and len(value):
                self.name = pw.text(value)
            elif number == 4 and wire == pw.LEN:
                self._on_config(value, batch)
            elif number == 17 and wire == pw.LEN:
                stamp = pw.fields(value)
                self.started_at = pw.to_int64(pw.last(stamp, 1, 0)) + pw.last(stamp, 2, 0) / 1e9

    def _on_config(self, data: memoryview, batch: _Batch) -> None:
        for path, value in _items(data, 1):
            if path[0] != "_wandb":
                _set_path(self.params, path, value)
                batch.params_changed = True
        for path, _value in _items(data, 2):
            _remove_path(self.params, path)
            batch.params_changed = True

    def _on_history(self, data: memoryview, batch: _Batch) -> None:
        row: dict[str, Any] = {}
        step: int | None = None
        for number, wire, value in pw.iter_fields(data):
            if number == 1 and wire == pw.LEN:
                path, item = _item(value)
                row[".".join(path)] = item
            elif number == 2 and wire == pw.LEN:
                step = pw.to_int64(pw.last(pw.fields(value), 1, 0))
        if step is None:
            step_value = to_float(row.get("_step"))
            step = int(step_value) if step_value is not None and math.isfinite(step_value) else 0
        stamp = parse_time(row.get("_timestamp"))
        for key, item in row.items():
            if key.startswith(HIDDEN_KEYS) or isinstance(item, (str, dict, list)):
                continue
            number = to_float(item)
            if number is None:
                continue
            if key == "epoch":
                batch.epochs[0].append(float(step))
                batch.epochs[1].append(number)
            else:
                batch.add(key, float(step), number)
        batch.records += 1
        if stamp is not None:
            batch.times.append(stamp)
            self.last_time = stamp

    def _on_summary(self, data: memoryview, batch: _Batch) -> None:
        for path, value in _items(data, 1):
            if path[0].startswith("_"):
                continue
            numeric_leaves(value, ".".join(path), batch.summary)

    def _on_output(self, data: memoryview, batch: _Batch) -> None:
        line = pw.last(pw.fields(data), 3)
        if line is None:
            return
        text = pw.text(line)
        self.console.append(text)
        self._console_bytes += len(text)
        limit = self.settings.error_tail_bytes
        while self._console_bytes > limit and len(self.console) > 1:
            self._console_bytes -= len(self.console.pop(0))

    def _on_exit(self, data: memoryview, batch: _Batch) -> None:
        exit_fields = pw.fields(data)
        code = pw.to_int64(pw.last(exit_fields, 1, 0))
        if code >= 1 << 31:  # an int32 written without sign extension
            code -= 1 << 32
        runtime = pw.last(exit_fields, 2)
        when = self.last_time
        if self.started_at is not None and runtime is not None:
            when = max(when or 0.0, self.started_at + runtime)
        error = None if code == 0 else self._console_tail()
        self.exited = True
        batch.ended = RunEnded(self.run_id, "finished" if code == 0 else None, error=error,
                               exit_code=code, time=when)

    def _console_tail(self) -> str | None:
        text = "".join(self.console).strip()
        if text:
            return text
        data = self.output.file.read_bytes(self.settings.error_tail_bytes)
        return data.decode("utf-8", errors="replace").strip() if data else None

    # -- the files/ layout (no transaction log) -----------------------------------------
    def _read_files(self, batch: _Batch, warnings: list[Event]) -> None:
        config = self._mapping(self.config_file, warnings)
        if config is not None:
            self.params = {key: _unwrap(value) for key, value in config.items()
                           if key not in ("wandb_version", "_wandb")}
            batch.params_changed = True
        summary = self._mapping(self.summary_file, warnings)
        if summary is not None:
            for key, value in summary.items():
                if not key.startswith("_"):
                    numeric_leaves(value, key, batch.summary)
            stamp = parse_time(summary.get("_timestamp"))
            if stamp is not None:
                self.last_time = stamp
        metadata = self._mapping(self.metadata_file, warnings)
        if metadata is not None:
            self.started_at = parse_time(metadata.get("startedAt"))
        ended = self.output.check(self.run_id, self.settings.error_tail_bytes)
        if ended is not None:
            batch.ended = ended

    def _mapping(self, watched: Watched, warnings: list[Event]) -> dict | None:
        if not watched.changed():
            return None
        data = watched.read_bytes()
        watched.accept()
        if data is None:
            return None
        mapping = parse_mapping(watched.path, data)
        if mapping is None:
            warnings.append(SourceWarning(str(watched.path), "not a readable mapping; ignored"))
        return mapping

    # -- events -------------------------------------------------------------------------
    def _events(self, batch: _Batch, warnings: list[Event]) -> list[Event]:
        events: list[Event] = []
        if not self._seen or batch.params_changed:
            params = self.segments.params() if batch.params_changed else None
            events.append(RunSeen(self.run_id, self.name, self.run_id, NAME,
                                  params=params, started_at=self.started_at))
            self._seen = True
            note = self.segments.note(self.base)
            if note is not None:
                events.append(note)
        if batch.records:
            metrics = {name: Series(*columns) for name, columns in batch.metrics.items()}
            epochs = Series(*batch.epochs) if len(batch.epochs[0]) else None
            mtime = None if len(batch.times) else self._log_mtime()
            events.append(MetricBatch(self.run_id, metrics, batch.records, batch.times,
                                      mtime=mtime, epochs=epochs))
        if batch.summary:
            events.append(SummarySeen(self.run_id, batch.summary))
        if batch.ended is not None:
            events.append(batch.ended)
        events.extend(warnings)
        return events

    def _log_mtime(self) -> float | None:
        try:
            return os.stat(self.log_path).st_mtime if self.log_path else None
        except OSError:
            return None


def _unwrap(value: Any) -> Any:
    """``config.yaml`` stores ``{key: {desc: ..., value: ...}}``; older files the bare value."""
    if isinstance(value, dict) and "value" in value:
        return value["value"]
    return value


_HANDLERS = {
    2: WandbRunReader._on_history,
    3: WandbRunReader._on_summary,
    4: WandbRunReader._on_output,
    5: WandbRunReader._on_config,
    13: WandbRunReader._on_output,
    17: WandbRunReader._on_run,
    18: WandbRunReader._on_exit,
}
"""Record field number -> handler; every other record type is skipped."""


# -- matching --------------------------------------------------------------------------
def match(directory: Path, subdirs: list[str], files: list[str], ctx: ScanContext) -> Match | None:
    """A ``wandb/`` directory (every run in it) or a single W&B run directory."""
    if RUN_DIR.match(directory.name) and (
        "files" in subdirs or any(name.endswith(".wandb") for name in files)
    ):
        reader = WandbRunReader(ctx.root, directory, ctx.settings)
        return Match(readers=[reader], claimed=set(files), prune=True)
    runs = [name for name in subdirs if RUN_DIR.match(name)]
    if runs and (directory.name == "wandb" or "latest-run" in subdirs):
        # Owning wandb/ keeps the scanner out of ``latest-run``, a symlink to a run.
        by_id: dict[str, Segments] = ctx.shared.setdefault((NAME, str(directory)), {})
        readers: list[Reader] = []
        for name in sorted(runs, key=_time_order):
            date, wandb_id = RUN_DIR.match(name).groups()
            segments = by_id.get(wandb_id)
            if segments is not None and any(m.base.name == name for m in segments.members):
                continue  # read already (a rescan)
            if segments is None:
                segments = by_id[wandb_id] = Segments()
            elif any(_time_order(m.base.name)[0] == date for m in segments.members):
                segments = None  # same id, same start: a copy (offline and online), not a segment
            readers.append(WandbRunReader(ctx.root, directory / name, ctx.settings, segments))
        return Match(readers=readers, claimed=set(files), prune=True)
    return None


def _time_order(name: str) -> tuple[str, str]:
    """Run directories by the date in their name (``offline-`` or not), then by name."""
    found = RUN_DIR.match(name)
    return (found.group(1) if found else "", name)


SOURCE = SourceSpec(
    name=NAME,
    description="Weights & Biases run directories (transaction log .wandb, or files/ layout)",
    match=match,
)
