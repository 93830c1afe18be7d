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
from sweeptui.issues import ISSUE_TYPES, SWEEP_RUN_ID, Issue
from sweeptui.objective import Objective
from sweeptui.store import Run, RunStore, split_params

SCHEMA = "sweeptui.report/1"
LEADERBOARD_SIZE = 10
EXAMPLE_RUNS = 5

SectionBuilder = Callable[[RunStore, "Objective | None"], Any]
EXTRA_SECTIONS: dict[str, SectionBuilder] = {}
"""Sections added by later layers, keyed by their JSON key (one builder per section)."""

SectionGroupBuilder = Callable[[RunStore, "Objective | None"], dict[str, Any]]
"""Builds several sections at once; a ``warnings`` key lists lines for the report's warnings."""


def _analysis_sections(store: RunStore, objective: Objective | None) -> dict[str, Any]:
    """Every analysis section from one analysis run (pandas is imported only here)."""
    from sweeptui.analysis import analyze

    analysis = analyze(store, objective)
    return {**analysis.to_dict(), "warnings": analysis.failures}


SECTION_GROUPS: list[SectionGroupBuilder] = [_analysis_sections]
"""Builders that compute several sections at once (the analysis runs once per report)."""


def build_report(
    store: RunStore, objective: Objective | None, *, generated_at: float | None = None
) -> dict[str, Any]:
    """The whole report as plain JSON-ready data (finite floats or None, no NaN)."""
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
        "leaderboard": _leaderboard(runs, objective, varying),
        "issue_breakdown": _issue_breakdown(store.issues),
        "runs": [_run(run, objective, costs[run.id]) for run in runs],
        "issues": [_clean(issue.to_dict()) for issue in _ordered(store.issues)],
        "warnings": [{"path": w.path, "message": w.message} for w in store.warnings],
    }
    for group in SECTION_GROUPS:
        sections = _section(report, getattr(group, "__name__", "analysis"), {},
                            lambda group=group: group(store, objective))  # fmt: skip
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


def varying_params(runs: list[Run]) -> list[str]:
    """Params that take two or more values among the runs that set them (missing is no value)."""
    return split_params(runs)[0]


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
        "issue_counts": store.issue_counts(),
        "runs_with_issues": sum(1 for run in runs if run.issue_types),
        "records": sum(run.records for run in runs),
        "first_update": _iso(min((r.first_update for r in runs if r.first_update), default=None)),
        "last_update": _iso(store.newest_update()),
        "warning_count": store.warning_count,
    }


def _leaderboard(
    runs: list[Run], objective: Objective | None, varying: list[str]
) -> list[dict[str, Any]]:
    if objective is None:
        return []
    scored = [(value, run) for run in runs if (value := objective.value(run)) is not None]
    scored.sort(key=lambda pair: pair[0], reverse=objective.goal == "max")
    return [
        {
            "rank": rank,
            "id": run.id,
            "name": run.name,
            "status": run.status,
            "objective": value,
            "params": {key: run.params.get(key) for key in varying},
            "issues": list(run.issue_types),
        }
        for rank, (value, run) in enumerate(scored[:LEADERBOARD_SIZE], start=1)
    ]


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


def _clean(value: Any) -> Any:
    """JSON-safe copy: non-finite floats become None (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def _percent(part: int, total: int) -> float:
    return round(100.0 * part / total, 1) if total else 0.0


def _iso(stamp: float | None) -> str | None:
    if stamp is None:
        return None
    return datetime.fromtimestamp(stamp, tz=timezone.utc).isoformat(timespec="seconds")
