"""The plot screen, driven by the pilot on real run directories: the runs the filter shows,
overlaid, flagged ones apart; and the objective against each parameter in turn."""

from __future__ import annotations

import math
from pathlib import Path

from live.helpers import healthy, wait_for, write_run
from live.test_app_pilot import make_app, table
from textual.widgets import Static

from sweeptui.app.screens import MainScreen, PlotScreen


def _title(app) -> str:
    return str(app.screen.query_one("#plot-title", Static).render())


async def test_plot_screen_draws_the_filtered_runs_and_each_parameter(tmp_path: Path) -> None:
    write_run(tmp_path, "a_small", {"lr": 0.001, "batch": 32}, healthy(8))
    write_run(tmp_path, "a_mid", {"lr": 0.01, "batch": 64}, healthy(8, start=2.5))
    write_run(tmp_path, "b_nan", {"lr": 1.0, "batch": 64}, [*healthy(4), math.nan, math.nan])
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: table(app).row_count == 3 and app.snapshot.issue_count >= 1,
                       what="three runs and the NaN")  # fmt: skip
        await pilot.press("slash", "a", "_", "enter")
        await wait_for(pilot, lambda: table(app).row_count == 2, what="the filter")
        await pilot.press("g")
        await wait_for(pilot, lambda: isinstance(app.screen, PlotScreen) and app.screen.curve_set is not None,
                       what="the curves")  # fmt: skip
        assert {c.id for c in app.screen.curve_set.curves} == {"a_small", "a_mid"}
        assert "2 runs, 0 flagged" in _title(app)

        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)
        await pilot.press("escape")  # clears the filter
        await wait_for(pilot, lambda: table(app).row_count == 3, what="all runs again")
        await pilot.press("g")
        await wait_for(pilot, lambda: isinstance(app.screen, PlotScreen) and app.screen.curve_set is not None
                       and len(app.screen.curve_set.curves) == 3, what="three curves")  # fmt: skip
        nan = next(c for c in app.screen.curve_set.curves if c.id == "b_nan")
        assert nan.issue == "nan_or_inf_metric" and len(nan.values) == 4  # the NaN points have no height
        assert "3 runs, 1 flagged" in _title(app)
        drawn = str(app.screen.query_one("#plot").render())
        assert any("\u2800" < ch <= "\u28ff" for ch in drawn), "braille dots on the canvas"

        await pilot.press("v")
        assert "against batch" in _title(app) and "3 runs" in _title(app)
        await pilot.press("n")
        assert "against lr" in _title(app)
        await pilot.press("v")
        assert "objective per epoch" in _title(app)  # every run logs one point per epoch
