"""Hinted polls of the tool layouts give the same store as full polls, round after round.

Each committed fixture is copied twice with its logs cut short and its end files held
back; both copies then grow in the same steps. One sweep is polled with exactly the
paths that changed, the other reads everything each time; their stores must agree.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sweeptui.sweep import Sweep
from tests.tool_fixtures import copy_fixture

ROUNDS = 3

LAYOUTS = {
    # tool: (logs that grow, files that appear only in the last round)
    "ray": (["exp/*/result.json"], []),
    "hydra": (["multirun/*/*/*/metrics.jsonl"],
              ["multirun/*/*/launcher.err", "multirun/*/*/*/make_hydra.log"]),
    "lightning": (["tiny/*/metrics.csv"], ["tiny/*/stderr.log", "tiny/*/exit_code"]),
    "tensorboard": (["*/events.out.tfevents.*", "*/*/events.out.tfevents.*"], []),
}


def _store_state(sweep: Sweep) -> dict:
    """What a run's files said, with nothing that depends on when the copy was written."""
    runs = {
        run.id: repr((
            run.name, run.source, run.status, run.records, run.params, run.summary, run.error,
            run.exit_code, sorted(run.issue_types),
            {name: (list(s.steps), list(s.values)) for name, s in sorted(run.metrics.items())},
        ))
        for run in sweep.store
    }
    warnings = sorted(w.message for w in sweep.store.warnings)
    issues = sorted((i.type, i.run, i.message) for i in sweep.store.issues)
    return {"runs": runs, "warnings": warnings, "issues": issues}


def _prepare(root: Path, growing: list[str], late: list[str]) -> tuple[dict, dict]:
    """Cut the growing logs to a third and remove the late files; return their contents."""
    logs = {path.relative_to(root): path.read_bytes() for pattern in growing
            for path in sorted(root.glob(pattern))}
    held = {path.relative_to(root): path.read_bytes() for pattern in late
            for path in sorted(root.glob(pattern))}
    for relative, data in logs.items():
        (root / relative).write_bytes(data[: len(data) // ROUNDS])
    for relative in held:
        (root / relative).unlink()
    return logs, held


def _grow(root: Path, logs: dict, held: dict, round_: int) -> list[Path]:
    """Write the next part of every log (and, last, the held files); the paths changed."""
    changed = []
    for relative, data in logs.items():
        start, end = len(data) * round_ // ROUNDS, len(data) * (round_ + 1) // ROUNDS
        if end > start:
            with open(root / relative, "ab") as handle:
                handle.write(data[start:end])
            changed.append(root / relative)
    if round_ == ROUNDS - 1:
        for relative, data in held.items():
            (root / relative).write_bytes(data)
            changed.append(root / relative)
    return changed


@pytest.mark.parametrize("tool", sorted(LAYOUTS))
def test_hinted_polls_match_full_polls(tmp_path: Path, tool: str) -> None:
    growing, late = LAYOUTS[tool]
    roots = [tmp_path / "hinted", tmp_path / "full"]
    contents = [_prepare(copy_fixture(tool, root), growing, late) for root in roots]
    assert contents[0][0], "the fixture has logs to grow"
    hinted, full = Sweep(roots[0]), Sweep(roots[1])
    hinted.rescan()
    full.rescan()
    assert _store_state(hinted) == _store_state(full)
    for round_ in range(1, ROUNDS):
        changed = _grow(roots[0] / tool, *contents[0], round_)
        _grow(roots[1] / tool, *contents[1], round_)
        result = hinted.poll(changed)
        full.poll()
        assert result.unowned == []
        assert _store_state(hinted) == _store_state(full), f"round {round_}"
    whole = Sweep(tmp_path / "whole")
    copy_fixture(tool, tmp_path / "whole")
    whole.rescan()
    # an end read before the last records may set another status; the records are the same
    assert _series(hinted) == _series(whole)


def _series(sweep: Sweep) -> dict:
    return {run.id: repr((run.records, {name: (list(s.steps), list(s.values))
                                        for name, s in sorted(run.metrics.items())}))
            for run in sweep.store}
