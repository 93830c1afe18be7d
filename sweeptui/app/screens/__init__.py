"""The app's screens: the main monitor, a run's detail, and help."""

from sweeptui.app.screens.detail import RunDetailScreen
from sweeptui.app.screens.help import HelpScreen
from sweeptui.app.screens.main import MainScreen

__all__ = ["HelpScreen", "MainScreen", "RunDetailScreen"]
