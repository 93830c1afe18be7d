"""The W&B source on run directories written by the real ``wandb`` library (offline mode).

Fixtures come from ``tests/fixtures/make_wandb.py``; expected values are the ones
that script's training logged.
"""

from __future__ import annotations

import math
import shutil
import struct
from pathlib import Path

import pytest

from sweeptui.events import MetricBatch, RunEnded, RunSeen, SourceWarning, SummarySeen
from sweeptui.settings import Settings
from sweeptui.sources import get_sources
from sweeptui.sources.wandb import BLOCK_BYTES, WandbRunReader, split_log
from sweeptui.sweep import load_sweep

FIXTURES = Path(__file__).parent / "fixtures" / "wandb"


@pytest.fixture
def sweep_dir(tmp_path: Path) -> Path:
    target = tmp_path / "sweep" / "wandb"
    shutil.copytree(FIXTURES, target)
    (target / "latest-run").symlink_to(next(target.glob("offline-run-*")))
    return tmp_path / "sweep"


def by_name(sweep) -> dict:
    return {run.name: run for run in sweep.store.runs.values() if run.id.split("/")[-1]
            .startswith("offline-run-")}


def collect(events) -> tuple[dict, dict, list, list]:
    series: dict[str, list[tuple[float, float]]] = {}
    summary: dict[str, float] = {}
    for event in events:
        if isinstance(event, MetricBatch):
            for name, points in event.metrics.items():
                series.setdefault(name, []).extend(zip(points.steps, points.values, strict=True))
        elif isinstance(event, SummarySeen):
            summary.update(event.values)
    ends = [e for e in events if isinstance(e, RunEnded)]
    warnings = [e for e in events if isinstance(e, SourceWarning)]
    return series, summary, ends, warnings


def offline_dir(name: str) -> Path:
    for run_dir in sorted(FIXTURES.glob("offline-run-*")):
        events = WandbRunReader(FIXTURES, run_dir, Settings()).read()
        if events[0].name == name:
            return run_dir
    raise LookupError(name)


def test_statuses_from_exit_records(sweep_dir: Path) -> None:
    sweep = load_sweep(sweep_dir)
    runs = by_name(sweep)
    assert sorted(runs) == ["crashed", "early_stopped", "healthy", "killed", "nan", "overfit"]
    assert {run.source for run in runs.values()} == {"wandb"}
    for name in ("healthy", "nan", "early_stopped", "overfit"):
        assert runs[name].status == "finished" and runs[name].exit_code == 0, name
    crashed = runs["crashed"]
    assert crashed.status == "crashed" and crashed.exit_code == 1
    assert "ValueError: bad batch at epoch 4" in crashed.error
    assert crashed.failure.reason.startswith("ValueError")
    # SIGKILLed: no exit record, only the first 32 KiB block reached the disk; the
    # fixture is far older than the abandon limit, so it is not running any more
    assert runs["killed"].status == "killed" and runs["killed"].exit_code is None
    assert "no file written for" in runs["killed"].status_reason
    # latest-run is a symlink to a run already read: no warning, no duplicate
    assert not sweep.store.warnings
    assert len(sweep.store.runs) == 8  # 6 offline runs + 2 online-layout runs


def test_config_history_and_summary(sweep_dir: Path) -> None:
    runs = by_name(load_sweep(sweep_dir))
    healthy = runs["healthy"]
    assert healthy.params == {"lr": 0.01, "hidden": 32, "n_train": 200, "epochs": 12,
                              "optimizer": "adam", "model.kind": "mlp", "model.layers": 3}
    assert list(healthy.metrics["train_loss"].steps) == list(range(12))
    assert healthy.metrics["val_loss"].values[-1] == pytest.approx(0.4051368832588196)
    assert list(healthy.epochs.values) == list(range(12))
    assert "epoch" not in healthy.metrics and "_runtime" not in healthy.metrics
    assert healthy.summary["best_val_loss"] == pytest.approx(0.4051368832588196)
    assert healthy.first_update is not None and healthy.ended_at >= healthy.first_update
    assert runs["early_stopped"].last_step == 14
    assert runs["killed"].last_step == 52


def test_nan_history_values_are_kept(sweep_dir: Path) -> None:
    nan_run = by_name(load_sweep(sweep_dir))["nan"]
    train = nan_run.metrics["train_loss"].values
    assert train[0] == pytest.approx(5.2678782103034025e25)
    assert all(math.isnan(v) for v in train[1:])
    assert math.isnan(nan_run.summary["val_loss"])


def test_online_files_layout(sweep_dir: Path) -> None:
    sweep = load_sweep(sweep_dir)
    online = {run.name: run for run in sweep.store.runs.values()
              if run.id.split("/")[-1].startswith("run-")}
    assert len(online) == 2
    healthy = next(run for run in online.values() if run.summary.get("epoch") == 11)
    assert healthy.params["model.kind"] == "mlp" and healthy.params["lr"] == 0.01
    assert "_wandb.runtime" not in healthy.summary and "_step" not in healthy.summary
    assert healthy.summary["best_val_loss"] == pytest.approx(0.4051368832588196)
    assert healthy.first_update is not None  # startedAt from wandb-metadata.json
    crashed = next(run for run in online.values() if run is not healthy)
    assert crashed.error and "ValueError" in crashed.error  # traceback in output.log
    assert crashed.status == "failed"  # no history in files/: it died before a metric we saw


def test_growing_log_is_tailed_in_parts(tmp_path: Path) -> None:
    source_dir = offline_dir("overfit")
    source = next(source_dir.glob("*.wandb"))
    data = source.read_bytes()
    assert len(data) > BLOCK_BYTES  # the second part crosses a block boundary
    run = tmp_path / source_dir.name
    run.mkdir()
    target = run / source.name
    half = len(data) // 2 + 3
    target.write_bytes(data[:half])
    reader = WandbRunReader(tmp_path, run, Settings())
    parts = [collect(reader.read())]
    three_quarters = half + (len(data) - half) // 2
    with target.open("ab") as handle:
        handle.write(data[half:three_quarters])
    parts.append(collect(reader.read()))
    with target.open("ab") as handle:
        handle.write(data[three_quarters:])
    parts.append(collect(reader.read()))
    assert all(not warnings for *_, warnings in parts)
    whole, _, whole_ends, _ = collect(WandbRunReader(FIXTURES, source_dir,
                                                                 Settings()).read())
    joined = {key: [p for part in parts for p in part[0].get(key, [])] for key in whole}
    assert joined["train_loss"] == whole["train_loss"]
    assert len(parts[0][0]["train_loss"]) < 60 == len(joined["train_loss"])
    assert not parts[0][2] and parts[2][2][0].exit_code == 0 == whole_ends[0].exit_code
    assert reader.read() == []


def test_truncated_trailing_block_keeps_complete_records(tmp_path: Path) -> None:
    source_dir = offline_dir("crashed")
    data = next(source_dir.glob("*.wandb")).read_bytes()
    complete = split_log(data, 0)
    for cut in range(0, len(data), 97):
        partial = split_log(data[:cut], 0)
        assert not partial.errors
        assert partial.records == complete.records[: len(partial.records)]
        assert partial.resume <= cut
    run = tmp_path / source_dir.name
    run.mkdir()
    (run / "run-x.wandb").write_bytes(data[: len(data) - 40])
    series, _, ends, warnings = collect(WandbRunReader(tmp_path, run, Settings()).read())
    assert not warnings and not ends  # the exit record was in the lost tail
    assert len(series["train_loss"]) == 4


def test_corrupt_chunk_is_a_warning(tmp_path: Path) -> None:
    source_dir = offline_dir("overfit")
    data = bytearray(next(source_dir.glob("*.wandb")).read_bytes())
    data[200] ^= 0xFF  # inside the first block
    run = tmp_path / source_dir.name
    run.mkdir()
    (run / "run-x.wandb").write_bytes(bytes(data))
    reader = WandbRunReader(tmp_path, run, Settings())
    series, _, ends, warnings = collect(reader.read())
    assert warnings and "block skipped" in warnings[0].message
    # the first block is lost, the second block's complete records are read
    assert 0 < len(series["train_loss"]) < 60
    assert ends and ends[0].exit_code == 0
    assert reader.read() == []


def test_not_a_transaction_log(tmp_path: Path) -> None:
    run = tmp_path / "offline-run-20260101_000000-abc123"
    run.mkdir()
    (run / "run-abc123.wandb").write_bytes(b"garbage that is not a log" * 3)
    reader = WandbRunReader(tmp_path, run, Settings())
    events = reader.read()
    assert isinstance(events[0], RunSeen) and events[0].name == "abc123"
    assert [e.message for e in events if isinstance(e, SourceWarning)] == [
        "not a W&B transaction log (bad header)"]
    assert reader.read() == []


def test_split_log_reassembles_a_record_across_blocks() -> None:
    header = b":W&B" + struct.pack("<HB", 0xBEE1, 0)
    import zlib

    def chunk(kind: int, payload: bytes) -> bytes:
        checksum = zlib.crc32(bytes([kind]) + payload)
        return struct.pack("<IHB", checksum, len(payload), kind) + payload

    first_room = BLOCK_BYTES - len(header) - 7
    payload = bytes(range(256)) * 200  # 51,200 bytes: FIRST in block 1, LAST in block 2
    data = header + chunk(2, payload[:first_room]) + chunk(4, payload[first_room:])
    assert split_log(data, 0).records == [payload]
    assert split_log(data[: BLOCK_BYTES + 3], 0).records == []


def test_source_is_registered_before_the_generic_layouts() -> None:
    names = [spec.name for spec in get_sources()]
    assert names.index("wandb") < names.index("run-dir")


def test_detectors_flag_the_bad_runs(sweep_dir: Path) -> None:
    runs = by_name(load_sweep(sweep_dir))
    assert "nan_or_inf_metric" in runs["nan"].issue_types
    assert "crashed" in runs["crashed"].issue_types
    assert "overfitting_suspect" in runs["overfit"].issue_types
    assert runs["healthy"].issue_types == []
