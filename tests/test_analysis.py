"""The sweep analysis on planted-cause sweeps: causes found, noise ignored, edge cases survive."""

from __future__ import annotations

import math
from array import array

import numpy as np
import pytest
from planted import planted_store
from scipy import stats

from sweeptui.analysis import analyze
from sweeptui.analysis.stats import fisher_greater, fisher_two_sided, holm
from sweeptui.events import MetricBatch, RunEnded, RunSeen, Series
from sweeptui.objective import choose_objective
from sweeptui.report import build_report, render
from sweeptui.store import RunStore

AVOID_KINDS = {"avoid", "regularize", "avoid_combination"}


def _analyse(store: RunStore) -> dict:
    return analyze(store, choose_objective(store)).to_dict()


@pytest.mark.parametrize(("seed", "runs"), [(0, 200), (1, 300), (2, 300), (3, 400), (4, 250)])
def test_planted_causes_are_the_significant_entries_and_first_recommendations(seed, runs):
    store = planted_store(seed, runs, ("lr", "model"))
    result = _analyse(store)
    effects = result["param_effects"]
    worse = [e for e in effects if e["significant"] and e["issue_rate"] > e["rest_issue_rate"]]
    flagged = {(e["param"], e["bucket"]) for e in worse}
    assert ("model", "swin_small") in flagged
    lr_flagged = [e for e in worse if e["param"] == "lr"]
    assert lr_flagged, "the planted learning-rate range must be significant"
    assert all(e["low"] >= 0.01 * 0.999 for e in lr_flagged)
    assert {p for p, _ in flagged} <= {"lr", "model"}
    first_two = result["recommendations"][:2]
    assert [r["kind"] for r in first_two] == ["avoid", "avoid"]
    assert {r["params"][0] for r in first_two} == {"lr", "model"}
    lr_rec = next(r for r in first_two if r["params"] == ["lr"])
    assert "gradient clipping" in lr_rec["text"]
    assert lr_rec["evidence"]["example_runs"]
    for run_id in lr_rec["evidence"]["example_runs"]:
        assert store.runs[run_id].params["lr"] >= 0.01


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_interaction_is_a_risk_factor(seed):
    result = _analyse(planted_store(seed, 300, ("lr", "model", "pair")))
    assert result["risk_factors"], "batch 256 with vit_small must stand out"
    top = result["risk_factors"][0]
    conditions = {(c["param"], c["bucket"]) for c in top["conditions"]}
    assert conditions == {("batch_size", "256"), ("model", "vit_small")}
    assert top["issue_rate"] > 2 * max(top["only_first"]["issue_rate"], top["only_second"]["issue_rate"])
    kinds = [r["kind"] for r in result["recommendations"]]
    assert "avoid_combination" in kinds


# Holm keeps the chance of any false finding in one null sweep below alpha (1%); measured
# 4 in 300 sweeps of this size, one of them seed 1. The rate itself is tested below.
@pytest.mark.parametrize("seed", range(10, 18))
def test_failures_dealt_at_random_give_no_finding(seed):
    result = _analyse(planted_store(seed, 150, ("lr", "model", "pair"), shuffle=True))
    assert not any(e["significant"] for e in result["param_effects"])
    assert not result["risk_factors"]
    assert not [r for r in result["recommendations"] if r["kind"] in AVOID_KINDS]


def test_false_finding_rate_stays_within_alpha():
    sweeps_with_findings = 0
    for seed in range(100, 160):
        result = _analyse(planted_store(seed, 100, ("lr", "model"), shuffle=True))
        sweeps_with_findings += any(e["significant"] for e in result["param_effects"])
    assert sweeps_with_findings <= 3  # family-wise 1% per sweep: under 1 expected in 60


def test_bucket_p_value_is_fishers_exact_test_on_the_runs():
    store = planted_store(7, 120, ("model",))
    result = _analyse(store)
    entry = next(e for e in result["param_effects"] if e["param"] == "model" and e["bucket"] == "swin_small")
    bad = {run.id for run in store if run.status in ("crashed", "killed", "failed") or run.issue_types}
    inside = [r for r in store if r.params["model"] == "swin_small"]
    outside = [r for r in store if r.params["model"] != "swin_small"]
    a = sum(r.id in bad for r in inside)
    c = sum(r.id in bad for r in outside)
    expected = stats.fisher_exact([[a, len(inside) - a], [c, len(outside) - c]]).pvalue
    assert entry["runs"] == len(inside) and entry["issue_runs"] == a
    assert math.isclose(entry["p_value"], expected, rel_tol=1e-9)
    assert entry["p_adjusted"] >= entry["p_value"]


def test_holm_matches_the_textbook_procedure():
    adjusted = holm(np.array([0.01, 0.04, 0.03, 0.005]))
    assert np.allclose(adjusted, [0.03, 0.06, 0.06, 0.02])


def test_vectorised_one_sided_fisher_matches_scipy():
    tables = [(9, 10, 2, 40), (3, 5, 3, 5), (0, 4, 5, 20), (7, 7, 0, 12)]
    ours = fisher_greater(*(np.array(column) for column in zip(*tables, strict=True)))
    for (a, n, c, m), p in zip(tables, ours, strict=True):
        assert math.isclose(p, stats.fisher_exact([[a, n - a], [c, m - c]], alternative="greater").pvalue)


def test_learning_rate_buckets_are_log_spaced_with_readable_labels():
    result = _analyse(planted_store(3, 200, ()))
    labels = [e["bucket"] for e in result["param_effects"] if e["param"] == "lr"]
    assert "0.01-0.03" in labels or "0.01-0.02" in labels
    batch = [e["bucket"] for e in result["param_effects"] if e["param"] == "batch_size"]
    assert batch == ["32", "64", "128", "256"]
    dropout = [e for e in result["param_effects"] if e["param"] == "dropout"]
    assert 3 <= len(dropout) <= 5  # quantile buckets: uniform values are not log-spread
    assert sum(e["runs"] for e in dropout) == 200


def test_crash_epochs_count_deaths_by_last_logged_epoch():
    store = planted_store(5, 150, ("model",), noise=0.0)
    result = _analyse(store)
    died = [r for r in store if r.status in ("crashed", "killed", "failed")]
    by_epoch = {e["at"]: e["runs"] for e in result["crash_epochs"]["entries"]}
    assert result["crash_epochs"]["died"] == len(died)
    assert by_epoch == {"2": len(died)}  # every planted swin crash dies at epoch 2
    assert result["crash_epochs"]["entries"][0]["share"] == 1.0


def test_groups_and_sensitivity_follow_the_planted_sweep():
    store = planted_store(6, 200, ("model",), noise=0.0)
    result = _analyse(store)
    groups = {g["label"]: g for g in result["groups"] if g["param"] == "model"}
    swin = [r for r in store if r.params["model"] == "swin_small"]
    assert groups["swin_small"]["runs"] == len(swin)
    assert groups["swin_small"]["crash_rate"] == 1.0 and groups["swin_small"]["finished"] == 0
    assert groups["resnet18"]["crash_rate"] == 0.0
    ranked = {e["param"]: e for e in result["sensitivity"]}
    assert ranked["lr"]["rank"] == 1 and ranked["lr"]["significant"]
    assert ranked["lr"]["variation_ratio"] > 2
    overall = result["best_configs"][0]
    assert overall["scope"] == "overall"
    objective = choose_objective(store)
    best = min(objective.value(r) for r in store if objective.value(r) is not None)
    assert overall["objective"] == best


def test_next_sweep_drops_the_failing_regions():
    result = _analyse(planted_store(8, 300, ("lr", "model")))
    params = result["next_sweep"]["wandb"]["parameters"]
    assert "swin_small" not in params["model"]["values"]
    assert params["lr"]["distribution"] == "log_uniform_values"
    assert params["lr"]["max"] <= 0.01
    assert "seed" not in params
    assert result["next_sweep"]["wandb"]["metric"] == {"name": "val_loss", "goal": "minimize"}
    optuna = result["next_sweep"]["optuna"]
    assert "suggest_float('lr'" in optuna and "log=True" in optuna
    compile(optuna, "<optuna>", "exec")


def _tiny_store(runs: list[tuple[str, dict, str, bool]]) -> RunStore:
    """Runs as (id, params, end status, logs a metric)."""
    store = RunStore("/tiny")
    for run_id, params, status, logs in runs:
        store.apply(RunSeen(run_id, run_id, run_id, "test", params=params))
        if logs:
            series = Series(array("d", [0.0, 1.0]), array("d", [1.0, 0.5]))
            store.apply(MetricBatch(run_id, {"val_loss": series}, 2))
        if status != "running":
            store.apply(RunEnded(run_id, status, error="RuntimeError: boom" if status == "crashed" else None))
    return store


@pytest.mark.parametrize(
    ("case", "runs", "caveat"),
    [
        ("one run", [("a", {"lr": 0.1}, "finished", True)], "few_runs"),
        ("nothing varies", [(f"r{i}", {"lr": 0.1}, "finished", True) for i in range(4)], "no_varying_params"),
        ("all crashed", [(f"r{i}", {"lr": 10.0**-i}, "crashed", True) for i in range(5)], "all_died"),
        ("no objective", [(f"r{i}", {"lr": 10.0**-i}, "finished", False) for i in range(5)], "no_objective"),
        ("still running", [(f"r{i}", {"lr": 10.0**-i}, "running", True) for i in range(3)], "running"),
        ("empty", [], "no_runs"),
    ],
)
def test_degenerate_sweeps_still_make_a_report(case, runs, caveat):
    store = _tiny_store(runs)
    report = build_report(store, choose_objective(store))
    for key in ("param_effects", "risk_factors", "crash_epochs", "groups", "sensitivity", "best_configs",
                "recommendations", "caveats", "next_sweep"):  # fmt: skip
        assert key in report, key
    assert caveat in {c["kind"] for c in report["caveats"]}
    assert not any(e["significant"] for e in report["param_effects"])
    assert not [r for r in report["recommendations"] if r["kind"] in AVOID_KINDS]
    markdown = render(report, "md")
    assert "## Caveats" in markdown
    render(report, "json")
    render(report, "html")


def test_markdown_puts_findings_first_with_evidence():
    store = planted_store(2, 250, ("lr", "model"))
    markdown = render(build_report(store, choose_objective(store)), "md")
    findings = markdown.index("## Findings and recommendations")
    assert findings < markdown.index("## Run status") < markdown.index("## What goes with failures")
    assert "Avoid lr \\>= 0.01" in markdown
    assert "Example runs:" in markdown
    assert "```yaml" in markdown and "log_uniform_values" in markdown


def test_two_sided_fisher_matches_scipy_on_many_tables():
    rng = np.random.default_rng(3)
    for _ in range(200):
        size, rest = int(rng.integers(1, 60)), int(rng.integers(1, 300))
        hits, rest_hits = int(rng.integers(0, size + 1)), int(rng.integers(0, rest + 1))
        expected = stats.fisher_exact([[hits, size - hits], [rest_hits, rest - rest_hits]]).pvalue
        ours = fisher_two_sided(hits, size, rest_hits, rest)
        assert math.isclose(ours, expected, rel_tol=1e-6, abs_tol=1e-12)
