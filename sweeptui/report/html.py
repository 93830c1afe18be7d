"""HTML rendering: the Markdown report turned into one self-contained page.

markdown-it-py (already a dependency of Textual) does the conversion with raw HTML
disabled, so nothing from the sweep can inject markup into the page.
"""

from __future__ import annotations

import html
from typing import Any

from markdown_it import MarkdownIt

from sweeptui.report.markdown import render_markdown

_STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 72rem; margin: 2rem auto; padding: 0 1rem; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: .25rem .6rem; text-align: left; }
th { background: #f3f3f3; }
code { background: #f5f5f5; padding: 0 .2rem; }
"""


def render_html(report: dict[str, Any]) -> str:
    """A standalone HTML page with the same content as the Markdown report."""
    parser = MarkdownIt("commonmark", {"html": False}).enable("table")
    body = parser.render(render_markdown(report))
    title = html.escape(f"Sweep report: {report['root']}")
    return (
        "<!doctype html>\n<html><head><meta charset='utf-8'>"
        f"<title>{title}</title><style>{_STYLE}</style></head>\n"
        f"<body>\n{body}</body></html>\n"
    )
