"""The live runs table: one row per run, updated in place by row key.

Each snapshot adds rows for new runs, rewrites only the cells whose value changed
and removes rows that vanished or no longer match the filter; the table is never
cleared and refilled, so the cursor and scroll position survive updates.

Cells are rewritten only for rows on screen: a changed row off screen is marked
stale and redrawn when it scrolls into view. With 1,000 runs changing every
second, a snapshot then costs a few dozen cell updates, not thousands.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from sweeptui.app.format import badges, number, safe, sparkline, status_text
from sweeptui.numbers import percent
from sweeptui.snapshot import RunRow, SweepSnapshot
from sweeptui.textsafe import one_line

COLUMNS = ("status", "run", "params", "step", "done", "last", "best", "trend", "issues")
SPARK_WIDTH = 10
COMPACT_WIDTH = 110

_BLANK = Text("")
_STATUS_ORDER = {"crashed": 0, "killed": 1, "failed": 2, "running": 3, "finished": 4}


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


class RunsTable(DataTable):
    """Runs of the sweep, sortable and filterable."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.rows_by_key: dict[str, RunRow] = {}
        self.sort_key = "arrival"
        self.filter_text = ""
        self.name_width = 24
        self.params_width = 28
        self._rendered: dict[str, dict[str, Text]] = {}
        self._order: dict[str, int] = {}
        self._goal = "min"
        self._stale: set[str] = set()
        self._remeasure: set[str] = set()
        self.compact = False
        self.spark_width = SPARK_WIDTH

    def on_mount(self) -> None:
        for column in COLUMNS:
            self.add_column(Text(column, style="bold"), key=column)

    # -- public API -------------------------------------------------------------------
    def show(self, snapshot: SweepSnapshot) -> None:
        """Bring the table to ``snapshot``: add, update and remove rows by key."""
        self._goal = "max" if (snapshot.objective or "").endswith("(max)") else "min"
        wanted: dict[str, RunRow] = {}
        for index, row in enumerate(snapshot.rows):
            self._order.setdefault(row.id, index)
            if self._matches(row):
                wanted[row.id] = row
        with self.app.batch_update():
            removed = [key for key in self.rows_by_key if key not in wanted]
            for key in removed:
                self.remove_row(key)
                del self.rows_by_key[key]
                self._rendered.pop(key, None)
                self._stale.discard(key)
                self._remeasure.discard(key)
            added = [key for key in wanted if key not in self.rows_by_key]
            changed = self._take(wanted)
            if (changed and self.sort_key != "arrival") or (added and len(added) < len(wanted)):
                self._apply_sort()
            self.refresh_visible()

    def refresh_visible(self) -> None:
        """Rewrite the changed cells of stale rows that are on screen."""
        if not self._stale:
            return
        first = max(int(self.scroll_y) - 2, 0)
        last = min(first + self.size.height + 4, self.row_count)
        rows = self.ordered_rows
        for index in range(first, last):
            key = rows[index].key.value
            if key in self._stale:
                self._redraw(key)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if round(old_value) != round(new_value):
            self.refresh_visible()

    def set_filter(self, text: str, snapshot: SweepSnapshot | None) -> None:
        """Show only runs whose name, params, status or issues contain every word of ``text``."""
        self.filter_text = text.strip().lower()
        if snapshot is not None:
            self.show(snapshot)

    def cycle_sort(self) -> str:
        """Switch to the next sort order; returns its name."""
        keys = list(SORT_KEYS)
        self.sort_key = keys[(keys.index(self.sort_key) + 1) % len(keys)]
        self._apply_sort()
        return self.sort_key

    def selected_run(self) -> str | None:
        """The id of the run under the cursor."""
        if not self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return row_key.value

    def set_widths(self, total_width: int) -> None:
        """Fit the columns to ``total_width`` cells (applied on the next show).

        Below :data:`COMPACT_WIDTH` the status shows as its icon and the sparkline
        shrinks, so name and params keep readable room at 80 columns.
        """
        self.compact = total_width < COMPACT_WIDTH
        self.spark_width = 6 if self.compact else SPARK_WIDTH
        status = 1 if self.compact else 10
        fixed = status + 6 + 4 + 7 + 7 + self.spark_width + 7 + 2 * len(COLUMNS) + 4
        free = max(total_width - fixed, 12)
        self.name_width = max(6, min(32, free * 11 // 20))
        self.params_width = max(6, min(60, free - self.name_width))
        self._stale.update(self.rows_by_key)
        self._remeasure.update(self.rows_by_key)
        # Let the columns shrink to the new widths: they grow back as rows are redrawn.
        for column in self.columns.values():
            column.content_width = column.label.cell_len

    # -- internals ----------------------------------------------------------------------
    def _matches(self, row: RunRow) -> bool:
        if not self.filter_text:
            return True
        words = [row.name, row.status, *row.issues, *(f"{k}={v}" for k, v in row.params)]
        haystack = " ".join(words).lower()
        return all(word in haystack for word in self.filter_text.split())

    def _take(self, wanted: dict[str, RunRow]) -> bool:
        """Record the new rows; add unseen runs now, mark changed ones stale. True if any changed."""
        changed = False
        for key, row in wanted.items():
            if self.rows_by_key.get(key) is row:
                continue
            changed = True
            self.rows_by_key[key] = row
            if key in self._rendered:
                self._stale.add(key)
            else:
                self._add(key, row)
        return changed

    def _add(self, key: str, row: RunRow) -> None:
        """A new row: fully drawn while the table is short, else name-only and stale.

        With thousands of runs arriving at once, drawing every cell of rows nobody
        sees would stall the UI; those rows are drawn when they scroll into view.
        """
        if self.row_count < self.size.height + 8:
            cells = self._cells(row)
        else:
            cells = dict.fromkeys(COLUMNS, _BLANK)
            cells["status"] = status_text(row.status, short=self.compact)
            cells["run"] = _KeyedText.of(safe(row.name, self.name_width), row.id)
            self._stale.add(key)
        self.add_row(*cells.values(), key=key)
        self._rendered[key] = cells

    def _redraw(self, key: str) -> None:
        """Bring one row's cells up to date with its newest data."""
        self._stale.discard(key)
        cells = self._cells(self.rows_by_key[key])
        previous = self._rendered[key]
        remeasure = key in self._remeasure
        self._remeasure.discard(key)
        for column, cell in cells.items():
            if remeasure or previous[column] != cell:
                self.update_cell(key, column, cell, update_width=self._widens(column, cell))
        self._rendered[key] = cells

    def _widens(self, column: str, cell: Text) -> bool:
        """Whether ``cell`` needs its column wider. Columns only grow here: narrowing one
        makes the table measure every cell of the column (thousands of rows)."""
        return cell.cell_len > self.columns[ColumnKey(column)].content_width

    def _cells(self, row: RunRow) -> dict[str, Text]:
        step = row.epoch if row.epoch is not None else row.step
        unit = "ep " if row.epoch is not None else ""
        params = " ".join(f"{_key(k, self.compact)}={_value(v)}" for k, v in row.params)
        return {
            "status": status_text(row.status, short=self.compact),
            "run": _KeyedText.of(safe(row.name, self.name_width), row.id),
            "params": safe(params, self.params_width, style="dim"),
            "step": Text(f"{unit}{number(step)}", justify="right"),
            "done": Text(percent(row.progress), justify="right"),
            "last": Text(number(row.last), justify="right"),
            "best": Text(number(row.best), justify="right", style="bold"),
            "trend": sparkline(row.spark, self.spark_width),
            "issues": badges(row.issues),
        }

    def _apply_sort(self) -> None:
        rank = SORT_KEYS[self.sort_key]
        order, rows, goal = self._order, self.rows_by_key, self._goal

        def key(cells: tuple) -> Any:
            run_id = cells[1].run_id
            return (rank(rows[run_id], goal), order.get(run_id, 0))

        self.sort(key=key)
        self.refresh_visible()


class _KeyedText(Text):
    """A ``Text`` that also carries the run id of its row (sorting sees only cells)."""

    run_id: str = ""

    @classmethod
    def of(cls, text: Text, run_id: str) -> _KeyedText:
        keyed = cls(text.plain, style=text.style, no_wrap=True, overflow="ellipsis")
        keyed.run_id = run_id
        return keyed


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
