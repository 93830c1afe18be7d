"""Findings phrased as actions (``recommendations``) and the limits of the data (``caveats``).

A recommendation is only made from a significant test (corrected over every test
of the sweep) or from strong, well-supported sweep-wide evidence; never from a
single bucket's raw rate. Each carries its evidence: counts, rates, p-values and
example run ids. Single-param findings are phrased per issue family in
:mod:`.findings`.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from sweeptui.analysis.buckets import ParamBuckets, format_number
from sweeptui.analysis.families import FAMILIES
from sweeptui.analysis.findings import bucket_mask, range_findings, recommendation, saved_hours
from sweeptui.analysis.frame import ISSUE_PREFIX, RunsFrame, is_seed
from sweeptui.analysis.options import AnalysisOptions
from sweeptui.analysis.stats import fisher_greater, holm, mann_whitney_p
from sweeptui.numbers import counted, p_relation, percent

# order of recommendation kinds: fix crashes first, then avoid what fails, then refine
_TIER = {"stop": 0, "avoid": 1, "regularize": 1, "avoid_combination": 2, "prefer": 3, "focus": 4,
         "sweep_wide": 5}  # fmt: skip
_FAMILY_PHRASES = {"death": "died (crash, kill or OOM)", "numerical": "went NaN or diverged",
                   "overfitting": "overfit", "any": "had issues"}  # fmt: skip


def recommendations(
    frame: RunsFrame, buckets: dict[str, ParamBuckets], effects: list[dict[str, Any]],
    risks: list[dict[str, Any]], groups: list[dict[str, Any]], sensitivity: list[dict[str, Any]],
    options: AnalysisOptions, goal: str | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """Every action the evidence supports, the most run-hours saved first, then strongest first
    (ties: crashes, then NaN, then overfitting)."""
    found: list[dict[str, Any]] = []
    cause = crash_loop_cause(frame, buckets)
    found.extend(_crash_loop(frame, cause))
    found.extend(rec for rec in range_findings(frame, buckets, effects) if not _explained_by_pair(rec, risks))
    found.extend(_avoid_pairs(frame, buckets, risks))
    found.extend(_prefer_groups(frame, buckets, effects, groups, options, goal))
    found.extend(_focus(sensitivity))
    found.extend(_sweep_wide(frame, buckets, effects, options, cause))
    found.sort(key=lambda rec: (-round(rec["saved_run_hours"], 6), _TIER[rec["kind"]],
                                -round(rec["strength"], 9), _family_rank(rec)))  # fmt: skip
    return found


def add_savings(
    frame: RunsFrame, buckets: dict[str, ParamBuckets], effects: list[dict[str, Any]],
    risks: list[dict[str, Any]],
) -> None:  # fmt: skip
    """``saved_run_hours`` on every bucket and risky pair: the lost hours of its runs."""
    for entry in effects:
        entry["saved_run_hours"] = saved_hours(frame, bucket_mask(buckets[entry["param"]], [entry["bucket"]]))
    for risk in risks:
        risk["saved_run_hours"] = saved_hours(frame, _joint_mask(buckets, risk))


def _joint_mask(buckets: dict[str, ParamBuckets], risk: dict[str, Any]) -> np.ndarray:
    first, second = risk["conditions"]
    return (bucket_mask(buckets[first["param"]], [first["bucket"]])
            & bucket_mask(buckets[second["param"]], [second["bucket"]]))  # fmt: skip


def _family_rank(rec: dict[str, Any]) -> int:
    family = rec.get("family")
    return FAMILIES.index(family) if family in FAMILIES else len(FAMILIES)


def _explained_by_pair(rec: dict[str, Any], risks: list[dict[str, Any]]) -> bool:
    """Whether a param's failing buckets fail only together with another condition (same family)."""
    (name,) = rec["params"]
    for bucket in rec["evidence"]["buckets"]:
        covered = False
        for risk in risks:
            if risk["family"] != rec["family"]:
                continue
            for condition, alone in zip(
                risk["conditions"], (risk["only_first"], risk["only_second"]), strict=False
            ):
                if condition["param"] == name and condition["bucket"] == bucket:
                    covered = covered or alone["issue_rate"] <= rec["evidence"]["rest_issue_rate"] * 1.5
        if not covered:
            return False
    return True


CAUSE_SHARE = 0.8
"""A param value is a crash loop's likely cause when it holds at least this share of the deaths..."""
CAUSE_MIN_DEATHS = 3
"""...at least this many of them..."""
CAUSE_RATE_RATIO = 2.0
"""...and its runs die at least this many times as often as the runs with other values."""


def crash_loop_cause(frame: RunsFrame, buckets: dict[str, ParamBuckets]) -> dict[str, Any] | None:
    """The one param value a crash loop's deaths are tied to (a code version, a node, a dataset).

    Only looked for when the sweep has a crash loop: that detection is the evidence that
    something broke; this names where the deaths concentrate. Among the values holding most
    of the ended runs' deaths, the one with the smallest one-sided Fisher p-value.
    """
    if "crash_loop" not in frame.sweep_issues:
        return None
    df = frame.df
    ended = ~df["running"].to_numpy()
    died = df["died"].to_numpy() & ended
    deaths = int(died.sum())
    found = None
    for name, param in buckets.items():
        if is_seed(name):
            continue
        for index, bucket in enumerate(param.buckets):
            inside = (param.codes == index) & ended
            hits, size = int((died & inside).sum()), int(inside.sum())
            rest_hits, rest_size = deaths - hits, int(ended.sum()) - size
            if hits < max(CAUSE_MIN_DEATHS, CAUSE_SHARE * deaths) or rest_size == 0:
                continue
            if hits / size < CAUSE_RATE_RATIO * rest_hits / rest_size:
                continue
            p = float(fisher_greater(*np.array([[hits], [size], [rest_hits], [rest_size]]))[0])
            if found is None or p < found["p_value"]:
                found = {"param": name, "bucket": bucket.label, "condition": bucket.describe(name),
                         "died_runs": hits, "runs": size, "rest_died_runs": rest_hits, "rest_runs": rest_size,
                         "p_value": p, "mask": inside}  # fmt: skip
    return found


def _crash_loop(frame: RunsFrame, cause: dict[str, Any] | None) -> list[dict[str, Any]]:
    if "crash_loop" not in frame.sweep_issues:
        return []
    died = frame.df[frame.df["died"].to_numpy()]
    reasons = Counter(r for r in died["failure"] if r)
    common = reasons.most_common(1)
    text = "Most of the latest runs died early: new runs will keep failing until the cause is fixed."
    if cause is not None:
        text += (f" Likely cause: {cause['condition']} ({cause['died_runs']} of {cause['runs']} ended runs "
                 f"with it died, against {cause['rest_died_runs']} of {cause['rest_runs']} with other "
                 f"values; "
                 f"one-sided Fisher exact test, uncorrected p {p_relation(cause['p_value'])}).")  # fmt: skip
    if common:
        text += f" Most common error ({counted(common[0][1], 'runs')}): {common[0][0]}."
    evidence = {"died_runs": len(died), "runs": len(frame.df),
                "common_failure": common[0][0] if common else None,
                "example_runs": died["run_id"].tolist()[:5]}  # fmt: skip
    params: list[str] = []
    if cause is not None:
        evidence["likely_cause"] = {k: v for k, v in cause.items() if k != "mask"}
        params = [cause["param"]]
    title = "Stop the sweep and fix the crash first"
    if cause is not None:
        title += f" (likely cause: {cause['condition']})"
    saved = saved_hours(frame, frame.df["died"].to_numpy())
    return [recommendation("stop", title, text, evidence, params, 1e9, saved=saved)]


def _avoid_pairs(
    frame: RunsFrame, buckets: dict[str, ParamBuckets], risks: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    found = []
    for risk in risks[:3]:
        first, second = risk["only_first"], risk["only_second"]
        family = risk["family"]
        text = (
            f"{risk['issue_runs']} of {risk['runs']} runs with {risk['label']} {_FAMILY_PHRASES[family]} "
            f"({percent(risk['issue_rate'])}), against {percent(first['issue_rate'])} with only the first "
            f"condition and {percent(second['issue_rate'])} with only the second "
            f"(corrected p {p_relation(risk['p_adjusted'])})."
        )
        evidence = {k: risk[k] for k in ("runs", "issue_runs", "issue_rate", "p_adjusted", "example_runs")}
        evidence["only_first_rate"], evidence["only_second_rate"] = first["issue_rate"], second["issue_rate"]
        evidence["family"] = family
        params = [c["param"] for c in risk["conditions"]]
        saved = saved_hours(frame, _joint_mask(buckets, risk))
        found.append(recommendation("avoid_combination", f"Avoid the combination {risk['label']}", text,
                                    evidence, params, risk["excess_issue_runs"], family, saved))  # fmt: skip
    return found


def _fails(entry: dict[str, Any]) -> bool:
    """A significant bucket whose runs fail, not merely overfit (overfitting runs still train)."""
    return bool(set(entry["findings"]) - {"overfitting"})


def _prefer_groups(
    frame: RunsFrame, buckets: dict[str, ParamBuckets], effects: list[dict], groups: list[dict],
    options: AnalysisOptions, goal: str | None,
) -> list[dict]:  # fmt: skip
    """For a categorical param with a value that significantly fails: the value to use instead
    (which saves the lost hours of the failing values' runs).

    The candidate is the remaining value that holds the best run, so the advice agrees with
    the leaderboard; it is made only when a one-sided Mann-Whitney test finds its runs'
    objective better than the other remaining values' runs (Holm-corrected over the
    candidates, at ``alpha``). Equal issue rates alone never make a preference.
    """
    if goal is None:
        return []
    flagged = {e["param"] for e in effects if _fails(e) and "low" not in e}
    candidates = []
    for name in sorted(flagged):
        bad = {e["bucket"] for e in effects if e["param"] == name and _fails(e)}
        rows = [g for g in groups if g["param"] == name and g["label"] not in bad
                and g["runs"] >= options.min_bucket_runs and g["value"] is not None]  # fmt: skip
        scored = [g for g in rows if g["best_objective"] is not None]
        if len(scored) < 2:
            continue
        pick = min if goal == "min" else max
        best = pick(scored, key=lambda g: g["best_objective"])
        others = {g["label"] for g in rows} - {best["label"]}
        test = _better_than(frame, buckets[name], best["label"], others, goal)
        if test is not None:
            saved = saved_hours(frame, bucket_mask(buckets[name], sorted(bad)))
            candidates.append((name, best, test, saved))
    if not candidates:
        return []
    adjusted = holm(np.array([test[0] for _, _, test, _ in candidates]))
    return [_prefer(name, best, test, float(p_adj), saved)
            for (name, best, test, saved), p_adj in zip(candidates, adjusted, strict=True)
            if p_adj < options.alpha]  # fmt: skip


def _better_than(
    frame: RunsFrame, param: ParamBuckets, label: str, others: set[str], goal: str
) -> tuple[float, float, float] | None:
    """(one-sided Mann-Whitney p, median of ``label``'s runs, median of the ``others``' runs)."""
    objective = frame.df["objective"].to_numpy()
    labels = np.array([bucket.label for bucket in param.buckets], dtype=object)[param.codes]
    finite = np.isfinite(objective)
    mine = objective[finite & (labels == label)]
    rest = objective[finite & np.isin(labels, list(others))]
    if mine.size < 2 or rest.size < 2:
        return None
    p = mann_whitney_p(mine, rest, "less" if goal == "min" else "greater")
    return p, float(np.median(mine)), float(np.median(rest))


def _prefer(name: str, best: dict, test: tuple[float, float, float], p_adjusted: float, saved: float) -> dict:
    _, median, rest_median = test
    text = (f"{name} = {best['label']} holds the best run ({best['best_run']}, "
            f"{format_number(best['best_objective'])}) and its runs score better than the other "
            f"remaining values' (median {format_number(median)} vs {format_number(rest_median)}; "
            f"one-sided Mann-Whitney test, corrected p {p_relation(p_adjusted)}); "
            f"{best['runs']} runs, {percent(best['issue_rate'])} with issues.")  # fmt: skip
    evidence = {"runs": best["runs"], "issue_rate": best["issue_rate"], "crash_rate": best["crash_rate"],
                "best_objective": best["best_objective"], "median_objective": median,
                "others_median_objective": rest_median, "p_adjusted": p_adjusted,
                "test": "mann_whitney_one_sided",
                "example_runs": [best["best_run"]] if best["best_run"] else []}  # fmt: skip
    strength = best["runs"] * (1 - best["issue_rate"])
    return recommendation("prefer", f"Prefer {name} = {best['label']}", text, evidence, [name], strength,
                          saved=saved)  # fmt: skip


def _focus(sensitivity: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The most sensitive param, when its effect on the objective is significant."""
    for entry in sensitivity:
        if entry["rank"] != 1 or not entry["significant"] or is_seed(entry["param"]):
            continue
        ratio = entry["variation_ratio"]
        size = f"{ratio:.1f}x" if ratio is not None else f"a spread of {format_number(entry['spread'])}"
        text = (f"The objective varies most with {entry['param']} ({size} between the best bucket "
                f"{entry['best_bucket']} and the worst {entry['worst_bucket']}; Kruskal-Wallis, "
                f"Holm-corrected p {p_relation(entry['kruskal_p_adjusted'])}). Search it more finely near "
                f"{entry['best_bucket']}.")  # fmt: skip
        evidence = {k: entry[k] for k in ("variation_ratio", "spread", "best_bucket", "worst_bucket",
                                          "kruskal_p_adjusted", "spearman_rho")}  # fmt: skip
        evidence["example_runs"] = []
        return [recommendation("focus", f"Tune {entry['param']} first", text, evidence,
                                [entry["param"]], entry["spread"])]  # fmt: skip
    return []


_STABILISE = "lower the learning rate, or add gradient clipping and a warmup"
_SWEEP_WIDE_ACTIONS = {
    "nan_or_inf_metric": ("NaN or inf in many runs", "numerical", _STABILISE),
    "divergence": ("Losses diverge in many runs", "numerical", _STABILISE),
    "oom": ("Out of memory in many runs", "death",
            "use smaller batches, gradient accumulation or mixed precision"),
    "overfitting_suspect": ("Overfitting in many runs", "overfitting",
                            "add weight decay or dropout, or stop early"),
    "crashed": ("Crashes in many runs", "death",
                "read the most common error and fix it before the next round"),
}  # fmt: skip


def _sweep_wide(
    frame: RunsFrame, buckets: dict[str, ParamBuckets], effects: list[dict[str, Any]],
    options: AnalysisOptions, cause: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """Issue types on a large share of ended runs that no significant param range explains.

    Runs inside a bucket found significant for the issue's family are explained by
    that finding, and deaths inside a crash loop's likely cause by that; only the rest
    count towards the sweep-wide thresholds.
    """
    df = frame.df
    ended = ~df["running"].to_numpy()
    total = int(ended.sum())
    found = []
    for issue_type, (title, family, action) in _SWEEP_WIDE_ACTIONS.items():
        column = ISSUE_PREFIX + issue_type
        if column not in df or total == 0:
            continue
        flags = df[column].to_numpy() & ended
        covered = _covered(buckets, effects, family, len(df))
        if cause is not None and family == "death":
            covered = covered | cause["mask"]
        loose = flags & ~covered
        count = int(loose.sum())
        if count < options.widespread_min_runs or count < options.widespread_fraction * total:
            continue
        where = "across the sweep"
        if (flags & covered).any():
            where = "outside the parameter ranges flagged above"
        share = percent(count / total)
        text = (f"{count} of {total} ended runs ({share}) show {issue_type} {where}, with no "
                f"parameter range to blame: {action}.")  # fmt: skip
        evidence = {"runs": total, "issue_runs": count, "issue_rate": count / total, "issue_type": issue_type,
                    "explained_runs": int((flags & covered).sum()),
                    "example_runs": df["run_id"].to_numpy()[loose][:5].tolist()}  # fmt: skip
        found.append(recommendation("sweep_wide", title, text, evidence, [], count, family,
                                    saved_hours(frame, loose)))  # fmt: skip
    return found


def _covered(
    buckets: dict[str, ParamBuckets], effects: list[dict[str, Any]], family: str, runs: int
) -> np.ndarray:
    """Runs inside any bucket significant for ``family``."""
    covered = np.zeros(runs, dtype=bool)
    flagged = {(e["param"], e["bucket"]) for e in effects if family in e["findings"]}
    for name, param in buckets.items():
        indices = [i for i, b in enumerate(param.buckets) if (name, b.label) in flagged]
        if indices:
            covered |= np.isin(param.codes, indices)
    return covered


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
        add("few_runs", f"Only {counted(total, 'runs')}: the tests have little power, so absent findings "
            "prove little.", runs=total)  # fmt: skip
    if not frame.params:
        add(
            "no_varying_params",
            "No parameter varies across the runs: failures cannot be linked to parameters.",
        )
    else:
        _support_caveats(frame, effects, options, add)
    _lacking_caveat(frame, total, add)
    running = int(df["running"].sum())
    if running:
        text = ("1 run is still running: its outcome may change." if running == 1
                else f"{running} runs are still running: their outcome may change.")  # fmt: skip
        add("running", text, runs=running)
    died = int(df["died"].sum())
    if died == total:
        add("all_died", "Every run died: no parameter setting is known to work, so nothing can be compared.",
            runs=died)  # fmt: skip
    missing = int((~np.isfinite(df["objective"].to_numpy())).sum())
    if not has_objective:
        add("no_objective", "No metric was found to rank the runs: sensitivity and best configs are empty.")
    elif missing > options.missing_objective_fraction * total:
        verb = "has" if missing == 1 else "have"
        add("objective_missing", f"{missing} of {counted(total, 'runs')} {verb} no finite objective value "
            "(died early or logged NaN): objective statistics use the rest only.", runs=missing)  # fmt: skip
    return found


MAX_LACKING_NAMED = 8
"""Params named in the caveat about runs lacking params; the rest are counted."""


def _lacking_caveat(frame: RunsFrame, total: int, add) -> None:
    """Which params some runs lack: those runs take no part in that param's tests."""
    if not frame.lacking:
        return
    ordered = sorted(frame.lacking.items(), key=lambda item: (-item[1], item[0]))
    named = [f"{name} ({count} of {total} runs)" for name, count in ordered[:MAX_LACKING_NAMED]]
    more = len(ordered) - len(named)
    listing = ", ".join(named) + (f" and {more} more" if more > 0 else "")
    add("params_missing", f"Some runs have no value for a param (absent or null), so they are left "
        f"out of that param's tests and ranges: {listing}.", params=dict(ordered))  # fmt: skip


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
