"""The run detail screen: metric curves, config, issues with evidence, error log tail."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual_plotext import PlotextPlot

from sweeptui.app.format import SEVERITY_STYLE, number, safe, safe_block, status_text
from sweeptui.snapshot import Curve, RunDetail

MAX_CURVES = 4
REFRESH_SECONDS = 2.0


class RunDetailScreen(Screen):
    """Details of one run; asks the ingest thread for fresh data every few seconds."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.detail: RunDetail | None = None

    def compose(self) -> ComposeResult:
        yield Static(safe(f"loading {self.run_id}…"), id="detail-title")
        with VerticalScroll(id="detail-body"):
            yield PlotextPlot(id="curves")
            yield Static(id="detail-config")
            yield Static(id="detail-issues")
            yield Static(id="detail-error")
        yield Footer()

    def on_mount(self) -> None:
        self._request()
        self.set_interval(REFRESH_SECONDS, self._request)

    def _request(self) -> None:
        requester = getattr(self.app, "request_detail", None)
        if requester is not None:
            requester(self.run_id)

    def show(self, detail: RunDetail) -> None:
        """Show ``detail`` (ignored when it is about another run)."""
        if detail.id != self.run_id:
            return
        self.detail = detail
        self.query_one("#detail-title", Static).update(title_text(detail))
        self._plot(detail)
        self.query_one("#detail-config", Static).update(config_text(detail))
        self.query_one("#detail-issues", Static).update(issues_text(detail))
        self.query_one("#detail-error", Static).update(error_text(detail))

    def _plot(self, detail: RunDetail) -> None:
        plot = self.query_one(PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        for curve in chosen_curves(detail):
            points = [(s, v) for s, v in zip(curve.steps, curve.values, strict=True) if v == v]
            if points:
                xs, ys = zip(*points, strict=True)
                plt.plot(list(xs), list(ys), label=_plain(curve.metric))
        plt.title("metrics over steps")
        plt.xlabel("step")
        plot.refresh()


def _plain(name: str) -> str:
    """Plotext draws text cell by cell; keep only printable ASCII-ish characters."""
    return "".join(ch for ch in safe(name, 30).plain if ch.isprintable())


def chosen_curves(detail: RunDetail) -> list[Curve]:
    """The objective and loss-like metrics (one scale), else any; at most :data:`MAX_CURVES`."""

    def rank(curve: Curve) -> tuple[int, str]:
        if curve.metric == detail.objective:
            return (0, curve.metric)
        return (1 if "loss" in curve.metric.lower() else 2, curve.metric)

    ranked = sorted(detail.curves, key=rank)
    related = [curve for curve in ranked if rank(curve)[0] < 2]
    return (related or ranked)[:MAX_CURVES]


def title_text(detail: RunDetail) -> Text:
    """Name, status, path and failure reason."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append_text(safe(detail.name, 50, style="bold"))
    text.append("  ")
    text.append_text(status_text(detail.status, stopped_early=detail.stopped_early))
    text.append("  ")
    text.append_text(safe(detail.path, 60, style="dim"))
    if detail.failure:
        text.append("  ")
        text.append_text(safe(detail.failure, 60, style="red"))
    return text


def config_text(detail: RunDetail) -> Text:
    """Why the run has its status, then params and summary values."""
    text = Text()
    if detail.status_reason:
        text.append(f"{detail.status} because\n", style="bold")
        text.append_text(safe(f"  {detail.status_reason}", 300))
        text.append("\n")
    text.append("config\n", style="bold")
    for key, value in detail.params:
        text.append_text(safe(f"  {key} = {value}", 200))
        text.append("\n")
    if detail.summary:
        text.append("summary\n", style="bold")
        for key, value in detail.summary:
            text.append_text(safe(f"  {key} = {number(value)}", 200))
            text.append("\n")
    return text


def issues_text(detail: RunDetail) -> Text:
    """Each issue with its onset and evidence message."""
    if not detail.issues:
        return Text("no issues", style="green")
    text = Text()
    text.append("issues\n", style="bold")
    for issue in detail.issues:
        text.append(f"  {issue.type}", style=SEVERITY_STYLE[issue.severity])
        onset = issue.epoch if issue.epoch is not None else issue.step
        if onset is not None:
            text.append(f" at {'epoch' if issue.epoch is not None else 'step'} {number(onset)}", style="dim")
        if issue.metric:
            text.append_text(safe(f" ({issue.metric})", 40, style="dim"))
        text.append("\n    ")
        text.append_text(safe(issue.message, 300))
        text.append("\n")
    return text


def error_text(detail: RunDetail) -> Text:
    """The tail of the run's error log, shown literally."""
    if not detail.error_tail:
        return Text("")
    text = Text()
    exit_code = f" (exit code {detail.exit_code})" if detail.exit_code is not None else ""
    text.append(f"error log tail{exit_code}\n", style="bold red")
    text.append_text(safe_block(detail.error_tail, style="dim"))
    return text
