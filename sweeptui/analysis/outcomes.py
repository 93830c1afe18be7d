"""What happened to the runs: when they died, how each group fared, what moves the objective.

Sections ``crash_epochs``, ``groups``, ``sensitivity`` and ``best_configs``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sweeptui.analysis.buckets import ParamBuckets, format_number
from sweeptui.analysis.frame import RunsFrame
from sweeptui.analysis.options import AnalysisOptions
from sweeptui.analysis.stats import holm, kruskal_p, spearman

EXAMPLE_RUNS = 5
STEP_BINS = 10


def crash_epochs(frame: RunsFrame) -> dict[str, Any]:
    """Died runs per last logged epoch (or step range when no run logs epochs)."""
    df = frame.df
    died = df[df["died"].to_numpy()]
    total = len(died)
    result: dict[str, Any] = {"died": total, "unit": None, "entries": []}
    if total == 0:
        return result
    epochs = died["last_epoch"].to_numpy()
    if np.isfinite(epochs).any():
        result["unit"] = "epoch"
        keys = [format_number(math.floor(e)) if math.isfinite(e) else None for e in epochs]
        result["entries"] = _count_entries(keys, died["run_id"].tolist(), total, _epoch_order)
        return result
    steps = died["last_step"].to_numpy()
    result["unit"] = "step"
    result["entries"] = _count_entries(_step_labels(steps), died["run_id"].tolist(), total, _step_order)
    return result


def _epoch_order(label: str) -> float:
    return float(label)


def _step_order(label: str) -> float:
    return float(label.split("-")[0])


def _count_entries(keys: list[str | None], run_ids: list[str], total: int, order) -> list[dict[str, Any]]:
    grouped: dict[str | None, list[str]] = {}
    for key, run_id in zip(keys, run_ids, strict=False):
        grouped.setdefault(key, []).append(run_id)
    labels = sorted((k for k in grouped if k is not None), key=order)
    entries = [
        {"at": label, "runs": len(grouped[label]), "share": len(grouped[label]) / total,
         "example_runs": grouped[label][:EXAMPLE_RUNS]}
        for label in labels
    ]  # fmt: skip
    if None in grouped:
        entries.append(
            {"at": "before first metric", "runs": len(grouped[None]),
             "share": len(grouped[None]) / total, "example_runs": grouped[None][:EXAMPLE_RUNS]}
        )  # fmt: skip
    return entries


def _step_labels(steps: np.ndarray) -> list[str | None]:
    finite = steps[np.isfinite(steps)]
    if finite.size == 0:
        return [None] * len(steps)
    top = float(finite.max())
    width = _nice_width(top / STEP_BINS) if top > 0 else 1.0
    labels: list[str | None] = []
    for step in steps:
        if not math.isfinite(step):
            labels.append(None)
            continue
        low = math.floor(step / width) * width
        labels.append(f"{format_number(low)}-{format_number(low + width)}")
    return labels


def _nice_width(raw: float) -> float:
    exponent = math.floor(math.log10(raw)) if raw > 0 else 0
    for factor in (1, 2, 5, 10):
        if factor * 10.0**exponent >= raw:
            return max(factor * 10.0**exponent, 1.0)
    return 10.0 ** (exponent + 1)


def groups(frame: RunsFrame, buckets: dict[str, ParamBuckets], goal: str | None) -> list[dict[str, Any]]:
    """Per value of every categorical param: runs, epochs reached, finished, crash rate, best."""
    df = frame.df
    status = df["status"].to_numpy()
    died = df["died"].to_numpy()
    issue = df["has_issue"].to_numpy()
    epochs = df["epochs"].to_numpy()
    objective = df["objective"].to_numpy()
    run_ids = df["run_id"].to_numpy()
    rows = []
    for name, param in buckets.items():
        if param.kind != "categorical":
            continue
        for index, bucket in enumerate(param.buckets):
            mask = param.codes == index
            runs = int(mask.sum())
            reached = epochs[mask]
            reached = reached[np.isfinite(reached)]
            best_value, best_run = _best_of(objective[mask], run_ids[mask], goal)
            rows.append(
                {
                    "param": name, "value": bucket.value, "label": bucket.label, "runs": runs,
                    "mean_epochs": float(reached.mean()) if reached.size else None,
                    "finished": int((status[mask] == "finished").sum()),
                    "running": int((status[mask] == "running").sum()),
                    "died": int(died[mask].sum()),
                    "crash_rate": float(died[mask].mean()) if runs else None,
                    "issue_rate": float(issue[mask].mean()) if runs else None,
                    "best_objective": best_value, "best_run": best_run,
                }
            )  # fmt: skip
    return rows


def _best_of(values: np.ndarray, run_ids: np.ndarray, goal: str | None) -> tuple[float | None, str | None]:
    finite = np.isfinite(values)
    if goal is None or not finite.any():
        return None, None
    candidates = np.where(finite, values, np.inf if goal == "min" else -np.inf)
    index = int(np.argmin(candidates) if goal == "min" else np.argmax(candidates))
    return float(values[index]), str(run_ids[index])


def sensitivity(
    frame: RunsFrame, buckets: dict[str, ParamBuckets], options: AnalysisOptions, goal: str | None
) -> list[dict[str, Any]]:
    """Per param: objective by bucket, Spearman rho, variation ratio, Kruskal p, and rank."""
    if goal is None:
        return []
    objective = frame.df["objective"].to_numpy()
    valid = np.isfinite(objective)
    if valid.sum() < 2:
        return []
    entries = [_param_sensitivity(name, p, objective, valid, options, goal) for name, p in buckets.items()]
    tested = [e for e in entries if e["kruskal_p"] is not None]
    for entry, p_adj in zip(tested, holm(np.array([e["kruskal_p"] for e in tested])), strict=False):
        entry["kruskal_p_adjusted"] = float(p_adj)
        entry["significant"] = bool(p_adj < options.alpha)
    ranked = sorted((e for e in entries if e["spread"] is not None), key=lambda e: -e["spread"])
    for rank, entry in enumerate(ranked, start=1):
        entry["rank"] = rank
    entries.sort(key=lambda e: (e["rank"] is None, e["rank"] or 0, e["param"]))
    return entries


def _param_sensitivity(
    name: str, param: ParamBuckets, objective: np.ndarray, valid: np.ndarray,
    options: AnalysisOptions, goal: str,
) -> dict[str, Any]:  # fmt: skip
    by_bucket, samples = [], []
    for index, bucket in enumerate(param.buckets):
        values = objective[(param.codes == index) & valid]
        if values.size == 0:
            continue
        by_bucket.append({"bucket": bucket.label, "runs": int(values.size), "mean": float(values.mean()),
                          "median": float(np.median(values)),
                          "best": float(values.min() if goal == "min" else values.max())})  # fmt: skip
        if values.size >= options.min_bucket_runs:
            samples.append(values)
    eligible = [b for b in by_bucket if b["runs"] >= options.min_bucket_runs]
    entry: dict[str, Any] = {
        "param": name, "kind": param.kind, "valid_runs": int(valid.sum()), "by_bucket": by_bucket,
        "spearman_rho": None, "spearman_p": None, "variation_ratio": None, "spread": None,
        "best_bucket": None, "worst_bucket": None, "kruskal_p": None, "kruskal_p_adjusted": None,
        "significant": False, "rank": None,
    }  # fmt: skip
    if param.numeric_values is not None:
        entry["spearman_rho"], entry["spearman_p"] = _spearman(param.numeric_values, objective, valid)
    if len(eligible) >= 2:
        ordered = sorted(eligible, key=lambda b: b["mean"], reverse=goal == "max")
        best, worst = ordered[0], ordered[-1]
        entry["best_bucket"], entry["worst_bucket"] = best["bucket"], worst["bucket"]
        entry["spread"] = abs(worst["mean"] - best["mean"])
        entry["variation_ratio"] = _ratio(best["mean"], worst["mean"], goal)
        entry["kruskal_p"] = _kruskal(samples)
    return entry


def _spearman(
    numbers: np.ndarray, objective: np.ndarray, valid: np.ndarray
) -> tuple[float | None, float | None]:
    both = valid & np.isfinite(numbers)
    x, y = numbers[both], objective[both]
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None, None
    return spearman(x, y)


def _ratio(best: float, worst: float, goal: str) -> float | None:
    """How many times worse the worst bucket is (>= 1); None unless both means are positive."""
    if best <= 0 or worst <= 0:
        return None
    return worst / best if goal == "min" else best / worst


def _kruskal(samples: list[np.ndarray]) -> float | None:
    if len(samples) < 2:
        return None
    pooled = np.concatenate(samples)
    if np.ptp(pooled) == 0:
        return 1.0
    return kruskal_p(samples)


def best_configs(
    frame: RunsFrame, buckets: dict[str, ParamBuckets], goal: str | None
) -> list[dict[str, Any]]:
    """The best run overall, then the best run of every categorical param value."""
    if goal is None:
        return []
    df = frame.df
    objective = df["objective"].to_numpy()
    run_ids = df["run_id"].to_numpy()
    every = np.ones(len(df), dtype=bool)
    scopes: list[tuple[dict[str, Any], np.ndarray]] = [({"scope": "overall"}, every)]
    for name, param in buckets.items():
        if param.kind == "categorical":
            for index, bucket in enumerate(param.buckets):
                scope = {"scope": "group", "param": name, "value": bucket.value, "label": bucket.label}
                scopes.append((scope, param.codes == index))
    rows = []
    for scope, mask in scopes:
        value, run_id = _best_of(objective[mask], run_ids[mask], goal)
        if run_id is None:
            continue
        position = int(np.flatnonzero(run_ids == run_id)[0])
        row = df.iloc[position]
        original = frame.run_params[position]
        params = {p: original.get(p) for p in frame.params}
        rows.append({**scope, "run": run_id, "name": row["name"], "status": row["status"],
                     "objective": value, "params": params})  # fmt: skip
    return rows
