"""overfitting_suspect on noisy curves: false flags on healthy runs, detection of planted
overfitting, exact onset on a clean curve, and independence from batching.

Curves are fed through the real store and detector engine (tests/detector_feed.py): a
training loss every 10 steps that keeps falling, a validation loss at the last step of
each 100-step epoch, epochs numbered from 1.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.detector_feed import Curve, Harness, signature

STEPS_PER_EPOCH = 100
NOISE_LEVELS = (0.01, 0.02, 0.03, 0.05)


def run_curve(rng: np.random.Generator, val: np.ndarray, train_noise: float = 0.05) -> Curve:
    """``val`` per epoch (epoch 1 first) beside a training loss that falls all along."""
    epochs = val.size
    train_steps = np.arange(0, epochs * STEPS_PER_EPOCH, 10, dtype=np.float64)
    train = 2.0 * np.exp(-train_steps / (20 * STEPS_PER_EPOCH))
    train = train * np.exp(train_noise * rng.standard_normal(train_steps.size))
    val_steps = np.arange(STEPS_PER_EPOCH - 1, epochs * STEPS_PER_EPOCH, STEPS_PER_EPOCH, float)
    steps = np.union1d(train_steps, val_steps)
    return Curve(
        {"train_loss": (train_steps, train), "val_loss": (val_steps, val)},
        epoch_of_step={float(s): float(s // STEPS_PER_EPOCH) + 1 for s in steps},
    )


def noisy(rng: np.random.Generator, clean: np.ndarray, noise: float) -> np.ndarray:
    """Multiplicative noise plus occasional single-epoch bumps of 10-15%."""
    values = clean * np.exp(noise * rng.standard_normal(clean.size))
    bumps = rng.random(clean.size) < 0.04
    bumps[1:] &= ~bumps[:-1]  # never two epochs in a row
    values[bumps] *= rng.uniform(1.10, 1.15, int(bumps.sum()))
    return values


def plateau(epochs: int) -> np.ndarray:
    """Falls for about ten epochs, then flat."""
    return 1 + 0.5 * np.exp(-np.arange(1, epochs + 1) / 3)


def slowly_improving(epochs: int) -> np.ndarray:
    return 0.8 + 0.7 * np.exp(-np.arange(1, epochs + 1) / 30)


def u_shaped(minimum_epoch: int, epochs: int, rise_per_epoch: float) -> np.ndarray:
    """The plateau curve up to ``minimum_epoch``, then rising linearly from there."""
    clean = plateau(epochs)
    after = np.arange(1, epochs + 1) > minimum_epoch
    base = clean[minimum_epoch - 1]
    clean[after] = base * (1 + rise_per_epoch * (np.arange(1, epochs + 1)[after] - minimum_epoch))
    return clean


def flagged(curve: Curve, batch_size: int | None) -> list:
    harness = Harness()
    harness.see("r")
    harness.feed("r", curve, batch_size)
    return harness.of_type("overfitting_suspect")


# -- exact onset on a clean curve -------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [None, 1, 6, 45])
def test_onset_on_a_clean_curve_is_the_third_risen_level(batch_size):
    # Validation falls linearly 0.6 -> 0.5 (epochs 1..10), then rises 2% of 0.5 per epoch.
    # Level = mean of the last three without the highest: epoch 11 (0.5, 0.51) and epoch 12
    # (0.5, 0.51) give the lowest level 0.505; risen needs > 0.505 * 1.05 = 0.53025 (the
    # noise term is tiny: the third differences are zero except at the kink).
    # Epoch 13: 0.515; 14: 0.525; 15: 0.535 (first risen); 16: 0.545; 17: 0.555 -> third
    # risen level at epoch 17, step 1699. Quoted rise: 0.555 against the point 0.5 = 11%.
    val = np.concatenate((np.linspace(0.6, 0.5, 10), 0.5 * (1 + 0.02 * np.arange(1, 21))))
    [issue] = flagged(run_curve(np.random.default_rng(1), val), batch_size)
    assert (issue.step, issue.epoch, issue.metric) == (1699, 17, "val_loss")
    assert "rose 11% above its minimum 0.5 at epoch 10" in issue.message
    assert "while train_loss fell" in issue.message


@pytest.mark.parametrize("batch_size", [None, 1, 2])
def test_a_short_run_with_a_clear_rise_is_caught(batch_size):
    # Seven epochs: too few for the smoothed level to show three risen points, but the
    # raw loss sits more than 30% above its minimum 0.769 (> 0.9997) at epochs 5, 6 and 7
    # while training keeps falling: flagged at the third of those, epoch 7.
    val = np.array([1.496, 1.074, 0.769, 0.961, 1.201, 1.501, 1.877])
    [issue] = flagged(run_curve(np.random.default_rng(5), val, train_noise=0.0), batch_size)
    assert issue.epoch == 7
    assert "minimum 0.769 at epoch 3" in issue.message


@pytest.mark.parametrize("batch_size", [None, 1])
def test_a_rise_from_a_zero_minimum_is_told_without_a_percentage(batch_size):
    # One validation point of exactly 0 (epoch 10), then the loss climbs from 0.5: the
    # smoothed level (lowest 0.25) rises well past its noise while training falls. No
    # relative rise exists against a raw minimum of 0, so the message says where it got.
    val = np.concatenate((np.ones(9), [0.0, 0.5, 0.5, 0.5], 0.5 + 0.08 * np.arange(1, 18)))
    [issue] = flagged(run_curve(np.random.default_rng(4), val, train_noise=0.0), batch_size)
    assert "val_loss rose to " in issue.message
    assert "from its minimum 0 at epoch 10 while train_loss fell" in issue.message


def test_a_large_single_bump_after_the_minimum_is_not_overfitting():
    val = np.array([1.496, 1.074, 0.769, 0.78, 1.2, 0.77, 0.775, 0.771])
    assert flagged(run_curve(np.random.default_rng(6), val, train_noise=0.0), None) == []


def test_isolated_bumps_on_a_clean_plateau_are_not_overfitting():
    val = plateau(80)
    val[20::5] *= 1.15  # a 15% bump every fifth epoch
    assert flagged(run_curve(np.random.default_rng(2), val), 7) == []


def test_no_overfitting_when_training_loss_rises_too():
    curve = run_curve(np.random.default_rng(3), u_shaped(15, 45, 0.05))
    steps, _ = curve.metrics["train_loss"]
    curve.metrics["train_loss"] = (steps, 0.3 + steps / 3000)
    assert flagged(curve, None) == []


def test_a_persistent_step_above_a_sharp_minimum_is_caught():
    # A short V at the bottom, then the loss settles 8% above it and stays: overfitting,
    # even though the smoothed level never sees the two low points on their own.
    rng = np.random.default_rng(4)
    val = np.concatenate((plateau(8), [0.99, 0.98], np.full(40, 1.06)))
    [issue] = flagged(run_curve(rng, val), 3)
    assert "minimum 0.98 at epoch 10" in issue.message


# -- rates over many seeds -------------------------------------------------------------------


@pytest.mark.parametrize("noise", NOISE_LEVELS)
def test_healthy_noisy_curves_are_not_flagged(noise):
    # Measured over these seeds: 0 flags at every noise level (before this rule: 0, 139,
    # 195 and 200 of 200 plateaus at 1, 2, 3 and 5% noise). At 5% about 1 run in 400 can
    # still be flagged on other seeds (a long, slow excursion of the noise), hence the bound.
    flags = 0
    for seed in range(200):
        rng = np.random.default_rng([int(noise * 1000), seed])
        epochs = int(rng.integers(40, 101))
        for clean in (plateau(epochs), slowly_improving(epochs)):
            curve = run_curve(rng, noisy(rng, clean, noise))
            flags += bool(flagged(curve, int(rng.integers(1, 400))))
    assert flags <= (1 if noise >= 0.05 else 0)


@pytest.mark.parametrize(
    ("noise", "usual_delay", "worst_delay"),
    [(0.01, 11, 15), (0.02, 12, 16), (0.03, 14, 18), (0.05, 17, 22)],
)
def test_planted_overfitting_is_caught_soon_after_the_minimum(noise, usual_delay, worst_delay):
    # Minimum at epoch 10-30, then +3% of the minimum per epoch for 30 epochs. The rise
    # must clear max(5%, 5 x noise) above the smoothed minimum for three levels, so the
    # delay grows with the noise. Measured on these seeds: 200/200 caught at every level;
    # delay (epochs after the minimum) median 6, 8, 9, 11, 95th percentile 10, 11, 13, 16,
    # worst 13, 14, 16, 19 at 1, 2, 3, 5% noise; never earlier than 5 (a 15% rise).
    caught, delays = 0, []
    for seed in range(200):
        rng = np.random.default_rng([int(noise * 1000), seed, 1])
        minimum = int(rng.integers(10, 31))
        curve = run_curve(rng, noisy(rng, u_shaped(minimum, minimum + 30, 0.03), noise))
        issues = flagged(curve, int(rng.integers(1, 400)))
        if issues:
            assert issues[0].epoch > minimum, "flagged before the validation loss turned"
            caught += 1
            delays.append(issues[0].epoch - minimum)
    assert caught >= 190
    assert np.percentile(delays, 95) <= usual_delay
    assert max(delays) <= worst_delay


# -- batching --------------------------------------------------------------------------------


def test_noisy_verdicts_do_not_depend_on_batch_size():
    rng = np.random.default_rng(5)
    curves = {}
    for index in range(6):
        clean = u_shaped(20, 50, 0.03) if index % 2 else plateau(60)
        curves[f"r{index}"] = run_curve(rng, noisy(rng, clean, 0.02 + 0.01 * index))
    results = []
    for batch_size in (None, 1, 2, 13, 101):
        harness = Harness()
        for run, curve in curves.items():
            harness.see(run)
            harness.feed(run, curve, batch_size)
        results.append(signature(harness.of_type("overfitting_suspect")))
    assert len(results[0]) >= 3
    assert all(result == results[0] for result in results)
