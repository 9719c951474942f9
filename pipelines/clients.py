"""The client map: RMM client/site ↔ PSA company ↔ documentation organisation.

Rows are made by a person (``switchboard clients map``), imported from a reviewed file
(``switchboard clients import``), or accepted from links the vendors themselves record
(Datto RMM keeps an Autotask company id on each site; ``switchboard clients link`` lists them
and ``--accept`` writes them). Nothing is matched by name: an unmapped client is reported and
its tickets wait as ``blocked`` actions until it is mapped, then go out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from sqlalchemy.orm import Session

from connectors.canonical import Client
from pipelines.state import ActionRow, ClientMap

__all__ = ["Proposal", "import_rows", "map_client", "proposals_from_links", "unblock_client", "unmapped_clients"]


@dataclass(frozen=True)
class Proposal:
    rmm: str
    rmm_client_id: str
    rmm_name: str
    psa: str
    psa_company_id: str
    psa_name: str | None
    why: str


def map_client(
    session: Session,
    *,
    rmm: str,
    rmm_client_id: str,
    rmm_name: str = "",
    psa: str | None = None,
    psa_company_id: str | None = None,
    psa_name: str | None = None,
    docs: str | None = None,
    docs_org_id: str | None = None,
    docs_name: str | None = None,
    source: str = "manual",
) -> ClientMap:
    row = session.scalar(sa.select(ClientMap).where(ClientMap.rmm == rmm, ClientMap.rmm_client_id == rmm_client_id))
    now = datetime.now(UTC)
    if row is None:
        row = ClientMap(rmm=rmm, rmm_client_id=rmm_client_id, created_at=now)
        session.add(row)
    row.rmm_name = rmm_name or row.rmm_name or ""
    for name, value in (("psa", psa), ("psa_company_id", psa_company_id), ("psa_name", psa_name), ("docs", docs),
                        ("docs_org_id", docs_org_id), ("docs_name", docs_name)):
        if value is not None:
            setattr(row, name, value)
    row.source = source
    row.updated_at = now
    session.flush()
    return row


def unblock_client(session: Session, client: str, psa: str, company_id: str) -> list[str]:
    """Give the client's waiting ticket creates their company and release them; returns groups."""
    groups: set[str] = set()
    rows = session.scalars(
        sa.select(ActionRow).where(ActionRow.client == client, ActionRow.status == "blocked",
                                   ActionRow.kind == "create_ticket")
    )
    for row in rows:
        payload = dict(row.payload)
        draft = dict(payload["draft"])
        draft["company"] = {"vendor": psa, "id": company_id}
        payload["draft"] = draft
        row.payload = payload
        row.status = "pending"
        row.last_error = None
        row.updated_at = datetime.now(UTC)
        groups.add(row.grp)
    if groups:
        session.execute(
            sa.update(ActionRow).where(ActionRow.grp.in_(groups), ActionRow.status == "blocked")
            .values(status="pending", last_error=None)
        )
    return sorted(groups)


def proposals_from_links(clients: Iterable[Client], psa: str, companies: dict[str, str]) -> list[Proposal]:
    """Mappings the RMM itself records (explicit links), checked against the PSA's companies."""
    out = []
    for c in clients:
        linked = c.links.get(psa)
        if linked and linked in companies:
            out.append(Proposal(c.ref.vendor, c.ref.id, c.name, psa, linked, companies[linked],
                                f"{c.ref.vendor} records {psa} company {linked} on this client"))
    return out


def unmapped_clients(session: Session, rmm: str, clients: Iterable[Client]) -> list[Client]:
    mapped = set(session.scalars(
        sa.select(ClientMap.rmm_client_id).where(ClientMap.rmm == rmm, ClientMap.psa_company_id.is_not(None))
    ))
    return [c for c in clients if c.ref.id not in mapped]


def import_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a reviewed mapping file (YAML list, or CSV with a header)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".csv":
        import csv
        import io

        rows = list(csv.DictReader(io.StringIO(text)))
    else:
        data = yaml.safe_load(text) or []
        rows = data.get("clients", []) if isinstance(data, dict) else data
    required = ("rmm", "rmm_client_id")
    for i, r in enumerate(rows, 1):
        if not isinstance(r, dict) or any(not r.get(k) for k in required):
            raise ValueError(f"{path}: row {i}: needs {', '.join(required)} (got {r!r})")
    return rows
