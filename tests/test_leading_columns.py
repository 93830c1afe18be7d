"""The C reader of JSON lines: the numbers the JSON reader gives, or no line at all.

``leading_columns`` takes the leading lines of a block that are objects with the first
line's keys holding plain numbers, straight to doubles. Whatever it takes must be what
parsing the line gives, bit for bit; any other line ends what it takes, so the Python
path reads it; and no input, however damaged, makes it read outside its buffer.
"""

from __future__ import annotations

import json
import math
import random
import struct
from pathlib import Path

import pytest

from sweeptui.sources import columns
from sweeptui.sweep import Sweep

leading_columns = columns.leading_columns
needs_reader = pytest.mark.skipif(leading_columns is None, reason="the C reader is not built here")


def bits(value: float) -> bytes:
    return struct.pack("<d", value)


def unpacked(found: tuple) -> dict[str, list[float]]:
    keys, packed, lines, _ = found
    values = struct.unpack(f"{len(keys) * lines}d", packed)
    return {key: list(values[index * lines : (index + 1) * lines]) for index, key in enumerate(keys)}


def good_lines(count: int, start: int = 0) -> list[bytes]:
    return [b'{"step": %d, "loss": %r, "acc": 0.5}' % (i, 1.0 / (i + 1)) for i in range(start, start + count)]


def block(lines: list[bytes]) -> bytes:
    return b"".join(line + b"\n" for line in lines)


def test_the_c_reader_is_built() -> None:
    """The install compiles it wherever a C compiler is (this project's CI has one)."""
    assert leading_columns is not None, "sweeptui.sources._jsonl_columns was not compiled at install"


def number_texts(rng: random.Random) -> list[str]:
    texts = ["0", "-0", "0.0", "-0.0", "0e5", "-0E-5", "1", "-1", "1.5", "1e5", "1E+5", "1e-5",
             "2.30216", "0.000999998", "1700000000.940", "123456789012345", "1234567890123456",
             "9007199254740993", "18446744073709551615", "18446744073709551616",
             "123456789012345678901234567890", "0.1", "0.30000000000000004", "1e22", "1e23",
             "1e-22", "1e-23", "4.9e-324", "2.2250738585072014e-308", "1.7976931348623157e308",
             "1e-400", "NaN", "Infinity", "-Infinity", "5e-324", "2.5e-324",
             "0.000000000000000000001"]  # fmt: skip
    for _ in range(3000):
        kind = rng.randrange(4)
        if kind == 0:
            texts.append(repr(rng.uniform(-1e6, 1e6)))
        elif kind == 1:
            texts.append(f"{rng.random() * 10 ** rng.randint(-30, 30):.{rng.randint(1, 25)}g}")
        elif kind == 2:
            texts.append(str(rng.randint(-(2**70), 2**70)))
        else:
            digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 24)))
            texts.append(f"{rng.choice(['', '-'])}{int(digits)}.{digits}e{rng.randint(-320, 300)}")
    return texts


def overflows(text: str) -> bool:
    """A finite number too large for a double (Python's JSON reader makes it an infinity)."""
    return "Infinity" not in text and math.isinf(json.loads(text))


@needs_reader
def test_numbers_come_out_as_the_json_reader_gives_them() -> None:
    texts = [text for text in number_texts(random.Random(7)) if not overflows(text)]
    found = leading_columns(block([b'{"i": %d, "v": %s}' % (i, t.encode()) for i, t in enumerate(texts)]))
    assert found is not None and found[2] == len(texts)
    values = unpacked(found)["v"]
    for text, value in zip(texts, values, strict=True):
        expected = float(json.loads(text))  # what the Python path packs, ints included
        assert bits(value) == bits(expected), (text, value, expected)


@needs_reader
def test_an_overflowing_number_ends_the_lines_taken() -> None:
    """1e400 reads as an infinity in Python's JSON reader: the Python path decides it."""
    texts = ["1e400", "-1e400", "1" * 310, *filter(overflows, number_texts(random.Random(7)))]
    assert len(texts) > 10  # the random ones hold a few
    for text in texts:
        lines = [*good_lines(10), b'{"step": 10, "loss": %s, "acc": 0.5}' % text.encode(), *good_lines(5, 11)]
        found = leading_columns(block(lines))
        assert found[2] == 10 and found[3] == len(block(lines[:10])), text


ODD_LINES = [
    b'{"step": 10, "loss": true, "acc": 0.5}', b'{"step": 10, "loss": null, "acc": 0.5}',
    b'{"step": 10, "loss": "0.5", "acc": 0.5}', b'{"step": 10, "loss": [0.5], "acc": 0.5}',
    b'{"step": 10, "loss": {"a": 1}, "acc": 0.5}', b'{"step": 10, "loss": 0.5}',
    b'{"step": 10, "loss": 0.5, "acc": 0.5, "lr": 0.1}', b'{"loss": 0.5, "step": 10, "acc": 0.5}',
    b'{"step": 10, "loss": 0.5, "loss": 0.5}', b'{"step": 01, "loss": 0.5, "acc": 0.5}',
    b'{"step": +1, "loss": 0.5, "acc": 0.5}', b'{"step": .5, "loss": 0.5, "acc": 0.5}',
    b'{"step": 1., "loss": 0.5, "acc": 0.5}', b'{"step": 1e, "loss": 0.5, "acc": 0.5}',
    b'{"step": -, "loss": 0.5, "acc": 0.5}', b'{"step": 10, "loss": NaNx, "acc": 0.5}',
    b'{"step": 10, "loss": -NaN, "acc": 0.5}', b'{"step": 10, "loss": nan, "acc": 0.5}',
    b'{"step": 10, "loss": Infinit, "acc": 0.5}', b'{"st\\u0065p": 10, "loss": 0.5, "acc": 0.5}',
    b'{"st\tep": 10, "loss": 0.5, "acc": 0.5}', b"", b"   ", b"[1, 2, 3]", b"3",
    b'{"step": 10, "loss": 0.5, "acc": 0.5} x', b'{"step": 10, "loss": 0.5, "acc": 0.5}{}',
    b'{"step": 10, "loss": 0.5, "acc": 0.5', b'{"step": 10 "loss": 0.5, "acc": 0.5}',
    b'{"step" 10, "loss": 0.5, "acc": 0.5}', b'{"step": 10, "loss": 0.5, "acc": 0.5,}',
    b'{"step": 10, "loss": 1%s, "acc": 0.5}' % (b"0" * 80), b'{"status": "finished"}',
    b'\xef\xbb\xbf{"step": 10, "loss": 0.5, "acc": 0.5}', b'{"step": 10, "lo\xffss": 0.5, "acc": 0.5}',
]  # fmt: skip


@needs_reader
@pytest.mark.parametrize("odd", ODD_LINES)
def test_a_line_of_another_shape_ends_the_lines_taken(odd: bytes) -> None:
    lines = [*good_lines(10), odd, *good_lines(5, 11)]
    found = leading_columns(block(lines))
    assert found is not None and found[2] == 10, odd
    assert found[3] == len(block(lines[:10]))
    assert unpacked(found)["step"] == [float(i) for i in range(10)]


@needs_reader
@pytest.mark.parametrize(
    "data",
    [b"\n", b"{}\n", b"[]\n", b'{"a": 1, "a": 2}\n', b'{"a": "x"}\n', b'{"\xff": 1}\n', b'{"a": 1}',
     b'{"a": 1}   ', b""],
)  # fmt: skip
def test_a_first_line_of_another_shape_takes_nothing(data: bytes) -> None:
    """Nothing taken, whatever follows (a last line without its newline is not complete)."""
    assert leading_columns(data) is None
    if data.endswith(b"\n"):
        assert leading_columns(data + block(good_lines(10))) is None


@needs_reader
def test_spaces_tabs_and_carriage_returns_between_tokens_are_read() -> None:
    records = [{"step": i, "loss": 0.25 * i, "time": 1_700_000_000.5 + i} for i in range(12)]
    styles = [json.dumps(r) for r in records[:4]]  # ", " and ": " separators
    styles += [json.dumps(r, separators=(",", ":")) + "\r" for r in records[4:8]]  # CRLF
    styles += [f'\t{{ "step" :\t{r["step"]} , "loss" : {r["loss"]!r} , "time" : {r["time"]!r} }}  '
               for r in records[8:]]  # fmt: skip
    found = leading_columns("".join(s + "\n" for s in styles).encode())
    assert found[2] == 12
    got = unpacked(found)
    assert got["loss"] == [r["loss"] for r in records] and got["time"] == [r["time"] for r in records]


@needs_reader
def test_unicode_keys_come_out_as_text() -> None:
    found = leading_columns(block([b'{"\xc3\xa9tape": %d, "p\xc3\xa9rte": 0.5}' % i for i in range(9)]))
    assert found[0] == ("étape", "pérte") and found[2] == 9


@needs_reader
def test_random_damage_never_takes_a_line_the_json_reader_reads_otherwise() -> None:
    """Bytes flipped, dropped and inserted in a good block: every line taken parses alone
    to an object with the reader's keys and exactly its numbers; nothing crashes."""
    rng = random.Random(11)
    base = bytearray(block(good_lines(20)) + block([b'{"step": 20, "loss": NaN, "acc": -Infinity}']))
    alphabet = b'{}[]":,. -+eE0123456789NaIfinty\t\r\n\\\xff'
    for _ in range(3000):
        data = bytearray(base)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(data))
            action = rng.randrange(3)
            if action == 0:
                data[at] = rng.choice(alphabet)
            elif action == 1:
                del data[at]
            else:
                data.insert(at, rng.choice(alphabet))
        found = leading_columns(bytes(data))
        if found is None:
            continue
        keys, _, lines, size = found
        taken = bytes(data[:size]).split(b"\n")[:-1]
        assert len(taken) == lines
        got = unpacked(found)
        for index, line in enumerate(taken):
            record = json.loads(line)
            assert list(record) == list(keys), line
            for key in keys:
                assert type(record[key]) in (int, float), line
                assert bits(float(record[key])) == bits(got[key][index]), line


def write_sweep(root: Path) -> None:
    """Logs of every shape the reader meets: plain, NaN tokens, an end marker last,
    json.dumps spacing, keys changing midway, a blank line, a huge integer, a bool."""
    def run(name: str, lines: list[str]) -> None:
        (root / name).mkdir(parents=True)
        (root / name / "config.json").write_text(json.dumps({"lr": 0.01, "name": name}))
        (root / name / "metrics.jsonl").write_text("".join(line + "\n" for line in lines))

    def record(i: int, val_loss: float | None = None) -> str:
        val_loss = 2.1 - i / 60 if val_loss is None else val_loss
        return json.dumps({"step": i, "epoch": i // 10, "train_loss": 2 - i / 50, "val_loss": val_loss,
                           "time": 1_700_000_000 + i})  # fmt: skip

    plain = [record(i) for i in range(60)]
    run("plain", plain)
    run("nan", [record(i, math.nan if i > 30 else None) for i in range(60)])  # json.dumps writes NaN
    run("ended", [*plain, json.dumps({"status": "finished"})])
    run("changing", plain[:20] + [json.dumps({"step": 20 + i, "lr": 0.1}) for i in range(20)] + plain[40:])
    run("blank", [*plain[:25], "", *plain[25:]])
    run("huge", [*plain[:15], '{"step": 15, "train_loss": 123456789012345678901234567890}', *plain[16:]])
    run("bool", [*plain[:15], '{"step": 15, "epoch": 1, "train_loss": true, "val_loss": 1.0, "time": 1}'])
    run("bare", [json.dumps({"loss": 1 / (i + 1)}) for i in range(30)])


def loaded(root: Path) -> dict:
    sweep = Sweep(root)
    sweep.load(now=1_700_000_100)
    runs = {}
    for run_id, run in sweep.store.runs.items():
        runs[run_id] = {
            "status": run.status, "records": run.records, "updates": (run.first_update, run.last_update),
            "metrics": {name: (series.steps.tobytes(), series.values.tobytes())
                        for name, series in run.metrics.items()},
            "epochs": None if run.epochs is None else run.epochs.values.tobytes(),
        }  # fmt: skip
    issues = sorted((i.run, i.type, i.step) for i in sweep.store.issues)
    return {"runs": runs, "issues": issues, "warnings": sorted(w.message for w in sweep.store.warnings)}


@needs_reader
def test_a_sweep_loads_the_same_with_and_without_the_c_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_sweep(tmp_path)
    with_reader = loaded(tmp_path)
    monkeypatch.setattr(columns, "leading_columns", None)
    without = loaded(tmp_path)
    assert with_reader == without
    assert set(with_reader["runs"]) == {"plain", "nan", "ended", "changing", "blank", "huge", "bool", "bare"}
    assert with_reader["runs"]["ended"]["status"] == "finished"
    assert any(issue[:2] == ("nan", "nan_or_inf_metric") for issue in with_reader["issues"])
    huge = struct.unpack("60d", with_reader["runs"]["huge"]["metrics"]["train_loss"][1])
    assert huge[15] == float(123456789012345678901234567890)


@needs_reader
def test_a_wide_line_over_millions_of_blank_ones_asks_for_little_memory() -> None:
    """Room for a row per line would be 40 GB here (256 keys x 20M lines): the reader sizes
    it by what the bytes could hold instead, and takes the one line there is."""
    wide = b"{" + b",".join(b'"k%d":%d' % (i, i) for i in range(256)) + b"}\n"
    found = leading_columns(wide + b"\n" * 20_000_000)
    assert found is not None and found[2] == 1 and found[3] == len(wide)
    assert unpacked(found)["k255"] == [255.0]
