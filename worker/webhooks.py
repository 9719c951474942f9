"""The webhook receiver (``switchboard serve``): an ASGI app that verifies, records and enqueues.

Routes
    ``POST /webhooks/{vendor}``           a vendor's deliveries, checked with its secret
    ``POST /webhooks/{vendor}/{tenant}``  the same with a per-tenant secret (one vendor account,
                                          one client…): the tenant is named in the URL, its
                                          secret in settings
    ``GET /healthz``                      200 when the database and Redis answer, else 503
    ``GET /metrics``                      Prometheus exposition

Every vendor whose module (in ``connectors.registry.VENDORS``) defines ``WEBHOOK`` is served; the
object's ``verify``/``parse`` are the vendor's rules (``connectors/webhooks.py``). A delivery goes:

1. size check (413 past ``SWITCHBOARD_WEBHOOKS__MAX_BODY_BYTES``);
2. the vendor's (or tenant's) secret from settings — none configured: 403, nothing processed;
3. ``verify``: HMAC signature or shared token, compared in constant time, and the signed timestamp
   within its window where the vendor sends one. Unsigned: 401; bad signature, stale: 403.
   Every refusal is counted (``switchboard_webhook_rejected_total{vendor,reason}``) and logged
   without the body or the headers;
4. ``parse``: a body that does not fit is quarantined with the reason (``switchboard quarantine
   list``) and answered 400;
5. replay guard: the delivery id (or, without one, the body's SHA-256) is remembered in Redis for
   ``SWITCHBOARD_WEBHOOKS__REPLAY_TTL_SECONDS``; a second delivery is answered 200 "duplicate" (so
   the vendor stops retrying) and not processed;
6. the work is enqueued on RQ (:data:`HANDLERS`) and the call answered 202 at once. Alert events
   go to ``pipelines.alerts.ingest``; changed tickets to a targeted ticket refresh. If Redis cannot
   take the job, the guard is released and the answer is 503, so the vendor retries.

Nothing here is the source of truth: the periodic incremental polls reconcile anything a webhook
missed, was refused, or arrived out of order.

Rejection codes → HTTP status: ``unsigned`` 401; ``bad_signature``, ``stale``, ``replayed``,
``not_configured`` 403; ``unknown_vendor``, ``unknown_tenant`` 404; ``malformed`` 400;
``too_large`` 413.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from config.webhooks import secret_setting, vendor_key
from connectors.webhooks import WebhookDelivery, WebhookRejected, WebhookSpec

__all__ = ["HANDLERS", "STATUS", "create_app", "webhook_specs"]

log = logging.getLogger("switchboard.webhooks")

STATUS = {"unsigned": 401, "bad_signature": 403, "stale": 403, "replayed": 403, "not_configured": 403,
          "unknown_vendor": 404, "unknown_tenant": 404, "malformed": 400, "too_large": 413}

HANDLERS: dict[str, str | None] = {
    "alerts": "worker.webhook_jobs:ingest_alerts_job",
    "tickets": "worker.webhook_jobs:refresh_tickets_job",
    "documents": "worker.kb_jobs:documents_changed_job",
    "other": None,
}
"""Delivery kind -> ``module:function`` of the RQ job that does the work (None: nothing to run
now — the periodic poll picks the change up). ``documents``: the incremental KB sync."""


def webhook_specs() -> dict[str, WebhookSpec]:
    """``WEBHOOK`` of every registered vendor module that has one."""
    from connectors.registry import VENDORS

    out: dict[str, WebhookSpec] = {}
    for name, info in VENDORS.items():
        try:
            module = importlib.import_module(info.client.partition(":")[0])
        except ImportError as exc:  # one broken vendor module must not take the receiver down
            log.error("webhooks for %s unavailable: %s", name, exc)
            continue
        spec = getattr(module, "WEBHOOK", None)
        if spec is not None:
            out[name] = spec
    return out


def _load(spec: str) -> Callable[..., Any]:
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]


class _Refused(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class _Metrics:
    registry: CollectorRegistry
    rejected: Counter
    accepted: Counter
    duplicates: Counter
    seconds: Histogram

    @classmethod
    def make(cls) -> _Metrics:
        r = CollectorRegistry()
        return cls(
            r,
            Counter("switchboard_webhook_rejected_total", "Webhook calls refused, never processed",
                    ["vendor", "reason"], registry=r),
            Counter("switchboard_webhook_accepted_total", "Webhook deliveries accepted and enqueued",
                    ["vendor", "kind"], registry=r),
            Counter("switchboard_webhook_duplicates_total", "Deliveries seen before (replay guard)", ["vendor"],
                    registry=r),
            Histogram("switchboard_webhook_seconds", "Time to verify, record and enqueue a delivery", ["vendor"],
                      registry=r, buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)),
        )


class Receiver:
    """The app's state: the context (settings, DB, Redis), the vendors' specs, the metrics."""

    def __init__(self, ctx: Any, specs: Mapping[str, WebhookSpec] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.ctx = ctx
        self.specs = {vendor_key(k): v for k, v in (specs if specs is not None else webhook_specs()).items()}
        self.clock = clock
        self.metrics = _Metrics.make()
        for name in self.specs:  # so /metrics lists every vendor from the start
            self.metrics.duplicates.labels(name)
            self.metrics.seconds.labels(name)

    @property
    def settings(self) -> Any:
        return self.ctx.settings.webhooks

    # -- the pipeline of one delivery, off the event loop (database and Redis calls are blocking) ----
    def handle(self, vendor: str, tenant: str | None, headers: Mapping[str, str], body: bytes) -> JSONResponse:
        started = time.perf_counter()
        label = vendor if vendor in self.specs else "unknown"
        try:
            response = self._handle(vendor, tenant, headers, body)
        except _Refused as refused:
            self.metrics.rejected.labels(label, refused.reason).inc()
            log.warning("webhook %s%s refused (%s): %s", vendor if label != "unknown" else "<unknown vendor>",
                        f"/{tenant}" if tenant else "", refused.reason, refused)
            response = JSONResponse({"error": refused.reason, "detail": str(refused)},
                                    status_code=STATUS.get(refused.reason, 400))
        self.metrics.seconds.labels(label).observe(time.perf_counter() - started)
        return response

    def _handle(self, vendor: str, tenant: str | None, headers: Mapping[str, str], body: bytes) -> JSONResponse:
        spec = self.specs.get(vendor)
        if spec is None:
            raise _Refused("unknown_vendor", "no such vendor, or it sends no webhooks")
        secret = self.settings.secret_for(vendor, tenant)
        if secret is None:
            if tenant is not None:
                raise _Refused("unknown_tenant", f"no webhook secret for tenant {tenant!r} of {vendor}")
            raise _Refused("not_configured", f"webhooks from {vendor} are not enabled (set {secret_setting(vendor)})")
        try:
            spec.verify(headers, body, secret.get_secret_value(), self.clock())
        except WebhookRejected as exc:
            raise _Refused(exc.code, str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - a verifier that fails has not verified
            log.exception("webhook %s: the verifier failed", vendor)
            raise _Refused("bad_signature", f"could not be verified ({type(exc).__name__})") from None
        try:
            delivery = spec.parse(headers, body)
        except Exception as exc:  # noqa: BLE001 - whatever the vendor module could not read is kept
            reason = str(exc) if isinstance(exc, WebhookRejected) else f"{type(exc).__name__}: {exc}"
            self._quarantine(vendor, tenant, reason, body)
            raise _Refused("malformed", f"{reason} (kept in quarantine)") from None
        digest = hashlib.sha256(body).hexdigest()
        key = self._replay_key(vendor, tenant, delivery.delivery_id or digest)
        if not self.ctx.redis.set(key, "1", nx=True, ex=self.settings.replay_ttl_seconds):
            self.metrics.duplicates.labels(vendor).inc()
            log.info("webhook %s: delivery %s seen before; not processed again", vendor, delivery.delivery_id or "-")
            return JSONResponse({"status": "duplicate", "vendor": vendor}, status_code=200)
        try:
            queued = self._enqueue(vendor, tenant, delivery, digest)
        except Exception:
            self.ctx.redis.delete(key)
            raise
        self.metrics.accepted.labels(vendor, delivery.kind).inc()
        log.info("webhook %s%s: %s delivery accepted (%d event(s), %d id(s), %d job(s))", vendor,
                 f"/{tenant}" if tenant else "", delivery.kind, len(delivery.events), len(delivery.ids), queued)
        return JSONResponse({"status": "accepted", "vendor": vendor, "kind": delivery.kind,
                             "events": len(delivery.events), "ids": len(delivery.ids), "queued": queued},
                            status_code=202)

    def _replay_key(self, vendor: str, tenant: str | None, ident: str) -> str:
        h = hashlib.sha256(ident.encode()).hexdigest()[:40]
        return f"{self.ctx.prefix}:webhook:seen:{vendor}:{tenant or '-'}:{h}"

    def _quarantine(self, vendor: str, tenant: str | None, reason: str, body: bytes) -> None:
        from pipelines import quarantine

        stream = f"webhook:{vendor}" + (f"/{tenant}" if tenant else "")
        with self.ctx.db.session() as s:
            quarantine.keep(s, stream, reason, body.decode("utf-8", errors="replace")[:100_000])

    def _enqueue(self, vendor: str, tenant: str | None, d: WebhookDelivery, digest: str) -> int:
        from rq import Queue, Retry

        spec = HANDLERS.get(d.kind)
        if spec is None:
            return 0
        queue = Queue(self.ctx.queue_name("poll"), connection=self.ctx.redis)
        if d.kind == "alerts" and not d.events:
            # the vendor only says which alerts changed ("poll now"): run the incremental alert poll
            if not d.ids or vendor != self.ctx.settings.rmm:
                return 0
            from worker.jobs import poll_alerts_job

            queue.enqueue(poll_alerts_job, job_timeout=self.ctx.settings.job_timeout_seconds, result_ttl=600,
                          failure_ttl=7 * 86400, description=f"webhook {vendor} poll {digest[:12]}")
            return 1
        if d.kind == "alerts":
            args: tuple[Any, ...] = (vendor, [e.model_dump(mode="json") for e in d.events], tenant)
        else:
            args = (vendor, list(d.ids), tenant)
        queue.enqueue(_load(spec), *args, retry=Retry(max=3, interval=[5, 30, 120]),
                      job_timeout=self.ctx.settings.job_timeout_seconds, result_ttl=600, failure_ttl=7 * 86400,
                      description=f"webhook {vendor} {d.kind} {digest[:12]}")
        return 1

    def too_large(self, vendor: str) -> JSONResponse:
        self.metrics.rejected.labels(vendor if vendor in self.specs else "unknown", "too_large").inc()
        log.warning("webhook %s refused (too_large): body over %d bytes", vendor, self.settings.max_body_bytes)
        return JSONResponse({"error": "too_large", "detail": f"body over {self.settings.max_body_bytes} bytes"},
                            status_code=413)

    # -- health -------------------------------------------------------------------------------------
    def health(self) -> tuple[int, dict[str, str]]:
        import sqlalchemy as sa

        out: dict[str, str] = {}
        try:
            with self.ctx.db.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            out["database"] = "ok"
        except Exception as exc:  # noqa: BLE001 - reported, never raised (no URL: it may hold a password)
            out["database"] = f"unreachable ({type(exc).__name__})"
        try:
            self.ctx.redis.ping()
            out["redis"] = "ok"
        except Exception as exc:  # noqa: BLE001
            out["redis"] = f"unreachable ({type(exc).__name__})"
        ok = all(v == "ok" for v in out.values())
        return (200 if ok else 503), {"status": "ok" if ok else "degraded", **out}


def create_app(ctx: Any, *, specs: Mapping[str, WebhookSpec] | None = None,
               clock: Callable[[], float] = time.time) -> Starlette:
    """The receiver as an ASGI app. ``specs`` replaces the registry's (tests use their own)."""
    receiver = Receiver(ctx, specs, clock)

    async def webhook(request: Request) -> Response:
        vendor = vendor_key(request.path_params["vendor"])
        tenant = request.path_params.get("tenant")
        limit = receiver.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            return receiver.too_large(vendor)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                return receiver.too_large(vendor)
        try:
            return await run_in_threadpool(receiver.handle, vendor, tenant, dict(request.headers), body)
        except Exception as exc:  # noqa: BLE001 - Redis or the database is down: the vendor should retry
            log.error("webhook %s: could not record the delivery (%s); answered 503", vendor, type(exc).__name__)
            return JSONResponse({"error": "unavailable", "detail": "try again later"}, status_code=503,
                                headers={"Retry-After": "30"})

    async def healthz(request: Request) -> Response:
        status, body = await run_in_threadpool(receiver.health)
        return JSONResponse(body, status_code=status)

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(receiver.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app = Starlette(routes=[
        Route("/webhooks/{vendor}", webhook, methods=["POST"]),
        Route("/webhooks/{vendor}/{tenant}", webhook, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ])
    app.state.receiver = receiver
    return app
