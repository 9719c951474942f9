"""API calls per operation for the documentation connectors (IT Glue, Hudu) against their simulators.

Targets (issue 3): an incremental pull with a few changed documents among many costs at most 2
calls; a full pull costs the number of pages at the vendor's maximum page size (1,000 for both).
Baseline, measured in the same run: a plain client that pages at the vendor's *default* page size
(IT Glue 50, Hudu 25) and, having no change filter, re-reads everything for an "incremental" pull.

Run: ``.venv/bin/python benchmarks/bench_docs_calls.py``
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from connectors.hudu import Hudu, HuduSettings
from connectors.itglue import ItGlue, ItGlueSettings
from connectors.simulators.hudu import HuduSimulator
from connectors.simulators.itglue import ItGlueSimulator

START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
MANY = 10_000
CHANGED = 10
CLIENTS = 200


class Clock:
    def __init__(self) -> None:
        self.at = START

    def __call__(self) -> datetime:
        return self.at


def baseline_calls(sim: Any, path: str, page_param: str, params: dict[str, str], more: Callable[[Any], bool],
                   headers: dict[str, str]) -> int:
    """A plain client: the vendor's default page size, no change filter, page until ``more`` says stop."""
    before = len(sim.calls)
    with httpx.Client(transport=sim.transport(), base_url=sim.base_url, headers=headers) as client:
        page = 1
        while more(client.get(path, params={**params, page_param: str(page)}).json()):
            page += 1
    return len(sim.calls) - before


def itglue_rows(n_articles: int, full_only: bool = False) -> list[tuple[str, int, str, int | None]]:
    clock = Clock()
    sim = ItGlueSimulator(now=clock)
    sim.rate_limit = None  # calls are counted here, not paced
    kb = sim.add_asset_type("KB Article")
    ids = []
    for i in range(n_articles):
        clock.at += timedelta(minutes=3)
        ids.append(sim.add_asset(kb, f"Article {i}", {"steps": f"<p>step {i}</p>"}))
    c = ItGlue.from_settings(ItGlueSettings(base_url=sim.base_url, api_key=sim.api_key, article_type_id=kb),
                             transport=sim.transport())
    headers = {"x-api-key": sim.api_key}
    base = baseline_calls(sim, "/flexible_assets", "page[number]", {"filter[flexible-asset-type-id]": str(kb)},
                          lambda body: body["meta"]["next-page"] is not None, headers)
    full = c.pull_articles(None, clock.at)
    assert len(full.items) == n_articles
    rows = [(f"full pull, {n_articles:,} articles", full.calls, f"= {math.ceil(n_articles / 1000)} pages", base)]
    if full_only:
        return rows
    clock.at += timedelta(hours=1)
    for aid in ids[:: n_articles // CHANGED][:CHANGED]:
        sim.edit_asset(aid, traits={"steps": "<p>revised</p>"})
    inc = c.pull_articles(full.cursor, clock.at)
    assert len(inc.items) == CHANGED
    idle = c.pull_articles(inc.cursor, clock.at)
    for i in range(CLIENTS):
        sim.add_organization(f"Client {i}", psa=("autotask", str(7000 + i)))
    before = len(sim.calls)
    linked = c.linked_orgs("autotask", [str(7000 + i) for i in range(CLIENTS)])
    assert all(len(v) == 1 for v in linked.values())
    return rows + [
        (f"incremental, {CHANGED} of {n_articles:,} changed", inc.calls, "<= 2", base),
        ("incremental, nothing changed", idle.calls, "<= 2", base),
        (f"client-map proposals, {CLIENTS} PSA companies (one filtered call each)", len(sim.calls) - before, "-",
         None),
    ]


def hudu_rows(n_articles: int, full_only: bool = False) -> list[tuple[str, int, str, int | None]]:
    clock = Clock()
    sim = HuduSimulator(now=clock)
    sim.rate_limit = None  # calls are counted here, not paced (the baseline alone would exceed 300/min)
    folder = sim.add_folder("Printing")
    ids = []
    for i in range(n_articles):
        clock.at += timedelta(minutes=3)
        ids.append(sim.add_article(f"Article {i}", f"<p>step {i}</p>", folder_id=folder if i % 2 else None))
    headers = {"x-api-key": sim.api_key}
    base = baseline_calls(sim, "/api/v1/articles", "page", {}, lambda body: len(body["articles"]) == 25, headers)
    c = Hudu.from_settings(HuduSettings(base_url=sim.base_url, api_key=sim.api_key), transport=sim.transport())
    sim.reset_calls()
    full = c.pull_articles(None, clock.at)
    assert len(full.items) == n_articles
    pages, folders = sim.count("GET", "/articles$"), sim.count("GET", "/folders$")
    empty = " incl. 1 empty (Hudu sends no total)" if n_articles % 1000 == 0 else ""
    rows = [(f"full pull, {n_articles:,} articles ({pages} pages{empty} + {folders} folder list)", full.calls,
             f"= {math.ceil(n_articles / 1000)} pages", base)]
    if full_only:
        return rows
    clock.at += timedelta(hours=1)
    cold = Hudu.from_settings(HuduSettings(base_url=sim.base_url, api_key=sim.api_key), transport=sim.transport())
    for aid in ids[1 :: n_articles // CHANGED][:CHANGED]:  # filed in a folder
        sim.edit_article(aid, content="<p>revised</p>")
    first = cold.pull_articles(full.cursor, clock.at)
    warm = c.pull_articles(full.cursor, clock.at)
    assert len(first.items) == len(warm.items) == CHANGED
    idle = c.pull_articles(warm.cursor, clock.at)
    for i in range(CLIENTS):
        sim.add_company(f"Client {i}", integrations=[("Autotask", str(7000 + i))])
    before = len(sim.calls)
    linked = c.linked_orgs("autotask", [str(7000 + i) for i in range(CLIENTS)])
    assert all(len(v) == 1 for v in linked.values())
    return rows + [
        (f"incremental, {CHANGED} of {n_articles:,} changed, folders known", warm.calls, "<= 2", base),
        (f"incremental, {CHANGED} of {n_articles:,} changed, first pull of a process", first.calls, "<= 2", base),
        ("incremental, nothing changed", idle.calls, "<= 2", base),
        (f"client-map proposals, {CLIENTS} PSA companies (one listing)", len(sim.calls) - before, "-", None),
    ]


def main() -> None:
    rows: list[tuple[str, str, int, str, int | None]] = []
    rows += [("itglue", *r) for r in itglue_rows(MANY)]
    rows += [("itglue", *r) for r in itglue_rows(MANY - 500, full_only=True)]
    rows += [("hudu", *r) for r in hudu_rows(MANY)]
    rows += [("hudu", *r) for r in hudu_rows(MANY - 500, full_only=True)]
    print("API calls per operation (simulators; max page size 1,000 for both vendors)")
    print(f"{'vendor':<7} {'operation':<90} {'calls':>5}  {'target':<46} {'baseline':>8}  {'ratio':>6}")
    for vendor, op, calls, target, base in rows:
        ratio = f"{base / calls:.0f}x" if base else "-"
        print(f"{vendor:<7} {op:<90} {calls:>5}  {target:<46} {base if base is not None else '-':>8}  {ratio:>6}")
    print("baseline: the same operation by a plain client at the vendor's default page size (IT Glue 50, "
          "Hudu 25) with no change filter (an 'incremental' pull re-reads everything)")


if __name__ == "__main__":
    main()
