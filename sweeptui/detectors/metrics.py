"""Metric-name rules shared by the detectors.

Which metrics are losses (judged for divergence), which one is a run's validation
loss and which its training loss (judged together for overfitting). Names are
compared after normalisation: lower case, with ``/``, ``-``, ``.`` and spaces read
as ``_`` (so ``val/loss``, ``Val-Loss`` and ``val_loss`` are one name).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

_SEPARATORS = re.compile(r"[/\-.\s]+")

_LOSS_TOKENS = ("nll", "perplexity", "ppl")
_PERPLEXITY_TOKENS = ("perplexity", "ppl")
# Names that contain "loss" but are not a loss: AMP loss scales grow geometrically by design.
_NOT_A_LOSS = ("scale", "scaler", "weight", "coef", "coeff", "lr", "ratio")

_VAL_PREFIXES = ("val", "valid", "validation", "eval", "evaluation", "dev")
_TRAIN_PREFIXES = ("train", "training", "tr")
_SUFFIXES = ("", "_epoch", "_mean", "_avg")

VALIDATION_LOSS_NAMES: tuple[str, ...] = tuple(
    name
    for prefix in _VAL_PREFIXES
    for base in (f"{prefix}_loss", f"loss_{prefix}", f"{prefix}_epoch_loss")
    for name in (base + suffix for suffix in _SUFFIXES)
)
"""Normalised names read as a validation loss, most specific first (``validation_epoch_loss``
is Keras's ``epoch_loss`` of its validation split)."""

TRAINING_LOSS_NAMES: tuple[str, ...] = (
    *(
        base + suffix
        for prefix in _TRAIN_PREFIXES
        for base in (f"{prefix}_loss", f"loss_{prefix}", f"{prefix}_epoch_loss")
        for suffix in _SUFFIXES
    ),
    "loss",
    "loss_epoch",
)
"""Normalised names read as a training loss; a bare ``loss`` comes last."""


@lru_cache(maxsize=4096)  # every run of a sweep asks about the same few names
def normalise(name: str) -> str:
    """Lower case with separators folded to ``_``: ``Val/Loss`` -> ``val_loss``."""
    return _SEPARATORS.sub("_", name.strip().lower()).strip("_")


def _tokens(name: str) -> list[str]:
    return [token for token in normalise(name).split("_") if token]


def is_loss_like(name: str) -> bool:
    """Whether ``name`` is a loss that should only go down (loss, nll, perplexity)."""
    tokens = _tokens(name)
    if any(token in _NOT_A_LOSS for token in tokens):
        return False
    joined = "_".join(tokens)
    return "loss" in joined or any(token in _LOSS_TOKENS for token in tokens)


def is_perplexity(name: str) -> bool:
    """Whether ``name`` is a perplexity (the exponential of a loss)."""
    return any(token in _PERPLEXITY_TOKENS for token in _tokens(name))


def _pick(names: Iterable[str], wanted: tuple[str, ...]) -> str | None:
    by_normal: dict[str, str] = {}
    for name in names:
        by_normal.setdefault(normalise(name), name)
    for candidate in wanted:
        if candidate in by_normal:
            return by_normal[candidate]
    return None


def validation_loss_name(names: Iterable[str]) -> str | None:
    """The run's validation loss among ``names`` (original spelling), or None."""
    return _pick(names, VALIDATION_LOSS_NAMES)


def training_loss_name(names: Iterable[str]) -> str | None:
    """The run's training loss among ``names`` (original spelling), or None."""
    return _pick(names, TRAINING_LOSS_NAMES)


__all__ = [
    "TRAINING_LOSS_NAMES",
    "VALIDATION_LOSS_NAMES",
    "is_loss_like",
    "is_perplexity",
    "normalise",
    "training_loss_name",
    "validation_loss_name",
]
