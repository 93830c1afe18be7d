"""A minimal protocol-buffers wire-format decoder (no schema, no dependency).

The binary sources (TensorBoard event files, W&B transaction logs) store protobuf
messages. Reading them needs only the wire format: a message is a sequence of
``(field number, wire type, value)`` triples. Callers know the field numbers of
the few messages they care about and ignore everything else, so unknown fields,
new fields and unrelated record types cost nothing but a skip.

Length-delimited values are returned as zero-copy ``memoryview`` slices; nested
messages are decoded by calling :func:`iter_fields` on them again.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

VARINT = 0
"""Wire type of int32/int64/uint/bool/enum fields (and zigzag sint fields)."""
I64 = 1
"""Wire type of double/fixed64/sfixed64 fields."""
LEN = 2
"""Wire type of strings, bytes, nested messages and packed repeated fields."""
I32 = 5
"""Wire type of float/fixed32/sfixed32 fields."""

_DOUBLE = struct.Struct("<d")
_FLOAT = struct.Struct("<f")
_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")


class DecodeError(ValueError):
    """The bytes are not a well-formed protobuf message."""


Buffer = bytes | bytearray | memoryview


def read_varint(buf: Buffer, pos: int, end: int | None = None) -> tuple[int, int]:
    """Decode the base-128 varint at ``pos``; returns ``(value, next position)``."""
    limit = len(buf) if end is None else end
    result = 0
    shift = 0
    while True:
        if pos >= limit:
            raise DecodeError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise DecodeError("varint longer than 10 bytes")


def iter_fields(
    buf: Buffer, start: int = 0, end: int | None = None
) -> Iterator[tuple[int, int, int | memoryview]]:
    """Yield ``(field number, wire type, value)`` for every field in ``buf[start:end]``.

    Values: VARINT -> unsigned int (see :func:`to_int64`, :func:`to_sint`); I64 and I32
    -> the raw unsigned integer (see :func:`to_double`, :func:`to_float`); LEN -> a
    memoryview slice. Raises :class:`DecodeError` on malformed input.
    """
    view = buf if isinstance(buf, memoryview) else memoryview(buf)
    pos = start
    limit = len(view) if end is None else end
    while pos < limit:
        key, pos = read_varint(view, pos, limit)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise DecodeError("field number 0")
        if wire == VARINT:
            value, pos = read_varint(view, pos, limit)
            yield number, wire, value
        elif wire == LEN:
            size, pos = read_varint(view, pos, limit)
            if pos + size > limit:
                raise DecodeError("length-delimited field runs past the message")
            yield number, wire, view[pos : pos + size]
            pos += size
        elif wire == I64:
            if pos + 8 > limit:
                raise DecodeError("truncated 64-bit field")
            yield number, wire, _U64.unpack_from(view, pos)[0]
            pos += 8
        elif wire == I32:
            if pos + 4 > limit:
                raise DecodeError("truncated 32-bit field")
            yield number, wire, _U32.unpack_from(view, pos)[0]
            pos += 4
        else:
            raise DecodeError(f"unsupported wire type {wire}")


def fields(buf: Buffer) -> dict[int, list]:
    """Decode one message into ``{field number: [values in order]}`` (repeats kept)."""
    found: dict[int, list] = {}
    for number, _wire, value in iter_fields(buf):
        found.setdefault(number, []).append(value)
    return found


def last(message: dict[int, list], number: int, default=None):
    """The last value of a field (proto3 semantics for a non-repeated field)."""
    values = message.get(number)
    return values[-1] if values else default


def to_double(raw: int) -> float:
    """An I64 field's raw value as a double."""
    return _DOUBLE.unpack(_U64.pack(raw))[0]


def to_float(raw: int) -> float:
    """An I32 field's raw value as a float (widened to a Python float)."""
    return _FLOAT.unpack(_U32.pack(raw))[0]


def to_int64(raw: int) -> int:
    """A VARINT field's value as a signed int64/int32 (negatives use 10 bytes)."""
    return raw - (1 << 64) if raw >= 1 << 63 else raw


def to_sint(raw: int) -> int:
    """A zigzag-encoded sint32/sint64 VARINT value."""
    return (raw >> 1) ^ -(raw & 1)


def text(value: memoryview | bytes) -> str:
    """A string field (invalid UTF-8 replaced rather than raised)."""
    return bytes(value).decode("utf-8", errors="replace")


def packed_floats(value: memoryview) -> list[float]:
    """A packed ``repeated float`` field."""
    count = len(value) // 4
    return list(struct.unpack_from(f"<{count}f", value)) if count else []


def packed_doubles(value: memoryview) -> list[float]:
    """A packed ``repeated double`` field."""
    count = len(value) // 8
    return list(struct.unpack_from(f"<{count}d", value)) if count else []


def packed_varints(value: memoryview) -> list[int]:
    """A packed ``repeated int32/int64/bool/enum`` field (unsigned; see :func:`to_int64`)."""
    numbers: list[int] = []
    pos = 0
    while pos < len(value):
        number, pos = read_varint(value, pos)
        numbers.append(number)
    return numbers


__all__ = [
    "I32",
    "I64",
    "LEN",
    "VARINT",
    "DecodeError",
    "fields",
    "iter_fields",
    "last",
    "packed_doubles",
    "packed_floats",
    "packed_varints",
    "read_varint",
    "text",
    "to_double",
    "to_float",
    "to_int64",
    "to_sint",
]
