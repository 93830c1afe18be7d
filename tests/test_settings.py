"""Detector settings: defaults, config files and --set overrides."""

from __future__ import annotations

import pytest

from sweeptui.settings import Settings, load_settings


def test_overrides_are_coerced_to_field_types():
    settings = Settings().with_overrides({"divergence-factor": "20", "overfit_patience": "5"})
    assert settings.divergence_factor == 20.0
    assert settings.overfit_patience == 5 and isinstance(settings.overfit_patience, int)


def test_unknown_or_malformed_settings_are_errors():
    with pytest.raises(ValueError, match="unknown setting"):
        Settings().with_overrides({"divergence_factr": 3})
    with pytest.raises(ValueError, match="needs a number > 0"):
        Settings().with_overrides({"stall_factor": "fast"})
    with pytest.raises(ValueError, match="KEY=VALUE"):
        load_settings(None, ["stall_factor"])


def test_config_files_then_assignments(tmp_path):
    toml = tmp_path / "sweeptui.toml"
    toml.write_text("[detectors]\nstall_factor = 4\ndivergence_factor = 50\n")
    settings = load_settings(toml, ["divergence_factor=7"])
    assert (settings.stall_factor, settings.divergence_factor) == (4.0, 7.0)
    yaml_file = tmp_path / "sweeptui.yaml"
    yaml_file.write_text("crash_loop_window: 20\n")
    assert load_settings(yaml_file).crash_loop_window == 20
