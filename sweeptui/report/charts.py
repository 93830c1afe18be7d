"""The HTML report's charts, drawn with plotly from the report document alone.

Every figure reads the report dict (the same one the JSON holds), never the store,
so a chart cannot disagree with the numbers beside it. This module imports plotly
and is imported only when HTML is written. Strings from the sweep are
HTML-escaped before they reach plotly, whose labels understand a little HTML.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sweeptui.report.curves import fitted_range
from sweeptui.store import STATUSES, is_learning_rate

STATUS_COLOR = {"running": "#1f77b4", "finished": "#2ca02c", "crashed": "#d62728", "killed": "#9467bd",
                "failed": "#ff7f0e"}  # fmt: skip
ISSUE_COLOR = {"nan_or_inf_metric": "#e6194b", "divergence": "#f58231", "oom": "#8c564b",
               "crashed": "#7f0000", "killed": "#911eb4", "stalled": "#bcbd22", "short_run": "#17becf",
               "overfitting_suspect": "#4363d8"}  # fmt: skip
HEALTHY = "rgba(110, 110, 110, 0.35)"
SIGNIFICANT, PLAIN = "#d62728", "#9e9e9e"
MAX_PANELS = 12
"""Params drawn per multi-panel chart (the first in the report's order)."""
def label(text: Any, limit: int = 80) -> str:
    """Sweep text made safe for a plotly label: clipped, markup-free."""
    value = str(text)
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return html.escape(value, quote=False)


def _layout(fig: go.Figure, title: str, height: int = 420, **extra: Any) -> go.Figure:
    fig.update_layout(title={"text": title, "x": 0.01}, height=height, template="plotly_white",
                      margin={"l": 60, "r": 20, "t": 60, "b": 50}, legend={"itemsizing": "constant"},
                      **extra)  # fmt: skip
    return fig


def _empty(title: str, why: str) -> go.Figure:
    """A chart with nothing to draw says why, rather than vanishing from the page."""
    fig = go.Figure()
    fig.add_annotation(text=why, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font={"size": 15, "color": "#666"})  # fmt: skip
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, title, height=220)


def _joined(curves: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Many curves as one trace: points joined, curves separated by gaps (NaN).

    Numpy arrays, not lists: plotly checks a list element by element (seconds for a
    thousand curves) and writes a float array as compact binary.
    """
    lengths = [len(curve["steps"]) + 1 for curve in curves]
    xs = np.empty(sum(lengths))
    ys = np.empty(sum(lengths))
    start = 0
    for curve, length in zip(curves, lengths, strict=True):
        end = start + length - 1
        xs[start:end] = curve["steps"]
        ys[start:end] = np.array(curve["values"], dtype=float)  # null (non-finite) -> NaN: a gap
        xs[end] = ys[end] = np.nan
        start = end + 1
    names = np.repeat(np.array([label(curve["id"]) for curve in curves], dtype=object), lengths)
    return xs, ys, names


def curves_chart(report: dict[str, Any]) -> go.Figure:
    """(1) The objective per step of every run: healthy thin and grey, flagged coloured by issue."""
    data = report.get("curves") or {}
    title = f"Objective per {data.get('x') or 'step'}: {label(data.get('metric') or '')}"
    runs = data.get("runs") or []
    if not runs:
        return _empty("Objective per step", "No run has logged the objective yet.")
    fig = go.Figure()
    healthy = [c for c in runs if c["issue"] is None]
    if healthy:
        xs, ys, _ = _joined(healthy)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=f"no issue ({len(healthy)})",
                                 line={"color": HEALTHY, "width": 0.8}, hoverinfo="skip"))  # fmt: skip
    for issue_type, color in ISSUE_COLOR.items():
        group = [c for c in runs if c["issue"] == issue_type]
        if not group:
            continue
        xs, ys, names = _joined(group)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=f"{issue_type} ({len(group)})",
                                 line={"color": color, "width": 1.4}, text=names,
                                 hovertemplate="%{text}<br>%{x}: %{y}<extra></extra>"))  # fmt: skip
    shown = _value_range(runs)
    onsets = [c for c in runs if c.get("onset") and c["onset"]["value"] is not None]
    if onsets:
        # an onset above the fitted range (a divergence is found once the loss has run away) sits
        # on the top edge; its hover gives the real value
        top = shown[1] if shown else math.inf
        fig.add_trace(go.Scatter(
            x=[c["onset"]["step"] for c in onsets], y=[min(c["onset"]["value"], top) for c in onsets],
            mode="markers", name="onset (NaN / divergence)", cliponaxis=False,
            text=[label(c["id"]) for c in onsets], customdata=[c["onset"]["value"] for c in onsets],
            marker={"symbol": "x", "size": 9, "color": [ISSUE_COLOR[c["onset"]["type"]] for c in onsets],
                    "line": {"width": 1, "color": "black"}},
            hovertemplate="%{text}<br>onset at " + (data.get("x") or "step") + " %{x}: %{customdata}"
                          "<extra></extra>",
        ))  # fmt: skip
    fig.update_yaxes(range=shown, title=label(data.get("metric") or ""))
    fig.update_xaxes(title=data.get("x") or "step")
    return _layout(fig, title, height=520)


def _value_range(runs: list[dict[str, Any]]) -> list[float] | None:
    """A y range fitted to the curves that did not blow up (see :func:`fitted_range`)."""
    basis = [c for c in runs if c["issue"] not in ("divergence", "nan_or_inf_metric")] or runs
    shown = fitted_range(v for c in basis for v in c["values"])
    return list(shown) if shown else None


def failure_rate_chart(report: dict[str, Any]) -> go.Figure:
    """(2) The share of runs with an issue per bucket, one panel per param; significant buckets red."""
    title = "Failure rate per parameter bucket (red: significantly more than the rest)"
    effects = report.get("param_effects") or []
    params = list(dict.fromkeys(e["param"] for e in effects))[:MAX_PANELS]
    if not params:
        return _empty("Failure rate per parameter bucket", "No parameter varies across the runs.")
    fig = _panels(params)
    for index, param in enumerate(params):
        entries = [e for e in effects if e["param"] == param]
        fig.add_trace(go.Bar(
            x=[label(e["bucket"], 30) for e in entries], y=[e["issue_rate"] for e in entries],
            marker={"color": [SIGNIFICANT if e["significant"] else PLAIN for e in entries]},
            customdata=[[e["issue_runs"], e["runs"], ", ".join(e["findings"]) or "—"] for e in entries],
            hovertemplate="%{x}: %{customdata[0]} of %{customdata[1]} runs with issues<br>"
                          "significant for: %{customdata[2]}<extra></extra>",
            showlegend=False,
        ), row=index // 2 + 1, col=index % 2 + 1)  # fmt: skip
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%")
    fig.update_xaxes(type="category")
    return _layout(fig, title, height=_panel_height(len(params)))


def _panels(params: list[str]) -> go.Figure:
    rows = (len(params) + 1) // 2
    return make_subplots(rows=rows, cols=2, subplot_titles=[label(p, 40) for p in params],
                         vertical_spacing=min(0.12, 0.6 / rows), horizontal_spacing=0.08)  # fmt: skip


def _panel_height(panels: int) -> int:
    return 140 + 260 * ((panels + 1) // 2)


def objective_vs_params_chart(report: dict[str, Any]) -> go.Figure:
    """(3) Each run's objective against each param (log axis for learning rates), coloured by status."""
    objective = report.get("objective")
    params = (report.get("varying_params") or [])[:MAX_PANELS]
    runs = [r for r in report["runs"] if r["best"] is not None]
    if objective is None or not params or not runs:
        why = "No parameter varies across the runs." if objective and runs else "No objective to plot."
        return _empty("Objective against each parameter", why)
    fig = _panels(params)
    for index, param in enumerate(params):
        row, col = index // 2 + 1, index % 2 + 1
        values = [r["params"].get(param) for r in runs]
        numeric = all(_is_number(v) for v in values if v is not None)
        for status in STATUSES:
            chosen = [(v, r) for v, r in zip(values, runs, strict=True)
                      if r["status"] == status and v is not None]  # fmt: skip
            if not chosen:
                continue
            fig.add_trace(go.Scatter(
                x=[v if numeric else label(v, 30) for v, _ in chosen], y=[r["best"] for _, r in chosen],
                mode="markers", name=status, legendgroup=status, showlegend=index == 0,
                marker={"color": STATUS_COLOR[status], "size": 7, "opacity": 0.75},
                text=[label(r["name"]) for _, r in chosen],
                hovertemplate="%{text}<br>" + label(param, 40) + " = %{x}<br>%{y}<extra></extra>",
            ), row=row, col=col)  # fmt: skip
        axis = _axis_type(param, values, numeric)
        fig.update_xaxes(type=axis, dtick=1 if axis == "log" else None, row=row, col=col)
    fig.update_yaxes(title=label(objective["metric"], 30), col=1)
    return _layout(fig, f"Objective ({label(objective['metric'])}) against each parameter",
                   height=_panel_height(len(params)))  # fmt: skip


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _axis_type(param: str, values: list[Any], numeric: bool) -> str:
    """``log`` for learning rates and positive values spanning two decades, else linear or category."""
    if not numeric:
        return "category"
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    if finite and min(finite) > 0 and (is_learning_rate(param) or max(finite) / min(finite) >= 100):
        return "log"
    return "linear"


def deaths_chart(report: dict[str, Any]) -> go.Figure:
    """(4) How many runs died at each last-logged epoch (or step range)."""
    data = report.get("crash_epochs") or {}
    entries = data.get("entries") or []
    if not data.get("died"):
        return _empty("Deaths by epoch", "No run died.")
    unit = data.get("unit") or "epoch"
    fig = go.Figure(go.Bar(
        x=[label(e["at"], 30) for e in entries], y=[e["runs"] for e in entries],
        marker={"color": SIGNIFICANT},
        customdata=[", ".join(label(r, 40) for r in e["example_runs"][:3]) for e in entries],
        hovertemplate="%{x}: %{y} runs died<br>e.g. %{customdata}<extra></extra>",
    ))  # fmt: skip
    fig.update_xaxes(type="category", title=f"last {unit} logged")
    fig.update_yaxes(title="runs that died")
    return _layout(fig, f"Deaths by {unit}", height=360)


def timeline_chart(report: dict[str, Any]) -> go.Figure:
    """(5) Each run as a bar from its start to its end on wall-clock time, coloured by status;
    the part of a run spent after it went NaN or diverged is darkened."""
    timed = [r for r in report["runs"] if r.get("run_hours")]
    if not timed:
        return _empty("Timeline", "No run has timestamps to place it in time.")
    timed.sort(key=lambda r: (r["first_update"], r["id"]))
    key = "name" if len({r["name"] for r in timed}) == len(timed) else "id"  # one row per run
    rows = [label(r[key], 50) for r in timed]
    fig = go.Figure()
    for status in STATUSES:
        chosen = [(row, r) for row, r in zip(rows, timed, strict=True) if r["status"] == status]
        if chosen:
            fig.add_trace(_bars(chosen, "first_update", status, STATUS_COLOR[status]))
    lost = [(row, r) for row, r in zip(rows, timed, strict=True)
            if r.get("lost_since") and r["status"] not in ("crashed", "killed", "failed")]  # fmt: skip
    if lost:
        fig.add_trace(_bars(lost, "lost_since", "lost after NaN / divergence", "rgba(0, 0, 0, 0.55)"))
    fig.update_layout(barmode="overlay", bargap=0.15 if len(timed) <= 60 else 0)
    fig.update_yaxes(autorange="reversed", categoryorder="array", categoryarray=rows,
                     showticklabels=len(timed) <= 60, title="run (by start)")  # fmt: skip
    fig.update_xaxes(type="date", title="wall-clock time (UTC)")
    untimed = len(report["runs"]) - len(timed)
    note = f" ({untimed} without timestamps not shown)" if untimed else ""
    height = min(max(18 * len(timed) + 140, 320), 1100)
    return _layout(fig, "Timeline: each run from start to end" + note, height=height)


def _bars(chosen: list[tuple[str, dict[str, Any]]], start_key: str, name: str, color: str) -> go.Bar:
    starts = [_time(r[start_key]) for _, r in chosen]
    ends = [_time(r["last_update"]) for _, r in chosen]
    return go.Bar(
        y=[row for row, _ in chosen], base=[_plotly_date(s) for s in starts],
        x=[(e - s).total_seconds() * 1000 for s, e in zip(starts, ends, strict=True)],
        orientation="h", name=name, marker={"color": color, "line": {"width": 0}},
        text=[row for row, _ in chosen],
        textposition="none", customdata=[round(r["run_hours"], 3) for _, r in chosen],
        hovertemplate="%{text}<br>from %{base}<br>%{customdata} h<extra></extra>",
    )  # fmt: skip


def _time(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


def _plotly_date(moment: datetime) -> str:
    """UTC as plotly's date axis reads it (it takes no offset: ``+00:00`` breaks the axis)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def time_vs_objective_chart(report: dict[str, Any]) -> go.Figure:
    """(6) Each run's training time (wall hours) against its objective, coloured by status."""
    objective = report.get("objective")
    runs = [r for r in report["runs"] if r["best"] is not None and r.get("run_hours")]
    if objective is None or not runs:
        why = "No run has both timestamps and an objective." if objective else "No objective to plot."
        return _empty("Training time against the objective", why)
    fig = go.Figure()
    for status in STATUSES:
        chosen = [r for r in runs if r["status"] == status]
        if chosen:
            fig.add_trace(go.Scatter(
                x=[r["run_hours"] for r in chosen], y=[r["best"] for r in chosen], mode="markers",
                name=status, marker={"color": STATUS_COLOR[status], "size": 8, "opacity": 0.75},
                text=[label(r["name"]) for r in chosen],
                hovertemplate="%{text}<br>%{x:.3g} h: %{y}<extra></extra>",
            ))  # fmt: skip
    fig.update_xaxes(title="training time (run-hours)")
    fig.update_yaxes(title=label(objective["metric"], 30))
    return _layout(fig, f"Training time against the objective ({label(objective['metric'])})")


CHARTS: dict[str, Callable[[dict[str, Any]], go.Figure]] = {
    "curves": curves_chart,
    "failure_rate": failure_rate_chart,
    "objective_vs_params": objective_vs_params_chart,
    "deaths": deaths_chart,
    "timeline": timeline_chart,
    "time_vs_objective": time_vs_objective_chart,
}
"""Every chart of the HTML report, by the id of its ``<div>`` (``chart-<key>``)."""


def chart_divs(report: dict[str, Any]) -> dict[str, str]:
    """Each chart as an HTML fragment (a ``<div>`` and its script; plotly.js itself is not included)."""
    config = {"displaylogo": False, "responsive": True}
    return {
        key: draw(report).to_html(full_html=False, include_plotlyjs=False, div_id=f"chart-{key}",
                                  config=config)
        for key, draw in CHARTS.items()
    }


def plotly_js() -> str:
    """The plotly.js library, to embed once per page (the page then works offline)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()
