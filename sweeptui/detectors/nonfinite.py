"""``nan_or_inf_metric``: the first NaN or infinite value of any metric of a run."""

from __future__ import annotations

import math

import numpy as np

from sweeptui.detectors.base import SMALL_BATCH, EpochLookup, view, where
from sweeptui.events import MetricBatch
from sweeptui.issues import Issue
from sweeptui.store import Run

ISSUE_TYPE = "nan_or_inf_metric"


def find_nonfinite(
    run: Run, batch: MetricBatch, epochs: EpochLookup, seen_at: float | None
) -> Issue | None:
    """The earliest non-finite point of the batch (lowest step over all metrics), if any.

    Stateless: the first batch holding a bad value is, by construction, where the
    first bad value is; the store's per-(run, type) dedupe keeps later ones out.
    """
    first: tuple[float, str, float] | None = None
    for name, series in batch.metrics.items():
        index = _first_nonfinite(series.values)
        if index < 0:
            continue
        step = series.steps[index]
        if first is None or step < first[0]:
            first = (step, name, series.values[index])
    if first is None:
        return None
    step, name, value = first
    epoch = epochs.epoch_at(step)
    kind = "NaN" if value != value else ("+inf" if value > 0 else "-inf")
    return Issue(
        ISSUE_TYPE,
        run.id,
        f"{name} became {kind} at {where(step, epoch)}",
        step=step,
        epoch=epoch,
        metric=name,
        time=seen_at,
    )


def _first_nonfinite(values) -> int:
    """Index of the first NaN or infinite value of an ``array('d')``, or -1."""
    if len(values) <= SMALL_BATCH:  # a loop beats numpy's call overhead here
        for index, value in enumerate(values):
            if not math.isfinite(value):
                return index
        return -1
    finite = np.isfinite(view(values))
    if np.count_nonzero(finite) == finite.size:
        return -1
    return int(np.argmin(finite))  # the first False
