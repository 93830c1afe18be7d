"""Incremental reading of append-only files.

:class:`FileTail` owns one file's read position: it reads only the bytes appended
since the last call, in chunks, hands back complete lines, keeps a partial last line
until its newline arrives, skips absurdly long lines without holding them, and notices
truncation and replacement (a new inode, or a file that vanished and came back).
A reader that parses many lines at once can ask for the complete lines as blocks of
bytes instead of a list (``split=False``), which saves a bytes object per line.

A reset (``TailRead.reset``) hands the file over from its start again: the reader
withdraws what the old content gave (see :class:`~sweeptui.events.FileReset`), so
each complete record the file holds now is ingested exactly once.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from sweeptui.settings import Settings
from sweeptui.sources.files import UNBOUNDED, UTF8_BOM, Boundary

CHUNK_BYTES = 1024 * 1024
"""Bytes read per system call: huge files are never loaded at once."""


class LineBlock(NamedTuple):
    """Complete lines as one bytes object: each line ends with its newline."""

    data: bytes
    lines: int


@dataclass(slots=True)
class TailRead:
    """What one :meth:`FileTail.read_lines` call found.

    ``lines`` are complete lines without their newline; a tail made with
    ``split=False`` leaves it empty and hands the same lines over in ``blocks``
    instead, in order (line indexes count across the blocks). ``reset`` is
    ``"truncated"`` or ``"replaced"`` when the file had to be read again from its
    start. ``more`` is True when the read stopped at ``max_bytes`` and more data is
    waiting.
    """

    lines: list[bytes] = field(default_factory=list)
    blocks: list[LineBlock] = field(default_factory=list)
    first_line: int = 1
    skipped_lines: list[int] = field(default_factory=list)
    reset: str | None = None
    warnings: list[str] = field(default_factory=list)
    missing: bool = False
    more: bool = False
    mtime: float | None = None

    @property
    def count(self) -> int:
        """Complete lines read: ``lines`` plus the lines of ``blocks``."""
        return len(self.lines) + sum(block.lines for block in self.blocks)

    def line_number(self, index: int) -> int:
        """1-based line number in the file of ``lines[index]``."""
        number = self.first_line + index
        for skipped in self.skipped_lines:
            if skipped <= number:
                number += 1
        return number


class FileTail:
    """Reads the complete new lines of one append-only file, one stat when idle.

    With ``split=False`` the lines come back as :class:`LineBlock` s in
    :attr:`TailRead.blocks` rather than one by one in :attr:`TailRead.lines`.
    """

    # slots: one per followed file, and a copy made in a child process comes back without a
    # dict of its own (a sweep of 20,000 runs holds 20,000 of these)
    __slots__ = ("_buffer", "_file", "_last_byte", "_problem", "_skipping", "_taken", "_vanished",
                 "boundary", "chunk_bytes", "identity", "lines_done", "max_line", "offset", "path",
                 "split")  # fmt: skip

    def __init__(
        self, path: Path, settings: Settings, chunk_bytes: int = CHUNK_BYTES, split: bool = True,
        boundary: Boundary = UNBOUNDED,
    ) -> None:  # fmt: skip
        self.path = path if isinstance(path, Path) else Path(path)  # one object per file, not two
        self.boundary = boundary
        self._file = os.fspath(path)  # the string, for the system calls of every read
        self.max_line = max(1, settings.max_line_bytes)
        self.chunk_bytes = chunk_bytes
        self.split = split
        self.offset = 0
        self.identity: tuple[int, int] | None = None
        self.lines_done = 0
        self._buffer = bytearray()
        self._skipping = False
        self._last_byte: bytes | None = None
        self._vanished = False
        self._problem: str | None = None
        self._taken = 0

    @property
    def file(self) -> str:
        """The file's path as a string."""
        return self._file

    @property
    def pending(self) -> bytes:
        """The partial last line waiting for its newline."""
        return bytes(self._buffer)

    @property
    def has_pending(self) -> bool:
        """Whether a partial last line is waiting (cheaper than :attr:`pending`)."""
        return bool(self._buffer)

    def take_pending(self) -> bytes:
        """The unterminated last line, handed over once: when its newline comes, it is not
        read again (only bytes added before that newline make it a new line)."""
        if self._skipping or not self._buffer or self._taken == len(self._buffer):
            return b""
        self._taken = len(self._buffer)
        return bytes(self._buffer)
    def read_lines(self, max_bytes: int | None = None) -> TailRead:
        """New complete lines since the previous call; never raises on I/O problems."""
        result = TailRead(first_line=self.lines_done + 1)
        info = self._stat(result)
        if info is None:
            return result
        result.mtime = info.st_mtime
        self._check_reset(info, result)
        if info.st_size == self.offset:
            self._problem = None
            return result
        try:
            self._read_new(result, max_bytes, info.st_size)
        except OSError as exc:
            self._report(result, f"cannot read file: {exc.strerror or exc}")
            return result
        self._problem = None
        return result

    # -- state checks -------------------------------------------------------------
    def _stat(self, result: TailRead) -> os.stat_result | None:
        try:
            info = os.stat(self._file)
        except FileNotFoundError:
            self._vanished = self.identity is not None
            result.missing = True
            self._report(result, "file is missing (deleted or a dangling link)")
            return None
        except OSError as exc:
            self._report(result, f"cannot read file: {exc.strerror or exc}")
            return None
        if not stat.S_ISREG(info.st_mode):
            self._report(result, "not a regular file; not read")
            return None
        if (info.st_dev, info.st_ino) != self.identity:  # a new file: where does it lead?
            outside = self.boundary.outside(self._file)
            if outside is not None:
                self._report(result, outside)
                return None
        return info

    def _report(self, result: TailRead, message: str) -> None:
        """Warn once per distinct problem, not on every poll."""
        if self._problem != message:
            self._problem = message
            result.warnings.append(message)

    def _check_reset(self, info: os.stat_result, result: TailRead) -> None:
        identity = (info.st_dev, info.st_ino)
        if self.identity is not None and (identity != self.identity or self._vanished):
            result.reset = "replaced"
        elif info.st_size < self.offset:
            result.reset = "truncated"
        self.identity = identity
        self._vanished = False
        if result.reset is not None:
            self._start_over(result, result.reset)

    def _start_over(self, result: TailRead, kind: str) -> None:
        result.reset = kind
        self.offset = 0
        self.lines_done = 0
        self._buffer.clear()
        self._skipping = False
        self._last_byte = None
        self._taken = 0
        result.first_line = 1

    # -- reading --------------------------------------------------------------------
    def _read_new(self, result: TailRead, max_bytes: int | None, size_seen: int) -> None:
        """Read from the offset up to ``size_seen``, the size the stat saw.

        Bytes written after that stat bring their own change and are read next time.
        """
        budget = max_bytes if max_bytes is not None else -1
        # Unbuffered: every read is one system call of exactly the bytes wanted, so a
        # small append costs two (the byte before the offset, then the new bytes).
        with self.boundary.open(self._file, checked=True) as handle:
            if self._last_byte is not None:
                # a file rewritten in place to a larger size shows a changed byte here
                handle.seek(self.offset - 1)
                if handle.read(1) != self._last_byte:
                    self._start_over(result, "truncated")
            handle.seek(self.offset)
            while budget != 0 and self.offset < size_seen:
                size = min(self.chunk_bytes, size_seen - self.offset)
                chunk = handle.read(size if budget < 0 else min(size, budget))
                if not chunk:
                    break  # shrank since the stat: the next read sees the truncation
                if self.offset == 0 and chunk.startswith(UTF8_BOM):
                    self._consume_from(chunk, 3, result)  # a byte-order mark is no data
                else:
                    self._consume_from(chunk, 0, result)
                if budget > 0:
                    budget = max(0, budget - len(chunk))
            if budget == 0:
                result.more = bool(handle.read(1))
        self.lines_done = result.first_line - 1 + result.count + len(result.skipped_lines)

    def _consume_from(self, chunk: bytes, start: int, result: TailRead) -> None:
        self.offset += len(chunk)
        self._last_byte = chunk[-1:]
        self._consume(chunk[start:] if start else chunk, result)

    def _consume(self, chunk: bytes, result: TailRead) -> None:
        start = 0
        if self._skipping:
            newline = chunk.find(b"\n")
            if newline < 0:
                return
            self._skipping = False
            start = newline + 1
        elif self._buffer:
            start = self._finish_buffered(chunk, result)
            if start < 0:
                return
        if self.split or self.max_line < self.chunk_bytes:
            parts = chunk[start:].split(b"\n")
            tail = parts.pop()
            if parts and self.max_line < self.chunk_bytes and max(map(len, parts)) > self.max_line:
                self._drop_long(parts, result)
            else:
                self._emit(result, parts)
        else:  # no line in a chunk can be too long: hand the complete lines over unsplit
            last = chunk.rfind(b"\n", start)
            end = start if last < 0 else last + 1
            if end > start:
                block = chunk[start:end]
                result.blocks.append(LineBlock(block, _newlines(block)))
            tail = chunk[end:]
        if len(tail) > self.max_line:
            self._start_skipping(result, result.count)
        else:
            self._buffer += tail

    def _emit(self, result: TailRead, lines: list[bytes]) -> None:
        """Hand complete lines over: to ``lines``, or as a block when not splitting."""
        if self.split:
            result.lines.extend(lines)
        elif lines:
            result.blocks.append(LineBlock(b"\n".join(lines) + b"\n", len(lines)))

    def _finish_buffered(self, chunk: bytes, result: TailRead) -> int:
        """Complete the buffered partial line; the offset after its newline, or -1."""
        newline = chunk.find(b"\n")
        end = len(chunk) if newline < 0 else newline
        if len(self._buffer) + end > self.max_line:
            self._buffer.clear()
            self._taken = 0
            self._start_skipping(result, result.count)
            if newline < 0:
                return -1
            self._skipping = False
            return newline + 1
        self._buffer += chunk[:end]
        if newline < 0:
            return -1
        if self._taken and self._taken == len(self._buffer):  # handed over by take_pending
            result.skipped_lines.append(result.first_line + result.count + len(result.skipped_lines))
        else:
            self._emit(result, [bytes(self._buffer)])
        self._taken = 0
        self._buffer.clear()
        return newline + 1

    def _drop_long(self, parts: list[bytes], result: TailRead) -> None:
        kept: list[bytes] = []
        for part in parts:
            if len(part) > self.max_line:
                self._emit(result, kept)
                kept = []
                self._start_skipping(result, result.count)
                self._skipping = False  # its newline is already here
            else:
                kept.append(part)
        self._emit(result, kept)

    def _start_skipping(self, result: TailRead, emitted: int) -> None:
        number = result.first_line + emitted + len(result.skipped_lines)
        result.skipped_lines.append(number)
        result.warnings.append(
            f"line {number} is longer than {self.max_line} bytes; skipped"
        )
        self._skipping = True


def reset_note(kind: str) -> str:
    """The warning for a log that was reset (``TailRead.reset``) and is read again in place
    of what it gave."""
    said = "replaced by a new file" if kind == "replaced" else "truncated"
    return f"{said}; the points read from it before are dropped and it is read again from its start"


def _newlines(data: bytes) -> int:
    """Newline bytes in ``data`` (numpy counts them several times faster than bytes.count)."""
    return int(np.count_nonzero(np.frombuffer(data, dtype=np.uint8) == 10))


__all__ = ["CHUNK_BYTES", "FileTail", "LineBlock", "TailRead", "reset_note"]
