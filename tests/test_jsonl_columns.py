"""JSONL logs read in bulk give the same points as reading them line by line.

Records that share their keys are turned into columns a span at once; anything
unusual (bools, nulls, strings, NaN steps, millisecond times, changing keys, bad
lines) must come out exactly as the record-by-record rules say. Every test runs
twice: with the C reader taking the leading lines of plain numbers, and without it
(an install with no C compiler), where Python parses every line.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from sweeptui.sources import columns
from sweeptui.sweep import Sweep


@pytest.fixture(params=["c-reader", "python-only"], autouse=True)
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "python-only":
        monkeypatch.setattr(columns, "leading_columns", None)
    elif columns.leading_columns is None:
        pytest.skip("the C reader is not built here (test_leading_columns.py says so)")
    return request.param

BASE_TIME = 1_700_000_000.0


def mixed_records() -> list[dict]:
    """Spans of several shapes, each long enough to be read column by column."""
    records: list[dict] = []
    for i in range(40):  # plain numbers, NaN and inf tokens
        loss = math.nan if i == 20 else (math.inf if i == 25 else 2.0 - i / 40)
        records.append({"step": i, "epoch": i // 10, "loss": loss, "acc": i / 40,
                        "time": BASE_TIME + i})  # fmt: skip
    for i in range(40, 50):  # a column with nulls first met after a later column
        records.append({"step": i, "loss": 1.0, "val": None if i % 3 else i * 0.5,
                        "mix": 0.5 if i % 2 else 0, "time": BASE_TIME + i})  # fmt: skip
    for i in range(50, 60):  # a bool column, and a bool hidden among 0 and 1
        records.append({"step": i, "loss": 1.0, "flag": i % 2 == 0,
                        "hidden": True if i % 2 else 1, "time": BASE_TIME + i})  # fmt: skip
    for i in range(60, 75):  # numeric strings, a NaN step, millisecond times
        step = math.nan if i == 70 else i
        records.append({"step": step, "loss": "nan" if i % 5 == 0 else str(i),
                        "time": (BASE_TIME + i) * 1000})  # fmt: skip
    for i in range(75, 90):  # no step: the epoch stands in
        records.append({"epoch": i, "loss": 0.25, "time": BASE_TIME + i})
    return records


def expected_points(
    records: list[dict], bad_line_before: int | None = None
) -> dict[str, list[tuple[float, float]]]:
    """The documented rules, applied by hand: numbers and numeric strings are points.

    A record without a usable step sits at its position in the log, where a bad
    line takes a position too.
    """
    points: dict[str, list[tuple[float, float]]] = {}
    for index, record in enumerate(records):
        position = index + (1 if bad_line_before is not None and index >= bad_line_before else 0)
        step = record.get("step", record.get("epoch"))
        if step is None or step != step:
            step = position
        for key, value in record.items():
            if key in ("step", "epoch", "time") or isinstance(value, bool) or value is None:
                continue
            points.setdefault(key, []).append((float(step), float(value)))
    return points


def write_log(run: Path, records: list[dict], extra_lines: dict[int, str]) -> None:
    run.mkdir(parents=True)
    (run / "config.json").write_text('{"lr": 0.1}')
    text = []
    for index, record in enumerate(records):
        if index in extra_lines:
            text.append(extra_lines[index])
        text.append(json.dumps(record))
    (run / "metrics.jsonl").write_text("\n".join(text) + "\n")


def whole_and_drip(tmp_path: Path, records: list[dict]) -> tuple[Sweep, Sweep]:
    """The same records read at once from a finished log, and one record per read as
    they are appended (never a span to take at once)."""
    write_log(tmp_path / "whole" / "run", records, {})
    whole = Sweep(tmp_path / "whole")
    whole.load()
    (tmp_path / "drip" / "run").mkdir(parents=True)
    (tmp_path / "drip" / "run" / "config.json").write_text('{"lr": 0.1}')
    log = tmp_path / "drip" / "run" / "metrics.jsonl"
    log.write_text("")
    drip = Sweep(tmp_path / "drip")
    drip.rescan()
    for record in records:
        with open(log, "a") as handle:
            handle.write(json.dumps(record) + "\n")
        drip.poll()
    return whole, drip


def points_of(sweep: Sweep, run_id: str) -> dict[str, list[tuple[float, float]]]:
    run = sweep.store.runs[run_id]
    return {
        name: list(zip(series.steps.tolist(), series.values.tolist(), strict=True))
        for name, series in run.metrics.items()
    }


def same(first: dict, second: dict) -> bool:
    """Equal point lists, NaN equal to NaN."""
    def key(points):
        return [(s, "nan" if v != v else v) for s, v in points]

    return first.keys() == second.keys() and all(
        key(first[name]) == key(second[name]) for name in first
    )


def test_a_log_read_at_once_follows_the_record_rules(tmp_path: Path) -> None:
    records = mixed_records()
    write_log(tmp_path / "run", records, {30: "", 50: "{not json"})
    sweep = Sweep(tmp_path)
    sweep.load()
    run = sweep.store.runs["run"]
    assert same(points_of(sweep, "run"), expected_points(records, bad_line_before=50))
    # order of first appearance: "val" is null until record 42, "mix" a number from 40
    assert list(run.metrics) == ["loss", "acc", "mix", "val", "hidden"]
    assert run.records == len(records)
    assert run.epochs is not None and run.epochs.values.tolist()[:11] == [0] * 10 + [1]
    assert run.first_update == BASE_TIME and run.last_update == BASE_TIME + 89
    warnings = [w.message for w in sweep.store.warnings]
    assert any(m.startswith("line 52: not valid JSON") for m in warnings), warnings


def test_reading_at_once_and_line_by_line_agree(tmp_path: Path) -> None:
    whole, drip = whole_and_drip(tmp_path, mixed_records())
    assert same(points_of(whole, "run"), points_of(drip, "run"))
    assert list(whole.store.runs["run"].metrics) == list(drip.store.runs["run"].metrics)
    for name in ("records", "first_update", "last_update"):
        assert getattr(whole.store.runs["run"], name) == getattr(drip.store.runs["run"], name)
    assert whole.store.runs["run"].epochs.values.tolist() == (
        drip.store.runs["run"].epochs.values.tolist()
    )


def test_keys_changing_every_few_lines_keep_their_order(tmp_path: Path) -> None:
    records = []
    for i in range(30):
        record = {"step": i, "train_loss": 1.0 / (i + 1)}
        if i % 3 == 2:
            record["val_loss"] = 2.0 / (i + 1)
        records.append(record)
    records += [{"step": 30 + i, "train_loss": 0.1, "lr": 0.01} for i in range(20)]
    write_log(tmp_path / "run", records, {})
    sweep = Sweep(tmp_path)
    sweep.load()
    assert same(points_of(sweep, "run"), expected_points(records))
    assert list(sweep.store.runs["run"].metrics) == ["train_loss", "val_loss", "lr"]


def test_a_bool_hidden_among_zeros_and_ones_is_not_a_point(tmp_path: Path) -> None:
    many = [{"step": i, "flag": i % 2, "loss": 0.5} for i in range(60)]
    many[37]["flag"] = True  # among 60 zeros and ones: every type is looked at
    few = [{"step": i, "flag": 0.5 if i % 9 else 1, "loss": 0.5} for i in range(60)]
    few[45]["flag"] = False  # among a few: only the zeros and ones are looked at
    write_log(tmp_path / "many", many, {})
    write_log(tmp_path / "few", few, {})
    sweep = Sweep(tmp_path)
    sweep.load()
    for run_id, records, flagged in (("many", many, 37.0), ("few", few, 45.0)):
        points = points_of(sweep, run_id)
        assert same(points, expected_points(records))
        assert flagged not in [step for step, _ in points["flag"]]


def hostile_lines() -> list[bytes]:
    """A log mixing every odd line among plain ones, long enough to be parsed in spans."""
    lines = []
    for i in range(300):
        loss = "NaN" if 100 <= i < 180 else ("Infinity" if i == 190 else str(1.0 / (i + 1)))
        lines.append(b'{"step": %d, "loss": %s, "acc": %d, "time": %d}'
                     % (i, loss.encode(), i % 2, BASE_TIME + i))  # fmt: skip
    odd = {
        5: b"", 17: b"   ", 40: b"[1, 2]", 41: b"3", 42: b"1, 2", 60: b"{not json",
        61: b'{"step": 61.5, "loss": 0.5} {"step": 62.5}', 90: b'{"step": 90.5, "loss": "\xff\xfe"}',
        120: b'{"step": 120.5, "loss": 18446744073709551616}', 130: b'{"step": 130.5, "loss": 2.0}\r',
        150: b'{"step": 150.5, "name": "\\ud800", "loss": 1.5}', 200: b'{"step": 200.5, "loss": true}',
        210: b'{"status": "running"}', 250: b'{"step": 250.5, "loss": NaN, "acc": "nan"}',
    }  # fmt: skip
    for index in sorted(odd, reverse=True):
        lines.insert(index, odd[index])
    return lines


def test_block_parsing_gives_every_line_the_fate_it_has_alone(tmp_path: Path) -> None:
    """A whole log parsed in blocks and the same log read one appended line at a time
    give the same points, records and warnings (bad lines named by their line)."""
    lines = hostile_lines()
    for name in ("whole", "drip"):
        (tmp_path / name / "run").mkdir(parents=True)
        (tmp_path / name / "run" / "config.json").write_text('{"lr": 0.1}')
    (tmp_path / "whole" / "run" / "metrics.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    whole = Sweep(tmp_path / "whole")
    whole.load()
    log = tmp_path / "drip" / "run" / "metrics.jsonl"
    log.write_bytes(b"")
    drip = Sweep(tmp_path / "drip")
    drip.rescan()
    for line in lines:
        with open(log, "ab") as handle:
            handle.write(line + b"\n")
        drip.poll()
    assert same(points_of(whole, "run"), points_of(drip, "run"))
    assert whole.store.runs["run"].records == drip.store.runs["run"].records
    messages = sorted(w.message for w in whole.store.warnings)
    assert messages == sorted(w.message for w in drip.store.warnings)
    # "1, 2", "{not json" and two objects on a line; "[1, 2]" and "3"; the bad bytes
    assert [m.split(": ", 1)[1] for m in messages] == (
        ["not a JSON object; skipped"] * 2 + ["not valid JSON; skipped"] * 3
        + ["invalid UTF-8 bytes replaced"]
    )
    loss = dict(points_of(whole, "run")["loss"])
    assert math.isnan(loss[100.0]) and loss[120.5] == 18446744073709551616.0


def test_spans_of_plain_numbers_agree_with_line_by_line_at_their_edges(tmp_path: Path) -> None:
    """Spans converted all at once: ints and floats mixed, a huge integer, a bool step,
    a lone key; each must give what reading the lines one at a time gives."""
    records: list[dict] = []
    for i in range(12):  # ints and floats in one column, 0 and 1 among them
        records.append({"step": i, "loss": i % 2 if i < 4 else 1.5 * i, "time": BASE_TIME + i})
    for i in range(12, 24):  # an integer beyond float range
        records.append({"step": i, "loss": 10**400 if i == 15 else 0.5, "time": BASE_TIME + i})
    for i in range(24, 36):  # a bool where the step should be
        records.append({"step": True if i == 30 else i, "loss": 0.25, "time": BASE_TIME + i})
    records += [{"loss": 0.125} for _ in range(12)]  # one key: no step, no time
    whole, drip = whole_and_drip(tmp_path, records)
    points = points_of(whole, "run")
    assert same(points, points_of(drip, "run"))
    assert points["loss"][15] == (15.0, math.inf)
    assert points["loss"][1] == (1.0, 1.0) and points["loss"][4] == (4.0, 6.0)
    assert [step for step, _ in points["loss"][36:]] == [float(i) for i in range(36, 48)]
    assert whole.store.runs["run"].records == drip.store.runs["run"].records == len(records)


def test_a_log_appended_in_bursts_reads_as_it_does_at_once(tmp_path: Path) -> None:
    """Bursts of a dozen lines (taken whole, mid-file) while the run is followed: the same
    points, positions and records as one read of the finished log; steps missing from the
    first lines on, so each point sits at its line's position."""
    lines = [json.dumps({"loss": 1.0 / (i + 1), "acc": i % 3}) for i in range(40)]
    lines += [json.dumps({"loss": math.nan if i % 7 == 0 else 0.5, "acc": 1}) for i in range(40, 80)]
    lines += [json.dumps({"step": 100 + i, "loss": 0.25}) for i in range(30)] + ['{"status": "finished"}']
    for name in ("whole", "bursts"):
        (tmp_path / name / "run").mkdir(parents=True)
        (tmp_path / name / "run" / "config.json").write_text('{"lr": 0.1}')
    (tmp_path / "whole" / "run" / "metrics.jsonl").write_text("".join(line + "\n" for line in lines))
    whole = Sweep(tmp_path / "whole")
    whole.load()
    log = tmp_path / "bursts" / "run" / "metrics.jsonl"
    log.write_text("")
    bursts = Sweep(tmp_path / "bursts")
    bursts.rescan()
    start = 0
    for size in [9, 13, 11, 12, 10, 9, 14, 12, 11, 10]:
        with open(log, "a") as handle:
            handle.write("".join(line + "\n" for line in lines[start : start + size]))
        bursts.poll()
        start += size
    assert start == len(lines)
    assert same(points_of(whole, "run"), points_of(bursts, "run"))
    assert [s for s, _ in points_of(bursts, "run")["loss"][:3]] == [0.0, 1.0, 2.0]
    for field in ("records", "status"):
        assert getattr(whole.store.runs["run"], field) == getattr(bursts.store.runs["run"], field)
    assert whole.store.runs["run"].status == "finished"
