"""``stalled`` and vanished runs (``killed``): the issues of a run gone silent.

Whether a run is stalled or gone is decided by :mod:`sweeptui.lifecycle` (its
verdict carries the silence, the threshold and the cadence); this turns those
verdicts into issues naming the silence and where the run was.
"""

from __future__ import annotations

from sweeptui.issues import Issue
from sweeptui.lifecycle import Verdict
from sweeptui.numbers import duration, where
from sweeptui.store import Run

SILENCE_ISSUES = ("stalled", "killed")
"""The issue types a silence raises; withdrawn when the run turns out to have finished."""


def stalled_issue(run: Run, verdict: Verdict, now: float) -> Issue:
    """The ``stalled`` issue for a run silent past its threshold."""
    rule = f"threshold {duration(verdict.threshold or 0.0)}"
    if verdict.cadence is not None:
        rule += f"; median update interval {duration(verdict.cadence)}"
    step, epoch = run.last_step, run.last_epoch
    return Issue(
        "stalled",
        run.id,
        f"no update for {duration(verdict.silent or 0.0)} ({rule}); {_last_logged(run)}",
        step=step,
        epoch=epoch,
        time=now,
    )


def vanished_issue(run: Run, verdict: Verdict, now: float) -> Issue:
    """The ``killed`` issue for a run that stopped mid-way without an end marker."""
    step, epoch = run.last_step, run.last_epoch
    return Issue(
        "killed",
        run.id,
        f"{_vanished_where(run)}: {verdict.reason}",
        step=step,
        epoch=epoch,
        time=now,
    )


def _last_logged(run: Run) -> str:
    """``"last at step 7"``, or ``"no metric logged"`` for a run that never logged one."""
    if run.last_step is None and run.last_epoch is None:
        return "no metric logged"
    return f"last at {where(run.last_step, run.last_epoch)}"


def _vanished_where(run: Run) -> str:
    """Where a run stopped: mid-run at its last step, or before its first metric."""
    if run.last_step is None and run.last_epoch is None:
        return "vanished without an end marker before logging any metric"
    return f"vanished mid-run without an end marker at {where(run.last_step, run.last_epoch)}"
