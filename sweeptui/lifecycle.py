"""A run's status and the one-line reason for it: the one place that decides them.

Sources never set a status; they bring evidence, the store records it on the run,
and this module turns it into a :class:`Verdict` (``run.verdict``; ``run.status``
and ``run.status_reason`` read from it). Both views ask the same functions, so
``watch`` and ``report`` agree on the same files.

Evidence API (what a reader emits, see :mod:`sweeptui.events`):

- ``RunEnded(status, error, exit_code, time, stopped_early, evidence)``: the files say
  the run ended. ``status`` is what they claim (``finished``/``crashed``/``killed``)
  or ``None`` when only error text or an exit code is known; ``evidence`` names what
  said so in a few words (``"DONE file"``, ``"Optuna state PRUNED"``, ``"Slurm state
  TIMEOUT"``); ``stopped_early`` marks a run the sweep tool ended on purpose.
- ``MetricBatch``: records with their timestamps (``times``) or, without them, the
  file's modification time (``mtime``). The newest of these is ``run.last_update``,
  the run's newest file time; their intervals are the run's cadence.
- ``RunSeen(started_at=...)``: when the run began (a run that never logs a metric
  is judged from it).
- ``RunSeen(params=...)``: the config, whose length keys give the expected length.

The rules, in order (docs/detectors.md spells them out with their settings):

1. **Explicit evidence**: an end marker, an exit code, error text or the tool's own
   state decides. Ctrl-C (``KeyboardInterrupt``, SIGINT, exit 130) and SIGTERM are
   ``killed``; a run that died before its first metric is ``failed``.
2. **Implicit completion**: a run that reached its expected length (from its config,
   else the length the sweep's completed runs reached, never steps against epochs)
   and then went quiet past its stall threshold is ``finished``; a last test line
   written afterwards does not flip it back.
3. **Silence against the clock**: silence is measured from the run's newest
   evidence (``last_update``, or when data last arrived while watching) to *now*, or
   to the sweep's newest evidence when that is later (files stamped by a clock that
   runs ahead).
   Past the stall threshold a run is still ``running`` but stalled; past
   ``vanish_factor`` thresholds while another run moved on, or past the abandon
   limit whatever the others did, it is not running any more: ``killed``, or
   ``failed`` when it never logged a metric.

This module imports nothing from the store at run time (the store calls
:func:`record_end`), so it stays a leaf the store, the detectors and the views share.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sweeptui.failures import classify_failure
from sweeptui.numbers import duration, number

if TYPE_CHECKING:
    from sweeptui.events import RunEnded
    from sweeptui.settings import Settings
    from sweeptui.store import Run

EXPLICIT = "explicit"
INFERRED = "inferred"

# What a verdict stands on (the report counts statuses per basis).
END_MARKER = "end marker"
EXIT_CODE = "exit code"
ERROR_TEXT = "error text"
CONFIG_LENGTH = "expected length reached"
SWEEP_LENGTH = "sweep's length reached"
SILENCE = "silence"
RECENT_DATA = "recent data"
NO_DATA = "no data yet"


@dataclass(frozen=True, slots=True)
class Verdict:
    """A run's status, the one-line reason, and what kind of evidence it stands on."""

    status: str
    reason: str
    basis: str = NO_DATA
    """Short name of the evidence: ``end marker``, ``silence``, ``expected length reached``..."""
    explicit: bool = False
    """True when the files said so; False when inferred from lengths and the clock."""
    stopped_early: bool = False
    """Finished on purpose before its planned length (pruned, stopped by a scheduler)."""
    stalled: bool = False
    """Still running, but silent past its stall threshold."""
    vanished: bool = False
    """Ended by silence (no end marker): not running any more."""
    silent: float | None = None
    """Seconds without new evidence when judged (None when not judged by the clock)."""
    threshold: float | None = None
    """The run's stall threshold in seconds when judged by the clock."""
    cadence: float | None = None
    """The run's median update interval, when known."""

    @property
    def mark(self) -> str:
        """The status as tables show it (``finished (stopped early)``)."""
        return status_mark(self.status, self.stopped_early)

    def same_state(self, other: Verdict) -> bool:
        """Whether ``other`` says the same thing but for its figures (silence grows each tick)."""
        return (self.status, self.basis, self.stalled, self.vanished, self.stopped_early) == (
            other.status, other.basis, other.stalled, other.vanished, other.stopped_early,
        )  # fmt: skip


PENDING = Verdict("running", "no data yet")
"""The verdict of a run nothing is known about yet."""


# -- explicit evidence ----------------------------------------------------------------


def record_end(run: Run, event: RunEnded) -> None:
    """Record a ``RunEnded`` on ``run`` and judge it (the store calls this, once per event).

    Error text or an exit code other than 0 is classified (:mod:`sweeptui.failures`);
    the claimed status wins only when the text says nothing more specific.
    """
    run.stopped_early = run.stopped_early or event.stopped_early
    if event.error:
        run.error = event.error
    if event.exit_code is not None:
        run.exit_code = event.exit_code
    if event.time is not None:
        run.ended_at = event.time
        if run.last_update is None or event.time > run.last_update:
            run.last_update = event.time
    status = event.status
    basis = END_MARKER
    if event.error or status in ("crashed", "killed") or event.exit_code not in (None, 0):
        run.failure = classify_failure(event.error or run.error or "", event.exit_code, status)
        status = run.failure.status
        basis = EXIT_CODE if event.exit_code is not None and not event.error else ERROR_TEXT
    elif event.exit_code == 0:
        basis = EXIT_CODE
    if status is None:
        return
    run.end_claim = status
    run.end_basis = basis
    run.end_evidence = event.evidence or run.end_evidence
    run.verdict = explicit_verdict(run)


END_STATE = (
    "stopped_early", "error", "exit_code", "ended_at", "failure", "end_claim", "end_basis",
    "end_evidence", "verdict",
)  # fmt: skip
"""The fields of a run that :func:`record_end` sets: its end evidence and its verdict."""


def end_state(run: Run) -> tuple:
    """The run's end evidence as it stands, to go back to with :func:`restore_end`."""
    return tuple(getattr(run, name) for name in END_STATE)


def restore_end(run: Run, state: tuple) -> None:
    """Put back end evidence saved by :func:`end_state` (a claim withdrawn)."""
    for name, value in zip(END_STATE, state, strict=True):
        setattr(run, name, value)


def explicit_verdict(run: Run) -> Verdict:
    """The verdict of a run whose files said it ended (``run.end_claim`` is set)."""
    status = run.end_claim or "finished"
    said = f" ({run.end_evidence})" if run.end_evidence else ""
    if status != "finished" and run.records == 0:
        cause = run.failure.reason if run.failure else status
        return Verdict("failed", f"died before logging any metric: {cause}{said}", run.end_basis, True)
    if status == "finished":
        if run.stopped_early:
            reason = f"stopped early on purpose{said or ' by the sweep tool'}; {_logged(run)}"
            return Verdict("finished", reason, run.end_basis, True, stopped_early=True)
        what = f"end marker{said}" if run.end_basis == END_MARKER else f"exit code 0{said}"
        return Verdict("finished", f"{what}; {_logged(run)}", run.end_basis, True)
    cause = run.failure.reason if run.failure else status
    return Verdict(status, f"{cause}{said}; {_logged(run)}", run.end_basis, True)


# -- lengths ------------------------------------------------------------------------------


def run_length(run: Run) -> tuple[float, str]:
    """How far a run got: epochs when its epoch advances, else steps, else records
    (counted from 1)."""
    epochs = run.epochs_done()
    if epochs is not None:
        return epochs, "epochs"
    longest = max(
        (series for series in run.metrics.values() if len(series)),
        key=lambda series: series.last_step,
        default=None,
    )
    if longest is not None:
        return longest.steps_counted(), "steps"
    return float(run.records), "records"


def done_of_expected(run: Run) -> tuple[float, float, str] | None:
    """(done, expected, unit) by the run's own config; None when units cannot be compared.

    An expected length in epochs is compared only with logged epochs, never with
    steps: a log without an epoch column says nothing about ``epochs: 20``.
    """
    expected = run.expected
    if expected is None or expected.count <= 0:
        return None
    if expected.unit == "epoch":
        epochs = run.epochs_done()
        if epochs is not None:
            return epochs, expected.count, "epochs"
        return (expected.count, expected.count, "epochs") if _steps_end_at(run, expected.count) else None
    length, unit = run_length(run)
    if unit != "steps":
        return None
    return length, expected.count, "steps"


def _steps_end_at(run: Run, epochs: float) -> bool:
    """Whether a log without an epoch column logged exactly ``epochs`` dense steps.

    A per-epoch logger that records only a step (TensorBoard's ``add_scalar(tag, v,
    epoch)``) ends at its epoch count with one point per step; a per-step log stopped
    by chance at that very step is far less likely than a per-step log that went past
    it, which never counts as complete against an epoch count.
    """
    longest = max(
        (series for series in run.metrics.values() if len(series)),
        key=lambda series: series.last_step,
        default=None,
    )
    return longest is not None and longest.steps_counted() == epochs == len(longest)


def _logged(run: Run) -> str:
    """``"3 of 12 epochs logged"``, ``"40 steps logged"`` or ``"no metric logged"``."""
    if run.records == 0:
        return "no metric logged"
    known = done_of_expected(run)
    if known is not None:
        done, expected, unit = known
        return f"{number(min(done, expected))} of {number(expected)} {unit} logged"
    length, unit = run_length(run)
    return f"{number(length)} {unit} logged"


@dataclass(frozen=True, slots=True)
class SweepLength:
    """The length the sweep's completed runs reached, per unit: stands in for a config."""

    by_unit: dict[str, tuple[float, int]]

    def reached(self, run: Run) -> tuple[float, int] | None:
        """(reference length, runs at it) when ``run`` reached the sweep's length."""
        length, unit = run_length(run)
        known = self.by_unit.get(unit)
        if known is None or unit == "records" or length < known[0]:
            return None
        return known


def sweep_length(candidates: Iterable[Run], min_runs: int) -> SweepLength:
    """The longest length at least ``min_runs`` quiet or finished runs share, per unit.

    Candidates are runs that finished by their own evidence (not stopped early) and
    runs gone quiet: a live run still logging says nothing about where runs end.
    """
    by_unit: dict[str, list[float]] = {}
    for run in candidates:
        length, unit = run_length(run)
        if length > 0:
            by_unit.setdefault(unit, []).append(length)
    found: dict[str, tuple[float, int]] = {}
    for unit, lengths in by_unit.items():
        top = max(lengths)
        count = sum(1 for length in lengths if length >= top)
        if count >= max(1, min_runs):
            found[unit] = (top, count)
    return SweepLength(found)


# -- silence ------------------------------------------------------------------------------


def last_seen(run: Run) -> float | None:
    """The newest evidence of life: newest record or file time, or live data arrival."""
    stamps = [s for s in (run.last_update, run.last_arrival, run.first_update) if s is not None]
    return max(stamps) if stamps else None


def stall_threshold(run: Run, settings: Settings) -> tuple[float, float | None]:
    """(seconds of silence that make ``run`` stalled, its median update interval or None).

    ``max(stall_floor_seconds, stall_factor x median interval)``; while fewer than
    two intervals are known the cadence says nothing and
    ``stall_unknown_cadence_seconds`` stands in for it.
    """
    median = run_cadence(run)
    if median is None:
        return max(settings.stall_floor_seconds, settings.stall_unknown_cadence_seconds), None
    return max(settings.stall_floor_seconds, settings.stall_factor * median), median


def run_cadence(run: Run) -> float | None:
    """The median of the run's recent update intervals (cached until one more arrives)."""
    if len(run.intervals) < 2:
        return None
    if run.cadence is None:
        run.cadence = float(statistics.median(run.intervals))
    return run.cadence


# -- judging the runs without an end ---------------------------------------------------------


class Lifecycle:
    """Judges every run against the clock and the rest of the sweep; sets ``run.verdict``.

    The only state kept is which runs were found complete: a complete run stays
    finished when a last test or eval line arrives after it went quiet.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._complete: set[str] = set()

    def assess(self, runs: Iterable[Run], now: float) -> list[tuple[Run, Verdict]]:
        """Judge each run without an end marker at ``now``; returns the changed (run, old verdict)."""
        runs = list(runs)
        open_runs = [run for run in runs if run.end_claim is None]
        if not open_runs:
            return []
        seen = {run.id: last_seen(run) for run in runs}
        newest = _two_newest(seen.values())
        newest_record = max((r.last_update for r in runs if r.last_update is not None), default=now)
        if newest_record > now:
            now = newest_record  # records stamped ahead of this clock: judge against the sweep
        quiet = {
            run.id
            for run in open_runs
            if seen[run.id] is not None and now - seen[run.id] > stall_threshold(run, self.settings)[0]
        }
        finished = (r for r in runs if r.end_claim == "finished" and not r.stopped_early)
        reference = sweep_length(
            [*finished, *(r for r in open_runs if r.id in quiet)],
            self.settings.sweep_length_min_runs,
        )
        changed = []
        for run in open_runs:
            # a run with no time of its own (a trial still waiting) is as quiet as the sweep
            stamp = seen[run.id] if seen[run.id] is not None else newest[0]
            other = newest[1] if stamp is not None and stamp == newest[0] else newest[0]
            verdict = self.judge(run, now, stamp, other, reference)
            if not verdict.same_state(run.verdict):
                changed.append((run, run.verdict))
            run.verdict = verdict
        return changed

    def judge(
        self,
        run: Run,
        now: float,
        seen: float | None,
        newest_other: float | None,
        reference: SweepLength,
    ) -> Verdict:
        """The verdict of one run without an end marker (rules 2 and 3)."""
        if seen is None:
            return PENDING
        silent = max(now - seen, 0.0)
        threshold, cadence = stall_threshold(run, self.settings)
        timing = {"silent": silent, "threshold": threshold, "cadence": cadence}
        complete = self._completion(run, reference)
        if complete is not None and (silent > threshold or run.id in self._complete):
            self._complete.add(run.id)
            basis, text = complete
            reason = f"reached {text}, then no file written for {duration(silent)}"
            return Verdict("finished", reason, basis, **timing)
        if silent <= threshold:
            reason = f"last data {duration(silent)} ago; {_logged(run)}"
            return Verdict("running", reason, RECENT_DATA, **timing)
        moved_on = newest_other is not None and newest_other > seen
        vanish_limit = self.settings.vanish_factor * threshold
        abandon_limit = max(self.settings.abandon_seconds, self.settings.abandon_factor * threshold)
        if (moved_on and silent > vanish_limit) or silent > abandon_limit:
            status = "killed" if run.records else "failed"
            others = "; other runs kept writing after it" if moved_on else ""
            reason = f"no file written for {duration(silent)}; {_logged(run)}{others}"
            if not run.records:
                reason = f"never logged a metric; no file written for {duration(silent)}{others}"
            return Verdict(status, reason, SILENCE, vanished=True, **timing)
        rule = _rule(threshold, cadence)
        reason = f"stalled: no file written for {duration(silent)} ({rule}); {_logged(run)}"
        return Verdict("running", reason, SILENCE, stalled=True, **timing)

    def forget(self, run_id: str) -> None:
        """Drop what is kept about a run."""
        self._complete.discard(run_id)

    def reconsider(self, run: Run) -> None:
        """The evidence of ``run`` changed under it (a log reset): what was kept about it is
        dropped and a run whose files claim an end has its verdict made again (its figures
        moved); an open run is judged at the next :meth:`assess`."""
        self.forget(run.id)
        if run.end_claim is not None:
            run.verdict = explicit_verdict(run)

    @staticmethod
    def _completion(run: Run, reference: SweepLength) -> tuple[str, str] | None:
        """(basis, "20 of 20 epochs ...") when the run reached its expected length, else None."""
        known = done_of_expected(run)
        if known is not None:
            done, expected, unit = known
            if done < expected:
                return None
            key = run.expected.key if run.expected else "length"
            count = number(expected)
            return CONFIG_LENGTH, f"{count} of {count} {unit} ({key}={count} in its config)"
        found = reference.reached(run)
        if found is None:
            return None
        length, unit = run_length(run)
        runs = found[1]
        return SWEEP_LENGTH, f"{number(length)} {unit}, the length {runs} quiet or finished runs reached"


def _rule(threshold: float, cadence: float | None) -> str:
    rule = f"threshold {duration(threshold)}"
    if cadence is not None:
        rule += f"; median update interval {duration(cadence)}"
    return rule


def _two_newest(stamps: Iterable[float | None]) -> tuple[float | None, float | None]:
    """The newest and second-newest of ``stamps`` (ties count twice), ignoring None."""
    first = second = None
    for stamp in stamps:
        if stamp is None or math.isnan(stamp):
            continue
        if first is None or stamp > first:
            first, second = stamp, first
        elif second is None or stamp > second:
            second = stamp
    return first, second


def status_mark(status: str, stopped_early: bool) -> str:
    """``finished (stopped early)`` for a run ended on purpose, else the status itself."""
    return f"{status} (stopped early)" if stopped_early and status == "finished" else status
