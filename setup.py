"""Build step for the optional C reader of JSON-lines metric logs.

Everything else about the package is in ``pyproject.toml``. The extension is optional:
where it cannot be compiled (no C compiler), the install goes on without it and the
pure-Python reader does its work, a few times slower on large logs.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "sweeptui.sources._jsonl_columns",
            sources=["sweeptui/sources/_jsonl_columns.c"],
            optional=True,
        )
    ]
)
