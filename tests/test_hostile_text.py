"""Text and configs no writer can take: lone surrogates, non-UTF-8 names, integers beyond
64 bits, huge strings and YAML alias bombs. Each is bounded once, between the readers and
the store, with a warning; every report format is then written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sweeptui.sources.admit import MAX_TEXT, MAX_VALUES
from sweeptui.sweep import Sweep

BOMB = """a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
lr: 0.1
"""


def write_run(root: Path, name: str | bytes, config: str, config_name: str = "config.json") -> Path:
    directory = Path(os.fsdecode(os.path.join(os.fsencode(root), os.fsencode(name))))
    directory.mkdir()
    (directory / config_name).write_text(config, encoding="utf-8")
    lines = [json.dumps({"epoch": e, "val_loss": 1.0 / (e + 1)}) for e in range(3)]
    (directory / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    (directory / "DONE").write_text("")
    return directory


def hostile_sweep(root: Path) -> None:
    write_run(root, "plain", json.dumps({"lr": 0.01, "seed": 1, "note": "ok"}))
    # a lone surrogate escape in a key and a value, an integer beyond 64 bits
    write_run(root, "surrogate", '{"lr": 0.02, "seed": 18446744073709551616, "n\\ud800": "x\\ud800"}')
    write_run(root, b"bytes\xff", json.dumps({"lr": 0.03, "seed": 2}))
    write_run(root, "huge", json.dumps({"lr": 0.04, "seed": 3, "note": "z" * 2_000_000}))
    write_run(root, "bomb", BOMB, "config.yaml")


def report(root: Path, fmt: str, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sweeptui", "report", str(root), "--format", fmt, "-o", str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_every_format_is_written_and_every_run_read(tmp_path: Path) -> None:
    root = tmp_path / "sweep"
    root.mkdir()
    hostile_sweep(root)
    for fmt in ("json", "md", "html"):
        out = tmp_path / f"report.{fmt}"
        done = report(root, fmt, out)
        assert done.returncode == 0, done.stderr
        assert out.stat().st_size > 0
    document = json.loads((tmp_path / "report.json").read_text())
    names = {run["name"] for run in document["runs"]}
    assert names == {"plain", "surrogate", "bytes\\xff", "huge", "bomb"}
    assert all(run["status"] == "finished" for run in document["runs"])
    assert (tmp_path / "report.json").stat().st_size < 1_000_000  # the 2 MB string is not copied


def test_values_are_bounded_with_a_warning(tmp_path: Path) -> None:
    hostile_sweep(tmp_path)
    sweep = Sweep(tmp_path)
    sweep.load()
    runs = {run.name: run for run in sweep.store}
    assert runs["surrogate"].params["seed"] == "18446744073709551616"
    assert runs["surrogate"].params["n\ufffd"] == "x\ufffd"
    note = runs["huge"].params["note"]
    assert len(note) < MAX_TEXT + 100 and "2,000,000 characters, sha256" in note
    bomb = json.dumps(runs["bomb"].params)
    assert runs["bomb"].params["lr"] == 0.1 and bomb.count("lol") <= MAX_VALUES
    messages = " | ".join(w.message for w in sweep.store.warnings)
    assert "beyond 64 bits" in messages
    assert "2,000,000 characters" in messages
    assert "more than" in messages and "values" in messages  # the alias bomb was cut
    for run in sweep.store:
        json.dumps(run.params).encode("utf-8")  # every text encodes
        run.name.encode("utf-8")
