"""Sweep analysis: which params go with failures, what matters, what to try next.

:func:`analyze` builds one tidy runs table from the store (:mod:`.frame`), buckets
every varying param (:mod:`.buckets`) and derives every section from that table:
``param_effects`` and ``risk_factors`` (:mod:`.effects`), ``crash_epochs``,
``groups``, ``sensitivity`` and ``best_configs`` (:mod:`.outcomes`),
``recommendations`` and ``caveats`` (:mod:`.advice`), ``next_sweep``
(:mod:`.nextsweep`) and ``compute``, the run-hours lost to failure (:mod:`.cost`).
It feeds the report and the live app; nothing here imports
Textual.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from sweeptui.analysis.advice import add_savings, caveats, recommendations
from sweeptui.analysis.buckets import ParamBuckets, bucket_param
from sweeptui.analysis.cost import compute_section
from sweeptui.analysis.effects import param_effects, risk_factors
from sweeptui.analysis.frame import RunsFrame, build_frame
from sweeptui.analysis.nextsweep import next_sweep
from sweeptui.analysis.options import AnalysisOptions
from sweeptui.analysis.outcomes import best_configs, crash_epochs, groups, sensitivity
from sweeptui.objective import Objective
from sweeptui.store import RunStore

SECTION_KEYS = (
    "param_effects", "risk_factors", "crash_epochs", "groups", "sensitivity",
    "best_configs", "recommendations", "caveats", "next_sweep", "compute",
)  # fmt: skip


@dataclass
class SweepAnalysis:
    """Every analysis section as JSON-ready data; :meth:`to_dict` keys them for the report."""

    param_effects: list[dict[str, Any]] = field(default_factory=list)
    risk_factors: list[dict[str, Any]] = field(default_factory=list)
    crash_epochs: dict[str, Any] = field(default_factory=dict)
    groups: list[dict[str, Any]] = field(default_factory=list)
    sensitivity: list[dict[str, Any]] = field(default_factory=list)
    best_configs: list[dict[str, Any]] = field(default_factory=list)
    recommendations: list[dict[str, Any]] = field(default_factory=list)
    caveats: list[dict[str, Any]] = field(default_factory=list)
    next_sweep: dict[str, Any] = field(default_factory=dict)
    compute: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The sections under their report keys (see ``docs/report-schema.md``)."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}


def analyze(
    store: RunStore, objective: Objective | None, options: AnalysisOptions | None = None
) -> SweepAnalysis:
    """Analyse every run of ``store`` against ``objective`` (None when nothing ranks runs)."""
    options = options or AnalysisOptions()
    frame = build_frame(store, objective)
    buckets = bucket_all(frame, options)
    goal = objective.goal if objective is not None else None
    effects = param_effects(frame, buckets, options, goal)
    risks = risk_factors(frame, buckets, effects, options)
    add_savings(frame, buckets, effects, risks)
    group_rows = groups(frame, buckets, goal)
    sensitive = sensitivity(frame, buckets, options, goal)
    return SweepAnalysis(
        param_effects=effects,
        risk_factors=risks,
        crash_epochs=crash_epochs(frame),
        groups=group_rows,
        sensitivity=sensitive,
        best_configs=best_configs(frame, buckets, goal),
        recommendations=recommendations(frame, buckets, effects, risks, group_rows, sensitive, options, goal),
        caveats=caveats(frame, effects, options, objective is not None),
        next_sweep=next_sweep(frame, buckets, effects, sensitive, objective, options),
        compute=compute_section(frame.costs),
    )


def _plain(value: Any) -> Any:
    """Numpy scalars become Python ones, recursively (JSON writers need plain types)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def bucket_all(frame: RunsFrame, options: AnalysisOptions) -> dict[str, ParamBuckets]:
    """Buckets of every varying param, by name."""
    return {name: bucket_param(name, frame.param_column(name), options) for name in frame.params}


__all__ = ["SECTION_KEYS", "AnalysisOptions", "SweepAnalysis", "analyze", "build_frame"]
