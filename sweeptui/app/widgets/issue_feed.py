"""The issue feed: newest issue first, coloured by severity, with its onset step."""

from __future__ import annotations

from rich.text import Text

from sweeptui.app.format import SEVERITY_STYLE, number, safe
from sweeptui.app.widgets.text_panel import TextPanel
from sweeptui.issues import SWEEP_RUN_ID, Issue
from sweeptui.snapshot import SweepSnapshot

FEED_LINES = 200


class IssueFeed(TextPanel):
    """A scrolling list of issues; re-rendered only when the issue count changes."""

    def __init__(self, **kwargs) -> None:
        super().__init__(Text("no issues yet", style="green"), **kwargs)
        self.shown_count: tuple[int, int] = (0, 0)
        self._names: dict[str, str] = {}

    def show(self, snapshot: SweepSnapshot) -> None:
        """Show the newest issues of ``snapshot`` (cheap when nothing new arrived)."""
        # both counts: an issue withdrawn and another found leave the total unchanged
        shown = (snapshot.issue_count, snapshot.issues_added)
        if shown == self.shown_count:
            return
        self.shown_count = shown
        names = {row.id: row.name for row in snapshot.rows}
        lines = [issue_line(issue, names.get(issue.run)) for issue in snapshot.issues[:FEED_LINES]]
        self.show_text(Text("\n").join(lines) if lines else Text("no issues yet", style="green"))


def issue_line(issue: Issue, run_name: str | None) -> Text:
    """One feed line: severity mark, run, type, onset and the message."""
    style = SEVERITY_STYLE[issue.severity]
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append("● ", style=style)
    who = "sweep" if issue.run == SWEEP_RUN_ID else (run_name or issue.run)
    line.append_text(safe(who, 24, style="bold"))
    line.append(f" {issue.type}", style=style)
    if issue.epoch is not None:
        line.append(f" @ep {number(issue.epoch)}", style="dim")
    elif issue.step is not None:
        line.append(f" @{number(issue.step)}", style="dim")
    line.append(" ")
    line.append_text(safe(issue.message, 120, style="dim"))
    return line
