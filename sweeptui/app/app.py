"""The Textual app: shows snapshots from the ingest thread, handles keys and alerts.

The app never reads files or touches the store. It starts the ingest thread on
mount, receives its results as messages, and stops it (Event + join) on unmount.
SIGTERM and SIGHUP (an ssh link dropping) make it exit like ``q`` does, so the
command that ran it can write the final report.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterable

from textual import on
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from sweeptui.app.ingest import IngestThread
from sweeptui.app.messages import CurvesReady, DetailReady, ExportFinished, IngestFailed, SnapshotReady, wrap
from sweeptui.app.screens import HelpScreen, MainScreen, PlotScreen, RunDetailScreen
from sweeptui.app.widgets import RunsTable, SweepHeader
from sweeptui.issues import SWEEP_RUN_ID, Issue
from sweeptui.snapshot import SweepSnapshot, high_severity
from sweeptui.textsafe import one_line

MAX_TOASTS = 3
"""Issues named in the one toast a burst of high-severity issues gets; the rest are counted."""

EXIT_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class SweepApp(App):
    """``sweeptui watch``: the live monitor of one sweep."""

    CSS_PATH = "sweeptui.tcss"
    TITLE = "sweeptui"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        Binding("e", "export", "Export"),
        Binding("slash", "filter", "Filter"),
        Binding("s", "sort", "Sort"),
        Binding("enter", "detail", "Detail", show=False),
        Binding("escape", "back", "Back", show=False),
        Binding("p", "pause", "Pause"),
        # in help and the palette: the footer is full at 80 columns
        Binding("g", "plot", "Plots", show=False),
        Binding("question_mark", "help", "Help"),
    ]

    def __init__(
        self,
        ingest: IngestThread | None = None,
        *,
        snapshot: SweepSnapshot | None = None,
        alerts: bool = True,
        bell: bool = False,
        handle_signals: bool = False,
    ) -> None:
        super().__init__()
        self.ingest = ingest
        self.snapshot = snapshot
        self.alerts = alerts
        self.ring_bell = bell
        self.handle_signals = handle_signals
        self.paused = False
        self.exit_reason = "quit"
        self.ingest_errors: list[str] = []
        self._alerted: int | None = snapshot.issues_added if snapshot else None
        """Issues already alerted about; None until the first snapshot sets the baseline."""
        self._resets_told: int | None = snapshot.resets_seen if snapshot else None
        """File resets already told in a toast; None until the first snapshot."""

    # -- lifecycle ------------------------------------------------------------------------
    def get_default_screen(self) -> Screen:
        return MainScreen()

    def on_mount(self) -> None:
        if self.handle_signals:
            self._install_signal_handlers()
        if self.ingest is not None:
            self.ingest.emit = self._emit
            self.ingest.start()

    def on_unmount(self) -> None:
        if self.ingest is not None:
            self.ingest.stop()
        if self.handle_signals:
            self._remove_signal_handlers()

    def _emit(self, item: object) -> None:
        """Called from the ingest thread: hand the result over as a message (thread-safe)."""
        message = wrap(item)
        if message is not None:
            self.post_message(message)

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in EXIT_SIGNALS:
            loop.add_signal_handler(signum, self._exit_on_signal, signum)

    def _remove_signal_handlers(self) -> None:
        with contextlib.suppress(RuntimeError):
            loop = asyncio.get_running_loop()
            for signum in EXIT_SIGNALS:
                loop.remove_signal_handler(signum)

    def _exit_on_signal(self, signum: int) -> None:
        self.exit_reason = signal.Signals(signum).name
        self.exit()

    @property
    def main(self) -> MainScreen:
        """The main screen (whatever is on top of it)."""
        return self.screen_stack[0] if isinstance(self.screen_stack[0], MainScreen) else self.screen

    # -- messages from the ingest thread --------------------------------------------------
    @on(SnapshotReady)
    def _on_snapshot(self, message: SnapshotReady) -> None:
        self.snapshot = message.snapshot
        if not self.screen_stack:
            return  # a snapshot that arrived while the app was closing: nothing shows it
        self._alert(message.snapshot)
        self._tell_resets(message.snapshot)
        if not self.paused:
            self.main.show(message.snapshot)

    @on(DetailReady)
    def _on_detail(self, message: DetailReady) -> None:
        if isinstance(self.screen, RunDetailScreen):
            self.screen.show(message.detail)

    @on(CurvesReady)
    def _on_curves(self, message: CurvesReady) -> None:
        if isinstance(self.screen, PlotScreen):
            self.screen.show(message.curves)

    @on(ExportFinished)
    def _on_export(self, message: ExportFinished) -> None:
        result = message.result
        if result.ok:
            text = f"wrote {result.describe()}"
            self.notify(text, title="report exported", markup=False)
        else:
            text = result.error or "export failed"
            if result.describe():
                text += f"; wrote {result.describe()}"
            self.notify(text, title="export failed", severity="error", markup=False)

    @on(IngestFailed)
    def _on_ingest_failed(self, message: IngestFailed) -> None:
        self.ingest_errors.append(message.error.details)
        self.notify(message.error.message, title="reading the sweep failed", severity="error", markup=False)

    # -- alerts ------------------------------------------------------------------------------
    def _alert(self, snapshot: SweepSnapshot) -> None:
        """Toast (and ring) for high-severity issues found since the last alert.

        Counted by issue total, not per message: coalesced snapshots lose none.
        Issues in the first snapshot (found on disk at start) are not alerted.
        """
        baseline = snapshot.issues_added if self._alerted is None else self._alerted
        fresh_count = min(snapshot.issues_added - baseline, len(snapshot.issues))
        self._alerted = snapshot.issues_added
        if fresh_count <= 0 or not self.alerts:
            return
        fresh = list(reversed(snapshot.issues[:fresh_count]))
        urgent = high_severity(fresh)
        if not urgent:
            return
        names = {row.id: row.name for row in snapshot.rows}
        if len(urgent) == 1:
            (issue,) = urgent
            text = issue_toast(issue, names.get(issue.run))
            self.notify(text, title=issue.type, severity="error", markup=False)
        else:  # one toast for the lot: a burst of toasts would cover the panels for seconds
            lines = [issue_toast(issue, names.get(issue.run), 70) for issue in urgent[:MAX_TOASTS]]
            if len(urgent) > MAX_TOASTS:
                more = len(urgent) - MAX_TOASTS
                lines.append(f"and {more} more")
            title = f"{len(urgent)} high-severity issues"
            self.notify("\n".join(lines), title=title, severity="error", markup=False)
        if self.ring_bell:
            self.bell()

    def _tell_resets(self, snapshot: SweepSnapshot) -> None:
        """A toast for the logs replaced or truncated since the last snapshot that changed
        a run's points (one for a burst): they changed under the user's eyes, this says why.
        A log rewritten whole with what it held and more (Lightning's CSV widened by a
        column) changes nothing shown: its warning is counted, with no toast."""
        baseline = snapshot.resets_seen if self._resets_told is None else self._resets_told
        fresh_count = min(snapshot.resets_seen - baseline, len(snapshot.resets))
        self._resets_told = snapshot.resets_seen
        if fresh_count <= 0 or not self.alerts:
            return
        lines = list(snapshot.resets[-fresh_count:][:MAX_TOASTS])
        if fresh_count > MAX_TOASTS:
            lines.append(f"and {fresh_count - MAX_TOASTS} more")
        title = "log re-read" if fresh_count == 1 else f"{fresh_count} logs re-read"
        self.notify("\n".join(lines), title=title, severity="warning", markup=False)

    # -- actions -------------------------------------------------------------------------------
    def action_export(self) -> None:
        """Write the report now (the ingest thread owns the store, so it writes)."""
        if self.ingest is None:
            self.notify("nothing to export: not watching a sweep", severity="warning")
            return
        self.ingest.request_export()
        self.notify("exporting the report…", timeout=2)

    def action_filter(self) -> None:
        """Open the filter input."""
        if isinstance(self.screen, MainScreen):
            self.screen.open_filter()

    def action_sort(self) -> None:
        """Cycle the runs table's sort order."""
        if not isinstance(self.screen, MainScreen):
            return
        table = self.screen.query_one(RunsTable)
        name = table.cycle_sort()
        total = self.snapshot.total if self.snapshot else 0
        table.border_title = f"runs: {table.row_count}/{total}  sort: {name}"

    def action_detail(self) -> None:
        """Open the detail screen of the selected run."""
        if not isinstance(self.screen, MainScreen):
            return
        run_id = self.screen.query_one(RunsTable).selected_run()
        if run_id is not None:
            self.push_screen(RunDetailScreen(run_id))

    def action_back(self) -> None:
        """Leave the detail or help screen, or clear the filter."""
        if isinstance(self.screen, MainScreen):
            self.screen.close_filter()
        elif len(self.screen_stack) > 1:
            self.pop_screen()

    def action_pause(self) -> None:
        """Freeze the display (reading goes on, so nothing is missed)."""
        self.paused = not self.paused
        self.main.query_one(SweepHeader).paused = self.paused
        if not self.paused and self.snapshot is not None:
            self.main.show(self.snapshot)

    def action_help(self) -> None:
        """Show the keys and the badge legend."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_plot(self) -> None:
        """Open the plot screen on the runs the filter shows."""
        if isinstance(self.screen, MainScreen):
            self.push_screen(PlotScreen(tuple(self.screen.query_one(RunsTable).order)))

    def request_curves(self, run_ids: tuple[str, ...]) -> None:
        """Ask the ingest thread for the curves of ``run_ids`` (answered with :class:`CurvesReady`)."""
        if self.ingest is not None:
            self.ingest.request_curves(run_ids)

    def request_detail(self, run_id: str) -> None:
        """Ask the ingest thread for a run's detail (answered with :class:`DetailReady`)."""
        if self.ingest is not None:
            self.ingest.request_detail(run_id)

    @on(RunsTable.RowSelected)
    def _row_selected(self, event: RunsTable.RowSelected) -> None:
        if isinstance(self.screen, MainScreen):
            self.push_screen(RunDetailScreen(event.run_id))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Export report", "Write the Markdown and JSON report now", self.action_export)
        yield SystemCommand("Pause / resume", "Freeze or resume live updates", self.action_pause)
        yield SystemCommand("Cycle sort", "Change the runs table's sort order", self.action_sort)
        yield SystemCommand("Filter runs", "Show only matching runs", self.action_filter)
        yield SystemCommand("Plots", "The shown runs' curves overlaid, or the objective by parameter",
                            self.action_plot)  # fmt: skip


def issue_toast(issue: Issue, run_name: str | None, limit: int = 160) -> str:
    """Plain one-line toast text for an issue (shown without markup)."""
    who = "the sweep" if issue.run == SWEEP_RUN_ID else (run_name or issue.run)
    return one_line(f"{who}: {issue.message}", limit)
