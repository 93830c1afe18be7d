"""The live runs table: one line per run, drawn line by line from the latest snapshot.

It is a :class:`~textual.scroll_view.ScrollView` using Textual's line API rather
than a ``DataTable``: a snapshot only replaces the rows it holds and repaints the
lines of rows that changed *and are on screen*. Each row's line is cached by the
identity of its (immutable) :class:`~sweeptui.snapshot.RunRow`, so a frame with
1,000 runs changing costs the few dozen visible lines, and 10,000 runs scroll as
cheaply as 100. (A ``DataTable`` forgets every rendered cell whenever any cell
changes, which made each snapshot re-render the whole visible table.)
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from sweeptui.app.format import badges, number, safe, sparkline, status_text
from sweeptui.numbers import percent
from sweeptui.snapshot import RunRow, SweepSnapshot
from sweeptui.textsafe import one_line

SPARK_WIDTH = 10
COMPACT_WIDTH = 110
"""Below this many columns the status shows as its icon and param names as initials."""

NAME_LIMIT = 32
PARAMS_LIMIT = 80
"""Longest run name and params text measured; the columns clip them further to fit."""
FITTED_MINIMUM = {"run": 3, "params": 6, "issues": 8}
"""Starting widths of the content-sized columns (they grow to their widest cell)."""

_STATUS_ORDER = {"crashed": 0, "killed": 1, "failed": 2, "running": 3, "finished": 4}


@dataclass(frozen=True, slots=True)
class Column:
    """A column: its key, header label, width in cells and alignment."""

    key: str
    label: str
    width: int
    justify: str = "left"


def _number_key(value: float | None, descending: bool = False) -> tuple[int, float]:
    if value is None or not math.isfinite(value):
        return (1, 0.0)
    return (0, -value if descending else value)


SORT_KEYS: dict[str, Callable[[RunRow, str], Any]] = {
    "arrival": lambda row, goal: 0,
    "issues": lambda row, goal: (-len(row.issues), _STATUS_ORDER.get(row.status, 9)),
    "status": lambda row, goal: _STATUS_ORDER.get(row.status, 9),
    "best": lambda row, goal: _number_key(row.best, descending=goal == "max"),
    "progress": lambda row, goal: _number_key(row.progress, descending=True),
    "name": lambda row, goal: row.name.lower(),
}
"""Sort orders cycled with ``s``: worst first for issues, best first for the objective."""

SORTED_COLUMN = {"issues": "issues", "status": "status", "best": "best", "progress": "done", "name": "run"}
"""The column whose header is marked for each sort order."""


class RunsTable(ScrollView, can_focus=True):
    """Runs of the sweep, sortable and filterable; Enter or a click opens a run."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select", "Detail", show=False),
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home,ctrl+home", "first", "First run", show=False),
        Binding("end,ctrl+end", "last", "Last run", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "runs-table--header", "runs-table--even-row", "runs-table--odd-row", "runs-table--cursor",
        "runs-table--empty",
    }  # fmt: skip

    class RowSelected(Message):
        """A run was chosen (Enter or click) in the table."""

        def __init__(self, run_id: str) -> None:
            super().__init__()
            self.run_id = run_id

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rows_by_key: dict[str, RunRow] = {}
        """The runs shown (those matching the filter), by run id."""
        self.order: list[str] = []
        """Run ids in display order."""
        self.sort_key = "arrival"
        self.filter_text = ""
        self.cursor_row = 0
        self.compact = False
        self.spark_width = SPARK_WIDTH
        self._width_hint = 76
        self._layout_width = 0
        self.columns: tuple[Column, ...] = ()
        self._all_rows: tuple[RunRow, ...] = ()
        self._arrival: dict[str, int] = {}
        self._index: dict[str, int] = {}
        self._goal = "min"
        self._fitted = dict(FITTED_MINIMUM)
        """Widest cell seen per content-sized column: those columns only grow."""
        self._layout = 0
        """Bumped whenever column widths change: cached lines of older layouts are stale."""
        self._lines: dict[str, tuple[RunRow, tuple, Strip]] = {}
        self._haystacks: dict[str, tuple[RunRow, str]] = {}
        self.set_widths(80)

    # -- public API -------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        """Rows shown (after the filter)."""
        return len(self.order)

    def show(self, snapshot: SweepSnapshot) -> None:
        """Bring the table to ``snapshot``; repaint only on-screen rows that changed."""
        self._goal = "max" if (snapshot.objective or "").endswith("(max)") else "min"
        self._all_rows = snapshot.rows
        wanted: dict[str, RunRow] = {}
        for index, row in enumerate(snapshot.rows):
            self._arrival.setdefault(row.id, index)
            if self._matches(row):
                wanted[row.id] = row
        previous, self.rows_by_key = self.rows_by_key, wanted
        changed = [key for key, row in wanted.items() if previous.get(key) is not row]
        if wanted.keys() != previous.keys() or (changed and self.sort_key != "arrival"):
            self._reorder()
        else:
            self._repaint(changed)

    def set_filter(self, text: str, snapshot: SweepSnapshot | None = None) -> None:
        """Show only runs whose name, params, status or issues contain every word of ``text``."""
        self.filter_text = text.strip().lower()
        if snapshot is not None:
            self.show(snapshot)

    def cycle_sort(self) -> str:
        """Switch to the next sort order; returns its name."""
        keys = list(SORT_KEYS)
        self.sort_key = keys[(keys.index(self.sort_key) + 1) % len(keys)]
        self._relayout()
        self._reorder()
        return self.sort_key

    def selected_run(self) -> str | None:
        """The id of the run under the cursor."""
        return self.order[self.cursor_row] if self.order else None

    def get_row_index(self, run_id: str) -> int:
        """The display position of ``run_id`` (KeyError when it is not shown)."""
        return self._index[run_id]

    def get_cell(self, run_id: str, column: str) -> Text:
        """The cell of ``run_id`` in ``column`` as it is drawn (before clipping)."""
        return self._cells(self.rows_by_key[run_id])[column]

    def move_cursor(self, row: int) -> None:
        """Put the cursor on display row ``row`` (clamped) and scroll it into view."""
        if not self.order:
            self.cursor_row = 0
            return
        row = min(max(row, 0), len(self.order) - 1)
        old, self.cursor_row = self.cursor_row, row
        self.refresh_lines(old + 1)
        self.refresh_lines(row + 1)
        self._scroll_into_view(row)

    def set_widths(self, total_width: int) -> None:
        """Adapt the columns to a table ``total_width`` cells wide (border included).

        Below :data:`COMPACT_WIDTH` the status shows as its icon, param names as
        initials and the sparkline shrinks, so name and params keep readable room
        at 80 columns. The exact widths follow the widget's size on each layout.
        """
        self.compact = total_width < COMPACT_WIDTH
        self.spark_width = 6 if self.compact else SPARK_WIDTH
        self._width_hint = max(total_width - 4, 20)
        self._fitted = dict(FITTED_MINIMUM)
        self._relayout()

    # -- actions -------------------------------------------------------------------------
    def action_cursor(self, delta: int) -> None:
        """Move the cursor ``delta`` rows."""
        self.move_cursor(self.cursor_row + delta)

    def action_page(self, direction: int) -> None:
        """Move the view and the cursor one page (the cursor keeps its place on screen)."""
        page = max(self._visible_height() - 1, 1)
        self._scroll_y(int(self.scroll_offset.y) + direction * page)
        self.move_cursor(self.cursor_row + direction * page)

    def action_first(self) -> None:
        """Cursor to the first run."""
        self.move_cursor(0)

    def action_last(self) -> None:
        """Cursor to the last run."""
        self.move_cursor(len(self.order) - 1)

    def action_select(self) -> None:
        """Open the run under the cursor."""
        run_id = self.selected_run()
        if run_id is not None:
            self.post_message(self.RowSelected(run_id))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y == 0:
            return
        row = int(self.scroll_offset.y) + offset.y - 1
        if 0 <= row < len(self.order):
            self.move_cursor(row)
            self.action_select()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def on_resize(self) -> None:
        self._relayout()
        self._update_virtual_size()
        if self.order:  # a shorter table must not hide the cursor
            self._scroll_into_view(self.cursor_row)

    # -- drawing -------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if width != self._layout_width:  # resized, or a scrollbar came or went
            self._relayout()
        if y == 0:
            return self._header(width)
        index = int(self.scroll_offset.y) + y - 1
        if index >= len(self.order):
            if index == 0:
                return self._empty_line(width)
            return Strip.blank(width, self.rich_style)
        return self._row_line(index, width)

    def _row_line(self, index: int, width: int) -> Strip:
        run_id = self.order[index]
        row = self.rows_by_key[run_id]
        if index == self.cursor_row:
            role = "cursor-focus" if self.has_focus else "cursor"
        else:
            role = "even-row" if index % 2 == 0 else "odd-row"
        signature = (role, width, self._layout)
        cached = self._lines.get(run_id)
        if cached is not None and cached[0] is row and cached[1] == signature:
            return cached[2]
        cells = self._cells(row)
        if self._fit(cells):  # a wider cell: every line is redrawn in the new layout
            self.refresh()
            signature = (role, width, self._layout)
        component = "runs-table--cursor" if role.startswith("cursor") else f"runs-table--{role}"
        strip = self._draw_line(cells, self.get_component_rich_style(component), width)
        self._lines[run_id] = (row, signature, strip)
        return strip

    def _draw_line(self, cells: dict[str, Text], base: Style, width: int) -> Strip:
        """One table line: each cell clipped and aligned to its column, on ``base``."""
        line = Text(no_wrap=True, end="")
        for column in self.columns:
            cell = cells[column.key].copy()
            cell.overflow = "ellipsis"
            cell.align(column.justify, column.width)  # type: ignore[arg-type]
            line.append(" ")
            line.append_text(cell)
        rendered = line.render(self.app.console)
        segments = [Segment(text, base + style if style else base) for text, style, _ in rendered]
        return Strip(segments).adjust_cell_length(width, base)

    def _header(self, width: int) -> Strip:
        style = self.get_component_rich_style("runs-table--header")
        marked = SORTED_COLUMN.get(self.sort_key)
        cells = {c.key: Text(_label(c, c.key == marked)) for c in self.columns}
        return self._draw_line(cells, style, width)

    def _empty_line(self, width: int) -> Strip:
        style = self.get_component_rich_style("runs-table--empty")
        message = "no runs match the filter" if self.filter_text and self._all_rows else "waiting for runs…"
        return Strip([Segment(f" {message}", style)]).adjust_cell_length(width, self.rich_style)

    # -- internals ----------------------------------------------------------------------
    def _matches(self, row: RunRow) -> bool:
        if not self.filter_text:
            return True
        cached = self._haystacks.get(row.id)
        if cached is None or cached[0] is not row:
            early = ["stopped"] if row.stopped_early else []
            words = [row.name, row.status, *early, *row.issues, *(badges(row.issues).plain.split())]
            for key, value in row.params:  # as stored, and as the table shows it at any width
                words.extend({f"{key}={value}", f"{_key(key, False)}={_value(value)}",
                              f"{_key(key, True)}={_value(value)}"})  # fmt: skip
            cached = self._haystacks[row.id] = (row, " ".join(words).lower())
        return all(word in cached[1] for word in self.filter_text.split())

    def _reorder(self) -> None:
        """Sort the shown rows, forget lines of vanished runs, repaint everything."""
        rank, arrival, goal = SORT_KEYS[self.sort_key], self._arrival, self._goal
        rows = self.rows_by_key
        if self.sort_key == "arrival":
            self.order = sorted(rows, key=arrival.__getitem__)
        else:
            self.order = sorted(rows, key=lambda key: (rank(rows[key], goal), arrival[key]))
        self._index = {key: position for position, key in enumerate(self.order)}
        if len(self._lines) > len(rows):
            self._lines = {key: line for key, line in self._lines.items() if key in rows}
        self.cursor_row = min(self.cursor_row, max(len(self.order) - 1, 0))
        self._update_virtual_size()
        self.refresh()

    def _repaint(self, changed: list[str]) -> None:
        """Repaint the lines of ``changed`` runs that are on screen."""
        top = int(self.scroll_offset.y)
        bottom = top + self._visible_height()
        index = self._index
        for key in changed:
            position = index[key]
            if top <= position < bottom:
                self.refresh_lines(position + 1)

    def _relayout(self) -> None:
        """Recompute the column widths for the content width and repaint.

        Content-sized columns (run, params, issues) take what their widest cell so
        far needs, within caps; params gets the room the others leave.
        """
        compact, fitted = self.compact, self._fitted
        width = self.scrollable_content_region.width or self._width_hint
        self._layout_width = self.scrollable_content_region.width
        status = 1 if compact else 10
        fixed = status + 8 + 4 + 8 + 8 + self.spark_width
        issues = min(24, fitted["issues"])
        name_cap = max(6, min(32, (width - fixed - issues) * 11 // 20))
        name = min(name_cap, fitted["run"])
        gaps = 9
        params = max(6, min(fitted["params"], width - fixed - issues - name - gaps))
        self.columns = (
            Column("status", "" if compact else "status", status),
            Column("run", "run", name),
            Column("params", "params", params),
            Column("step", "step", 8, "right"),
            Column("done", "done", 4, "right"),
            Column("last", "last", 8, "right"),
            Column("best", "best", 8, "right"),
            Column("trend", "trend", self.spark_width),
            Column("issues", "issues", issues),
        )
        self._layout += 1
        self.refresh()

    def _fit(self, cells: dict[str, Text]) -> bool:
        """Widen content-sized columns for ``cells``; True when the layout changed."""
        grown = False
        for key in self._fitted:
            if cells[key].cell_len > self._fitted[key]:
                self._fitted[key] = cells[key].cell_len
                grown = True
        if grown:
            self._relayout()
        return grown

    def _visible_height(self) -> int:
        return max(self.scrollable_content_region.height - 1, 1)

    def _update_virtual_size(self) -> None:
        self.virtual_size = Size(self.scrollable_content_region.width, len(self.order) + 1)

    def _scroll_into_view(self, row: int) -> None:
        top = int(self.scroll_offset.y)
        height = self._visible_height()
        if row < top:
            self._scroll_y(row)
        elif row >= top + height:
            self._scroll_y(row - height + 1)

    def _scroll_y(self, y: int) -> None:
        # immediate: the next key must see the new position; force: right after rows
        # arrive, Textual may not yet have decided the table needs a scrollbar, and
        # would otherwise ignore the scroll
        self.scroll_to(y=y, animate=False, immediate=True, force=True)

    def _cells(self, row: RunRow) -> dict[str, Text]:
        step = row.epoch if row.epoch is not None else row.step
        unit = "ep " if row.epoch is not None else ""
        params = " ".join(f"{_key(k, self.compact)}={_value(v)}" for k, v in row.params)
        return {
            "status": status_text(row.status, short=self.compact, stopped_early=row.stopped_early),
            "run": safe(row.name, NAME_LIMIT),
            "params": safe(params, PARAMS_LIMIT, style="dim"),
            "step": Text(f"{unit}{number(step)}"),
            "done": Text(percent(row.progress)),
            "last": Text(number(row.last)),
            "best": Text(number(row.best), style="bold"),
            "trend": sparkline(row.spark, self.spark_width),
            "issues": badges(row.issues),
        }


def _label(column: Column, sorted_by: bool) -> str:
    """The header of ``column``, with a sort mark when it is the sort column and it fits."""
    marked = f"{column.label} ▼"
    return marked if sorted_by and len(marked) <= column.width else column.label


def _key(key: str, compact: bool) -> str:
    """A param name for the table: its last dotted part; initials (``bs``) when compact."""
    leaf = key.rsplit(".", 1)[-1]
    if not compact:
        return leaf
    parts = [part for part in re.split(r"[_\-]+", leaf) if part]
    return "".join(part[0] for part in parts) if len(parts) > 1 else leaf[:8]


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return one_line(value, 16)
