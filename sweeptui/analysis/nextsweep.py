"""The next round's search space: failing regions dropped, ranges shrunk toward the best runs.

For every searched param (seeds and identifier-like strings excepted): categorical
values and few-valued numbers keep the values not significantly tied to failures;
numeric ranges lose failing buckets at their ends and, when the objective depends
significantly on the param, shrink toward the values of the best quantile of runs
(widened by one bucket's margin).

A bucket *fails* when it is significant for runs dying or blowing up numerically
(or for "any issue" with no specific family behind it): those runs waste their
compute, so the bucket is dropped. A bucket significant only for overfitting is
treated more gently, since those runs still train and their best validation score
is real: a single numeric value (``weight_decay = 0``) is left out of the candidate
values, while a categorical value or a continuous range is kept and the change
notes that its runs overfit. The result is given as a W&B sweep config and as
an Optuna search-space snippet.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sweeptui.analysis.buckets import ParamBuckets, format_number
from sweeptui.analysis.frame import RunsFrame, is_seed
from sweeptui.analysis.options import AnalysisOptions
from sweeptui.objective import Objective

LOG_DECADES = 1.0  # a positive range spanning a decade or more is searched on a log scale


def next_sweep(
    frame: RunsFrame, buckets: dict[str, ParamBuckets], effects: list[dict[str, Any]],
    sensitivity: list[dict[str, Any]], objective: Objective | None, options: AnalysisOptions,
) -> dict[str, Any]:  # fmt: skip
    """``{"parameters": [...], "changes": [...], "wandb": {...}, "optuna": "..."}``."""
    bad = {(e["param"], e["bucket"]) for e in effects if _fails(e)}
    overfit = {(e["param"], e["bucket"]) for e in effects if "overfitting" in e["findings"] and not _fails(e)}
    sensitive = {e["param"] for e in sensitivity if e["significant"]}
    top = _top_runs(frame, objective, options)
    space: dict[str, dict[str, Any]] = {}
    changes: list[dict[str, Any]] = []
    for name, param in buckets.items():
        if is_seed(name) or _is_identifier(param, len(frame.df), options):
            continue
        dropped_overfit = bad | {(n, b) for n, b in overfit if n == name and param.scheme == "values"}
        spec, why = _narrow(name, param, dropped_overfit, name in sensitive, top, frame)
        why = _overfit_note(name, param, overfit, why)
        if spec is None:
            continue
        space[name] = spec
        if why:
            changes.append({"param": name, "why": why})
    fixed = {k: v for k, v in frame.constants.items() if not is_seed(k) and v is not None}
    return {
        "changes": changes,
        "top_runs": int(top.sum()),
        "wandb": _wandb(space, fixed, objective),
        "optuna": _optuna(space),
    }


def _fails(entry: dict[str, Any]) -> bool:
    """Significant for deaths or numerical failures, or for "any issue" with no specific family."""
    findings = set(entry["findings"])
    return bool(findings & {"death", "numerical"}) or findings == {"any"}


def _overfit_note(name: str, param: ParamBuckets, overfit: set, why: str) -> str:
    labels = [b.label for b in param.buckets if (name, b.label) in overfit]
    if not labels:
        return why
    if param.scheme == "values":
        return why.replace("(significantly more issues)", "(significantly more issues or overfitting)")
    return _join(why, f"kept {', '.join(labels)} although its runs overfit (regularise them)")


def _top_runs(frame: RunsFrame, objective: Objective | None, options: AnalysisOptions) -> np.ndarray:
    """The best quantile by objective among runs without issues (healthy runs when no objective)."""
    df = frame.df
    healthy = ~df["has_issue"].to_numpy()
    values = df["objective"].to_numpy()
    scored = healthy & np.isfinite(values)
    if objective is None or scored.sum() == 0:
        return healthy & (df["status"].to_numpy() == "finished")
    count = max(math.ceil(options.top_fraction * scored.sum()), min(3, int(scored.sum())))
    ranked = np.where(scored, values if objective.goal == "min" else -values, np.inf)
    top = np.zeros(len(df), dtype=bool)
    top[np.argsort(ranked, kind="stable")[:count]] = True
    return top & scored


def _is_identifier(param: ParamBuckets, runs: int, options: AnalysisOptions) -> bool:
    named = len(param.buckets)
    return param.kind == "categorical" and named > options.max_categories and named >= runs * 0.9


def _narrow(
    name: str, param: ParamBuckets, bad: set, sensitive: bool, top: np.ndarray, frame: RunsFrame
) -> tuple[dict[str, Any] | None, str]:
    if not param.buckets:  # no run has a value: nothing to search
        return None, ""
    keep = [b for b in param.buckets if (name, b.label) not in bad]
    dropped = [b.label for b in param.buckets if (name, b.label) in bad]
    if not keep:  # every value fails: keep the space, the caveats say why
        keep, dropped = list(param.buckets), []
    why = f"dropped {', '.join(dropped)} (significantly more issues)" if dropped else ""
    if param.kind == "categorical" or param.scheme == "values":
        values = [b.value for b in keep]
        if sensitive and top.any() and param.scheme == "values":
            best = {v for v, t in zip(param.numeric_values, top, strict=False) if t and math.isfinite(v)}
            narrowed = [v for v in values if float(v) in best]
            if narrowed and len(narrowed) < len(values):
                values = narrowed
                why = _join(why, "kept the values of the best runs (objective depends on it)")
        return ({"values": values} if len(values) > 1 else {"value": values[0]}), why
    low, high = min(b.low for b in keep), max(b.high for b in keep)
    if sensitive and top.any():
        low, high, shrunk = _shrink(param, keep, top, low, high)
        if shrunk:
            why = _join(why, "shrunk toward the best runs (objective depends on it)")
    return _distribution(param, frame, name, low, high), why


def _shrink(param: ParamBuckets, keep, top: np.ndarray, low: float, high: float) -> tuple[float, float, bool]:
    best = param.numeric_values[top]
    best = best[np.isfinite(best) & (best >= low) & (best <= high)]
    if best.size == 0:
        return low, high, False
    if param.scheme == "log" and low > 0:
        margin = (math.log10(high) - math.log10(low)) / max(len(keep), 1)
        new_low = 10 ** max(math.log10(best.min()) - margin, math.log10(low))
        new_high = 10 ** min(math.log10(best.max()) + margin, math.log10(high))
    else:
        margin = (high - low) / max(len(keep), 1)
        new_low, new_high = max(best.min() - margin, low), min(best.max() + margin, high)
    new_low, new_high = float(f"{new_low:.3g}"), float(f"{new_high:.3g}")
    if new_high <= new_low:
        return low, high, False
    return new_low, new_high, (new_low, new_high) != (low, high)


def _distribution(
    param: ParamBuckets, frame: RunsFrame, name: str, low: float, high: float
) -> dict[str, Any]:
    integers = all(isinstance(p.get(name), int) and not isinstance(p.get(name), bool)
                   for p in frame.run_params if p.get(name) is not None)  # fmt: skip
    if param.scheme == "log" and low > 0 and math.log10(high / low) >= LOG_DECADES and not integers:
        return {"distribution": "log_uniform_values", "min": low, "max": high}
    if integers:
        return {"distribution": "int_uniform", "min": math.floor(low), "max": math.ceil(high)}
    return {"distribution": "uniform", "min": low, "max": high}


def _join(first: str, second: str) -> str:
    return f"{first}; {second}" if first else second


def _wandb(space: dict[str, dict], fixed: dict[str, Any], objective: Objective | None) -> dict[str, Any]:
    """A W&B sweep config; dotted param names become nested ``parameters`` blocks."""
    parameters: dict[str, Any] = {}
    for name, value in fixed.items():
        _nest(parameters, name, {"value": value})
    for name, spec in space.items():
        _nest(parameters, name, spec)
    config: dict[str, Any] = {"method": "bayes" if objective else "random"}
    if objective is not None:
        goal = "minimize" if objective.goal == "min" else "maximize"
        config["metric"] = {"name": objective.metric, "goal": goal}
    config["parameters"] = parameters
    return config


def _nest(parameters: dict[str, Any], name: str, spec: dict[str, Any]) -> None:
    *parents, leaf = name.split(".")
    target = parameters
    for part in parents:
        block = target.setdefault(part, {"parameters": {}})
        if "parameters" not in block:  # a flat key and a nested one collide: keep it flat
            parameters[name] = spec
            return
        target = block["parameters"]
    target[leaf] = spec


def _optuna(space: dict[str, dict]) -> str:
    """Python source of a function returning one trial's params."""
    lines = ["def suggest_params(trial):", "    return {"]
    for name, spec in space.items():
        key = repr(name)
        if "values" in spec:
            call = f"trial.suggest_categorical({key}, {spec['values']!r})"
        elif "value" in spec:
            call = repr(spec["value"])
        elif spec["distribution"] == "int_uniform":
            call = f"trial.suggest_int({key}, {spec['min']}, {spec['max']})"
        else:
            log = ", log=True" if spec["distribution"] == "log_uniform_values" else ""
            call = f"trial.suggest_float({key}, {_literal(spec['min'])}, {_literal(spec['max'])}{log})"
        lines.append(f"        {key}: {call},")
    lines.append("    }")
    return "\n".join(lines) + "\n"


def _literal(value: float) -> str:
    text = format_number(value)
    return text if any(c in text for c in ".e") else f"{text}.0"
