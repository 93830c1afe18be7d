"""FileTail: incremental reads, partial lines, resets, long lines, unreadable paths."""

from __future__ import annotations

import os
from pathlib import Path

from sweeptui.settings import Settings
from sweeptui.sources.tail import FileTail


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as handle:
        handle.write(data)


def test_reads_only_the_bytes_appended_since_the_last_read(tmp_path: Path) -> None:
    log = tmp_path / "m.jsonl"
    log.write_bytes(b"a\nb\n")
    tail = FileTail(log, Settings())
    assert tail.read_lines().lines == [b"a", b"b"]
    append(log, b"c\n")
    read = tail.read_lines()
    assert read.lines == [b"c"]
    assert read.first_line == 3 and read.reset is None
    assert tail.offset == log.stat().st_size
    assert tail.read_lines().lines == []


def test_partial_last_line_waits_for_its_newline(tmp_path: Path) -> None:
    log = tmp_path / "m.jsonl"
    log.write_bytes(b'{"step": 1}\n{"step": 2, "lo')
    tail = FileTail(log, Settings())
    assert tail.read_lines().lines == [b'{"step": 1}']
    assert tail.pending == b'{"step": 2, "lo'
    append(log, b'ss": 0.5}')
    assert tail.read_lines().lines == []
    append(log, b"\n")
    assert tail.read_lines().lines == [b'{"step": 2, "loss": 0.5}']
    assert tail.pending == b""


def test_small_chunks_give_the_same_lines(tmp_path: Path) -> None:
    log = tmp_path / "m.jsonl"
    lines = [f"line-{i}-{'x' * (i % 7)}".encode() for i in range(200)]
    log.write_bytes(b"\n".join(lines) + b"\n")
    tail = FileTail(log, Settings(), chunk_bytes=5)
    assert tail.read_lines().lines == lines


def test_max_bytes_stops_early_and_reports_more(tmp_path: Path) -> None:
    log = tmp_path / "m.jsonl"
    log.write_bytes(b"".join(f"{i:04d}\n".encode() for i in range(100)))
    tail = FileTail(log, Settings(), chunk_bytes=50)
    first = tail.read_lines(max_bytes=100)
    assert first.more and len(first.lines) == 20
    rest = tail.read_lines()
    assert not rest.more and rest.first_line == 21
    assert first.lines + rest.lines == [f"{i:04d}".encode() for i in range(100)]


def test_truncation_resets_to_the_start(tmp_path: Path) -> None:
    log = tmp_path / "m.jsonl"
    log.write_bytes(b"one\ntwo\nthree\n")
    tail = FileTail(log, Settings())
    tail.read_lines()
    log.write_bytes(b"new\n")
    read = tail.read_lines()
    assert read.reset == "truncated"
    assert read.lines == [b"new"] and read.first_line == 1


def test_in_place_rewrite_to_a_larger_size_is_a_reset(tmp_path: Path) -> None:
    log = tmp_path / "m.csv"
    log.write_bytes(b"step,loss\n0,1.0\n")
    tail = FileTail(log, Settings())
    tail.read_lines()
    with open(log, "r+b") as handle:  # same inode, rewritten with an extra column
        handle.write(b"step,loss,acc\n0,1.0,0.5\n1,0.9,0.6\n")
    read = tail.read_lines()
    assert read.reset == "truncated"
    assert read.lines[0] == b"step,loss,acc"


def test_delete_and_recreate_is_a_replacement(tmp_path: Path) -> None:
    log = tmp_path / "m.jsonl"
    log.write_bytes(b"old-1\nold-2\n")
    tail = FileTail(log, Settings())
    tail.read_lines()
    log.unlink()
    gone = tail.read_lines()
    assert gone.missing and len(gone.warnings) == 1
    log.write_bytes(b"new-1\nnew-2\nnew-3\n")  # inode numbers may be reused: still replaced
    read = tail.read_lines()
    assert read.reset == "replaced"
    assert read.lines == [b"new-1", b"new-2", b"new-3"]


def test_rotation_to_a_new_inode_is_a_replacement(tmp_path: Path) -> None:
    log = tmp_path / "m.jsonl"
    log.write_bytes(b"a\nb\n")
    tail = FileTail(log, Settings())
    tail.read_lines()
    fresh = tmp_path / "fresh"
    fresh.write_bytes(b"a\nb\nc\n")
    os.replace(fresh, log)
    read = tail.read_lines()
    assert read.reset == "replaced" and read.lines == [b"a", b"b", b"c"]


def test_missing_file_warns_once_and_never_raises(tmp_path: Path) -> None:
    tail = FileTail(tmp_path / "absent.jsonl", Settings())
    first = tail.read_lines()
    assert first.missing and len(first.warnings) == 1
    assert tail.read_lines().warnings == []
    (tmp_path / "absent.jsonl").write_bytes(b"x\n")
    assert tail.read_lines().lines == [b"x"]


def test_a_directory_in_place_of_the_file_warns_once(tmp_path: Path) -> None:
    target = tmp_path / "metrics.jsonl"
    target.mkdir()  # open() of a directory fails even for root
    tail = FileTail(target, Settings())
    first = tail.read_lines()
    assert first.lines == [] and len(first.warnings) == 1
    assert tail.read_lines().warnings == []


def test_a_fifo_is_not_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "metrics.jsonl"
    os.mkfifo(fifo)  # opening it for reading would block forever
    tail = FileTail(fifo, Settings())
    read = tail.read_lines()
    assert read.lines == [] and "not a regular file" in read.warnings[0]


def test_dangling_symlink_warns_and_does_not_raise(tmp_path: Path) -> None:
    link = tmp_path / "metrics.jsonl"
    link.symlink_to(tmp_path / "nowhere")
    read = FileTail(link, Settings()).read_lines()
    assert read.missing and read.warnings


def test_overlong_line_is_skipped_and_reading_resynchronises(tmp_path: Path) -> None:
    log = tmp_path / "m.jsonl"
    log.write_bytes(b"short-1\n" + b"y" * 5000 + b"\nshort-2\n")
    tail = FileTail(log, Settings(max_line_bytes=100), chunk_bytes=64)
    read = tail.read_lines()
    assert read.lines == [b"short-1", b"short-2"]
    assert read.skipped_lines == [2]
    assert read.line_number(1) == 3
    assert len(read.warnings) == 1 and "line 2" in read.warnings[0]


def test_overlong_line_split_across_reads_is_never_held(tmp_path: Path) -> None:
    log = tmp_path / "m.jsonl"
    log.write_bytes(b"ok\n" + b"z" * 300)
    tail = FileTail(log, Settings(max_line_bytes=100), chunk_bytes=64)
    first = tail.read_lines()
    assert first.lines == [b"ok"] and len(first.warnings) == 1
    assert tail.pending == b""
    append(log, b"z" * 300)
    assert tail.read_lines().warnings == []
    append(log, b"zz\nafter\n")
    read = tail.read_lines()
    assert read.lines == [b"after"] and read.first_line == 3


def test_a_real_50_mb_line_is_skipped(tmp_path: Path) -> None:
    log = tmp_path / "m.jsonl"
    with open(log, "wb") as handle:
        handle.write(b'{"step": 0, "loss": 1.0}\n')
        handle.write(b'{"blob": "' + b"q" * (50 * 1024 * 1024) + b'"}\n')
        handle.write(b'{"step": 1, "loss": 0.5}\n')
    tail = FileTail(log, Settings(max_line_bytes=1024 * 1024))
    read = tail.read_lines()
    assert read.lines == [b'{"step": 0, "loss": 1.0}', b'{"step": 1, "loss": 0.5}']
    assert read.skipped_lines == [2]
    assert len(tail.pending) == 0


# -- lines handed over as blocks (split=False) -----------------------------------------------
def block_lines(read) -> list[bytes]:
    """The lines of a block-mode read, split here; checks each block's line count."""
    lines: list[bytes] = []
    for block in read.blocks:
        assert block.data.endswith(b"\n")
        parts = block.data.split(b"\n")[:-1]
        assert len(parts) == block.lines
        lines.extend(parts)
    assert read.lines == [] and read.count == len(lines)
    return lines


def test_blocks_hold_the_same_lines_at_every_chunk_size(tmp_path: Path) -> None:
    log = tmp_path / "m.jsonl"
    lines = [f"line-{i}-{'x' * (i % 11)}".encode() for i in range(300)]
    log.write_bytes(b"\n".join(lines) + b"\npartial")
    for chunk_bytes in (1, 5, 50, 4096):
        tail = FileTail(log, Settings(), chunk_bytes=chunk_bytes, split=False)
        read = tail.read_lines()
        assert block_lines(read) == lines, chunk_bytes
        assert tail.pending == b"partial" and tail.lines_done == 300


def test_blocks_continue_a_partial_line_and_number_the_next_read(tmp_path: Path) -> None:
    log = tmp_path / "m.jsonl"
    log.write_bytes(b'{"a": 1}\n{"a": 2, "b')
    tail = FileTail(log, Settings(), chunk_bytes=8, split=False)
    assert block_lines(tail.read_lines()) == [b'{"a": 1}']
    append(log, b'": 3}\n{"a": 4}\n')
    read = tail.read_lines()
    assert block_lines(read) == [b'{"a": 2, "b": 3}', b'{"a": 4}']
    assert read.first_line == 2 and read.line_number(1) == 3


def test_blocks_stop_at_max_bytes_like_lines(tmp_path: Path) -> None:
    log = tmp_path / "m.jsonl"
    log.write_bytes(b"".join(f"{i:04d}\n".encode() for i in range(100)))
    tail = FileTail(log, Settings(), chunk_bytes=50, split=False)
    first = tail.read_lines(max_bytes=100)
    assert first.more and first.count == 20
    rest = tail.read_lines()
    assert rest.first_line == 21
    assert block_lines(first) + block_lines(rest) == [f"{i:04d}".encode() for i in range(100)]


def test_blocks_skip_overlong_lines_with_their_numbers(tmp_path: Path) -> None:
    log = tmp_path / "m.jsonl"
    log.write_bytes(b"short-1\n" + b"y" * 5000 + b"\nshort-2\nshort-3\n" + b"w" * 150 + b"\nend\n")
    for chunk_bytes in (64, 200):
        tail = FileTail(log, Settings(max_line_bytes=100), chunk_bytes=chunk_bytes, split=False)
        read = tail.read_lines()
        assert block_lines(read) == [b"short-1", b"short-2", b"short-3", b"end"]
        assert read.skipped_lines == [2, 5]
        assert [read.line_number(i) for i in range(4)] == [1, 3, 4, 6]
