"""The run detail screen: metric curves, config, issues with evidence, error log tail.

The plot marks where a run went bad: the step its values became non-finite (the curve
itself simply stops there), where it diverged, and the validation minimum it overfit from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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
        curves = chosen_curves(detail)
        for curve in curves:
            points = [(s, v) for s, v in zip(curve.steps, curve.values, strict=True) if math.isfinite(v)]
            if points:
                xs, ys = zip(*points, strict=True)
                plt.plot(list(xs), list(ys), label=_plain(curve.metric))
        marks = plot_marks(detail, curves)
        for mark in marks:
            plt.vline(mark.step, MARK_COLORS[mark.kind])
        title = "metrics over steps"
        if marks:
            title += "  |  " + ", ".join(f"{mark.label} @{number(mark.step)}" for mark in marks)
        plt.title(title)
        plt.xlabel("step")
        plot.refresh()


MARK_COLORS = {"non_finite": "red", "divergence": "orange", "minimum": "green"}


@dataclass(frozen=True, slots=True)
class Mark:
    """A vertical line on the plot: where (step), what (kind) and its label."""

    step: float
    kind: str
    label: str


def plot_marks(detail: RunDetail, curves: list[Curve]) -> list[Mark]:
    """Where the plotted curves went bad, in step order.

    The first non-finite point of any plotted curve (``NaN`` or ``inf``), where a
    diverging loss began to climb and the validation minimum an overfitting run rose
    from (for both, the metric's lowest finite point up to where the issue was flagged).
    """
    marks: list[Mark] = []
    bad = [(step, value) for curve in curves for step, value in zip(curve.steps, curve.values, strict=True)
           if not math.isfinite(value)]  # fmt: skip
    if bad:
        step, value = min(bad, key=lambda point: point[0])
        marks.append(Mark(step, "non_finite", "NaN" if math.isnan(value) else "inf"))
    for issue in detail.issues:
        if issue.type not in ("divergence", "overfitting_suspect") or not issue.metric:
            continue
        lowest = _minimum(detail, issue.metric, issue.step)
        if lowest is None:
            continue
        if issue.type == "divergence":
            marks.append(Mark(lowest, "divergence", f"{_plain(issue.metric)} diverges"))
        else:
            marks.append(Mark(lowest, "minimum", f"{_plain(issue.metric)} min"))
    return sorted(marks, key=lambda mark: mark.step)


def _minimum(detail: RunDetail, metric: str, until: float | None) -> float | None:
    """The step of ``metric``'s lowest finite value (up to ``until``), None if it has none."""
    curve = next((c for c in detail.curves if c.metric == metric), None)
    if curve is None:
        return None
    points = [(value, step) for step, value in zip(curve.steps, curve.values, strict=True)
              if math.isfinite(value) and (until is None or step <= until)]  # fmt: skip
    return min(points)[1] if points else None


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
    """Name, status, path (when it says more than the name) and failure reason."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append_text(safe(detail.name, 50, style="bold"))
    text.append("  ")
    text.append_text(status_text(detail.status, stopped_early=detail.stopped_early))
    if detail.path.strip("/") != detail.name:
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
            text.append(" ")  # outside safe(), which strips the ends of what it is given
            text.append_text(safe(f"({issue.metric})", 40, style="dim"))
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
