"""Markdown rendering of the report document: a short, table-first sweep write-up.

Each section is one function from the report dict to lines; sections with nothing
to say return no lines. Later layers append their renderers to ``SECTIONS``.
Every value from the sweep goes through :func:`sweeptui.textsafe.markdown_cell`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sweeptui.lifecycle import status_mark
from sweeptui.numbers import counted, percent, run_hours
from sweeptui.report import analysis_md
from sweeptui.report.mdtable import number, table
from sweeptui.store import STATUSES
from sweeptui.textsafe import markdown_cell as cell
from sweeptui.textsafe import markdown_code as code

Section = Callable[[dict[str, Any]], list[str]]


def render_markdown(report: dict[str, Any]) -> str:
    """The whole report as Markdown text."""
    blocks = [lines for section in SECTIONS if (lines := section(report))]
    return "\n\n".join("\n".join(lines) for lines in blocks) + "\n"


def overview(report: dict[str, Any]) -> list[str]:
    """Title and the one-paragraph answer: how many runs, how many went bad, what ranks them."""
    summary = report["summary"]
    total = summary["runs"]
    lines = [f"# Sweep report: {cell(report['root'], 120)}", ""]
    if total == 0:
        lines.append("No runs were found under this directory. "
                     "`sweeptui sources` lists the layouts sweeptui reads.")
        return lines
    counts = summary["status_counts"]
    bad = counts["crashed"] + counts["killed"] + counts["failed"]
    sentence = (
        f"{counted(total, 'runs')}: {counts['finished']} finished, {counts['running']} running, "
        f"{bad} died ({percent(bad / total)}).{_lost_sentence(report)} "
        f"{counted(summary['runs_with_issues'], 'runs')} ({percent(summary['runs_with_issues'] / total)}) "
        f"{'has' if summary['runs_with_issues'] == 1 else 'have'} at least one issue."
    )
    lines.append(sentence)
    objective = report.get("objective")
    if objective:
        how = "chosen automatically" if objective["automatic"] else "chosen with --metric"
        lines.append("")
        lines.append(
            f"Runs are ranked by {code(objective['metric'], 60)} ({objective['reason']}; {how})."
        )
        board = report["leaderboard"]
        if board:
            best = board[0]
            lines.append(
                f"Best: **{cell(best['name'], 60)}** with {number(best['objective'])}"
                f" ({status_mark(best['status'], best.get('stopped_early', False))})."
            )
    else:
        lines.extend(["", "No metric was found to rank the runs."])
    lines.append("")
    lines.append(f"Generated {report['generated_at']} by {report['generator']}.")
    return lines


def _lost_sentence(report: dict[str, Any]) -> str:
    """`` 31% of the sweep's 412 run-hours went into runs that had already gone NaN or died.``"""
    compute = report.get("compute")
    if not compute or not compute["known_runs"]:
        return ""
    unknown = compute["unknown_runs"]
    runs = "run" if unknown == 1 else "runs"
    untimed = f" ({unknown} {runs} without timestamps not counted)" if unknown else ""
    return (
        f" {percent(compute['lost_share'])} of the sweep's {run_hours(compute['run_hours'])} run-hours "
        f"went into runs that had already gone NaN or died{untimed}."
    )


def status_section(report: dict[str, Any]) -> list[str]:
    """Runs per status with percentages, and what the statuses stand on."""
    summary = report["summary"]
    if not summary["runs"]:
        return []
    counts = dict(summary["status_counts"])
    early = summary.get("stopped_early", 0)
    counts["finished"] -= early
    rows = [(status, counts[status], _share(counts[status], summary["runs"])) for status in STATUSES
            if counts[status]]  # fmt: skip
    if early:
        row = (status_mark("finished", True), early, _share(early, summary["runs"]))
        rows.insert(1 if counts["running"] else 0, row)
    lines = ["## Run status", "", *table(("status", "runs", "share"), rows)]
    evidence = summary.get("status_evidence")
    if evidence:
        lines.extend(["", _evidence_sentence(evidence)])
    return lines


def _share(part: int, total: int) -> str:
    return f"{100.0 * part / total:.1f}%"


def _evidence_sentence(evidence: dict[str, Any]) -> str:
    """``"Statuses: 17 from explicit evidence (17 error text); 103 inferred (...)."``"""

    def parts(by: dict[str, int]) -> str:
        ranked = sorted(by.items(), key=lambda item: (-item[1], item[0]))
        return ", ".join(f"{count} {cell(basis, 40)}" for basis, count in ranked)

    explicit, inferred = evidence["explicit"], evidence["inferred"]
    said = f"{explicit} from explicit evidence ({parts(evidence['explicit_by'])})" if explicit else (
        "none from explicit evidence (no end marker, exit code, error text or tool state)"
    )
    guessed = f"{inferred} inferred ({parts(evidence['inferred_by'])})" if inferred else "none inferred"
    return f"Statuses: {said}; {guessed}. Each run's reason is in the JSON report (`status_reason`)."


def leaderboard_section(report: dict[str, Any]) -> list[str]:
    """Top runs by the objective, with the params that vary."""
    board = report["leaderboard"]
    if not board:
        return []
    params = report["varying_params"][:6]
    metric = report["objective"]["metric"]
    by = (report.get("ranking") or {}).get("value", "best")
    other = "last" if by == "best" else "best"
    header = ("#", "run", f"{metric} ({by})", other, "status", *params, "issues")
    rows = [
        (
            entry["rank"],
            cell(entry["name"], 40),
            number(entry["ranked_value"]),
            number(entry[other if other == "last" else "objective"]),
            status_mark(entry["status"], entry.get("stopped_early", False)),
            *(number(entry["params"].get(p)) for p in params),
            ", ".join(entry["issues"]) or "—",
        )
        for entry in board
    ]
    hidden = len(report["varying_params"]) - len(params)
    note = ["", f"{hidden} more varying params are in the JSON report."] if hidden > 0 else []
    value = "best value" if by == "best" else "newest value"
    intro = (f"Ranked by each run's {value} of {code(metric, 60)}; runs with a high-severity issue "
             f"(NaN, divergence, a crash or kill) come after every run without one "
             f"(`--rank {other}` ranks by the {other} value).")  # fmt: skip
    return ["## Leaderboard", "", intro, "", *table([cell(h, 30) for h in header], rows), *note]


def issues_section(report: dict[str, Any]) -> list[str]:
    """Issue types with counts, example runs and one example message."""
    breakdown = report["issue_breakdown"]
    if not breakdown:
        return ["## Issues", "", "No issues detected."] if report["summary"]["runs"] else []
    rows = [
        (
            f"`{row['type']}`",
            row["severity"],
            row["count"],
            ", ".join(cell(run, 30) for run in row["example_runs"]) or "(sweep)",
            cell(row["example_message"], 100),
        )
        for row in breakdown
    ]
    header = ("issue", "severity", "runs", "example runs", "example")
    return ["## Issues", "", *table(header, rows)]


def warnings_section(report: dict[str, Any]) -> list[str]:
    """Input that could not be read as expected (never fatal, always shown)."""
    warnings = report["warnings"]
    if not warnings:
        return []
    total = report["summary"]["warning_count"]
    shown = warnings[:20]
    lines = ["## Reading warnings", ""]
    lines.extend(f"- {code(w['path'], 80)}: {cell(w['message'], 160)}" for w in shown)
    if total > len(shown):
        lines.append(f"- … and {total - len(shown)} more (see the JSON report).")
    return lines


SECTIONS: list[Section] = [
    overview,
    analysis_md.findings_section,
    status_section,
    leaderboard_section,
    issues_section,
    analysis_md.failure_drivers_section,
    analysis_md.risk_factors_section,
    analysis_md.crash_epochs_section,
    analysis_md.groups_section,
    analysis_md.sensitivity_section,
    analysis_md.best_configs_section,
    analysis_md.caveats_section,
    analysis_md.next_sweep_section,
    warnings_section,
]
"""Renderers in page order; the analysis layer inserts its own."""
