"""Sweep snapshots built from a real sweep directory, without the UI."""

from __future__ import annotations

import math
from pathlib import Path

from live.helpers import append_points, healthy, write_run

from sweeptui.snapshot import SnapshotBuilder, analyze_sweep, eta, simple_analysis
from sweeptui.store import RunStore
from sweeptui.sweep import Sweep


def _loaded(root: Path) -> Sweep:
    sweep = Sweep(root)
    sweep.rescan()
    return sweep


def test_rows_counts_and_new_issues(tmp_path: Path) -> None:
    write_run(tmp_path, "a", {"lr": 0.1, "epochs": 10}, healthy(4))
    write_run(tmp_path, "b", {"lr": 0.01, "epochs": 10}, healthy(2))
    sweep = _loaded(tmp_path)
    builder = SnapshotBuilder(sweep.store, clock=lambda: 2e9)
    first = builder.build()
    assert [row.id for row in first.rows] == ["a", "b"]
    assert first.varying == ("lr",)
    assert first.row("a").params == (("lr", 0.1),)
    assert first.row("a").epoch == 3 and first.row("a").progress == 0.4  # epochs 0..3 of 10
    assert first.row("a").best == min(v * 1.1 for v in healthy(4))
    assert first.count("running") == 2 and first.new_issues == ()

    append_points(tmp_path / "b", [math.nan])
    sweep.poll([tmp_path / "b" / "metrics.jsonl"])
    second = builder.build()
    assert [i.type for i in second.new_issues] == ["nan_or_inf_metric"]
    assert second.issues[0].run == "b" and second.issue_count == 1
    assert second.row("a") is first.row("a")  # unchanged runs keep their row object
    assert second.row("b").issues == ("nan_or_inf_metric",)
    assert math.isnan(second.row("b").spark[-1])
    assert builder.build().new_issues == ()


def test_eta_needs_every_running_run_to_know_its_length(tmp_path: Path) -> None:
    write_run(tmp_path, "a", {"epochs": 10}, healthy(5), start=1000.0)  # epochs 0..4, 4 s spent
    sweep = _loaded(tmp_path)
    # 5 of 10 epochs, one a second from the first record at t=1000 (epoch 0) to t=1004
    # (epoch 4): epochs 5..9 end at t=1009, 5 s after the last record.
    assert eta(sweep.store, now=1004.0) == 5.0
    assert eta(sweep.store, now=1006.0) == 3.0
    assert eta(sweep.store, now=1010.0) is None  # overdue: silent longer than the estimate
    write_run(tmp_path, "b", {"lr": 1}, healthy(2), start=1000.0)  # no expected length
    sweep.rescan()
    assert eta(sweep.store, now=1004.0) is None
    assert eta(RunStore(tmp_path), now=0.0) is None


def test_simple_analysis_rates_issue_share_per_value(tmp_path: Path) -> None:
    for index in range(4):
        losses = healthy(3) + ([math.inf] if index < 2 else [])
        write_run(tmp_path, f"r{index}", {"opt": "sgd" if index < 2 else "adam", "seed": index % 2}, losses)
    sweep = _loaded(tmp_path)
    analysis = simple_analysis(sweep.store)
    top = analysis.risks[0]
    assert top.param == "opt" and top.spread == 1.0
    rates = {bucket.label: (bucket.with_issues, bucket.runs) for bucket in top.buckets}
    assert rates == {"sgd": (2, 2), "adam": (0, 2)}
    assert analysis.recommendations and "opt=sgd" in analysis.recommendations[0]


def test_the_risk_panel_leaves_the_seed_out(tmp_path: Path) -> None:
    # seed 0 happens to hold every failure (3/3 against 1/3): a wider spread than lr's
    # 3/4 against 1/2, yet a seed is not something to tune
    plan = [(0.1, 0, True), (0.1, 0, True), (0.1, 1, True), (0.1, 1, False),
            (0.01, 0, True), (0.01, 1, False)]  # fmt: skip
    for index, (lr, seed, bad) in enumerate(plan):
        losses = healthy(3) + ([math.inf] if bad else [])
        write_run(tmp_path, f"r{index}", {"lr": lr, "seed": seed}, losses)
    sweep = _loaded(tmp_path)
    analysis = analyze_sweep(sweep.store, None)
    assert [risk.param for risk in analysis.risks] == ["lr"]


def test_eta_gives_new_runs_the_usual_pace_and_leaves_stalled_runs_out(tmp_path: Path) -> None:
    write_run(tmp_path, "a", {"epochs": 10}, healthy(5), start=1000.0)  # 1 s an epoch, 5 to go
    write_run(tmp_path, "b", {"epochs": 10}, healthy(1), start=1004.0)  # one record: no pace yet
    sweep = _loaded(tmp_path)
    assert eta(sweep.store, now=1004.0) == 9.0  # b: 9 epochs left at a's pace of 1 s
    from sweeptui.issues import Issue

    sweep.store.add_issue(Issue("stalled", "b", "no update for 10 min"))
    assert eta(sweep.store, now=1004.0) == 5.0


def test_elapsed_and_eta_share_the_records_clock_when_it_runs_ahead(tmp_path: Path) -> None:
    # records stamped 1000 s ahead of the machine's clock (a simulation, or a skewed host)
    write_run(tmp_path, "a", {"epochs": 10}, healthy(5), start=2000.0)
    sweep = _loaded(tmp_path)
    wall = [1004.0]
    builder = SnapshotBuilder(sweep.store, clock=lambda: wall[0])
    first = builder.build()
    assert (first.elapsed, first.eta) == (4.0, 5.0)  # measured at the newest record, t=2004
    wall[0] = 1006.0  # nothing new written: the sweep's clock goes on at our pace
    later = builder.build()
    assert (later.elapsed, later.eta) == (6.0, 3.0)


def test_elapsed_of_an_ended_sweep_is_its_span(tmp_path: Path) -> None:
    run = write_run(tmp_path, "a", {"epochs": 5}, healthy(5), start=1000.0)
    (run / "DONE").write_text("")
    sweep = _loaded(tmp_path)
    snap = SnapshotBuilder(sweep.store, clock=lambda: 5000.0).build()
    assert snap.count("finished") == 1 and snap.elapsed == 4.0 and snap.eta is None


def test_a_metric_no_run_logs_is_a_header_note(tmp_path: Path) -> None:
    write_run(tmp_path, "a", {"epochs": 10}, healthy(3))
    sweep = _loaded(tmp_path)
    builder = SnapshotBuilder(sweep.store, metric="val_los", clock=lambda: 2e9)
    (note,) = builder.build(analyse=True).notes
    assert note.startswith("--metric: no run logs the metric 'val_los'; metrics found: val_loss")
    assert SnapshotBuilder(sweep.store, metric="val_loss").build(analyse=True).notes == ()


def test_a_sweep_read_long_after_it_ran_stops_counting(tmp_path: Path) -> None:
    write_run(tmp_path, "a", {"epochs": 10}, healthy(5), start=1000.0)  # still "running", silent since
    sweep = _loaded(tmp_path)
    snap = SnapshotBuilder(sweep.store, clock=lambda: 1004.0 + 3 * 86400).build()
    assert snap.elapsed == 4.0 and snap.quiet == 3 * 86400
    from sweeptui.app.format import duration

    assert duration(snap.quiet) == "3d00h"
    fresh = SnapshotBuilder(sweep.store, clock=lambda: 1064.0).build()
    assert fresh.quiet is None and fresh.elapsed == 64.0
