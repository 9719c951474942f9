"""The documentation side of the client map: proposals from the docs platform's own PSA links."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from connectors.simulators.hudu import HuduSimulator
from connectors.simulators.itglue import ItGlueSimulator
from pipelines import clients, docs_map
from pipelines.state import ClientMap
from tests.helpers import settings_env

ROOT = Path(__file__).resolve().parents[2]


def seed_map(ctx) -> None:
    with ctx.db.session() as s:
        for site, name, company in (("site-1", "Acme Dental", "7001"), ("site-2", "Birchwood", "7002"),
                                    ("site-3", "Cedar Law", "7003"), ("site-4", "Dunmore", "7004")):
            clients.map_client(s, rmm="datto-rmm", rmm_client_id=site, rmm_name=name, psa="autotask",
                               psa_company_id=company)


@pytest.fixture
def itglue_ctx(sim, make_context):
    itg = sim(ItGlueSimulator)
    itg.add_organization("Kraken Techs (us)", primary=True)
    acme = itg.add_organization("Acme Dental Group", psa=("autotask", "7001"))
    itg.add_organization("Birchwood Accounting", psa=("autotask", "7002"))
    itg.add_organization("Birchwood (old)", psa=("autotask", "7002"))
    itg.add_organization("Dunmore Logistics", psa=("autotask", "7004"))
    itg.add_organization("Elm Street Clinic")
    ctx = make_context({"itglue": itg}, docs="itglue", itglue={"base_url": itg.base_url, "api_key": itg.api_key})
    seed_map(ctx)
    with ctx.db.session() as s:  # a person mapped Dunmore by hand, to another organisation
        clients.map_client(s, rmm="datto-rmm", rmm_client_id="site-4", docs="itglue", docs_org_id="999")
    return ctx, itg, acme


def test_itglue_review_proposes_only_what_the_psa_link_says(itglue_ctx) -> None:
    ctx, itg, acme = itglue_ctx
    with ctx.db.session() as s:
        review = docs_map.review(s, ctx.docs(), "autotask")
    (p,) = review.proposals
    assert (p.rmm_client_id, p.docs, p.docs_org_id, p.docs_name) == ("site-1", "itglue", str(acme), "Acme Dental Group")
    assert {c.rmm_client_id for c in review.conflicts} == {"site-2", "site-4"}  # two claimants; hand map differs
    assert [u.rmm_client_id for u in review.unlinked] == ["site-3"]
    assert sorted(o.name for o in review.unmapped) == ["Birchwood (old)", "Birchwood Accounting",
                                                       "Dunmore Logistics", "Elm Street Clinic"]
    assert itg.count("GET", "/organizations") == 4 + 1  # one filtered call per PSA company + the listing


def test_accepting_writes_the_docs_columns_and_keeps_the_rows_origin(itglue_ctx) -> None:
    ctx, _, acme = itglue_ctx
    with ctx.db.session() as s:
        assert docs_map.accept(s, docs_map.review(s, ctx.docs(), "autotask").proposals) == 1
    with ctx.db.session() as s:
        row = s.scalar(sa.select(ClientMap).where(ClientMap.rmm_client_id == "site-1"))
        assert (row.docs, row.docs_org_id, row.docs_name, row.source) == ("itglue", str(acme), "Acme Dental Group",
                                                                          "manual")
        hand = s.scalar(sa.select(ClientMap).where(ClientMap.rmm_client_id == "site-4"))
        assert hand.docs_org_id == "999"  # a person's choice is never overwritten
        again = docs_map.review(s, ctx.docs(), "autotask")
    assert again.proposals == [] and again.in_agreement == 1


def test_hudu_review_uses_the_company_integrations(sim, make_context) -> None:
    hudu = sim(HuduSimulator)
    acme = hudu.add_company("Acme Dental", integrations=[("Autotask", "7001")])
    hudu.add_company("Cedar Law Partners", integrations=[("CW Manage", "7003")])  # another PSA's id
    hudu.add_company("Birchwood Accounting")
    ctx = make_context({"hudu": hudu})
    seed_map(ctx)
    with ctx.db.session() as s:
        review = docs_map.review(s, ctx.docs(), "autotask")
    assert [(p.rmm_client_id, p.docs_org_id) for p in review.proposals] == [("site-1", str(acme))]
    assert {u.rmm_client_id for u in review.unlinked} == {"site-2", "site-3", "site-4"}
    assert sorted(o.name for o in review.unmapped) == ["Birchwood Accounting", "Cedar Law Partners"]
    assert hudu.count("GET", "/companies") == 2  # one pass for the links, one for the listing


def test_clients_docs_command(sim, make_context, settings_factory) -> None:
    from connectors.simulators.server import serve

    hudu = sim(HuduSimulator)
    hudu.add_company("Acme Dental", integrations=[("Autotask", "7001")])
    with serve(hudu) as server:
        ctx = make_context(hudu={"base_url": server.url})
        seed_map(ctx)
        env = settings_env(settings_factory(hudu={"base_url": server.url}))
        run = [sys.executable, "-m", "worker", "clients", "docs"]
        shown = subprocess.run(run, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert shown.returncode == 0, shown.stderr
        assert "proposal: Acme Dental (site-1) -> Acme Dental (hudu" in shown.stdout
        assert "no link: Birchwood (site-2)" in shown.stdout and "--accept" in shown.stdout
        done = subprocess.run([*run, "--accept", "--json"], env=env, cwd=ROOT, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["accepted"] is True
    with ctx.db.session() as s:
        row = s.scalar(sa.select(ClientMap).where(ClientMap.rmm_client_id == "site-1"))
        assert row.docs == "hudu" and row.docs_name == "Acme Dental"
