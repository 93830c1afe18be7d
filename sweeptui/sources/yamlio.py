"""YAML as sweep tools write it: safe loading that survives Python-object tags.

PyTorch Lightning's ``save_hyperparameters`` dumps whatever the model was given, so
``hparams.yaml`` files hold ``!!python/object:argparse.Namespace`` mappings,
``!!python/name:torch.optim.adam.Adam ''`` references and ``!!python/tuple`` lists,
which ``yaml.safe_load`` refuses outright. :func:`load_yaml` never constructs a
Python object either: an object's mapping is read as a plain mapping (its
attributes), a tuple as a list, and everything else a tag names (a class, a function,
an ``apply`` call) is kept as text. The tags met are returned so a reader can say so.
"""

from __future__ import annotations

import functools
from typing import Any

PYTHON_TAG = "tag:yaml.org,2002:python/"


class YamlError(ValueError):
    """Text that is not YAML (PyYAML's own error, said in the message)."""


def safe_load(text: str | bytes) -> Any:
    """``yaml.safe_load``; raises :class:`YamlError` for text that is not YAML.

    PyYAML is imported on the first YAML file: a sweep of JSON configs and logs never
    pays for it (a few hundredths of a second before the first run is read).
    """
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise YamlError(str(exc)) from exc


@functools.cache
def _tolerant_loader() -> type:
    """The safe loader, plus Python tags read as plain data (see the module docstring)."""
    import yaml

    class TolerantLoader(yaml.SafeLoader):
        def __init__(self, stream: str) -> None:
            super().__init__(stream)
            self.python_tags: list[str] = []

    TolerantLoader.add_multi_constructor(PYTHON_TAG, _python_node)
    return TolerantLoader


def _python_node(loader: Any, suffix: str, node: Any) -> Any:
    import yaml

    kind, _, target = suffix.partition(":")
    if f"python/{suffix}" not in loader.python_tags:
        loader.python_tags.append(f"python/{suffix}")
    if isinstance(node, yaml.MappingNode):
        if kind == "object":
            return loader.construct_mapping(node, deep=True)
        return f"{target or kind}(...)"
    if isinstance(node, yaml.SequenceNode):
        if kind == "tuple":
            return loader.construct_sequence(node, deep=True)
        return f"{target or kind}(...)"
    value = loader.construct_scalar(node)
    return target if kind in ("name", "module") or not value else str(value)


def load_yaml(text: str) -> tuple[Any, list[str]]:
    """The document in ``text`` and the Python tags it held (``python/object:...``).

    Raises :class:`YamlError` for text that is not YAML, as :func:`safe_load` does.
    """
    import yaml

    loader = _tolerant_loader()(text)
    try:
        return loader.get_single_data(), loader.python_tags
    except yaml.YAMLError as exc:
        raise YamlError(str(exc)) from exc
    finally:
        loader.dispose()


def tags_note(tags: list[str]) -> str:
    """The warning (said once per sweep) for YAML files holding Python tags."""
    more = f" and {len(tags) - 1} more" if len(tags) > 1 else ""
    return (f"Python-object tags in YAML (!!{tags[0]}{more}): read as plain values, "
            "classes and calls kept as text")
