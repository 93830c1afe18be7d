"""Untrusted text is made harmless before any view shows it."""

from __future__ import annotations

from sweeptui.textsafe import clean_text, markdown_cell, one_line


def test_escape_sequences_and_bidi_overrides_are_removed():
    hostile = "run\x1b]0;pwned\x07-\x1b[31mred\x1b[0m\u202eevil\x00\x9b2J"
    assert clean_text(hostile) == "run-redevil"


def test_rich_markup_is_kept_literally():
    assert clean_text("[red]x[/] [@click=app.quit]q[/]") == "[red]x[/] [@click=app.quit]q[/]"


def test_one_line_folds_newlines_and_clips():
    assert one_line("a\r\nb\tc", limit=None) == "a b\tc"
    assert one_line("abcdefgh", limit=5) == "abcd…"


def test_markdown_cell_escapes_table_breakers():
    assert markdown_cell("a|b`c[d]") == "a\\|b\\`c\\[d\\]"
