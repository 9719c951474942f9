"""SMTP against a real server on 127.0.0.1 (aiosmtpd): what is sent, and how every failure is classified."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.errors import (
    AuthError,
    NotConfigured,
    ServerError,
    TransportError,
    UnknownOutcome,
    ValidationFailed,
)
from connectors.smtp import Email, Mailer, SmtpSettings
from tests.smtp_sink import free_port, smtp_server


def settings(sink, **kw) -> SmtpSettings:
    base = {"host": sink.host, "port": sink.port, "security": "none", "from_address": "servicedesk@msp.example",
            "from_name": "MSP Service Desk", "timeout_seconds": 5}
    return SmtpSettings(**{**base, **kw})


def message(**kw) -> Email:
    base = {"to": ("jane@acme.example",), "subject": "We received your ticket #T1: Printer offline",
            "text": "Hello Jane", "html": "<p>Hello Jane</p>", "message_id": "<sb.abc123@msp.example>",
            "date": datetime(2026, 11, 6, 21, 55, tzinfo=UTC), "headers": {"X-Switchboard-Key": "notify:autotask:1:received:contact"}}
    return Email(**{**base, **kw})


def test_a_message_arrives_with_its_headers_and_both_parts() -> None:
    with smtp_server() as sink:
        result = Mailer(settings(sink, reply_to="support@msp.example")).send(message())
    (got,) = sink.received
    assert result["accepted"] == ["jane@acme.example"]
    assert got.mail_from == "servicedesk@msp.example" and got.rcpt_tos == ["jane@acme.example"]
    m = got.message
    assert m["Message-ID"] == "<sb.abc123@msp.example>" and m["Subject"] == "We received your ticket #T1: Printer offline"
    assert m["From"] == "MSP Service Desk <servicedesk@msp.example>" and m["Reply-To"] == "support@msp.example"
    assert m["Auto-Submitted"] == "auto-generated"  # no out-of-office loops
    assert m["X-Switchboard-Key"] == "notify:autotask:1:received:contact"
    assert got.text().strip() == "Hello Jane" and got.html().strip() == "<p>Hello Jane</p>"


def test_login_with_the_configured_user() -> None:
    with smtp_server(username="relay-user", password="s3cret-relay") as sink:
        Mailer(settings(sink, username="relay-user", password="s3cret-relay")).send(message())
        with pytest.raises(AuthError) as info:
            Mailer(settings(sink, username="relay-user", password="wrong-password")).send(message())
    assert len(sink.received) == 1
    assert "SWITCHBOARD_SMTP__PASSWORD" in str(info.value) and "wrong-password" not in str(info.value)


def test_a_permanently_refused_recipient_is_a_validation_failure_and_others_still_get_it() -> None:
    with smtp_server() as sink:
        sink.refuse["gone@acme.example"] = "550 5.1.1 No such user"
        result = Mailer(settings(sink)).send(message(to=("jane@acme.example", "gone@acme.example")))
        assert result["accepted"] == ["jane@acme.example"] and "gone@acme.example" in result["refused"]
        with pytest.raises(ValidationFailed, match="550 5.1.1 No such user"):
            Mailer(settings(sink)).send(message(to=("gone@acme.example",)))


def test_a_temporary_refusal_is_retriable() -> None:
    with smtp_server() as sink:
        sink.refuse["jane@acme.example"] = "451 4.3.0 Try again later"
        with pytest.raises(ServerError):
            Mailer(settings(sink)).send(message())
        sink.refuse.clear()
        sink.data_reply = "452 4.3.1 Insufficient system storage"
        with pytest.raises(ServerError):
            Mailer(settings(sink)).send(message())
    assert sink.received == []


def test_connection_lost_after_data_is_an_unknown_outcome_and_the_resend_is_recognisable() -> None:
    with smtp_server() as sink:
        sink.drop_after_data = 1
        mailer = Mailer(settings(sink))
        with pytest.raises(UnknownOutcome, match="same Message-ID"):
            mailer.send(message())
        mailer.send(message())  # what the outbox does on its retry
    assert len(sink.received) == 2  # SMTP cannot tell the relay had it: the message went twice…
    assert {r.message_id for r in sink.received} == {"<sb.abc123@msp.example>"}  # …as one message
    assert len(sink.mailbox) == 1


def test_nothing_listening_is_a_transport_error() -> None:
    port = free_port()
    with pytest.raises(TransportError, match="could not connect"):
        Mailer(SmtpSettings(host="127.0.0.1", port=port, security="none", from_address="a@b.example",
                            timeout_seconds=2)).send(message())


def test_starttls_not_offered_names_the_setting() -> None:
    with smtp_server() as sink, pytest.raises(NotConfigured, match="SWITCHBOARD_SMTP__SECURITY"):
        Mailer(settings(sink, security="starttls")).send(message())
    assert sink.received == []


def test_missing_settings_are_named() -> None:
    with pytest.raises(NotConfigured, match="SWITCHBOARD_SMTP__HOST"):
        Mailer(SmtpSettings())
    with pytest.raises(NotConfigured, match="SWITCHBOARD_SMTP__FROM_ADDRESS"):
        Mailer(SmtpSettings(host="mail.msp.example"))


def test_the_password_is_a_secret() -> None:
    s = SmtpSettings(host="mail.msp.example", username="u", password="hunter2-relay")
    assert "hunter2-relay" not in repr(s) and "hunter2-relay" not in repr(Mailer(s.model_copy(update={"from_address": "a@b.c"})))
