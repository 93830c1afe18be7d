"""The app's widgets, one module each."""

from sweeptui.app.widgets.header import SweepHeader
from sweeptui.app.widgets.issue_feed import IssueFeed
from sweeptui.app.widgets.recommendations import Recommendations
from sweeptui.app.widgets.risk import ParamRiskPanel
from sweeptui.app.widgets.runs_table import RunsTable

__all__ = ["IssueFeed", "ParamRiskPanel", "Recommendations", "RunsTable", "SweepHeader"]
