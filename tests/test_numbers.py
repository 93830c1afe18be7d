"""Shares and p-values are written one way everywhere."""

from __future__ import annotations

from sweeptui.numbers import p_relation, p_value, percent


def test_percent():
    assert (percent(0.756), percent(0.0), percent(1.0), percent(None)) == ("76%", "0%", "100%", "—")


def test_p_values_and_their_relation():
    assert (p_value(0.01337), p_value(0.00002), p_value(None)) == ("0.013", "< 0.0001", "—")
    assert (p_relation(0.01337), p_relation(0.00002), p_relation(None)) == ("= 0.013", "< 0.0001", "= —")
