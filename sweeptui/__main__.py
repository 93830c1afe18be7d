"""Entry point for ``python -m sweeptui``."""

from sweeptui.cli import run

run()
