"""Screenshots of the main screen at 80x24 and 160x48 from a fixed, deterministic sweep."""

from __future__ import annotations

from array import array

from sweeptui.app.app import SweepApp
from sweeptui.events import MetricBatch, RunEnded, RunSeen, Series
from sweeptui.issues import Issue
from sweeptui.snapshot import SnapshotBuilder
from sweeptui.store import RunStore

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


def test_main_screen_160x48(snap_compare) -> None:
    assert snap_compare(fixed_app(), terminal_size=(160, 48))
