"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives, with faults on demand."""

from __future__ import annotations

import contextlib
import email
import email.policy
import socket
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    @property
    def subject(self) -> str:
        return str(self.message["Subject"]).strip()  # a long subject is folded after "Subject:"

    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""

    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        return part.get_content() if part is not None else ""


@dataclass
class SmtpSink:
    """Keeps every delivery (``received``) and the mailbox as a receiving side would de-duplicate it
    by Message-ID (``mailbox``)."""

    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    """recipient -> SMTP reply (``550 …`` permanent, ``451 …`` temporary)"""
    drop_after_data: int = 0
    """Accept the next n messages, then drop the connection before answering (an unknown outcome)."""
    data_reply: str | None = None
    """Answer DATA with this instead of 250 (once)."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    host: str = "127.0.0.1"
    port: int = 0

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        reply = self.refuse.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        with self.lock:
            if self.data_reply:
                reply, self.data_reply = self.data_reply, None
                return reply
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
            if self.drop_after_data > 0:
                self.drop_after_data -= 1
                server.transport.close()
        return "250 Message accepted for delivery"

    @property
    def mailbox(self) -> list[Received]:
        seen: dict[str, Received] = {}
        for r in self.received:
            seen.setdefault(r.message_id, r)
        return list(seen.values())

    def to(self, address: str) -> list[Received]:
        return [r for r in self.mailbox if address in r.rcpt_tos]


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def smtp_server(*, username: str | None = None, password: str | None = None) -> Any:
    """Serve a :class:`SmtpSink` on 127.0.0.1 (with AUTH when a user is given)."""
    sink = SmtpSink(port=free_port())
    kwargs: dict[str, Any] = {}
    if username:
        def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
            ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == username and \
                auth_data.password.decode() == password
            return AuthResult(success=ok, handled=False)

        kwargs = {"authenticator": authenticate, "auth_require_tls": False}
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port, **kwargs)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()
