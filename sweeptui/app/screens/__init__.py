"""The app's screens: the main monitor, a run's detail, the plots, and help."""

from sweeptui.app.screens.detail import RunDetailScreen
from sweeptui.app.screens.help import HelpScreen
from sweeptui.app.screens.main import MainScreen
from sweeptui.app.screens.plot import PlotScreen

__all__ = ["HelpScreen", "MainScreen", "PlotScreen", "RunDetailScreen"]
