"""``switchboard clients docs``: review (and accept) the documentation side of the client map."""

from __future__ import annotations

import json
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    from worker.cli import clients_app

    clients_app.command("docs")(clients_docs)


def clients_docs(
    accept: Annotated[bool, typer.Option("--accept", help="Write the proposals into the client map")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the review as JSON")] = False,
) -> None:
    """Propose each client's documentation organisation from the links the docs platform keeps to
    the PSA (IT Glue's PSA sync, Hudu's integrations), and list what a person must still map."""
    from rich.markup import escape

    from pipelines import docs_map
    from worker.cli import UserError, console, context

    ctx = context()
    if not ctx.settings.docs:
        raise UserError("no documentation platform is configured (SWITCHBOARD_DOCS=itglue|hudu)")
    docs = ctx.docs()
    with ctx.db.session() as s:
        result = docs_map.review(s, docs, ctx.settings.psa)
        if accept:
            docs_map.accept(s, result.proposals)
    if as_json:
        console.print_json(json.dumps({**result.as_dict(), "accepted": accept}))
        return
    console.print(f"[bold]{result.docs}[/] against the client map's {result.psa} companies: "
                  f"{result.in_agreement} already mapped as {result.docs} links them, "
                  f"{len(result.proposals)} proposal(s), {len(result.conflicts)} conflict(s), "
                  f"{len(result.unlinked)} without a link, {len(result.unmapped)} unmapped organisation(s)")
    for p in result.proposals:
        verb = "mapped" if accept else "proposal"
        console.print(f"[green]{verb}[/]: " + escape(f"{p.rmm_name or p.rmm_client_id} ({p.rmm_client_id}) -> "
                                                     f"{p.docs_name} ({p.docs} {p.docs_org_id}) — {p.why}"))
    for c in result.conflicts:
        console.print("[red]conflict[/]: " + escape(f"{c.rmm_name or c.rmm_client_id} ({c.rmm_client_id}) — {c.detail}"))
    for u in result.unlinked:
        console.print("[yellow]no link[/]: " + escape(
            f"{u.rmm_name or u.rmm_client_id} ({u.rmm_client_id}) — {u.detail}; "
            f"map it by hand: switchboard clients map {u.rmm_client_id} --docs-org ID"))
    for org in result.unmapped:
        console.print("[yellow]unmapped organisation[/]: " + escape(
            f"{org.name} ({result.docs} {org.ref.id}) — no client in the map points at it"))
    if result.proposals and not accept:
        console.print("review, then run `switchboard clients docs --accept` to write the proposals")
