"""The webhook receiver: verification, refusals counted, replay guard, quarantine, enqueue, health.

Datto RMM's real ``WEBHOOK`` (a shared token header) and a test-local vendor that signs like the
HMAC vendors do (``t=<unix>,v1=<hex HMAC-SHA256 of "t.body">``) exercise both kinds of check.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import warnings
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from rq import Queue, SimpleWorker

from connectors.datto_rmm import WEBHOOK as DATTO_WEBHOOK
from connectors.webhooks import (
    WebhookDelivery,
    WebhookRejected,
    check_timestamp,
    header,
    json_body,
    verify_hmac,
)
from pipelines.state import Quarantine
from tests.helpers import build_stack
from worker import jobs
from worker.webhooks import create_app

with warnings.catch_warnings():  # this starlette prefers "httpx2" for its test client; httpx works the same
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from starlette.testclient import TestClient

TOKEN = "datto-hook-token-5a1f"
TENANT_TOKEN = "acme-tenant-token-77c2"
HMAC_KEY = "whsec-signed-psa-0f9e8d7c"
AUTOTASK_KEY = "autotask-secret-key-19af"
NOW = 1_793_000_000.0


class SignedTickets:
    """A test-local PSA webhook that signs: ``X-Hook-Signature: t=<unix>,v1=<hex>`` over ``t.body``."""

    vendor = "signed-psa"

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str, now: float) -> None:
        raw = header(headers, "X-Hook-Signature")
        if not raw:
            raise WebhookRejected("unsigned", "no X-Hook-Signature")
        parts = dict(p.split("=", 1) for p in raw.split(",") if "=" in p)
        check_timestamp(parts.get("t"), now, tolerance=300)
        verify_hmac(f"{parts.get('t')}.".encode() + body, parts.get("v1"), secret)

    def parse(self, headers: Mapping[str, str], body: bytes) -> WebhookDelivery:
        data = json_body(body)
        if not isinstance(data, dict) or data.get("event") != "ticket.updated" or not isinstance(
                data.get("ticket_ids"), list):
            raise WebhookRejected("malformed", "not a ticket.updated event")
        return WebhookDelivery("signed-psa", "tickets", ids=[str(i) for i in data["ticket_ids"]],
                               delivery_id=str(data.get("id") or "") or None)


def signed(body: bytes, *, at: float = NOW, key: str = HMAC_KEY) -> dict[str, str]:
    mac = hmac.new(key.encode(), f"{int(at)}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Hook-Signature": f"t={int(at)},v1={mac}", "Content-Type": "application/json"}


@pytest.fixture
def stack(sim, make_context):
    return build_stack(sim, make_context, webhooks={
        "secrets": {"datto_rmm": TOKEN, "signed_psa": HMAC_KEY, "autotask": AUTOTASK_KEY},
        "tenant_secrets": {"datto-rmm": {"acme": TENANT_TOKEN}},
        "max_body_bytes": 64_000,
    })


@pytest.fixture
def client(stack):
    app = create_app(stack.ctx, specs={"datto-rmm": DATTO_WEBHOOK, "signed-psa": SignedTickets()}, clock=lambda: NOW)
    with TestClient(app) as c:
        yield c


def queue(stack, name: str = "poll") -> Queue:
    return Queue(stack.ctx.queue_name(name), connection=stack.ctx.redis)


def run_jobs(stack) -> None:
    """Run every queued job in this process, as a worker would."""
    jobs.set_context(stack.ctx)
    try:
        SimpleWorker([queue(stack), queue(stack, "push")], connection=stack.ctx.redis).work(burst=True)
    finally:
        jobs.set_context(None)


def datto_alert(stack) -> tuple[str, bytes]:
    dev = stack.device("ACME-FS01")
    aid = stack.datto.raise_alert(dev, context={"@class": "perf_disk_usage_ctx", "diskName": "C:"},
                                  diagnostics="Disk C: has 3% free")
    stack.datto.open_count()  # let the simulator open it
    return aid, json.dumps(stack.datto._public(stack.datto.alerts[aid])).encode()


def metric(client: TestClient, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f"{name}{{{want}}} "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_datto_alert_webhook_becomes_one_ticket_and_the_poll_adds_nothing(client, stack) -> None:
    aid, body = datto_alert(stack)
    started = time.perf_counter()
    r = client.post("/webhooks/datto-rmm", content=body, headers={"X-Switchboard-Token": TOKEN})
    assert r.status_code == 202, r.text
    assert time.perf_counter() - started < 5  # answered before any vendor call: only Redis was touched
    assert r.json() == {"status": "accepted", "vendor": "datto-rmm", "kind": "alerts", "events": 1, "ids": 0,
                        "queued": 1}
    assert len(queue(stack)) == 1 and stack.autotask.tickets() == []
    run_jobs(stack)
    (ticket,) = stack.our_tickets()
    assert "Low disk space" in ticket["title"] or "disk" in ticket["title"].lower()
    stack.cycle()  # the incremental poll sees the same alert: reconciled, nothing new
    assert len(stack.our_tickets()) == 1
    assert metric(client, "switchboard_webhook_accepted_total", vendor="datto-rmm", kind="alerts") == 1


def test_unsigned_and_badly_signed_calls_are_refused_counted_and_never_processed(client, stack, caplog) -> None:
    _, body = datto_alert(stack)
    caplog.set_level(logging.INFO)
    assert client.post("/webhooks/datto-rmm", content=body).status_code == 401
    assert client.post("/webhooks/datto-rmm", content=body,
                       headers={"X-Switchboard-Token": "guess"}).status_code == 403
    tampered = body.replace(b"ACME", b"EVIL")
    bad = client.post("/webhooks/signed-psa", content=tampered, headers=signed(b'{"event":"ticket.updated"}'))
    assert bad.status_code == 403 and bad.json()["error"] == "bad_signature"
    assert len(queue(stack)) == 0
    assert metric(client, "switchboard_webhook_rejected_total", vendor="datto-rmm", reason="unsigned") == 1
    assert metric(client, "switchboard_webhook_rejected_total", vendor="datto-rmm", reason="bad_signature") == 1
    assert metric(client, "switchboard_webhook_rejected_total", vendor="signed-psa", reason="bad_signature") == 1
    assert TOKEN not in caplog.text and "guess" not in caplog.text and "ACME" not in caplog.text


def test_hmac_timestamp_window_and_replay_guard(client, stack) -> None:
    body = json.dumps({"id": "evt-1", "event": "ticket.updated", "ticket_ids": [42]}).encode()
    stale = client.post("/webhooks/signed-psa", content=body, headers=signed(body, at=NOW - 301))
    assert stale.status_code == 403 and stale.json()["error"] == "stale"
    future = client.post("/webhooks/signed-psa", content=body, headers=signed(body, at=NOW + 301))
    assert future.status_code == 403 and future.json()["error"] == "stale"
    ok = client.post("/webhooks/signed-psa", content=body, headers=signed(body, at=NOW - 60))
    assert ok.status_code == 202 and ok.json()["kind"] == "tickets" and ok.json()["ids"] == 1
    again = client.post("/webhooks/signed-psa", content=body, headers=signed(body, at=NOW - 30))
    assert again.status_code == 200 and again.json()["status"] == "duplicate"  # same delivery id, fresh signature
    assert len(queue(stack)) == 1
    assert metric(client, "switchboard_webhook_duplicates_total", vendor="signed-psa") == 1
    assert metric(client, "switchboard_webhook_rejected_total", vendor="signed-psa", reason="stale") == 2


def test_vendors_are_found_through_the_registry_and_a_real_autotask_callout_refreshes_its_ticket(stack) -> None:
    import base64

    app = create_app(stack.ctx, clock=lambda: NOW)  # no specs given: every registered WEBHOOK
    assert {"datto-rmm", "autotask"} <= set(app.state.receiver.specs)
    tid = stack.autotask.add_ticket(title="Printer jammed", companyID=stack.company)
    event_time = datetime.fromtimestamp(NOW - 20, UTC).isoformat().replace("+00:00", "Z")
    body = json.dumps({"Action": "Update", "Guid": "0e1f", "EntityType": "Ticket", "Id": tid,
                       "Fields": {"Status": 8}, "EventTime": event_time, "SequenceNumber": 7}).encode()
    mac = base64.b64encode(hmac.new(AUTOTASK_KEY.encode(), body, hashlib.sha1).digest()).decode()
    with TestClient(app) as client:
        r = client.post("/webhooks/autotask", content=body, headers={"X-Hook-Signature": f"sha1={mac}"})
        assert r.status_code == 202, r.text
        assert client.post("/webhooks/autotask", content=body,
                           headers={"X-Hook-Signature": "sha1=AAAA"}).status_code == 403
    (job,) = queue(stack).jobs
    jobs.set_context(stack.ctx)
    try:
        result = job.func(*job.args)
    finally:
        jobs.set_context(None)
    assert result["tickets"] == 1  # a targeted read of the one ticket that changed, then the consumers
    assert stack.autotask.count("GET", rf"/Tickets/{tid}$") == 1


def test_malformed_body_from_a_verified_sender_is_quarantined(client, stack) -> None:
    body = b'{"alertUid": 42, "priority": "High"}'
    r = client.post("/webhooks/datto-rmm", content=body, headers={"X-Switchboard-Token": TOKEN})
    assert r.status_code == 400 and "kept in quarantine" in r.json()["detail"]
    client.post("/webhooks/datto-rmm", content=body, headers={"X-Switchboard-Token": TOKEN})
    with stack.ctx.db.session() as s:
        (row,) = s.scalars(sa.select(Quarantine))
        assert row.stream == "webhook:datto-rmm" and "not a Datto RMM alert" in row.reason
        assert row.seen_count == 2 and json.loads(row.payload) == {"alertUid": 42, "priority": "High"}
    assert len(queue(stack)) == 0
    assert metric(client, "switchboard_webhook_rejected_total", vendor="datto-rmm", reason="malformed") == 2


def test_per_tenant_secrets(client, stack) -> None:
    _, body = datto_alert(stack)
    assert client.post("/webhooks/datto-rmm/acme", content=body,
                       headers={"X-Switchboard-Token": TENANT_TOKEN}).status_code == 202
    wrong = client.post("/webhooks/datto-rmm/acme", content=body, headers={"X-Switchboard-Token": TOKEN})
    assert wrong.status_code == 403  # the vendor-wide token is not this tenant's
    unknown = client.post("/webhooks/datto-rmm/globex", content=body, headers={"X-Switchboard-Token": TOKEN})
    assert unknown.status_code == 404 and unknown.json()["error"] == "unknown_tenant"


def test_unknown_and_disabled_vendors_and_oversized_bodies(client, stack) -> None:
    r = client.post("/webhooks/kaseya-vsa", content=b"{}")
    assert r.status_code == 404 and r.json()["error"] == "unknown_vendor"
    assert metric(client, "switchboard_webhook_rejected_total", vendor="unknown", reason="unknown_vendor") == 1
    app = create_app(stack.ctx, specs={"datto-rmm": DATTO_WEBHOOK, "ninjaone": DATTO_WEBHOOK})
    with TestClient(app) as other:
        off = other.post("/webhooks/ninjaone", content=b"{}", headers={"X-Switchboard-Token": TOKEN})
        assert off.status_code == 403 and "SWITCHBOARD_WEBHOOKS__SECRETS__NINJAONE" in off.json()["detail"]
    big = client.post("/webhooks/datto-rmm", content=b"x" * 70_000, headers={"X-Switchboard-Token": TOKEN})
    assert big.status_code == 413


def test_when_the_job_cannot_be_queued_the_vendor_is_told_to_retry(client, stack, monkeypatch) -> None:
    _, body = datto_alert(stack)

    def down(*args: Any, **kw: Any) -> None:
        raise ConnectionError("redis went away")

    monkeypatch.setattr(Queue, "enqueue", down)
    r = client.post("/webhooks/datto-rmm", content=body, headers={"X-Switchboard-Token": TOKEN})
    assert r.status_code == 503 and r.headers["Retry-After"]
    monkeypatch.undo()
    retry = client.post("/webhooks/datto-rmm", content=body, headers={"X-Switchboard-Token": TOKEN})
    assert retry.status_code == 202  # the replay guard was released: the retry is not a "duplicate"


def test_healthz_and_metrics(client, stack) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok", "database": "ok", "redis": "ok"}
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    assert "switchboard_webhook_seconds_bucket" in metrics.text

    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    working, stack.ctx.redis = stack.ctx.redis, redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5,
                                                             retry=Retry(NoBackoff(), 0))
    try:
        down = client.get("/healthz")
    finally:
        stack.ctx.redis = working
    assert down.status_code == 503 and down.json()["redis"].startswith("unreachable")
    assert down.json()["database"] == "ok"


@pytest.mark.slow
def test_a_real_switchboard_serve_process(stack, settings_factory) -> None:
    import signal
    import socket
    import subprocess
    import sys
    from pathlib import Path

    import httpx

    from tests.helpers import settings_env

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = settings_env(settings_factory(webhooks={"secrets": {"datto_rmm": TOKEN}}))
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-m", "worker", "serve", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "switchboard serve did not come up"
            time.sleep(0.1)
        _, body = datto_alert(stack)
        ok = httpx.post(f"{base}/webhooks/datto-rmm", content=body, headers={"X-Switchboard-Token": TOKEN})
        assert ok.status_code == 202, ok.text
        assert httpx.post(f"{base}/webhooks/datto-rmm", content=body).status_code == 401
        assert len(queue(stack)) == 1  # the real process enqueued on the same Redis, same prefix
        text = httpx.get(f"{base}/metrics").text
        assert 'switchboard_webhook_rejected_total{reason="unsigned",vendor="datto-rmm"} 1.0' in text
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    log = out.decode()
    assert "webhooks enabled for: datto-rmm" in log and TOKEN not in log


def test_webhook_secrets_are_secret_everywhere(stack) -> None:
    settings = stack.ctx.settings
    assert TOKEN in settings.secrets() and TENANT_TOKEN in settings.secrets()  # the log filter blanks them
    assert TOKEN not in repr(settings) and TENANT_TOKEN not in repr(settings.webhooks)


class IdsOnlyAlerts:
    """A test-local RMM webhook that only names the alerts that changed (as NinjaOne's can)."""

    vendor = "datto-rmm"

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str, now: float) -> None:
        DATTO_WEBHOOK.verify(headers, body, secret, now)

    def parse(self, headers: Mapping[str, str], body: bytes) -> WebhookDelivery:
        return WebhookDelivery("datto-rmm", "alerts", ids=[str(json_body(body)["alertUid"])])


def test_an_alert_webhook_with_only_ids_triggers_a_poll_now(stack) -> None:
    aid, _ = datto_alert(stack)
    app = create_app(stack.ctx, specs={"datto-rmm": IdsOnlyAlerts()}, clock=lambda: NOW)
    with TestClient(app) as c:
        r = c.post("/webhooks/datto-rmm", content=json.dumps({"alertUid": aid}).encode(),
                   headers={"X-Switchboard-Token": TOKEN})
    assert r.status_code == 202 and r.json()["queued"] == 1
    run_jobs(stack)  # the queued poll reads the RMM now, not at the next periodic poll
    assert len(stack.our_tickets()) == 1
