"""Tolerant JSON value parsing for every source: NaN tokens, stray bytes, loose numbers.

``orjson`` is the fast path. It rejects the bare ``NaN`` / ``Infinity`` tokens that
Python's ``json`` writes, and those non-finite values are the most important data a
sweep monitor reads, so a failed fast parse falls back to the standard library,
which accepts them. Bytes that are not UTF-8 are decoded with replacement characters
and the caller is told, so it can warn about the file and line.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import orjson

MILLISECONDS_THRESHOLD = 1e11
"""Epoch timestamps above this are milliseconds (1e11 seconds is the year 5138)."""
BISECT_LINES = 32
"""Lines below which a span that does not parse as a whole is parsed line by line."""

SpanParser = Callable[[memoryview, int, int], "list | None"]
"""``(elements, first, lines)``: the records of a span parsed whole, None to split it."""
LineParser = Callable[[bytes, int], list]
"""``(lines' bytes, first)``: the records of a few lines, each parsed alone."""


def parse_block(data: bytes, lines: int, first: int, whole: SpanParser, alone: LineParser) -> list:
    """The records of ``lines`` complete lines in ``data`` (line ``first`` on).

    A span of lines is parsed as one JSON array, its newlines turned into commas (no
    bytes object and no call per line) by ``whole``, given the elements between the
    brackets, the index of the span's first line and its number of lines; a span it
    does not take (None) is halved until its halves parse, and spans of
    :data:`BISECT_LINES` or fewer go to ``alone``, so every line gets exactly the fate it
    would get by itself.
    """
    commas = data.replace(b"\n", b",")
    return _parse_span(data, commas, 0, len(data), first, lines, whole, alone)


def _parse_span(
    data: bytes, commas: bytes, begin: int, end: int, first: int, lines: int, whole: SpanParser,
    alone: LineParser,
) -> list:  # fmt: skip
    # A function of its own, not a closure calling itself: that closure would hold itself,
    # and the block's bytes with it, in a cycle only the collector (paused while a sweep
    # is read) frees; a 5M-line log kept ~320 MB of blocks that way.
    records = whole(memoryview(commas)[begin : end - 1], first, lines)
    if records is not None:
        return records
    if lines <= BISECT_LINES:
        return alone(data[begin:end], first)
    middle = data.index(b"\n", (begin + end) // 2 - 1) + 1
    if middle >= end:
        middle = data.rindex(b"\n", begin, end - 1) + 1
    head = data.count(b"\n", begin, middle)
    return _parse_span(data, commas, begin, middle, first, head, whole, alone) + _parse_span(
        data, commas, middle, end, first + head, lines - head, whole, alone
    )


def parse_json(data: bytes | str) -> tuple[Any, bool]:
    """Parse one JSON document; return ``(value, had_invalid_utf8)``.

    Raises ``ValueError`` when the text is not JSON (even after the fallback).
    """
    try:
        return orjson.loads(data), False
    except orjson.JSONDecodeError:
        return parse_json_fallback(data)


def parse_json_fallback(data: bytes | str) -> tuple[Any, bool]:
    """The standard-library half of :func:`parse_json`, for text orjson already rejected.

    Callers that ran ``orjson.loads`` themselves use this so a line is never given
    to orjson twice. Raises ``ValueError`` when the text is not JSON.
    """
    replaced = False
    if isinstance(data, (bytes, bytearray, memoryview)):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            text = bytes(data).decode("utf-8", errors="replace")
            replaced = True
    else:
        text = data
    try:
        return json.loads(text), replaced
    except RecursionError as exc:  # absurdly deep nesting: treat as malformed
        raise ValueError("JSON nested too deeply") from exc


def to_float(value: Any) -> float | None:
    """A number as float; ``"nan"``/``"inf"``/numeric strings too; bools and the rest: None."""
    kind = type(value)
    if kind is float:
        return value
    if kind is int:
        return _int_to_float(value)
    if kind is str:
        return _str_to_float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _int_to_float(value: int) -> float:
    try:
        return float(value)
    except OverflowError:  # a JSON integer beyond float range is, for plotting, infinite
        return math.inf if value > 0 else -math.inf


def _str_to_float(text: str) -> float | None:
    if "_" in text:  # float() accepts "1_000"; a metric log never means that
        return None
    try:
        return float(text)
    except ValueError:
        return None


def parse_time(value: Any) -> float | None:
    """Seconds since the epoch from a number or an ISO-8601 string; None when not a time.

    Millisecond epoch values are recognised by size. Naive ISO strings are local time.
    """
    number = to_float(value)
    if number is not None:
        if not math.isfinite(number):
            return None
        return number / 1000.0 if abs(number) > MILLISECONDS_THRESHOLD else number
    if not isinstance(value, str) or not value.strip():
        return None
    return _parse_iso(value.strip())


def _parse_iso(text: str) -> float | None:
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.timestamp()
    return moment.astimezone(timezone.utc).timestamp()


def json_kind(value: Any) -> str:
    """What a parsed JSON value is, for a warning: ``true``, ``null``, ``a string``, ``a list``..."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (int, float)):
        return "a number"
    return "a list" if isinstance(value, list) else "an object"


def values_equal(first: Any, second: Any) -> bool:
    """Equality of parsed values where NaN equals NaN (records compared across rewrites)."""
    if first is second:
        return True
    if isinstance(first, float) and isinstance(second, float):
        return first == second or (math.isnan(first) and math.isnan(second))
    if isinstance(first, dict) and isinstance(second, dict):
        return first.keys() == second.keys() and all(
            values_equal(value, second[key]) for key, value in first.items()
        )
    if isinstance(first, list) and isinstance(second, list):
        return len(first) == len(second) and all(map(values_equal, first, second))
    return bool(first == second)


__all__ = ["json_kind", "parse_json", "parse_json_fallback", "parse_time", "to_float", "values_equal"]
