"""How shares, p-values, plain numbers, durations and places are written for people.

One spelling for the analysis prose, the report tables and the app, so "76%" and
"p < 0.0001" read the same everywhere. (General numbers keep a formatter per view:
Markdown escapes them, the app spells out nan and inf.)
"""

from __future__ import annotations

MISSING = "—"
P_FLOOR = 1e-4
"""p-values below this are written as ``< 0.0001``."""
DAY = 86400.0
YEAR = 365.25 * DAY
MONTH = YEAR / 12


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


def where(step: float | None, epoch: float | None) -> str:
    """``"step 1200 (epoch 12)"``, ``"epoch 12"``-free variants, or ``"before any step"``."""
    if step is None and epoch is None:
        return "before any step"
    parts = []
    if step is not None:
        parts.append(f"step {number(step)}")
    if epoch is not None:
        parts.append(f"epoch {number(epoch)}" if step is None else f"(epoch {number(epoch)})")
    return " ".join(parts)


def number(value: float) -> str:
    """Integers without a decimal point, other values to 4 significant digits."""
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}"


def duration(seconds: float) -> str:
    """``"42 s"``, ``"12 min"``, ``"3.5 h"``, ``"2.1 d"``, ``"21 months"``, ``"3.2 years"``."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    if seconds < 60 * DAY:
        return f"{seconds / DAY:.1f} d"
    if seconds < 2 * YEAR:
        return f"{seconds / MONTH:.0f} months"
    return f"{seconds / YEAR:.1f} years"


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
