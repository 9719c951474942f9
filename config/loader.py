"""Rule settings as YAML, validated by pydantic models at start-up.

Each file under ``config/defaults/`` has a model (named in :data:`FILES`). A directory given by
``SWITCHBOARD_CONFIG_DIR`` (or ``--config DIR``) overrides the defaults *file by file*: a file
present there replaces the default file of the same name whole; absent files keep the default.

A bad file stops start-up with the file, the key and the reason::

    config error: /etc/switchboard/noise.yaml: hold.default_minutes: Input should be a valid number
"""

from __future__ import annotations

import functools
import importlib
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

__all__ = ["FILES", "ConfigError", "defaults_dir", "load", "load_all", "resolve_file"]

T = TypeVar("T", bound=BaseModel)

FILES: dict[str, str] = {
    "noise.yaml": "rules.config:NoiseConfig",
    "tickets.yaml": "rules.config:TicketsConfig",
    "sla.yaml": "rules.sla_config:SlaConfig",
    "escalation.yaml": "rules.sla_config:EscalationConfig",
    "automation.yaml": "rules.sla_config:AutomationConfig",
    "messages.yaml": "rules.sla_config:MessagesConfig",
    "taxonomy.yaml": "rules.taxonomy:TaxonomyConfig",
    "priority.yaml": "rules.priority:PriorityConfig",
}
"""Every YAML file Switchboard reads, and the model that validates it."""


class ConfigError(Exception):
    def __init__(self, file: Path | str, key: str, reason: str) -> None:
        super().__init__(f"{file}: {key}: {reason}" if key else f"{file}: {reason}")
        self.file = str(file)
        self.key = key
        self.reason = reason


def defaults_dir() -> Path:
    return Path(__file__).resolve().parent / "defaults"


def resolve_file(name: str, config_dir: Path | str | None = None) -> Path:
    if config_dir is not None:
        candidate = Path(config_dir) / name
        if candidate.exists():
            return candidate
    return defaults_dir() / name


def _key_of(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "<root>"


def read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(path, "", "file not found") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(path, where, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None


def load(name: str, model: type[T], config_dir: Path | str | None = None) -> T:
    path = resolve_file(name, config_dir)
    data = read_yaml(path)
    if data is None:
        data = {}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(path, _key_of(tuple(first.get("loc", ()))), first.get("msg", "invalid")) from None
    except ValueError as exc:  # cross-field checks raised by model validators
        raise ConfigError(path, "", str(exc)) from None


def _model(spec: str) -> type[BaseModel]:
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=8)
def _load_all_cached(config_dir: str | None) -> dict[str, BaseModel]:
    return {name: load(name, _model(spec), config_dir) for name, spec in FILES.items()}


def load_all(config_dir: Path | str | None = None) -> dict[str, BaseModel]:
    """Load and validate every configuration file; raises :class:`ConfigError` on the first bad one."""
    return _load_all_cached(str(config_dir) if config_dir else None)


def get(name: str, config_dir: Path | str | None = None) -> Any:
    return load_all(config_dir)[name]
