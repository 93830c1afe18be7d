"""Markdown building blocks shared by every report section: tables, numbers, code blocks."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sweeptui.textsafe import markdown_cell as cell


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """A Markdown table; cells are already-escaped strings or numbers."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines.extend("| " + " | ".join(str(value) for value in row) + " |" for row in rows)
    return lines


def number(value: Any, digits: int = 4) -> str:
    """A compact number: 4 significant digits, '—' for missing."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return cell(value, 40)
    if isinstance(value, int) or (float(value).is_integer() and abs(value) < 1e9):
        return str(int(value))
    return f"{value:.{digits}g}"


_BACKTICKS = re.compile(r"`+")


def code_block(text: str, language: str) -> list[str]:
    """``text`` as a fenced code block, verbatim: the fence is one backtick longer than the
    longest run of backticks inside (at least three), and CommonMark closes a block only
    at a fence at least as long as the one that opened it."""
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{language}", text.rstrip("\n"), fence]
