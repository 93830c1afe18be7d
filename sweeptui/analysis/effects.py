"""Which params go with failures: per-bucket rates per issue family, and risky pairs of conditions.

``param_effects`` tests every bucket of every varying param against all other runs,
once per issue family (:mod:`.families`: death, numerical, overfitting and any
issue), with a one-sided Fisher exact test (does the bucket fail *more* than the
rest?) on the runs at risk of that family. Every (bucket, family) test of the sweep
is corrected together (Holm step-down with Tarone's count of testable hypotheses).
``risk_factors`` looks, per family, for two conditions whose joint rate stands out
from *each* condition alone: the joint cell is tested (one-sided Fisher) against
the runs meeting only the first condition and against those meeting only the
second; the larger p-value counts, corrected the same way over every cell tested.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np

from sweeptui.analysis.buckets import Bucket, ParamBuckets
from sweeptui.analysis.families import FAMILIES, family_outcomes
from sweeptui.analysis.frame import ISSUE_PREFIX, RunsFrame
from sweeptui.analysis.options import AnalysisOptions
from sweeptui.analysis.stats import fisher_greater, fisher_min_p, tarone_holm

EXAMPLE_RUNS = 5


def param_effects(
    frame: RunsFrame, buckets: dict[str, ParamBuckets], options: AnalysisOptions, goal: str | None
) -> list[dict[str, Any]]:
    """One entry per (param, bucket), with per-family rates, objective and corrected significance.

    The specific families are tested twice. Failures compete, so leaving out the
    runs another family ended first can make a param look guilty by selection (the
    high learning-rate runs that did not go NaN may be exactly the runs another
    param crashed). The first pass finds each family's significant buckets; the
    second, which is reported, tests each param on the runs at risk that no *other*
    param's significant bucket of the same family explains.
    """
    df = frame.df
    issue = df["has_issue"].to_numpy()
    objective = df["objective"].to_numpy()
    outcomes = family_outcomes(frame)
    run_ids = df["run_id"].to_numpy()
    entries: list[dict[str, Any]] = []
    masks: list[np.ndarray] = []
    owners: list[str] = []
    for name, param in buckets.items():
        for index, bucket in enumerate(param.buckets):
            mask = param.codes == index
            entries.append(_effect(name, bucket, mask, df, frame, issue, objective, goal))
            masks.append(mask)
            owners.append(name)
    stacked = np.vstack(masks) if masks else np.zeros((0, len(df)), dtype=bool)
    # a bucket is compared with the other runs that have a value of its param
    present = np.vstack([buckets[name].present for name in owners]) if owners else stacked
    first = [_family_cells(stacked, o.at_risk & present, o.event, run_ids, options)
             for o in outcomes.values()]  # fmt: skip
    _test(first)
    _correct(first, options)
    tests = []
    for (family, outcome), test in zip(outcomes.items(), first, strict=True):
        if family == "any":
            tests.append(test)
            continue
        explained = _explained_elsewhere(buckets, owners, test["significant"], len(df))
        at_risk = outcome.at_risk & present & ~explained
        tests.append(_family_cells(stacked, at_risk, outcome.event, run_ids, options))
    _test([t for t in tests if "p" not in t])
    _correct(tests, options)
    for position, entry in enumerate(entries):
        entry["rest_issue_rate"] = tests[FAMILIES.index("any")]["rest_rate"][position]
        entry["families"] = {
            family: _family_entry(test, position) for family, test in zip(outcomes, tests, strict=True)
        }
        _summarise(entry, options)
    return entries


def _explained_elsewhere(
    buckets: dict[str, ParamBuckets], owners: list[str], significant: np.ndarray, runs: int
) -> np.ndarray:
    """Per bucket row, the runs inside a significant bucket of another param (rows x runs)."""
    flagged = {}
    start = 0
    for name, param in buckets.items():
        count = len(param.buckets)
        flagged[name] = param.per_run(significant[start : start + count])
        start += count
    total = np.sum([flagged[name] for name in buckets], axis=0) if buckets else np.zeros(runs, dtype=int)
    by_param = {name: (total - flagged[name]) > 0 for name in buckets}
    return np.vstack([by_param[name] for name in owners]) if owners else np.zeros((0, runs), dtype=bool)


def _family_cells(
    stacked: np.ndarray, at_risk: np.ndarray, event: np.ndarray, run_ids: np.ndarray, options: AnalysisOptions
) -> dict[str, Any]:
    """Every bucket's events, at-risk runs and one-sided p-value (NaN when untestable) for a family.

    ``stacked`` holds one row per bucket (its runs); ``at_risk`` one row per bucket
    (the runs its test compares: the bucket against the rest of those runs).
    """
    risk_events = at_risk & event
    total, events = at_risk.sum(axis=1), risk_events.sum(axis=1)
    size = (stacked & at_risk).sum(axis=1)
    hits = (stacked & risk_events).sum(axis=1)
    rest, rest_hits = total - size, events - hits
    testable = (size >= options.min_bucket_runs) & (rest > 0) & (events > 0) & (events < total)
    return {
        "runs": size, "events": hits, "rest_runs": rest, "rest_events": rest_hits, "total": total,
        "total_events": events, "testable": testable,
        "rate": [h / n if n else None for h, n in zip(hits.tolist(), size.tolist(), strict=True)],
        "rest_rate": [h / n if n else None for h, n in zip(rest_hits.tolist(), rest.tolist(), strict=True)],
        "examples": [run_ids[row][:EXAMPLE_RUNS].tolist() for row in stacked & risk_events],
    }  # fmt: skip


def _test(tests: list[dict[str, Any]]) -> None:
    """One-sided p-values and their floors (``p``, ``floor``; NaN when untestable), in one batch."""
    picks = [np.flatnonzero(t["testable"]) for t in tests]
    def gather(key: str) -> np.ndarray:
        return np.concatenate([t[key][pick] for t, pick in zip(tests, picks, strict=True)]) if tests else []
    size, hits, rest, rest_hits = gather("runs"), gather("events"), gather("rest_runs"), gather("rest_events")
    p = fisher_greater(hits, size, rest_hits, rest) if len(size) else np.zeros(0)
    floor = fisher_min_p(size, gather("total"), gather("total_events")) if len(size) else np.zeros(0)
    start = 0
    for test, pick in zip(tests, picks, strict=True):
        test["p"], test["floor"] = np.full(len(test["runs"]), np.nan), np.full(len(test["runs"]), np.nan)
        test["p"][pick], test["floor"][pick] = p[start : start + len(pick)], floor[start : start + len(pick)]
        start += len(pick)


def _correct(tests: list[dict[str, Any]], options: AnalysisOptions) -> None:
    """Tarone-Holm over every testable (bucket, family) test; adds ``adjusted`` to each family."""
    p = np.concatenate([t["p"][t["testable"]] for t in tests]) if tests else np.zeros(0)
    floor = np.concatenate([t["floor"][t["testable"]] for t in tests]) if tests else np.zeros(0)
    adjusted = tarone_holm(p, floor, options.alpha)
    start = 0
    for test in tests:
        test["adjusted"] = np.full(len(test["p"]), np.nan)
        count = int(test["testable"].sum())
        test["adjusted"][test["testable"]] = adjusted[start : start + count]
        start += count
        test["significant"] = test["testable"] & (test["adjusted"] < options.alpha)


def _family_entry(test: dict[str, Any], position: int) -> dict[str, Any]:
    tested = bool(test["testable"][position])
    return {
        "runs": int(test["runs"][position]),
        "events": int(test["events"][position]),
        "rate": test["rate"][position],
        "rest_runs": int(test["rest_runs"][position]),
        "rest_events": int(test["rest_events"][position]),
        "rest_rate": test["rest_rate"][position],
        "p_value": float(test["p"][position]) if tested else None,
        "p_adjusted": float(test["adjusted"][position]) if tested else None,
        "significant": bool(test["significant"][position]),
        "example_runs": test["examples"][position],
    }


def _summarise(entry: dict[str, Any], options: AnalysisOptions) -> None:
    """``findings`` (significant families, strongest first) and the entry's headline p-values."""
    families = entry["families"]
    found = [f for f in FAMILIES if families[f]["significant"]]
    found.sort(key=lambda f: (families[f]["p_adjusted"], FAMILIES.index(f)))
    entry["findings"] = found
    entry["significant"] = bool(found)
    tested = [f for f in FAMILIES if families[f]["p_adjusted"] is not None]
    if not tested:
        entry["p_value"] = entry["p_adjusted"] = None
        return
    best = min(tested, key=lambda f: (families[f]["p_adjusted"], families[f]["p_value"], FAMILIES.index(f)))
    entry["p_value"], entry["p_adjusted"] = families[best]["p_value"], families[best]["p_adjusted"]


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
    if bucket.value is not None:
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


def failing_buckets(
    buckets: dict[str, ParamBuckets], effects: list[dict[str, Any]], family: str = "any"
) -> dict[str, np.ndarray]:
    """Per param, which buckets fail significantly more than the rest.

    For a specific family, the buckets significant for it; for ``any``, every significant bucket.
    """
    flagged = {(e["param"], e["bucket"]) for e in effects
               if (e["significant"] if family == "any" else family in e["findings"])}  # fmt: skip
    return {
        name: np.array([(name, b.label) in flagged for b in param.buckets], dtype=bool)
        for name, param in buckets.items()
    }


def risk_factors(
    frame: RunsFrame, buckets: dict[str, ParamBuckets], effects: list[dict[str, Any]],
    options: AnalysisOptions,
) -> list[dict[str, Any]]:  # fmt: skip
    """Pairs of conditions whose joint rate of some issue family stands out from each condition alone.

    Each family is tested on its runs at risk. Runs already explained by a
    significant single-param finding of that family are left out of the comparison
    groups (a third param's failing range, or a failing value of the pair's own
    params outside the cell), so one strong cause does not hide an interaction and
    is not mistaken for one. A cell found for several families is reported once,
    under the family with the largest excess; ``findings`` lists them all.
    """
    run_ids = frame.df["run_id"].to_numpy()
    tables: list[_PairTable] = []
    for family, outcome in family_outcomes(frame).items():
        if not outcome.event.any():
            continue
        event = (outcome.event & outcome.at_risk).astype(np.int64)
        failing = failing_buckets(buckets, effects, family)
        explained = {name: param.per_run(failing[name]) for name, param in buckets.items()}
        for (name_a, a), (name_b, b) in combinations(buckets.items(), 2):
            others = [explained[n] for n in buckets if n not in (name_a, name_b)]
            keep = outcome.at_risk & ~np.logical_or.reduce(others) if others else outcome.at_risk
            table = _pair_table(family, (name_a, a, failing[name_a]), (name_b, b, failing[name_b]),
                                keep, event, options)  # fmt: skip
            if table is not None:
                tables.append(table)
    if not tables:
        return []
    joined = {key: np.concatenate([t.cells[key] for t in tables]) for key in tables[0].cells}
    p_value = np.maximum(
        fisher_greater(joined["hits"], joined["size"], joined["a_hits"], joined["a_size"]),
        fisher_greater(joined["hits"], joined["size"], joined["b_hits"], joined["b_size"]),
    )
    floor = np.maximum(
        fisher_min_p(joined["size"], joined["size"] + joined["a_size"], joined["hits"] + joined["a_hits"]),
        fisher_min_p(joined["size"], joined["size"] + joined["b_size"], joined["hits"] + joined["b_hits"]),
    )
    adjusted = tarone_holm(p_value, floor, options.alpha)
    rate = joined["hits"] / joined["size"]
    baseline = np.maximum(joined["a_hits"] / joined["a_size"], joined["b_hits"] / joined["b_size"])
    with np.errstate(divide="ignore", invalid="ignore"):
        lift = np.where(baseline > 0, rate / baseline, np.where(rate > 0, np.inf, 0.0))
    chosen = np.flatnonzero((adjusted < options.alpha) & (lift >= options.min_pair_lift))
    owner = np.concatenate([np.full(len(t.cells["hits"]), k) for k, t in enumerate(tables)])
    offsets = np.cumsum([0] + [len(t.cells["hits"]) for t in tables])
    by_cell: dict[str, list[dict[str, Any]]] = {}
    for index in chosen:
        table = tables[owner[index]]
        cell = table.describe(int(index - offsets[owner[index]]), run_ids)
        cell["p_value"], cell["p_adjusted"] = float(p_value[index]), float(adjusted[index])
        by_cell.setdefault(cell["label"], []).append(cell)
    found = []
    for cells in by_cell.values():
        cells.sort(key=lambda c: (-c["excess_issue_runs"], c["p_value"], FAMILIES.index(c["family"])))
        top = cells[0]
        top["findings"] = [c["family"] for c in cells]
        found.append(top)
    found.sort(key=lambda c: (-c["excess_issue_runs"], c["p_value"]))
    return found


@dataclass
class _PairTable:
    """The testable joint cells of two params for one family, as parallel arrays."""

    family: str
    first: tuple[str, ParamBuckets]
    second: tuple[str, ParamBuckets]
    cells: dict[str, np.ndarray]
    """``row``, ``col``, ``hits``, ``size`` and the only-first / only-second ``a_*`` / ``b_*`` counts."""
    members: np.ndarray
    """Per run: its joint cell index (``row * second buckets + col``), -1 outside the comparison."""
    events: np.ndarray

    def describe(self, k: int, run_ids: np.ndarray) -> dict[str, Any]:
        """Cell ``k`` as a risk-factor entry (without its p-values)."""
        (name_a, a), (name_b, b) = self.first, self.second
        i, j = int(self.cells["row"][k]), int(self.cells["col"][k])
        c = {key: int(value[k]) for key, value in self.cells.items()}
        examples = run_ids[(self.members == i * len(b.buckets) + j) & (self.events > 0)][:EXAMPLE_RUNS]
        cell = _pair_cell(
            (name_a, a.buckets[i]), (name_b, b.buckets[j]), (c["hits"], c["size"]),
            (c["a_hits"], c["a_size"]), (c["b_hits"], c["b_size"]), examples.tolist(),
        )  # fmt: skip
        cell["family"] = self.family
        return cell


def _pair_table(
    family: str, first: tuple[str, ParamBuckets, np.ndarray], second: tuple[str, ParamBuckets, np.ndarray],
    keep: np.ndarray, issue: np.ndarray, options: AnalysisOptions,
) -> _PairTable | None:  # fmt: skip
    """Every joint cell of two params with enough support, or None when there is none."""
    (name_a, a, failing_a), (name_b, b, failing_b) = first, second
    na, nb = len(a.buckets), len(b.buckets)
    if na < 2 or nb < 2:
        return None
    keep = keep & a.present & b.present  # a missing value is in no cell
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
        return None
    pick = (rows, cols)
    cells = {"row": rows, "col": cols, "hits": hits[pick], "size": size[pick],
             "a_hits": only_a_hits[pick], "a_size": only_a_size[pick],
             "b_hits": only_b_hits[pick], "b_size": only_b_size[pick]}  # fmt: skip
    members = np.where(keep, combined, -1)
    return _PairTable(family, (name_a, a), (name_b, b), cells, members, issue)


def _only(size: np.ndarray, hits: np.ndarray, clean: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Runs meeting one condition but not the other, without the other param's failing buckets."""
    clean_size, clean_hits = size * clean, hits * clean
    only_size = clean_size.sum(axis=axis, keepdims=True) - clean_size
    only_hits = clean_hits.sum(axis=axis, keepdims=True) - clean_hits
    return only_size, only_hits


def _pair_cell(cond_a, cond_b, joint, only_a, only_b, examples) -> dict[str, Any]:
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
        "example_runs": examples,
    }


def _condition(name: str, bucket: Bucket) -> dict[str, Any]:
    condition: dict[str, Any] = {"param": name, "bucket": bucket.label}
    if bucket.low is not None:
        condition["low"], condition["high"] = bucket.low, bucket.high
    if bucket.value is not None:
        condition["value"] = bucket.value
    return condition
