"""The parameter-risk panel: issue rate per value of each varying parameter, as bars."""

from __future__ import annotations

from rich.text import Text

from sweeptui.app.format import bar, safe
from sweeptui.app.widgets.text_panel import TextPanel
from sweeptui.snapshot import Analysis

MAX_PARAMS = 4
MAX_BUCKETS = 6
LABEL_WIDTH = 10
BAR_WIDTH = 10


class ParamRiskPanel(TextPanel):
    """Bars of issue rate per parameter bucket, riskiest parameter first."""

    def __init__(self, **kwargs) -> None:
        super().__init__(Text("parameter risk: waiting for runs", style="dim"), **kwargs)
        self._shown: Analysis | None = None

    def show(self, analysis: Analysis) -> None:
        """Show ``analysis`` (skipped when it is the one already shown)."""
        if analysis is self._shown:
            return
        self._shown = analysis
        self.show_text(render_risk(analysis))


def render_risk(analysis: Analysis) -> Text:
    """The panel's text: per parameter, one bar per bucket with ``issue runs/runs``."""
    if not analysis.risks:
        return Text("no varying parameters yet", style="dim")
    lines: list[Text] = []
    for risk in analysis.risks[:MAX_PARAMS]:
        lines.append(safe(risk.param, 30, style="bold"))
        buckets = risk.buckets[:MAX_BUCKETS]
        width = min(LABEL_WIDTH, max(len(b.label) for b in buckets))
        for bucket in buckets:
            line = Text(" ")
            label = safe(bucket.label, width)
            label.pad_right(width - label.cell_len)
            line.append_text(label)
            line.append(" ")
            style = "red" if bucket.rate >= 0.5 else "yellow" if bucket.rate > 0 else "green"
            line.append_text(bar(bucket.rate, BAR_WIDTH, style=style))
            line.append(f" {bucket.with_issues}/{bucket.runs}", style="dim")
            lines.append(line)
    return Text("\n").join(lines)
