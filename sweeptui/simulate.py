"""Synthetic sweeps: deterministic runs with planted faults, written in the real layouts.

This module owns the simulator used by the bundled samples, the tests, the ingest
benchmark and ``sweeptui demo``. A :class:`RunPlan` says what a run is (name, params),
how it goes bad (its *fate*, at which epoch) and what a correct reader and detector
set must conclude about it (``expected_status``, ``expected_issues``). Curves come
from a seeded :class:`numpy.random.Generator`, record times from a fixed base time,
so writing the same plans twice gives byte-identical files.

Writers: :func:`write_run_dir` (one run directory), :func:`write_results_array`
(``sweep_results_intermediate.json`` + ``sweep_results_final.json``),
:class:`LiveSimulator` (a sweep written in real time) and
:func:`generate_benchmark_sweep` (a large sweep for the ingest benchmark).
No Textual and no pandas here.
"""

from __future__ import annotations

import ast
import itertools
import json
import math
import operator
import time as _time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

BASE_TIME = 1_700_000_000.0
"""Fixed wall-clock origin of every static sweep (2023-11-14T22:13:20Z)."""

EXPECTATIONS: dict[str, tuple[str, frozenset[str]]] = {
    "healthy": ("finished", frozenset()),
    "running": ("running", frozenset()),
    "nan": ("finished", frozenset({"nan_or_inf_metric"})),
    "divergence": ("finished", frozenset({"divergence"})),
    "crashed": ("crashed", frozenset({"crashed"})),
    "oom": ("crashed", frozenset({"oom"})),
    "killed": ("killed", frozenset({"killed"})),
    "failed": ("failed", frozenset({"crashed"})),
    "stalled": ("running", frozenset({"stalled"})),
    "vanished": ("killed", frozenset({"killed"})),
    "short": ("finished", frozenset({"short_run"})),
    "overfit": ("finished", frozenset({"overfitting_suspect"})),
}
"""Every fate -> (status, issue types) a correct reading of the run's files must give.

``running``: a healthy run caught mid-flight (no end marker, recently updated).
``failed``: died before its first metric; reported as a ``crashed`` issue.
``vanished``: silent far beyond the stall window with no end marker, so ``killed``; the
stall it went through on the way is withdrawn by the kill (whose message names the silence).
"""

FATES = tuple(EXPECTATIONS)

ENDED_FATES = frozenset({"healthy", "nan", "divergence", "crashed", "oom", "killed", "failed",
                         "short", "overfit"})  # fmt: skip
"""Fates whose files carry an end marker or error text."""

STOP_AT_BAD_EPOCH = frozenset({"running", "crashed", "oom", "killed", "stalled", "vanished",
                               "short"})  # fmt: skip
"""Fates whose last logged epoch is ``bad_epoch``."""

END_DELAY = 4.0
"""Seconds between a run's last record and its end marker."""

FAILED_AFTER = 12.0
"""Seconds after start at which a ``failed`` run dies (before any metric)."""


# -- plans ---------------------------------------------------------------------------------
@dataclass
class RunPlan:
    """One synthetic run: what it is, how it goes bad and what must be concluded about it.

    ``bad_epoch`` (1-based) is where the fate strikes: the first NaN epoch (``nan``), the
    last good epoch before geometric growth (``divergence``), the validation minimum
    (``overfit``), or the last logged epoch (``crashed``, ``oom``, ``killed``, ``short``,
    ``stalled``, ``vanished``, ``running``). ``start`` is seconds after the base time,
    ``interval`` the mean seconds per epoch. ``silence`` (stalled/vanished) is how long
    before the sweep's newest update the last record lies; see :func:`align_silent_runs`.
    Layout fields pick the file formats the writer uses.
    """

    name: str
    params: dict[str, Any]
    fate: str = "healthy"
    bad_epoch: int | None = None
    seed: int = 0
    start: float = 0.0
    interval: float = 60.0
    silence: float | None = None
    config_format: str = "json"  # json | yaml
    metrics_format: str = "jsonl"  # jsonl | csv
    end_marker: str = "done"  # done | status | line (line: jsonl only)
    error: str | None = None
    cause: str = ""
    expected_status: str = field(init=False)
    expected_issues: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        if self.fate not in EXPECTATIONS:
            raise ValueError(f"unknown fate {self.fate!r}; known: {', '.join(FATES)}")
        if self.fate in STOP_AT_BAD_EPOCH | {"nan", "divergence", "overfit"}:
            if self.bad_epoch is None:
                self.bad_epoch = max(1, self.epochs // 2)
            if not 1 <= self.bad_epoch <= self.epochs:
                raise ValueError(f"{self.name}: bad_epoch {self.bad_epoch} not in 1..{self.epochs}")
        self.expected_status, self.expected_issues = EXPECTATIONS[self.fate]

    @property
    def epochs(self) -> int:
        """The configured length (``params['epochs']``)."""
        return int(self.params.get("epochs", 20))

    @property
    def logged_epochs(self) -> int:
        """How many epochs the run's files hold."""
        if self.fate == "failed":
            return 0
        if self.fate in STOP_AT_BAD_EPOCH:
            return int(self.bad_epoch or 0)
        return self.epochs

    @property
    def ended(self) -> bool:
        """Whether the files carry an end (marker or error text)."""
        return self.fate in ENDED_FATES

    def expectation(self) -> dict[str, Any]:
        """``{"status": ..., "issues": [...]}`` as written to ``expected.json``."""
        return {"status": self.expected_status, "issues": sorted(self.expected_issues)}


@dataclass
class Curves:
    """A run's per-epoch series (all of length ``logged_epochs``) and record times."""

    epoch: np.ndarray
    train_loss: np.ndarray
    val_loss: np.ndarray
    val_accuracy: np.ndarray
    lr: np.ndarray
    time: np.ndarray
    end_time: float


def plan_curves(plan: RunPlan, base_time: float = BASE_TIME) -> Curves:
    """The curves of ``plan``: healthy shapes, then the fate applied from ``bad_epoch``.

    Healthy: loss decays exponentially to a floor with multiplicative noise, validation
    loss sits a few percent above training loss with smaller noise (so it keeps falling
    and never looks like overfitting), accuracy rises towards a ceiling.
    """
    rng = np.random.default_rng(plan.seed)
    total = plan.epochs
    epoch = np.arange(1, total + 1, dtype=np.float64)
    initial, floor = rng.uniform(2.0, 2.6), rng.uniform(0.15, 0.45)
    tau = total / rng.uniform(2.6, 3.4)
    clean = floor + (initial - floor) * np.exp(-epoch / tau)
    train = clean * np.exp(rng.normal(0.0, 0.03, total))
    gap = rng.uniform(1.08, 1.15)
    val_clean = clean * gap
    ceiling = rng.uniform(0.84, 0.93)
    accuracy = 0.1 + (ceiling - 0.1) * (1 - np.exp(-epoch / (tau * 0.8)))
    accuracy = accuracy + rng.normal(0.0, 0.004, total)
    lr0 = float(plan.params.get("lr", 1e-3))
    lr = lr0 * 0.5 * (1 + np.cos(math.pi * (epoch - 1) / total))
    val_noise = np.exp(rng.normal(0.0, 0.01, total))
    steps = plan.interval * (1 + rng.uniform(-0.05, 0.05, total))
    start = base_time + plan.start
    times = start + np.cumsum(steps)
    val_clean, train, accuracy = _apply_fate(plan, epoch, clean, val_clean, train, accuracy)
    val = val_clean * val_noise
    count = plan.logged_epochs
    last = times[count - 1] if count else start + FAILED_AFTER
    return Curves(
        epoch=epoch[:count],
        train_loss=train[:count],
        val_loss=val[:count],
        val_accuracy=np.clip(accuracy, 0.0, 1.0)[:count],
        lr=lr[:count],
        time=times[:count],
        end_time=float(last + (END_DELAY if count else 0.0)),
    )


def _apply_fate(
    plan: RunPlan, epoch: np.ndarray, clean: np.ndarray, val: np.ndarray,
    train: np.ndarray, accuracy: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Bend the healthy curves per the fate; returns (val_clean, train, accuracy)."""
    k = plan.bad_epoch or 0
    after = epoch > k
    if plan.fate == "nan":
        at_or_after = epoch >= k
        train, val = train.copy(), val.copy()
        train[at_or_after] = np.nan
        val[at_or_after] = np.nan
        accuracy = np.where(at_or_after, 0.1, accuracy)
    elif plan.fate == "divergence":
        growth = 1.7 ** np.maximum(epoch - k, 0)
        train = np.where(after, train[k - 1] * growth, train)
        val = np.where(after, val[k - 1] * growth, val)
        accuracy = np.where(after, np.maximum(0.1, accuracy[k - 1] / growth), accuracy)
    elif plan.fate == "overfit":
        # Validation loss bottoms out at epoch k and climbs 7% of that minimum per epoch.
        rise = 1 + 0.07 * np.maximum(epoch - k, 0)
        val = np.where(after, val[k - 1] * rise, val)
        accuracy = np.where(after, accuracy[k - 1] - 0.004 * (epoch - k), accuracy)
    return val, train, accuracy


# -- planting causes -------------------------------------------------------------------------
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, ">=": operator.ge,
    "<=": operator.le, ">": operator.gt, "<": operator.lt,
}  # fmt: skip


@dataclass(frozen=True)
class Rule:
    """``when`` is a condition on params such as ``"lr >= 0.02"`` or
    ``"batch_size == 256 and lr == 1e-3"`` (``and`` of ``name op literal``); a run
    matching it gets ``fate`` at ``bad_epoch`` (and ``error`` as its error text)."""

    when: str
    fate: str
    bad_epoch: int | None = None
    error: str | None = None

    def matches(self, params: dict[str, Any]) -> bool:
        """Whether every clause of ``when`` holds for ``params`` (missing params: no)."""
        for clause in self.when.split(" and "):
            name, op, literal = _parse_clause(clause)
            if name not in params:
                return False
            try:
                if not _OPS[op](params[name], literal):
                    return False
            except TypeError:
                return False
        return True


def _parse_clause(clause: str) -> tuple[str, str, Any]:
    for op in (">=", "<=", "==", "!=", ">", "<"):
        name, sep, literal = clause.partition(op)
        if sep:
            return name.strip(), op, ast.literal_eval(literal.strip())
    raise ValueError(f"cannot parse condition {clause!r}")


def run_name(params: dict[str, Any], keys: Sequence[str]) -> str:
    """A readable, unique-per-grid-point name: ``lr0.001_resnet18_wd0``."""
    short = {"weight_decay": "wd", "batch_size": "bs", "model": ""}
    parts = []
    for key in keys:
        value = params[key]
        text = f"{value:g}" if isinstance(value, float) else str(value)
        parts.append(f"{short.get(key, key)}{text}")
    return "_".join(parts)


def grid_points(grid: dict[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """The cartesian product of ``grid``, first key varying slowest."""
    keys = list(grid)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*grid.values())]


def plan_sweep(
    grid: dict[str, Sequence[Any]],
    rules: Sequence[Rule],
    epochs: int = 12,
    seed: int = 0,
    interval: float = 60.0,
    gap: float = 30.0,
) -> list[RunPlan]:
    """One plan per grid point; the first matching rule sets the fate, else healthy.

    Runs are sequential in time: each starts ``gap`` seconds after the previous ended.
    The ``cause`` field records the rule, so documentation can cite it.
    """
    plans: list[RunPlan] = []
    start = 0.0
    for index, point in enumerate(grid_points(grid)):
        params = {**point, "epochs": epochs}
        rule = next((r for r in rules if r.matches(point)), None)
        plan = RunPlan(
            name=run_name(point, list(grid)), params=params,
            fate=rule.fate if rule else "healthy", bad_epoch=rule.bad_epoch if rule else None,
            seed=seed * 100_003 + index, start=start, interval=interval,
            error=rule.error if rule else None, cause=rule.when if rule else "",
        )  # fmt: skip
        plans.append(plan)
        start = plan_curves(plan).end_time - BASE_TIME + gap
    return plans


def random_failures(
    grid: dict[str, Sequence[Any]],
    rate: float,
    epochs: int = 12,
    seed: int = 0,
    fates: Sequence[str] = ("crashed",),
) -> list[RunPlan]:
    """The null case: each run fails with probability ``rate`` regardless of its params.

    Which runs fail depends only on ``seed`` and the run's position, never on a param
    value, so an analysis must find no cause.
    """
    rng = np.random.default_rng(seed)
    points = grid_points(grid)
    draws = rng.random(len(points))
    picks = rng.integers(0, len(fates), len(points))
    bad_epochs = rng.integers(1, max(2, epochs // 2), len(points))
    plans = []
    for index, point in enumerate(points):
        failing = draws[index] < rate
        plans.append(RunPlan(
            name=run_name(point, list(grid)), params={**point, "epochs": epochs},
            fate=fates[picks[index]] if failing else "healthy",
            bad_epoch=int(bad_epochs[index]) if failing else None,
            seed=seed * 100_003 + index, start=index * (epochs * 60.0 + 60.0),
            cause="random failure" if failing else "",
        ))  # fmt: skip
    return plans


def sweep_reference(plans: Iterable[RunPlan], base_time: float = BASE_TIME) -> float:
    """The newest update of the plans placed in absolute time (``silence`` unset)."""
    stamps = []
    for plan in plans:
        if plan.silence is not None:
            continue
        curves = plan_curves(plan, base_time)
        last = float(curves.time[-1]) if len(curves.time) else curves.end_time
        stamps.append(curves.end_time if plan.ended else last)
    return max(stamps)


def align_silent_runs(plans: Sequence[RunPlan], base_time: float = BASE_TIME) -> float:
    """Shift every plan with a ``silence`` (stalled, vanished, or a running run that
    should look fresh) so its last record lies ``silence`` seconds before the newest
    update of the other plans; returns that reference time."""
    reference = sweep_reference(plans, base_time)
    for plan in plans:
        if plan.silence is None:
            if plan.fate in ("stalled", "vanished"):
                raise ValueError(f"{plan.name}: a {plan.fate} plan needs a silence")
            continue
        plan.start = 0.0
        last = float(plan_curves(plan, base_time).time[-1])  # absolute: base_time + time to last record
        plan.start = reference - plan.silence - last
    return reference


# -- error texts ------------------------------------------------------------------------------
_TRACEBACK_HEAD = (
    "Traceback (most recent call last):\n"
    '  File "/home/runner/sweep/train.py", line 214, in <module>\n'
    "    main(args)\n"
    '  File "/home/runner/sweep/train.py", line 187, in main\n'
    "    loss = train_one_epoch(model, loader, optimizer, epoch)\n"
)
DEFAULT_ERRORS: dict[str, str] = {
    "crashed": _TRACEBACK_HEAD
    + '  File "/home/runner/sweep/train.py", line 96, in train_one_epoch\n'
    "    loss = criterion(output, target)\n"
    "ValueError: Expected input batch_size (64) to match target batch_size (32).\n",
    "oom": _TRACEBACK_HEAD
    + '  File "/home/runner/sweep/train.py", line 91, in train_one_epoch\n'
    "    output = model(images)\n"
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB "
    "(GPU 0; 23.65 GiB total capacity; 21.90 GiB already allocated)\n",
    "killed": "epoch done, saving checkpoint\n"
    "/var/spool/slurmd/job4242/slurm_script: line 12: 48213 Killed"
    "                  python train.py --config config.json\n",
    "failed": "Traceback (most recent call last):\n"
    '  File "/home/runner/sweep/train.py", line 201, in <module>\n'
    "    loader = build_loader(args.data_dir)\n"
    '  File "/home/runner/sweep/data.py", line 33, in build_loader\n'
    "    raise FileNotFoundError(f\"no such dataset: {path}\")\n"
    "FileNotFoundError: no such dataset: /data/imagenet-subset\n",
}
"""Error file text per dying fate (a plan's ``error`` overrides it)."""

SHAPE_MISMATCH = (
    _TRACEBACK_HEAD
    + '  File "/home/runner/sweep/models/swin.py", line 142, in forward\n'
    "    x = x + self.relative_position_bias\n"
    "RuntimeError: The size of tensor a (49) must match the size of tensor b (64) "
    "at non-singleton dimension 1\n"
)
"""A crash tied to an architecture, for planted ``model == ...`` causes."""


def error_text(plan: RunPlan) -> str | None:
    """The error text a dying run leaves, or None for fates that do not die."""
    if plan.error is not None:
        return plan.error
    if plan.fate in ("crashed", "oom", "killed", "failed"):
        return DEFAULT_ERRORS[plan.fate]
    return None


# -- run directories --------------------------------------------------------------------------
def _num(value: float) -> float:
    """Six significant digits: small files, same bytes on every platform."""
    value = float(value)
    return value if not math.isfinite(value) else float(f"{value:.6g}")


def run_records(plan: RunPlan, base_time: float = BASE_TIME) -> list[dict[str, Any]]:
    """The metric records of ``plan``, one per logged epoch, in file order."""
    curves = plan_curves(plan, base_time)
    steps_per_epoch = int(plan.params.get("steps_per_epoch", 390))
    records = []
    for i in range(len(curves.epoch)):
        epoch = int(curves.epoch[i])
        records.append({
            "step": epoch * steps_per_epoch,
            "epoch": epoch,
            "train_loss": _num(curves.train_loss[i]),
            "val_loss": _num(curves.val_loss[i]),
            "val_accuracy": _num(curves.val_accuracy[i]),
            "lr": _num(curves.lr[i]),
            "time": round(float(curves.time[i]), 3),
        })  # fmt: skip
    return records


CSV_COLUMNS = ("epoch", "train_loss", "val_loss", "val_accuracy", "lr", "time")


def _csv_cell(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return repr(value) if isinstance(value, float) else str(value)


def format_record(plan: RunPlan, record: dict[str, Any]) -> str:
    """One line of the plan's metric log (JSONL object or CSV row), newline included."""
    if plan.metrics_format == "csv":
        return ",".join(_csv_cell(record[c]) for c in CSV_COLUMNS) + "\n"
    return json.dumps(record) + "\n"


def metrics_file_name(plan: RunPlan) -> str:
    """``metrics.jsonl`` or ``metrics.csv``."""
    return "metrics.csv" if plan.metrics_format == "csv" else "metrics.jsonl"


def config_text(plan: RunPlan) -> tuple[str, str]:
    """(file name, text) of the plan's config file."""
    if plan.config_format == "yaml":
        import yaml

        return "config.yaml", yaml.safe_dump(plan.params, sort_keys=False)
    return "config.json", json.dumps(plan.params, indent=2) + "\n"


def end_files(plan: RunPlan, end_time: float) -> dict[str, str]:
    """Files (name -> text) written when the run ends; the ``line`` marker is separate."""
    files: dict[str, str] = {}
    text = error_text(plan)
    if text is not None:
        files["error.txt"] = text
    if plan.end_marker == "status" and plan.ended:
        status = "finished" if text is None else "killed" if plan.fate == "killed" else "crashed"
        marker: dict[str, Any] = {"status": status,
                                  "exit_code": {"finished": 0, "killed": 137}.get(status, 1)}
        if text is not None:
            marker["error"] = text  # same text as error.txt: both readings must agree
        marker["time"] = round(end_time, 3)
        files["status.json"] = json.dumps(marker) + "\n"
    elif plan.ended and text is None and (
        plan.end_marker == "done" or (plan.end_marker == "line" and plan.metrics_format == "csv")
    ):
        files["DONE"] = ""  # a CSV log cannot hold an end line: fall back to the marker file
    return files


def end_line(plan: RunPlan, end_time: float) -> str | None:
    """The ``{"status": "finished"}`` line closing a JSONL log, when the plan uses one."""
    if plan.end_marker != "line" or plan.metrics_format == "csv":
        return None
    if not plan.ended or error_text(plan) is not None:
        return None
    return json.dumps({"status": "finished", "time": round(end_time, 3)}) + "\n"


def write_run_dir(root: Path | str, plan: RunPlan, base_time: float = BASE_TIME) -> Path:
    """Write ``plan`` as the run directory ``root/plan.name`` (whole files, one write each)."""
    directory = Path(root) / plan.name
    directory.mkdir(parents=True, exist_ok=True)
    name, text = config_text(plan)
    _write(directory / name, text)
    records = run_records(plan, base_time)
    end_time = plan_curves(plan, base_time).end_time
    if plan.fate != "failed":
        lines = [format_record(plan, r) for r in records]
        if plan.metrics_format == "csv":
            lines.insert(0, ",".join(CSV_COLUMNS) + "\n")
        closing = end_line(plan, end_time)
        if closing:
            lines.append(closing)
        _write(directory / metrics_file_name(plan), "".join(lines))
    for file_name, content in end_files(plan, end_time).items():
        _write(directory / file_name, content)
    return directory


def _write(path: Path, text: str) -> None:
    path.write_bytes(text.encode("utf-8"))


# -- results-array files ----------------------------------------------------------------------
def _iso(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, timezone.utc).isoformat(timespec="seconds")


def results_record(plan: RunPlan, base_time: float = BASE_TIME) -> dict[str, Any]:
    """One experiment of a results-array file."""
    curves = plan_curves(plan, base_time)
    start = base_time + plan.start
    text = error_text(plan)
    finite_val = curves.val_loss[np.isfinite(curves.val_loss)]
    if plan.fate == "nan":
        test_loss = float("nan")
    elif text is None and finite_val.size:
        test_loss = _num(finite_val[-1] * 1.02)
    else:
        test_loss = None
    return {
        "experiment_name": plan.name,
        "config_params": plan.params,
        "success": text is None,
        "error": text,
        "train_losses": [_num(v) for v in curves.train_loss],
        "val_losses": [_num(v) for v in curves.val_loss],
        "val_accuracies": [_num(v) for v in curves.val_accuracy],
        "final_test_loss": test_loss,
        "epochs_completed": int(plan.logged_epochs),
        "training_time_seconds": round(curves.end_time - start, 1),
        "start_time": _iso(start),
        "end_time": _iso(curves.end_time),
    }


def write_results_array(
    directory: Path | str,
    plans: Sequence[RunPlan],
    intermediate_count: int | None = None,
    base_time: float = BASE_TIME,
) -> tuple[Path, Path]:
    """Write ``sweep_results_intermediate.json`` (the first ``intermediate_count``
    experiments, default half) and ``sweep_results_final.json`` (all of them).

    Python's json writes non-finite floats as bare ``NaN`` tokens, as real sweeps do.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    records = [results_record(plan, base_time) for plan in plans]
    count = len(records) // 2 if intermediate_count is None else intermediate_count
    intermediate = directory / "sweep_results_intermediate.json"
    final = directory / "sweep_results_final.json"
    _write(intermediate, json.dumps(records[:count], indent=2) + "\n")
    _write(final, json.dumps(records, indent=2) + "\n")
    return intermediate, final


JUDGED_AFTER = 60.0
"""Seconds after a static sweep's newest update at which its expectations hold."""


def expected_document(plans: Iterable[RunPlan], sweep_issues: Iterable[str] = (),
                      prefix: str = "", base_time: float = BASE_TIME) -> dict[str, Any]:  # fmt: skip
    """The ``expected.json`` content for ``plans`` (run id = ``prefix + name``).

    ``judged_at`` is the moment the expectations hold (a minute after the newest update):
    a run without an end marker is running or stalled then, but not when judged today.
    """
    plans = list(plans)
    return {
        "judged_at": sweep_reference(plans, base_time) + JUDGED_AFTER,
        "runs": {f"{prefix}{p.name}": p.expectation() for p in plans},
        "sweep_issues": sorted(sweep_issues),
    }


# -- live simulation --------------------------------------------------------------------------
class _LiveRun:
    """One plan being written over time: how many records are out, whether it ended."""

    def __init__(self, root: Path, plan: RunPlan, base_time: float) -> None:
        self.plan = plan
        self.directory = root / plan.name
        self.curves = plan_curves(plan, base_time)
        self.records = run_records(plan, base_time)
        self.start = base_time + plan.start
        self.written = 0
        self.started = False
        self.finished = False

    def advance(self, now: float) -> int:
        """Write whatever is due by ``now``; returns the number of records appended."""
        if self.finished or now < self.start:
            return 0
        if not self.started:
            self._begin()
        due = [r for r in self.records[self.written:] if r["time"] <= now]
        if due:
            with open(self.directory / metrics_file_name(self.plan), "a", encoding="utf-8") as f:
                f.write("".join(format_record(self.plan, r) for r in due))
            self.written += len(due)
        if self.plan.ended and self.written == len(self.records) and now >= self.curves.end_time:
            self._end()
        return len(due)

    def _begin(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name, text = config_text(self.plan)
        _write(self.directory / name, text)
        if self.plan.fate == "failed":
            pass  # dies before opening its metric log
        elif self.plan.metrics_format == "csv":
            _write(self.directory / "metrics.csv", ",".join(CSV_COLUMNS) + "\n")
        else:
            _write(self.directory / "metrics.jsonl", "")
        self.started = True

    def _end(self) -> None:
        closing = end_line(self.plan, self.curves.end_time)
        if closing:
            with open(self.directory / "metrics.jsonl", "a", encoding="utf-8") as f:
                f.write(closing)
        for file_name, content in end_files(self.plan, self.curves.end_time).items():
            _write(self.directory / file_name, content)
        self.finished = True


class LiveSimulator:
    """Writes a sweep of run directories as it would appear while running.

    Each plan starts ``plan.start`` seconds after ``base_time`` and appends one record
    to its ``metrics.jsonl`` (or ``metrics.csv``) every ``plan.interval`` seconds until
    its fate strikes: it then writes its end marker and error text, or simply falls
    silent (stalled, vanished, running). Record ``time`` fields are simulated time,
    so :meth:`step` can be driven by a test without sleeping.
    """

    def __init__(self, root: Path | str, plans: Sequence[RunPlan],
                 base_time: float | None = None) -> None:  # fmt: skip
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.base_time = _time.time() if base_time is None else base_time
        self.runs = [_LiveRun(self.root, plan, self.base_time) for plan in plans]
        self.now = self.base_time

    def step(self, now: float) -> int:
        """Advance every run to simulated time ``now``; returns records appended."""
        self.now = now
        return sum(run.advance(now) for run in self.runs)

    @property
    def done(self) -> bool:
        """True when no run will write anything more."""
        return all(run.finished or (not run.plan.ended and run.written == len(run.records))
                   for run in self.runs)  # fmt: skip

    def run(self, duration: float, speed: float = 1.0, tick: float = 0.5) -> None:
        """Write in real time for ``duration`` wall seconds; ``speed`` simulated seconds
        pass per wall second (60: an epoch of a minute every second)."""
        began = _time.monotonic()
        while True:
            elapsed = _time.monotonic() - began
            self.step(self.base_time + elapsed * speed)
            if elapsed >= duration or self.done:
                return
            _time.sleep(tick)


DEMO_GRID = {"seed": [0, 1, 2, 3], "lr": [1e-3, 3e-3, 1e-2], "batch_size": [32, 64, 128]}
"""36 runs, every combination once per seed (so both causes show early): enough for the
analysis to back its advice with significant tests."""

DEMO_RULES = (
    Rule("lr >= 0.01", "nan", bad_epoch=5),
    Rule("batch_size >= 128", "oom", bad_epoch=2),
)
"""The demo's planted causes: a learning rate that goes NaN, a batch size that does not fit."""

DEMO_ODD_FATES = (("divergence", 7), ("crashed", 5), ("overfit", 8), ("killed", 9),
                  ("short", 6), ("stalled", 7), ("failed", None))  # fmt: skip
"""One run each, outside the planted causes: every other way a run goes bad (epochs for 20)."""


def demo_plans(epochs: int = 20, interval: float = 30.0, stagger: float = 1.0) -> list[RunPlan]:
    """The live demo's sweep: a grid with two planted causes and one run of every other fate.

    Runs start ``stagger`` epochs apart, so a dozen train at once. The odd fates go to
    runs no rule matches (spread over the grid), so they read as noise beside the causes.
    """
    points = grid_points(DEMO_GRID)
    fates: list[tuple[str, int | None, str]] = []
    for point in points:
        rule = next((r for r in DEMO_RULES if r.matches(point)), None)
        fates.append((rule.fate, rule.bad_epoch, rule.when) if rule else ("healthy", None, ""))
    healthy = [index for index, (fate, _, _) in enumerate(fates) if fate == "healthy"]
    # a stride of 5 through the healthy runs visits the lr x batch_size cells in turn
    chosen = [healthy[(1 + 5 * i) % len(healthy)] for i in range(min(len(DEMO_ODD_FATES), len(healthy)))]
    for index, (fate, bad) in zip(chosen, DEMO_ODD_FATES, strict=True):
        fates[index] = (fate, bad, "odd one out")
    return [
        RunPlan(f"run_{index:02d}", {**point, "epochs": epochs}, fate,
                _scaled(bad, epochs) if bad is not None else None, seed=index,
                start=index * interval * stagger, interval=interval, cause=cause)
        for index, (point, (fate, bad, cause)) in enumerate(zip(points, fates, strict=True))
    ]  # fmt: skip


def _scaled(bad_epoch: int, epochs: int) -> int:
    """An epoch given for a 20-epoch run, scaled to ``epochs``."""
    return max(1, min(epochs, round(bad_epoch * epochs / 20)))


# -- benchmark sweep --------------------------------------------------------------------------
_BENCH_LINE = (
    '{"step":%d,"epoch":%d,"train_loss":%.6g,"val_loss":%.6g,"lr":%.6g,"time":%.3f}\n'
)


def generate_benchmark_sweep(root: Path | str, runs: int = 1000, steps: int = 1000,
                             seed: int = 0) -> dict[str, int]:  # fmt: skip
    """A large sweep of run directories (config.json + metrics.jsonl, ~100 bytes a line).

    About 2% of runs turn NaN, 2% crash (error.txt, truncated log), 1% diverge; the rest
    finish (DONE). Returns counts per fate. One write per file, lines formatted with
    ``%`` from numpy columns.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    counts: dict[str, int] = {}
    step_index = np.arange(1, steps + 1, dtype=np.float64)
    for index in range(runs):
        draw = rng.random()
        fate = ("nan" if draw < 0.02 else "crashed" if draw < 0.04
                else "divergence" if draw < 0.05 else "healthy")  # fmt: skip
        counts[fate] = counts.get(fate, 0) + 1
        _write_benchmark_run(root / f"run_{index:05d}", index, fate, steps, step_index, rng)
    return counts


def _write_benchmark_run(directory: Path, index: int, fate: str, steps: int,
                         step_index: np.ndarray, rng: np.random.Generator) -> None:  # fmt: skip
    directory.mkdir(parents=True, exist_ok=True)
    lr0 = float(rng.choice([1e-4, 3e-4, 1e-3, 3e-3]))
    per_epoch = max(1, steps // 20)
    params = {"lr": lr0, "batch_size": int(rng.choice([32, 64, 128])),
              "max_steps": steps, "seed": index}  # fmt: skip
    _write(directory / "config.json", json.dumps(params) + "\n")
    tau = steps / rng.uniform(2.5, 3.5)
    clean = 0.3 + 2.0 * np.exp(-step_index / tau)
    train = clean * np.exp(rng.normal(0.0, 0.03, steps))
    val = clean * 1.1 * np.exp(rng.normal(0.0, 0.01, steps))
    lr = lr0 * 0.5 * (1 + np.cos(np.pi * (step_index - 1) / steps))
    times = BASE_TIME + index * 7.0 + np.cumsum(rng.uniform(0.9, 1.1, steps))
    count = steps
    if fate == "nan":
        onset = int(rng.integers(steps // 4, steps))
        train[onset:] = np.nan
        val[onset:] = np.nan
    elif fate == "divergence":
        onset = int(rng.integers(steps // 4, steps // 2))
        growth = 1.02 ** np.maximum(step_index - onset, 0)
        train = np.where(step_index > onset, train[onset - 1] * growth, train)
        val = np.where(step_index > onset, val[onset - 1] * growth, val)
    elif fate == "crashed":
        count = int(rng.integers(1, steps))
    epochs = (step_index - 1) // per_epoch
    rows = zip(step_index[:count].astype(int).tolist(), epochs[:count].astype(int).tolist(),
               train[:count].tolist(), val[:count].tolist(), lr[:count].tolist(),
               times[:count].tolist(), strict=True)  # fmt: skip
    text = "".join([_BENCH_LINE % row for row in rows])
    if fate == "nan":
        text = text.replace("nan", "NaN")
    _write(directory / "metrics.jsonl", text)
    if fate == "crashed":
        _write(directory / "error.txt", DEFAULT_ERRORS["crashed"])
    else:
        _write(directory / "DONE", "")


__all__ = [
    "BASE_TIME", "EXPECTATIONS", "FATES", "Curves", "LiveSimulator", "Rule", "RunPlan",
    "align_silent_runs", "demo_plans", "expected_document", "generate_benchmark_sweep",
    "grid_points", "plan_curves", "plan_sweep", "random_failures", "results_record",
    "run_name", "run_records", "sweep_reference", "write_results_array", "write_run_dir",
]  # fmt: skip
