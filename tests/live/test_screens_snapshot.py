"""Screenshots of the screens from fixed, deterministic sweeps.

The main screen at 80x24, 120x40 and 200x60 on the demo's sweep (written whole, with
its fixed base time): the table sized to its runs, the feed, the recommendations and
the risk panel sharing the rest; ``v`` showing one panel alone; the run detail screen
with its marks; and a small sweep with a hostile run name.
"""

from __future__ import annotations

from array import array

import pytest

from sweeptui.app.app import SweepApp
from sweeptui.app.screens import RunDetailScreen
from sweeptui.events import MetricBatch, RunEnded, RunSeen, Series
from sweeptui.issues import Issue
from sweeptui.objective import choose_objective
from sweeptui.simulate import BASE_TIME, demo_plans, write_run_dir
from sweeptui.snapshot import SnapshotBuilder, make_detail
from sweeptui.store import RunStore
from sweeptui.sweep import Sweep

T0 = 1_700_000_000.0
RUNS = [
    ("lr0.001_bs32", {"lr": 0.001, "batch_size": 32, "epochs": 20}, 20, None, "finished"),
    ("lr0.01_bs32", {"lr": 0.01, "batch_size": 32, "epochs": 20}, 12, None, None),
    ("lr0.1_bs64", {"lr": 0.1, "batch_size": 64, "epochs": 20}, 6, "nan", None),
    ("lr1.0_bs64", {"lr": 1.0, "batch_size": 64, "epochs": 20}, 4, "div", "crashed"),
    ("[red]odd[/] name", {"lr": 0.01, "batch_size": 64, "epochs": 20}, 9, None, None),
]


def _curve(epochs: int, fate: str | None) -> list[float]:
    values = [2.0 * 0.85**i for i in range(epochs)]
    if fate == "nan":
        values[-1] = float("nan")
    if fate == "div":
        values[-2:] = [40.0, 900.0]
    return values


def fixed_store() -> RunStore:
    store = RunStore("/sweeps/demo")
    for name, params, epochs, fate, end in RUNS:
        store.apply(RunSeen(name, name, name, "run_dir", params, started_at=T0))
        steps = array("d", range(epochs))
        values = _curve(epochs, fate)
        batch = MetricBatch(
            name, {"val_loss": Series(steps, array("d", values)),
                   "train_loss": Series(steps, array("d", [v * 0.9 for v in values]))},
            records=epochs, times=array("d", [T0 + 60 * i for i in range(epochs)]),
            epochs=Series(steps, array("d", steps)),
        )  # fmt: skip
        store.apply(batch, T0)
        if end:
            error = "boom" if end == "crashed" else None
            store.apply(RunEnded(name, end, error=error, time=T0 + 60 * epochs))
    store.add_issue(Issue("nan_or_inf_metric", "lr0.1_bs64", "val_loss became NaN", step=5, epoch=5,
                          metric="val_loss", time=T0 + 300))  # fmt: skip
    store.add_issue(Issue("divergence", "lr1.0_bs64", "val_loss 900 is 450x its minimum", step=3, epoch=3,
                          metric="val_loss", time=T0 + 180))  # fmt: skip
    store.add_issue(Issue("crashed", "lr1.0_bs64", "RuntimeError: boom", time=T0 + 240))
    return store


def fixed_app() -> SweepApp:
    builder = SnapshotBuilder(fixed_store(), clock=lambda: T0 + 1500)
    return SweepApp(snapshot=builder.build(analyse=True))


def test_main_screen_80x24(snap_compare) -> None:
    assert snap_compare(fixed_app(), terminal_size=(80, 24))


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory) -> RunStore:
    root = tmp_path_factory.mktemp("demo") / "sweep"
    for plan in demo_plans():
        write_run_dir(root, plan)
    sweep = Sweep(root)
    sweep.load(now=BASE_TIME + 1700)  # judged a minute after its newest record, not today
    store = sweep.store
    store.root = "/sweeps/demo"  # the header shows the root: keep it the same on every machine
    return store


def demo_app(store: RunStore) -> SweepApp:
    builder = SnapshotBuilder(store, clock=lambda: BASE_TIME + 2000)
    return SweepApp(snapshot=builder.build(analyse=True))


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)], ids=["80x24", "120x40", "200x60"])
def test_demo_sweep_main_screen(snap_compare, demo_store, size) -> None:
    assert snap_compare(demo_app(demo_store), terminal_size=size)


@pytest.mark.parametrize("presses", [1, 3, 4], ids=["runs", "recommendations", "risk"])
def test_demo_sweep_one_panel_at_a_time_80x24(snap_compare, demo_store, presses) -> None:
    assert snap_compare(demo_app(demo_store), press=["v"] * presses, terminal_size=(80, 24))


@pytest.mark.parametrize("run_id", ["run_06", "run_01", "run_22"], ids=["nan", "divergence", "overfit"])
def test_run_detail_marks_where_the_run_went_bad(snap_compare, demo_store, run_id) -> None:
    app = demo_app(demo_store)
    detail = make_detail(demo_store, run_id, choose_objective(demo_store))

    async def open_detail(pilot) -> None:
        screen = RunDetailScreen(run_id)
        await app.push_screen(screen)
        await pilot.pause()
        screen.show(detail)
        await pilot.pause()

    assert snap_compare(app, run_before=open_detail, terminal_size=(100, 40))
