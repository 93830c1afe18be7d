"""Planted-cause sweeps for the analysis tests, built through the store's real events.

Each run gets params (log-uniform learning rate, batch size, model, dropout, seed),
per-epoch ``train_loss``/``val_loss`` series and an end event; the issues a detector
would raise are added with ``store.add_issue``. Causes are planted per run from its
params; with ``shuffle=True`` the very same fates are dealt to random runs instead,
so failures keep their counts but lose any link to the params.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass

import numpy as np

from sweeptui.events import MetricBatch, RunEnded, RunSeen, Series
from sweeptui.issues import Issue
from sweeptui.store import RunStore

MODELS = ("resnet18", "vit_small", "swin_small")
BATCHES = (32, 64, 128, 256)
EPOCHS = 6


@dataclass
class Fate:
    """How a run ends: ``ok``, ``nan`` (NaN loss then crash), ``crash`` or ``oom``, and when."""

    kind: str
    epoch: int = EPOCHS


def planted_store(
    seed: int, runs: int, causes: tuple[str, ...] = ("lr",), *, shuffle: bool = False,
    noise: float = 0.03, extra_params: bool = True,
) -> RunStore:  # fmt: skip
    """A store of ``runs`` runs whose failures follow ``causes``.

    Causes: ``lr`` (learning rate >= 0.01 goes NaN at epoch 1-2), ``model``
    (``swin_small`` crashes at epoch 2), ``pair`` (batch 256 with ``vit_small`` runs
    out of memory at epoch 0; neither alone does). ``noise`` is the rate of
    unexplained crashes everywhere.
    """
    rng = np.random.default_rng(seed)
    configs = [_config(rng, i, extra_params) for i in range(runs)]
    fates = [_fate(rng, config, causes, noise) for config in configs]
    if shuffle:
        fates = [fates[i] for i in rng.permutation(runs)]
    store = RunStore(f"/planted/{seed}")
    for index, (config, fate) in enumerate(zip(configs, fates, strict=False)):
        _emit(store, rng, f"run-{index:04d}", config, fate)
    return store


def _config(rng: np.random.Generator, index: int, extra: bool) -> dict:
    config = {
        "lr": float(10 ** rng.uniform(-5, -1)),
        "batch_size": int(rng.choice(BATCHES)),
        "model": str(rng.choice(MODELS)),
        "epochs": EPOCHS,
    }
    if extra:
        config["dropout"] = round(float(rng.uniform(0.0, 0.5)), 3)
        config["seed"] = int(index)
    return config


def _fate(rng: np.random.Generator, config: dict, causes: tuple[str, ...], noise: float) -> Fate:
    if "lr" in causes and config["lr"] >= 0.01:
        return Fate("nan", int(rng.integers(1, 3)))
    if "model" in causes and config["model"] == "swin_small":
        return Fate("crash", 2)
    if "pair" in causes and config["batch_size"] == 256 and config["model"] == "vit_small":
        return Fate("oom", 0)
    if rng.random() < noise:
        return Fate("crash", int(rng.integers(0, EPOCHS)))
    return Fate("ok")


def _val_loss(config: dict, epoch: int, rng: np.random.Generator) -> float:
    """Best near lr = 1e-3; the model and batch size barely matter."""
    distance = math.log10(config["lr"]) + 3.0
    floor = 0.3 + 0.4 * distance**2
    return floor + 1.5 * math.exp(-epoch) + float(rng.normal(0, 0.02))


def _emit(store: RunStore, rng: np.random.Generator, run_id: str, config: dict, fate: Fate) -> None:
    store.apply(RunSeen(run_id, run_id, f"runs/{run_id}", "planted", params=config, started_at=1000.0))
    last = fate.epoch if fate.kind != "ok" else EPOCHS - 1
    steps, train, val = array("d"), array("d"), array("d")
    for epoch in range(last + 1):
        broken = fate.kind == "nan" and epoch >= fate.epoch
        steps.append(float(epoch))
        val.append(math.nan if broken else _val_loss(config, epoch, rng))
        train.append(math.nan if broken else val[-1] - 0.05)
    if fate.kind != "oom":
        metrics = {"train_loss": Series(steps, train), "val_loss": Series(array("d", steps), val)}
        times = array("d", [1000.0 + 60 * s for s in steps])
        epochs = Series(array("d", steps), array("d", steps))
        store.apply(MetricBatch(run_id, metrics, len(steps), times=times, epochs=epochs))
    end_time = 1000.0 + 60 * (last + 1)
    if fate.kind == "ok":
        store.apply(RunEnded(run_id, "finished", time=end_time))
        return
    error = {
        "nan": "ValueError: loss is NaN",
        "crash": "RuntimeError: shape mismatch in attention block",
        "oom": "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB",
    }[fate.kind]
    store.apply(RunEnded(run_id, "crashed", error=error, exit_code=1, time=end_time))
    if fate.kind == "nan":
        store.add_issue(Issue("nan_or_inf_metric", run_id, "val_loss became NaN", step=fate.epoch,
                              epoch=fate.epoch, metric="val_loss"))  # fmt: skip
    kind = "oom" if fate.kind == "oom" else "crashed"
    store.add_issue(Issue(kind, run_id, error, step=float(last), epoch=float(last)))
