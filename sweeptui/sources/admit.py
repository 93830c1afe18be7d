"""The trust boundary between sources and the store: every text made valid, every config bounded.

Sources read other people's files. What they hand over may hold lone surrogates
(a ``"\\ud800"`` escape in JSON, or a directory name that is not UTF-8, which
Python spells with ``\\udcXX`` escapes), integers beyond 64 bits, strings of
hundreds of megabytes, or a YAML document whose aliases expand to billions of
values (the "billion laughs"). :func:`admit` runs on every event between a reader
and the store, once: text is made encodable (a non-UTF-8 byte of a name becomes
``\\xNN``, any other lone surrogate the replacement character), and params are
bounded in depth, count and length, each truncation said in a warning. Everything
downstream (store, analysis, reports, the app) may then trust what it gets.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from sweeptui.events import (
    Event,
    FileReset,
    MetricBatch,
    RunEnded,
    RunSeen,
    SourceWarning,
    SummarySeen,
)

MAX_DEPTH = 16
"""Nesting levels of a config kept; deeper parts become a note."""
MAX_VALUES = 10_000
"""Values (and containers) of one run's config visited before the rest is cut."""
MAX_ITEMS = 100
"""Items of one list param kept."""
MAX_TEXT = 1_000
"""Characters of one param value (or key) kept; longer ones keep a length and hash note."""
INT_RANGE = (-(2**63), 2**64 - 1)
"""Integers JSON writers take; others become text."""

_SURROGATE = re.compile("[\ud800-\udfff]")


def clean(text: str) -> str:
    """``text`` with every lone surrogate replaced: ``\\udcXX`` (an undecodable byte of a
    file name) by ``\\xXX``, keeping names distinct; any other by U+FFFD."""
    if text.isascii():
        return text
    return _SURROGATE.sub(_replace, text)


def _replace(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else "\ufffd"


def admit(events: list[Event]) -> list[Event]:
    """``events`` made safe in place (and returned); truncation warnings are added after."""
    notes: list[Event] = []
    for event in events:
        kind = type(event)
        if kind is MetricBatch:
            event.run_id = clean(event.run_id)
            if not all(name.isascii() for name in event.metrics):
                event.metrics = {clean(name): series for name, series in event.metrics.items()}
            if event.origin is not None:  # cleaned as the FileReset naming it is
                event.origin = clean(event.origin)
        elif kind is RunSeen:
            _admit_seen(event, notes)
        elif kind is RunEnded:
            event.run_id = clean(event.run_id)
            event.error = None if event.error is None else clean(event.error)
            if event.exit_code is not None and not INT_RANGE[0] <= event.exit_code <= INT_RANGE[1]:
                event.exit_code = None
        elif kind is SummarySeen:
            event.run_id = clean(event.run_id)
            event.values = {clean(str(key)): value for key, value in event.values.items()}
        elif kind is FileReset:
            event.run_id, event.path = clean(event.run_id), clean(event.path)
        elif kind is SourceWarning:
            event.path, event.message = clean(event.path), clean(event.message)
    events.extend(notes)
    return events


def _admit_seen(event: RunSeen, notes: list[Event]) -> None:
    event.run_id, event.name, event.path = clean(event.run_id), clean(event.name), clean(event.path)
    if event.params is None:
        return
    bounded = Bounds()
    event.params = bounded.mapping(event.params, "", 0)
    for message in bounded.notes:
        notes.append(SourceWarning(event.path, message))


class Bounds:
    """One bounded walk over a config: the copy it makes and what it had to cut."""

    def __init__(self) -> None:
        self.left = MAX_VALUES
        self.notes: list[str] = []
        self._cut = False

    def mapping(self, value: dict, prefix: str, depth: int) -> dict:
        """A bounded copy of a mapping whose keys sit under ``prefix``."""
        result: dict[str, Any] = {}
        for key, item in value.items():
            name = self.text(key if isinstance(key, str) else str(key), f"{prefix}key")
            result[name] = self.value(item, f"{prefix}{name}", depth + 1)
        return result

    def value(self, value: Any, where: str, depth: int) -> Any:
        """A bounded copy of one value at path ``where``."""
        self.left -= 1
        kind = type(value)
        if kind is str:
            return self.text(value, where)
        if kind is int:
            return self.integer(value, where)
        if value is None or kind in (float, bool):
            return value
        if isinstance(value, (dict, list, tuple)):
            if self.left <= 0:
                self._note_cut()
                return "… (cut)"
            if depth >= MAX_DEPTH:
                self.notes.append(f"config nested deeper than {MAX_DEPTH} levels at {where}; cut there")
                return f"… (nested deeper than {MAX_DEPTH} levels)"
            if isinstance(value, dict):
                return self.mapping(value, f"{where}.", depth)
            return self.sequence(value, where, depth)
        return self.text(str(value), where)

    def sequence(self, value: list | tuple, where: str, depth: int) -> list:
        result = [self.value(item, where, depth + 1) for item in value[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            self.notes.append(f"{where}: a list of {len(value):,} items; kept its first {MAX_ITEMS}")
            result.append("…")
        return result

    def text(self, value: str, where: str) -> str:
        value = clean(value)
        if len(value) <= MAX_TEXT:
            return value
        digest = hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()[:12]
        self.notes.append(f"{where}: a value of {len(value):,} characters; kept as its first "
                          f"{MAX_TEXT} and a hash")  # fmt: skip
        return f"{value[:MAX_TEXT]}… ({len(value):,} characters, sha256 {digest})"

    def integer(self, value: int, where: str) -> int | str:
        if INT_RANGE[0] <= value <= INT_RANGE[1]:
            return value
        self.notes.append(f"{where}: an integer beyond 64 bits; kept as text")
        try:
            return str(value)
        except ValueError:  # more digits than Python converts
            return f"{'-' if value < 0 else ''}an integer of {value.bit_length()} bits"

    def _note_cut(self) -> None:
        if not self._cut:
            self._cut = True
            self.notes.append(
                f"config holds more than {MAX_VALUES:,} values (YAML aliases?); the rest is cut"
            )


__all__ = ["MAX_DEPTH", "MAX_ITEMS", "MAX_TEXT", "MAX_VALUES", "Bounds", "admit", "clean"]
