"""The tidy runs table: one row per run, built once from the store per analysis.

Columns: ``run_id``, ``name``, ``status``, ``died`` (crashed, killed or failed),
``running``, ``has_issue`` (any run-level issue, or died), one boolean column per
issue type (``issue:<type>``), ``objective`` (NaN when missing), ``epochs``
(epochs completed, counted from 1), ``last_epoch`` (as logged), ``last_step``,
``failure`` (crash reason), ``run_hours`` (wall time, NaN when unknown) and
``lost_hours`` (the part lost to failure, see :mod:`.cost`), and ``p:<param>`` for
every param that varies.
Every later step of the analysis reads this table, never the store.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sweeptui.analysis.cost import RunCost, sweep_costs
from sweeptui.issues import ISSUE_TYPES, SWEEP_RUN_ID
from sweeptui.objective import Objective
from sweeptui.store import Run, RunStore, split_params

DIED_STATUSES = frozenset({"crashed", "killed", "failed"})
PARAM_PREFIX = "p:"
ISSUE_PREFIX = "issue:"
_SEED = re.compile(r"(^|[._-])(seed|random_seed|rng_seed|random_state)$", re.I)
_SETTING = re.compile(
    r"""(^|[._-])(
        entity | project | (wandb|mlflow|neptune|comet)\w* | run_name | exp(eriment)?_name
        | job_type | tags | notes
        | \w*_?(dir|path|root|file|folder)s? | output | checkpoint\w* | ckpt\w* | resume\w*
        | \w*log(ging)?_?(interval|every|freq|frequency|steps|every_n_steps)\w*
        | (print|save|eval|val_check|checkpoint)_?(interval|every|freq|frequency|steps)\w*
        | num_workers | workers | device | devices | gpus?
    )$""",
    re.I | re.X,
)


@dataclass
class RunsFrame:
    """The runs table plus what the analysis needs to read it."""

    df: pd.DataFrame
    params: list[str]
    """Varying params, in name order (columns ``p:<name>``)."""
    issue_types: list[str]
    """Run-level issue types that occurred (columns ``issue:<type>``)."""
    constants: dict[str, Any]
    """Params with one value in every run (kept for the next sweep's config)."""
    sweep_issues: list[str]
    """Sweep-level issue types (``crash_loop``)."""
    run_params: list[dict[str, Any]]
    """Each run's params as the store holds them (original types), in row order."""
    costs: dict[str, RunCost]
    """Each run's wall time and lost time, by run id."""
    lacking: dict[str, int] = field(default_factory=dict)
    """Runs without a value (absent or null), per param that other runs set."""

    def param_column(self, name: str) -> pd.Series:
        """The values of one param, one per run (None where missing)."""
        return self.df[PARAM_PREFIX + name]


def is_seed(name: str) -> bool:
    """Whether a param names a random seed (never narrowed, never a config key)."""
    return bool(_SEED.search(name))


def is_setting(name: str) -> bool:
    """Whether a param is a setting rather than a hyperparameter: never tested or narrowed.

    Seeds, tracker names (W&B entity and project, run names, tags), paths and
    logging, saving or evaluation intervals change where and how a run reports,
    not what it learns; a finding about them would only mirror which runs set them.
    """
    return is_seed(name) or bool(_SETTING.search(name))


def build_frame(store: RunStore, objective: Objective | None) -> RunsFrame:
    """One row per run, sorted by run id."""
    runs = sorted(store, key=lambda run: run.id)
    varying, constants, lacking = split_params(runs)
    params = [name for name in varying if not is_setting(name)]
    issue_types = sorted({t for run in runs for t in run.issue_types} & set(ISSUE_TYPES))
    costs = sweep_costs(store)
    rows = [_row(run, objective, params, issue_types, costs[run.id]) for run in runs]
    columns = _columns(params, issue_types)
    df = pd.DataFrame(rows, columns=columns)
    for name in ("died", "running", "has_issue", *(ISSUE_PREFIX + t for t in issue_types)):
        df[name] = df[name].astype(bool)
    for name in ("objective", "epochs", "last_epoch", "last_step", "run_hours", "lost_hours"):
        df[name] = df[name].astype(np.float64)
    sweep_issues = sorted({issue.type for issue in store.issues if issue.run == SWEEP_RUN_ID})
    run_params = [run.params for run in runs]
    return RunsFrame(df, params, issue_types, constants, sweep_issues, run_params, costs, lacking)


def _columns(params: list[str], issue_types: list[str]) -> list[str]:
    return [
        "run_id", "name", "status", "died", "running", "has_issue",
        *(ISSUE_PREFIX + t for t in issue_types),
        "objective", "epochs", "last_epoch", "last_step", "failure", "run_hours", "lost_hours",
        *(PARAM_PREFIX + p for p in params),
    ]  # fmt: skip


def _row(run: Run, objective: Objective | None, params: list[str], issue_types: list[str],
         cost: RunCost) -> list:  # fmt: skip
    died = run.status in DIED_STATUSES
    value = objective.value(run) if objective is not None else None
    flags = set(run.issue_types)
    return [
        run.id, run.name, run.status, died, run.status == "running", died or bool(flags),
        *(t in flags for t in issue_types),
        math.nan if value is None else value,
        _epochs_done(run), _or_nan(run.last_epoch), _or_nan(run.last_step),
        run.failure.reason if run.failure else None,
        _or_nan(cost.hours), cost.lost_hours,
        *(run.params.get(p) for p in params),
    ]  # fmt: skip


def _epochs_done(run: Run) -> float:
    """Epochs completed, counted from 1; NaN when no finite epoch was logged.

    The series keeps its finite range as points arrive: no copy of the column per run.
    """
    if run.epochs is None or run.epochs.best("min") is None:
        return math.nan
    return run.epochs.values_counted()


def _or_nan(value: float | None) -> float:
    return math.nan if value is None else float(value)
