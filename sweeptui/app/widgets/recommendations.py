"""Recommendations: short hints from the analysis (which values to drop, what to rerun)."""

from __future__ import annotations

from rich.text import Text

from sweeptui.app.format import safe
from sweeptui.app.widgets.text_panel import TextPanel
from sweeptui.snapshot import Analysis


class Recommendations(TextPanel):
    """A bulleted list of hints; empty-state text when there are none."""

    wraps = True

    def __init__(self, **kwargs) -> None:
        super().__init__(Text("no recommendations yet", style="dim"), **kwargs)
        self._shown: tuple[str, ...] | None = None

    def show(self, analysis: Analysis) -> None:
        """Show the recommendations of ``analysis``."""
        if analysis.recommendations == self._shown:
            return
        self._shown = analysis.recommendations
        if not analysis.recommendations:
            self.show_text(Text("no recommendations yet", style="dim"))
            return
        lines = [Text("• ").append_text(safe(hint, 200)) for hint in analysis.recommendations]
        for line in lines:
            line.no_wrap = False
        self.show_text(Text("\n").join(lines))
