"""Findings phrased as actions (``recommendations``) and the limits of the data (``caveats``).

A recommendation is only made from a significant test (Holm-corrected) or from
strong, well-supported sweep-wide evidence; never from a single bucket's raw rate.
Each carries its evidence: counts, rates, p-values and example run ids.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import numpy as np

from sweeptui.analysis.buckets import format_number
from sweeptui.analysis.frame import ISSUE_PREFIX, RunsFrame, is_seed
from sweeptui.analysis.options import AnalysisOptions

_LEARNING_RATE = re.compile(r"(^|[._-])(lr|learning[_-]?rate|max[_-]?lr|base[_-]?lr|eta)$", re.I)
_BATCH = re.compile(r"batch", re.I)
UNSTABLE = ("nan_or_inf_metric", "divergence")
# order of recommendation kinds: fix crashes first, then avoid what fails, then refine
_TIER = {"stop": 0, "avoid": 1, "regularize": 1, "avoid_combination": 2, "prefer": 3, "focus": 4,
         "sweep_wide": 5}  # fmt: skip


def recommendations(
    frame: RunsFrame, effects: list[dict[str, Any]], risks: list[dict[str, Any]],
    groups: list[dict[str, Any]], sensitivity: list[dict[str, Any]], options: AnalysisOptions,
) -> list[dict[str, Any]]:  # fmt: skip
    """Every action the evidence supports, strongest first."""
    found: list[dict[str, Any]] = []
    found.extend(_crash_loop(frame))
    avoid = [rec for rec in _avoid_ranges(frame, effects) if not _explained_by_pair(rec, risks)]
    found.extend(avoid)
    found.extend(_avoid_pairs(risks))
    found.extend(_prefer_groups(effects, groups, options))
    found.extend(_focus(sensitivity))
    explained = {t for rec in avoid for t in rec["evidence"].get("issue_counts", {})}
    found.extend(_sweep_wide(frame, options, explained))
    found.sort(key=lambda rec: (_TIER[rec["kind"]], -rec["strength"]))
    return found


def _explained_by_pair(rec: dict[str, Any], risks: list[dict[str, Any]]) -> bool:
    """Whether a param's failing buckets fail only together with another condition."""
    (name,) = rec["params"]
    for bucket in rec["evidence"]["buckets"]:
        covered = False
        for risk in risks:
            for condition, alone in zip(
                risk["conditions"], (risk["only_first"], risk["only_second"]), strict=False
            ):
                if condition["param"] == name and condition["bucket"] == bucket:
                    covered = covered or alone["issue_rate"] <= rec["evidence"]["rest_issue_rate"] * 1.5
        if not covered:
            return False
    return True


def _recommendation(kind: str, title: str, text: str, evidence: dict, params: list[str],
                    strength: float) -> dict[str, Any]:  # fmt: skip
    return {"kind": kind, "title": title, "text": text, "evidence": evidence, "params": params,
            "strength": float(strength)}  # fmt: skip


def _crash_loop(frame: RunsFrame) -> list[dict[str, Any]]:
    if "crash_loop" not in frame.sweep_issues:
        return []
    died = frame.df[frame.df["died"].to_numpy()]
    reasons = Counter(r for r in died["failure"] if r)
    common = reasons.most_common(1)
    text = "Most of the latest runs died early: new runs will keep failing until the cause is fixed."
    if common:
        text += f" Most common error ({common[0][1]} runs): {common[0][0]}."
    evidence = {"died_runs": len(died), "runs": len(frame.df),
                "common_failure": common[0][0] if common else None,
                "example_runs": died["run_id"].tolist()[:5]}  # fmt: skip
    return [_recommendation("stop", "Stop the sweep and fix the crash first", text, evidence, [], 1e9)]


def _avoid_ranges(frame: RunsFrame, effects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One recommendation per param with buckets significantly worse than the rest."""
    by_param: dict[str, list[dict[str, Any]]] = {}
    for entry in effects:
        if entry["significant"] and entry["issue_rate"] > (entry["rest_issue_rate"] or 0.0):
            by_param.setdefault(entry["param"], []).append(entry)
    all_buckets: dict[str, list[dict[str, Any]]] = {}
    for entry in effects:
        all_buckets.setdefault(entry["param"], []).append(entry)
    return [_avoid_param(frame, name, bad, all_buckets[name]) for name, bad in by_param.items()]


def _avoid_param(frame: RunsFrame, name: str, bad: list[dict], every: list[dict]) -> dict[str, Any]:
    runs = sum(e["runs"] for e in bad)
    hits = sum(e["issue_runs"] for e in bad)
    rest_runs = len(frame.df) - runs
    rest_hits = int(frame.df["has_issue"].sum()) - hits
    rest_rate = rest_hits / rest_runs if rest_runs else 0.0
    counts: Counter[str] = Counter()
    for entry in bad:
        counts.update(entry["issue_counts"])
    region = _region(name, bad, every)
    rate = hits / runs
    dominant = _dominant(counts, hits)
    kind = "regularize" if dominant == "overfitting_suspect" else "avoid"
    title = f"Avoid {region}" if kind == "avoid" else f"Regularise runs with {region}"
    p_adjusted = max(e["p_adjusted"] for e in bad)
    text = (
        f"{hits} of {runs} runs with {region} had issues ({_pct(rate)}), against {_pct(rest_rate)} "
        f"of the other runs (Fisher exact, Holm-corrected p = {_p(p_adjusted)})."
    )
    action = _action(name, dominant, frame, bad)
    if action:
        text += " " + action
    examples = [run for e in bad for run in e["example_runs"]][:5]
    evidence = {
        "buckets": [e["bucket"] for e in bad], "runs": runs, "issue_runs": hits, "issue_rate": rate,
        "rest_issue_rate": rest_rate, "p_adjusted": p_adjusted, "issue_counts": dict(counts),
        "example_runs": examples,
    }  # fmt: skip
    return _recommendation(kind, title, text, evidence, [name], hits - runs * rest_rate)


def _region(name: str, bad: list[dict], every: list[dict]) -> str:
    """``lr >= 0.01``, ``lr < 1e-4``, ``model = swin``, or the list of flagged buckets."""
    ordered = sorted((e for e in every if e.get("low") is not None), key=lambda e: e["low"])
    flagged = [e for e in ordered if any(e is b for b in bad)]
    count = len(flagged)
    if count == len(bad) and 0 < count < len(ordered):
        if all(a is b for a, b in zip(ordered[-count:], flagged, strict=False)):
            return f"{name} >= {format_number(flagged[0]['low'])}"
        if all(a is b for a, b in zip(ordered[:count], flagged, strict=False)):
            last = flagged[-1]
            if last["low"] == last["high"]:
                return f"{name} <= {format_number(last['high'])}"
            return f"{name} < {format_number(last['high'])}"
    labels = ", ".join(e["bucket"] for e in bad)
    if len(bad) == 1:
        entry = bad[0]
        ranged = entry.get("low") is not None and entry["low"] != entry["high"]
        return f"{name} in {labels}" if ranged else f"{name} = {labels}"
    return f"{name} in {{{labels}}}"


def _dominant(counts: Counter[str], hits: int) -> str | None:
    """The issue family behind most of the issue runs (unstable training counts as one)."""
    if not counts or hits == 0:
        return None
    unstable = max((counts.get(t, 0) for t in UNSTABLE), default=0)
    families = {"unstable": unstable, **{t: c for t, c in counts.items() if t not in UNSTABLE}}
    family, count = max(families.items(), key=lambda item: item[1])
    if count < 0.5 * hits:
        return None
    return "unstable" if family == "unstable" else family


def _action(name: str, dominant: str | None, frame: RunsFrame, bad: list[dict]) -> str:
    if dominant == "unstable":
        if _LEARNING_RATE.search(name):
            return ("These runs went NaN or diverged: keep the learning rate below this range, or add "
                    "gradient clipping and a warmup if you need rates this high.")  # fmt: skip
        return ("These runs went NaN or diverged: lower the learning rate, or add gradient clipping "
                "and a warmup.")  # fmt: skip
    if dominant == "oom":
        extra = "" if _BATCH.search(name) else " with this setting"
        return (
            f"These runs ran out of memory{extra}: use a smaller batch (or gradient accumulation) "
            "or mixed precision."
        )
    if dominant == "overfitting_suspect":
        return "These runs overfit: add weight decay or dropout, or stop early on validation loss."
    if dominant in ("crashed", "killed"):
        reason = _common_failure(frame, bad)
        return f"Most common error: {reason}." if reason else ""
    return ""


def _common_failure(frame: RunsFrame, bad: list[dict]) -> str | None:
    ids = {run for e in bad for run in e["example_runs"]}
    df = frame.df
    reasons = Counter(
        r for run_id, r in zip(df["run_id"], df["failure"], strict=False) if r and run_id in ids
    )
    return reasons.most_common(1)[0][0] if reasons else None


def _avoid_pairs(risks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for risk in risks[:3]:
        first, second = risk["only_first"], risk["only_second"]
        text = (
            f"{risk['issue_runs']} of {risk['runs']} runs with {risk['label']} had issues "
            f"({_pct(risk['issue_rate'])}), against {_pct(first['issue_rate'])} with only the first "
            f"condition and {_pct(second['issue_rate'])} with only the second "
            f"(Holm-corrected p = {_p(risk['p_adjusted'])})."
        )
        evidence = {k: risk[k] for k in ("runs", "issue_runs", "issue_rate", "p_adjusted", "example_runs")}
        evidence["only_first_rate"], evidence["only_second_rate"] = first["issue_rate"], second["issue_rate"]
        params = [c["param"] for c in risk["conditions"]]
        found.append(_recommendation("avoid_combination", f"Avoid the combination {risk['label']}", text,
                                     evidence, params, risk["excess_issue_runs"]))  # fmt: skip
    return found


def _prefer_groups(effects: list[dict], groups: list[dict], options: AnalysisOptions) -> list[dict]:
    """For a categorical param with a significantly failing value: the most robust value."""
    flagged = {
        e["param"]
        for e in effects
        if e["significant"] and e["issue_rate"] > (e["rest_issue_rate"] or 0.0) and "low" not in e
    }
    found = []
    for name in sorted(flagged):
        bad = {e["bucket"] for e in effects if e["param"] == name and e["significant"]
               and e["issue_rate"] > (e["rest_issue_rate"] or 0.0)}  # fmt: skip
        rows = [g for g in groups if g["param"] == name and g["label"] not in bad
                and g["runs"] >= options.min_bucket_runs and g["value"] is not None]  # fmt: skip
        if not rows:
            continue
        best = min(rows, key=lambda g: (g["issue_rate"], -(g["runs"])))
        text = (f"{name} = {best['label']}: {best['runs']} runs, {_pct(best['issue_rate'])} with issues, "
                f"{best['finished']} finished")  # fmt: skip
        if best["best_objective"] is not None:
            text += f", best objective {format_number(best['best_objective'])} ({best['best_run']})"
        evidence = {"runs": best["runs"], "issue_rate": best["issue_rate"], "crash_rate": best["crash_rate"],
                    "best_objective": best["best_objective"],
                    "example_runs": [best["best_run"]] if best["best_run"] else []}  # fmt: skip
        found.append(_recommendation("prefer", f"Prefer {name} = {best['label']}", text + ".", evidence,
                                     [name], best["runs"] * (1 - best["issue_rate"])))  # fmt: skip
    return found


def _focus(sensitivity: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The most sensitive param, when its effect on the objective is significant."""
    for entry in sensitivity:
        if entry["rank"] != 1 or not entry["significant"] or is_seed(entry["param"]):
            continue
        ratio = entry["variation_ratio"]
        size = f"{ratio:.1f}x" if ratio is not None else f"a spread of {format_number(entry['spread'])}"
        text = (f"The objective varies most with {entry['param']} ({size} between the best bucket "
                f"{entry['best_bucket']} and the worst {entry['worst_bucket']}; Kruskal-Wallis, "
                f"Holm-corrected p = {_p(entry['kruskal_p_adjusted'])}). Search it more finely near "
                f"{entry['best_bucket']}.")  # fmt: skip
        evidence = {k: entry[k] for k in ("variation_ratio", "spread", "best_bucket", "worst_bucket",
                                          "kruskal_p_adjusted", "spearman_rho")}  # fmt: skip
        evidence["example_runs"] = []
        return [_recommendation("focus", f"Tune {entry['param']} first", text, evidence,
                                [entry["param"]], entry["spread"])]  # fmt: skip
    return []


_STABILISE = "lower the learning rate, or add gradient clipping and a warmup"
_SWEEP_WIDE_ACTIONS = {
    "nan_or_inf_metric": ("NaN or inf in many runs", _STABILISE),
    "divergence": ("Losses diverge in many runs", _STABILISE),
    "oom": ("Out of memory in many runs", "use smaller batches, gradient accumulation or mixed precision"),
    "overfitting_suspect": ("Overfitting in many runs", "add weight decay or dropout, or stop early"),
    "crashed": ("Crashes in many runs", "read the most common error and fix it before the next round"),
}  # fmt: skip


def _sweep_wide(frame: RunsFrame, options: AnalysisOptions, explained: set[str]) -> list[dict[str, Any]]:
    """Issue types on a large share of ended runs that no param explains."""
    df = frame.df
    ended = ~df["running"].to_numpy()
    total = int(ended.sum())
    found = []
    for issue_type, (title, action) in _SWEEP_WIDE_ACTIONS.items():
        column = ISSUE_PREFIX + issue_type
        if issue_type in explained or column not in df or total == 0:
            continue
        flags = df[column].to_numpy() & ended
        count = int(flags.sum())
        if count < options.widespread_min_runs or count < options.widespread_fraction * total:
            continue
        text = (f"{count} of {total} ended runs ({_pct(count / total)}) show `{issue_type}`, with no "
                f"parameter range to blame: {action}.")  # fmt: skip
        evidence = {"runs": total, "issue_runs": count, "issue_rate": count / total,
                    "example_runs": df["run_id"].to_numpy()[flags][:5].tolist()}  # fmt: skip
        found.append(_recommendation("sweep_wide", title, text, evidence, [], count))
    return found


def caveats(
    frame: RunsFrame, effects: list[dict], options: AnalysisOptions, has_objective: bool
) -> list[dict]:
    """What limits the conclusions: repeats, support, running runs, missing objective."""
    df = frame.df
    total = len(df)
    found: list[dict[str, Any]] = []

    def add(kind: str, text: str, **numbers: Any) -> None:
        found.append({"kind": kind, "text": text, **numbers})

    if total == 0:
        add("no_runs", "No runs were found: nothing to analyse.")
        return found
    if total < 10:
        add("few_runs", f"Only {total} runs: the tests have little power, so absent findings prove little.",
            runs=total)  # fmt: skip
    if not frame.params:
        add(
            "no_varying_params",
            "No parameter varies across the runs: failures cannot be linked to parameters.",
        )
    else:
        _support_caveats(frame, effects, options, add)
    running = int(df["running"].sum())
    if running:
        add("running", f"{running} runs are still running: their outcome may change.", runs=running)
    died = int(df["died"].sum())
    if died == total:
        add("all_died", "Every run died: no parameter setting is known to work, so nothing can be compared.",
            runs=died)  # fmt: skip
    missing = int((~np.isfinite(df["objective"].to_numpy())).sum())
    if not has_objective:
        add("no_objective", "No metric was found to rank the runs: sensitivity and best configs are empty.")
    elif missing > options.missing_objective_fraction * total:
        add("objective_missing", f"{missing} of {total} runs have no finite objective value "
            "(died early or logged NaN): objective statistics use the rest only.", runs=missing)  # fmt: skip
    return found


def _support_caveats(frame: RunsFrame, effects: list[dict], options: AnalysisOptions, add) -> None:
    searched = [p for p in frame.params if not is_seed(p)]
    configs = {tuple(repr(params.get(p)) for p in searched) for params in frame.run_params}
    if searched and len(configs) == len(frame.df) > 1:
        add("single_seed", "Every config ran once (one seed per config): differences between single runs "
            "include seed noise.")  # fmt: skip
    small = [e for e in effects if e["runs"] < options.min_bucket_runs]
    if small:
        text = (f"{len(small)} of {len(effects)} parameter buckets have fewer than {options.min_bucket_runs} "
                "runs and are never reported as findings.")  # fmt: skip
        add("small_buckets", text, buckets=len(small))
    thin = [e for e in effects if options.min_bucket_runs <= e["runs"] < 5]
    if thin and len(thin) >= len(effects) / 2:
        add("thin_buckets", f"{len(thin)} of {len(effects)} buckets have fewer than 5 runs: only large "
            "effects can reach significance.", buckets=len(thin))  # fmt: skip


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{100 * rate:.0f}%"


def _p(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2g}" if value >= 1e-4 else "< 0.0001"
