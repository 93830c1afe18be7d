"""Markdown building blocks shared by every report section: tables, numbers, rates."""

from __future__ import annotations

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


def rate(value: float | None) -> str:
    """A share as a whole percentage (``0.756`` -> ``76%``), '—' for missing."""
    return "—" if value is None else f"{100 * value:.0f}%"


def pvalue(value: float | None) -> str:
    """A p-value to two significant digits; tiny ones as ``< 0.0001``."""
    if value is None:
        return "—"
    return f"{value:.2g}" if value >= 1e-4 else "< 0.0001"
