"""The report document: one JSON-ready dict built from a loaded sweep.

Every writer (Markdown, JSON, HTML) and the app's export render this one document,
so they never disagree. The schema is ``sweeptui.report/1`` (see
``docs/report-schema.md``): keys are only ever added, never renamed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from sweeptui import __version__
from sweeptui.analysis.cost import RunCost, sweep_costs
from sweeptui.issues import ISSUE_TYPES, SWEEP_RUN_ID, Issue, Severity
from sweeptui.objective import Objective
from sweeptui.report.curves import curves_section
from sweeptui.settings import Settings
from sweeptui.store import Run, RunStore, varying_params

SCHEMA = "sweeptui.report/1"
LEADERBOARD_SIZE = 10
EXAMPLE_RUNS = 5

SectionBuilder = Callable[[RunStore, "Objective | None"], Any]
EXTRA_SECTIONS: dict[str, SectionBuilder] = {}
"""Sections added by later layers, keyed by their JSON key (one builder per section)."""

SectionGroupBuilder = Callable[[RunStore, "Objective | None", Settings], dict[str, Any]]
"""Builds several sections at once; a ``warnings`` key lists lines for the report's warnings."""


def _analysis_sections(store: RunStore, objective: Objective | None, settings: Settings) -> dict[str, Any]:
    """Every analysis section from one analysis run (pandas is imported only here)."""
    from sweeptui.analysis import AnalysisOptions, analyze

    options = AnalysisOptions().with_settings(settings)
    analysis = analyze(store, objective, options)
    sections = analysis.to_dict()
    sections["analysis"] = {"alpha": options.alpha, "correction": "holm"}
    sections["warnings"] = analysis.failures
    return sections


SECTION_GROUPS: list[SectionGroupBuilder] = [_analysis_sections]
"""Builders that compute several sections at once (the analysis runs once per report)."""


def build_report(
    store: RunStore, objective: Objective | None, *, generated_at: float | None = None,
    settings: Settings | None = None, rank: str = "best",
) -> dict[str, Any]:  # fmt: skip
    """The whole report as plain JSON-ready data (finite floats or None, no NaN).

    ``rank`` picks the value the leaderboard ranks by: each run's ``best`` or ``last``
    objective value (see :func:`leaderboard`)."""
    settings = settings or Settings()
    runs = sorted(store, key=lambda run: run.id)
    varying = varying_params(runs)
    costs = sweep_costs(store)
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "generator": f"sweeptui {__version__}",
        "generated_at": _iso(generated_at if generated_at is not None else time.time()),
        "root": str(store.root),
        "objective": _objective(objective),
        "summary": _summary(store, runs),
        "varying_params": varying,
        "leaderboard": leaderboard(runs, objective, varying, rank),
        "ranking": {"value": rank, "high_severity_last": True},
        "issue_breakdown": _issue_breakdown(store.issues),
        "runs": [_run(run, objective, costs[run.id]) for run in runs],
        "issues": [_clean(issue.to_dict()) for issue in _ordered(store.issues)],
        "warnings": [{"path": w.path, "message": w.message} for w in store.warnings],
        "curves": curves_section(store, objective),  # JSON-ready as built
    }
    for group in SECTION_GROUPS:
        sections = _section(report, getattr(group, "__name__", "analysis"), {},
                            lambda group=group: group(store, objective, settings))  # fmt: skip
        for line in sections.pop("warnings", ()):
            report["warnings"].append({"path": "analysis", "message": line})
        report.update(_clean(sections))
    for key, builder in EXTRA_SECTIONS.items():
        report[key] = _clean(_section(report, key, None, lambda b=builder: b(store, objective)))
    return report


def _section(report: dict[str, Any], name: str, default: Any, build: Callable[[], Any]) -> Any:
    """``build()``, or ``default`` with a warning in ``report`` when it raises."""
    try:
        return build()
    except Exception as exc:  # a failing section must not cost the whole report
        message = f"report section {name} failed and is left out: {exc!r}"
        report["warnings"].append({"path": "report", "message": message})
        return default


def _objective(objective: Objective | None) -> dict[str, Any] | None:
    if objective is None:
        return None
    return {
        "metric": objective.metric,
        "goal": objective.goal,
        "reason": objective.reason,
        "automatic": objective.automatic,
    }


def _summary(store: RunStore, runs: list[Run]) -> dict[str, Any]:
    counts = store.status_counts()
    total = len(runs)
    return {
        "runs": total,
        "status_counts": counts,
        "status_percent": {k: _percent(v, total) for k, v in counts.items()},
        "stopped_early": sum(1 for run in runs if run.verdict.stopped_early),
        "status_evidence": _status_evidence(runs),
        "issue_counts": store.issue_counts(),
        "runs_with_issues": sum(1 for run in runs if run.issue_types),
        "records": sum(run.records for run in runs),
        "first_update": _iso(min((r.first_update for r in runs if r.first_update), default=None)),
        "last_update": _iso(store.newest_update()),
        "warning_count": store.warning_count,
    }


def _status_evidence(runs: list[Run]) -> dict[str, Any]:
    """How many statuses the files stated and how many were inferred, and from what."""
    evidence: dict[str, Any] = {"explicit": 0, "inferred": 0, "explicit_by": {}, "inferred_by": {}}
    for run in runs:
        kind = "explicit" if run.verdict.explicit else "inferred"
        evidence[kind] += 1
        by = evidence[f"{kind}_by"]
        by[run.verdict.basis] = by.get(run.verdict.basis, 0) + 1
    return evidence


RANK_VALUES = ("best", "last")
"""What a leaderboard can rank by: each run's best objective value, or its newest one."""


def leaderboard(
    runs: list[Run], objective: Objective | None, varying: list[str], rank: str = "best"
) -> list[dict[str, Any]]:
    """The top runs by their ``rank`` value (``best`` or ``last``) of the objective.

    A run with a high-severity issue (NaN, divergence, a crash...) never outranks one
    without: a best value reached before the run blew up is not a result to pick.
    """
    if rank not in RANK_VALUES:
        raise ValueError(f"rank by {rank!r}? choose one of: {', '.join(RANK_VALUES)}")
    if objective is None:
        return []
    scored = []
    for run in runs:
        value = objective.value(run) if rank == "best" else objective.last(run)
        if value is not None and math.isfinite(value):
            scored.append((_has_high_severity(run), value if objective.goal == "min" else -value, run))
    scored.sort(key=lambda entry: entry[:2])
    return [
        {
            "rank": place,
            "id": run.id,
            "name": run.name,
            "status": run.status,
            "stopped_early": run.verdict.stopped_early,
            "objective": objective.value(run),
            "last": _finite(objective.last(run)),
            "ranked_value": value if objective.goal == "min" else -value,
            "high_severity": high,
            "params": {key: run.params.get(key) for key in varying},
            "issues": list(run.issue_types),
        }
        for place, (high, value, run) in enumerate(scored[:LEADERBOARD_SIZE], start=1)
    ]


def _has_high_severity(run: Run) -> bool:
    return any(ISSUE_TYPES[kind][0] is Severity.HIGH for kind in run.issue_types if kind in ISSUE_TYPES)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _issue_breakdown(issues: list[Issue]) -> list[dict[str, Any]]:
    by_type: dict[str, list[Issue]] = {}
    for issue in issues:
        by_type.setdefault(issue.type, []).append(issue)
    rows = []
    for issue_type, group in by_type.items():
        severity, description = ISSUE_TYPES[issue_type]
        rows.append(
            {
                "type": issue_type,
                "severity": severity.value,
                "description": description,
                "count": len(group),
                "example_runs": [i.run for i in group[:EXAMPLE_RUNS] if i.run != SWEEP_RUN_ID],
                "example_message": group[0].message,
            }
        )
    rows.sort(key=lambda row: (("high", "medium", "low").index(row["severity"]), -row["count"]))
    return rows


def _run(run: Run, objective: Objective | None, cost: RunCost) -> dict[str, Any]:
    done, expected = run.progress()
    return _clean(
        {
            "id": run.id,
            "name": run.name,
            "path": run.path,
            "source": run.source,
            "status": run.status,
            "status_reason": run.status_reason,
            "status_explicit": run.verdict.explicit,
            "status_basis": run.verdict.basis,
            "stopped_early": run.verdict.stopped_early,
            "params": run.params,
            "steps": run.records,
            "last_step": run.last_step,
            "last_epoch": run.last_epoch,
            "progress": done,
            "expected": None if expected is None else {"unit": expected.unit, "count": expected.count},
            "best": objective.value(run) if objective else None,
            "last": objective.last(run) if objective else None,
            "metrics": sorted(run.metrics),
            "summary": run.summary,
            "issues": list(run.issue_types),
            "failure": run.failure.reason if run.failure else None,
            "exit_code": run.exit_code,
            "first_update": _iso(run.first_update),
            "last_update": _iso(run.last_update),
            "run_hours": cost.hours,
            "lost_run_hours": cost.lost_hours if cost.known else None,
            "lost_since": _iso(cost.lost_since),
            "lost_to": cost.cause,
        }
    )


def _ordered(issues: list[Issue]) -> list[Issue]:
    return sorted(issues, key=lambda i: (i.severity.rank, i.type, i.run))


_KEPT = frozenset((int, str, bool, type(None)))
"""Types a JSON-safe copy keeps as they are."""


def _clean(value: Any) -> Any:
    """JSON-safe copy: non-finite floats become None (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    # A plain scalar (a finite float, an integer, a string...) is kept without a call:
    # the curves hold ~10^5 numbers, every run's row a few dozen values.
    if isinstance(value, dict):
        return {k if type(k) is str else str(k):
                v if type(v) in _KEPT or (type(v) is float and v - v == 0.0) else _clean(v)
                for k, v in value.items()}  # fmt: skip
    if isinstance(value, (list, tuple)):
        return [v if type(v) in _KEPT or (type(v) is float and v - v == 0.0) else _clean(v)
                for v in value]  # fmt: skip
    return value


def _percent(part: int, total: int) -> float:
    return round(100.0 * part / total, 1) if total else 0.0


def _iso(stamp: float | None) -> str | None:
    if stamp is None:
        return None
    return datetime.fromtimestamp(stamp, tz=timezone.utc).isoformat(timespec="seconds")
