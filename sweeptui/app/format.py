"""Turning snapshot values into safe Rich ``Text``: numbers, durations, badges, bars.

Every string that came from the sweep (run names, params, messages, logs) goes
through :func:`safe`, which strips escape sequences and builds a ``Text`` object:
markup in the data is shown literally, never interpreted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.text import Text

from sweeptui.issues import ISSUE_TYPES, Severity
from sweeptui.textsafe import clean_text, one_line

STATUS_STYLE = {
    "running": "bold cyan",
    "finished": "green",
    "crashed": "bold red",
    "killed": "magenta",
    "failed": "red",
}
STATUS_ICON = {"running": "▶", "finished": "✓", "crashed": "✗", "killed": "☠", "failed": "!"}
STOPPED_EARLY = ("✂", "stopped", "green italic")
"""Icon, word and style of a run finished early on purpose (pruned, stopped by a scheduler)."""
SEVERITY_STYLE = {Severity.HIGH: "bold red", Severity.MEDIUM: "yellow", Severity.LOW: "dim"}

BADGES = {
    "nan_or_inf_metric": "NaN",
    "divergence": "DIV",
    "crashed": "CRS",
    "oom": "OOM",
    "killed": "KIL",
    "stalled": "STL",
    "short_run": "SHR",
    "overfitting_suspect": "OVF",
    "crash_loop": "LOOP",
}
"""Short badge per issue type, for table cells."""

SPARK_CHARS = "▁▂▃▄▅▆▇█"
NON_FINITE = "\u00d7"
"""Marks a NaN or infinite point in a sparkline (a multiplication sign)."""


def safe(text: object, limit: int | None = None, style: str = "") -> Text:
    """Untrusted text as harmless single-line ``Text`` (clipped to ``limit`` cells)."""
    return Text(one_line(text, limit), style=style, no_wrap=True, overflow="ellipsis")


def safe_block(text: object, style: str = "") -> Text:
    """Untrusted multi-line text (a log tail) as harmless ``Text``."""
    return Text(clean_text(text), style=style)


def number(value: float | None, digits: int = 4) -> str:
    """Compact number: 4 significant digits, ``nan``/``inf`` spelled out, ``—`` for missing."""
    if value is None:
        return "—"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if float(value).is_integer() and abs(value) < 1e7:
        return str(int(value))
    return f"{value:.{digits}g}"


def duration(seconds: float | None) -> str:
    """``3d04h``, ``1h02m``, ``3m05s`` or ``42s``; ``—`` when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours >= 48:
        return f"{hours // 24}d{hours % 24:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def status_text(status: str, short: bool = False, stopped_early: bool = False) -> Text:
    """The status with its icon and colour; a run finished early on purpose is marked apart."""
    icon, word, style = STATUS_ICON.get(status, "?"), status, STATUS_STYLE.get(status, "")
    if stopped_early and status == "finished":
        icon, word, style = STOPPED_EARLY
    label = icon if short else f"{icon} {word}"
    return Text(label, style=style, no_wrap=True)


def badges(issue_types: Sequence[str]) -> Text:
    """Short coloured badges for a run's issues."""
    text = Text(no_wrap=True, overflow="ellipsis")
    for index, issue_type in enumerate(issue_types):
        severity = ISSUE_TYPES[issue_type][0] if issue_type in ISSUE_TYPES else Severity.LOW
        if index:
            text.append(" ")
        text.append(BADGES.get(issue_type, issue_type[:4].upper()), style=SEVERITY_STYLE[severity])
    return text


def sparkline(values: Sequence[float], width: int = 12) -> Text:
    """The newest ``width`` values as block characters; non-finite points as a red cross."""
    tail = list(values)[-width:]
    finite = [v for v in tail if math.isfinite(v)]
    text = Text(no_wrap=True)
    if not finite:
        text.append(NON_FINITE * len(tail), style="red")
        return text
    low, high = min(finite), max(finite)
    span = high - low
    for value in tail:
        if not math.isfinite(value):
            text.append(NON_FINITE, style="bold red")
            continue
        level = 0 if span == 0 else round((value - low) / span * (len(SPARK_CHARS) - 1))
        text.append(SPARK_CHARS[level], style="cyan")
    return text


def bar(fraction: float, width: int, style: str = "red") -> Text:
    """A horizontal bar ``fraction`` (0..1) of ``width`` cells, in eighths."""
    fraction = min(max(fraction, 0.0), 1.0)
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    text = Text("█" * full, style=style, no_wrap=True)
    if part:
        text.append(" ▏▎▍▌▋▊▉"[part], style=style)
    text.append(" " * (width - full - (1 if part else 0)))
    return text
