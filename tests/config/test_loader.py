"""Rule settings are YAML validated at start-up; a bad file names the file, the key and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.loader import FILES, ConfigError, defaults_dir, load, load_all
from rules.config import NoiseConfig


def test_every_default_file_loads() -> None:
    loaded = load_all(None)
    assert set(loaded) == set(FILES)
    for name in FILES:
        assert (defaults_dir() / name).exists()


def test_override_directory_replaces_files_by_name(tmp_path: Path) -> None:
    (tmp_path / "noise.yaml").write_text(
        "rules:\n  - id: auto-resolve\n    type: auto_resolve\n    clear_minutes: 30\n    status: resolved\n"
    )
    cfg = load("noise.yaml", NoiseConfig, tmp_path)
    (rule,) = cfg.rules
    assert rule.clear_minutes == 30 and rule.status == "resolved"
    assert load_all(tmp_path)["tickets.yaml"] == load_all(None)["tickets.yaml"]  # absent file keeps the default


def test_bad_value_names_file_key_and_reason(tmp_path: Path) -> None:
    (tmp_path / "noise.yaml").write_text("rules:\n  - id: hold\n    type: hold\n    minutes: soon\n")
    with pytest.raises(ConfigError) as info:
        load("noise.yaml", NoiseConfig, tmp_path)
    assert info.value.file.endswith("noise.yaml") and info.value.key == "rules[0].minutes"
    assert "number" in info.value.reason


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "noise.yaml").write_text("rules:\n  - id: hold\n    type: hold\n    minuts: 5\n")
    with pytest.raises(ConfigError, match=r"rules\[0\]\.minuts"):
        load("noise.yaml", NoiseConfig, tmp_path)


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "noise.yaml").write_text("rules:\n  - id: [hold\n")
    with pytest.raises(ConfigError) as info:
        load("noise.yaml", NoiseConfig, tmp_path)
    assert "line" in info.value.key and "not valid YAML" in info.value.reason
