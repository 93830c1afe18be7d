"""Sources: on-disk layouts turned into typed events.

``SOURCES`` lists every layout in the order matchers are tried: specific tool
layouts first, then the generic run directory and results-array files, and last a
folder of Slurm job logs that no other layout took.
"""

from __future__ import annotations

from sweeptui.sources.base import Match, Reader, ScanContext, SourceSpec

SOURCES: list[SourceSpec] = []
"""Every known layout, most specific first. Filled by :func:`_register`."""


def _register() -> None:
    from sweeptui.sources import (
        hydra,
        lightning,
        mlflow_local,
        optuna,
        ray_tune,
        results_array,
        run_dir,
        slurm,
        tensorboard,
        wandb,
    )

    tools = [ray_tune.SOURCE, optuna.SOURCE, lightning.SOURCE, hydra.SOURCE, tensorboard.SOURCE, wandb.SOURCE,
             mlflow_local.SOURCE]
    SOURCES.extend([*tools, run_dir.SOURCE, results_array.SOURCE, slurm.SOURCE])


def get_sources(only: str | None = None) -> list[SourceSpec]:
    """All sources, or just the one named ``only`` (ValueError when unknown)."""
    if not SOURCES:
        _register()
    if only is None:
        return list(SOURCES)
    for spec in SOURCES:
        if spec.name == only:
            return [spec]
    raise ValueError(f"unknown source {only!r}; known: {', '.join(s.name for s in SOURCES)}")


__all__ = ["SOURCES", "Match", "Reader", "ScanContext", "SourceSpec", "get_sources"]
