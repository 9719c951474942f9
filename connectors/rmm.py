"""Pieces the three RMM connectors share: canonical check names, vendor timestamps, and the
token-verified webhook most RMMs need (they do not sign their calls).

Canonical check names (the third part of an alert's fingerprint) are the same for every RMM
wherever the checks mean the same thing, so noise rules written for one RMM work for all::

    device_offline   cpu   memory   disk_usage[:<volume>]   disk_health   service[:<name>]
    eventlog[:<source>:<id>]   ping[:<target>]   patch   antivirus   backup   script[:<name>]
    reboot_pending   process[:<name>]   software   uptime   http   port   encryption

A vendor check with no shared meaning keeps a vendor-specific name (``raid_health``,
``task:<id>``, ``condition:<slug>``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from connectors.canonical import AlertEvent
from connectors.webhooks import WebhookDelivery, WebhookRejected, header, json_body, verify_token

__all__ = ["TOKEN_HEADER", "TokenWebhook", "from_epoch", "refine", "slug"]

TOKEN_HEADER = "X-Switchboard-Token"
"""The custom header an MSP adds to the RMM's webhook with the tenant's secret token."""


def refine(base: str, *detail: object) -> str:
    """``base`` refined by its discriminating detail (``disk_usage:C:``), or ``base`` alone."""
    parts = [str(d).strip() for d in detail if d is not None and str(d).strip() not in ("", "None")]
    return ":".join([base, *parts]) if parts else base


def slug(text: str) -> str:
    """A stable lower-case name for free text (``"Disk Space - C:"`` → ``disk_space_c``)."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "unknown"


def from_epoch(value: float | int | str) -> datetime:
    """A vendor epoch timestamp (seconds, or milliseconds when it is too large) as aware UTC."""
    seconds = float(value)
    if seconds > 1e12:
        seconds /= 1000.0
    return datetime.fromtimestamp(seconds, UTC)


class TokenWebhook:
    """A webhook verified by a per-tenant secret token in a custom header (constant-time compare).

    Subclasses set ``vendor`` and implement ``events_of(data)``: the canonical events of one
    decoded body (raising ``pydantic.ValidationError`` or ``ValueError`` when it does not fit).
    An empty list with ``ids`` means "something changed, poll now" (see each vendor).
    """

    vendor = ""
    token_header = TOKEN_HEADER

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str, now: float) -> None:
        verify_token(header(headers, self.token_header), secret)

    def events_of(self, data: Any) -> tuple[list[AlertEvent], list[str]]:
        raise NotImplementedError

    def parse(self, headers: Mapping[str, str], body: bytes) -> WebhookDelivery:
        data = json_body(body)
        try:
            events, ids = self.events_of(data)
        except (ValidationError, ValueError, TypeError) as exc:
            reason = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
            raise WebhookRejected("malformed", f"not a {self.vendor} alert: {reason}") from None
        delivery_id = events[-1].id if events else (ids[-1] if ids else None)
        return WebhookDelivery(self.vendor, "alerts", events=events, ids=ids, delivery_id=delivery_id)


def first_text(data: Any, keys: tuple[str, ...], *, skip: Callable[[str], bool] = lambda s: False) -> str | None:
    """The first non-empty string under any of ``keys``, searched depth-first in nested dicts."""
    if isinstance(data, dict):
        for key in keys:
            value = data.get(key)
            if isinstance(value, (str, int)) and str(value).strip() and not skip(str(value)):
                return str(value).strip()
        for value in data.values():
            found = first_text(value, keys, skip=skip)
            if found:
                return found
    return None
