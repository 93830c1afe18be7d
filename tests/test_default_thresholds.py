"""Boundary tests that pin the detectors' default thresholds: each fails when its default changes.

(The lifecycle's stall, vanish, abandon and sweep-length defaults are pinned in
``test_lifecycle.py`` on real run directories.)
"""

from __future__ import annotations

import numpy as np

from sweeptui.settings import Settings
from tests.detector_feed import Curve, Harness


def divergence_onsets(losses: list[float], settings: Settings | None = None) -> list[float]:
    """Steps where a divergence was flagged on a ``train_loss`` of ``losses``."""
    harness = Harness(settings)
    harness.see("r")
    steps = np.arange(len(losses), dtype=np.float64)
    harness.feed("r", Curve({"train_loss": (steps, np.array(losses, dtype=np.float64))}))
    return [issue.step for issue in harness.of_type("divergence")]


def test_divergence_factor_is_ten_times_the_running_minimum():
    """Minimum 0.4: a plateau at 4.1 (x10.25) diverges, one at 3.9 (x9.75) does not."""
    assert divergence_onsets([1.0, 0.5, 0.4, 4.1, 4.1, 4.1, 4.1]) == [3.0]
    assert divergence_onsets([1.0, 0.5, 0.4, 3.9, 3.9, 3.9, 3.9]) == []


def test_divergence_needs_three_points_before_the_minimum_counts():
    """With 0.4 and 0.5 alone the minimum is not trusted yet: the first jump is not judged."""
    assert divergence_onsets([0.4, 0.5, 5.0, 5.0, 5.0]) == [3.0]
    assert divergence_onsets([1.0, 0.5, 0.4, 5.0, 5.0, 5.0, 5.0]) == [3.0]


def test_divergence_needs_two_confirming_points():
    """One value above ten times the minimum, then back down: a spike, not a divergence."""
    assert divergence_onsets([1.0, 0.5, 0.4, 4.1, 0.4, 0.4]) == []
    assert divergence_onsets([1.0, 0.5, 0.4, 4.1, 4.1, 0.4]) == [3.0]


def short_run_issues(done: int, expected: int = 20) -> list[str]:
    harness = Harness()
    harness.see("r", {"epochs": expected})
    steps = np.arange(done, dtype=np.float64)
    harness.feed("r", Curve({"val_loss": (steps, 1.0 / (steps + 1))},
                            epoch_of_step={float(s): float(s) for s in steps}))  # fmt: skip
    return [issue.type for issue in harness.end("r", "finished")]


def test_a_short_run_is_below_half_its_expected_length():
    """Pins ``short_run_fraction`` (0.5): 9 of 20 epochs is short, 10 of 20 is not."""
    assert short_run_issues(9) == ["short_run"]
    assert short_run_issues(10) == []


# -- overfitting_suspect -------------------------------------------------------------------------

FLAT = 20
"""Validation points at 1.0 before the rise: a minimum the smoothed level sits on, and enough
zero third differences that the noise term stays below ``overfit_min_rise``."""


def overfit_onsets(
    tail: list[float], train_tail: float = 0.9, head: list[float] | None = None
) -> list[float]:
    """Steps flagged for a ``val_loss`` of ``head`` (flat at 1.0 for ``FLAT`` points unless
    given) then ``tail``, one point per step, beside a ``train_loss`` at 1.0 along ``head``
    and at ``train_tail`` along ``tail``."""
    head = [1.0] * FLAT if head is None else head
    harness = Harness()
    harness.see("r")
    steps = np.arange(len(head) + len(tail), dtype=np.float64)
    val = np.array(head + tail)
    train = np.array([1.0] * len(head) + [train_tail] * len(tail))
    harness.feed("r", Curve({"train_loss": (steps, train), "val_loss": (steps, val)}))
    return [issue.step for issue in harness.of_type("overfitting_suspect")]


def test_overfitting_needs_a_rise_of_five_percent():
    """Pins ``overfit_min_rise`` (0.05) and ``overfit_window`` (3): the level (mean of the last
    three without the highest) is first risen at the third point of the step, flagged at the
    fifth (the third risen level)."""
    assert overfit_onsets([1.051] * 10) == [FLAT + 4.0]
    assert overfit_onsets([1.049] * 10) == []


def test_overfitting_needs_three_risen_points():
    """Pins ``overfit_patience`` (3): the level is 10% up from a 20% step's second point until
    two points after it, so a step of three points gives three risen levels, one of two only two."""
    assert overfit_onsets([1.2] * 3 + [1.0] * 6) == [FLAT + 3.0]
    assert overfit_onsets([1.2] * 2 + [1.0] * 6) == []


def test_a_raw_rise_of_thirty_percent_counts_before_the_level_does():
    """Pins ``overfit_clear_rise`` (0.3): three raw points 31% above the minimum are flagged at
    the third; at 29% only the smoothed level flags, one point later."""
    assert overfit_onsets([1.31] * 3 + [1.0] * 6) == [FLAT + 2.0]
    assert overfit_onsets([1.29] * 3 + [1.0] * 6) == [FLAT + 3.0]


def test_overfitting_needs_training_to_fall_two_percent():
    """Pins ``overfit_train_drop`` (0.02): training 2.1% below its level at the validation
    minimum is still falling, 1.9% below is not."""
    assert overfit_onsets([1.2] * 10, train_tail=0.979) == [FLAT + 3.0]
    assert overfit_onsets([1.2] * 10, train_tail=0.981) == []


# -- crash_loop ------------------------------------------------------------------------------------


def crash_loop_after(logged: list[int], epochs: int | None = 20) -> list[str]:
    """Crash-loop messages once runs that logged ``logged`` records each ended, in that order
    (crashed when below ``epochs``, finished at it); ``epochs`` in each config unless None."""
    harness = Harness()
    for index, count in enumerate(logged):
        run_id = f"r{index}"
        harness.see(run_id, {"epochs": epochs} if epochs else None)
        if count:
            steps = np.arange(count, dtype=np.float64)
            harness.feed(run_id, Curve({"val_loss": (steps, 1.0 / (steps + 1))},
                                       epoch_of_step={float(s): float(s) for s in steps}))  # fmt: skip
        status = "finished" if epochs and count >= epochs else "crashed"
        harness.end(run_id, status, time=1000.0 + index)
    return [issue.message for issue in harness.of_type("crash_loop")]


def test_a_crash_loop_is_seven_early_deaths_in_the_last_ten_runs():
    """Pins ``crash_loop_window`` (10) and ``crash_loop_fraction`` (0.7)."""
    assert crash_loop_after([20] * 3 + [1] * 7) == ["7 of the last 10 runs died early (median 1 epoch)"]
    assert crash_loop_after([20] * 4 + [1] * 6) == []
    assert crash_loop_after([1] * 9) == []  # nine runs: no full window yet


def test_an_early_death_is_below_a_quarter_of_the_expected_length():
    """Pins ``early_death_fraction`` (0.25): 4 of 20 epochs died early, 5 of 20 did not."""
    assert crash_loop_after([4] * 10)
    assert crash_loop_after([5] * 10) == []


def test_without_any_length_an_early_death_has_at_most_five_records():
    """Pins ``early_death_records`` (5), used when neither a config nor a finished run gives
    a length."""
    assert crash_loop_after([5] * 10, epochs=None)
    assert crash_loop_after([6] * 10, epochs=None) == []


def test_a_rise_must_clear_five_times_the_runs_own_noise():
    """Pins ``overfit_noise_factor`` (5): validation alternating 1% either side of 1.0 is a
    noise of about 2.2%, so the level must rise some 11% above the minimum 0.99. A step to
    1.10 clears it, one to 1.09 never does (at 4.5 times both would, at 5.5 times neither)."""
    zigzag = [1.0 + 0.01 * (-1) ** index for index in range(40)]
    assert overfit_onsets([1.10] * 10, head=zigzag) == [48.0]
    assert overfit_onsets([1.09] * 10, head=zigzag) == []


def test_the_noise_estimate_forgets_after_thirty_points():
    """Pins ``overfit_noise_points`` (30): a single spike at point 10 of a flat run leaves huge
    third differences up to point 13; a 20% step from point 20 counts as risen only once
    those have left the 30-point window (point 43), and is flagged at the third such point."""
    spike = [1.0] * 10 + [100.0] + [1.0] * 9
    assert overfit_onsets([1.2] * 40, head=spike) == [45.0]
