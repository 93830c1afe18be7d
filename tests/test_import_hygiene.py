"""The core never imports Textual (only the app's widgets and screens do), and
``sweeptui --help`` stays light."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CORE = [
    "sweeptui.events", "sweeptui.store", "sweeptui.sweep", "sweeptui.sources",
    "sweeptui.detectors.engine", "sweeptui.report", "sweeptui.objective", "sweeptui.failures",
    "sweeptui.analysis", "sweeptui.snapshot", "sweeptui.cli",
    # the app's background machinery: threads and files, no widgets
    "sweeptui.app.watcher", "sweeptui.app.ingest", "sweeptui.app.alerts", "sweeptui.app.export",
    "sweeptui.app.run", "sweeptui.sources.mlflow_local",
]  # fmt: skip


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_core_modules_do_not_import_textual():
    modules = _loaded_after("\n".join(f"import {name}" for name in CORE))
    assert not any(name == "textual" or name.startswith("textual.") for name in modules)


def test_no_reader_imports_the_tool_it_reads():
    modules = _loaded_after("\n".join(f"import {name}" for name in CORE))
    tools = {"mlflow", "optuna", "ray", "wandb", "tensorboard", "tensorflow", "lightning", "hydra"}
    assert not {name.split(".")[0] for name in modules} & tools


def test_cli_module_imports_no_heavy_libraries():
    modules = _loaded_after("import sweeptui.cli")
    assert not {"pandas", "textual", "numpy", "scipy"} & modules


def test_report_modules_do_not_import_scipy():
    """Importing scipy.special alone costs ~0.4 s; the analysis's distributions are our own."""
    modules = _loaded_after("import sweeptui.report, sweeptui.analysis")
    assert "sweeptui.analysis.distributions" in modules
    assert "scipy" not in {name.split(".")[0] for name in modules}


def test_report_of_a_sweep_does_not_import_scipy(tmp_path):
    from sweeptui.simulate import generate_benchmark_sweep

    generate_benchmark_sweep(tmp_path / "sweep", runs=40, steps=20, seed=1)
    argv = ["report", str(tmp_path / "sweep"), "--format", "json", "-o", str(tmp_path / "r.json")]
    modules = _loaded_after(f"from sweeptui.cli import main\nmain({argv!r})")
    assert "sweeptui.analysis" in modules
    assert not {"scipy", "textual"} & {name.split(".")[0] for name in modules}


def test_only_the_html_writer_imports_the_plotting_library():
    """``report --format md``/``json`` and ``watch`` never pay for plotly; ``--format html`` does."""
    sample = str(Path(__file__).resolve().parents[1] / "sample_runs" / "crash_loop_sweep")
    text_report = (
        "from sweeptui.sweep import load_sweep\nfrom sweeptui.objective import choose_objective\n"
        "from sweeptui.report import build_report, render\n"
        f"s = load_sweep({sample!r}); r = build_report(s.store, choose_objective(s.store))\n"
        "render(r, 'md'); render(r, 'json')"
    )
    assert "plotly" not in _loaded_after(text_report)
    assert "plotly" not in _loaded_after("import sweeptui.app.app, sweeptui.app.run, sweeptui.app.export")
    assert "plotly" in _loaded_after(text_report + "\nrender(r, 'html')")


def test_a_report_on_a_directory_does_not_import_the_http_client(tmp_path):
    """Only a tracking server's URL needs urllib.request (~0.05-0.1 s of imports)."""
    from sweeptui.simulate import generate_benchmark_sweep

    generate_benchmark_sweep(tmp_path / "sweep", runs=5, steps=5, seed=1)
    argv = ["report", str(tmp_path / "sweep"), "--format", "json", "-o", str(tmp_path / "r.json")]
    modules = _loaded_after(f"from sweeptui.cli import main\nmain({argv!r})")
    assert "sweeptui.report" in modules
    assert not {"urllib.request", "http.client", "sweeptui.sources.mlflow_server"} & modules


def test_a_sweep_without_yaml_files_does_not_import_pyyaml(tmp_path):
    """PyYAML is imported on the first YAML file a reader meets (configs here are JSON)."""
    from sweeptui.simulate import generate_benchmark_sweep

    generate_benchmark_sweep(tmp_path / "sweep", runs=5, steps=5, seed=1)
    modules = _loaded_after(f"from sweeptui.sweep import load_sweep\nload_sweep({str(tmp_path / 'sweep')!r})")
    assert "sweeptui.sources.yamlio" in modules and "yaml" not in modules


def test_the_live_app_imports_pandas_only_when_it_analyses():
    """The app's first frame (the runs table) needs Textual, not the analysis."""
    modules = _loaded_after("import sweeptui.app.app")
    assert "textual" in modules and "sweeptui.report.curves" in modules
    assert not {"pandas", "sweeptui.analysis", "sweeptui.report.model"} & modules


def test_a_report_imports_the_analysis_only_once_the_load_began(tmp_path):
    """pandas is imported while the run directories are read (in child processes when a core
    is free), never before the load: that would keep the second core idle for its import."""
    from sweeptui.simulate import generate_benchmark_sweep

    generate_benchmark_sweep(tmp_path / "sweep", runs=5, steps=5, seed=1)
    argv = ["report", str(tmp_path / "sweep"), "--format", "json", "-o", str(tmp_path / "r.json")]
    code = (
        "import sys\nimport sweeptui.sweep as sweep\nseen = []\nload = sweep.Sweep.load\n"
        "def traced(self, *args, **kwargs):\n    seen.append('pandas' in sys.modules)\n"
        "    return load(self, *args, **kwargs)\nsweep.Sweep.load = traced\n"
        f"from sweeptui.cli import main\nmain({argv!r})\nprint(seen, 'pandas' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["[False]", "True"]


def test_the_report_command_imports_pandas_without_pyarrow(tmp_path):
    """pyarrow (installed with the test tools) is a quarter of pandas' import and unused by
    the analysis: the ``sweeptui`` command's report leaves it out; a later import still works."""
    from sweeptui.simulate import generate_benchmark_sweep

    generate_benchmark_sweep(tmp_path / "sweep", runs=5, steps=5, seed=1)
    argv = ["report", str(tmp_path / "sweep"), "--format", "json", "-o", str(tmp_path / "r.json")]
    code = (
        f"import sys\nfrom sweeptui.cli import main\ncode = main({argv!r}, process_ends=True)\n"
        "print(code, 'pandas' in sys.modules, 'pyarrow' in sys.modules)\n"
        "import importlib.util\n"
        "if importlib.util.find_spec('pyarrow'):\n    import pyarrow\n    print(pyarrow.array([1]).type)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    assert lines[0] == "0 True False"
    assert lines[1:] in ([], ["int64"])
    assert json.loads((tmp_path / "r.json").read_text())["runs"]
