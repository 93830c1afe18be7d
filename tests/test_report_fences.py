"""Code embedded in the Markdown report (the next sweep's YAML and Optuna snippet) survives
any param value: backticks, quotes, newlines, markup, escape sequences, in values and keys."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from markdown_it import MarkdownIt

from sweeptui.cli import main

NOTES = ["a```b", "````", "x\"\n'y", "[bold red]markup[/]", "caf\u00e9 \u202eevil\x1b[31m"]
KEY = "k`e```y"


def hostile_sweep(root: Path) -> None:
    """A results array whose params hold the values no fence or quote may alter."""
    root.mkdir()
    experiments = []
    for index in range(10):
        config = {"note": NOTES[index % len(NOTES)], KEY: index % 2, "lr": [0.01, 0.1][index // 5]}
        losses = [1.0 / (epoch + index + 1) for epoch in range(3)]
        experiments.append({"name": f"exp_{index}", "config": {**config, "epochs": 3},
                            "val_losses": losses, "success": True})  # fmt: skip
    (root / "sweep_results_final.json").write_text(json.dumps(experiments))


def fenced_blocks(markdown: str) -> dict[str, str]:
    """The fenced code blocks as a CommonMark reader sees them, by info string."""
    tokens = MarkdownIt("commonmark").parse(markdown)
    return {token.info: token.content for token in tokens if token.type == "fence"}


def test_next_sweep_code_keeps_every_value(tmp_path: Path) -> None:
    root = tmp_path / "sweep"
    hostile_sweep(root)
    for fmt in ("md", "json"):
        assert main(["report", str(root), "-o", str(tmp_path / f"report.{fmt}")]) == 0
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    expected = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))["next_sweep"]
    blocks = fenced_blocks(markdown)
    assert set(blocks) == {"yaml", "python"}
    config = yaml.safe_load(blocks["yaml"])
    assert config == expected["wandb"]
    assert sorted(config["parameters"]["note"]["values"]) == sorted(NOTES)
    assert KEY in config["parameters"]
    assert "\x1b" not in markdown and "\u202e" not in markdown  # escaped, not carried raw
    namespace: dict = {}
    exec(compile(blocks["python"], "snippet", "exec"), namespace)
    suggested = namespace["suggest_params"](Choices())
    assert {"note", KEY} <= set(suggested)
    for name, offered in suggested.items():
        spec = config["parameters"][name]
        ranged = [spec.get("min"), spec.get("max")]
        assert offered == (spec["value"] if "value" in spec else spec.get("values", ranged))


class Choices:
    """Stands in for an Optuna trial: each suggestion returns what it was offered."""

    def suggest_categorical(self, name: str, values: list) -> list:
        return values

    def suggest_float(self, name: str, low: float, high: float, log: bool = False) -> list:
        return [low, high]

    suggest_int = suggest_float


def test_a_code_block_holds_any_text_verbatim() -> None:
    from sweeptui.report.mdtable import code_block

    for text in ("```", "a\n```\nb", "````python\nx = 1\n````", "~~~\n```` ``` `", "plain"):
        markdown = "\n".join(["before", "", *code_block(text, "text"), "", "after"])
        tokens = MarkdownIt("commonmark").parse(markdown)
        fences = [token for token in tokens if token.type == "fence"]
        assert len(fences) == 1 and fences[0].content == text + "\n" and fences[0].info == "text"
        assert tokens[-2].content == "after"  # the block closed where it should
