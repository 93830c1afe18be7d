"""Benchmark: load a 1,000-trial Ray Tune experiment with sweeptui and with Ray itself.

Usage (from the repository root)::

    PYTHONPATH=. python benchmarks/bench_ray.py [--trials 1000] [--iterations 100] [--keep DIR]

``--keep DIR`` writes the experiment to ``DIR/exp`` and keeps it; a later run with the
same ``--keep DIR`` reuses it as it is (``--trials`` and ``--iterations`` are then
ignored: delete the directory to write a new shape).

It writes a synthetic experiment directory in Ray Tune's exact layout (modelled on the
real fixture in ``tests/fixtures/ray``: ``experiment_state-*.json`` whose ``trial_data``
holds JSON strings, trial directories with ``params.json``, ``result.json``,
``progress.csv`` and, for failed trials, ``error.txt``), then times, each in a fresh
child process, ``sweeptui.sweep.load_sweep`` and - when ``ray`` is importable -
``ray.tune.ExperimentAnalysis`` on the same directory, and prints the times, the peak
resident memory of each child and the ratio.

Ray's trial state embeds a pickled storage context naming the trial directory; when Ray
is importable the generator re-pickles it per trial so Ray finds every trial, otherwise
the fixture's blob is kept (sweeptui never reads it).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "ray" / "exp"
CSV_KEYS = [
    "train_loss", "val_loss", "lr", "timestamp", "checkpoint_dir_name", "done",
    "training_iteration", "trial_id", "date", "time_this_iter_s", "time_total_s", "pid",
    "hostname", "node_ip", "time_since_restore", "iterations_since_restore",
]  # fmt: skip
ERROR_TEXT = (
    "Failure # 1 (occurred at 2024-01-01_00-00-00)\n"
    "ray::ImplicitFunc.train() (pid=1234, ip=10.0.0.1, actor_id=abc, repr=train)\n"
    '  File "train.py", line 52, in train\n'
    '    raise ValueError("bad batch")\n'
    "ValueError: bad batch\n"
)


def template() -> tuple[dict, dict]:
    """The first trial of the committed fixture's experiment state, decoded."""
    (state_file,) = FIXTURE.glob("experiment_state-*.json")
    state = json.loads(state_file.read_text())
    trial_json, runtime_json = state["trial_data"][0]
    return json.loads(trial_json), json.loads(runtime_json)


def storage_blob(blob: str, trial_dir_name: str) -> str:
    """The pickled storage context pointing at ``trial_dir_name`` (unchanged without Ray)."""
    try:
        from ray import cloudpickle
    except ImportError:
        return blob
    storage = cloudpickle.loads(bytes.fromhex(blob))
    storage.trial_dir_name = trial_dir_name
    return cloudpickle.dumps(storage).hex()


def write_experiment(root: Path, trials: int, iterations: int, seed: int = 0) -> Path:
    """Write the synthetic experiment under ``root/exp``; return that directory."""
    rng = random.Random(seed)
    experiment = root / "exp"
    experiment.mkdir(parents=True)
    base_trial, base_runtime = template()
    entries = []
    start = 1_700_000_000.0
    for index in range(trials):
        trial_id = f"bench_{index:05d}"
        config = {"lr": 10 ** rng.uniform(-4, -1), "layers": rng.randint(1, 8),
                  "epochs": iterations}
        tag = f"{index}_lr={config['lr']:.4g},layers={config['layers']}"
        name = f"train_{trial_id}_{tag}_2024-01-01_00-00-00"
        status = "ERROR" if index % 20 == 3 else "RUNNING" if index % 20 == 7 else "TERMINATED"
        length = iterations if status == "TERMINATED" else iterations // 2
        last = write_trial(experiment / name, trial_id, config, length, rng, start + index,
                           nan=index % 50 == 11)
        if status == "ERROR":
            (experiment / name / "error.txt").write_text(ERROR_TEXT)
        trial = dict(base_trial, trial_id=trial_id, config=config, status=status,
                     relative_logdir=name, experiment_tag=tag, evaluated_params=config)
        trial["_Trial__unresolved_config"] = config
        blob = storage_blob(trial["storage"]["value"], name)
        trial["storage"] = dict(trial["storage"], value=blob)
        runtime = dict(base_runtime, start_time=start + index, last_result=last,
                       last_result_time=last["timestamp"],
                       error_filename="error.txt" if status == "ERROR" else None,
                       pickled_error_filename=None)
        entries.append([json.dumps(trial), json.dumps(runtime)])
    state = {"trial_data": entries, "runner_data": {}, "stats": {"start_time": start}}
    (experiment / "experiment_state-2024-01-01_00-00-00.json").write_text(json.dumps(state))
    return experiment


def write_trial(directory: Path, trial_id: str, config: dict, length: int,
                rng: random.Random, start: float, nan: bool) -> dict:
    """One trial directory; returns its last result."""
    directory.mkdir()
    (directory / "params.json").write_text(json.dumps(config))
    loss = 2.0 + rng.random()
    lines, rows = [], [",".join(CSV_KEYS)]
    record: dict = {}
    for step in range(1, length + 1):
        loss *= 0.97 + 0.02 * rng.random()
        value = math.nan if nan and step > length // 2 else loss
        record = {
            "train_loss": value, "val_loss": value * 1.1, "lr": config["lr"],
            "timestamp": int(start + step), "checkpoint_dir_name": None, "done": step == length,
            "training_iteration": step, "trial_id": trial_id, "date": "2024-01-01_00-00-00",
            "time_this_iter_s": 0.05, "time_total_s": 0.05 * step, "pid": 1234,
            "hostname": "node", "node_ip": "10.0.0.1", "time_since_restore": 0.05 * step,
            "iterations_since_restore": step,
        }  # fmt: skip
        lines.append(json.dumps(dict(record, config=config)))
        rows.append(",".join("" if record[k] is None else str(record[k]) for k in CSV_KEYS))
    (directory / "result.json").write_text("\n".join(lines) + "\n")
    (directory / "progress.csv").write_text("\n".join(rows) + "\n")
    return dict(record, config=config)


def load_in_child(kind: str, directory: Path) -> dict:
    """Run one loader in a fresh interpreter; its wall time and peak RSS."""
    command = [sys.executable, __file__, "--child", kind, str(directory)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def child(kind: str, directory: Path) -> None:
    """Child process body: import, load, report JSON on stdout."""
    began = time.perf_counter()
    if kind == "sweeptui":
        from sweeptui.sweep import load_sweep

        imported = time.perf_counter()
        sweep = load_sweep(directory.parent)
        count = len(sweep.store)
        points = sum(len(s) for run in sweep.store for s in run.metrics.values())
    else:
        import logging

        logging.disable(logging.WARNING)
        from ray.tune import ExperimentAnalysis

        imported = time.perf_counter()
        analysis = ExperimentAnalysis(str(directory))
        frames = analysis.trial_dataframes
        count = len(analysis.trials)
        points = sum(frame.size for frame in frames.values())
    ended = time.perf_counter()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # worker processes of a parallel load (the largest one; zero when it read serially)
    worker_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"load_s": ended - imported, "import_s": imported - began,
                      "peak_mb": peak_mb, "worker_mb": worker_mb, "trials": count,
                      "points": points}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--keep", type=Path,
                        help="write the experiment here and keep it (reused when present)")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-ray-"))
    try:
        began = time.perf_counter()
        experiment = root / "exp"
        if experiment.is_dir():
            trials = sum(1 for entry in experiment.iterdir() if entry.is_dir())
            print(f"reusing {experiment} ({trials} trial directories)")
        else:
            write_experiment(root, args.trials, args.iterations)
            print(f"wrote {args.trials} trials x {args.iterations} iterations "
                  f"in {time.perf_counter() - began:.1f}s: {experiment}")
        mine = load_in_child("sweeptui", experiment)
        print(f"sweeptui load_sweep:          {format_result(mine)}")
        try:
            import ray  # noqa: F401
        except ImportError:
            print("ray not importable: ExperimentAnalysis not timed")
            return
        theirs = load_in_child("ray", experiment)
        print(f"ray.tune.ExperimentAnalysis:  {format_result(theirs)}")
        if "load_s" in mine and "load_s" in theirs:
            print(f"ratio (ray / sweeptui load time): {theirs['load_s'] / mine['load_s']:.1f}x")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


def format_result(result: dict) -> str:
    if "error" in result:
        return f"failed: {result['error']}"
    workers = f" (+ up to {result['worker_mb']:.0f} MB per worker process)" if result["worker_mb"] else ""
    return (f"{result['load_s']:.2f}s load (+{result['import_s']:.2f}s import), "
            f"peak RSS {result['peak_mb']:.0f} MB{workers}, {result['trials']} trials, "
            f"{result['points']} values")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], Path(sys.argv[3]))
    else:
        main()
