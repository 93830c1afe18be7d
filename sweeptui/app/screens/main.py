"""The main screen: header, runs table, issue feed, recommendations, parameter risk.

The runs table takes the rows its runs need (up to two thirds of the screen) and the
panels below it share the rest, so a small sweep leaves room for the findings and a
large one still shows them. ``v`` shows one panel at a time, full height, in turn; on
short terminals a one-line summary of the top recommendation sits under the header.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import Footer, Input

from sweeptui.app.format import safe
from sweeptui.app.widgets import IssueFeed, ParamRiskPanel, Recommendations, RunsTable, SweepHeader
from sweeptui.app.widgets.text_panel import TextPanel
from sweeptui.snapshot import Analysis, SweepSnapshot

WIDE = 120
"""From this width on, the risk panel sits beside the feed and the recommendations."""
SHORT = 32
"""Below this height the top recommendation is summarised in one line under the header."""
CHROME_ROWS = 3
"""Rows of the table that are not runs: its two borders and its header line."""
PANELS_MIN_ROWS = 7
"""The panels below the table never get fewer rows than this (nor than a third of the body)."""

VIEWS = ("all", "runs", "issues", "recommendations", "risk")
"""What ``v`` cycles through: every panel, then each one alone at full height."""


class MainScreen(Screen):
    """The live monitor. The app hands it each snapshot through :meth:`show`."""

    BINDINGS = [Binding("v", "cycle_view", "View")]
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (WIDE, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (SHORT, "-tall")]

    view = "all"
    """The panel shown alone (one of :data:`VIEWS`), or ``"all"``."""
    _table_height: int | str | None = None

    def compose(self) -> ComposeResult:
        yield SweepHeader(id="header")
        yield TextPanel(Text(""), id="summary")
        yield Input(placeholder="filter runs: words in name, params, status or issue", id="filter")
        with Vertical(id="body"):
            yield RunsTable(id="runs")
            with Horizontal(id="panels"):
                with VerticalScroll(id="feed-box"):
                    yield IssueFeed(id="feed")
                with VerticalScroll(id="recommendations-box"):
                    yield Recommendations(id="recommendations")
                with VerticalScroll(id="risk-box"):
                    yield ParamRiskPanel(id="risk")
        yield Footer()

    panels: tuple[SweepHeader, RunsTable, IssueFeed, ParamRiskPanel, Recommendations] | None = None
    """The widgets a snapshot updates, once composed (snapshots may arrive earlier)."""
    summary: TextPanel | None = None
    """The one-line summary of the top recommendation (shown on short terminals)."""
    filter_box: Input | None = None
    """The filter box (it takes rows from the table while open)."""

    def on_mount(self) -> None:
        self.query_one("#feed-box").border_title = "issues (newest first)"
        self.query_one("#recommendations-box").border_title = "recommendations"
        self.query_one("#risk-box").border_title = "parameter risk (runs with issues)"
        self.add_class(f"-view-{self.view}")
        self.panels = (
            self.query_one(SweepHeader), self.query_one(RunsTable), self.query_one(IssueFeed),
            self.query_one(ParamRiskPanel), self.query_one(Recommendations),
        )  # fmt: skip
        self.summary = self.query_one("#summary", TextPanel)
        self.filter_box = self.query_one("#filter", Input)
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
        if self.summary is not None:
            self.summary.show_text(summary_line(snapshot.analysis))
        # an empty panel gives its width to the others
        self.set_class(not snapshot.issue_count, "-no-issues")
        self.set_class(not snapshot.analysis.recommendations, "-no-advice")
        table.border_title = f"runs: {table.row_count}/{snapshot.total}  sort: {table.sort_key}"
        self._fit_heights(self.app.size.height)

    def on_resize(self, event: Resize) -> None:
        self._fit_table(event.size.width)
        self._fit_heights(event.size.height)
        snapshot = getattr(self.app, "snapshot", None)
        if snapshot is not None and self.panels is not None:
            self.panels[1].show(snapshot)

    def _fit_table(self, screen_width: int) -> None:
        if self.panels is not None:
            self.panels[1].set_widths(screen_width)

    def _fit_heights(self, screen_height: int) -> None:
        """Give the table the rows its runs need, within what leaves the panels room."""
        if self.panels is None:
            return
        header, table = self.panels[:2]
        body = screen_height - header.outer_size.height - 1  # the footer
        if screen_height < SHORT:
            body -= 1  # the summary line
        if self.filter_box is not None and self.filter_box.has_class("-visible"):
            body -= 3
        wanted = table_rows(table.row_count, body) if self.view == "all" else "1fr"
        if wanted != self._table_height:  # a new height means a layout pass: only when it changes
            self._table_height = wanted
            table.styles.height = wanted

    # -- views ---------------------------------------------------------------------------
    def action_cycle_view(self) -> None:
        """Show the next panel alone at full height (after the last one, all of them again)."""
        self.set_view(VIEWS[(VIEWS.index(self.view) + 1) % len(VIEWS)])

    def set_view(self, view: str) -> None:
        """Show ``view`` (one of :data:`VIEWS`)."""
        self.remove_class(f"-view-{self.view}")
        self.view = view
        self.add_class(f"-view-{view}")
        self._fit_heights(self.app.size.height)
        if view == "runs" or view == "all":
            self.query_one(RunsTable).focus()
        else:
            self.query_one(f"#{view if view != 'issues' else 'feed'}-box").focus()

    # -- filter -------------------------------------------------------------------------
    def open_filter(self) -> None:
        """Show the filter input and focus it."""
        box = self.query_one("#filter", Input)
        box.add_class("-visible")
        box.focus()
        self._fit_heights(self.app.size.height)

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.query_one(RunsTable).set_filter(event.value, getattr(self.app, "snapshot", None))
        self._fit_heights(self.app.size.height)

    @on(Input.Submitted, "#filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        box = self.query_one("#filter", Input)
        if not event.value.strip():
            box.remove_class("-visible")
            self._fit_heights(self.app.size.height)
        self.query_one(RunsTable).focus()

    def close_filter(self) -> bool:
        """Clear and hide the filter; False when it was not open."""
        box = self.query_one("#filter", Input)
        if not box.has_class("-visible"):
            return False
        box.value = ""
        box.remove_class("-visible")
        self._fit_heights(self.app.size.height)
        self.query_one(RunsTable).focus()
        return True


def table_rows(runs: int, body: int) -> int:
    """Rows for a table of ``runs`` runs in a body ``body`` rows tall.

    What the runs need (plus its border and header), but never so much that the panels
    below get less than :data:`PANELS_MIN_ROWS` or a third of the body.
    """
    panels = max(PANELS_MIN_ROWS, body // 3)
    return max(CHROME_ROWS + 1, min(runs + CHROME_ROWS, body - panels))


def summary_line(analysis: Analysis) -> Text:
    """One line: the top recommendation's headline and how many more there are."""
    if not analysis.headlines:
        return safe("no recommendations yet", style="dim")
    more = len(analysis.headlines) - 1
    text = safe(f"▶ {analysis.headlines[0]}", 200, style="bold")
    if more:
        text.append(f"  (+{more} more: v)", style="dim")
    return text
