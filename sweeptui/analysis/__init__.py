"""Sweep analysis: which params go with failures, what matters, what to try next.

:func:`analyze` builds one tidy runs table from the store (:mod:`.frame`), buckets
every varying param (:mod:`.buckets`) and derives every section from that table:
``param_effects`` and ``risk_factors`` (:mod:`.effects`), ``crash_epochs``,
``groups``, ``sensitivity`` and ``best_configs`` (:mod:`.outcomes`),
``recommendations`` and ``caveats`` (:mod:`.advice`), ``next_sweep``
(:mod:`.nextsweep`) and ``compute``, the run-hours lost to failure (:mod:`.cost`).
It feeds the report and the live app; nothing here imports
Textual.

No section may stop a report: a section that raises is left empty (its default)
and named in :attr:`SweepAnalysis.failures`, which the report lists among its
warnings; the sections after it are computed from what is there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

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
    failures: list[str] = field(default_factory=list)
    """One line per section that failed (left at its empty default)."""

    def to_dict(self) -> dict[str, Any]:
        """The sections under their report keys (see ``docs/report-schema.md``)."""
        return {key: _plain(getattr(self, key)) for key in SECTION_KEYS}


T = TypeVar("T")


class _Guard:
    """Runs each section; a failure gives the section's default and is remembered."""

    def __init__(self) -> None:
        self.failures: list[str] = []

    def run(self, section: str, default: T, compute: Callable[[], T]) -> T:
        try:
            return compute()
        except Exception as exc:  # one broken section must not cost the report
            self.failures.append(f"analysis section {section} failed and is left empty: {exc!r}")
            return default


def analyze(
    store: RunStore, objective: Objective | None, options: AnalysisOptions | None = None
) -> SweepAnalysis:
    """Analyse every run of ``store`` against ``objective`` (None when nothing ranks runs)."""
    options = options or AnalysisOptions()
    guard = _Guard()
    try:
        frame = build_frame(store, objective)
    except Exception as exc:  # without the runs table no section can be computed
        return SweepAnalysis(failures=[f"analysis failed; every section is left empty: {exc!r}"])
    buckets = guard.run("buckets", {}, lambda: bucket_all(frame, options))
    goal = objective.goal if objective is not None else None
    effects = guard.run("param_effects", [], lambda: param_effects(frame, buckets, options, goal))
    risks = guard.run("risk_factors", [], lambda: risk_factors(frame, buckets, effects, options))
    guard.run("savings", None, lambda: add_savings(frame, buckets, effects, risks))
    group_rows = guard.run("groups", [], lambda: groups(frame, buckets, goal))
    sensitive = guard.run("sensitivity", [], lambda: sensitivity(frame, buckets, options, goal))
    return SweepAnalysis(
        param_effects=effects,
        risk_factors=risks,
        crash_epochs=guard.run("crash_epochs", {}, lambda: crash_epochs(frame)),
        groups=group_rows,
        sensitivity=sensitive,
        best_configs=guard.run("best_configs", [], lambda: best_configs(frame, buckets, goal)),
        recommendations=guard.run("recommendations", [], lambda: recommendations(
            frame, buckets, effects, risks, group_rows, sensitive, options, goal)),
        caveats=guard.run("caveats", [], lambda: caveats(frame, effects, options, objective is not None)),
        next_sweep=guard.run("next_sweep", {}, lambda: next_sweep(
            frame, buckets, effects, sensitive, objective, options)),
        compute=guard.run("compute", {}, lambda: compute_section(frame.costs)),
        failures=guard.failures,
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
    """Buckets of every varying hyperparameter, by name (settings are left out by the frame)."""
    return {name: bucket_param(name, frame.param_column(name), options) for name in frame.params}


__all__ = ["SECTION_KEYS", "AnalysisOptions", "SweepAnalysis", "analyze", "build_frame"]
