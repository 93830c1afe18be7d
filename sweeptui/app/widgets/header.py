"""The sweep header: root, objective, runs by status, elapsed time, ETA, issues, lost run-hours, notes."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive

from sweeptui.app.format import STATUS_ICON, STATUS_STYLE, bar, duration, safe
from sweeptui.app.widgets.text_panel import TextPanel
from sweeptui.numbers import counted, run_hours
from sweeptui.snapshot import SweepSnapshot
from sweeptui.store import STATUSES


class SweepHeader(TextPanel):
    """Two or three lines summarising the sweep; re-rendered on each snapshot."""

    paused: reactive[bool] = reactive(False)
    """Whether live updates are paused (shown as a badge)."""

    snapshot: SweepSnapshot | None = None

    def show(self, snapshot: SweepSnapshot) -> None:
        """Show ``snapshot``."""
        self.snapshot = snapshot
        self.show_text(self.render_header())

    def watch_paused(self) -> None:
        self.show_text(self.render_header())

    def render_header(self) -> Text:
        """The header text for the current snapshot."""
        snap = self.snapshot
        if snap is None:
            return Text("sweeptui: reading the sweep…")
        lines = [self._title(snap), self._progress(snap)]
        lines.extend(safe(f"note: {note}", style="yellow") for note in snap.notes[-2:])
        return Text("\n").join(lines)

    def _title(self, snap: SweepSnapshot) -> Text:
        title = Text(no_wrap=True, overflow="ellipsis")
        if self.paused:
            title.append(" PAUSED ", style="bold reverse yellow")
            title.append(" ")
        title.append("sweeptui ", style="bold")
        title.append_text(safe(snap.root, 60))
        objective = snap.objective or "no metric yet"
        title.append("  objective: ", style="dim")
        title.append_text(safe(objective, 40))
        return title

    def _progress(self, snap: SweepSnapshot) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"{counted(snap.total, 'runs')} ", style="bold")
        ended = snap.total - snap.count("running")
        if snap.total:
            text.append_text(bar(ended / snap.total, 10, style="green"))
            text.append(" ")
        for status in STATUSES:
            count = snap.count(status)
            if count:
                text.append(f"{STATUS_ICON[status]}{count} ", style=STATUS_STYLE[status])
        text.append(f" {duration(snap.elapsed)}", style="dim")
        if snap.quiet is not None:
            text.append(f"  last record {duration(snap.quiet)} ago", style="yellow")
        elif snap.eta is not None:
            text.append(f"  ETA {duration(snap.eta)}")
        style = "bold red" if snap.issue_count else "green"
        text.append(f"  {counted(snap.issue_count, 'issues')}", style=style)
        lost = snap.analysis.lost_hours
        if lost:
            text.append(f"  {run_hours(lost)} run-h lost", style="red")
        if snap.warning_count:
            text.append(f"  {counted(snap.warning_count, 'warnings')}", style="yellow")
        return text
