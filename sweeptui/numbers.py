"""How shares and p-values are written for people.

One spelling for the analysis prose, the report tables and the app, so "76%" and
"p < 0.0001" read the same everywhere. (General numbers keep a formatter per view:
Markdown escapes them, the app spells out nan and inf.)
"""

from __future__ import annotations

MISSING = "—"
P_FLOOR = 1e-4
"""p-values below this are written as ``< 0.0001``."""


def percent(share: float | None) -> str:
    """A share as a whole percentage (``0.756`` -> ``76%``), a dash when unknown."""
    return MISSING if share is None else f"{100 * share:.0f}%"


def p_value(value: float | None) -> str:
    """A p-value to two significant digits, tiny ones as ``< 0.0001``."""
    if value is None:
        return MISSING
    return f"{value:.2g}" if value >= P_FLOOR else f"< {P_FLOOR:g}"


def p_relation(value: float | None) -> str:
    """The p-value with its relation, for prose: ``= 0.013`` or ``< 0.0001``."""
    written = p_value(value)
    return written if written.startswith("<") else f"= {written}"


def noun(count: float | None, plural: str) -> str:
    """``plural`` (``"runs"``, ``"epochs"``), made singular when ``count`` is exactly one."""
    if count == 1 and plural.endswith("s"):
        return plural[:-2] if plural.endswith("ches") else plural[:-1]
    return plural


def counted(count: int, plural: str) -> str:
    """``"1 run"``, ``"3 runs"``: a whole count with its noun."""
    return f"{count} {noun(count, plural)}"


def run_hours(hours: float | None) -> str:
    """Run-hours to a readable precision: ``412``, ``23``, ``4.8``, ``0.37``, ``0``; a dash when unknown."""
    if hours is None:
        return MISSING
    if hours >= 19.95:
        return f"{hours:.0f}"
    if hours >= 0.995:
        return f"{hours:.1f}"
    return f"{hours:.2g}" if hours > 0 else "0"
