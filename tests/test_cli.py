"""The command line, run as a real subprocess on real sweep directories."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parent.parent / "sample_runs"


def sweeptui(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m sweeptui ARGS`` and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "sweeptui", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    target = tmp_path / "sweep"
    shutil.copytree(SAMPLES / "run_dirs_sweep", target)
    return target


def test_as_of_takes_iso_times_and_rejects_nonsense(sweep):
    today = json.loads(sweeptui("report", str(sweep), "--format", "json").stdout)
    assert today["summary"]["status_counts"]["running"] == 0  # a 2023 archive: nothing runs
    then = sweeptui("report", str(sweep), "--format", "json", "--as-of", "2023-11-15T01:02:30")
    assert json.loads(then.stdout)["summary"]["status_counts"]["running"] == 2
    bad = sweeptui("report", str(sweep), "--as-of", "yesterday")
    assert bad.returncode == 2 and "--as-of" in bad.stderr and "Traceback" not in bad.stderr


def test_version_and_help():
    assert sweeptui("--version").stdout.startswith("sweeptui ")
    for command in ("report", "sources"):
        assert sweeptui(command, "--help").returncode == 0


def test_missing_directory_and_bad_settings_exit_2(tmp_path):
    missing = sweeptui("report", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "directory not found" in missing.stderr
    bad = sweeptui("report", str(tmp_path), "--set", "no_such_setting=1")
    assert bad.returncode == 2 and "unknown setting" in bad.stderr
    assert "Traceback" not in missing.stderr + bad.stderr


def test_markdown_report_on_stdout(sweep):
    done = sweeptui("report", str(sweep))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("# Sweep report")
    assert "## Run status" in done.stdout and "## Issues" in done.stdout


def test_json_report_written_atomically_with_schema(sweep, tmp_path):
    target = tmp_path / "out" / "report.json"
    target.parent.mkdir()  # -o never creates folders
    expected = json.loads((sweep / "expected.json").read_text())
    done = sweeptui("report", str(sweep), "-o", str(target), "--as-of", str(expected["judged_at"]))
    assert done.returncode == 0, done.stderr
    report = json.loads(target.read_text())
    assert report["schema"] == "sweeptui.report/1"
    assert {run["id"] for run in report["runs"]} == set(expected["runs"])
    for run in report["runs"]:
        assert run["status"] == expected["runs"][run["id"]]["status"], run["id"]
        assert not Path(run["path"]).is_absolute()
    assert sum(report["summary"]["status_counts"].values()) == len(report["runs"])


def test_fail_on_reflects_issue_severity(sweep, tmp_path):
    assert sweeptui("report", str(sweep), "--fail-on", "high").returncode == 1
    healthy = tmp_path / "healthy"
    run = healthy / "run_0"
    run.mkdir(parents=True)
    (run / "config.json").write_text('{"lr": 0.01, "epochs": 3}')
    (run / "metrics.jsonl").write_text(
        "".join(f'{{"epoch": {e}, "train_loss": {1 / e}, "val_loss": {1.1 / e}}}\n' for e in (1, 2, 3))
    )
    (run / "DONE").write_text("")
    done = sweeptui("report", str(healthy), "--fail-on", "medium")
    assert done.returncode == 0, done.stdout


def test_metric_override_and_html(sweep, tmp_path):
    page = tmp_path / "report.html"
    done = sweeptui("report", str(sweep), "--metric", "train_loss", "-o", str(page))
    assert done.returncode == 0, done.stderr
    text = page.read_text()
    assert text.startswith("<!doctype html>") and "train_loss" in text


def test_sources_lists_every_layout():
    lines = sweeptui("sources").stdout.splitlines()
    names = {line.split()[0] for line in lines}
    assert {"run-dir", "results-array", "tensorboard", "wandb"} <= names


def test_unknown_metric_exits_2_listing_the_metrics_closest_first(sweep):
    done = sweeptui("report", str(sweep), "--metric", "val_los")
    assert done.returncode == 2 and done.stdout == ""
    assert "no run logs the metric 'val_los'; metrics found: val_loss, " in done.stderr
    for metric in ("train_loss", "val_accuracy", "lr"):
        assert metric in done.stderr


def test_a_chosen_metric_is_explained_once(sweep):
    done = sweeptui("report", str(sweep), "--metric", "val_accuracy")
    assert done.returncode == 0, done.stderr
    assert "(higher is better, goal guessed from the name; chosen with --metric)" in done.stdout
    assert done.stdout.count("chosen with --metric") == 1


def test_unknown_option_prints_the_subcommand_usage(sweep):
    done = sweeptui("report", str(sweep), "--metrc", "val_loss")
    assert done.returncode == 2
    assert done.stderr.startswith("usage: sweeptui report ")
    assert "unrecognized arguments: --metrc (did you mean --metric?)" in done.stderr
    watch = sweeptui("watch", str(sweep), "--bogus")
    assert watch.returncode == 2 and watch.stderr.startswith("usage: sweeptui watch ")


def test_demo_takes_the_common_options_the_readme_lists(tmp_path):
    from sweeptui.cli import build_parser

    common = ["--metric", "val_loss", "--goal", "min", "--set", "alpha=0.05"]
    args = build_parser().parse_args(["demo", str(tmp_path / "d"), *common, "--source", "run-dir",
                                      "--no-export"])  # fmt: skip
    chosen = (args.metric, args.goal, args.source, args.assignments)
    assert chosen == ("val_loss", "min", "run-dir", ["alpha=0.05"])
    assert args.no_export and args.export is None
    # without a terminal the demo prints the report of what it wrote so far, using those options
    done = sweeptui("demo", str(tmp_path / "d"), *common)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("# Sweep report")


def test_export_and_no_export_exclude_each_other(sweep, tmp_path):
    done = sweeptui("watch", str(sweep), "--export", str(tmp_path), "--no-export")
    assert done.returncode == 2 and "not allowed with argument" in done.stderr


def test_rank_option_orders_the_leaderboard_by_the_newest_value(sweep):
    done = sweeptui("report", str(sweep), "--rank", "last")
    assert done.returncode == 0, done.stderr
    assert "| val_loss (last) | best |" in done.stdout


def test_headless_watch_refuses_an_unknown_metric_too(sweep):
    done = sweeptui("watch", str(sweep), "--metric", "val_los")  # no terminal: the headless report
    assert done.returncode == 2 and done.stdout == ""
    assert "no run logs the metric 'val_los'" in done.stderr


@pytest.mark.parametrize("sample", ["results_array_sweep", "run_dirs_sweep", "crash_loop_sweep"])
def test_bundled_samples_report_without_a_word_on_stderr(sample):
    done = sweeptui("report", str(SAMPLES / sample))
    assert done.returncode == 0 and done.stdout.startswith("# Sweep report")
    assert done.stderr == ""


def test_unwritable_output_paths_are_one_line_usage_errors(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    sweep = tmp_path / "sweep"
    run = sweep / "r1"
    run.mkdir(parents=True)
    (run / "metrics.jsonl").write_text('{"epoch": 0, "val_loss": 1.0}\n')
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    cases = {
        "": "needs a file path",
        str(tmp_path): "is a directory",
        str(fifo): "is a FIFO",
        str(tmp_path / "missing" / "r.md"): "does not exist",
        "/dev/full": "cannot write the report",
    }
    for output, message in cases.items():
        done = subprocess.run(
            [sys.executable, "-m", "sweeptui", "report", str(sweep), "-o", output],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 2, (output, done.stderr)
        assert message in done.stderr and "Traceback" not in done.stderr, (output, done.stderr)
    assert not (tmp_path / "missing").exists()


def test_watch_export_paths_are_checked_before_the_sweep_is_read(tmp_path: Path) -> None:
    import os

    sweep = tmp_path / "sweep"
    (sweep / "r1").mkdir(parents=True)
    (sweep / "r1" / "metrics.jsonl").write_text('{"epoch": 0, "val_loss": 1.0}\n')
    fifo = tmp_path / "fifo.md"
    os.mkfifo(fifo)
    (tmp_path / "plain").write_text("a file, not a folder")
    (tmp_path / "taken.json").mkdir()  # the sibling of taken.md the export would write
    cases = {
        "": "--export needs a path",
        str(fifo): "is a FIFO",
        str(tmp_path / "missing" / "r.md"): "the folder",
        str(tmp_path / "plain" / "r.md"): "is not a folder",
        str(tmp_path / "plain"): "is not a folder",  # no suffix: a folder to write the pair in
        str(tmp_path / "taken.md"): "taken.json: is a directory",
        str(tmp_path / "missing" / "deeper" / ""): "does not exist",
        f"{tmp_path / 'plain'}/": "exists and is not a folder",
        f"{tmp_path / 'missing' / 'out.d'}/": "does not exist",
    }
    for export, message in cases.items():
        done = sweeptui("watch", str(sweep), "--export", export)
        assert done.returncode == 2, (export, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("sweeptui watch: error: --export"), done.stderr
        assert message in done.stderr, (export, done.stderr)
        assert done.stdout == ""  # told at once: no report, no app
    assert not (tmp_path / "missing").exists()
    fine = sweeptui("watch", str(sweep), "--export", str(tmp_path / "new-folder"))
    assert fine.returncode == 0 and fine.stdout.startswith("# Sweep report")  # no terminal: headless


def test_next_sweep_path_is_checked_first_and_a_failed_write_keeps_the_report(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    shutil.copytree(SAMPLES / "results_array_sweep", sweep)
    cases = {str(tmp_path): "is a directory", str(tmp_path / "no" / "s.yaml"): "the folder"}
    for path, message in cases.items():
        done = sweeptui("report", str(sweep), "--next-sweep", path)
        assert done.returncode == 2 and done.stdout == "", done.stderr
        assert f"error: --next-sweep {path}: {message}" in done.stderr
    out = tmp_path / "report.md"
    done = sweeptui("report", str(sweep), "-o", str(out), "--next-sweep", "/dev/full")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "sweeptui report: error: cannot write the next sweep config to /dev/full: No space left on device"
    )
    assert out.read_text().startswith("# Sweep report")  # the report itself was written


def test_a_report_called_in_process_leaves_the_garbage_collector_as_it_was(sweep, tmp_path):
    """Only the ``sweeptui`` command, whose process ends with the report, turns the cyclic
    collector off for it; a program that calls ``main`` goes on with it on."""
    import gc

    from sweeptui.cli import main

    assert gc.isenabled()
    assert main(["report", str(sweep), "--format", "json", "-o", str(tmp_path / "r.json")]) == 0
    assert gc.isenabled()


def test_an_export_path_ending_in_a_slash_is_a_folder_whatever_its_name(tmp_path: Path) -> None:
    """``--export out.d/`` wrote a file out.d and out.json beside it: the slash said folder."""
    from sweeptui.app.export import export_paths
    from sweeptui.cli import check_export_target

    target = check_export_target(f"{tmp_path / 'out.d'}/")
    assert target is not None and target.is_dir()
    markdown, json_path = export_paths(target)
    assert markdown.parent == json_path.parent == tmp_path / "out.d"
    assert markdown.suffix == ".md" and json_path.suffix == ".json"
    assert check_export_target(f"{tmp_path / 'out.d'}/") == target  # there already: fine
