"""TFRecord framing (the container of TensorBoard event files) and its CRC-32C.

A TFRecord file is a sequence of records::

    uint64  length          little-endian
    uint32  masked_crc32c(length bytes)
    byte    data[length]
    uint32  masked_crc32c(data)

:func:`split_records` cuts a byte buffer into complete records, stopping before
a truncated trailing record (a writer may be in the middle of it: the caller
keeps the offset and retries when the file grows). Checksums are verified in
bulk with numpy, one table lookup per byte column across all records of the same
length, so verifying costs a small fraction of decoding; records larger than
:data:`CRC_MAX_BYTES` (images, graphs, histograms, never scalars) only have their
length checksum verified.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

CRC_MAX_BYTES = 64 * 1024
"""Data checksums of larger records are not verified (pure-Python CRC is too slow for them)."""
MAX_RECORD_BYTES = 256 * 1024 * 1024
"""A length field above this is treated as corruption, not as a record to wait for."""
_CHUNK = 32768
"""Records verified per numpy batch (bounds the gather matrix's memory)."""

_HEADER = struct.Struct("<QI")
_U32 = struct.Struct("<I")
_MASK_DELTA = 0xA282EAD8


def _crc32c_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc32c_table()
_NP_TABLE = np.array(_TABLE, dtype=np.uint32)


def crc32c(data: bytes | memoryview) -> int:
    """CRC-32C (Castagnoli) of ``data``: the checksum TFRecord uses (pure Python)."""
    crc = 0xFFFFFFFF
    table = _TABLE
    for byte in bytes(data):
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes | memoryview) -> int:
    """The masked form stored in TFRecord files."""
    return _mask(crc32c(data))


def _mask(crc: int) -> int:
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def frame(data: bytes) -> bytes:
    """One TFRecord record around ``data`` (used by tests and the benchmark writer)."""
    length = struct.pack("<Q", len(data))
    return (
        length
        + _U32.pack(masked_crc32c(length))
        + data
        + _U32.pack(masked_crc32c(data))
    )


@dataclass
class Framing:
    """Complete records found in a buffer, and how far they reach."""

    spans: list[tuple[int, int]] = field(default_factory=list)
    """``(start, end)`` of each record's data whose checksums are valid, in order."""
    consumed: int = 0
    """Bytes of the buffer taken by complete records (resume reading from here)."""
    errors: list[str] = field(default_factory=list)
    """One message per corrupt record (skipped, or the rest of the buffer abandoned)."""
    stopped: bool = False
    """True when a corrupt length made the rest of the buffer unreadable."""


_length_crc_cache: dict[int, int] = {}


def _length_crc(length_bytes: bytes, length: int) -> int:
    """Masked CRC of an 8-byte length field; lengths repeat, so results are memoised."""
    cached = _length_crc_cache.get(length)
    if cached is None:
        cached = masked_crc32c(length_bytes)
        if len(_length_crc_cache) < 65536:
            _length_crc_cache[length] = cached
    return cached


def split_records(buf: bytes, base_offset: int = 0) -> Framing:
    """Find the complete records in ``buf``; verify their checksums.

    ``base_offset`` is where ``buf`` starts in its file (only used in messages).
    A truncated trailing record is left unconsumed. A record whose length checksum
    fails makes the rest unreadable (``stopped``); one whose data checksum fails is
    skipped with an error and reading goes on.
    """
    result = Framing()
    candidates: list[tuple[int, int, int]] = []  # (start, end, stored crc)
    pos = 0
    size = len(buf)
    unpack = _HEADER.unpack_from
    while pos + 12 <= size:
        length, length_crc = unpack(buf, pos)
        if _length_crc(buf[pos : pos + 8], length) != length_crc or length > MAX_RECORD_BYTES:
            result.errors.append(f"corrupt record length at byte {base_offset + pos}")
            result.stopped = True
            break
        end = pos + 12 + length
        if end + 4 > size:
            break  # truncated trailing record: wait for the writer
        candidates.append((pos + 12, end, _U32.unpack_from(buf, end)[0]))
        pos = end + 4
    result.consumed = pos
    bad = _bad_checksums(buf, candidates)
    for index, (start, end, _crc) in enumerate(candidates):
        if index in bad:
            result.errors.append(f"record checksum mismatch at byte {base_offset + start - 12}")
        else:
            result.spans.append((start, end))
    return result


def _bad_checksums(buf: bytes, candidates: list[tuple[int, int, int]]) -> set[int]:
    """Indices of candidates whose data checksum does not match (large ones not checked)."""
    by_length: dict[int, list[int]] = {}
    for index, (start, end, _crc) in enumerate(candidates):
        if end - start <= CRC_MAX_BYTES:
            by_length.setdefault(end - start, []).append(index)
    if not by_length:
        return set()
    data = np.frombuffer(buf, dtype=np.uint8)
    bad: set[int] = set()
    for length, indices in by_length.items():
        for first in range(0, len(indices), _CHUNK):
            chunk = indices[first : first + _CHUNK]
            count = len(chunk)
            starts = np.fromiter((candidates[i][0] for i in chunk), dtype=np.int64, count=count)
            stored = np.fromiter((candidates[i][2] for i in chunk), dtype=np.uint32, count=count)
            computed = _np_masked_crc(data, starts, length)
            for position in np.flatnonzero(computed != stored):
                bad.add(chunk[int(position)])
    return bad


def _np_masked_crc(data: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """Masked CRC-32C of ``data[s:s+length]`` for every ``s`` in ``starts``, vectorised."""
    crc = np.full(len(starts), 0xFFFFFFFF, dtype=np.uint32)
    if length:
        # one row per byte position, so each step reads a contiguous row
        columns = data[np.arange(length, dtype=np.int64)[:, None] + starts[None, :]]
        table = _NP_TABLE
        for column in columns:
            crc = table[(crc ^ column) & 0xFF] ^ (crc >> 8)
    crc ^= np.uint32(0xFFFFFFFF)
    rotated = (crc >> np.uint32(15)) | (crc << np.uint32(17))
    return (rotated.astype(np.uint64) + _MASK_DELTA).astype(np.uint32)


__all__ = ["CRC_MAX_BYTES", "Framing", "crc32c", "frame", "masked_crc32c", "split_records"]
