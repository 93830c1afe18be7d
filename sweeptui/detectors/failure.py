"""``crashed`` / ``oom`` / ``killed``: a run's files say it died.

The store has already classified the death (:mod:`sweeptui.failures`) and set the
run's status; this turns the verdict into an issue naming the cause and where the
run was when it died.
"""

from __future__ import annotations

from sweeptui.detectors.base import where
from sweeptui.issues import Issue
from sweeptui.store import Run

VERBS = {"crashed": "crashed", "oom": "ran out of memory", "killed": "was killed"}


def failure_issue(run: Run) -> Issue | None:
    """The issue for a run that ended with a failure, or None for a clean finish."""
    failure = run.failure
    if failure is None or run.status == "finished":
        return None
    step, epoch = run.last_step, run.last_epoch
    place = "before logging any metric" if step is None else f"at {where(step, epoch)}"
    return Issue(
        failure.kind,
        run.id,
        f"{VERBS.get(failure.kind, failure.kind)} {place}: {failure.reason}",
        step=step,
        epoch=epoch,
        time=run.ended_at if run.ended_at is not None else run.last_update,
    )
