"""The TensorBoard source on event files written by torch's SummaryWriter and TensorBoard's writer.

Fixtures come from ``tests/fixtures/make_tensorboard.py`` (a real tiny sweep); the
expected values below are what that script's training printed, rounded to float32.
"""

from __future__ import annotations

import math
import shutil
import struct
from pathlib import Path

import pytest

from sweeptui.events import MetricBatch, RunSeen, SourceWarning, SummarySeen
from sweeptui.objective import choose_objective
from sweeptui.settings import Settings
from sweeptui.sources import get_sources
from sweeptui.sources.tensorboard import TensorBoardRunReader
from sweeptui.sources.tfrecord import crc32c, frame, split_records
from sweeptui.sweep import load_sweep

FIXTURES = Path(__file__).parent / "fixtures" / "tensorboard"


@pytest.fixture
def sweep_dir(tmp_path: Path) -> Path:
    target = tmp_path / "tb"
    shutil.copytree(FIXTURES, target)
    return target


def event_file(run_dir: Path) -> Path:
    return next(run_dir.glob("events.out.tfevents.*"))


def collect(events) -> tuple[dict[str, list[tuple[float, float]]], dict, list]:
    series: dict[str, list[tuple[float, float]]] = {}
    summary: dict[str, float] = {}
    warnings = [e for e in events if isinstance(e, SourceWarning)]
    for event in events:
        if isinstance(event, MetricBatch):
            for name, points in event.metrics.items():
                series.setdefault(name, []).extend(zip(points.steps, points.values, strict=True))
        elif isinstance(event, SummarySeen):
            summary.update(event.values)
    return series, summary, warnings


def test_crc32c_known_answer() -> None:
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(b"") == 0


def test_load_sweep_finds_every_run_with_hparams_and_series(sweep_dir: Path) -> None:
    sweep = load_sweep(sweep_dir)
    runs = sweep.store.runs
    assert sorted(runs) == ["crashed", "early_stopped", "healthy", "keras_overfit", "killed", "nan",
                            "overfit", "tf2_style"]
    assert {run.source for run in runs.values()} == {"tensorboard"}
    healthy = runs["healthy"]
    assert healthy.params == {"lr": 0.01, "hidden": 32, "n_train": 200, "epochs": 12,
                              "optimizer": "adam"}
    assert healthy.metrics["train_loss"].values.size == 12
    assert list(healthy.metrics["val_loss"].steps) == list(range(12))
    assert healthy.summary["hparam/final_val_loss"] == pytest.approx(0.4051369, rel=1e-6)
    # the add_hparams subdirectory merged into its run: no separate run for it
    assert not any("/" in run_id for run_id in runs)
    # no end markers in event files: judged by length and silence (the fixture is days
    # old). Runs that logged every epoch of their config finished; the others stopped.
    finished = {name for name, run in runs.items() if run.status == "finished"}
    assert finished == {"healthy", "nan", "overfit", "tf2_style"}
    assert {run.status for name, run in runs.items() if name not in finished} == {"killed"}
    assert "12 of 12 epochs" in healthy.status_reason
    assert "no file written for" in runs["killed"].status_reason


def test_nan_values_are_kept(sweep_dir: Path) -> None:
    series, summary, _ = collect(TensorBoardRunReader(sweep_dir, sweep_dir / "nan",
                                                      Settings()).read())
    train = [value for _, value in series["train_loss"]]
    assert train[0] == pytest.approx(5.2678782e25, rel=1e-6)
    assert all(math.isnan(v) for v in train[1:])
    assert math.isnan(summary["hparam/final_val_loss"])


def test_run_lengths_tell_the_story(sweep_dir: Path) -> None:
    runs = load_sweep(sweep_dir).store.runs
    assert runs["crashed"].last_step == 3  # the exception came at epoch 4
    assert runs["crashed"].params == {}  # add_hparams never ran
    assert runs["early_stopped"].last_step == 14
    assert runs["killed"].last_step >= 100  # SIGKILLed after epoch 100, flushed per epoch
    overfit = runs["overfit"].metrics["val_loss"].values
    assert overfit[-1] > overfit.min() * 1.05  # validation loss rose after its minimum
    assert runs["overfit"].metrics["train_loss"].values[-1] < 1e-6


def test_tf2_style_tensor_scalars_and_hparams_first(sweep_dir: Path) -> None:
    events = TensorBoardRunReader(sweep_dir, sweep_dir / "tf2_style", Settings()).read()
    seen = [e for e in events if isinstance(e, RunSeen)]
    assert seen[0].params["optimizer"] == "adam" and seen[0].params["lr"] == 0.01
    series, summary, warnings = collect(events)
    assert not warnings and not summary
    assert sorted(series) == ["epoch_loss", "epoch_val_loss"]
    # metadata only on the first value of each tag: the later tensors still count
    assert len(series["epoch_loss"]) == 12
    assert [step for step, _ in series["epoch_val_loss"]] == [float(s) for s in range(12)]


def test_wall_times_become_record_times(sweep_dir: Path) -> None:
    events = TensorBoardRunReader(sweep_dir, sweep_dir / "healthy", Settings()).read()
    batch = next(e for e in events if isinstance(e, MetricBatch))
    assert batch.records == len(batch.times) == 24
    assert list(batch.times) == sorted(batch.times)
    seen = next(e for e in events if isinstance(e, RunSeen))
    assert seen.started_at is not None and seen.started_at <= batch.times[0]


def test_growing_event_file_is_tailed(tmp_path: Path) -> None:
    source = event_file(FIXTURES / "overfit")
    data = source.read_bytes()
    run = tmp_path / "run"
    run.mkdir()
    target = run / source.name
    half = len(data) // 2
    cut = half + 7  # in the middle of a record
    target.write_bytes(data[:cut])
    reader = TensorBoardRunReader(tmp_path, run, Settings())
    first, _, warnings = collect(reader.read())
    assert not warnings
    with target.open("ab") as handle:
        handle.write(data[cut : cut + (len(data) - cut) // 2])
    second, _, warnings = collect(reader.read())
    assert not warnings
    with target.open("ab") as handle:
        handle.write(data[cut + (len(data) - cut) // 2 :])
    third, _, warnings = collect(reader.read())
    assert not warnings and reader.read() == []
    whole, _, _ = collect(TensorBoardRunReader(FIXTURES, FIXTURES / "overfit", Settings()).read())
    joined = {tag: first.get(tag, []) + second.get(tag, []) + third.get(tag, []) for tag in whole}
    assert joined == {tag: whole[tag] for tag in whole}
    assert len(first["train_loss"]) < 60 and len(joined["train_loss"]) == 60


def test_truncated_trailing_record_waits(tmp_path: Path) -> None:
    records = [b"x" * 10, b"y" * 20]
    data = b"".join(frame(r) for r in records)
    for cut in range(len(data)):
        framing = split_records(data[:cut])
        assert not framing.errors
        assert framing.consumed <= cut
        assert len(framing.spans) == (2 if cut == len(data) else (1 if cut >= 26 else 0))


def test_corrupt_record_is_a_warning_and_reading_goes_on(tmp_path: Path) -> None:
    source = event_file(FIXTURES / "healthy")
    data = bytearray(source.read_bytes())
    # flip one byte inside the payload of the third record
    pos = 0
    for _ in range(2):
        (length,) = struct.unpack_from("<Q", data, pos)
        pos += 16 + length
    data[pos + 12 + 3] ^= 0xFF
    run = tmp_path / "run"
    run.mkdir()
    (run / source.name).write_bytes(bytes(data))
    series, _, warnings = collect(TensorBoardRunReader(tmp_path, run, Settings()).read())
    assert len(warnings) == 1 and "checksum" in warnings[0].message
    intact = sum(len(points) for points in series.values())
    assert 20 <= intact < 24  # one record lost, the rest read


def test_corrupt_length_stops_that_file_once(tmp_path: Path) -> None:
    source = event_file(FIXTURES / "healthy")
    data = bytearray(source.read_bytes())
    (length,) = struct.unpack_from("<Q", data, 0)
    data[16 + length] ^= 0x01  # the second record's length field
    run = tmp_path / "run"
    run.mkdir()
    (run / source.name).write_bytes(bytes(data))
    reader = TensorBoardRunReader(tmp_path, run, Settings())
    _, _, warnings = collect(reader.read())
    assert len(warnings) == 1 and "length" in warnings[0].message
    assert reader.read() == []


def test_source_is_registered_before_the_generic_layouts() -> None:
    names = [spec.name for spec in get_sources()]
    assert names.index("tensorboard") < names.index("run-dir")
    assert names.index("tensorboard") < names.index("results-array")


def test_detectors_flag_the_bad_runs(sweep_dir: Path) -> None:
    runs = load_sweep(sweep_dir).store.runs
    assert "nan_or_inf_metric" in runs["nan"].issue_types
    assert "overfitting_suspect" in runs["overfit"].issue_types
    assert runs["healthy"].issue_types == [] and runs["tf2_style"].issue_types == []


def test_a_keras_run_is_one_run_with_both_splits(sweep_dir: Path) -> None:
    """Keras writes <run>/train and <run>/validation: one run, as the same training logged
    through one writer (the ``overfit`` run) would be, so overfitting is seen."""
    runs = load_sweep(sweep_dir).store.runs
    keras, plain = runs["keras_overfit"], runs["overfit"]
    assert not any(run_id.startswith("keras_overfit/") for run_id in runs)
    assert set(keras.metrics) == {"train/epoch_loss", "validation/epoch_loss"}
    for ours, theirs in (("train/epoch_loss", "train_loss"), ("validation/epoch_loss", "val_loss")):
        assert list(keras.metrics[ours].steps) == list(plain.metrics[theirs].steps)
        assert list(keras.metrics[ours].values) == list(plain.metrics[theirs].values)
    assert "overfitting_suspect" in keras.issue_types


def test_keras_split_names_are_read_as_validation_and_training_losses(sweep_dir: Path) -> None:
    for name in ("healthy", "crashed", "early_stopped", "killed", "nan", "overfit", "tf2_style"):
        shutil.rmtree(sweep_dir / name)
    store = load_sweep(sweep_dir).store
    objective = choose_objective(store)
    assert (objective.metric, objective.goal) == ("validation/epoch_loss", "min")
    assert "validation loss" in objective.reason
