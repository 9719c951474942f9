"""Small pieces every vendor module uses: building the HTTP stack, reading records safely,
and reporting read-only checks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from connectors.errors import ConnectorError
from connectors.http import RetryPolicy, VendorHttp
from connectors.protocols import Rejected
from connectors.ratelimit import Limit, LocalTokenBucket, RateLimiter, RedisTokenBucket

__all__ = [
    "CheckResult",
    "VendorModel",
    "build_http",
    "make_limiter",
    "read_records",
    "run_check",
    "secret_values",
]

M = TypeVar("M", bound=BaseModel)


class VendorModel(BaseModel):
    """Base of typed vendor models: frozen, unknown fields ignored, vendor names as aliases."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


def secret_values(*values: SecretStr | str | None) -> list[str]:
    return [v.get_secret_value() if isinstance(v, SecretStr) else v for v in values if v]


def make_limiter(
    vendor: str, tenant: str, limit: Limit, *, redis: Any = None, prefix: str = "switchboard"
) -> RateLimiter:
    """The shared Redis bucket when Redis is at hand, else a process-local one."""
    if redis is not None:
        return RedisTokenBucket(redis, f"{prefix}:rl:{vendor}:{tenant}", limit)
    return LocalTokenBucket(limit)


def build_http(
    vendor: str,
    base_url: str,
    *,
    auth: httpx.Auth | None,
    limiter: RateLimiter,
    secrets: Iterable[str] = (),
    credential_settings: str = "",
    transport: httpx.BaseTransport | None = None,
    timeout: float = 30.0,
    headers: dict[str, str] | None = None,
    classify: Callable[[httpx.Response], ConnectorError | None] | None = None,
    retry: RetryPolicy | None = None,
) -> VendorHttp:
    client = httpx.Client(
        base_url=base_url,
        auth=auth,
        transport=transport,
        timeout=httpx.Timeout(timeout, connect=10.0),
        headers={"Accept": "application/json", "User-Agent": "switchboard/0.1", **(headers or {})},
    )
    return VendorHttp(
        vendor,
        client,
        limiter=limiter,
        secrets=secrets,
        credential_settings=credential_settings,
        classify=classify,
        retry=retry,
    )


def read_records(model: type[M], raw: Any, stream: str) -> tuple[list[M], list[Rejected]]:
    """Validate each raw record; a bad one is rejected with its reason, the rest go on."""
    items: list[M] = []
    rejected: list[Rejected] = []
    if not isinstance(raw, list):
        return [], [Rejected(stream, f"expected a list of records, got {type(raw).__name__}", raw)]
    for record in raw:
        try:
            items.append(model.model_validate(record))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "<record>"
            rejected.append(Rejected(stream, f"{model.__name__}: {where}: {first.get('msg')}", record))
    return items, rejected


@dataclass(frozen=True)
class CheckResult:
    """One line of ``switchboard connectors check``: what was tried and what came of it."""

    name: str
    ok: bool
    detail: str


def run_check(name: str, func: Callable[[], str]) -> CheckResult:
    try:
        return CheckResult(name, True, func())
    except ConnectorError as exc:
        return CheckResult(name, False, str(exc))
    except httpx.HTTPError as exc:
        return CheckResult(name, False, f"{type(exc).__name__}: {exc}")
