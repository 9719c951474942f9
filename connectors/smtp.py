"""SMTP: sending Switchboard's e-mails (client communication, internal alerts) through the MSP's relay.

Needs
    ``SWITCHBOARD_SMTP__HOST``          the relay (unset: Switchboard sends no e-mail; internal alerts
                                        still go to the PSA as notes)
    ``SWITCHBOARD_SMTP__PORT``          default 587 (``starttls``), 465 (``ssl``), 25 (``none``)
    ``SWITCHBOARD_SMTP__SECURITY``      ``starttls`` (default) | ``ssl`` | ``none``
    ``SWITCHBOARD_SMTP__USERNAME`` / ``__PASSWORD``   when the relay wants AUTH (password is a secret)
    ``SWITCHBOARD_SMTP__FROM_ADDRESS``  the envelope and ``From`` address (required to send)
    ``SWITCHBOARD_SMTP__FROM_NAME`` / ``__REPLY_TO``  optional

What SMTP can and cannot promise
    A relay's final ``250`` after ``DATA`` means it took responsibility for the message; anything
    before that refused or lost means nothing was accepted, so sending again is safe. A connection
    lost *after* the message data went out and before that reply is an **unknown outcome**: the
    relay may have queued it. SMTP has no way to ask, so Switchboard sends it again with the
    **same** ``Message-ID`` (derived from the outbox idempotency key) and the same ``Date``: mail
    stores and clients (Exchange/Outlook, Gmail, most MUAs) collapse messages with one Message-ID,
    and anything downstream can de-duplicate on it — but SMTP itself does not guarantee the second
    copy is dropped. Every other failure is classified like a vendor's: 4xx replies are temporary
    (retried by the outbox), 5xx are permanent (the action fails with the relay's words), bad
    credentials name the settings, never the password.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import datetime
from email import policy as email_policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Literal

from pydantic import BaseModel, SecretStr

from connectors.errors import (
    AuthError,
    ConnectorError,
    NotConfigured,
    ServerError,
    TransportError,
    UnknownOutcome,
    ValidationFailed,
)

__all__ = ["Email", "Mailer", "SmtpSettings"]

VENDOR = "smtp"
CREDENTIALS = "SWITCHBOARD_SMTP__USERNAME / SWITCHBOARD_SMTP__PASSWORD"


class SmtpSettings(BaseModel):
    host: str | None = None
    port: int | None = None
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    from_address: str | None = None
    from_name: str | None = None
    reply_to: str | None = None
    timeout_seconds: float = 30.0
    verify_tls: bool = True
    """Check the relay's certificate (turn off only for an internal relay with a self-signed one)."""

    @property
    def configured(self) -> bool:
        return bool(self.host)

    @property
    def effective_port(self) -> int:
        return self.port or {"starttls": 587, "ssl": 465, "none": 25}[self.security]


@dataclass(frozen=True)
class Email:
    to: tuple[str, ...]
    subject: str
    text: str
    html: str
    message_id: str
    """``<…@…>``, derived from the idempotency key: the same on every attempt."""
    date: datetime
    headers: dict[str, str] = field(default_factory=dict)


def _code_error(code: int, reply: bytes | str, what: str) -> ConnectorError:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    message = f"{what} -> {code} {text.strip()[:300]}"
    if 400 <= code < 500:
        return ServerError(f"{message} (temporary; will retry)", vendor=VENDOR, status=code)
    return ValidationFailed(f"{message} (refused)", vendor=VENDOR, status=code)


class Mailer:
    """One message per call, on its own connection (Switchboard sends few, and each must stand alone)."""

    def __init__(self, settings: SmtpSettings) -> None:
        if not settings.host:
            raise NotConfigured("e-mail is not configured: set SWITCHBOARD_SMTP__HOST", vendor=VENDOR)
        if not settings.from_address:
            raise NotConfigured("set SWITCHBOARD_SMTP__FROM_ADDRESS to send e-mail", vendor=VENDOR)
        self.settings = settings

    def __repr__(self) -> str:
        s = self.settings
        return f"Mailer({s.security}://{s.host}:{s.effective_port}, user={s.username!r})"

    def message(self, email: Email) -> EmailMessage:
        s = self.settings
        assert s.from_address is not None
        msg = EmailMessage()
        msg["From"] = formataddr((s.from_name, s.from_address)) if s.from_name else s.from_address
        msg["To"] = ", ".join(email.to)
        msg["Subject"] = email.subject
        msg["Date"] = format_datetime(email.date)
        msg["Message-ID"] = email.message_id
        if s.reply_to:
            msg["Reply-To"] = s.reply_to
        msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, no loops
        msg["X-Auto-Response-Suppress"] = "All"
        for name, value in email.headers.items():
            msg[name] = value
        msg.set_content(email.text)
        msg.add_alternative(email.html, subtype="html")
        return msg

    def _context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        if not self.settings.verify_tls:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        host, port, timeout = s.host or "", s.effective_port, s.timeout_seconds
        where = f"{host}:{port}"
        try:
            if s.security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=self._context())
            else:
                smtp = smtplib.SMTP(host, port, timeout=timeout)
            smtp.ehlo()
            if s.security == "starttls":
                if not smtp.has_extn("starttls"):
                    smtp.close()
                    raise NotConfigured(
                        f"{where} does not offer STARTTLS; set SWITCHBOARD_SMTP__SECURITY=ssl (port 465) or, for a "
                        "relay on a trusted network, none", vendor=VENDOR,
                    )
                smtp.starttls(context=self._context())
                smtp.ehlo()
            if s.username:
                password = s.password.get_secret_value() if s.password else ""
                smtp.login(s.username, password)
        except smtplib.SMTPAuthenticationError as exc:
            raise AuthError(f"{where}: the relay refused the login ({exc.smtp_code}); check {CREDENTIALS}",
                            vendor=VENDOR, status=exc.smtp_code) from None
        except smtplib.SMTPResponseException as exc:
            raise _code_error(exc.smtp_code, exc.smtp_error, f"{where}: connecting") from None
        except ssl.SSLError as exc:
            raise TransportError(f"{where}: TLS failed ({exc.reason or exc}); check SWITCHBOARD_SMTP__SECURITY",
                                 vendor=VENDOR) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise TransportError(f"{where}: could not connect ({type(exc).__name__}: {exc})", vendor=VENDOR) from None
        return smtp

    def send(self, email: Email) -> dict[str, object]:
        """Send one message; returns who accepted it. Raises a classified :class:`ConnectorError`."""
        s = self.settings
        assert s.from_address is not None
        data = self.message(email).as_bytes(policy=email_policy.SMTP)  # CRLF line ends, as DATA needs
        smtp = self._connect()
        try:
            try:
                code, reply = smtp.mail(s.from_address)
                if code != 250:
                    raise _code_error(code, reply, f"MAIL FROM {s.from_address}")
                accepted: list[str] = []
                refused: dict[str, str] = {}
                temporary = False
                for address in email.to:
                    code, reply = smtp.rcpt(address)
                    if code in (250, 251):
                        accepted.append(address)
                    else:
                        refused[address] = f"{code} {reply.decode(errors='replace').strip()[:200]}"
                        temporary = temporary or 400 <= code < 500
                if not accepted:
                    what = "; ".join(f"{a}: {r}" for a, r in refused.items())
                    cls = ServerError if temporary else ValidationFailed
                    raise cls(f"every recipient was refused: {what}", vendor=VENDOR)
            except (OSError, smtplib.SMTPServerDisconnected) as exc:
                raise TransportError(f"connection lost before the message was sent ({type(exc).__name__})",
                                     vendor=VENDOR) from None
            # From here a lost connection means the relay may have taken the message.
            try:
                code, reply = smtp.data(data)
            except smtplib.SMTPDataError as exc:
                raise _code_error(exc.smtp_code, exc.smtp_error, "DATA") from None
            except (OSError, smtplib.SMTPServerDisconnected) as exc:
                raise UnknownOutcome(
                    f"connection lost after the message data was sent ({type(exc).__name__}); the relay may have "
                    f"accepted it — it will be sent again with the same Message-ID {email.message_id}",
                    vendor=VENDOR,
                ) from None
            if code != 250:
                raise _code_error(code, reply, "end of DATA")
            return {"accepted": accepted, "refused": refused, "message_id": email.message_id,
                    "reply": reply.decode(errors="replace").strip()[:200]}
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()


def probe(settings: SmtpSettings) -> str:
    """Connect, say EHLO, log in and quit: what ``sla`` checks can report without sending anything."""
    mailer = Mailer(settings)
    smtp = mailer._connect()
    try:
        return f"{settings.host}:{settings.effective_port} accepts {settings.security} connections" + (
            f" and the login of {settings.username}" if settings.username else "")
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()

