"""The help screen: keys, panels and what the badges mean."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from sweeptui.app.format import BADGES, SEVERITY_STYLE
from sweeptui.issues import ISSUE_TYPES

KEYS = (
    ("q / Ctrl-C", "quit (writes the report)"),
    ("e", "export the report now (Markdown + JSON)"),
    ("/", "filter runs; Esc clears"),
    ("s", "cycle the sort order"),
    ("v", "one panel alone at full height, in turn (runs, issues, advice, risk, all)"),
    ("Enter", "details of the selected run"),
    ("g", "plots: the shown runs' curves overlaid, or the objective by parameter"),
    ("Esc", "back"),
    ("p", "pause / resume live updates"),
    ("Ctrl-P", "command palette"),
    ("?", "this help"),
)


def help_text() -> Text:
    """Keys and badge legend."""
    text = Text()
    text.append("Keys\n", style="bold")
    for key, what in KEYS:
        text.append(f"  {key:<11}", style="bold cyan")
        text.append(f"{what}\n")
    text.append("\nIssue badges\n", style="bold")
    for issue_type, (severity, description) in ISSUE_TYPES.items():
        text.append(f"  {BADGES[issue_type]:<5}", style=SEVERITY_STYLE[severity])
        text.append(f"{issue_type}: {description}\n")
    return text


class HelpScreen(Screen):
    """A dismissable help page (a full screen: the live main screen is not drawn under it)."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(help_text())
