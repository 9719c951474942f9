"""What each vendor connector can do and what it still needs — for ``switchboard connectors``.

Everything is worked out offline from the registry, the vendor modules and the settings:

- capabilities and the API document (present in ``SWITCHBOARD_SPECS_DIR`` or not);
- webhooks: whether the module defines ``WEBHOOK`` (what it verifies, from its docstring), and
  whether its secret (and which tenants' secrets) are set;
- settings: every field of the vendor's settings model with its environment variable, set or
  unset, secret or not. *Required* settings are found by building the connector from the
  settings with an HTTP transport that refuses every call: each ``NotConfigured`` it raises names
  a missing setting, which is then filled with a placeholder to find the next. No request leaves
  the machine, and the vendor module stays the only authority on what it needs.
"""

from __future__ import annotations

import importlib
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx
from pydantic import BaseModel, SecretStr

from config.webhooks import secret_setting, vendor_key
from connectors import registry
from connectors.contract import specs_dir
from connectors.errors import NotConfigured

__all__ = ["SettingState", "VendorReport", "report", "reports"]

_SETTING = re.compile(r"SWITCHBOARD_[A-Z0-9_]+")


@dataclass(frozen=True)
class SettingState:
    env: str
    set: bool
    secret: bool
    required: bool
    explicit: bool
    """given in the environment (or ``.env``), not left at its default"""
    value: str | None
    """the value for people (never a secret's; ``None`` when unset or secret)"""


@dataclass
class VendorReport:
    name: str
    title: str
    kind: str
    active: bool
    capabilities: list[str]
    spec: str | None
    spec_present: bool | None
    settings: list[SettingState] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    webhook: str | None = None
    """what the vendor's webhook verification is (first line of ``WEBHOOK``'s docstring); None: no webhooks"""
    webhook_secret: str = ""
    webhook_enabled: bool = False
    webhook_tenants: list[str] = field(default_factory=list)
    has_check: bool = False

    @property
    def configured(self) -> bool:
        return not self.missing

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "configured": self.configured}


def _load(spec: str) -> Any:
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


def _env_name(attr: str, name: str) -> str:
    return f"SWITCHBOARD_{attr.upper()}__{name.upper()}"


def _shown(value: Any) -> str | None:
    if value is None or isinstance(value, SecretStr):
        return None
    if isinstance(value, (dict, list)):
        text = json.dumps(value, default=lambda v: getattr(v, "value", str(v)))
        return text if len(text) <= 80 else text[:77] + "..."
    text = str(value)
    if "://" in text:
        scheme, rest = text.split("://", 1)
        host, slash, path = rest.partition("/")
        if "@" in host:  # a password in a URL is still a password
            text = f"{scheme}://***@{host.rsplit('@', 1)[1]}{slash}{path}"
    return text


def _placeholder(annotation: Any) -> Any:
    text = str(annotation)
    if "SecretStr" in text:
        return SecretStr("probe-placeholder")
    if "int" in text:
        return 1
    return "https://probe.invalid"


def _refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("offline probe: no request is sent", request=request)


def _missing(info: registry.VendorInfo, vendor_settings: BaseModel) -> list[str]:
    cls = _load(info.client)
    probe = vendor_settings
    missing: list[str] = []
    for _ in range(20):
        try:
            connector = cls.from_settings(probe, transport=httpx.MockTransport(_refuse))
        except NotConfigured as exc:
            found = _SETTING.search(str(exc))
            if not found or found.group(0) in missing:
                return missing
            missing.append(found.group(0))
            name = found.group(0).split("__", 1)[-1].lower()
            if name not in type(probe).model_fields:
                return missing
            probe = probe.model_copy(update={name: _placeholder(type(probe).model_fields[name].annotation)})
            continue
        except Exception:  # noqa: BLE001 - it needed the network (Autotask's zone lookup): settings are there
            return missing
        http = getattr(connector, "http", None)
        if http is not None:
            http.client.close()
        return missing
    return missing


def _webhook(info: registry.VendorInfo) -> str | None:
    module = importlib.import_module(info.client.partition(":")[0])
    spec = getattr(module, "WEBHOOK", None)
    if spec is None:
        return None
    doc = (type(spec).__doc__ or "").strip().splitlines()
    return doc[0].rstrip(".") if doc else "yes"


def report(settings: Any, name: str) -> VendorReport:
    info = registry.get(name)
    vendor_settings = getattr(settings, info.settings_attr)
    cls = _load(info.client)
    out = VendorReport(
        name=info.name, title=info.title, kind=info.kind,
        active=name in (settings.rmm, settings.psa, settings.docs),
        capabilities=list(info.capabilities), spec=info.spec,
        spec_present=(specs_dir() / info.spec).exists() if info.spec else None,
        has_check=callable(getattr(cls, "check", None)),
    )
    out.missing = _missing(info, vendor_settings)
    for fname, finfo in type(vendor_settings).model_fields.items():
        value = getattr(vendor_settings, fname)
        env = _env_name(info.settings_attr, fname)
        secret = "SecretStr" in str(finfo.annotation)
        out.settings.append(SettingState(env, value is not None, secret, env in out.missing,
                                         fname in vendor_settings.model_fields_set, None if secret else _shown(value)))
    out.webhook = _webhook(info)
    out.webhook_secret = secret_setting(name)
    hooks = settings.webhooks
    out.webhook_enabled = hooks.secret_for(name) is not None
    out.webhook_tenants = sorted(t for k, ts in hooks.tenant_secrets.items() if vendor_key(k) == name for t in ts)
    return out


def reports(settings: Any) -> list[VendorReport]:
    return [report(settings, name) for name in registry.VENDORS]
