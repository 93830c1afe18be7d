"""TensorBoard event files: scalars and hparams, read without TensorBoard.

Layout: a run is a directory holding ``events.out.tfevents.*`` files (one per
writer session; a restarted run adds another). ``SummaryWriter.add_hparams``
writes a nested, timestamped subdirectory with its own event file holding the
``hparams`` plugin's session start info and the final metric values: nested
directories merge into their parent run (hparams -> params, their scalars ->
summary values; scalars of other nested directories become series named
``<subdir>/<tag>``). A PyTorch Lightning ``hparams.yaml`` beside the event files
is read as params too. Keras's ``TensorBoard`` callback writes a run as two
directories of event files, ``<run>/train`` and ``<run>/validation``, both with
the same tags (``epoch_loss``...): such a ``<run>`` is one run, with the series
``train/epoch_loss`` and ``validation/epoch_loss`` (so the overfitting detector
sees both sides, as it would in one log).

Each event file is a TFRecord stream (:mod:`sweeptui.sources.tfrecord`) of
``Event`` protobuf messages, decoded here by hand (:mod:`sweeptui.sources.protowire`)
with only the fields sweeptui needs::

    Event          1 wall_time double, 2 step int64, 5 summary Summary
    Summary        1 value repeated Summary.Value
    Summary.Value  1 tag, 2 simple_value float, 8 tensor TensorProto, 9 metadata
    SummaryMetadata 1 plugin_data {1 plugin_name, 2 content bytes}
    TensorProto    1 dtype, 2 tensor_shape {2 dim...}, 4 tensor_content,
                   5 float_val, 6 double_val, 7 int_val, 10 int64_val, 13 half_val
    HParamsPluginData 3 session_start_info {1 hparams map<string, Value>}

Scalars are the legacy ``simple_value`` or a rank-0 numeric tensor of the
``scalars`` plugin (TF2, ``new_style`` torch). TF2 writes a tag's plugin metadata
only with its first value, so the plugin of each tag is remembered per file.

Event files carry no end marker: runs stay ``running`` and the stall/vanish
detectors judge them (record times are ``Event.wall_time``).

Event files are read in the order they were created (the time in their name:
``events.out.tfevents.<time>.<host>.<pid>.<n>``). Files of one run directory written
by different processes (a resumed run, or a re-run into the same folder hours later)
are the run's *segments*, said in a warning. A segment whose steps go on after the
current attempt's continues it (a resumed run: one curve); one that starts again at an
earlier step (a re-run) begins a new attempt. Attempts are never merged into one curve
(nor one best value taken over both): the newest attempt found by the first read is the
run's series, each earlier one is named ``segment<k>/<tag>`` (k: its first segment). An
attempt begun while the run is watched, after its series were shown, keeps its own
``segment<k>/`` names.
"""

from __future__ import annotations

import os
import re
import struct
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from sweeptui.events import Event, MetricBatch, RunSeen, Series, SourceWarning, SummarySeen
from sweeptui.settings import Settings
from sweeptui.sources import protowire as pw
from sweeptui.sources.base import Match, Reader, ScanContext, SourceSpec, parts_below
from sweeptui.sources.columns import PointBatch
from sweeptui.sources.tfrecord import split_records
from sweeptui.sources.yamlio import load_yaml, tags_note

EVENT_FILE_PREFIX = "events.out.tfevents."
LIGHTNING_HPARAMS = "hparams.yaml"
READ_CHUNK_BYTES = 64 * 1024 * 1024
"""Event files are read in pieces of this size (image summaries can make them huge)."""

_DOUBLE = struct.Struct("<d")
_FLOAT = struct.Struct("<f")
_TAG_DOUBLE_WALL_TIME = 0x09  # field 1, I64
_TAG_STEP = 0x10  # field 2, VARINT
_TAG_SUMMARY = 0x2A  # field 5, LEN

# TensorFlow DataType enum values of numeric scalars, with how one element is stored.
_DTYPE_FORMATS = {1: "<f", 2: "<d", 3: "<i", 4: "<B", 5: "<h", 6: "<b", 9: "<q", 10: "<?",
                  17: "<H", 19: "<e", 22: "<I", 23: "<Q"}
_DT_BFLOAT16 = 14
_RUN_DIR_NAME = re.compile(r"^events\.out\.tfevents\.")
_WRITER = re.compile(r"^events\.out\.tfevents\.(\d+)\.(.*?)(?:\.\d+)?(?:\.v2)?$")
"""The creation time and ``<host>.<pid>`` of the writer in an event file's name."""
EPOCH_TAG = "epoch"
"""A scalar of this tag is the run's epoch column, not a metric."""
KERAS_SPLITS = ("train", "validation")
"""Subdirectories Keras's TensorBoard callback writes per run, one per split."""


@dataclass
class _Batch(PointBatch):
    """What one read of a run collected, before it becomes events."""

    hparams: dict[str, object] = field(default_factory=dict)
    first_wall_time: float | None = None


@dataclass
class _EventFile:
    """Reading state of one event file: offset and what earlier records told us."""

    path: Path
    prefix: str
    """``""`` for files in the run directory, ``"<subdir>/"`` for nested ones."""
    offset: int = 0
    plugins: dict[str, str] = field(default_factory=dict)
    """Tag -> plugin name, from the first value of each tag that carried metadata."""
    holds_hparams: bool = False
    """True once the file carried hparams session data (an ``add_hparams`` directory)."""
    broken_at: int | None = None
    segment: int = 1
    """Which writer process of the run wrote it, counted in time order (run's own files)."""
    rename: str | None = None
    """The attempt it belongs to: ``""`` for the first, ``"segment<k>/"`` for one begun by
    segment k restarting its steps; None until its first scalar."""


def writer_of(name: str) -> tuple[int, str]:
    """(creation time, ``<host>.<pid>``) from an event file's name; (0, name) if unusual."""
    found = _WRITER.match(name)
    return (int(found.group(1)), found.group(2)) if found else (0, name)


class TensorBoardRunReader(Reader):
    """Tails every event file of one run directory (nested directories included)."""

    source = "tensorboard"

    def __init__(self, root: Path, base: Path, settings: Settings) -> None:
        super().__init__(root, base, settings)
        self.files: dict[Path, _EventFile] = {}
        self.params: dict[str, object] = {}
        self.display_name = base.name
        self._seen = False
        self._lightning_mtime: float | None = None
        self.writers: dict[str, int] = {}
        """``<host>.<pid>`` of each process that wrote the run's own files -> its segment."""
        self.attempt = ""
        """The newest attempt's name prefix (``""`` for the first)."""
        self.attempt_top = float("-inf")
        """The largest step of the newest attempt."""
        self.shown: dict[str, str] = {}
        """Attempt prefix -> the prefix its series are shown under (set by the first read)."""
        self._said: tuple[int, int] = (1, 0)

    def read(self, changed: Collection[Path | str] | None = None) -> list[Event]:
        """New scalars, hparams and summary values since the last call.

        When ``changed`` names only event files already followed, just those are
        read: no walk of the directory, no look at ``hparams.yaml``.
        """
        warnings: list[Event] = []
        batch = _Batch()
        hinted = self._hinted(changed)
        for event_file in self._discover() if hinted is None else hinted:
            self._read_file(event_file, batch, warnings)
        params_changed = self._merge_params(batch.hparams, warnings, hinted is None)
        self._say_segments(warnings)
        return self._events(batch, params_changed, warnings)

    def _hinted(self, changed: Collection[Path | str] | None) -> list[_EventFile] | None:
        """The followed event files ``changed`` names, in reading order; None for a full read.

        A new event file, ``hparams.yaml`` or the directory itself needs a full read;
        other files (checkpoints, nested directories) are never read and add nothing.
        """
        if changed is None or not self._seen:
            return None
        found: dict[Path, _EventFile] = {}
        for path in changed:
            parts = parts_below(self.base, path)
            if not parts or parts == (LIGHTNING_HPARAMS,):
                return None
            if not parts[-1].startswith(EVENT_FILE_PREFIX):
                continue
            event_file = self.files.get(self.base.joinpath(*parts))
            if event_file is None:
                return None
            found[event_file.path] = event_file
        return [found[path] for path in sorted(found, key=self._order)]

    def _order(self, path: Path) -> tuple[int, int, str]:
        """The reading order of :meth:`_discover`: the run's own files first, each group
        by creation time, then by path."""
        return (0 if path.parent == self.base else 1, writer_of(path.name)[0], str(path))

    # -- discovery -----------------------------------------------------------------
    def _discover(self) -> list[_EventFile]:
        """Every event file under the run directory, the run's own first, oldest first."""
        found: list[Path] = []
        for directory, subdirs, names in os.walk(self.base):
            subdirs.sort()
            found.extend(Path(directory) / n for n in names if n.startswith(EVENT_FILE_PREFIX))
        found.sort(key=self._order)
        for path in found:
            if path not in self.files:
                relative = path.parent.relative_to(self.base).as_posix()
                prefix = "" if relative == "." else relative + "/"
                self.files[path] = event_file = _EventFile(path, prefix)
                if not prefix:
                    writer = writer_of(path.name)[1]
                    event_file.segment = self.writers.setdefault(writer, len(self.writers) + 1)
        return [self.files[path] for path in found]

    def _segment_name(self, event_file: _EventFile, step: float) -> str:
        """The attempt of a file at its first scalar: the newest one when the file's steps
        go on after it (or it is that attempt's own writer), else a new one."""
        if event_file.prefix:
            return ""
        same_writer = any(f.segment == event_file.segment and f.rename == self.attempt
                          for f in self.files.values() if f is not event_file)
        if self.attempt_top != float("-inf") and step <= self.attempt_top and not same_writer:
            self.attempt, self.attempt_top = f"segment{event_file.segment}/", float("-inf")
        return self.attempt

    def _shown_names(self, metrics: dict) -> dict:
        """``metrics`` under the names they are shown with (attempts, see the module doc)."""
        if not self.shown:
            self.shown = {"": ""} if not self.attempt else {"": "segment1/", self.attempt: ""}
        if self.shown == {"": ""}:
            return metrics
        renamed = {}
        for name, columns in metrics.items():
            prefix = next((p for p in self.shown if p and name.startswith(p)), "")
            renamed[self.shown.get(prefix, prefix) + name[len(prefix):]] = columns
        return renamed

    def _say_segments(self, warnings: list[Event]) -> None:
        """A warning when the run has more writer processes (or a re-run) than last said."""
        restarts = sorted({f.segment for f in self.files.values() if f.rename == f"segment{f.segment}/"})
        if (len(self.writers), len(restarts)) == self._said or len(self.writers) < 2:
            return
        self._said = (len(self.writers), len(restarts))
        starts = sorted({writer_of(f.path.name)[0] for f in self.files.values() if not f.prefix})
        first, last = (time.strftime("%Y-%m-%d %H:%M", time.gmtime(t)) for t in (starts[0], starts[-1]))
        count = len(self.writers)
        message = f"{count} writer processes from {first} to {last} UTC, read in time order"
        if restarts:
            message += (f"; segment {', '.join(map(str, restarts))} re-ran from an earlier step: "
                        "earlier attempts are segment<k>/<tag>")
        warnings.append(SourceWarning(str(self.base), message))

    # -- reading one file -------------------------------------------------------------
    def _read_file(self, event_file: _EventFile, batch: _Batch, warnings: list[Event]) -> None:
        if event_file.broken_at is not None:
            return
        try:
            size = event_file.path.stat().st_size
        except OSError:
            return  # deleted between listing and reading
        if size < event_file.offset:
            warnings.append(SourceWarning(str(event_file.path), "event file shrank; re-reading it"))
            event_file.offset = 0
            event_file.plugins.clear()
        if size == event_file.offset:
            return
        try:
            with self.boundary.open(event_file.path) as handle:
                self._read_from(handle, size, event_file, batch, warnings)
        except OSError as exc:
            warnings.append(SourceWarning(str(event_file.path), f"cannot read: {exc}"))

    def _read_from(self, handle, size: int, event_file: _EventFile, batch: _Batch,
                   warnings: list[Event]) -> None:
        want = READ_CHUNK_BYTES
        while event_file.offset < size:
            handle.seek(event_file.offset)
            data = handle.read(min(want, size - event_file.offset))
            framing = split_records(data, event_file.offset)
            for message in framing.errors:
                warnings.append(SourceWarning(str(event_file.path), message))
            for start, end in framing.spans:
                self._decode_record(data, start, end, event_file, batch, warnings)
            event_file.offset += framing.consumed
            if framing.stopped:
                event_file.broken_at = event_file.offset
                return
            if framing.consumed == 0:
                needed = _record_size(data)
                if needed is None or needed <= len(data) or event_file.offset + needed > size:
                    return  # the trailing record is incomplete: wait for more bytes
                want = needed

    def _decode_record(self, data: bytes, start: int, end: int, event_file: _EventFile,
                       batch: _Batch, warnings: list[Event]) -> None:
        try:
            wall_time, step, summary = _scan_event(data, start, end)
        except pw.DecodeError as exc:
            warnings.append(SourceWarning(str(event_file.path), f"undecodable event: {exc}"))
            return
        if batch.first_wall_time is None and wall_time is not None:
            batch.first_wall_time = wall_time
        if summary is None:
            return
        try:
            values = _summary_values(data, summary[0], summary[1], event_file, batch.hparams)
        except (pw.DecodeError, struct.error) as exc:
            warnings.append(SourceWarning(str(event_file.path), f"undecodable summary: {exc}"))
            return
        if not values:
            return
        if event_file.prefix and event_file.holds_hparams:
            for tag, value in values:
                batch.summary[tag] = value
            return
        if event_file.rename is None:
            event_file.rename = self._segment_name(event_file, float(step))
        if event_file.rename == self.attempt and not event_file.prefix and step > self.attempt_top:
            self.attempt_top = step
        name_prefix = event_file.prefix + event_file.rename
        for tag, value in values:
            batch.add(name_prefix + tag, float(step), value)
        batch.records += 1
        if wall_time is not None:
            batch.times.append(wall_time)

    # -- params ---------------------------------------------------------------------------
    def _merge_params(
        self, hparams: dict[str, object], warnings: list[Event], look: bool = True
    ) -> bool:
        """Fold hparams in; ``look``: also check ``hparams.yaml`` for a change."""
        changed = False
        lightning = self._lightning_params(warnings) if look else None
        if lightning is not None:
            self.params = {**lightning, **self.params}
            changed = True
        if hparams:
            self.params.update(hparams)
            changed = True
        return changed

    def _lightning_params(self, warnings: list[Event]) -> dict | None:
        """A PyTorch Lightning ``hparams.yaml`` beside the event files (re-read on change)."""
        path = self.base / LIGHTNING_HPARAMS
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return None
        if mtime == self._lightning_mtime:
            return None
        self._lightning_mtime = mtime
        try:
            loaded, tags = load_yaml(self.boundary.read(path).decode("utf-8"))
        except (OSError, ValueError) as exc:  # unreadable, not UTF-8, not YAML
            warnings.append(SourceWarning(str(path), f"unreadable hparams file: {exc}"))
            return None
        if tags:
            self.note_once(warnings, "python-tags", SourceWarning(str(path), tags_note(tags)))
        return loaded if isinstance(loaded, dict) else None

    # -- events -----------------------------------------------------------------------------
    def _events(self, batch: _Batch, params_changed: bool, warnings: list[Event]) -> list[Event]:
        events: list[Event] = []
        run_id = self.relpath()
        if not self._seen or params_changed:
            events.append(RunSeen(
                run_id=run_id,
                name=self.display_name or run_id,
                path=run_id,
                source=self.source,
                params=dict(self.params) if (params_changed or self.params) else None,
                started_at=batch.first_wall_time if not self._seen else None,
            ))
            self._seen = True
        if batch.records:
            shown = self._shown_names(batch.metrics)
            metrics = {name: Series(*columns) for name, columns in shown.items()}
            epochs = metrics.pop(EPOCH_TAG, None)  # Lightning logs the epoch as a scalar
            events.append(MetricBatch(run_id, metrics, batch.records, batch.times, epochs=epochs))
        if batch.summary:
            events.append(SummarySeen(run_id, batch.summary))
        events.extend(warnings)
        return events


def _record_size(data: bytes) -> int | None:
    """Total bytes of the record starting ``data`` (header, payload, footer), if known."""
    if len(data) < 8:
        return None
    return 16 + struct.unpack_from("<Q", data, 0)[0]


# -- protobuf decoding ---------------------------------------------------------------------
def _scan_event(
    buf: bytes, pos: int, end: int
) -> tuple[float | None, int, tuple[int, int] | None]:
    """``(wall_time, step, (summary start, summary end))`` of the Event in ``buf[pos:end]``.

    Hand-inlined for speed: this runs once per record of every event file.
    """
    wall_time: float | None = None
    step = 0
    summary: tuple[int, int] | None = None
    while pos < end:
        key = buf[pos]
        if key >= 0x80:
            key, pos = pw.read_varint(buf, pos, end)
        else:
            pos += 1
        if key == _TAG_DOUBLE_WALL_TIME:
            if pos + 8 > end:
                raise pw.DecodeError("truncated wall_time")
            wall_time = _DOUBLE.unpack_from(buf, pos)[0]
            pos += 8
        elif key == _TAG_STEP:
            step, pos = pw.read_varint(buf, pos, end)
            step = pw.to_int64(step)
        elif key == _TAG_SUMMARY:
            size = buf[pos] if pos < end else 0x80  # one-byte lengths: no call
            if size < 0x80:
                pos += 1
            else:
                size, pos = pw.read_varint(buf, pos, end)
            if pos + size > end:
                raise pw.DecodeError("summary runs past the event")
            summary = (pos, pos + size)
            pos += size
        else:
            pos = _skip(buf, pos, end, key)
    return wall_time, step, summary


def _skip(buf: bytes, pos: int, end: int, key: int) -> int:
    """Position after the value of a field we do not read."""
    wire = key & 7
    if wire == pw.VARINT:
        return pw.read_varint(buf, pos, end)[1]
    if wire == pw.I64:
        pos += 8
    elif wire == pw.I32:
        pos += 4
    elif wire == pw.LEN:
        size, pos = pw.read_varint(buf, pos, end)
        pos += size
    else:
        raise pw.DecodeError(f"unsupported wire type {wire}")
    if pos > end:
        raise pw.DecodeError("field runs past the message")
    return pos


def _summary_values(buf: bytes, pos: int, end: int, event_file: _EventFile,
                    hparams: dict[str, object]) -> list[tuple[str, float]]:
    """Scalar ``(tag, value)`` pairs of one Summary; hparams go into ``hparams``."""
    values: list[tuple[str, float]] = []
    while pos < end:
        key = buf[pos]
        if key >= 0x80:
            key, pos = pw.read_varint(buf, pos, end)
        else:
            pos += 1
        if key != 0x0A:  # Summary.value (field 1, LEN)
            pos = _skip(buf, pos, end, key)
            continue
        size = buf[pos] if pos < end else 0x80  # one-byte lengths: no call
        if size < 0x80:
            pos += 1
        else:
            size, pos = pw.read_varint(buf, pos, end)
        if pos + size > end:
            raise pw.DecodeError("summary value runs past the summary")
        scalar = _summary_value(buf, pos, pos + size, event_file, hparams)
        if scalar is not None:
            values.append(scalar)
        pos += size
    return values


def _summary_value(buf: bytes, pos: int, end: int, event_file: _EventFile,
                   hparams: dict[str, object]) -> tuple[str, float] | None:
    """One Summary.Value: its scalar, or None (hparams are collected on the way)."""
    tag = ""
    simple: float | None = None
    tensor: tuple[int, int] | None = None
    plugin: str | None = None
    content: memoryview | None = None
    while pos < end:
        key = buf[pos]
        if key >= 0x80:
            key, pos = pw.read_varint(buf, pos, end)
        else:
            pos += 1
        if key == 0x15:  # simple_value (field 2, I32)
            simple = _FLOAT.unpack_from(buf, pos)[0]
            pos += 4
        elif key in (0x0A, 0x42, 0x4A):  # tag, tensor, metadata
            size = buf[pos] if pos < end else 0x80  # one-byte lengths: no call
            if size < 0x80:
                pos += 1
            else:
                size, pos = pw.read_varint(buf, pos, end)
            if pos + size > end:
                raise pw.DecodeError("summary value field runs past the value")
            if key == 0x0A:
                tag = buf[pos : pos + size].decode("utf-8", errors="replace")
            elif key == 0x42:
                tensor = (pos, pos + size)
            else:
                plugin, content = _plugin_data(memoryview(buf)[pos : pos + size])
            pos += size
        else:
            pos = _skip(buf, pos, end, key)
    if plugin is not None:
        event_file.plugins[tag] = plugin
    else:
        plugin = event_file.plugins.get(tag)
    if plugin == "hparams":
        if content is not None and _read_hparams(content, hparams):
            event_file.holds_hparams = True
        return None
    if simple is not None:
        return tag, simple
    if tensor is not None and plugin in (None, "scalars"):
        value = _tensor_scalar(memoryview(buf)[tensor[0] : tensor[1]])
        if value is not None:
            return tag, value
    return None


def _plugin_data(metadata: memoryview) -> tuple[str | None, memoryview | None]:
    """``(plugin_name, content)`` of a SummaryMetadata."""
    for number, wire, value in pw.iter_fields(metadata):
        if number == 1 and wire == pw.LEN:
            data = pw.fields(value)
            name = pw.last(data, 1)
            return (pw.text(name) if name is not None else None), pw.last(data, 2)
    return None, None


def _tensor_scalar(tensor: memoryview) -> float | None:
    """The value of a rank-0 (or single-element) numeric TensorProto, else None."""
    data = pw.fields(tensor)
    dtype = pw.last(data, 1, 0)
    shape = pw.last(data, 2)
    if shape is not None:
        elements = 1
        for dim in pw.fields(shape).get(2, []):
            elements *= pw.last(pw.fields(dim), 1, 0)
        if elements != 1:
            return None
    content = pw.last(data, 4)
    if content is not None and len(content):
        return _from_content(dtype, content)
    return _from_repeated(dtype, data)


def _from_content(dtype: int, content: memoryview) -> float | None:
    if dtype == _DT_BFLOAT16 and len(content) >= 2:
        return _FLOAT.unpack(b"\x00\x00" + bytes(content[:2]))[0]
    fmt = _DTYPE_FORMATS.get(dtype)
    if fmt is None or len(content) < struct.calcsize(fmt):
        return None
    return float(struct.unpack_from(fmt, content)[0])


def _from_repeated(dtype: int, data: dict[int, list]) -> float | None:
    """Single element from the typed ``*_val`` fields (packed or not)."""
    if dtype == 1 and (floats := data.get(5)):
        return _first_float(floats)
    if dtype == 2 and (doubles := data.get(6)):
        raw = doubles[0]
        return pw.packed_doubles(raw)[0] if isinstance(raw, memoryview) else pw.to_double(raw)
    if dtype in (19, 14) and (halves := data.get(13)):
        raw = halves[0]
        bits = pw.packed_varints(raw)[0] if isinstance(raw, memoryview) else raw
        if dtype == 19:
            return struct.unpack("<e", struct.pack("<H", bits & 0xFFFF))[0]
        return _FLOAT.unpack(struct.pack("<I", (bits & 0xFFFF) << 16))[0]
    for number in (7, 10, 11, 16, 17):  # int_val, int64_val, bool_val, uint32_val, uint64_val
        if raw_values := data.get(number):
            raw = raw_values[0]
            number_value = pw.packed_varints(raw)[0] if isinstance(raw, memoryview) else raw
            return float(pw.to_int64(number_value) if number in (7, 10) else number_value)
    return None


def _first_float(values: list) -> float | None:
    raw = values[0]
    if isinstance(raw, memoryview):
        floats = pw.packed_floats(raw)
        return floats[0] if floats else None
    return pw.to_float(raw)


def _read_hparams(content: memoryview, hparams: dict[str, object]) -> bool:
    """Collect the hparams of a HParamsPluginData's session_start_info; True when present."""
    found = False
    for number, wire, value in pw.iter_fields(content):
        if number != 3 or wire != pw.LEN:  # 3: session_start_info
            continue
        found = True
        for entry_number, entry_wire, entry in pw.iter_fields(value):
            if entry_number == 1 and entry_wire == pw.LEN:  # map<string, Value> hparams
                entry_fields = pw.fields(entry)
                name = pw.text(pw.last(entry_fields, 1, b""))
                hparams[name] = _struct_value(pw.last(entry_fields, 2))
    return found


def _struct_value(value: memoryview | None) -> object:
    """A ``google.protobuf.Value``: number, string, bool, null, or list/struct as text."""
    if value is None:
        return None
    result: object = None
    for number, wire, raw in pw.iter_fields(value):
        if number == 2 and wire == pw.I64:
            result = pw.to_double(raw)
        elif number == 3 and wire == pw.LEN:
            result = pw.text(raw)
        elif number == 4 and wire == pw.VARINT:
            result = bool(raw)
        elif number in (5, 6) and wire == pw.LEN:
            result = _list_or_struct_text(number, raw)
    if isinstance(result, float) and result.is_integer() and abs(result) < 2**53:
        return int(result)  # hparams store every number as a double; 32 means 32
    return result


def _list_or_struct_text(number: int, raw: memoryview) -> str:
    if number == 6:  # ListValue: 1 repeated Value
        items = [_struct_value(item) for n, _w, item in pw.iter_fields(raw) if n == 1]
        return str(items)
    return "<struct>"


# -- matching ------------------------------------------------------------------------------
def _holds_event_files(directory: Path) -> bool:
    try:
        return any(_RUN_DIR_NAME.match(name) for name in os.listdir(directory))
    except OSError:
        return False


def is_keras_run(directory: Path, subdirs: list[str]) -> bool:
    """A Keras run: a ``train`` or ``validation`` subdirectory holding event files."""
    return any(split in subdirs and _holds_event_files(directory / split) for split in KERAS_SPLITS)


def match(directory: Path, subdirs: list[str], files: list[str], ctx: ScanContext) -> Match | None:
    """A directory holding event files is a run; it owns its subtree (add_hparams dirs).

    So is a Keras run directory, whose event files are all in its split subdirectories.
    """
    if not any(_RUN_DIR_NAME.match(name) for name in files) and not is_keras_run(directory, subdirs):
        return None
    reader = TensorBoardRunReader(ctx.root, directory, ctx.settings)
    return Match(readers=[reader], claimed=set(files), prune=True)


SOURCE = SourceSpec(
    name="tensorboard",
    description="TensorBoard event files (scalars, hparams; add_hparams and Keras split dirs merged)",
    match=match,
)
