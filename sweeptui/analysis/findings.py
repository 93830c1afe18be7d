"""Single-param findings phrased as actions: one recommendation per (param range, issue family).

A param range becomes a recommendation only when its buckets are significant for
a family (:mod:`.effects`). The wording follows the family: runs that went NaN or
diverged call for a lower learning rate, clipping or warmup; runs that died name
how they died, the most common error and the usual epoch; OOM calls for smaller
batches; overfitting calls for regularisation. Buckets significant only for "any
issue" (a mix no single family explains) get the generic wording.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

import numpy as np

from sweeptui.analysis.buckets import ParamBuckets, format_number
from sweeptui.analysis.families import FAMILIES, FAMILY_TYPES, family_outcomes
from sweeptui.analysis.frame import ISSUE_PREFIX, RunsFrame
from sweeptui.numbers import p_relation, percent
from sweeptui.store import is_learning_rate
from sweeptui.textsafe import one_line

EXAMPLE_RUNS = 5
REASON_LIMIT = 160
_BATCH = re.compile(r"batch", re.I)
SPECIFIC = ("death", "numerical", "overfitting")


def recommendation(kind: str, title: str, text: str, evidence: dict, params: list[str], strength: float,
                   family: str | None = None, saved: float = 0.0) -> dict[str, Any]:  # fmt: skip
    """One recommendation in the report's shape (``family`` is set for issue findings).

    ``saved`` is ``saved_run_hours``: the lost run-hours of the runs it covers, what
    following it would have saved in this sweep.
    """
    rec = {"kind": kind, "title": title, "text": text, "evidence": evidence, "params": params,
           "strength": float(strength), "saved_run_hours": float(saved)}  # fmt: skip
    if family is not None:
        rec["family"] = family
    return rec


def range_findings(
    frame: RunsFrame, buckets: dict[str, ParamBuckets], effects: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One recommendation per (param, family) with significant buckets, plus "any"-only ones."""
    outcomes = family_outcomes(frame)
    every: dict[str, list[dict[str, Any]]] = {}
    for entry in effects:
        every.setdefault(entry["param"], []).append(entry)
    found = []
    for name, entries in every.items():
        for family in FAMILIES:
            bad = [e for e in entries if _flagged_for(e, family)]
            if bad:
                mask = bucket_mask(buckets[name], [e["bucket"] for e in bad])
                found.append(_finding(frame, name, family, bad, entries, mask, outcomes[family]))
    return found


def _flagged_for(entry: dict[str, Any], family: str) -> bool:
    """Whether this finding belongs to ``family`` ("any" only when no specific family explains it)."""
    if family != "any":
        return family in entry["findings"]
    return "any" in entry["findings"] and not set(entry["findings"]) & set(SPECIFIC)


def bucket_mask(param: ParamBuckets, labels: list[str]) -> np.ndarray:
    """Runs whose value of the param falls in one of the buckets named ``labels``."""
    indices = [i for i, b in enumerate(param.buckets) if b.label in set(labels)]
    return np.isin(param.codes, indices)


def saved_hours(frame: RunsFrame, mask: np.ndarray) -> float:
    """The lost run-hours of the runs in ``mask``."""
    return float(frame.df["lost_hours"].to_numpy()[mask].sum())


def _finding(frame, name, family, bad, every, mask, outcome) -> dict[str, Any]:
    stats = [e["families"][family] for e in bad]
    runs, events = sum(s["runs"] for s in stats), sum(s["events"] for s in stats)
    total = stats[0]["runs"] + stats[0]["rest_runs"]
    total_events = stats[0]["events"] + stats[0]["rest_events"]
    rest_runs, rest_events = total - runs, total_events - events
    rate, rest_rate = events / runs, (rest_events / rest_runs if rest_runs else 0.0)
    p_adjusted = max(s["p_adjusted"] for s in stats)
    region = region_label(name, bad, every)
    hit = mask & outcome.event & outcome.at_risk
    counts = _type_counts(frame, hit, family)
    outcome_text, action = _phrase(frame, name, family, hit, counts, region)
    text = (
        f"{events} of {runs} runs with {region} {outcome_text} "
        f"({percent(rate)} vs {percent(rest_rate)} of the "
        f"{rest_runs} other {_comparable(family)}runs; one-sided Fisher exact test, corrected "
        f"p {p_relation(p_adjusted)})."
    )
    if action:
        text += " " + action
    kind, title = _kind_and_title(family, region)
    evidence = {
        "family": family, "buckets": [e["bucket"] for e in bad], "runs": runs, "issue_runs": events,
        "issue_rate": rate, "rest_runs": rest_runs, "rest_issue_runs": rest_events,
        "rest_issue_rate": rest_rate, "p_adjusted": p_adjusted, "issue_counts": counts,
        "example_runs": frame.df["run_id"].to_numpy()[hit][:EXAMPLE_RUNS].tolist(),
    }  # fmt: skip
    if family == "death":
        evidence["common_failure"] = _common_failure(frame, hit)
        evidence["modal_epoch"], evidence["modal_epoch_runs"] = _modal_epoch(frame, hit)
    # avoiding a region saves every lost hour in it; regularising saves those of its overfit runs
    saved = saved_hours(frame, hit if kind == "regularize" else mask)
    return recommendation(kind, title, text, evidence, [name], events - runs * rest_rate, family, saved)


def _comparable(family: str) -> str:
    """Runs of another family that ended first are left out of the comparison."""
    return "" if family == "any" else "comparable "


def _kind_and_title(family: str, region: str) -> tuple[str, str]:
    if family == "overfitting":
        return "regularize", f"Regularise runs with {region}"
    return "avoid", f"Avoid {region}"


def _type_counts(frame: RunsFrame, hit: np.ndarray, family: str) -> dict[str, int]:
    """Runs per issue type among the finding's runs (the family's own types first)."""
    counts = {}
    for issue_type in frame.issue_types:
        count = int(frame.df[ISSUE_PREFIX + issue_type].to_numpy()[hit].sum())
        if count:
            counts[issue_type] = count
    own = FAMILY_TYPES.get(family, ())
    return dict(sorted(counts.items(), key=lambda item: (item[0] not in own, -item[1], item[0])))


def _phrase(frame, name, family, hit, counts, region) -> tuple[str, str]:
    """What happened to the runs (a verb phrase) and what to do about it."""
    if family == "numerical":
        return _numerical_phrase(name, counts)
    if family == "death":
        return _death_phrase(frame, name, hit, counts, region)
    if family == "overfitting":
        return "overfit", "Use weight decay, dropout or early stopping on the validation loss."
    top = ", ".join(f"{t} {n}" for t, n in sorted(counts.items(), key=lambda item: -item[1])[:3])
    return "had issues", (f"Most common: {top}." if top else "")


def _numerical_phrase(name: str, counts: dict[str, int]) -> tuple[str, str]:
    nan, diverged = counts.get("nan_or_inf_metric", 0), counts.get("divergence", 0)
    verb = "went NaN" if not diverged else "diverged" if not nan else "went NaN or diverged"
    if is_learning_rate(name):
        return verb, ("Lower the learning rate, or add gradient clipping and a warmup if you need rates "
                      "this high.")  # fmt: skip
    return verb, "Lower the learning rate, or add gradient clipping and a warmup."


_DEATH_VERBS = {"oom": "ran out of memory", "killed": "were killed",
                "failed": "failed before their first metric", "crashed": "crashed"}  # fmt: skip


def _death_phrase(frame, name, hit, counts, region) -> tuple[str, str]:
    df = frame.df
    status = df["status"].to_numpy()[hit]
    oom = np.zeros(len(status), dtype=bool)
    if ISSUE_PREFIX + "oom" in df:
        oom = df[ISSUE_PREFIX + "oom"].to_numpy()[hit]
    manner = np.where(oom, "oom", np.where(np.isin(status, ("killed", "failed")), status, "crashed"))
    tally = Counter(manner.tolist()).most_common()
    if len(tally) == 1:
        verb = _DEATH_VERBS[tally[0][0]]
    else:
        verb = "died (" + ", ".join(f"{n} {_DEATH_VERBS[m]}" for m, n in tally) + ")"
    epoch, at_epoch = _modal_epoch(frame, hit)
    events = int(hit.sum())
    if epoch is not None and at_epoch == events:
        verb += f" at epoch {epoch}"
    elif epoch is not None and at_epoch * 2 >= events:
        verb += f", {at_epoch} of them at epoch {epoch}"
    dominant = tally[0][0] if tally else "crashed"
    if dominant == "oom":
        where = f"keep {name} below this range, " if _BATCH.search(name) else ""
        return verb, (f"Fit the runs in memory: {where}use a smaller batch (or gradient accumulation) "
                      "or mixed precision.")  # fmt: skip
    reason = _common_failure(frame, hit)
    action = f"Most common error: {reason}." if reason else ""
    if dominant == "killed":
        action = _join(action, "Check the host memory and the scheduler's time limits.")
    else:
        action = _join(action, f"Fix it, or leave {region} out of the next sweep.")
    return verb, action


def _join(first: str, second: str) -> str:
    return f"{first} {second}" if first else second


def _common_failure(frame: RunsFrame, hit: np.ndarray) -> str | None:
    reasons = Counter(r for r in frame.df["failure"].to_numpy()[hit] if r)
    if not reasons:
        return None
    return one_line(reasons.most_common(1)[0][0], REASON_LIMIT)


def _modal_epoch(frame: RunsFrame, hit: np.ndarray) -> tuple[str | None, int]:
    """The last logged epoch most of these runs died at (as a label), and how many died there."""
    epochs = frame.df["last_epoch"].to_numpy()[hit]
    finite = [format_number(math.floor(e)) for e in epochs if math.isfinite(e)]
    if not finite:
        return None, 0
    label, count = Counter(finite).most_common(1)[0]
    return label, count


def region_label(name: str, bad: list[dict], every: list[dict]) -> str:
    """``lr >= 0.01``, ``lr < 1e-4``, ``model = swin``, or the list of flagged buckets."""
    ordered = sorted((e for e in every if e.get("low") is not None), key=lambda e: e["low"])
    flagged = [e for e in ordered if any(e is b for b in bad)]
    count = len(flagged)
    if count == len(bad) and 0 < count < len(ordered):
        if all(a is b for a, b in zip(ordered[-count:], flagged, strict=False)):
            return f"{name} >= {format_number(flagged[0]['low'])}"
        if all(a is b for a, b in zip(ordered[:count], flagged, strict=False)):
            last = flagged[-1]
            if last["low"] == last["high"] == 0 and count == 1:
                return f"{name} = 0"  # "<= 0" reads oddly for weight decay or dropout
            if last["low"] == last["high"]:
                return f"{name} <= {format_number(last['high'])}"
            return f"{name} < {format_number(last['high'])}"
    labels = ", ".join(e["bucket"] for e in bad)
    if len(bad) == 1:
        entry = bad[0]
        ranged = entry.get("low") is not None and entry["low"] != entry["high"]
        return f"{name} in {labels}" if ranged else f"{name} = {labels}"
    return f"{name} in {{{labels}}}"
