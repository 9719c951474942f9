"""Webhook calls a simulator makes: kept for tests to inspect, and sent on when a sender is set."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Delivery"]


@dataclass(frozen=True)
class Delivery:
    """One webhook call as the vendor would make it: where, which headers, the raw body."""

    url: str
    headers: dict[str, str]
    body: bytes
