"""The documentation side of the client map: which docs organisation is each client's.

A client row (RMM client ↔ PSA company) gets its documentation organisation from a person
(``switchboard clients map … --docs-org ID``), a reviewed file, or — reviewed here — from the
link the documentation platform itself keeps to the PSA: IT Glue syncs organisations from
ConnectWise Manage or Autotask and filters on that PSA id; Hudu lists each company's
integrations with the PSA's id for it. :func:`review` turns those links into proposals and reports
what a person must still decide:

- ``proposals``   exactly one organisation is linked to the row's PSA company;
- ``conflicts``   several organisations claim the same PSA company, or the map already names
                  another organisation than the platform's link — shown, never resolved by us;
- ``unlinked``    the platform records no organisation for the PSA company;
- ``unmapped``    organisations no client row points at (new clients, or leftovers to archive).

Nothing is matched by name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from connectors.canonical import Client
from pipelines.clients import map_client
from pipelines.state import ClientMap

__all__ = ["DocsProposal", "DocsReview", "accept", "review"]


@dataclass(frozen=True)
class DocsProposal:
    rmm: str
    rmm_client_id: str
    rmm_name: str
    psa: str
    psa_company_id: str
    docs: str
    docs_org_id: str
    docs_name: str
    why: str


@dataclass(frozen=True)
class Problem:
    rmm_client_id: str
    rmm_name: str
    psa_company_id: str
    detail: str


@dataclass
class DocsReview:
    docs: str
    psa: str
    proposals: list[DocsProposal] = field(default_factory=list)
    conflicts: list[Problem] = field(default_factory=list)
    unlinked: list[Problem] = field(default_factory=list)
    unmapped: list[Client] = field(default_factory=list)
    in_agreement: int = 0
    """rows whose docs organisation already matches the platform's link"""

    def as_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {
            "docs": self.docs, "psa": self.psa, "in_agreement": self.in_agreement,
            "proposals": [asdict(p) for p in self.proposals],
            "conflicts": [asdict(p) for p in self.conflicts],
            "unlinked": [asdict(p) for p in self.unlinked],
            "unmapped": [{"docs_org_id": c.ref.id, "name": c.name} for c in self.unmapped],
        }


def _rows(session: Session, psa: str) -> list[ClientMap]:
    q = sa.select(ClientMap).where(ClientMap.psa == psa, ClientMap.psa_company_id.is_not(None))
    return list(session.scalars(q.order_by(ClientMap.rmm_name, ClientMap.rmm_client_id)))


def review(session: Session, docs: Any, psa: str, organisations: Iterable[Client] | None = None) -> DocsReview:
    """Compare the client map with the links the documentation platform ``docs`` records.

    ``docs`` is a connector with ``vendor``, ``linked_orgs(psa, company_ids)`` and
    ``list_clients()``; ``organisations`` may be passed when already listed.
    """
    out = DocsReview(docs=docs.vendor, psa=psa)
    rows = _rows(session, psa)
    links: dict[str, list[Client]] = docs.linked_orgs(psa, sorted({r.psa_company_id for r in rows
                                                                   if r.psa_company_id}))
    for row in rows:
        company = row.psa_company_id or ""
        linked = links.get(company, [])
        current = row.docs_org_id if row.docs == docs.vendor else None
        if len(linked) > 1:
            names = ", ".join(f"{c.name} ({c.ref.id})" for c in linked)
            out.conflicts.append(Problem(row.rmm_client_id, row.rmm_name, company,
                                         f"{docs.vendor} links {psa} company {company} to several organisations: "
                                         f"{names}; choose one with `clients map --docs-org`"))
        elif len(linked) == 1:
            org = linked[0]
            if current == org.ref.id:
                out.in_agreement += 1
            elif current:
                out.conflicts.append(Problem(
                    row.rmm_client_id, row.rmm_name, company,
                    f"the map says {docs.vendor} organisation {current}, but {docs.vendor} links {psa} company "
                    f"{company} to {org.name} ({org.ref.id}); the map is kept until a person changes it"))
            else:
                out.proposals.append(DocsProposal(
                    row.rmm, row.rmm_client_id, row.rmm_name, psa, company, docs.vendor, org.ref.id, org.name,
                    f"{docs.vendor} records {psa} company {company} on organisation {org.ref.id}"))
        elif not current:  # (mapped by hand with no platform link: nothing to compare, nothing to say)
            out.unlinked.append(Problem(row.rmm_client_id, row.rmm_name, company,
                                        f"{docs.vendor} records no organisation synced from {psa} company {company}"))
    mapped = {r.docs_org_id for r in session.scalars(sa.select(ClientMap).where(ClientMap.docs == docs.vendor))}
    mapped |= {p.docs_org_id for p in out.proposals}
    orgs = organisations if organisations is not None else docs.list_clients()
    out.unmapped = [c for c in orgs if c.ref.id not in mapped]
    return out


def accept(session: Session, proposals: Iterable[DocsProposal]) -> int:
    """Write the proposals into the client map (each row keeps how it came to be)."""
    n = 0
    for p in proposals:
        row = session.scalar(sa.select(ClientMap).where(ClientMap.rmm == p.rmm,
                                                        ClientMap.rmm_client_id == p.rmm_client_id))
        map_client(session, rmm=p.rmm, rmm_client_id=p.rmm_client_id, docs=p.docs, docs_org_id=p.docs_org_id,
                   docs_name=p.docs_name, source=row.source if row is not None else "vendor-link")
        n += 1
    return n
