"""Entry point for ``python -m sweeptui``."""

from sweeptui.cli import main

raise SystemExit(main())
