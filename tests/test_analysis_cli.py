"""End to end: ``sweeptui report`` on a bundled sample sweep, in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_runs" / "results_array_sweep"


def _report(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "sweeptui", "report", str(SAMPLE), *args],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=120, check=False,
    )  # fmt: skip


def test_json_report_names_the_planted_crash_and_writes_the_next_sweep(tmp_path: Path) -> None:
    target = tmp_path / "next" / "sweep.yaml"
    target.parent.mkdir()  # like -o, --next-sweep writes into a folder that exists
    done = _report("--format", "json", "--next-sweep", str(target))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["schema"] == "sweeptui.report/1"
    significant = {(e["param"], e["bucket"]) for e in report["param_effects"] if e["significant"]}
    assert ("model", "swin_small") in significant  # planted: swin_small crashes at epoch 2
    findings = {(e["param"], e["bucket"]): e["findings"] for e in report["param_effects"]}
    assert "death" in findings["model", "swin_small"]
    assert "numerical" in findings["lr", "0.02"]  # planted: lr >= 0.02 goes NaN
    assert "overfitting" in findings["weight_decay", "0"]  # planted: no weight decay overfits
    # NaN from epoch 4 of 12 wastes more run-hours than a crash at epoch 2: that fix comes first
    first, second = report["recommendations"][:2]
    assert first["kind"] == "avoid" and first["params"] == ["lr"] and first["family"] == "numerical"
    assert second["kind"] == "avoid" and second["params"] == ["model"] and second["family"] == "death"
    assert first["saved_run_hours"] > second["saved_run_hours"] > 0
    families = {r.get("family"): r for r in report["recommendations"] if r["kind"] in ("avoid", "regularize")}
    assert families["numerical"]["title"] == "Avoid lr >= 0.02"
    assert "6 of 6 runs" in families["numerical"]["text"] and "went NaN" in families["numerical"]["text"]
    assert families["overfitting"]["params"] == ["weight_decay"]
    assert not [r for r in report["recommendations"] if r["kind"] == "sweep_wide"]
    assert {e["at"] for e in report["crash_epochs"]["entries"]} == {"2"}
    config = yaml.safe_load(target.read_text(encoding="utf-8"))
    assert config["method"] == "bayes"
    assert config["metric"]["name"] == report["objective"]["metric"]
    assert config["metric"]["goal"] == "minimize"
    assert "swin_small" not in config["parameters"]["model"]["values"]
    assert config["parameters"]["lr"]["values"] == [0.001, 0.005]
    assert config["parameters"]["weight_decay"] == {"value": 0.0001}
    assert not list(target.parent.glob(".*.tmp"))  # written atomically, no leftovers


def test_markdown_report_leads_with_findings() -> None:
    done = _report()
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert text.index("## Findings and recommendations") < text.index("## Run status")
    assert "Avoid model = swin_small" in text
    findings = text[text.index("## Findings and recommendations") : text.index("## Run status")]
    assert "crashed at epoch 2" in findings and "`" not in findings
    assert "with no parameter range to blame" not in findings
