"""Who gets a notification and how: the PSA directory (cached), message rendering, the e-mail sender.

- :class:`Directory` — the PSA's resources (engineers), contacts and company names, read with the
  connector's ``list_members`` / ``list_contacts`` / ``list_companies`` and cached in Redis for
  ``SWITCHBOARD_DIRECTORY_CACHE_SECONDS`` (they change rarely; an SLA tick must not cost a PSA
  call per ticket). A PSA that cannot be reached raises :class:`DirectoryUnavailable`: the caller
  waits and tries again rather than sending a message with no name or address.
- :func:`email_action` — an outbox ``send_email`` action whose payload is the finished message
  (recipients, subject, HTML and text, a Message-ID derived from the idempotency key), so what
  would be sent is visible in the outbox, in shadow mode too, before anything goes out.
- :class:`Notifier` — the outbox's side: sends a recorded message through :class:`~connectors.smtp.Mailer`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime
from typing import Any

from connectors.errors import ConnectorError, NotConfigured
from connectors.smtp import Email, Mailer, SmtpSettings
from pipelines.outbox import Action

__all__ = ["Directory", "DirectoryUnavailable", "Notifier", "email_action", "message_id_for", "notifier_for"]

log = logging.getLogger("switchboard.notify")


class DirectoryUnavailable(Exception):
    """The PSA could not be asked who someone is; try again later."""


def _person(name: str, email: str | None) -> dict[str, Any]:
    return {"name": name, "first_name": name.split()[0] if name else "", "email": email or ""}


class Directory:
    """PSA people and company names, cached in Redis (one hash per list, refreshed when stale)."""

    def __init__(self, psa: Any, redis: Any, prefix: str, ttl: int = 3600) -> None:
        self.psa = psa
        self.redis = redis
        self.prefix = f"{prefix}:dir:{getattr(psa, 'vendor', 'psa')}"
        self.ttl = ttl
        self.calls = 0
        self._memo: dict[str, dict[str, dict[str, Any]]] = {}
        """What this object read already: one Directory serves one tick or one poll batch."""

    def _load(self, name: str, fetch: Any, *, fresh: bool = False) -> dict[str, dict[str, Any]]:
        if not fresh and name in self._memo:
            return self._memo[name]
        self._memo[name] = rows = self._read(name, fetch, fresh=fresh)
        return rows

    def _read(self, name: str, fetch: Any, *, fresh: bool) -> dict[str, dict[str, Any]]:
        key = f"{self.prefix}:{name}"
        cached = {} if fresh else self.redis.hgetall(key)
        if cached:
            out = {}
            for k, v in cached.items():
                k = k.decode() if isinstance(k, bytes) else k
                if k != "_":
                    out[k] = json.loads(v)
            return out
        try:
            self.calls += 1
            rows: dict[str, dict[str, Any]] = fetch()
        except ConnectorError as exc:
            raise DirectoryUnavailable(f"could not read {name} from the PSA: {exc}") from None
        pipe = self.redis.pipeline()
        pipe.delete(key)
        pipe.hset(key, mapping={"_": "1", **{k: json.dumps(v) for k, v in rows.items()}})
        pipe.expire(key, self.ttl)
        pipe.execute()
        return rows

    def _get(self, name: str, fetch: Any, item: str) -> dict[str, Any] | None:
        rows = self._load(name, fetch)
        if item not in rows and self.redis.set(f"{self.prefix}:{name}:refreshed", "1", nx=True, ex=300):
            rows = self._load(name, fetch, fresh=True)  # someone new since the cache was filled (at most every 5 min)
        return rows.get(item)

    def member(self, member_id: str | None) -> dict[str, Any] | None:
        if not member_id:
            return None
        return self._get("members", lambda: {m.ref.id: _person(m.name, m.email) for m in self.psa.list_members()},
                         member_id)

    def contact(self, company_id: str | None, contact_id: str | None) -> dict[str, Any] | None:
        if not contact_id:
            return None
        return self._get(
            f"contacts:{company_id or '-'}",
            lambda: {c.ref.id: {**_person(c.name, c.email), "vip": bool(c.vip)}
                     for c in self.psa.list_contacts(company_id)},
            contact_id,
        )

    def company_name(self, company_id: str | None) -> str:
        if not company_id:
            return ""
        row = self._get("companies", lambda: {c.ref.id: {"name": c.name} for c in self.psa.list_companies()},
                        company_id)
        return str((row or {}).get("name", ""))


def message_id_for(key: str, from_address: str | None) -> str:
    """A Message-ID that is the same for every attempt of one outbox action."""
    domain = (from_address or "").rpartition("@")[2] or "switchboard.invalid"
    return f"<sb.{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


def email_action(
    key: str, group: str, *, to: list[str], subject: str, html: str, text: str, ticket: str, role: str,
    smtp: SmtpSettings, now: datetime, client: str | None,
) -> Action:
    payload = {
        "ticket": ticket, "role": role, "to": to, "subject": subject, "html": html, "text": text,
        "message_id": message_id_for(key, smtp.from_address), "date": now.isoformat(), "key": key,
    }
    return Action(key, group, "send_email", payload, client)


class Notifier:
    """Sends the e-mails the outbox holds (``send_email`` actions)."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._mailer: Mailer | None = None

    def __repr__(self) -> str:
        return f"Notifier({self.settings.host or 'e-mail not configured'})"

    @property
    def mailer(self) -> Mailer:
        if self._mailer is None:
            self._mailer = Mailer(self.settings)  # raises NotConfigured with the setting to fix
        return self._mailer

    def send_email(self, payload: dict[str, Any], *, retry: bool) -> dict[str, Any]:
        if not self.settings.configured:
            raise NotConfigured("e-mail is not configured: set SWITCHBOARD_SMTP__HOST", vendor="smtp")
        email = Email(
            to=tuple(payload["to"]), subject=payload["subject"], text=payload["text"], html=payload["html"],
            message_id=payload["message_id"], date=datetime.fromisoformat(payload["date"]),
            headers={"X-Switchboard-Key": payload["key"]},
        )
        result = self.mailer.send(email)
        accepted = ", ".join(str(a) for a in result["accepted"])  # type: ignore[attr-defined]
        result["outcome"] = (f"sent again with the same Message-ID to {accepted} (an earlier attempt failed)"
                             if retry else f"sent to {accepted}")
        return result


def notifier_for(ctx: Any) -> Notifier:
    return Notifier(ctx.settings.smtp)
