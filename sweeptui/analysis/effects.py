"""Which params go with failures: per-bucket issue rates and risky pairs of conditions.

``param_effects`` tests every bucket of every varying param against all other runs
with a two-sided Fisher exact test, Holm-corrected over every bucket tested in the
sweep. ``risk_factors`` looks for two conditions whose joint issue rate stands out
from *each* condition alone: the joint cell is tested (one-sided Fisher) against
the runs meeting only the first condition and against those meeting only the
second; the larger p-value counts, Holm-corrected over every pair tested.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np

from sweeptui.analysis.buckets import Bucket, ParamBuckets
from sweeptui.analysis.frame import ISSUE_PREFIX, RunsFrame
from sweeptui.analysis.options import AnalysisOptions
from sweeptui.analysis.stats import fisher_greater, fisher_two_sided, holm

EXAMPLE_RUNS = 5


def param_effects(
    frame: RunsFrame, buckets: dict[str, ParamBuckets], options: AnalysisOptions, goal: str | None
) -> list[dict[str, Any]]:
    """One entry per (param, bucket), with issue rates, objective and corrected significance."""
    df = frame.df
    issue = df["has_issue"].to_numpy()
    objective = df["objective"].to_numpy()
    total, total_issues = len(df), int(issue.sum())
    entries: list[dict[str, Any]] = []
    for name, param in buckets.items():
        for index, bucket in enumerate(param.buckets):
            mask = param.codes == index
            entries.append(_effect(name, bucket, mask, df, frame, issue, objective, goal))
    raw = []
    for entry in entries:
        runs, hits = entry["runs"], entry["issue_runs"]
        rest = total - runs
        testable = runs >= options.min_bucket_runs and rest > 0 and 0 < total_issues < total
        entry["rest_issue_rate"] = (total_issues - hits) / rest if rest else None
        entry["p_value"] = fisher_two_sided(hits, runs, total_issues - hits, rest) if testable else None
        raw.append(entry["p_value"])
    tested = [i for i, p in enumerate(raw) if p is not None]
    adjusted = holm(np.array([raw[i] for i in tested]))
    for entry in entries:
        entry["p_adjusted"] = None
        entry["significant"] = False
    for i, p_adj in zip(tested, adjusted, strict=False):
        entries[i]["p_adjusted"] = float(p_adj)
        entries[i]["significant"] = bool(p_adj < options.alpha)
    return entries


def _effect(
    name: str, bucket: Bucket, mask: np.ndarray, df, frame: RunsFrame,
    issue: np.ndarray, objective: np.ndarray, goal: str | None,
) -> dict[str, Any]:  # fmt: skip
    runs = int(mask.sum())
    hits = int(issue[mask].sum())
    values = objective[mask]
    values = values[np.isfinite(values)]
    counts = {t: int(df[ISSUE_PREFIX + t].to_numpy()[mask].sum()) for t in frame.issue_types}
    entry: dict[str, Any] = {"param": name, "bucket": bucket.label}
    if bucket.low is not None:
        entry["low"], entry["high"] = bucket.low, bucket.high
    if bucket.value is not None or bucket.missing:
        entry["value"] = bucket.value
    entry.update(
        runs=runs,
        issue_runs=hits,
        issue_rate=hits / runs if runs else None,
        died_runs=int(df["died"].to_numpy()[mask].sum()),
        issue_counts={t: c for t, c in counts.items() if c},
        objective_mean=float(values.mean()) if values.size else None,
        objective_best=_best(values, goal),
        example_runs=df["run_id"].to_numpy()[mask & issue][:EXAMPLE_RUNS].tolist(),
    )
    return entry


def _best(values: np.ndarray, goal: str | None) -> float | None:
    if values.size == 0 or goal is None:
        return None
    return float(values.min() if goal == "min" else values.max())


def failing_buckets(buckets: dict[str, ParamBuckets], effects: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Per param, which buckets have a significantly higher issue rate than the rest."""
    flagged = {(e["param"], e["bucket"]) for e in effects
               if e["significant"] and e["issue_rate"] > (e["rest_issue_rate"] or 0.0)}  # fmt: skip
    return {
        name: np.array([(name, b.label) in flagged for b in param.buckets], dtype=bool)
        for name, param in buckets.items()
    }


def risk_factors(
    frame: RunsFrame, buckets: dict[str, ParamBuckets], effects: list[dict[str, Any]],
    options: AnalysisOptions,
) -> list[dict[str, Any]]:  # fmt: skip
    """Pairs of conditions whose joint issue rate stands out from each condition alone.

    Runs already explained by a significant single-param finding are left out of the
    comparison groups (a third param's failing range, or a failing value of the
    pair's own params outside the cell), so one strong cause does not hide an
    interaction and is not mistaken for one.
    """
    issue = frame.df["has_issue"].to_numpy().astype(np.int64)
    run_ids = frame.df["run_id"].to_numpy()
    failing = failing_buckets(buckets, effects)
    explained = {name: failing[name][param.codes] for name, param in buckets.items()}
    candidates: list[dict[str, Any]] = []
    for (name_a, a), (name_b, b) in combinations(buckets.items(), 2):
        others = [explained[n] for n in buckets if n not in (name_a, name_b)]
        keep = ~np.logical_or.reduce(others) if others else np.ones(len(issue), dtype=bool)
        candidates.extend(
            _pair_cells((name_a, a, failing[name_a]), (name_b, b, failing[name_b]), keep, issue, run_ids,
                        options)
        )  # fmt: skip
    if not candidates:
        return []
    adjusted = holm(np.array([c["p_value"] for c in candidates]))
    found = []
    for cell, p_adj in zip(candidates, adjusted, strict=False):
        cell["p_adjusted"] = float(p_adj)
        if p_adj < options.alpha and cell["lift"] >= options.min_pair_lift:
            found.append(cell)
    found.sort(key=lambda c: (-c["excess_issue_runs"], c["p_value"]))
    return found


def _pair_cells(
    first: tuple[str, ParamBuckets, np.ndarray], second: tuple[str, ParamBuckets, np.ndarray],
    keep: np.ndarray, issue: np.ndarray, run_ids: np.ndarray, options: AnalysisOptions,
) -> list[dict[str, Any]]:  # fmt: skip
    """Every joint cell of two params with enough support, with its one-sided p-value."""
    (name_a, a, failing_a), (name_b, b, failing_b) = first, second
    na, nb = len(a.buckets), len(b.buckets)
    if na < 2 or nb < 2:
        return []
    combined = a.codes * nb + b.codes
    size = np.bincount(combined[keep], minlength=na * nb).reshape(na, nb)
    hits = np.bincount(combined[keep], weights=issue[keep], minlength=na * nb).reshape(na, nb)
    hits = hits.astype(np.int64)
    only_a_size, only_a_hits = _only(size, hits, ~failing_b[None, :], axis=1)
    only_b_size, only_b_hits = _only(size, hits, ~failing_a[:, None], axis=0)
    testable = (
        (size >= max(options.min_pair_support, options.min_bucket_runs))
        & (only_a_size > 0)
        & (only_b_size > 0)
    )
    rows, cols = np.nonzero(testable)
    if rows.size == 0:
        return []
    pick = (rows, cols)
    p_a = fisher_greater(hits[pick], size[pick], only_a_hits[pick], only_a_size[pick])
    p_b = fisher_greater(hits[pick], size[pick], only_b_hits[pick], only_b_size[pick])
    cells = []
    for k, (i, j) in enumerate(zip(rows, cols, strict=False)):
        cells.append(
            _pair_cell(
                (name_a, a.buckets[i]), (name_b, b.buckets[j]),
                (int(hits[i, j]), int(size[i, j])),
                (int(only_a_hits[i, j]), int(only_a_size[i, j])),
                (int(only_b_hits[i, j]), int(only_b_size[i, j])),
                float(max(p_a[k], p_b[k])),
                run_ids[(combined == i * nb + j) & (issue > 0) & keep][:EXAMPLE_RUNS].tolist(),
            )
        )  # fmt: skip
    return cells


def _only(size: np.ndarray, hits: np.ndarray, clean: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Runs meeting one condition but not the other, without the other param's failing buckets."""
    clean_size, clean_hits = size * clean, hits * clean
    only_size = clean_size.sum(axis=axis, keepdims=True) - clean_size
    only_hits = clean_hits.sum(axis=axis, keepdims=True) - clean_hits
    return only_size, only_hits


def _pair_cell(cond_a, cond_b, joint, only_a, only_b, p_value, examples) -> dict[str, Any]:
    (name_a, bucket_a), (name_b, bucket_b) = cond_a, cond_b
    rate = joint[0] / joint[1]
    rate_a, rate_b = only_a[0] / only_a[1], only_b[0] / only_b[1]
    baseline = max(rate_a, rate_b)
    return {
        "conditions": [_condition(name_a, bucket_a), _condition(name_b, bucket_b)],
        "label": f"{bucket_a.describe(name_a)} and {bucket_b.describe(name_b)}",
        "runs": joint[1],
        "issue_runs": joint[0],
        "issue_rate": rate,
        "only_first": {"runs": only_a[1], "issue_runs": only_a[0], "issue_rate": rate_a},
        "only_second": {"runs": only_b[1], "issue_runs": only_b[0], "issue_rate": rate_b},
        "lift": rate / baseline if baseline > 0 else float("inf") if rate > 0 else 0.0,
        "excess_issue_runs": joint[0] - joint[1] * baseline,
        "p_value": p_value,
        "example_runs": examples,
    }


def _condition(name: str, bucket: Bucket) -> dict[str, Any]:
    condition: dict[str, Any] = {"param": name, "bucket": bucket.label}
    if bucket.low is not None:
        condition["low"], condition["high"] = bucket.low, bucket.high
    if bucket.value is not None:
        condition["value"] = bucket.value
    return condition
