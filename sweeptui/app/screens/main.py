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

WIDE = 140
"""From this width on, the panels sit beside the table instead of below it."""
SIDE_WIDTH = 40


class MainScreen(Screen):
    """The live monitor. The app hands it each snapshot through :meth:`show`."""

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (WIDE, "-wide")]

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

    panels: tuple[SweepHeader, RunsTable, IssueFeed, ParamRiskPanel, Recommendations] | None = None
    """The widgets a snapshot updates, once composed (snapshots may arrive earlier)."""

    def on_mount(self) -> None:
        self.query_one("#feed-box").border_title = "issues (newest first)"
        self.panels = (
            self.query_one(SweepHeader), self.query_one(RunsTable), self.query_one(IssueFeed),
            self.query_one(ParamRiskPanel), self.query_one(Recommendations),
        )  # fmt: skip
        self.query_one(RunsTable).focus()
        self._fit_table(self.app.size.width)
        snapshot = getattr(self.app, "snapshot", None)
        if snapshot is not None:
            self.show(snapshot)

    def show(self, snapshot: SweepSnapshot) -> None:
        """Show ``snapshot`` in every panel (kept for later when the panels are not built yet)."""
        if self.panels is None:
            return
        header, table, feed, risk, recommendations = self.panels
        header.show(snapshot)
        table.show(snapshot)
        feed.show(snapshot)
        risk.show(snapshot.analysis)
        recommendations.show(snapshot.analysis)
        table.border_title = f"runs: {table.row_count}/{snapshot.total}  sort: {table.sort_key}"

    def on_resize(self, event: Resize) -> None:
        self._fit_table(event.size.width)
        snapshot = getattr(self.app, "snapshot", None)
        if snapshot is not None and self.panels is not None:
            self.panels[1].show(snapshot)

    def _fit_table(self, screen_width: int) -> None:
        if self.panels is not None:
            table_width = screen_width if screen_width < WIDE else screen_width - SIDE_WIDTH
            self.panels[1].set_widths(table_width)

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
