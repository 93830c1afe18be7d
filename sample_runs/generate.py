"""Regenerate the bundled sample sweeps: ``python sample_runs/generate.py [--out DIR]``.

Owns the content of ``sample_runs/``: three sweeps written by :mod:`sweeptui.simulate`
from explicit plans, an ``expected.json`` per sweep written from those plans (never
from running the detectors) and ``README.md`` describing every run. Output is
deterministic: rerunning rewrites byte-identical files.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(HERE.parent))

from sweeptui.simulate import (  # noqa: E402
    SHAPE_MISMATCH,
    Rule,
    RunPlan,
    align_silent_runs,
    expected_document,
    plan_sweep,
    write_results_array,
    write_run_dir,
)

SWEEPS = ("results_array_sweep", "run_dirs_sweep", "crash_loop_sweep")

SIGTERM_TEXT = (
    "slurmstepd: error: *** JOB 4243 ON gpu03 CANCELLED AT 2023-11-15T01:02:03 "
    "DUE TO TIME LIMIT ***\n"
    "slurmstepd: error: Sending SIGTERM to job step 4243.0\n"
)
KEY_ERROR = (
    "Traceback (most recent call last):\n"
    '  File "/home/runner/sweep/train.py", line 214, in <module>\n'
    "    main(args)\n"
    '  File "/home/runner/sweep/train.py", line 120, in main\n'
    '    smoothing = cfg["label_smoothing"]\n'
    "KeyError: 'label_smoothing'\n"
)
IMPORT_ERROR = (
    "Traceback (most recent call last):\n"
    '  File "/home/runner/sweep/train.py", line 9, in <module>\n'
    "    from models.registry import build_model\n"
    '  File "/home/runner/sweep/models/registry.py", line 4, in <module>\n'
    "    from timm.layers.norm import LayerNorm2d\n"
    "ModuleNotFoundError: No module named 'timm.layers.norm'\n"
)

SWEEP_CONFIG = """\
# The sweep definition, above the run directories (not itself a run).
method: grid
metric: {name: val_loss, goal: minimize}
parameters:
  model: [resnet18, resnet50, vit_small, swin_small]
  lr: [0.001, 0.003, 0.01, 0.03]
  batch_size: [32, 64, 128, 256]
"""


# -- the sweeps -----------------------------------------------------------------------------
def results_array_plans() -> list[RunPlan]:
    """24 experiments over lr x model x weight_decay, three causes planted by rule."""
    grid = {
        "lr": [1e-3, 5e-3, 2e-2],
        "model": ["resnet18", "resnet50", "vit_small", "swin_small"],
        "weight_decay": [1e-4, 0.0],
    }
    rules = [
        Rule("model == 'swin_small'", "crashed", bad_epoch=2, error=SHAPE_MISMATCH),
        Rule("lr >= 0.02", "nan", bad_epoch=4),
        Rule("weight_decay == 0", "overfit", bad_epoch=5),
    ]
    return plan_sweep(grid, rules, epochs=12, seed=1)


# (model, lr, batch_size, weight_decay, fate, bad_epoch, config, metrics, end, extra)
RUN_DIR_TABLE: list[tuple] = [
    ("resnet18", 1e-3, 64, 1e-4, "healthy", None, "json", "jsonl", "done", {}),
    ("resnet18", 3e-3, 64, 1e-4, "healthy", None, "yaml", "csv", "status", {}),
    ("resnet18", 1e-3, 128, 1e-4, "healthy", None, "json", "jsonl", "line", {}),
    ("resnet50", 1e-3, 64, 1e-4, "healthy", None, "yaml", "jsonl", "done", {}),
    ("resnet50", 3e-3, 128, 1e-4, "healthy", None, "json", "csv", "done", {}),
    ("vit_small", 1e-3, 64, 1e-4, "healthy", None, "json", "jsonl", "status", {}),
    ("resnet18", 3e-2, 64, 1e-4, "nan", 7, "json", "jsonl", "line",
     {"cause": "lr 0.03 is too high"}),
    ("resnet50", 3e-2, 128, 1e-4, "nan", 12, "yaml", "csv", "done",
     {"cause": "lr 0.03 is too high"}),
    ("vit_small", 1e-2, 64, 1e-4, "divergence", 8, "json", "jsonl", "done",
     {"cause": "lr 0.01 without warmup"}),
    ("swin_small", 1e-3, 64, 1e-4, "crashed", 9, "json", "jsonl", "done",
     {"cause": "swin_small shape bug", "error": SHAPE_MISMATCH}),
    ("swin_small", 3e-3, 128, 1e-4, "crashed", 14, "yaml", "csv", "status",
     {"cause": "swin_small shape bug", "error": SHAPE_MISMATCH}),
    ("vit_small", 1e-3, 256, 1e-4, "oom", 6, "json", "jsonl", "done",
     {"cause": "batch_size 256 does not fit"}),
    ("resnet50", 1e-3, 256, 1e-4, "killed", 11, "json", "jsonl", "status",
     {"cause": "SIGKILL (exit 137)"}),
    ("resnet18", 1e-3, 256, 1e-4, "killed", 8, "yaml", "csv", "done",
     {"cause": "scheduler time limit (SIGTERM)", "error": SIGTERM_TEXT}),
    ("resnet50", 3e-3, 64, 1e-4, "failed", None, "json", "jsonl", "done",
     {"cause": "dataset path missing"}),
    ("vit_small", 3e-3, 64, 1e-4, "stalled", 10, "json", "jsonl", "done",
     {"cause": "hung data loader", "silence": 1500.0}),
    ("resnet50", 1e-2, 64, 1e-4, "vanished", 9, "yaml", "csv", "done",
     {"cause": "node lost, no end marker", "silence": 14400.0}),
    ("resnet18", 1e-2, 128, 1e-4, "short", 6, "json", "jsonl", "status",
     {"cause": "early-exit flag left on"}),
    ("resnet18", 1e-3, 32, 0.0, "overfit", 7, "json", "jsonl", "done",
     {"cause": "weight_decay 0"}),
    ("resnet50", 1e-3, 32, 0.0, "overfit", 9, "yaml", "csv", "status",
     {"cause": "weight_decay 0"}),
    ("resnet18", 3e-3, 32, 1e-4, "healthy", None, "json", "jsonl", "done", {}),
    ("resnet50", 1e-3, 128, 1e-4, "healthy", None, "yaml", "jsonl", "line", {}),
    ("vit_small", 1e-3, 128, 1e-4, "healthy", None, "json", "csv", "status", {}),
    ("vit_small", 3e-3, 128, 1e-4, "running", 8, "json", "jsonl", "done",
     {"cause": "still training", "silence": 90.0}),
]  # fmt: skip


def run_dir_plans() -> list[RunPlan]:
    """24 run directories: every per-run issue type beside healthy runs, mixed formats."""
    plans = []
    for index, row in enumerate(RUN_DIR_TABLE):
        model, lr, batch, decay, fate, bad, config, metrics, end, extra = row
        params = {"model": model, "lr": lr, "batch_size": batch, "weight_decay": decay,
                  "epochs": 20}  # fmt: skip
        plans.append(RunPlan(
            name=f"{model}_lr{lr:g}_bs{batch}" + ("_wd0" if decay == 0 else ""),
            params=params, fate=fate, bad_epoch=bad, seed=200 + index, start=index * 400.0,
            interval=60.0, config_format=config, metrics_format=metrics, end_marker=end,
            silence=extra.get("silence"), error=extra.get("error"), cause=extra.get("cause", ""),
        ))  # fmt: skip
    align_silent_runs(plans)
    return plans


def crash_loop_plans() -> list[RunPlan]:
    """Four healthy trials, then a code change makes eight in a row die early."""
    plans = []
    deaths = [("crashed", 1, KEY_ERROR), ("failed", None, IMPORT_ERROR), ("crashed", 2, KEY_ERROR),
              ("oom", 1, None), ("failed", None, IMPORT_ERROR), ("crashed", 1, KEY_ERROR),
              ("crashed", 2, KEY_ERROR), ("failed", None, IMPORT_ERROR)]  # fmt: skip
    for index in range(4):
        plans.append(_trial(index, "healthy", None, None, start=index * 700.0, code="3f9c2e1"))
    for offset, (fate, bad, error) in enumerate(deaths):
        index = 4 + offset
        plans.append(_trial(index, fate, bad, error, start=2900.0 + offset * 120.0, code="8d41a07"))
    running = _trial(12, "running", 3, None, start=0.0, code="8d41a07")
    running.silence = 20.0
    plans.append(running)
    align_silent_runs(plans)
    return plans


def _trial(index: int, fate: str, bad: int | None, error: str | None, start: float,
           code: str) -> RunPlan:  # fmt: skip
    params = {"lr": [1e-3, 3e-3, 1e-2][index % 3], "batch_size": [64, 128][index % 2],
              "epochs": 20, "code_version": code}  # fmt: skip
    cause = "" if fate in ("healthy", "running") else f"code_version {code} breaks startup"
    return RunPlan(f"trial_{index:02d}", params, fate, bad, seed=300 + index, start=start,
                   interval=30.0, end_marker="status", error=error, cause=cause)  # fmt: skip


# -- writing ----------------------------------------------------------------------------------
def generate_all(out: Path) -> dict[str, list[RunPlan]]:
    """Write every sample sweep, its expected.json and the README under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    for name in SWEEPS:
        shutil.rmtree(out / name, ignore_errors=True)
    sweeps = {
        "results_array_sweep": results_array_plans(),
        "run_dirs_sweep": run_dir_plans(),
        "crash_loop_sweep": crash_loop_plans(),
    }
    write_results_array(out / "results_array_sweep", sweeps["results_array_sweep"], 10)
    for name in ("run_dirs_sweep", "crash_loop_sweep"):
        for plan in sweeps[name]:
            write_run_dir(out / name, plan)
    (out / "run_dirs_sweep" / "config.yaml").write_text(SWEEP_CONFIG, encoding="utf-8")
    sweep_issues = {"crash_loop_sweep": ["crash_loop"]}
    for name, plans in sweeps.items():
        document = expected_document(plans, sweep_issues.get(name, []))
        text = json.dumps(document, indent=2, sort_keys=True) + "\n"
        (out / name / "expected.json").write_text(text, encoding="utf-8")
    (out / "README.md").write_text(readme(sweeps), encoding="utf-8")
    return sweeps


def readme(sweeps: dict[str, list[RunPlan]]) -> str:
    """The README: what each sweep is, its planted causes, a table of expectations."""
    parts = [README_HEAD]
    for name, plans in sweeps.items():
        parts.append(f"\n## `{name}/`\n\n{SWEEP_TEXT[name]}\n\n")
        parts.append(_table(plans))
    parts.append(README_TAIL)
    return "".join(parts)


def _table(plans: Sequence[RunPlan]) -> str:
    keys = [k for k in plans[0].params if k != "epochs"]
    header = ["run id", *keys, "epochs", "fate", "at epoch", "planted cause", "status", "issues"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for plan in plans:
        values = [f"{plan.params[k]:g}" if isinstance(plan.params[k], float)
                  else str(plan.params[k]) for k in keys]  # fmt: skip
        cells = [f"`{plan.name}`", *values, str(plan.epochs), plan.fate,
                 "" if plan.bad_epoch is None else str(plan.bad_epoch), plan.cause or "-",
                 plan.expected_status, ", ".join(sorted(plan.expected_issues)) or "-"]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


README_HEAD = """\
# Sample sweeps

Synthetic sweeps with planted faults, written by `sweeptui.simulate`. Regenerate them with
`python sample_runs/generate.py` (deterministic: the files come out byte-identical, and
`tests/test_samples.py` checks that the committed files are the script's output).

Each sweep holds an `expected.json`, written from the plans that generated it:
`{"judged_at": ..., "runs": {"<run id>": {"status": ..., "issues": [...]}}, "sweep_issues": [...]}`.
The expectations hold at `judged_at`, a minute after the sweep's newest update, as if the
sweep were caught mid-flight: `tests/test_samples.py` loads every sweep with
`sweeptui.sweep.load_sweep(..., now=judged_at)` and checks each run's status and issue
types against it. Try them with `sweeptui report --as-of <judged_at> sample_runs/<sweep>`;
without `--as-of` they are read as the archives they are today, and a run without an end
marker is no longer running (it is `killed`, or `finished` when it logged all its epochs).

Record times start from a fixed base time (1700000000, 2023-11-14T22:13:20Z), so stalls
are judged on record times, not file mtimes (git does not keep mtimes). With the default
settings a run logging once a minute is *stalled* after max(60 s, 10 x 60 s) = 600 s of
silence and *killed (vanished)* after 3 x 600 s = 1800 s while another run wrote later;
the stalled run here is silent for 1500 s and the vanished one for 4 hours before the
newest update of the sweep. A run that died before its first metric is `failed` and carries a `crashed` issue.
A *short run* is a finished run with under half its configured epochs; runs that crashed
or were killed are not also short. Healthy curves decay with multiplicative noise
(validation noise 1%), well inside the overfitting (5% above the minimum for 3 points)
and divergence (10x the running minimum) thresholds.
"""

SWEEP_TEXT = {
    "results_array_sweep": (
        "A results-array sweep: `sweep_results_intermediate.json` (the first 10 experiments, "
        "as the script left it mid-sweep) and `sweep_results_final.json` (all 24), with "
        "`config_params`, `success`, `error`, `train_losses`, `val_losses`, `val_accuracies`, "
        "`final_test_loss` (bare `NaN` for diverged-to-NaN runs), `training_time_seconds`, "
        "`start_time`/`end_time`. Grid: lr x model x weight_decay, 12 epochs. Planted causes, "
        "first matching rule wins: `model == 'swin_small'` crashes at epoch 2 with a shape "
        "RuntimeError; `lr >= 0.02` turns the loss NaN from epoch 4; `weight_decay == 0` "
        "overfits (validation minimum at epoch 5). The intermediate and final files describe "
        "the same experiments: 24 runs, not 34."
    ),
    "run_dirs_sweep": (
        "24 run directories under a sweep-level `config.yaml` (the sweep definition, not a "
        "run). Formats are mixed: `config.json` or `config.yaml`, `metrics.jsonl` (with "
        "`step` and `epoch`) or `metrics.csv` (`epoch` only, `nan` cells), and end markers "
        "`DONE`, `status.json` or a closing `{\"status\": \"finished\"}` line. Dying runs "
        "leave `error.txt` (a traceback, CUDA OOM, a `Killed` line or a SIGTERM notice). "
        "Every per-run issue type appears beside healthy runs; `running` is a healthy run "
        "still training (its last record 90 s before the newest update)."
    ),
    "crash_loop_sweep": (
        "13 trials logging every 30 s. Trials 00-03 (code_version 3f9c2e1) finish; after a "
        "code change (8d41a07) eight trials in a row die within their first two of 20 epochs "
        "(KeyError, missing module before the first metric, CUDA OOM), each with a "
        "`status.json` carrying its end time. Of the 10 most recently ended runs 8 died "
        "early (default window 10, fraction 0.7, early = before 25% of the expected "
        "length): a sweep-level `crash_loop`. Trial 12 has just started and is running."
    ),
}

README_TAIL = """
## Fates

| fate | files | expected status | expected issues |
|---|---|---|---|
| healthy | full log, end marker | finished | - |
| running | partial log, no end marker, recent | running | - |
| nan | losses NaN from the given epoch on, finishes | finished | nan_or_inf_metric |
| divergence | losses grow x1.7 per epoch after the given epoch, finite | finished | divergence |
| crashed | log up to the epoch, Python traceback | crashed | crashed |
| oom | log up to the epoch, CUDA out of memory traceback | crashed | oom |
| killed | log up to the epoch, `Killed` / SIGTERM text or exit 137 | killed | killed |
| failed | config and traceback, no metric | failed | crashed |
| stalled | partial log, silent 1500 s, no end marker | running | stalled |
| vanished | partial log, silent 4 h, no end marker | killed | killed |
| short | finished after the epoch, config asks for 20 | finished | short_run |
| overfit | validation minimum at the epoch, then +7%/epoch; train falls | finished |\
 overfitting_suspect |
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``--out DIR`` (default: this script's directory)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="where to write the sweeps")
    args = parser.parse_args(argv)
    sweeps = generate_all(args.out)
    for name, plans in sweeps.items():
        print(f"{args.out / name}: {len(plans)} runs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
