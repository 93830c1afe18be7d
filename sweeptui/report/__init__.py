"""Report writers: the report document rendered as Markdown, JSON or HTML.

The document's builder (:mod:`sweeptui.report.model`, which runs the analysis and so
imports pandas) and the Markdown writer are imported when first used: the live app
draws its curves with :mod:`sweeptui.report.curves` long before it writes a report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from sweeptui.atomic import write_atomic

FORMATS = ("md", "json", "html")
SUFFIXES = {"md": ".md", "json": ".json", "html": ".html"}


def render(report: dict[str, Any], fmt: str) -> str:
    """The report as text in ``fmt`` (``md``, ``json`` or ``html``)."""
    if fmt == "md":
        from sweeptui.report.markdown import render_markdown

        return render_markdown(report)
    if fmt == "json":
        return orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n"
    if fmt == "html":
        from sweeptui.report.html import render_html

        return render_html(report)
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def write_report(report: dict[str, Any], path: Path | str, fmt: str) -> Path:
    """Render and write atomically; returns the path written."""
    return write_atomic(path, render(report, fmt))


def format_for(path: Path | str, default: str = "md") -> str:
    """The format a file name implies (``.json`` -> json ...), else ``default``."""
    suffix = Path(path).suffix.lower()
    for fmt, known in SUFFIXES.items():
        if suffix == known or (fmt == "md" and suffix == ".markdown"):
            return fmt
    return default


def __getattr__(name: str) -> Any:
    """The model's ``build_report`` and ``SCHEMA``, imported on first use."""
    if name in ("build_report", "SCHEMA"):
        from sweeptui.report import model

        return getattr(model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["FORMATS", "SCHEMA", "build_report", "format_for", "render", "write_report"]
