"""The plot screen: the objective curves of the runs the filter shows, overlaid (flagged runs in
colour), or the objective against one parameter.

Curves come from the ingest thread (a thinned :class:`~sweeptui.plotdata.CurveSet`,
asked for every few seconds); the parameter view reads the app's latest snapshot.
Healthy runs are drawn as one grey dot cloud and flagged runs as coloured lines, so
1,000 runs cost one plotext series plus a few, not a thousand.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual_plotext import PlotextPlot

from sweeptui.app.format import safe
from sweeptui.plotdata import CurveSet, RunCurve
from sweeptui.report.curves import fitted_range
from sweeptui.snapshot import RunRow, SweepSnapshot
from sweeptui.store import STATUSES, is_learning_rate

REFRESH_SECONDS = 2.0
MAX_LINES = 60
"""Up to this many runs, each is drawn as its own line; beyond it, the healthy runs become one grey
dot cloud, and so do each issue's runs when there are more flagged runs than this."""
# RGB: plotext's named colours follow the terminal theme, where red, magenta and orange blur
ISSUE_COLORS = {"nan_or_inf_metric": (255, 60, 90), "divergence": (255, 150, 40), "oom": (190, 120, 80),
                "crashed": (200, 30, 30), "killed": (180, 90, 230), "stalled": (220, 220, 60),
                "short_run": (40, 200, 220), "overfitting_suspect": (90, 130, 255)}  # fmt: skip
STATUS_COLORS = {"running": (60, 160, 255), "finished": (60, 200, 90), "crashed": (230, 50, 50),
                 "killed": (180, 90, 230), "failed": (255, 150, 40)}  # fmt: skip
HEALTHY_COLOR = (130, 130, 130)
VIEWS = ("curves", "param")


class PlotScreen(Screen):
    """Objective curves of the shown runs, or the objective against a parameter (``v`` switches)."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("v", "switch_view", "Curves / by param"),
        Binding("n", "next_param", "Next param"),
    ]

    def __init__(self, run_ids: tuple[str, ...]) -> None:
        super().__init__()
        self.run_ids = run_ids
        """The runs to draw: those the filter showed when the screen opened."""
        self.view = "curves"
        self.param_index = 0
        self.curve_set: CurveSet | None = None

    def compose(self) -> ComposeResult:
        yield Static(safe("loading curves…"), id="plot-title")
        yield PlotextPlot(id="plot")
        yield Footer()

    def on_mount(self) -> None:
        self._request()
        self.set_interval(REFRESH_SECONDS, self._request)

    def _request(self) -> None:
        requester = getattr(self.app, "request_curves", None)
        if requester is not None:
            requester(self.run_ids)
        if self.view == "param":
            self._draw()

    # -- data in ------------------------------------------------------------------------
    def show(self, curve_set: CurveSet) -> None:
        """Take fresh curves (drawn at once in the curves view)."""
        self.curve_set = curve_set
        if self.view == "curves":
            self._draw()

    # -- actions ------------------------------------------------------------------------
    def action_switch_view(self) -> None:
        """Curves <-> objective against a parameter."""
        self.view = VIEWS[(VIEWS.index(self.view) + 1) % len(VIEWS)]
        self._draw()

    def action_next_param(self) -> None:
        """The next varying parameter (switches to the parameter view)."""
        self.param_index += 1 if self.view == "param" else 0
        self.view = "param"
        self._draw()

    # -- drawing ------------------------------------------------------------------------
    def _draw(self) -> None:
        plot = self.query_one(PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        if self.view == "curves":
            title = draw_curves(plt, self.curve_set)
        else:
            title = draw_param(plt, self._snapshot(), self.run_ids, self.param_index)
        self.query_one("#plot-title", Static).update(title)
        plot.refresh()

    def _snapshot(self) -> SweepSnapshot | None:
        return getattr(self.app, "snapshot", None)


def draw_curves(plt: Any, curve_set: CurveSet | None) -> Text:
    """Healthy runs as one grey dot cloud, flagged runs as coloured lines; returns the title."""
    if curve_set is None:
        return Text("loading curves…")
    if not curve_set.curves:
        return Text("no objective curve among the runs shown yet", style="yellow")
    healthy = [c for c in curve_set.curves if c.issue is None]
    flagged = [c for c in curve_set.curves if c.issue is not None]
    shown = fitted_range(v for c in healthy or curve_set.curves for v in c.values)
    if shown is not None:
        # plotext walks every cell of a line, seen or not: a loss diverging to 1e8 would take minutes
        healthy, flagged = _clipped(healthy, shown), _clipped(flagged, shown)
    if healthy and len(curve_set.curves) <= MAX_LINES:
        for index, curve in enumerate(healthy):
            name = f"no issue ({len(healthy)})" if index == 0 else None
            plt.plot(list(curve.steps), list(curve.values), marker="braille", color=HEALTHY_COLOR, label=name)
    elif healthy:
        xs, ys = _flatten(healthy)
        plt.scatter(xs, ys, marker="braille", color=HEALTHY_COLOR, label=f"no issue ({len(healthy)})")
    for issue, color in ISSUE_COLORS.items():
        group = [c for c in flagged if c.issue == issue]
        if not group:
            continue
        if len(flagged) <= MAX_LINES:
            for index, curve in enumerate(group):
                name = f"{issue} ({len(group)})" if index == 0 else None
                plt.plot(list(curve.steps), list(curve.values), marker="braille", color=color, label=name)
        else:
            xs, ys = _flatten(group)
            plt.scatter(xs, ys, marker="braille", color=color, label=f"{issue} ({len(group)})")
    if shown is not None:
        plt.ylim(*shown)
    plt.xlabel(curve_set.x)
    title = Text(no_wrap=True, overflow="ellipsis")
    title.append(f"objective per {curve_set.x}: ", style="bold")
    title.append_text(safe(curve_set.metric or "", 40))
    title.append(f"  {len(curve_set.curves)} runs, {len(flagged)} flagged", style="dim")
    title.append("  (v: objective against a parameter)", style="dim")
    return title


def _clipped(curves: list[RunCurve], shown: tuple[float, float]) -> list[RunCurve]:
    """Curves with values held just outside the shown range (they leave the plot at its edge)."""
    floor, ceiling = shown[0] - (shown[1] - shown[0]), shown[1] + (shown[1] - shown[0])
    return [replace(c, values=tuple(min(max(v, floor), ceiling) for v in c.values)) for c in curves]


def _flatten(curves: list[RunCurve]) -> tuple[list[float], list[float]]:
    xs: list[float] = []
    ys: list[float] = []
    for curve in curves:
        xs.extend(curve.steps)
        ys.extend(curve.values)
    return xs, ys


def draw_param(plt: Any, snapshot: SweepSnapshot | None, run_ids: tuple[str, ...], index: int) -> Text:
    """Each shown run's best objective against one varying parameter, coloured by status."""
    if snapshot is None or not snapshot.varying:
        return Text("no parameter varies across the runs yet", style="yellow")
    param = snapshot.varying[index % len(snapshot.varying)]
    wanted = set(run_ids)
    rows = [r for r in snapshot.rows if r.id in wanted and r.best is not None and r.param(param) is not None]
    numeric = all(_is_number(r.param(param)) for r in rows)
    positions, ticks = _positions(rows, param, numeric)
    for status in STATUSES:
        chosen = [(positions[r.id], r.best) for r in rows if r.status == status]
        if chosen:
            xs, ys = zip(*chosen, strict=True)
            plt.scatter(list(xs), list(ys), marker="●", color=STATUS_COLORS[status], label=status)
    if ticks:
        plt.xticks(list(range(len(ticks))), ticks)
    elif _log_axis(param, [positions[r.id] for r in rows]):
        plt.xscale("log")
    plt.xlabel(_ascii(param))
    title = Text(no_wrap=True, overflow="ellipsis")
    title.append(f"{snapshot.objective or 'objective'} against ", style="bold")
    title.append_text(safe(param, 40, style="bold"))
    title.append(f"  {len(rows)} runs  (n: next parameter, v: curves)", style="dim")
    return title


def _positions(rows: list[RunRow], param: str, numeric: bool) -> tuple[dict[str, float], list[str]]:
    """x per run: the value itself, or for categories an index with tick labels."""
    if numeric:
        return {r.id: float(r.param(param)) for r in rows}, []
    labels = sorted({_ascii(str(r.param(param))) for r in rows})
    place = {label: i for i, label in enumerate(labels)}
    return {r.id: float(place[_ascii(str(r.param(param)))]) for r in rows}, labels


def _log_axis(param: str, xs: list[float]) -> bool:
    finite = [x for x in xs if math.isfinite(x)]
    return bool(finite) and min(finite) > 0 and (is_learning_rate(param) or max(finite) / min(finite) >= 100)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _ascii(text: str) -> str:
    """Plotext draws labels cell by cell: printable characters only, clipped."""
    return "".join(ch for ch in safe(text, 24).plain if ch.isprintable())
