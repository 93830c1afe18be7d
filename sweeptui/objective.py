"""The objective: which metric ranks the runs, and in which direction.

By default the validation-loss-like metric present in most runs is chosen (then a
test loss, a training loss, an accuracy); the choice and its reason are reported
so a reader knows what "best" means. A run's objective value is its summary value
when it has one under that name, else the best finite point of its series.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass

from sweeptui.store import Run, RunStore

_PREFERENCES: tuple[tuple[str, str, str], ...] = (
    (r"(val|valid|validation|eval|dev)[_/.-]?(epoch[_/.-]?)?loss", "min", "validation loss"),
    (r"loss[_/.-]?(val|valid|validation|eval)", "min", "validation loss"),
    (r"(best|final|min)[_/.-]?(val|valid|validation|eval)[_/.-]?loss", "min", "validation loss"),
    (r"(final[_/.-]?)?test[_/.-]?loss", "min", "test loss"),
    (r"(val|valid|validation|eval)[_/.-]?(epoch[_/.-]?)?(acc|accuracy)", "max", "validation accuracy"),
    (r"(final[_/.-]?)?test[_/.-]?(acc|accuracy)", "max", "test accuracy"),
    (r"(train|training)?[_/.-]?(epoch[_/.-]?)?loss", "min", "training loss"),
    (r"value|objective", "min", "objective value"),
)


@dataclass(frozen=True, slots=True)
class Objective:
    """The metric that ranks runs, its goal (``min``/``max``) and why it was chosen."""

    metric: str
    goal: str
    reason: str
    automatic: bool

    def better(self, a: float, b: float) -> bool:
        """Whether value ``a`` beats ``b`` under this goal."""
        return a < b if self.goal == "min" else a > b

    def value(self, run: Run) -> float | None:
        """The run's objective: its summary value, else its best finite point; None if none."""
        if self.metric in run.summary:
            value = run.summary[self.metric]
            return value if math.isfinite(value) else None
        series = run.metrics.get(self.metric)
        return series.best(self.goal) if series is not None else None

    def last(self, run: Run) -> float | None:
        """The newest point of the objective's series (or its summary value)."""
        series = run.metrics.get(self.metric)
        if series is not None and len(series):
            return series.last
        return run.summary.get(self.metric)


def choose_objective(
    store: RunStore, metric: str | None = None, goal: str | None = None
) -> Objective | None:
    """The objective named by the user, else the best-matching metric; None when no metrics."""
    presence = _presence(store)
    if metric is not None:
        chosen_goal = goal or _guess_goal(metric)
        reason = _better(chosen_goal) + ("" if goal else ", goal guessed from the name")
        return Objective(metric, chosen_goal, reason, False)
    for pattern, default_goal, label in _PREFERENCES:
        matcher = re.compile(pattern, re.I)
        candidates = [name for name in presence if matcher.fullmatch(name)]
        if candidates:
            name = max(candidates, key=lambda n: (presence[n], -len(n)))
            chosen_goal = goal or default_goal
            reason = f"{label}, {_better(chosen_goal)}"
            return Objective(name, chosen_goal, reason, True)
    return None


def _better(goal: str) -> str:
    return "lower is better" if goal == "min" else "higher is better"


def unknown_metric(store: RunStore, metric: str) -> str | None:
    """Why ``metric`` cannot rank the runs of ``store``, naming the metrics that exist
    (closest spelling first); None when some run logs it, or when no run logged anything yet."""
    presence = _presence(store)
    if not presence or metric in presence:
        return None
    names = sorted(presence)
    close = difflib.get_close_matches(metric, names, n=len(names), cutoff=0.0)
    ordered = close + [name for name in names if name not in close]
    return f"no run logs the metric {metric!r}; metrics found: {', '.join(ordered)}"


def _presence(store: RunStore) -> dict[str, int]:
    counts: dict[str, int] = {}
    for run in store:
        for name in {*run.metrics, *run.summary}:
            counts[name] = counts.get(name, 0) + 1
    return counts


_HIGHER_IS_BETTER = re.compile(r"acc|auc|f1|precision|recall|score|bleu|rouge|map|iou|reward", re.I)


def _guess_goal(metric: str) -> str:
    return "max" if _HIGHER_IS_BETTER.search(metric) else "min"
