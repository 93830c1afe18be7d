"""Markdown for the analysis sections: findings first, then the tables that back them.

Every renderer takes the report dict and returns lines (none when the section has
nothing to say, or when the report carries no analysis).
"""

from __future__ import annotations

from typing import Any

import yaml

from sweeptui.numbers import p_value, percent, run_hours
from sweeptui.report.mdtable import code_block, number, table
from sweeptui.textsafe import clean_text
from sweeptui.textsafe import markdown_cell as cell

MAX_EFFECT_ROWS = 60


def findings_section(report: dict[str, Any]) -> list[str]:
    """Recommendations, the most run-hours saved first, each with its evidence and example runs."""
    if "recommendations" not in report or not report["summary"]["runs"]:
        return []
    recs = report["recommendations"]
    lines = ["## Findings and recommendations", ""]
    if not recs:
        lines.append(
            "Nothing stands out: no parameter range has a significantly higher rate of any issue family "
            "(Fisher exact tests, corrected), so there is no evidence-based change to recommend."
        )
        return lines
    timed = bool((report.get("compute") or {}).get("known_runs"))
    for index, rec in enumerate(recs, start=1):
        examples = rec["evidence"].get("example_runs") or []
        tail = f" Example runs: {', '.join(cell(r, 40) for r in examples)}." if examples else ""
        saved = f" {saved_sentence(rec['saved_run_hours'])}" if timed else ""
        lines.append(f"{index}. **{cell(rec['title'], 120)}.** {cell(rec['text'], 600)}{saved}{tail}")
    return lines


def saved_sentence(hours: float) -> str:
    """``Would have saved 96 run-hours in this sweep.`` (what following a recommendation was worth)."""
    if hours <= 0:
        return "Would have saved no run-hours in this sweep."
    return f"Would have saved {run_hours(hours)} run-hours in this sweep."


FAMILY_COLUMNS = (("death", "death"), ("numerical", "NaN/divergence"), ("overfitting", "overfitting"))


def failure_drivers_section(report: dict[str, Any]) -> list[str]:
    """Rates per bucket and issue family for params with a significant bucket; the others in one line."""
    effects = report.get("param_effects")
    if not effects:
        return []
    flagged = sorted({e["param"] for e in effects if e["significant"]})
    quiet = sorted({e["param"] for e in effects} - set(flagged))
    lines = ["## What goes with failures", ""]
    lines.append(
        "Rates per parameter bucket: any issue, and per issue family among the runs that could show it "
        "(runs that died cannot be judged for NaN or overfitting; runs that another param's finding of "
        "the same family explains are left out). Each bucket is tested against all other runs per "
        "family (one-sided Fisher exact test, corrected over every test; **bold** = significantly more)."
    )
    families = [(key, title) for key, title in FAMILY_COLUMNS
                if any(e.get("families", {}).get(key, {}).get("events") for e in effects)]  # fmt: skip
    rows = []
    for entry in effects:
        if entry["param"] not in flagged:
            continue
        mark = "**" if entry["significant"] else ""
        any_mark = "**" if "any" in entry.get("findings", ()) else ""
        rows.append((
            cell(entry["param"], 30), f"{mark}{cell(entry['bucket'], 30)}{mark}", entry["runs"],
            f"{any_mark}{percent(entry['issue_rate'])}{any_mark}",
            *(_family_rate(entry, key) for key, _ in families),
            _types(entry["issue_counts"]), number(entry["objective_mean"]), p_value(entry["p_adjusted"]),
        ))  # fmt: skip
    if rows:
        header = ("param", "bucket", "runs", "issue rate", *(title for _, title in families), "issues",
                  "objective mean", "p (corrected)")  # fmt: skip
        lines.extend(["", *table(header, rows[:MAX_EFFECT_ROWS])])
        if len(rows) > MAX_EFFECT_ROWS:
            lines.extend(["", f"{len(rows) - MAX_EFFECT_ROWS} more rows are in the JSON report."])
    if quiet:
        lines.extend(
            ["", "No bucket differs significantly for: " + ", ".join(cell(p, 40) for p in quiet) + "."]
        )
    return lines


def _family_rate(entry: dict[str, Any], family: str) -> str:
    """``100% (6/6)``, bold when significant; a dash when no run of the bucket could show it."""
    stats = entry.get("families", {}).get(family)
    if not stats or not stats["runs"]:
        return "—"
    mark = "**" if stats["significant"] else ""
    return f"{mark}{percent(stats['rate'])} ({stats['events']}/{stats['runs']}){mark}"


def risk_factors_section(report: dict[str, Any]) -> list[str]:
    """Pairs of conditions that fail together more than either alone."""
    risks = report.get("risk_factors")
    if not risks:
        return []
    rows = [
        (cell(r["label"], 80), r["runs"], f"{percent(r['issue_rate'])} ({r['issue_runs']})",
         percent(r["only_first"]["issue_rate"]), percent(r["only_second"]["issue_rate"]),
         p_value(r["p_adjusted"]))
        for r in risks[:10]
    ]  # fmt: skip
    header = ("conditions", "runs", "issue rate", "first alone", "second alone", "p (Holm)")
    return ["## Risky combinations", "", *table(header, rows)]


def crash_epochs_section(report: dict[str, Any]) -> list[str]:
    """When runs died: count and share per epoch (or step range)."""
    data = report.get("crash_epochs")
    if not data or not data["died"]:
        return []
    unit = data["unit"] or "epoch"
    entries = data["entries"]
    top = max(entries, key=lambda e: e["runs"])
    where = "before the first metric" if top["at"] == "before first metric" else f"at {unit} {top['at']}"
    died = f"{data['died']} run died" if data["died"] == 1 else f"{data['died']} runs died"
    share = "" if data["died"] == 1 else f"{percent(top['share'])} of them "
    lines = ["## When runs died", "", f"{died}; {share}{where}."]
    rows = [
        (cell(e["at"], 30), e["runs"], percent(e["share"]),
         ", ".join(cell(r, 30) for r in e["example_runs"][:3]))
        for e in entries
    ]
    label = "last epoch logged" if unit == "epoch" else "last step logged"
    return [*lines, "", *table((label, "died", "share", "example runs"), rows)]


def groups_section(report: dict[str, Any]) -> list[str]:
    """Per categorical param value: runs, epochs reached, finished, crash rate, best run."""
    groups = report.get("groups")
    if not groups:
        return []
    rows = [
        (cell(g["param"], 30), cell(g["label"], 40), g["runs"], number(g["mean_epochs"], 3), g["finished"],
         percent(g["crash_rate"]), number(g["best_objective"]), cell(g["best_run"] or "—", 40))
        for g in groups
    ]  # fmt: skip
    header = ("param", "value", "runs", "mean epochs", "finished", "crash rate", "best objective", "best run")
    return ["## Groups", "", *table(header, rows)]


def sensitivity_section(report: dict[str, Any]) -> list[str]:
    """How much the objective moves with each param, most sensitive first."""
    entries = [e for e in report.get("sensitivity") or [] if e["rank"] is not None]
    if not entries:
        return []
    rows = []
    for e in entries:
        ratio = f"{e['variation_ratio']:.1f}x" if e["variation_ratio"] is not None else "—"
        rows.append((e["rank"], cell(e["param"], 30), cell(e["best_bucket"], 30), cell(e["worst_bucket"], 30),
                     ratio, number(e["spread"]), number(e["spearman_rho"], 2),
                     p_value(e["kruskal_p_adjusted"])))  # fmt: skip
    lines = ["## Sensitivity", ""]
    first = entries[0]
    verdict = "significant" if first["significant"] else "not significant"
    size = (
        f"{first['variation_ratio']:.1f}x"
        if first["variation_ratio"] is not None
        else f"spread {number(first['spread'])}"
    )
    alpha = (report.get("analysis") or {}).get("alpha")
    threshold = f" at alpha = {alpha:g}" if alpha is not None else ""
    lines.append(
        f"The objective moves most with {cell(first['param'], 40)} ({size} between its best and worst "
        f"bucket means; {verdict}{threshold}, Kruskal-Wallis, Holm-corrected)."
    )
    if alpha is not None:
        lines.append(
            "A param is significant when its p (Holm) is below alpha, the family-wise error rate of "
            "every test in this report (`--set alpha=0.05` changes it)."
        )
    header = (
        "rank",
        "param",
        "best bucket",
        "worst bucket",
        "variation",
        "spread",
        "Spearman rho",
        "p (Holm)",
    )
    return [*lines, "", *table(header, rows)]


def best_configs_section(report: dict[str, Any]) -> list[str]:
    """The best run overall and per group, with its params."""
    configs = report.get("best_configs")
    if not configs:
        return []
    rows = []
    for c in configs:
        scope = "overall" if c["scope"] == "overall" else f"{c['param']} = {c['label']}"
        params = ", ".join(f"{k}={_raw(v)}" for k, v in c["params"].items())
        rows.append(
            (cell(scope, 50), cell(c["name"], 40), number(c["objective"]), c["status"], cell(params, 200))
        )
    return ["## Best configs", "", *table(("scope", "run", "objective", "status", "params"), rows)]


def caveats_section(report: dict[str, Any]) -> list[str]:
    """What limits these conclusions."""
    caveats = report.get("caveats")
    if not caveats:
        return []
    return ["## Caveats", "", *(f"- {cell(c['text'], 300)}" for c in caveats)]


def next_sweep_section(report: dict[str, Any]) -> list[str]:
    """The narrowed search space as a W&B sweep config and an Optuna snippet."""
    data = report.get("next_sweep")
    if not data or not data.get("wandb", {}).get("parameters"):
        return []
    lines = ["## Next sweep", ""]
    if data["changes"]:
        lines.extend(f"- {cell(c['param'], 40)}: {cell(c['why'], 200)}" for c in data["changes"])
    else:
        lines.append("No evidence to narrow the search space: it is repeated as it was.")
    lines.extend(["", "W&B sweep config (`sweeptui report --next-sweep FILE` writes it):", ""])
    lines.extend(code_block(shown_yaml(data["wandb"]), "yaml"))
    # repr() wrote every string of the snippet, escaping whatever is not printable
    lines.extend(["", "Optuna search space:", "", *code_block(data["optuna"], "python")])
    return lines


def wandb_yaml(config: dict[str, Any]) -> str:
    """The W&B sweep config as YAML text, keys in their natural order."""
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=False, allow_unicode=True)


def shown_yaml(config: dict[str, Any]) -> str:
    """:func:`wandb_yaml` for a page: any character a terminal or a bidi algorithm would
    act on (an escape sequence, a right-to-left override) is written as a YAML escape,
    so the text shows safely and still loads back to the same values."""
    text = wandb_yaml(config)
    if clean_text(text) == text:
        return text
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=False, allow_unicode=False)


def _raw(value: Any) -> str:
    """A param value as text, unescaped (the whole cell is escaped once)."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return "—" if value is None else str(value)


def _types(counts: dict[str, int]) -> str:
    return ", ".join(f"{t} {n}" for t, n in sorted(counts.items(), key=lambda item: -item[1])) or "—"
