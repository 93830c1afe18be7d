"""The sparkline cell: a run's newest objective values as block characters.

Rendering lives in :func:`sweeptui.app.format.sparkline` (the runs table uses it
for its ``trend`` cells); this module is the widget form, for panels that show a
single series.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.widgets import Static

from sweeptui.app.format import sparkline


class SparklineCell(Static):
    """One series as a one-line sparkline that fills the widget's width."""

    def __init__(self, values: Sequence[float] = (), **kwargs) -> None:
        super().__init__(**kwargs)
        self.values = tuple(values)

    def set_values(self, values: Sequence[float]) -> None:
        """Replace the series shown."""
        self.values = tuple(values)
        self.refresh()

    def render(self):
        return sparkline(self.values, max(self.size.width, 1))
