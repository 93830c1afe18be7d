"""A text panel that redraws only when its text changed, and lays out only when its height did.

``Static.update`` asks for a layout pass of the whole screen by default, which repaints every
widget; the panels here are re-rendered from each snapshot, mostly with the same text.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class TextPanel(Static):
    """A ``Static`` showing one ``Text``, updated through :meth:`show_text`."""

    wraps = False
    """True when lines may wrap: then a changed text always gets a layout pass."""
    _shown_text: Text | None = None
    _shown_lines = -1

    def show_text(self, text: Text) -> None:
        """Show ``text``: nothing when it is what is shown, no layout when the height holds."""
        shown = self._shown_text
        if shown is not None and shown.plain == text.plain and shown.spans == text.spans:
            return
        lines = text.plain.count("\n") + 1
        self.update(text, layout=self.wraps or lines != self._shown_lines)
        self._shown_text, self._shown_lines = text, lines
