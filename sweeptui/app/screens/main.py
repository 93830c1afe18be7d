"""The main screen: header, runs table, issue feed, parameter risk, recommendations."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from sweeptui.app.widgets import IssueFeed, ParamRiskPanel, Recommendations, RunsTable, SweepHeader
from sweeptui.snapshot import SweepSnapshot


class MainScreen(Screen):
    """The live monitor. The app hands it each snapshot through :meth:`show`."""

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]

    def compose(self) -> ComposeResult:
        yield SweepHeader(id="header")
        yield Input(placeholder="filter runs: words in name, params, status or issue", id="filter")
        with Horizontal(id="body"):
            yield RunsTable(id="runs")
            with Vertical(id="side"):
                with VerticalScroll(id="feed-box"):
                    yield IssueFeed(id="feed")
                with VerticalScroll(id="risk-box"):
                    yield Static("parameter risk", classes="panel-title")
                    yield ParamRiskPanel(id="risk")
                    yield Static("recommendations", classes="panel-title")
                    yield Recommendations(id="recommendations")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#feed-box").border_title = "issues (newest first)"
        self.query_one(RunsTable).focus()

    def show(self, snapshot: SweepSnapshot) -> None:
        """Show ``snapshot`` in every panel."""
        self.query_one(SweepHeader).show(snapshot)
        self.query_one(RunsTable).show(snapshot)
        self.query_one(IssueFeed).show(snapshot)
        self.query_one(ParamRiskPanel).show(snapshot.analysis)
        self.query_one(Recommendations).show(snapshot.analysis)
        table = self.query_one(RunsTable)
        table.border_title = f"runs: {table.row_count}/{snapshot.total}  sort: {table.sort_key}"

    def on_resize(self, event: Resize) -> None:
        table = self.query_one(RunsTable)
        width = event.size.width if event.size.width < 120 else event.size.width - 44
        table.set_widths(width)
        snapshot = getattr(self.app, "snapshot", None)
        if snapshot is not None:
            table.show(snapshot)

    # -- filter -------------------------------------------------------------------------
    def open_filter(self) -> None:
        """Show the filter input and focus it."""
        box = self.query_one("#filter", Input)
        box.add_class("-visible")
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.query_one(RunsTable).set_filter(event.value, getattr(self.app, "snapshot", None))

    @on(Input.Submitted, "#filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        box = self.query_one("#filter", Input)
        if not event.value.strip():
            box.remove_class("-visible")
        self.query_one(RunsTable).focus()

    def close_filter(self) -> bool:
        """Clear and hide the filter; False when it was not open."""
        box = self.query_one("#filter", Input)
        if not box.has_class("-visible"):
            return False
        box.value = ""
        box.remove_class("-visible")
        self.query_one(RunsTable).focus()
        return True
