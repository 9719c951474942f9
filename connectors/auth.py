"""httpx ``Auth`` classes for the vendors' documented schemes.

Each keeps its secrets as ``SecretStr`` and reveals them only while building a request, so the
objects are safe to repr and log. The OAuth flows fetch a token through the same client (so the
simulators and respx see the token call too), cache it until shortly before it expires, and
refresh it once when the API answers 401.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Generator, Mapping
from typing import Any

import httpx
from pydantic import SecretStr

from connectors.errors import AuthError, NotConfigured

__all__ = ["BasicAuth", "HeaderAuth", "OAuth2TokenAuth", "require"]


def require(value: SecretStr | str | None, setting: str, vendor: str) -> str:
    """The value of a required setting, or a clear :class:`NotConfigured` naming it."""
    if value is None:
        raise NotConfigured(f"setting {setting} is not set", vendor=vendor)
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    if not text:
        raise NotConfigured(f"setting {setting} is empty", vendor=vendor)
    return text


class HeaderAuth(httpx.Auth):
    """Static headers (Autotask's three headers, Hudu's ``x-api-key``, IT Glue's key)."""

    def __init__(self, headers: Mapping[str, SecretStr | str]) -> None:
        self._headers = dict(headers)

    def __repr__(self) -> str:
        return f"HeaderAuth(headers={sorted(self._headers)!r})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        for name, value in self._headers.items():
            request.headers[name] = value.get_secret_value() if isinstance(value, SecretStr) else value
        yield request


class BasicAuth(httpx.Auth):
    """HTTP Basic with a secret password (ConnectWise's ``company+public:private``)."""

    def __init__(self, username: str, password: SecretStr, extra_headers: Mapping[str, str] | None = None):
        self._username = username
        self._password = password
        self._extra = dict(extra_headers or {})

    def __repr__(self) -> str:
        return f"BasicAuth(username={self._username!r}, password=SecretStr('**********'))"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raw = f"{self._username}:{self._password.get_secret_value()}".encode()
        request.headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        for name, value in self._extra.items():
            request.headers[name] = value
        yield request


class OAuth2TokenAuth(httpx.Auth):
    """Bearer tokens from an OAuth2 token endpoint (password or client-credentials grant).

    ``form`` holds the grant's fields; ``client_basic`` an optional (id, secret) pair sent as
    HTTP Basic on the token call (Datto RMM uses ``public-client:public``).
    """

    requires_response_body = True

    def __init__(
        self,
        token_url: str,
        form: Mapping[str, SecretStr | str],
        *,
        vendor: str,
        credential_settings: str,
        client_basic: tuple[str, str] | None = None,
        refresh_margin: float = 60.0,
    ) -> None:
        self.token_url = token_url
        self._form = dict(form)
        self._vendor = vendor
        self._credential_settings = credential_settings
        self._client_basic = client_basic
        self._margin = refresh_margin
        self._token: SecretStr | None = None
        self._expires_at = 0.0
        self.token_fetches = 0

    def __repr__(self) -> str:
        return f"OAuth2TokenAuth(token_url={self.token_url!r}, vendor={self._vendor!r})"

    def _token_request(self) -> httpx.Request:
        data = {k: (v.get_secret_value() if isinstance(v, SecretStr) else v) for k, v in self._form.items()}
        headers = {"Accept": "application/json"}
        if self._client_basic:
            raw = f"{self._client_basic[0]}:{self._client_basic[1]}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        return httpx.Request("POST", self.token_url, data=data, headers=headers)

    def _accept_token(self, response: httpx.Response) -> None:
        if response.status_code in (400, 401, 403):
            raise AuthError(
                f"token request -> HTTP {response.status_code}: the vendor refused the credentials; "
                f"check {self._credential_settings}",
                vendor=self._vendor,
                status=response.status_code,
            )
        if not response.is_success:
            from connectors.errors import ServerError

            raise ServerError(
                f"token request -> HTTP {response.status_code}", vendor=self._vendor, status=response.status_code
            )
        try:
            body: dict[str, Any] = response.json()
            token = str(body["access_token"])
        except (ValueError, KeyError, TypeError):
            raise AuthError("token response has no access_token", vendor=self._vendor) from None
        self._token = SecretStr(token)
        self._expires_at = time.monotonic() + float(body.get("expires_in") or 3600) - self._margin
        self.token_fetches += 1

    def _valid(self) -> bool:
        return self._token is not None and time.monotonic() < self._expires_at

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if not self._valid():
            token_response = yield self._token_request()
            token_response.read()
            self._accept_token(token_response)
        assert self._token is not None
        request.headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        response = yield request
        if response.status_code == 401:
            # The token may have been revoked or expired early: fetch a new one, once.
            token_response = yield self._token_request()
            token_response.read()
            self._accept_token(token_response)
            request.headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
            yield request
