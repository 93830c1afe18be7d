"""Thresholds and limits: one documented settings object for detectors and readers.

Every field can be overridden from a config file (TOML or YAML, ``--config``) or
from the command line (``--set divergence_factor=20``). Unknown keys are errors,
so a typo never silently falls back to a default, and so is a value of the wrong
type or outside the field's range (:data:`RANGES`): ``divergence_factor=nan``
would otherwise switch the detector off without a word.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Range:
    """The values a numeric setting accepts: finite, above ``low`` and up to ``high``."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    """True when ``low`` itself is not allowed (``> low`` rather than ``>= low``)."""
    high_open: bool = False
    """True when ``high`` itself is not allowed."""

    def allows(self, value: float) -> bool:
        """Whether ``value`` is finite and in the range."""
        if not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def describe(self, integer: bool) -> str:
        """``"a number > 1"``, ``"an integer >= 1"``, ``"a number in (0, 1]"``."""
        kind = "an integer" if integer else "a number"
        low = "" if self.low is None else f"{self.low:g}"
        if self.high is not None:
            opening, closing = "([" [not self.low_open], ")]"[not self.high_open]
            return f"{kind} in {opening}{low}, {self.high:g}{closing}"
        if self.low is None:
            return f"a finite {kind.split()[-1]}"
        return f"{kind} {'>' if self.low_open else '>='} {low}"


_POSITIVE, _AT_LEAST_1, _AT_LEAST_0 = Range(0, low_open=True), Range(1), Range(0)
_ABOVE_1, _FRACTION = Range(1, low_open=True), Range(0, 1, low_open=True)


@dataclass(frozen=True)
class Settings:
    """All tunable thresholds. Defaults are chosen to stay quiet on healthy, noisy curves."""

    # -- divergence --------------------------------------------------------------
    divergence_factor: float = 10.0
    """A loss above this multiple of its running minimum is diverging."""
    divergence_min_points: int = 3
    """Points a loss needs before divergence can be judged (early spikes are normal)."""
    divergence_rise_points: int = 6
    """Consecutive rises that, with ``divergence_rise_growth``, count as geometric growth."""
    divergence_rise_growth: float = 4.0
    """Total growth over ``divergence_rise_points`` consecutive rises that counts as divergence."""
    divergence_confirm_points: int = 2
    """Consecutive values that must all exceed ``divergence_factor`` x the minimum (1 = any one).

    Two by default so that a single spike of a noisy per-step loss is not a divergence.
    """

    # -- overfitting --------------------------------------------------------------
    overfit_patience: int = 3
    """Consecutive validation points whose smoothed level must all be risen (the rise persists)."""
    overfit_min_rise: float = 0.05
    """Smallest relative rise of the smoothed validation level above its minimum that counts."""
    overfit_train_drop: float = 0.02
    """Relative drop of training loss since the validation minimum that counts as 'still falling'."""
    overfit_window: int = 3
    """Validation points per smoothed level: the mean of the last N without the highest one."""
    overfit_noise_factor: float = 5.0
    """A rise must also exceed this many times the run's own estimated validation noise."""
    overfit_noise_points: int = 30
    """Recent validation points the noise estimate averages over."""
    overfit_clear_rise: float = 0.3
    """A raw rise this far above the raw minimum counts whatever the noise estimate says
    (for runs too short to estimate their noise)."""

    # -- stalls, vanished and completed runs (sweeptui.lifecycle) -------------------------
    stall_factor: float = 10.0
    """A running run is stalled when silent for this many of its median update intervals..."""
    stall_floor_seconds: float = 60.0
    """...but never before this many seconds of silence (the floor: a run logging every
    second is stalled after a minute)."""
    stall_unknown_cadence_seconds: float = 600.0
    """The stall threshold while a run's cadence is unknown (fewer than three updates with
    a time): a slow first epoch is not a stall."""
    vanish_factor: float = 3.0
    """Silent for this many stall thresholds while another run wrote later, a run without
    an end marker is not running any more (killed, or failed without a metric)."""
    abandon_factor: float = 20.0
    """Silent for this many stall thresholds, a run is not running any more even when no
    other run moved on (an archive, a sweep whose driver died)..."""
    abandon_seconds: float = 3600.0
    """...and never before this many seconds of silence."""
    sweep_length_min_runs: int = 3
    """Quiet or finished runs that must share the sweep's longest length before it stands
    in for a config's expected length (a run reaching it and going quiet is finished)."""

    # -- short runs and crash loops ----------------------------------------------
    short_run_fraction: float = 0.5
    """A finished run with fewer than this fraction of its expected steps/epochs is short."""
    short_run_min_reference: int = 3
    """Finished runs needed before the sweep's median length can stand in for a config value."""
    crash_loop_window: int = 10
    """How many of the most recently ended runs a crash loop looks at."""
    crash_loop_fraction: float = 0.7
    """Fraction of that window dying early that makes a crash loop."""
    early_death_fraction: float = 0.25
    """A run that died before this fraction of its expected length died early."""
    early_death_records: int = 5
    """Without any length to compare with, a dead run with at most this many records died early."""

    # -- analysis -----------------------------------------------------------------
    alpha: float = 0.01
    """Family-wise error rate of the analysis's corrected tests: an adjusted p-value below it
    is significant. Strict by default, so that a finding is not noise."""

    # -- readers ------------------------------------------------------------------
    max_line_bytes: int = 8 * 1024 * 1024
    """Longer lines in a metric log are skipped with a warning (protects memory)."""
    max_json_bytes: int = 512 * 1024 * 1024
    """Results-array files larger than this are not parsed."""
    error_tail_bytes: int = 64 * 1024
    """How much of the end of an error log is read for crash classification."""
    include_deleted: bool = False
    """Read runs and experiments the tool marked deleted (MLflow's ``lifecycle_stage: deleted``,
    ``mlruns/.trash/``); they are not part of the sweep otherwise."""
    follow_links: bool = False
    """Read files and directories that symlinks lead to outside the sweep root
    (``--follow-links``); otherwise they are skipped with a warning."""
    experiment: str = ""
    """Read only the MLflow experiment of this name (``--experiment``): one experiment is one
    sweep. Empty: every experiment found."""

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"setting 'alpha' is a significance level between 0 and 1, got {self.alpha}")

    @classmethod
    def describe_range(cls, name: str) -> str:
        """What values ``name`` accepts, in words."""
        kind = {f.name: f.type for f in fields(cls)}[name]
        if kind in ("bool", bool):
            return "true or false"
        if kind in ("str", str):
            return "text"
        return RANGES.get(name, Range()).describe(kind in ("int", int))

    @classmethod
    def field_names(cls) -> list[str]:
        """The names accepted by :meth:`with_overrides`."""
        return [f.name for f in fields(cls)]

    def with_overrides(self, overrides: dict[str, Any]) -> Settings:
        """A copy with ``overrides`` applied; values are coerced to each field's type."""
        known = {f.name: f for f in fields(self)}
        changes: dict[str, Any] = {}
        for key, raw in overrides.items():
            name = key.replace("-", "_")
            if name not in known:
                raise ValueError(f"unknown setting {key!r}; known: {', '.join(known)}")
            changes[name] = _coerce(key, name, known[name].type, raw)
        return dataclasses.replace(self, **changes)


RANGES: dict[str, Range] = {
    "divergence_factor": _ABOVE_1, "divergence_min_points": _AT_LEAST_1,
    "divergence_rise_points": Range(2), "divergence_rise_growth": _ABOVE_1,
    "divergence_confirm_points": _AT_LEAST_1,
    "overfit_patience": _AT_LEAST_1, "overfit_min_rise": _POSITIVE, "overfit_train_drop": _AT_LEAST_0,
    "overfit_window": _AT_LEAST_1, "overfit_noise_factor": _AT_LEAST_0, "overfit_noise_points": Range(2),
    "overfit_clear_rise": _POSITIVE,
    "stall_factor": _POSITIVE, "stall_floor_seconds": _AT_LEAST_0, "vanish_factor": _AT_LEAST_1,
    "stall_unknown_cadence_seconds": _AT_LEAST_0, "abandon_factor": _AT_LEAST_1,
    "abandon_seconds": _AT_LEAST_0, "sweep_length_min_runs": _AT_LEAST_1,
    "short_run_fraction": _FRACTION, "short_run_min_reference": _AT_LEAST_1,
    "crash_loop_window": _AT_LEAST_1, "crash_loop_fraction": _FRACTION,
    "early_death_fraction": _FRACTION, "early_death_records": _AT_LEAST_0,
    "alpha": Range(0, 1, low_open=True, high_open=True),
    "max_line_bytes": _AT_LEAST_1, "max_json_bytes": _AT_LEAST_1, "error_tail_bytes": _AT_LEAST_1,
}  # fmt: skip
"""The accepted values of every numeric setting."""

_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def _coerce(key: str, name: str, kind: Any, raw: Any) -> Any:
    """``raw`` as the setting's type, checked against its range; ValueError naming the range."""
    wanted = Settings.describe_range(name)
    if kind in ("str", str):
        return str(raw)
    if kind in ("bool", bool):
        text = str(raw).strip().lower()
        if isinstance(raw, bool) or text in _TRUE + _FALSE:
            return raw if isinstance(raw, bool) else text in _TRUE
        raise ValueError(f"setting {key!r} needs {wanted}, got {raw!r}")
    integer = kind in ("int", int)
    value = _number(raw, integer)
    if value is None or not RANGES.get(name, Range()).allows(value):
        raise ValueError(f"setting {key!r} needs {wanted}, got {raw!r}")
    return value


def _number(raw: Any, integer: bool) -> float | int | None:
    """``raw`` as an int or a float; None when it is not one (bools are not numbers)."""
    if isinstance(raw, bool):
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError, OverflowError):
        return None
    if not integer:
        return value
    if not math.isfinite(value) or not value.is_integer():
        return None
    return int(value)


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    """``["a=1", "b=2"]`` -> ``{"a": "1", "b": "2"}``; raises ValueError on a malformed pair."""
    result: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"expected KEY=VALUE, got {pair!r}")
        result[key.strip()] = value.strip()
    return result


def load_settings(config: Path | None = None, assignments: list[str] | None = None) -> Settings:
    """Defaults, then the config file's ``[detectors]`` table (or top level), then ``--set`` pairs."""
    settings = Settings()
    if config is not None:
        settings = settings.with_overrides(_read_config(config))
    if assignments:
        settings = settings.with_overrides(parse_assignments(assignments))
    return settings


def _read_config(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yaml", ".yml"):
        import yaml

        data = yaml.safe_load(text) or {}
    else:
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            import tomli as tomllib
        data = tomllib.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of settings")
    section = data.get("detectors", data)
    return dict(section)
