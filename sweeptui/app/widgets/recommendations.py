"""Recommendations: the analysis's advice, strongest first, each a headline and its evidence."""

from __future__ import annotations

from rich.text import Text

from sweeptui.app.format import safe
from sweeptui.app.widgets.text_panel import TextPanel
from sweeptui.snapshot import Analysis


class Recommendations(TextPanel):
    """A numbered list: each headline in bold, its evidence wrapped below it."""

    wraps = True

    def __init__(self, **kwargs) -> None:
        super().__init__(Text("no recommendations yet", style="dim"), **kwargs)
        self._shown: tuple[tuple[str, ...], tuple[str, ...]] | None = None

    def show(self, analysis: Analysis) -> None:
        """Show the recommendations of ``analysis``."""
        shown = (analysis.headlines, analysis.recommendations)
        if shown == self._shown:
            return
        self._shown = shown
        self.show_text(render_recommendations(analysis))


def render_recommendations(analysis: Analysis) -> Text:
    """The panel's text (the empty-state line when there is no advice)."""
    texts = analysis.recommendations
    if not texts:
        return Text("no recommendations yet", style="dim")
    headlines = analysis.headlines if len(analysis.headlines) == len(texts) else ("",) * len(texts)
    lines = []
    for index, (headline, text) in enumerate(zip(headlines, texts, strict=True), start=1):
        line = Text(f"{index}. ", style="bold")
        if headline and headline != text:
            line.append_text(safe(headline, 200, style="bold"))
            line.append("\n")
        line.append_text(safe(text, 600))
        line.no_wrap = False
        line.overflow = "fold"
        lines.append(line)
    return Text("\n").join(lines)
