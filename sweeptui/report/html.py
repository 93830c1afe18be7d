"""HTML rendering: the report's sections as one self-contained page, with charts beside them.

The text is the Markdown report, section by section, converted by markdown-it-py
(raw HTML disabled, so nothing from the sweep can inject markup). Beside the
sections they illustrate sit six plotly charts drawn from the same report dict
(:mod:`.charts`); plotly.js is embedded once, so the file opens offline after it is
copied off the machine that ran the sweep. Importing this module imports plotly:
only the HTML writer does.
"""

from __future__ import annotations

import html
from typing import Any

from markdown_it import MarkdownIt

from sweeptui.report import analysis_md, markdown
from sweeptui.report.charts import chart_divs, plotly_js

_STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 76rem; margin: 2rem auto; padding: 0 1rem; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: .25rem .6rem; text-align: left; }
th { background: #f3f3f3; }
code { background: #f5f5f5; padding: 0 .2rem; }
.chart { margin: 1rem 0 2rem; border: 1px solid #e4e4e4; border-radius: 4px; }
"""

CHART_PLACES: dict[markdown.Section, tuple[str, ...]] = {
    markdown.status_section: ("timeline",),
    markdown.leaderboard_section: ("time_vs_objective",),
    markdown.issues_section: ("curves",),
    analysis_md.failure_drivers_section: ("failure_rate",),
    analysis_md.crash_epochs_section: ("deaths",),
    analysis_md.sensitivity_section: ("objective_vs_params",),
}
"""Which charts follow which section (after it, or in its place when it has nothing to say)."""


def render_html(report: dict[str, Any]) -> str:
    """A standalone HTML page: the Markdown report's content with the charts beside it."""
    parser = MarkdownIt("commonmark", {"html": False}).enable("table")
    charts = chart_divs(report) if report["summary"]["runs"] else {}
    body = []
    for section in markdown.SECTIONS:
        lines = section(report)
        if lines:
            body.append(parser.render("\n".join(lines)))
        body.extend(f"<div class='chart'>{charts[key]}</div>\n" for key in CHART_PLACES.get(section, ())
                    if key in charts)  # fmt: skip
    title = html.escape(f"Sweep report: {report['root']}")
    return (
        "<!doctype html>\n<html><head><meta charset='utf-8'>"
        f"<title>{title}</title><style>{_STYLE}</style>\n"
        f"<script>{plotly_js()}</script></head>\n"
        f"<body>\n{''.join(body)}</body></html>\n"
    )
