"""Which vendors exist, what they can do, and how to build one from settings.

Each entry names the vendor module's client class and settings attribute, so adding a vendor
is one module plus one line here (see the connector guide in ``docs/connectors.md``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["VENDORS", "VendorInfo", "build", "get", "simulator_class"]


@dataclass(frozen=True)
class VendorInfo:
    name: str
    title: str
    kind: Literal["rmm", "psa", "docs"]
    client: str
    """``module:Class`` of the client; the class has ``from_settings(settings, redis=, prefix=, transport=)``."""
    settings_attr: str
    simulator: str
    """``module:Class`` of the simulator."""
    capabilities: tuple[str, ...]
    spec: str | None
    """The vendor's API document in ``shared/specs`` (None: built from the public reference)."""


VENDORS: dict[str, VendorInfo] = {
    v.name: v
    for v in (
        VendorInfo(
            "datto-rmm", "Datto RMM", "rmm", "connectors.datto_rmm:DattoRmm", "datto_rmm",
            "connectors.simulators.datto_rmm:DattoRmmSimulator",
            ("alerts:open", "alerts:resolved", "alerts:incremental", "alerts:resolve", "sites", "devices",
             "webhooks"),
            "datto-rmm.json",
        ),
        VendorInfo(
            "ninjaone", "NinjaOne", "rmm", "connectors.ninjaone:NinjaOne", "ninjaone",
            "connectors.simulators.ninjaone:NinjaOneSimulator",
            ("alerts:open", "alerts:resolved", "alerts:incremental", "alerts:resolve", "sites", "devices",
             "webhooks"),
            "ninjaone.yaml",
        ),
        VendorInfo(
            "tactical-rmm", "Tactical RMM", "rmm", "connectors.tactical_rmm:TacticalRmm", "tactical_rmm",
            "connectors.simulators.tactical_rmm:TacticalRmmSimulator",
            ("alerts:open", "alerts:resolved", "alerts:incremental", "alerts:resolve", "alerts:acknowledge",
             "sites", "devices", "webhooks"),
            None,
        ),
        VendorInfo(
            "autotask", "Autotask PSA", "psa", "connectors.autotask:Autotask", "autotask",
            "connectors.simulators.autotask:AutotaskSimulator",
            ("tickets:incremental", "tickets:create", "tickets:update", "tickets:close", "notes", "companies",
             "contacts", "resources", "time-entries", "marker:externalID", "statuses", "queues", "issue-types",
             "priorities", "webhooks"),
            "autotask.json",
        ),
        VendorInfo(
            "connectwise-psa", "ConnectWise PSA", "psa", "connectors.connectwise_psa:ConnectWisePsa", "connectwise_psa",
            "connectors.simulators.connectwise_psa:ConnectWisePsaSimulator",
            ("tickets:incremental", "tickets:create", "tickets:update", "tickets:close", "notes", "boards",
             "statuses", "types", "priorities", "companies", "contacts", "members", "time-entries",
             "marker:externalXRef", "webhooks"),
            "connectwise-psa.json",
        ),
        VendorInfo(
            "halopsa", "HaloPSA", "psa", "connectors.halopsa:HaloPsa", "halopsa",
            "connectors.simulators.halopsa:HaloPsaSimulator",
            ("tickets:incremental", "tickets:create", "tickets:update", "tickets:close", "notes", "statuses",
             "ticket-types", "categories", "priorities", "slas", "companies", "contacts", "members",
             "time-entries", "marker:third_party_id_string", "webhooks"),
            "halopsa.json",
        ),
        VendorInfo(
            "hudu", "Hudu", "docs", "connectors.hudu:Hudu", "hudu",
            "connectors.simulators.hudu:HuduSimulator",
            ("companies", "articles:incremental"),
            "hudu.json",
        ),
        VendorInfo(
            "itglue", "IT Glue", "docs", "connectors.itglue:ItGlue", "itglue",
            "connectors.simulators.itglue:ItGlueSimulator",
            ("organizations", "articles:incremental", "articles:links", "clients:psa-links"),
            None,
        ),
    )
}


def _load(spec: str) -> Any:
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


def get(name: str) -> VendorInfo:
    try:
        return VENDORS[name]
    except KeyError:
        known = ", ".join(sorted(VENDORS))
        raise KeyError(f"unknown vendor {name!r}; known vendors: {known}") from None


def build(name: str, settings: Any, *, redis: Any = None, prefix: str = "switchboard", transport: Any = None) -> Any:
    """A connector for vendor ``name`` configured from the process settings."""
    info = get(name)
    cls = _load(info.client)
    return cls.from_settings(getattr(settings, info.settings_attr), redis=redis, prefix=prefix, transport=transport)


def simulator_class(name: str) -> Any:
    return _load(get(name).simulator)
