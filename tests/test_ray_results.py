"""Ray's result.json read in bulk gives exactly what reading each line alone gives.

A trial's complete lines are parsed a block at a time and turned into columns at
once; every unusual line (NaN tokens, bools, strings, missing or odd steps, bad
lines, blank lines, two objects on one line) must come out as the record rules
applied line by line say, wherever it falls: first in the file, in the middle, or
on the 1 MiB boundary between two reads of the file.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from sweeptui.sources.jsonio import MILLISECONDS_THRESHOLD, parse_time
from sweeptui.sources.ray_tune import BOOKKEEPING
from sweeptui.sources.tail import CHUNK_BYTES
from sweeptui.sweep import Sweep

BASE_TIME = 1_700_000_000


def plain_record(step: int, pad: int = 0) -> dict:
    """A result as Ray writes it: metrics, bookkeeping, the config in the middle."""
    record = {
        "train_loss": 2.0 / step, "val_loss": 2.2 / step, "timestamp": BASE_TIME + step,
        "checkpoint_dir_name": None, "done": False, "training_iteration": step,
        "trial_id": "abc_00000", "date": "2024-01-01_00-00-00", "pid": 1234,
        "config": {"lr": 0.01, "layers": 3}, "time_total_s": 0.5 * step,
    }  # fmt: skip
    if pad:
        record["note"] = "x" * pad  # a string field: never a point
    return record


def odd_records() -> list[tuple[dict | str, str]]:
    """Records (or raw lines) that leave the plain path, each with what it tests."""
    return [
        ({**plain_record(1), "train_loss": math.nan}, "NaN token"),
        ({**plain_record(2), "val_loss": math.inf, "train_loss": -math.inf}, "Infinity tokens"),
        ({**plain_record(3), "train_loss": True}, "a bool is not a number"),
        ({**plain_record(4), "val_loss": 1}, "an int among floats"),
        ({**plain_record(5), "train_loss": "0.25", "val_loss": "nan"}, "numeric strings"),
        ({**plain_record(6), "train_loss": "1_000", "val_loss": "abc"}, "strings that are not"),
        ({**plain_record(7), "train_loss": None}, "null"),
        ({**plain_record(8), "train_loss": 10**400}, "an int beyond float range"),
        ({k: v for k, v in plain_record(9).items() if k != "training_iteration"}, "no step"),
        ({**plain_record(10), "training_iteration": "11"}, "a numeric string step"),
        ({**plain_record(12), "training_iteration": "x"}, "a string step"),
        ({**plain_record(13), "training_iteration": math.nan}, "a NaN step"),
        ({**plain_record(14), "training_iteration": True}, "a bool step"),
        ({**plain_record(15), "late_metric": 0.5}, "a key first met late"),
        ({**plain_record(16), "timestamp": (BASE_TIME + 16) * 1000}, "milliseconds"),
        ({**plain_record(17), "timestamp": "2024-01-01T00:00:17+00:00"}, "an ISO time"),
        ({**plain_record(18), "timestamp": math.nan}, "a NaN time"),
        ({**plain_record(19), "nested": {"a": 1}, "listed": [1, 2]}, "containers"),
        ("{not json", "a bad line"),
        ("[1, 2]", "not an object"),
        ("", "a blank line"),
        ("   ", "a blank line of spaces"),
        ('{"training_iteration": 20, "train_loss": 1}, {"train_loss": 2}', "two objects"),
        ('{"training_iteration": 21, "train_loss": 0.5', "a cut line"),
        ('"train_loss": 0.5}', "the rest of a cut line"),
        ('17', "a number"),
        (json.dumps(plain_record(22)).replace('"pid"', '"pid\\u0000"'), "an escaped key"),
    ]


def write_trial(directory: Path, lines: list[str]) -> Path:
    directory.mkdir(parents=True)
    (directory / "params.json").write_text('{"lr": 0.01, "layers": 3}')
    (directory / "result.json").write_text("".join(line + "\n" for line in lines))
    return directory


def as_lines(entries: list[dict | str]) -> list[str]:
    return [entry if isinstance(entry, str) else json.dumps(entry) for entry in entries]


def reference(lines: list[str]) -> tuple[dict, list[float], list[str], int]:
    """The record rules applied line by line with the standard library.

    Returns (points per metric, record times, bad-line warnings, records). A record's
    step is its ``training_iteration`` when that is a number (or numeric string) and
    not NaN, else its position among the records, counted from 1; lines that are not
    JSON objects take no position.
    """
    points: dict[str, list[tuple[float, float]]] = {}
    times: list[float] = []
    warnings: list[str] = []
    position = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            warnings.append(f"line {number}: not valid JSON; skipped")
            continue
        if not isinstance(record, dict):
            warnings.append(f"line {number}: not a JSON object; skipped")
            continue
        position += 1
        step = as_number(record.get("training_iteration"))
        if step is None or step != step:
            step = float(position)
        stamp = record.get("timestamp")
        if stamp is not None and parse_time(stamp) is not None:
            times.append(parse_time(stamp))
        for key, value in record.items():
            number_value = as_number(value)
            if key not in BOOKKEEPING and number_value is not None:
                points.setdefault(key, []).append((step, number_value))
    return points, times, warnings, position


def as_number(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:
            return math.inf
    if isinstance(value, str) and "_" not in value:
        try:
            return float(value)
        except ValueError:
            return None
    return None


def read_points(sweep: Sweep) -> dict[str, list[tuple[float, float]]]:
    (run,) = list(sweep.store)
    return {
        name: list(zip(series.steps.tolist(), series.values.tolist(), strict=True))
        for name, series in run.metrics.items() if len(series)
    }


def nan_safe(points: dict) -> dict:
    return {name: [(s, "nan" if v != v else v) for s, v in found] for name, found in points.items()}


def line_warnings(sweep: Sweep) -> list[str]:
    return [w.message for w in sweep.store.warnings if w.message.startswith("line ")]


def check_against_reference(root: Path, lines: list[str]) -> Sweep:
    sweep = Sweep(root)
    sweep.load()
    points, times, warnings, records = reference(lines)
    assert nan_safe(read_points(sweep)) == nan_safe(points)
    assert line_warnings(sweep) == warnings
    (run,) = list(sweep.store)
    assert run.records == records
    assert run.first_update == times[0] and run.last_update == times[-1]
    return sweep


def test_odd_lines_in_the_middle_of_a_log_follow_the_line_rules(tmp_path: Path) -> None:
    entries: list[dict | str] = [plain_record(step) for step in range(100, 150)]
    for offset, (entry, _) in enumerate(odd_records()):
        entries.insert(3 + offset * 2, entry)  # spread among plain records
    lines = as_lines(entries)
    write_trial(tmp_path / "trial_a_2024-01-01_00-00-00", lines)
    check_against_reference(tmp_path, lines)


def test_each_odd_line_alone_among_plain_ones(tmp_path: Path) -> None:
    for index, (entry, why) in enumerate(odd_records()):
        entries = [plain_record(step) for step in range(100, 140)]
        entries.insert(25, entry)
        lines = as_lines(entries)
        root = tmp_path / str(index)
        write_trial(root / "trial_a_2024-01-01_00-00-00", lines)
        try:
            check_against_reference(root, lines)
        except AssertionError as exc:
            raise AssertionError(f"{why}: {exc}") from exc


def test_odd_first_lines_go_through_the_rewrite_guard_exactly(tmp_path: Path) -> None:
    odd = odd_records()
    entries: list[dict | str] = [entry for entry, _ in odd[18:]] + [odd[0][0], odd[9][0]]
    entries += [plain_record(step) for step in range(100, 120)]
    lines = as_lines(entries)
    write_trial(tmp_path / "trial_a_2024-01-01_00-00-00", lines)
    check_against_reference(tmp_path, lines)


def straddling_line(lines: list[str]) -> int:
    """Index of the line holding byte ``CHUNK_BYTES`` of the file (read in two chunks)."""
    size = 0
    for index, line in enumerate(lines):
        size += len(line) + 1
        if size > CHUNK_BYTES:
            return index
    raise AssertionError("the log is shorter than one chunk")


def test_odd_lines_on_the_boundary_between_two_reads(tmp_path: Path) -> None:
    pad = 400
    count = CHUNK_BYTES // len(json.dumps(plain_record(1000, pad))) + 20
    plain = [plain_record(step, pad) for step in range(1, count)]
    odd_entries = [entry for entry, _ in odd_records()]
    odd = [*odd_entries[:3], odd_entries[18], odd_entries[0], odd_entries[20]]
    at = straddling_line(as_lines(plain)) - 3
    for _ in range(5):  # the odd lines are shorter: move them until they straddle it
        lines = as_lines(plain[:at] + odd + plain[at:])
        boundary = straddling_line(lines)
        if at + 1 <= boundary <= at + 4:
            break
        at += boundary - (at + 3)
    assert at + 1 <= boundary <= at + 4
    write_trial(tmp_path / "trial_a_2024-01-01_00-00-00", lines)
    check_against_reference(tmp_path, lines)


def test_reading_at_once_and_record_by_record_agree(tmp_path: Path) -> None:
    entries: list[dict | str] = [plain_record(step) for step in range(1, 60)]
    for offset, (entry, _) in enumerate(odd_records()):
        entries.insert(5 + offset * 2, entry)
    lines = as_lines(entries)
    write_trial(tmp_path / "whole" / "trial_a_2024-01-01_00-00-00", lines)
    whole = check_against_reference(tmp_path / "whole", lines)
    directory = write_trial(tmp_path / "drip" / "trial_a_2024-01-01_00-00-00", [])
    drip = Sweep(tmp_path / "drip")
    drip.rescan()
    for line in lines:  # one line per read
        with open(directory / "result.json", "a") as handle:
            handle.write(line + "\n")
        drip.poll()
    assert nan_safe(read_points(drip)) == nan_safe(read_points(whole))
    assert line_warnings(drip) == line_warnings(whole)
    (first,), (second,) = list(whole.store), list(drip.store)
    # (a read whose records carry no usable time is dated by the file's mtime instead)
    assert (first.records, first.first_update) == (second.records, second.first_update)


def test_many_nan_lines_are_all_read(tmp_path: Path) -> None:
    entries = [plain_record(step) for step in range(1, 400)]
    for record in entries[150:]:
        record["train_loss"] = math.nan
    entries[300]["val_loss"] = "nan"
    lines = as_lines(entries)
    write_trial(tmp_path / "trial_a_2024-01-01_00-00-00", lines)
    sweep = check_against_reference(tmp_path, lines)
    (run,) = list(sweep.store)
    assert math.isnan(run.metrics["train_loss"].values[-1])
    assert "nan_or_inf_metric" in run.issue_types


def test_huge_millisecond_times_become_seconds(tmp_path: Path) -> None:
    entries = [plain_record(step) for step in range(1, 30)]
    for record in entries:
        record["timestamp"] = (BASE_TIME + record["training_iteration"]) * 1000
    lines = as_lines(entries)
    write_trial(tmp_path / "trial_a_2024-01-01_00-00-00", lines)
    sweep = check_against_reference(tmp_path, lines)
    (run,) = list(sweep.store)
    assert run.last_update == BASE_TIME + 29 and run.last_update < MILLISECONDS_THRESHOLD


def test_metrics_keep_the_order_the_records_first_hold_them(tmp_path: Path) -> None:
    entries = []
    for step in range(1, 40):
        record = {"val_loss": 1.0 / step, "training_iteration": step, "train_loss": 2.0 / step}
        if step >= 10:
            record["zeta"] = 0.5
        if step >= 20:
            record["alpha"] = 0.25
        if step >= 30:  # both turn NaN at one step: the first held is named
            record["val_loss"] = record["train_loss"] = math.nan
        entries.append(record)
    lines = as_lines(entries)
    write_trial(tmp_path / "trial_a_2024-01-01_00-00-00", lines)
    sweep = Sweep(tmp_path)
    sweep.load()
    (run,) = list(sweep.store)
    assert list(run.metrics) == ["val_loss", "train_loss", "zeta", "alpha"]
    (issue,) = [issue for issue in sweep.store.issues if issue.type == "nan_or_inf_metric"]
    assert issue.metric == "val_loss" and issue.step == 30


def test_a_rewritten_log_counts_each_record_once(tmp_path: Path) -> None:
    lines = as_lines([plain_record(step) for step in range(1, 61)])
    directory = write_trial(tmp_path / "trial_a_2024-01-01_00-00-00", lines[:50])
    sweep = Sweep(tmp_path)
    sweep.rescan()
    replacement = directory / "result.json.tmp"  # the same records and ten more, swapped in
    replacement.write_text("".join(line + "\n" for line in lines))
    replacement.replace(directory / "result.json")
    sweep.poll()
    (run,) = list(sweep.store)
    assert run.metrics["train_loss"].steps.tolist() == [float(step) for step in range(1, 61)]
    assert run.records == 60
    messages = [warning.message for warning in sweep.store.warnings]
    assert any(message.startswith("replaced by a new file; the points read from it before "
                                  "are dropped") for message in messages)


def test_a_log_replaced_by_a_new_one_replaces_what_it_gave(tmp_path: Path) -> None:
    directory = write_trial(tmp_path / "trial_a_2024-01-01_00-00-00",
                            as_lines([plain_record(step) for step in range(1, 41)]))
    sweep = Sweep(tmp_path)
    sweep.rescan()
    fresh = [{**plain_record(step), "train_loss": 5.0} for step in range(1, 31)]
    replacement = directory / "result.json.tmp"
    replacement.write_text("".join(line + "\n" for line in as_lines(fresh)))
    replacement.replace(directory / "result.json")
    sweep.poll()
    (run,) = list(sweep.store)
    assert run.metrics["train_loss"].values.tolist() == [5.0] * 30
    assert run.records == 30
    assert any(warning.message.startswith("replaced by a new file")
               for warning in sweep.store.warnings)
