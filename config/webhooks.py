"""Settings of ``switchboard serve``, the webhook receiver (``SWITCHBOARD_WEBHOOKS__…``).

Secrets are per vendor and, for the per-tenant URL ``/webhooks/{vendor}/{tenant}``, per tenant.
Either form of environment variable works; vendor names may use ``_`` for ``-`` and any case::

    SWITCHBOARD_WEBHOOKS__SECRETS__DATTO_RMM=…                 # /webhooks/datto-rmm
    SWITCHBOARD_WEBHOOKS__TENANT_SECRETS__DATTO_RMM__ACME=…    # /webhooks/datto-rmm/acme
    SWITCHBOARD_WEBHOOKS__SECRETS='{"ninjaone": "…", "datto-rmm": "…"}'

A vendor (or tenant) without a secret is not enabled: its calls are refused, never processed.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr

__all__ = ["WebhookSettings", "secret_setting", "vendor_key"]


def vendor_key(name: str) -> str:
    """Vendor and tenant names as compared: lower case, ``_`` and ``-`` alike."""
    return name.strip().lower().replace("_", "-")


def secret_setting(vendor: str, tenant: str | None = None) -> str:
    """The environment variable that holds a vendor's (or tenant's) webhook secret."""
    v = vendor_key(vendor).replace("-", "_").upper()
    if tenant:
        return f"SWITCHBOARD_WEBHOOKS__TENANT_SECRETS__{v}__{vendor_key(tenant).replace('-', '_').upper()}"
    return f"SWITCHBOARD_WEBHOOKS__SECRETS__{v}"


class WebhookSettings(BaseModel):
    host: str = "127.0.0.1"
    """Where ``switchboard serve`` listens; put it behind a TLS-terminating proxy to face vendors."""
    port: int = 8088
    secrets: dict[str, SecretStr] = Field(default_factory=dict)
    """vendor -> the shared token, or the HMAC key of a vendor that signs"""
    tenant_secrets: dict[str, dict[str, SecretStr]] = Field(default_factory=dict)
    """vendor -> tenant -> secret, for ``/webhooks/{vendor}/{tenant}``"""
    replay_ttl_seconds: int = 86400
    """How long a delivery id (or body digest) is remembered to refuse a second delivery."""
    max_body_bytes: int = 1_048_576

    def secret_for(self, vendor: str, tenant: str | None = None) -> SecretStr | None:
        want = vendor_key(vendor)
        if tenant is None:
            return next((s for k, s in self.secrets.items() if vendor_key(k) == want), None)
        tenants = next((t for k, t in self.tenant_secrets.items() if vendor_key(k) == want), {})
        return next((s for k, s in tenants.items() if vendor_key(k) == vendor_key(tenant)), None)
