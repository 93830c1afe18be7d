"""Metric-series detectors: NaN/inf, divergence, overfitting; onsets and batching."""

from __future__ import annotations

import numpy as np
import pytest

from sweeptui.detectors.metrics import (
    is_loss_like,
    training_loss_name,
    validation_loss_name,
)
from tests.detector_feed import Curve, Harness, decaying_loss, signature

STEPS_PER_EPOCH = 100


def train_curve(values: np.ndarray, name: str = "train_loss") -> Curve:
    steps = np.arange(values.size, dtype=np.float64)
    return Curve(
        {name: (steps, values)},
        epoch_of_step={float(s): float(s // STEPS_PER_EPOCH) for s in steps},
        time_of_step={float(s): 1000.0 + 2.0 * s for s in steps},
    )


# -- metric names ------------------------------------------------------------------


def test_metric_names_are_read_in_their_usual_spellings():
    assert validation_loss_name(["lr", "Val/Loss", "train/loss"]) == "Val/Loss"
    assert validation_loss_name(["eval_loss"]) == "eval_loss"
    assert validation_loss_name(["loss_val", "loss"]) == "loss_val"
    assert validation_loss_name(["loss", "accuracy"]) is None
    assert training_loss_name(["val_loss", "training_loss", "loss"]) == "training_loss"
    assert training_loss_name(["val_loss", "loss"]) == "loss"
    assert is_loss_like("val/nll") and is_loss_like("perplexity") and is_loss_like("train_ppl")
    assert not is_loss_like("loss_scale") and not is_loss_like("accuracy")


# -- nan_or_inf_metric -----------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [None, 1, 37])
def test_first_nonfinite_value_is_flagged_at_its_step_and_epoch(batch_size):
    rng = np.random.default_rng(3)
    loss = decaying_loss(rng, 600, 0.15)
    loss[437] = np.nan
    loss[500] = np.inf
    grad = np.abs(rng.normal(1, 0.1, 600))
    grad[452] = np.inf  # a later bad value in another metric does not move the onset
    curve = train_curve(loss)
    curve.metrics["grad_norm"] = (np.arange(600.0), grad)
    harness = Harness()
    harness.see("r1")
    harness.feed("r1", curve, batch_size)
    [issue] = harness.of_type("nan_or_inf_metric")
    assert (issue.step, issue.epoch, issue.metric) == (437, 4, "train_loss")
    assert "NaN" in issue.message and "437" in issue.message


def test_healthy_curves_have_no_nonfinite_issue():
    harness = Harness()
    for seed in range(5):
        harness.see(f"r{seed}")
        harness.feed(f"r{seed}", train_curve(decaying_loss(np.random.default_rng(seed), 500, 0.2)))
    assert harness.store.issues == []


# -- divergence ---------------------------------------------------------------------------


def exploding_after(minimum_step: int, growth: float, total: int) -> np.ndarray:
    """1/(t+1) down to ``minimum_step``, then geometric growth from that minimum."""
    t = np.arange(total, dtype=np.float64)
    values = 1.0 / (t + 1)
    after = t > minimum_step
    values[after] = values[minimum_step] * growth ** (t[after] - minimum_step)
    return values


@pytest.mark.parametrize("batch_size", [None, 1, 4])
def test_divergence_by_factor_starts_at_first_value_ten_times_the_minimum(batch_size):
    # Minimum 0.01 at step 99; x3 per step: 0.03, 0.09, 0.27 (step 102) is the first > 0.1.
    values = exploding_after(99, 3.0, 110)
    harness = Harness()
    harness.see("r1")
    harness.feed("r1", train_curve(values, "val_loss"), batch_size)
    [issue] = harness.of_type("divergence")
    assert (issue.step, issue.metric) == (102, "val_loss")
    assert "running minimum 0.01" in issue.message


@pytest.mark.parametrize("batch_size", [None, 1, 3])
def test_divergence_by_geometric_rise_fires_when_two_values_have_grown_fourfold(batch_size):
    # Minimum 0.02 at step 49; x1.3 per step: 1.3^6 = 4.8 >= 4 at step 55 and 56 (1.3^7), so
    # the last two values are both 4x up at step 56; 10x the minimum is only passed at step 58.
    values = exploding_after(49, 1.3, 70)
    harness = Harness()
    harness.see("r1")
    harness.feed("r1", train_curve(values, "loss"), batch_size)
    [issue] = harness.of_type("divergence")
    assert issue.step == 56
    assert "rose 7 times in a row" in issue.message


def test_divergence_onset_is_exact_on_a_noisy_curve_and_ignores_nan():
    rng = np.random.default_rng(11)
    values = decaying_loss(rng, 800, 0.15)
    values[300] = np.nan  # nan_or_inf's business, not a divergence
    values[650:] *= 60.0  # the loss blows up at step 650 and stays up
    harness = Harness()
    harness.see("r1")
    harness.feed("r1", train_curve(values), 50)
    [issue] = harness.of_type("divergence")
    assert issue.step == 650 and issue.epoch == 6
    assert harness.of_type("nan_or_inf_metric")[0].step == 300


def test_a_single_spike_is_not_a_divergence():
    values = exploding_after(99, 1.0, 200)  # flat at 0.01 after step 99
    values[150] = 0.5  # one 50x outlier batch
    harness = Harness()
    harness.see("r1")
    harness.feed("r1", train_curve(values))
    assert harness.of_type("divergence") == []


@pytest.mark.parametrize("noise", [0.1, 0.2])
def test_healthy_noisy_losses_with_spikes_never_diverge(noise):
    harness = Harness()
    for seed in range(40):
        rng = np.random.default_rng(seed)
        run = f"s{seed}"
        harness.see(run)
        curve = train_curve(decaying_loss(rng, 3000, noise, spike_rate=0.01))
        curve.metrics["val_loss"] = (np.arange(99, 3000, 100.0), decaying_loss(rng, 30, noise / 3))
        harness.feed(run, curve, int(rng.integers(1, 500)))
    assert harness.of_type("divergence") == []


def test_loss_scale_and_accuracy_never_count_as_diverging():
    steps = np.arange(200.0)
    curve = Curve({"loss_scale": (steps, 2.0**steps / 1e9), "accuracy": (steps, steps / 10 + 0.01)})
    harness = Harness()
    harness.see("r1")
    harness.feed("r1", curve)
    assert harness.store.issues == []


def test_perplexity_is_judged_on_its_logarithm():
    # exp of a healthy loss whose spikes reach 3x: the perplexity jumps by e^(2 * 3) but the
    # loss underneath never moved 10x from its minimum.
    rng = np.random.default_rng(5)
    loss = decaying_loss(rng, 2000, 0.1, spike_rate=0.01)
    harness = Harness()
    harness.see("r1")
    harness.feed("r1", train_curve(np.exp(loss), "val_ppl"))
    assert harness.of_type("divergence") == []


# -- overfitting_suspect -------------------------------------------------------------------------


def overfit_curve(rng: np.random.Generator, epochs: int, val_after_min: np.ndarray) -> Curve:
    """Training loss every 10 steps, still falling; validation loss at each epoch's last step.

    ``val_after_min`` is the validation loss relative to its minimum for epochs 10...
    """
    train_steps = np.arange(0, epochs * STEPS_PER_EPOCH, 10, dtype=np.float64)
    train = 2.0 * np.exp(-train_steps / 600) * (1 + 0.1 * rng.standard_normal(train_steps.size))
    val_steps = np.arange(STEPS_PER_EPOCH - 1, epochs * STEPS_PER_EPOCH, STEPS_PER_EPOCH, float)
    val = np.empty(epochs)
    val[:10] = 0.5 + 0.1 * (10 - np.arange(10))  # falls to 0.5 at epoch 9 (steps 99..999)
    val[9] = 0.5
    val[10:] = 0.5 * val_after_min[: epochs - 10]
    steps_all = np.union1d(train_steps, val_steps)
    return Curve(
        {"train/loss": (train_steps, train), "val/loss": (val_steps, val)},
        epoch_of_step={float(s): float(s // STEPS_PER_EPOCH) for s in steps_all},
        time_of_step={float(s): 50.0 * s for s in steps_all},
    )


@pytest.mark.parametrize("batch_size", [None, 1, 6])
def test_overfitting_onset_is_the_third_validation_point_above_five_percent(batch_size):
    # Minimum 0.5 at epoch 9; then +3%, +6%, +9%, +12%... at epochs 10, 11, 12, 13: the first
    # point above +5% is epoch 11, the third consecutive one epoch 13 (step 1399), at +12%.
    rise = 1 + 0.03 * np.arange(1, 21)
    harness = Harness()
    harness.see("r1")
    harness.feed("r1", overfit_curve(np.random.default_rng(1), 30, rise), batch_size)
    [issue] = harness.of_type("overfitting_suspect")
    assert (issue.step, issue.epoch, issue.metric) == (1399, 13, "val/loss")
    assert "minimum 0.5 at epoch 9" in issue.message
    assert "rose 12%" in issue.message


def test_no_overfitting_when_training_loss_also_rises():
    rng = np.random.default_rng(2)
    curve = overfit_curve(rng, 30, 1 + 0.03 * np.arange(1, 21))
    steps, _ = curve.metrics["train/loss"]
    curve.metrics["train/loss"] = (steps, 0.3 + steps / 3000)  # training loss rising too
    harness = Harness()
    harness.see("r1")
    harness.feed("r1", curve)
    assert harness.of_type("overfitting_suspect") == []


def test_a_noisy_plateau_is_not_overfitting():
    harness = Harness()
    for seed in range(20):
        rng = np.random.default_rng(100 + seed)
        plateau = 1 + 0.01 * rng.standard_normal(40)  # validation loss flat within ~1%
        run = f"p{seed}"
        harness.see(run)
        harness.feed(run, overfit_curve(rng, 50, plateau), int(rng.integers(1, 40)))
    assert harness.of_type("overfitting_suspect") == []


def test_a_dip_back_within_tolerance_resets_the_patience():
    # +6%, +7%, back to +2%, +6%, +7%: never three in a row.
    rise = np.array([1.06, 1.07, 1.02, 1.06, 1.07, 1.02] * 3)
    harness = Harness()
    harness.see("r1")
    harness.feed("r1", overfit_curve(np.random.default_rng(4), 28, rise), 1)
    assert harness.of_type("overfitting_suspect") == []


# -- batch-size independence ---------------------------------------------------------------------


def test_issues_do_not_depend_on_batch_size():
    rng = np.random.default_rng(21)
    curves = {
        "diverges": train_curve(exploding_after(300, 1.2, 500)),
        "nan": train_curve(np.where(np.arange(400) == 333, np.nan, decaying_loss(rng, 400, 0.1))),
        "overfits": overfit_curve(rng, 30, 1 + 0.02 * np.arange(1, 21)),
        "healthy": train_curve(decaying_loss(rng, 900, 0.2, 0.01)),
    }
    results = []
    for batch_size in (None, 1, 7, 250):
        harness = Harness()
        for run, curve in curves.items():
            harness.see(run)
            harness.feed(run, curve, batch_size)
        results.append(signature(harness.store.issues))
    assert {issue[0] for issue in results[0]} == {
        "divergence",
        "nan_or_inf_metric",
        "overfitting_suspect",
    }
    assert all(result == results[0] for result in results)
