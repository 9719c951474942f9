"""The simulator base: a stateful, in-memory vendor behind one ``handle(request)`` method.

``handle`` takes an ``httpx.Request`` and returns an ``httpx.Response``, so one simulator can be
mounted in respx (``sim.mount(respx_router)``), used as an ``httpx.MockTransport``, or served on
127.0.0.1 by :mod:`connectors.simulators.server` for the demo and for tests with real workers.

Every simulator shares the behaviour a connector must cope with:

- authentication (``check_auth``), answering 401 like the vendor when credentials are wrong;
- a rate limit (``rate_limit``) answering 429 with ``Retry-After`` past the vendor's published
  budget;
- injected faults (``fail_next``): a status (429/5xx/401…) for the next *n* matching calls,
  malformed JSON, or a delay *after* the effect (a "timeout after POST");
- a call log (``calls``) for call-count benchmarks, and an optional contract checker that
  validates every request and response against the vendor's API document.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

__all__ = ["Call", "Fault", "HttpError", "Simulator", "route"]


class HttpError(Exception):
    """Raised by a handler to answer with a vendor-shaped error."""

    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


@dataclass
class Call:
    method: str
    path: str
    params: dict[str, str]
    status: int = 0
    at: float = 0.0


@dataclass
class Fault:
    status: int = 500
    times: int = 1
    method: str | None = None
    path: str | None = None
    """A regex searched in the request path; None matches every call."""
    retry_after: str | None = None
    body: Any = None
    raw: bytes | None = None
    """Send these bytes instead of the real answer (malformed JSON)."""
    after_effect: bool = False
    """Do the real work, then answer with this fault's status anyway (a proxy error after the commit)."""
    after_effect_delay: float = 0.0
    """Do the real work, then sleep this long before answering (a timeout after the write)."""

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method != method:
            return False
        return not (self.path and not re.search(self.path, path))


@dataclass
class _Route:
    method: str
    regex: re.Pattern[str]
    template: str
    func: Callable[..., Any]


def route(method: str, template: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a simulator method as the handler of ``method template`` (``{name}`` = path part)."""

    def mark(func: Callable[..., Any]) -> Callable[..., Any]:
        func.__sim_route__ = (method.upper(), template)  # type: ignore[attr-defined]
        return func

    return mark


def _compile(template: str) -> re.Pattern[str]:
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    return re.compile("^" + pattern + "/?$")


class Simulator:
    """Base class; subclasses set ``vendor``, ``base_path`` and decorate handlers with ``@route``."""

    vendor: str = "vendor"
    base_url: str = "https://vendor.invalid"
    base_path: str = ""
    """Path prefix every API route lives under (``/api``, ``/ATServicesRest``)."""
    setting_path: str = ""
    """The part of ``base_path`` that belongs in the connector's base-URL setting."""
    rate_limit: tuple[int, float] | None = None
    """(requests, per seconds) — the vendor's published budget."""
    undocumented: tuple[tuple[str, str], ...] = ()
    """(method, path regex) calls the vendor serves but its API document omits (token URLs)."""

    def __init__(self, *, base_url: str | None = None, now: Callable[[], datetime] | None = None) -> None:
        if base_url:
            self.base_url = base_url.rstrip("/")
        self._now = now or (lambda: datetime.now(UTC))
        self._lock = threading.RLock()
        self.calls: list[Call] = []
        self.faults: deque[Fault] = deque()
        self.contract: Any = None
        """A :class:`connectors.contract.ContractChecker`, set by tests to validate all traffic."""
        self._window: deque[float] = deque()
        self._routes: list[_Route] = []
        for name in dir(type(self)):
            func = getattr(type(self), name)
            spec = getattr(func, "__sim_route__", None)
            if spec:
                method, template = spec
                self._routes.append(_Route(method, _compile(self.base_path + template), template, getattr(self, name)))
        # literal routes before templated ones: /Tickets/query before /Tickets/{id}
        self._routes.sort(key=lambda r: (r.template.count("{"), -len(r.template)))

    # -- time -----------------------------------------------------------------------------------
    def now(self) -> datetime:
        return self._now()

    def set_clock(self, now: Callable[[], datetime]) -> None:
        self._now = now

    # -- knobs ----------------------------------------------------------------------------------
    def fail_next(self, status: int = 500, times: int = 1, **kw: Any) -> Fault:
        fault = Fault(status=status, times=times, **kw)
        with self._lock:
            self.faults.append(fault)
        return fault

    def reset_calls(self) -> None:
        with self._lock:
            self.calls.clear()

    def count(self, method: str | None = None, path: str | None = None) -> int:
        return sum(
            1
            for c in self.calls
            if (method is None or c.method == method) and (path is None or re.search(path, c.path))
        )

    # -- plumbing -------------------------------------------------------------------------------
    def mount(self, router: Any) -> Any:
        """Route every request under ``base_url`` in a respx router to this simulator."""
        return router.route(url__startswith=self.base_url).mock(side_effect=self.handle)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def check_auth(self, request: httpx.Request) -> None:
        """Raise ``HttpError(401)`` unless the request carries valid credentials."""

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in list(self.faults):
            if fault.matches(method, path):
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def _rate_limited(self) -> float | None:
        if not self.rate_limit:
            return None
        budget, window = self.rate_limit
        now = time.monotonic()
        while self._window and self._window[0] <= now - window:
            self._window.popleft()
        if len(self._window) >= budget:
            return max(1.0, self._window[0] + window - now)
        self._window.append(now)
        return None

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        if body is None and status == 204:
            return httpx.Response(status, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    def error_body(self, status: int, message: str) -> Any:
        """The vendor's error JSON for ``status``; subclasses mimic their vendor."""
        return {"message": message}

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = urlsplit(str(request.url)).path
        method = request.method.upper()
        params = dict(request.url.params)
        call = Call(method, path, params, at=time.monotonic())
        with self._lock:
            self.calls.append(call)
            response, fault = self._dispatch(request, method, path)
        call.status = response.status_code
        if self.contract is not None:
            self.contract.check(request, response, vendor=self.vendor, undocumented=self.undocumented)
        if fault is not None and fault.after_effect_delay:
            time.sleep(fault.after_effect_delay)
        return response

    def _dispatch(self, request: httpx.Request, method: str, path: str) -> tuple[httpx.Response, Fault | None]:
        fault = self._take_fault(method, path)
        if fault is not None and not (fault.after_effect or fault.after_effect_delay):
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            if fault.raw is not None:
                return httpx.Response(
                    fault.status, content=fault.raw, headers={"content-type": "application/json", **headers}
                ), fault
            body = fault.body if fault.body is not None else self.error_body(fault.status, "injected fault")
            return self._json(fault.status, body, headers), fault
        wait = self._rate_limited()
        if wait is not None:
            body = self.error_body(429, "rate limit exceeded")
            return self._json(429, body, {"Retry-After": str(int(wait + 0.999))}), None
        for r in self._routes:
            if r.method != method:
                continue
            match = r.regex.match(path)
            if not match:
                continue
            try:
                self.check_auth(request)
                result = r.func(request, **match.groupdict())
            except HttpError as err:
                body = err.body if err.body is not None else self.error_body(err.status, "error")
                return self._json(err.status, body, err.headers), fault
            if fault is not None and fault.after_effect:
                body = fault.body if fault.body is not None else self.error_body(fault.status, "upstream timeout")
                return self._json(fault.status, body), fault
            if isinstance(result, httpx.Response):
                return result, fault
            status, body = result if isinstance(result, tuple) else (200, result)
            return self._json(status, body), fault
        return self._json(404, self.error_body(404, f"no route {method} {path}")), fault

    # -- helpers for handlers -------------------------------------------------------------------
    @staticmethod
    def body_of(request: httpx.Request) -> Any:
        try:
            return json.loads(request.content or b"null")
        except ValueError:
            raise HttpError(400, {"message": "request body is not JSON"}) from None

    def url_for(self, path: str, params: dict[str, Any] | None = None) -> str:
        url = self.base_url + self.base_path + path
        if params:
            url += "?" + str(httpx.QueryParams({k: v for k, v in params.items() if v is not None}))
        return url
