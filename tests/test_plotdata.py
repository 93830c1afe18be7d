"""The plot screen's curves: thinned to a shared budget, NaN points dropped, issues kept."""

from __future__ import annotations

from pathlib import Path

from sweeptui.objective import choose_objective
from sweeptui.plotdata import POINT_BUDGET, make_curve_set
from sweeptui.simulate import generate_benchmark_sweep
from sweeptui.sweep import load_sweep


def test_a_thousand_runs_share_the_point_budget(tmp_path: Path) -> None:
    counts = generate_benchmark_sweep(tmp_path, runs=1000, steps=80, seed=5)
    sweep = load_sweep(tmp_path)
    objective = choose_objective(sweep.store)
    ids = sorted(sweep.store.runs)
    curves = make_curve_set(sweep.store, ids, objective)
    assert len(curves.curves) == 1000 and curves.points <= POINT_BUDGET + 1000
    assert max(len(c.steps) for c in curves.curves) <= POINT_BUDGET // 1000 + 1
    flagged = {c.id: c.issue for c in curves.curves if c.issue}
    assert sum(1 for issue in flagged.values() if issue == "nan_or_inf_metric") == counts["nan"]
    for curve in curves.curves:
        assert all(v == v for v in curve.values)  # finite points only
        assert list(curve.steps) == sorted(curve.steps)
    some = make_curve_set(sweep.store, ids[:10], objective)
    assert [c.id for c in some.curves] == ids[:10]
    assert min(len(c.steps) for c in some.curves if c.issue is None) == 80  # few runs: every point
