"""Command line: ``sweeptui report | watch | demo | sources``.

Heavy modules (pandas, Textual) are imported inside the command that needs them,
so ``sweeptui --help`` answers at once. Exit codes: 0 success, 1 ``--fail-on``
found issues of that severity, 2 usage error (bad option, missing directory).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
from pathlib import Path
from typing import NoReturn

from sweeptui import __version__

EXIT_OK, EXIT_ISSUES, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A problem with how sweeptui was called; printed without a traceback, exit 2."""


def main(argv: list[str] | None = None, *, process_ends: bool = False) -> int:
    """Parse ``argv`` and run the command; returns the process exit code.

    ``process_ends``: the process ends when this returns (the ``sweeptui`` command), so a
    one-shot command may leave the interpreter's state as it suits it; a caller in a
    process that goes on gets it back as it was.
    """
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    args.process_ends = process_ends
    if extra:
        _unknown_arguments(getattr(args, "parser", parser), extra)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.handler(args)
    except UsageError as exc:
        print(f"sweeptui {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


def run() -> NoReturn:
    """The ``sweeptui`` command: :func:`main`, then an exit without tearing down the heap.

    After a report over a large sweep the process holds millions of points in many
    objects; freeing them one by one at interpreter shutdown took a tenth of a second
    or more after all the work was done. Everything is written and flushed by the
    time :func:`main` returns (the live app has restored the terminal and stopped its
    threads), so the process ends at once and the system takes the memory back.
    """
    # No sweeptui code multiplies matrices, yet OpenBLAS starts a spinning thread per core
    # when numpy is imported: ~0.1 s of CPU per command, on a box busy training.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    code = main(process_ends=True)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (``| head``)
            stream.flush()
    os._exit(code)


def _unknown_arguments(parser: argparse.ArgumentParser, extra: list[str]) -> None:
    """Exit 2 with the usage of the (sub)command that got ``extra``, naming close options."""
    import difflib

    options = [option for action in parser._actions for option in action.option_strings]
    hints = []
    for word in extra:
        close = difflib.get_close_matches(word.partition("=")[0], options, n=1)
        if word.startswith("-") and close:
            hints.append(f"{word} (did you mean {close[0]}?)")
        else:
            hints.append(word)
    parser.error(f"unrecognized arguments: {' '.join(hints)}")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (also used to document the CLI)."""
    parser = argparse.ArgumentParser(
        prog="sweeptui",
        description="Watch a hyperparameter sweep from the terminal; flag runs that go bad.",
    )
    parser.add_argument("--version", action="version", version=f"sweeptui {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_report(commands, _common_options(_directory_option()))
    _add_watch(commands, _common_options(_directory_option()))
    _add_demo(commands, _common_options())
    _add_sources(commands)
    return parser


def _directory_option() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "directory", type=_target, metavar="DIRECTORY|URL",
        help="the sweep's root directory, or an MLflow tracking server (http://host:5000)",
    )  # fmt: skip
    parent.add_argument(
        "--experiment", metavar="NAME",
        help="the MLflow experiment that is the sweep, on a tracking server or in a local store "
        "(default: every experiment found)",
    )  # fmt: skip
    return parent


def _common_options(*parents: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``--metric --goal --source --config --set``, shared by ``report``, ``watch`` and ``demo``."""
    common = argparse.ArgumentParser(add_help=False, parents=list(parents))
    common.add_argument("--metric", help="objective metric (default: the validation-loss-like one)")
    common.add_argument("--goal", choices=("min", "max"), help="whether lower or higher is better")
    common.add_argument("--source", help="read only this layout (see `sweeptui sources`)")
    common.add_argument("--config", type=Path, help="TOML or YAML file of detector settings")
    common.add_argument(
        "--include-deleted", action="store_true",
        help="also read runs the tool marked deleted (MLflow's deleted runs and experiments)",
    )  # fmt: skip
    common.add_argument(
        "--set", dest="assignments", action="append", default=[], metavar="KEY=VALUE",
        help="override one detector setting, e.g. --set divergence_factor=20 (repeatable)",
    )  # fmt: skip
    common.add_argument(
        "--follow-links", action="store_true",
        help="read files and folders that symlinks lead to outside DIRECTORY (skipped by default)",
    )  # fmt: skip
    return common


def _add_report(commands, common: argparse.ArgumentParser) -> None:
    report = commands.add_parser(
        "report", parents=[common], help="analyse a sweep headless and print a report",
        description="Read a sweep directory once and write its report (Markdown by default).",
    )  # fmt: skip
    report.add_argument("--format", choices=("md", "json", "html"), help="default: md, or -o's suffix")
    report.add_argument(
        "--rank", choices=("best", "last"), default="best",
        help="rank the leaderboard by each run's best (default) or newest objective value",
    )  # fmt: skip
    report.add_argument("-o", "--output", type=Path, help="write here (atomically) instead of stdout")
    report.add_argument(
        "--as-of", metavar="WHEN",
        help="judge the runs as of this moment (ISO 8601 or seconds since the epoch; default: "
             "now): a report of an archive as it stood when its files were last written",
    )  # fmt: skip
    report.add_argument(
        "--fail-on", choices=("high", "medium"),
        help="exit 1 when issues of this severity or worse exist (for CI and cron)",
    )  # fmt: skip
    report.add_argument(
        "--next-sweep", type=Path, metavar="FILE",
        help="also write the suggested next W&B sweep config (YAML) here, atomically",
    )  # fmt: skip
    report.set_defaults(handler=run_report, parser=report)


def _live_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--poll", type=float, metavar="SECONDS",
        help="poll for changes every SECONDS instead of using file events (network filesystems)",
    )  # fmt: skip
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--export", metavar="PATH",
        help="where the report goes on exit and on `e`: a directory, or a .md/.json file "
        "(the other format goes beside it), or a .html file (the report with charts; Markdown and "
        "JSON beside it); default: a timestamped pair in the current directory",
    )  # fmt: skip
    where.add_argument(
        "--no-export", action="store_true",
        help="write no report on exit (`e` still writes one, to the default place)",
    )  # fmt: skip
    parser.add_argument("--bell", action="store_true", help="ring the terminal bell on high-severity issues")
    parser.add_argument("--no-alerts", action="store_true", help="no pop-up alerts for new issues")
    parser.add_argument(
        "--on-issue", metavar="CMD",
        help="run CMD for each new issue, with the issue as JSON on stdin (one at a time)",
    )  # fmt: skip


def _add_watch(commands, common: argparse.ArgumentParser) -> None:
    watch = commands.add_parser(
        "watch", parents=[common], help="watch a sweep live in the terminal",
        description="Live monitor: runs, issues and parameter risk update as the sweep writes "
        "files. q, Ctrl-C, SIGTERM and SIGHUP write the report before exiting.",
    )  # fmt: skip
    _live_options(watch)
    watch.set_defaults(handler=run_watch, parser=watch)


def _add_demo(commands, common: argparse.ArgumentParser) -> None:
    demo = commands.add_parser(
        "demo", parents=[common], help="watch a simulated sweep written in real time",
        description="Writes a small simulated sweep (healthy runs and every kind of failure) "
        "into DIR (default: a new temporary directory) while the live monitor watches it.",
    )  # fmt: skip
    demo.add_argument("directory", type=Path, nargs="?", help="where to write the simulated sweep")
    demo.add_argument("--speed", type=float, default=30.0, help="simulated seconds per second (default 30)")
    _live_options(demo)
    demo.set_defaults(handler=run_demo, parser=demo)


def _watch_options(args: argparse.Namespace):
    from sweeptui.app.run import WatchOptions

    if args.poll is not None and args.poll <= 0:
        raise UsageError("--poll needs a positive number of seconds")
    if args.on_issue is not None and not args.on_issue.strip():
        raise UsageError("--on-issue needs a command")
    export = check_export_target(args.export)
    return WatchOptions(
        metric=args.metric, goal=args.goal, source=args.source, poll=args.poll, export=export,
        bell=args.bell, alerts=not args.no_alerts, on_issue=args.on_issue,
        experiment=getattr(args, "experiment", None), export_on_exit=not args.no_export,
    )  # fmt: skip


def run_watch(args: argparse.Namespace) -> int:
    """``sweeptui watch``: the live monitor (or the headless report without a terminal)."""
    from sweeptui.app.run import watch

    settings = settings_from_args(args)
    root = _existing_target(args.directory)
    options = _watch_options(args)
    _with_usage_errors(lambda: get_source_or_fail(options.source))
    return watch(root, settings, options)


def run_demo(args: argparse.Namespace) -> int:
    """``sweeptui demo``: a simulated sweep, written live and watched."""
    from sweeptui.app.run import demo

    if args.directory is not None and args.directory.exists() and any(args.directory.iterdir()):
        raise UsageError(f"demo needs an empty or new directory: {args.directory}")
    return demo(args.directory, settings_from_args(args), _watch_options(args), speed=args.speed)


def get_source_or_fail(name: str | None) -> None:
    """Raise ValueError when ``name`` is not a known source."""
    from sweeptui.sources import get_sources

    get_sources(name)


def _add_sources(commands) -> None:
    sources = commands.add_parser("sources", help="list the sweep layouts sweeptui reads")
    sources.set_defaults(handler=run_sources, parser=sources)


def load_from_args(args: argparse.Namespace, meanwhile=None):
    """A loaded :class:`~sweeptui.sweep.Sweep` and its objective, from the common options.

    ``meanwhile``: work to do while child processes read the sweep (see :meth:`Sweep.load`).
    """
    from sweeptui.objective import choose_objective, unknown_metric
    from sweeptui.sweep import load_sweep

    settings = settings_from_args(args)
    root = _existing_target(args.directory)
    as_of = _moment(getattr(args, "as_of", None))
    sweep = _with_usage_errors(
        lambda: load_sweep(root, settings, args.source, args.experiment, now=as_of, meanwhile=meanwhile)
    )
    _server_problem(sweep)
    problem = unknown_metric(sweep.store, args.metric) if args.metric else None
    if problem:
        raise UsageError(f"--metric: {problem}")
    objective = choose_objective(sweep.store, args.metric, args.goal)
    return sweep, objective


def _moment(text: str | None) -> float | None:
    """``--as-of``: seconds since the epoch, or an ISO 8601 time (UTC unless it says)."""
    if text is None:
        return None
    from datetime import datetime, timezone

    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise UsageError(f"--as-of: expected ISO 8601 or seconds since the epoch, got {text!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _server_problem(sweep) -> None:
    """A tracking server that did not answer, or lacks the experiment, is a usage error."""
    if not sweep.remote:
        return
    from sweeptui.sources.mlflow_server import ServerReader

    for reader in sweep.readers:
        if isinstance(reader, ServerReader) and reader.problem is not None:
            raise UsageError(f"cannot read the MLflow tracking server {reader.url}: {reader.problem}")
        if isinstance(reader, ServerReader) and reader.missing_experiment:
            raise UsageError(f"no experiment named {reader.experiment!r} on {reader.url}")


def settings_from_args(args: argparse.Namespace):
    """Settings from ``--config`` and ``--set``; a bad value is a usage error."""
    from sweeptui.settings import load_settings

    if args.config is not None and not args.config.is_file():
        raise UsageError(f"config file not found: {args.config}")
    assignments = list(args.assignments)
    if getattr(args, "follow_links", False):
        assignments.append("follow_links=true")
    if getattr(args, "include_deleted", False):
        assignments.append("include_deleted=true")
    if getattr(args, "experiment", None):
        assignments.append(f"experiment={args.experiment}")
    return _with_usage_errors(lambda: load_settings(args.config, assignments))


def run_report(args: argparse.Namespace) -> int:
    """``sweeptui report``: load, analyse, render, write; honour ``--fail-on``."""
    if args.output is not None:
        check_output_path(args.output)
    if args.next_sweep is not None:
        check_output_path(args.next_sweep, "--next-sweep")
    if args.process_ends:
        # Everything this builds is freed by reference counting or at exit: the cyclic
        # collector would only walk the grown heap again and again (its first full pass
        # after the load took ~50 ms, more during the report).
        gc.disable()
    from sweeptui.report import format_for  # not build_report yet: it imports the analysis

    fmt = args.format or (format_for(args.output) if args.output else "md")
    # the analysis modules (pandas) are imported while child processes read
    sweep, objective = load_from_args(args, meanwhile=lambda: _import_report(fmt, args.process_ends))
    _import_report(fmt, args.process_ends)  # when no child read (the imports are done once)
    from sweeptui.report import build_report, render, write_report

    for line in sweep.unread():
        print(f"sweeptui: {line}", file=sys.stderr)
    report = build_report(sweep.store, objective, settings=sweep.settings, rank=args.rank)
    try:
        if args.output:
            written = write_report(report, args.output, fmt)
            print(f"sweeptui: wrote {fmt} report to {written}", file=sys.stderr)
        else:
            sys.stdout.write(render(report, fmt))
            sys.stdout.flush()
    except OSError as exc:
        where = args.output or "stdout"
        raise UsageError(f"cannot write the report to {where}: {exc.strerror or exc}") from exc
    if args.next_sweep:
        _write_next_sweep(report, args.next_sweep)
    return _fail_on(report, args.fail_on)


def _import_report(fmt: str, process_ends: bool = False) -> None:
    """What the report needs next: its builder (the analysis, pandas) and, for Markdown,
    its writer. In a process that ends with the report, pandas comes without pyarrow."""
    if process_ends:
        _import_pandas_without_pyarrow()
    import sweeptui.report.model

    if fmt == "md":
        import sweeptui.report.markdown  # noqa: F401


def _import_pandas_without_pyarrow() -> None:
    """Import pandas as if pyarrow were not installed, unless either is imported already.

    pandas imports pyarrow whenever it is installed (a quarter of its import: ~0.12 s of
    CPU), for string columns the analysis never needs: its frames hold numbers, flags and
    a few names. A ``None`` in :data:`sys.modules` makes that import fail; it is removed
    once pandas is in, so anything importing pyarrow later gets it.
    """
    if "pandas" in sys.modules or "pyarrow" in sys.modules:
        return
    sys.modules["pyarrow"] = None  # type: ignore[assignment]
    try:
        import pandas  # noqa: F401
    finally:
        if "pyarrow" in sys.modules and sys.modules["pyarrow"] is None:
            del sys.modules["pyarrow"]


def check_output_path(path: Path, option: str = "-o") -> None:
    """An output path a file can be written to, checked before the sweep is read (or the
    app starts): not empty, not a directory or a FIFO (which would block), in a folder
    that exists. ``option`` names the option in the error."""
    import stat

    if str(path) in ("", "."):
        raise UsageError(f"{option} needs a file path")
    try:
        mode = path.stat().st_mode
    except OSError:
        mode = None
    if mode is not None and stat.S_ISDIR(mode):
        raise UsageError(f"{option} {path}: is a directory; give a file path")
    if mode is not None and stat.S_ISFIFO(mode):
        raise UsageError(f"{option} {path}: is a FIFO; give a file path")
    if path.parent.exists() and not path.parent.is_dir():
        raise UsageError(f"{option} {path}: {path.parent} is not a folder")
    if not path.parent.is_dir():
        raise UsageError(f"{option} {path}: the folder {path.parent} does not exist")


def check_export_target(text: str | None) -> Path | None:
    """``--export``'s target, checked at startup so that a bad one is told at once, not on
    quit: every file the export writes must pass :func:`check_output_path`. A folder
    target that does not exist yet is created by the export, so only its parent must."""
    if text is None:
        return None
    if not text.strip():
        raise UsageError("--export needs a path: a folder, or a .md, .json or .html file")
    from sweeptui.app.export import export_paths, html_path

    target = Path(text)
    if text.endswith(("/", os.sep)) and not target.is_dir():
        _make_export_folder(target, text)  # named as a folder: "out.d/" is no file out.d
    for path in (html_path(target), *export_paths(target)):
        if path is None:
            continue
        new_folder = path.parent == target and not target.exists()
        check_output_path(target if new_folder else path, "--export")
    return target


def _make_export_folder(target: Path, text: str) -> None:
    """Create the folder an ``--export`` ending in a slash names: the path alone no longer
    says it is one (``Path`` drops the slash, and ``out.d`` would pass for a file)."""
    check_output_path(target, "--export")
    try:
        target.mkdir()
    except FileExistsError:
        raise UsageError(f"--export {text}: {target} exists and is not a folder") from None
    except OSError as exc:
        raise UsageError(f"--export {text}: cannot create the folder: {exc.strerror or exc}") from exc


def _write_next_sweep(report: dict, path: Path) -> None:
    """The report's suggested W&B sweep config as YAML, written atomically."""
    from sweeptui.atomic import write_atomic
    from sweeptui.report.analysis_md import wandb_yaml

    config = (report.get("next_sweep") or {}).get("wandb") or {}
    try:
        written = write_atomic(path, wandb_yaml(config))
    except OSError as exc:
        raise UsageError(f"cannot write the next sweep config to {path}: {exc.strerror or exc}") from exc
    print(f"sweeptui: wrote the next sweep config to {written}", file=sys.stderr)


def run_sources(args: argparse.Namespace) -> int:
    """``sweeptui sources``: one line per layout."""
    from sweeptui.sources import get_sources

    specs = get_sources()
    width = max(len(spec.name) for spec in specs)
    for spec in specs:
        print(f"{spec.name:<{width}}  {spec.description}")
    return EXIT_OK


def _fail_on(report: dict, threshold: str | None) -> int:
    from sweeptui.numbers import counted

    if threshold is None:
        return EXIT_OK
    levels = ("high",) if threshold == "high" else ("high", "medium")
    failing = [i for i in report["issues"] if i["severity"] in levels]
    if failing:
        found = counted(len(failing), "issues")
        print(f"sweeptui: {found} at {threshold} severity or worse", file=sys.stderr)
        return EXIT_ISSUES
    return EXIT_OK


def _target(text: str) -> Path | str:
    """A directory as a Path; a tracking server's URL stays a string."""
    from sweeptui.sources.base import is_server_url

    return text if is_server_url(text) else Path(text)


def _existing_target(target: Path | str) -> Path | str:
    return target if isinstance(target, str) else _existing_directory(target)


def _existing_directory(path: Path) -> Path:
    if not path.exists():
        raise UsageError(f"directory not found: {path}")
    if not path.is_dir():
        raise UsageError(f"not a directory: {path}")
    return path


def _with_usage_errors(action):
    try:
        return action()
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
