"""Connector errors, in three families so that retry policy looks only at the type.

::

    ConnectorError
    ├── FatalError                  never retried; a person must act
    │   ├── AuthError               401: which credential of which vendor is wrong
    │   ├── PermissionDenied        403: the credential works but lacks a permission
    │   ├── NotFound                404
    │   ├── ValidationFailed        400/409/422: which field the vendor refused
    │   ├── NotConfigured           a base URL or credential setting is missing
    │   └── PaginationLoop          a paginator saw the same page token twice
    ├── RetriableError              retried with backoff (bounded), then re-raised
    │   ├── RateLimited             429, carries the vendor's Retry-After
    │   ├── ServerError             5xx
    │   ├── TransportError          timeouts, refused connections
    │   └── UnknownOutcome          a write (POST) timed out or got a 5xx: it may have been applied.
    │                               Never re-sent in-line; the outbox searches for its marker first.
    └── SkippableError              one bad record; quarantine it and go on
        └── MalformedRecord

Messages never contain secrets: they name the *setting* that holds a credential, not its value.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "ConnectorError",
    "FatalError",
    "MalformedRecord",
    "NotConfigured",
    "NotFound",
    "PaginationLoop",
    "PermissionDenied",
    "RateLimited",
    "RetriableError",
    "ServerError",
    "SkippableError",
    "TransportError",
    "UnknownOutcome",
    "ValidationFailed",
]


class ConnectorError(Exception):
    """Base of every error a connector raises."""

    def __init__(self, message: str, *, vendor: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.vendor = vendor
        self.status = status

    def __str__(self) -> str:
        text = super().__str__()
        return f"{self.vendor}: {text}" if self.vendor and not text.startswith(self.vendor) else text


class FatalError(ConnectorError):
    pass


class AuthError(FatalError):
    pass


class PermissionDenied(FatalError):
    pass


class NotFound(FatalError):
    pass


class ValidationFailed(FatalError):
    pass


class NotConfigured(FatalError):
    pass


class PaginationLoop(FatalError):
    pass


class RetriableError(ConnectorError):
    pass


class RateLimited(RetriableError):
    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ServerError(RetriableError):
    pass


class TransportError(RetriableError):
    pass


class UnknownOutcome(RetriableError):
    pass


class SkippableError(ConnectorError):
    pass


class MalformedRecord(SkippableError):
    """A vendor record that does not fit its model; keep ``payload`` for quarantine."""

    def __init__(self, message: str, *, payload: object = None, stream: str = "", **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.payload = payload
        self.stream = stream
