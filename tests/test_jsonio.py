"""Tolerant JSON parsing: NaN tokens, non-finite strings, bad bytes, timestamps."""

from __future__ import annotations

import gc
import math

import orjson
import pytest

from sweeptui.sources.jsonio import (
    parse_block,
    parse_json,
    parse_json_fallback,
    parse_time,
    to_float,
    values_equal,
)


def test_bare_nan_and_infinity_tokens_survive_the_fallback() -> None:
    value, replaced = parse_json(b'{"loss": NaN, "hi": Infinity, "lo": -Infinity, "ok": 1.5}')
    assert not replaced
    assert math.isnan(value["loss"])
    assert value["hi"] == math.inf and value["lo"] == -math.inf
    assert value["ok"] == 1.5


def test_plain_json_takes_the_fast_path_unchanged() -> None:
    assert parse_json(b'[1, "a", null, true]') == ([1, "a", None, True], False)


def test_invalid_utf8_is_replaced_and_reported() -> None:
    value, replaced = parse_json(b'{"name": "caf\xe9", "loss": 2.0}')
    assert replaced
    assert value["loss"] == 2.0
    assert value["name"] == "caf\ufffd"


def test_malformed_json_raises_value_error() -> None:
    with pytest.raises(ValueError):
        parse_json(b'{"loss": 1.0')


@pytest.mark.parametrize("text", ["nan", "NaN", "NAN", "inf", "-inf", "Infinity", "-INFINITY"])
def test_non_finite_strings_become_non_finite_floats(text: str) -> None:
    number = to_float(text)
    assert number is not None and not math.isfinite(number)
    if "nan" in text.lower():
        assert math.isnan(number)
    else:
        assert number == (-math.inf if text.startswith("-") else math.inf)


def test_to_float_accepts_numbers_and_numeric_strings_only() -> None:
    assert to_float(3) == 3.0 and type(to_float(3)) is float
    assert to_float(0.25) == 0.25
    assert to_float(" 1e-3 ") == 0.001
    assert to_float(True) is None and to_float(False) is None
    for other in ("abc", "", "1_000", None, [1.0], {"a": 1}):
        assert to_float(other) is None
    assert to_float(10**400) == math.inf


def test_parse_time_reads_seconds_milliseconds_and_iso_strings() -> None:
    assert parse_time(1700000000) == 1700000000.0
    assert parse_time(1700000000123) == pytest.approx(1700000000.123)
    assert parse_time("2023-11-14T22:13:20Z") == 1700000000.0
    assert parse_time("2023-11-14T23:13:20+01:00") == 1700000000.0
    assert parse_time("1700000000.5") == 1700000000.5
    for other in ("yesterday", "", None, True, float("nan")):
        assert parse_time(other) is None


def test_values_equal_treats_nan_as_equal_to_nan() -> None:
    assert values_equal({"a": [float("nan"), 1]}, {"a": [float("nan"), 1]})
    assert not values_equal({"a": 1.0}, {"a": 2.0})
    assert not values_equal({"a": 1.0}, {"a": 1.0, "b": 2.0})


def test_a_block_parsed_in_halves_leaves_nothing_for_the_collector() -> None:
    """Blocks are parsed while the cyclic collector is paused (a sweep being read): a
    parse that left a cycle behind kept each block's bytes until the end of the read
    (a 5M-line log held ~320 MB more). Halved spans, a bad line, a NaN token."""
    lines = [b'{"step": %d, "loss": 0.5}' % i for i in range(200)]
    lines[57] = b"{not json"
    lines[140] = b'{"step": 140, "loss": NaN}'
    data = b"".join(line + b"\n" for line in lines)

    def whole(elements: memoryview, first: int, count: int) -> list | None:
        try:
            parsed = orjson.loads(b"".join((b"[", elements, b"]")))
        except orjson.JSONDecodeError:
            return None
        return parsed if len(parsed) == count else None

    def alone(chunk: bytes, first: int) -> list:
        return [parse_json_fallback(line)[0] if line.strip() != b"{not json" else None
                for line in chunk.split(b"\n")[:-1]]  # fmt: skip

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        gc.collect()
        records = parse_block(data, len(lines), 0, whole, alone)
        assert gc.collect() == 0
    finally:
        if was_enabled:
            gc.enable()
    assert len(records) == 200 and records[57] is None and records[199] == {"step": 199, "loss": 0.5}
    assert math.isnan(records[140]["loss"])
