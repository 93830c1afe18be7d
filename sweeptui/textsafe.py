"""Making untrusted text (run names, params, log lines) harmless to show.

Run names and error logs come from other people's code and may hold terminal
escape sequences (colour codes, OSC title changes, hyperlinks), bidi overrides or
Rich markup. Every view shows them through these functions: escapes and control
characters are removed, markup is shown literally (views use ``rich.text.Text``,
never markup strings, for such values).
"""

from __future__ import annotations

import re

_ANSI = re.compile(
    r"""
    \x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?   # OSC ... BEL/ST (titles, hyperlinks)
    | \x1b[P^_X][^\x1b]*(?:\x1b\\)?      # DCS / PM / APC / SOS strings
    | \x1b\[[0-?]*[ -/]*[@-~]            # CSI sequences (colours, cursor moves)
    | \x1b[@-Z\\-_]                      # other two-byte escapes
    | \x9b[0-?]*[ -/]*[@-~]              # 8-bit CSI
    """,
    re.VERBOSE,
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def clean_text(text: object, *, keep_newlines: bool = True) -> str:
    """``text`` without escape sequences, control characters or bidi overrides.

    Tabs survive; newlines survive unless ``keep_newlines`` is False, in which case
    they become spaces (for one-line cells).
    """
    value = text if isinstance(text, str) else str(text)
    value = _ANSI.sub("", value)
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    if not keep_newlines:
        value = value.replace("\n", " ")
    return _CONTROL.sub("", value)


def one_line(text: object, limit: int | None = None) -> str:
    """Clean text on a single line, clipped to ``limit`` characters with an ellipsis."""
    value = clean_text(text, keep_newlines=False).strip()
    if limit is not None and len(value) > limit:
        return value[: max(limit - 1, 0)] + "…"
    return value


def markdown_cell(text: object, limit: int | None = 80) -> str:
    """Clean one-line text safe inside a Markdown table cell (pipes and backticks escaped)."""
    value = one_line(text, limit)
    # Underscores and '>' are left alone: CommonMark never reads intraword underscores
    # as emphasis nor a mid-line '>' as a quote, and escaping them makes the raw report
    # hard to read in a terminal. '<' stays escaped: it could open an HTML tag.
    for char in ("\\", "|", "`", "*", "[", "]", "<"):
        value = value.replace(char, "\\" + char)
    return value


def markdown_code(text: object, limit: int | None = 80) -> str:
    """Clean one-line text as a Markdown code span (backslashes are literal inside one)."""
    value = one_line(text, limit).replace("`", "'").replace("|", "/")
    return f"`{value}`"
