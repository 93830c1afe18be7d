"""sweeptui: watch a hyperparameter sweep from the terminal and flag the runs that go bad."""

__version__ = "0.1.0"
