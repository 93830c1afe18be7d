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
