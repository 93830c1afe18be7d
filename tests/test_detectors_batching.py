"""Detectors give the same verdicts and keep the same state however records are batched.

Batches of a few points take the detectors' scalar path, larger ones the numpy path;
feeding the same runs at many batch sizes checks that the two agree to the last bit:
the same issues, onsets and messages, and the same carried state for runs left unflagged.
"""

from __future__ import annotations

import numpy as np
import pytest

from sweeptui.detectors.base import SMALL_BATCH
from tests.detector_feed import Curve, Harness, decaying_loss, signature

BATCH_SIZES = (1, 2, 3, 7, 50, None)
NOW = 1_000_000.0


def _per_epoch(train: np.ndarray, val: np.ndarray, name: str = "val_loss") -> Curve:
    steps = np.arange(train.size, dtype=np.float64)
    return Curve(
        {"train_loss": (steps, train), name: (steps, val)},
        epoch_of_step={float(s): float(s) for s in steps},
        time_of_step={float(s): 1e9 + 30.0 * s for s in steps},
    )


def _plateau(rng: np.random.Generator, noise: float) -> Curve:
    epochs = int(rng.integers(20, 90))
    val = decaying_loss(rng, epochs, noise, spike_rate=0.04)
    return _per_epoch(decaying_loss(rng, epochs, noise / 2), val)


def _u_shape(rng: np.random.Generator, noise: float) -> Curve:
    epochs = int(rng.integers(25, 90))
    t = np.arange(epochs, dtype=np.float64)
    bottom = rng.integers(5, epochs - 10)
    clean = 1.0 + 0.002 * (t - bottom) ** 2 * rng.uniform(0.5, 4.0)
    val = clean * (1 + noise * rng.standard_normal(epochs))
    train = 2.0 * np.exp(-t / 15) + 0.1
    return _per_epoch(train * (1 + noise / 3 * rng.standard_normal(epochs)), val)


def _diverging(rng: np.random.Generator) -> Curve:
    epochs = int(rng.integers(20, 60))
    loss = decaying_loss(rng, epochs, 0.03)
    start = int(rng.integers(5, epochs - 8))
    if rng.random() < 0.5:  # geometric rise
        loss[start:] = loss[start] * rng.uniform(1.3, 2.0) ** np.arange(epochs - start)
    else:  # jump by a large factor and stay there
        loss[start:] *= rng.uniform(12, 40)
    return _per_epoch(loss, decaying_loss(rng, epochs, 0.03))


def _with_bad_values(rng: np.random.Generator, curve: Curve) -> Curve:
    for name, (_, values) in curve.metrics.items():
        spots = rng.random(values.size) < 0.08
        values[spots] = rng.choice([np.nan, np.inf, -np.inf], spots.sum())
        curve.metrics[name] = (curve.metrics[name][0], values)
    return curve


def _dense_training(rng: np.random.Generator) -> Curve:
    """Training loss every step, validation every few steps (sums over intervals)."""
    every = int(rng.integers(2, 12))
    total = every * int(rng.integers(15, 40))
    steps = np.arange(total, dtype=np.float64)
    train = decaying_loss(rng, total, 0.05)
    val_steps = steps[every - 1 :: every]
    t = np.arange(val_steps.size, dtype=np.float64)
    val = (1 + 0.004 * (t - val_steps.size / 3) ** 2) * (1 + 0.02 * rng.standard_normal(t.size))
    return Curve(
        {"train_loss": (steps, train), "val_loss": (val_steps, val)},
        epoch_of_step={float(s): float(s // every) for s in val_steps},
    )


def _perplexity(rng: np.random.Generator) -> Curve:
    epochs = int(rng.integers(20, 50))
    loss = decaying_loss(rng, epochs, 0.02)
    start = int(rng.integers(5, epochs - 8))
    loss[start:] += 0.5 * np.arange(epochs - start)
    steps = np.arange(epochs, dtype=np.float64)
    return Curve({"val_perplexity": (steps, np.exp(loss))})


def _runs(seed: int) -> dict[str, Curve]:
    rng = np.random.default_rng(seed)
    runs: dict[str, Curve] = {}
    for i in range(6):
        noise = float(rng.choice([0.01, 0.03, 0.05]))
        runs[f"plateau{i}"] = _plateau(rng, noise)
        runs[f"u{i}"] = _u_shape(rng, noise)
        runs[f"div{i}"] = _diverging(rng)
        runs[f"bad{i}"] = _with_bad_values(rng, _u_shape(rng, noise))
        runs[f"dense{i}"] = _dense_training(rng)
        runs[f"ppl{i}"] = _perplexity(rng)
    return runs


def _feed(runs: dict[str, Curve], batch_size: int | None) -> tuple[list, str]:
    harness = Harness()
    for run_id, curve in runs.items():
        harness.see(run_id, {"epochs": 100})
        harness.feed(run_id, curve, batch_size, now=NOW)
    engine = harness.engine
    state = repr(
        (
            sorted(engine.divergence._states.items()),
            sorted(engine.overfitting._states.items()),
            sorted(engine._epochs.items()),
            sorted((run.id, list(run.intervals)) for run in harness.store),
        )
    )
    return signature(harness.store.issues), state


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_batch_size_gives_the_same_issues_and_state(seed: int) -> None:
    runs = _runs(seed)
    whole_issues, whole_state = _feed(runs, None)
    flagged = {issue[0] for issue in whole_issues}
    # The sample must exercise every detector fed here, or agreement proves little.
    assert {"divergence", "overfitting_suspect", "nan_or_inf_metric"} <= flagged
    for size in BATCH_SIZES[:-1]:
        issues, state = _feed(runs, size)
        assert issues == whole_issues, f"batch size {size}"
        assert state == whole_state, f"batch size {size}"


def test_both_paths_are_exercised() -> None:
    # Batches of 1..7 records stay under the scalar limit; 50 and whole runs exceed it.
    assert max(BATCH_SIZES[:4]) <= SMALL_BATCH < 50


def test_unsorted_and_duplicate_steps_agree_across_batch_sizes() -> None:
    # Steps out of order inside a small batch make the scalar path hand over to numpy.
    rng = np.random.default_rng(7)
    curve = _u_shape(rng, 0.02)
    steps, val = curve.metrics["val_loss"]
    swapped = steps.copy()
    swapped[[10, 11]] = swapped[[11, 10]]
    curve.metrics["val_loss"] = (swapped, val)
    whole_issues, whole_state = _feed({"r": curve}, None)
    for size in (1, 3, 50):
        assert _feed({"r": curve}, size) == (whole_issues, whole_state)


def test_scalar_window_sums_match_numpy_bit_for_bit() -> None:
    # Values spread over six orders of magnitude, so a different summing order shows.
    from sweeptui.detectors import overfitting as of

    rng = np.random.default_rng(11)
    values = np.exp(rng.uniform(-7, 7, 200))
    values[rng.random(200) < 0.1] = np.nan
    for window in (1, 2, 3, 5):
        vector = of._smoothed(np.empty(0), values, window)
        scalar = [of._window_level(values.tolist(), i, window) for i in range(values.size)]
        np.testing.assert_array_equal(vector, np.array(scalar))
    finite = values[np.isfinite(values)]
    vector = of._third_differences(np.empty(0), finite)
    scalar = [of._third_difference(finite.tolist(), i) for i in range(finite.size)]
    np.testing.assert_array_equal(vector, np.array(scalar))
    for points in (1, 5, 30):
        vector = of._noise(np.empty(0), values, points)
        scalar = [of._window_noise(values[: i + 1].tolist(), points) for i in range(values.size)]
        np.testing.assert_array_equal(vector, np.array(scalar))


def test_default_window_levels_match_the_scalar_path_bit_for_bit() -> None:
    # The default window of 3 takes the minimum plus the median of each window rather
    # than sorting it: ties, negatives and magnitudes far apart must give the same bits.
    from sweeptui.detectors import overfitting as of

    rng = np.random.default_rng(12)
    spread = np.exp(rng.uniform(-7, 7, 300)) * rng.choice([-1.0, 1.0], 300)
    ties = rng.choice([1.0, 2.0, -1.0, 1e-300, 3.5], 300)
    for values in (spread, ties, np.round(spread, 1) + 0.25):
        vector = of._smoothed(np.empty(0), values, 3)
        scalar = np.array([of._window_level(values.tolist(), i, 3) for i in range(values.size)])
        assert vector.tobytes() == scalar.tobytes()
    with_zeros = np.where(rng.random(300) < 0.2, rng.choice([0.0, -0.0], 300), spread)
    vector = of._smoothed(np.empty(0), with_zeros, 3)
    scalar = [of._window_level(with_zeros.tolist(), i, 3) for i in range(300)]
    np.testing.assert_array_equal(vector, np.array(scalar))


def test_streak_ends_agree_with_the_per_point_lengths() -> None:
    # The divergence rise rule reads the longest and the last streak from the breaks
    # alone; they must be those of the per-point lengths, whatever is carried in.
    from sweeptui.detectors.base import streak_ends, streak_lengths

    rng = np.random.default_rng(5)
    for _ in range(400):
        flags = rng.random(int(rng.integers(1, 40))) < rng.choice([0.0, 0.3, 0.8, 1.0])
        carried = int(rng.choice([0, 0, 1, 4, 9]))
        lengths = streak_lengths(flags, carried)
        assert streak_ends(flags, carried) == (int(lengths.max()), int(lengths[-1]))
