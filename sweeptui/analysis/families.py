"""Issue families: which runs count as an event of each kind of failure, and which could have.

Different causes fail runs in different ways, and a test of "any issue" lets them
dilute each other. The analysis therefore also tests each family on its own:

- ``death``: the run crashed, was killed, failed or ran out of memory (and did not
  go NaN or diverge first: a run that blew up numerically and then crashed is a
  numerical failure);
- ``numerical``: a ``nan_or_inf_metric`` or ``divergence`` issue;
- ``overfitting``: an ``overfitting_suspect`` issue;
- ``any``: any run-level issue, or died (the original single outcome).

Failures compete: a run that crashed at epoch 2 never had the chance to go NaN at
epoch 4, and a run that died or went NaN cannot be judged for overfitting. Each
family is therefore tested only on the runs *at risk* of it: runs that ended by an
earlier-acting family (and do not show this one) are left out of its table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sweeptui.analysis.frame import ISSUE_PREFIX, RunsFrame

FAMILIES = ("death", "numerical", "overfitting", "any")
"""Family names, in the order ties are broken (crashes waste the most compute)."""
NUMERICAL_TYPES = ("nan_or_inf_metric", "divergence")
DEATH_TYPES = ("crashed", "killed", "oom")
OVERFITTING_TYPES = ("overfitting_suspect",)
FAMILY_TYPES = {"death": DEATH_TYPES, "numerical": NUMERICAL_TYPES, "overfitting": OVERFITTING_TYPES}
"""Issue types each specific family explains (``any`` explains every type)."""
FAMILY_NOUNS = {"death": "crash/kill/OOM", "numerical": "NaN/divergence", "overfitting": "overfitting",
                "any": "any issue"}  # fmt: skip


@dataclass(frozen=True)
class FamilyOutcome:
    """Per run: whether it shows the family (``event``) and whether it could have (``at_risk``)."""

    event: np.ndarray
    at_risk: np.ndarray


def family_outcomes(frame: RunsFrame) -> dict[str, FamilyOutcome]:
    """Event and at-risk masks of every family, over the frame's rows."""
    df = frame.df
    numerical = _any_issue(frame, NUMERICAL_TYPES)
    died = df["died"].to_numpy() | _any_issue(frame, DEATH_TYPES)
    overfit = _any_issue(frame, OVERFITTING_TYPES)
    death = died & ~numerical
    everyone = np.ones(len(df), dtype=bool)
    return {
        "death": FamilyOutcome(death, ~numerical),
        "numerical": FamilyOutcome(numerical, numerical | ~died),
        "overfitting": FamilyOutcome(overfit, overfit | ~(died | numerical)),
        "any": FamilyOutcome(df["has_issue"].to_numpy(), everyone),
    }


def _any_issue(frame: RunsFrame, types: tuple[str, ...]) -> np.ndarray:
    flags = np.zeros(len(frame.df), dtype=bool)
    for issue_type in types:
        column = ISSUE_PREFIX + issue_type
        if column in frame.df:
            flags |= frame.df[column].to_numpy()
    return flags
