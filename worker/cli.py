"""The ``switchboard`` command line (typer + rich).

Every command goes through :func:`main`, the one error boundary: configuration mistakes,
vendor refusals and unreachable services print one clear line (and exit non-zero), never a
traceback. ``SWITCHBOARD_DEBUG=1`` shows the traceback for bug reports.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import click
import sqlalchemy as sa
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn
from rich.table import Column, Table

from config.loader import ConfigError
from config.settings import Settings
from connectors.errors import ConnectorError
from pipelines.runtime import Context, build_context

app = typer.Typer(
    name="switchboard",
    help="Switchboard: RMM alerts to PSA tickets, with noise reduction, enrichment and SLA clocks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
connectors_app = typer.Typer(help="Vendor connectors: list them, check credentials.", no_args_is_help=True)
quarantine_app = typer.Typer(help="Inputs Switchboard could not use, kept with their reason.", no_args_is_help=True)
clients_app = typer.Typer(help="The client map: RMM client <-> PSA company <-> docs organisation.", no_args_is_help=True)
actions_app = typer.Typer(help="The outbox of pushes to vendors.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
sync_app = typer.Typer(help="Run sync steps in the foreground.", no_args_is_help=True)
app.add_typer(connectors_app, name="connectors")
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(clients_app, name="clients")
app.add_typer(actions_app, name="actions")
app.add_typer(db_app, name="db")
app.add_typer(sync_app, name="sync")

console = Console()
err = Console(stderr=True, soft_wrap=True)  # an error line is never broken (paths, settings names)


class UserError(Exception):
    """A mistake the user can fix; printed as one line."""


def context(**overrides: Any) -> Context:
    """The context a command works in (settings from the environment, logging configured)."""
    return _context(**overrides)


def _context(**overrides: Any) -> Context:
    from worker.logs import configure_logging

    settings = Settings(**overrides)
    configure_logging(settings.log_level, settings.secrets())
    return build_context(settings)


# -- run / worker ---------------------------------------------------------------------------------


def _worker_command() -> list[str]:
    return [sys.executable, "-m", "worker", "worker"]


@app.command()
def run(
    workers: Annotated[int | None, typer.Option(help="Worker processes to start (default: SWITCHBOARD_WORKERS)")] = None,
) -> None:
    """Run the service on this machine: the scheduler plus RQ worker processes."""
    from pipelines.runtime import redis_url_for_children
    from worker.scheduler import Scheduler

    ctx = _context()
    count = workers if workers is not None else ctx.settings.workers
    env = dict(os.environ, REDIS_URL=redis_url_for_children(ctx.settings))
    procs = [subprocess.Popen([*_worker_command(), "--name", f"{os.uname().nodename}-{os.getpid()}-{i}"], env=env)
             for i in range(count)]
    scheduler = Scheduler(ctx)

    def stop(*_: Any) -> None:
        scheduler.stopped = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    console.print(f"switchboard running: {count} worker(s), mode={ctx.settings.mode}, rmm={ctx.settings.rmm}, "
                  f"psa={ctx.settings.psa}. Ctrl-C to stop.")
    try:
        scheduler.run()
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        ctx.close()


@app.command()
def worker(
    burst: Annotated[bool, typer.Option(help="Exit when the queues are empty")] = False,
    name: Annotated[str | None, typer.Option(help="Worker name")] = None,
) -> None:
    """Run one RQ worker (start as many as the load needs, on as many machines)."""
    from rq import Queue, SimpleWorker

    from worker import jobs

    class Worker(SimpleWorker):
        def unsubscribe(self) -> None:
            # RQ unsubscribes, then stops its pubsub thread; if the thread reads the unsubscribe
            # reply and loops before the stop flag is set, redis-py has it wait 60 s for a new
            # subscription, and the worker's exit waits with it. Setting the flag first avoids that.
            thread = getattr(self, "pubsub_thread", None)
            if thread is not None:
                try:
                    thread.stop(timeout=0)
                except TypeError:  # redis-py without stop(timeout): it does not join there either
                    thread.stop()
            super().unsubscribe()

    ctx = _context()
    jobs.set_context(ctx)
    queues = [Queue(ctx.queue_name(q), connection=ctx.redis) for q in ("push", "poll")]
    w = Worker(queues, connection=ctx.redis, name=name, maintenance_interval=60, job_monitoring_interval=10)
    w.work(burst=burst, with_scheduler=True, logging_level=ctx.settings.log_level)


# -- sync / status --------------------------------------------------------------------------------


@sync_app.command("once")
def sync_once(
    push: Annotated[bool, typer.Option(help="Apply the resulting pushes here too (else enqueue them)")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON")] = False,
) -> None:
    """One poll cycle in the foreground: pull alerts, run the rules, push to the PSA."""
    from pipelines import alerts, outbox
    from worker import jobs

    ctx = _context()
    summary: dict[str, Any] = {}
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), console=err, transient=True,
                  disable=as_json) as progress:
        task = progress.add_task(f"pulling alerts from {ctx.settings.rmm}…", total=3)
        report = alerts.poll(ctx)
        report.merge(alerts.tick(ctx))
        progress.update(task, advance=1, description=f"{report.events} events, {sum(report.decisions.values())} decisions")
        with ctx.db.session() as s:
            groups = sorted(set(report.groups) | set(outbox.pending_groups(s)))
        if push and not ctx.shadow:
            from pipelines.notify import notifier_for

            targets = outbox.PushTargets(psa=ctx.psa(), rmm=ctx.rmm(), notifier=notifier_for(ctx))
            progress.update(task, advance=1, description=f"pushing {len(groups)} ticket(s) to {ctx.settings.psa}…")
            done: Counter[str] = Counter()
            failed: list[str] = []
            for g in groups:
                result = outbox.push_group(ctx.db, targets, g, lease_seconds=ctx.settings.lease_seconds)
                done.update(kind for kind, _ in result.done)
                failed += [f"{g}: {why}" for _, why in result.failed]
            summary["applied"] = dict(done)
            summary["failed"] = failed
        else:
            summary["enqueued"] = jobs.enqueue_pushes(ctx, groups)
        progress.update(task, advance=1)
    summary.update(events=report.events, decisions=dict(report.decisions), quarantined=report.quarantined,
                   blocked=report.blocked, api_calls=report.calls, mode=ctx.settings.mode)
    if as_json:
        console.print_json(json.dumps(summary))
    else:
        for key, value in summary.items():
            console.print(f"{key:>12}: {value}")


def _queue_rows(ctx: Context) -> list[tuple[str, int, int, int, int]]:
    from rq import Queue
    from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

    rows = []
    for name in ("push", "poll"):
        q = Queue(ctx.queue_name(name), connection=ctx.redis)
        rows.append((name, len(q), len(StartedJobRegistry(queue=q)), len(ScheduledJobRegistry(queue=q)),
                     len(FailedJobRegistry(queue=q))))
    return rows


def _enrichment_status(ctx: Context, s: Any) -> dict[str, Any]:
    from pipelines import enrich, kb
    from pipelines.state import TicketEnrichment

    cfg = enrich.config_of(ctx)
    articles, source = kb.index_articles(s, ctx.settings.docs, fallback_builtin=cfg.kb.fallback_builtin)
    version = enrich.active_version(s)
    total, confident = s.execute(sa.select(sa.func.count(), sa.func.count().filter(TicketEnrichment.confident))).one()
    return {"enabled": cfg.enabled, "tickets": total, "confident": confident,
            "kb_articles": len(articles), "kb_source": source, "model": f"v{version}" if version else "rules"}


@app.command()
def status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Queues, cursors, outbox, quarantine and the last errors."""
    from pipelines.state import ActionRow, Quarantine, SyncCursor

    ctx = _context()
    data: dict[str, Any] = {"mode": ctx.settings.mode, "database": repr(ctx.db), "queues": [], "cursors": []}
    try:
        data["queues"] = [dict(zip(("queue", "queued", "running", "scheduled", "failed"), r, strict=True))
                          for r in _queue_rows(ctx)]
    except Exception as exc:  # noqa: BLE001 - status must still show the rest
        data["queues_error"] = f"Redis unreachable: {type(exc).__name__}"
    with ctx.db.session() as s:
        for c in s.scalars(sa.select(SyncCursor).order_by(SyncCursor.stream)):
            data["cursors"].append({"stream": c.stream, "updated_at": c.updated_at.isoformat(),
                                    "last_success_at": c.last_success_at.isoformat() if c.last_success_at else None,
                                    "last_error": c.last_error})
        data["outbox"] = dict(s.execute(sa.select(ActionRow.status, sa.func.count()).group_by(ActionRow.status)).all())
        data["quarantine"] = s.scalar(sa.select(sa.func.count()).select_from(Quarantine).where(Quarantine.status == "new"))
        data["enrichment"] = _enrichment_status(ctx, s)
        data["last_errors"] = [
            {"action": r.key, "status": r.status, "error": r.last_error}
            for r in s.scalars(sa.select(ActionRow).where(ActionRow.status.in_(("failed", "blocked")))
                               .order_by(ActionRow.updated_at.desc()).limit(10))
        ]
    if as_json:
        console.print_json(json.dumps(data, default=str))
        return
    console.print(f"[bold]mode[/]: {data['mode']}   [bold]database[/]: {data['database']}")
    t = Table("queue", "queued", "running", "scheduled", "failed", title="queues")
    for q in data["queues"]:
        t.add_row(*(str(v) for v in q.values()))
    console.print(t if data["queues"] else f"[red]{data.get('queues_error')}[/]")
    t = Table("stream", "updated", "last success", "last error", title="cursors")
    for c in data["cursors"]:
        t.add_row(c["stream"], c["updated_at"], c["last_success_at"] or "-", c["last_error"] or "")
    console.print(t)
    console.print("outbox: " + (", ".join(f"{k}={v}" for k, v in sorted(data["outbox"].items())) or "empty"))
    console.print(f"quarantine: {data['quarantine']} new item(s)")
    e = data["enrichment"]
    console.print(f"enrichment: {e['tickets']} ticket(s) enriched ({e['confident']} confidently typed); KB index: "
                  f"{e['kb_articles']} article(s) from {e['kb_source']}; model: {e['model']}")
    for e in data["last_errors"]:
        console.print(f"[red]{e['status']}[/] {e['action']}: {e['error']}")


# -- quarantine -----------------------------------------------------------------------------------


@quarantine_app.command("list")
def quarantine_list(
    all_items: Annotated[bool, typer.Option("--all", help="Include dismissed and retried items")] = False,
    limit: int = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Quarantined inputs, newest first."""
    from pipelines import quarantine

    ctx = _context()
    with ctx.db.session() as s:
        rows = quarantine.listing(s, status=None if all_items else "new", limit=limit)
        items = [{"id": r.id, "stream": r.stream, "reason": r.reason, "seen": r.seen_count,
                  "first_seen": r.created_at.isoformat(), "status": r.status, "payload": r.payload[:200]} for r in rows]
    if as_json:
        console.print_json(json.dumps(items))
        return
    if not items:
        console.print("quarantine is empty")
        return
    t = Table("id", "stream", "reason", "seen", "first seen", "status")
    for i in items:
        t.add_row(str(i["id"]), i["stream"], i["reason"], str(i["seen"]), i["first_seen"][:19], i["status"])
    console.print(t)


@quarantine_app.command("show")
def quarantine_show(item_id: int) -> None:
    """One quarantined input with its full payload."""
    from pipelines.state import Quarantine

    ctx = _context()
    with ctx.db.session() as s:
        row = s.get(Quarantine, item_id)
        if row is None:
            raise UserError(f"no quarantined item {item_id}")
        console.print(f"[bold]{row.stream}[/] — {row.reason} (seen {row.seen_count}x, {row.status})")
        console.print(row.payload)


@quarantine_app.command("dismiss")
def quarantine_dismiss(item_id: int) -> None:
    """Mark a quarantined input as reviewed."""
    from pipelines.state import Quarantine

    ctx = _context()
    with ctx.db.session() as s:
        row = s.get(Quarantine, item_id)
        if row is None:
            raise UserError(f"no quarantined item {item_id}")
        row.status = "dismissed"
    console.print(f"dismissed {item_id}")


# -- clients --------------------------------------------------------------------------------------


@clients_app.command("list")
def clients_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The client map, and the RMM clients that are not mapped yet."""
    from pipelines import clients
    from pipelines.state import ClientMap

    ctx = _context()
    with ctx.db.session() as s:
        rows = list(s.scalars(sa.select(ClientMap).order_by(ClientMap.rmm_name)))
        mapped = [{"rmm": r.rmm, "rmm_client_id": r.rmm_client_id, "rmm_name": r.rmm_name, "psa": r.psa,
                   "psa_company_id": r.psa_company_id, "psa_name": r.psa_name, "docs": r.docs,
                   "docs_org_id": r.docs_org_id, "source": r.source} for r in rows]
        try:
            unmapped = [{"rmm_client_id": c.ref.id, "name": c.name}
                        for c in clients.unmapped_clients(s, ctx.settings.rmm, ctx.rmm().list_clients())]
        except ConnectorError as exc:
            unmapped = []
            err.print(f"[yellow]could not list {ctx.settings.rmm} clients: {exc}[/]")
    if as_json:
        console.print_json(json.dumps({"mapped": mapped, "unmapped": unmapped}))
        return
    t = Table("rmm client", "name", "psa company", "psa name", "docs org", "source", title="client map")
    for m in mapped:
        t.add_row(m["rmm_client_id"], m["rmm_name"], m["psa_company_id"] or "-", m["psa_name"] or "-",
                  m["docs_org_id"] or "-", m["source"])
    console.print(t)
    for u in unmapped:
        console.print(f"[yellow]unmapped[/]: {u['name']} ({u['rmm_client_id']}) — its tickets wait until mapped")


def _release(ctx: Context, groups: list[str]) -> None:
    if groups:
        from worker import jobs

        jobs.enqueue_pushes(ctx, groups)
        console.print(f"released {len(groups)} waiting ticket(s)")


@clients_app.command("map")
def clients_map(
    rmm_client_id: str,
    psa_company_id: Annotated[str | None, typer.Option("--psa-company", help="PSA company id")] = None,
    docs_org_id: Annotated[str | None, typer.Option("--docs-org", help="Documentation organisation id")] = None,
    name: Annotated[str, typer.Option(help="Client name for people")] = "",
) -> None:
    """Map one RMM client to its PSA company (and documentation organisation)."""
    from pipelines import clients

    if not psa_company_id and not docs_org_id:
        raise UserError("give --psa-company and/or --docs-org")
    ctx = _context()
    with ctx.db.session() as s:
        clients.map_client(s, rmm=ctx.settings.rmm, rmm_client_id=rmm_client_id, rmm_name=name,
                           psa=ctx.settings.psa if psa_company_id else None, psa_company_id=psa_company_id,
                           docs=ctx.settings.docs if docs_org_id else None, docs_org_id=docs_org_id)
        groups = clients.unblock_client(s, rmm_client_id, ctx.settings.psa, psa_company_id) if psa_company_id else []
    console.print(f"mapped {rmm_client_id}")
    _release(ctx, groups)


@clients_app.command("import")
def clients_import(path: Path) -> None:
    """Import a reviewed mapping file (YAML list or CSV: rmm, rmm_client_id, psa, psa_company_id, …)."""
    from pipelines import clients

    if not path.exists():
        raise UserError(f"{path}: no such file")
    try:
        rows = clients.import_rows(path)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    ctx = _context()
    groups: list[str] = []
    with ctx.db.session() as s:
        for r in rows:
            clients.map_client(s, rmm=r["rmm"], rmm_client_id=str(r["rmm_client_id"]), rmm_name=r.get("rmm_name", ""),
                               psa=r.get("psa"), psa_company_id=str(r["psa_company_id"]) if r.get("psa_company_id") else None,
                               psa_name=r.get("psa_name"), docs=r.get("docs"),
                               docs_org_id=str(r["docs_org_id"]) if r.get("docs_org_id") else None,
                               docs_name=r.get("docs_name"), source="import")
            if r.get("psa_company_id"):
                groups += clients.unblock_client(s, str(r["rmm_client_id"]), r.get("psa") or ctx.settings.psa,
                                                 str(r["psa_company_id"]))
    console.print(f"imported {len(rows)} row(s) from {path}")
    _release(ctx, groups)


@clients_app.command("link")
def clients_link(accept: Annotated[bool, typer.Option("--accept", help="Write the proposals")] = False) -> None:
    """Propose mappings from links the RMM records itself (e.g. Datto's Autotask company id)."""
    from pipelines import clients

    ctx = _context()
    companies = {c.ref.id: c.name for c in ctx.psa().list_companies()}
    proposals = clients.proposals_from_links(ctx.rmm().list_clients(), ctx.settings.psa, companies)
    if not proposals:
        console.print("no vendor-recorded links found")
        return
    groups: list[str] = []
    with ctx.db.session() as s:
        for p in proposals:
            console.print(f"{'mapping' if accept else 'proposal'}: {p.rmm_name} ({p.rmm_client_id}) -> "
                          f"{p.psa_name} ({p.psa_company_id}) — {p.why}")
            if accept:
                clients.map_client(s, rmm=p.rmm, rmm_client_id=p.rmm_client_id, rmm_name=p.rmm_name, psa=p.psa,
                                   psa_company_id=p.psa_company_id, psa_name=p.psa_name, source="vendor-link")
                groups += clients.unblock_client(s, p.rmm_client_id, p.psa, p.psa_company_id)
    if not accept:
        console.print("review, then run `switchboard clients link --accept` to write them")
    _release(ctx, groups)


# -- actions --------------------------------------------------------------------------------------


@actions_app.command("list")
def actions_list(
    status_filter: Annotated[str | None, typer.Option("--status", help="pending, failed, blocked, done…")] = None,
    limit: int = 30,
) -> None:
    """Recent outbox rows."""
    from pipelines.state import ActionRow

    ctx = _context()
    with ctx.db.session() as s:
        q = sa.select(ActionRow).order_by(ActionRow.id.desc()).limit(limit)
        if status_filter:
            q = q.where(ActionRow.status == status_filter)
        t = Table("id", "key", "kind", "status", "tries", "result / error")
        for r in s.scalars(q):
            t.add_row(str(r.id), r.key, r.kind, r.status, str(r.attempts),
                      r.last_error or json.dumps(r.result or {})[:80])
    console.print(t)


@actions_app.command("retry")
def actions_retry() -> None:
    """Put failed and blocked actions back in line (after fixing their cause)."""
    from pipelines import outbox

    ctx = _context()
    with ctx.db.session() as s:
        groups = outbox.retry_failed(s)
    _release(ctx, groups)
    if not groups:
        console.print("nothing to retry")


# -- connectors -----------------------------------------------------------------------------------


@connectors_app.command("list")
def connectors_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The vendors Switchboard can talk to: what each can do, its webhooks, what it still needs."""
    from worker.connector_report import reports

    found = reports(Settings())  # type: ignore[call-arg]  # (read from the environment)
    if as_json:
        console.print_json(json.dumps([r.as_dict() for r in found]))
        return
    # vendor names stay whole in a narrow terminal; long setting names fold rather than being cut
    t = Table(Column("vendor", no_wrap=True), "kind",
              *(Column(h, overflow="fold") for h in ("capabilities", "webhooks", "settings", "API document")))
    for r in found:
        hook = ("no" if r.webhook is None else "yes, enabled" if r.webhook_enabled
                else f"yes, off: set {r.webhook_secret}")
        ready = "[green]ready[/]" if r.configured else "[yellow]missing " + ", ".join(r.missing) + "[/]"
        doc = r.spec or "public reference"
        if r.spec and not r.spec_present:
            doc += " (not found)"
        t.add_row(f"{r.name}\n[dim]{r.title}[/]", r.kind + ("\n[bold]active[/]" if r.active else ""),
                  escape(", ".join(r.capabilities)), escape(hook), ready, doc)
    console.print(t)


@connectors_app.command("check")
def connectors_check(vendor: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Settings, webhooks, then read-only calls with the configured credentials: what works, what does not."""
    from connectors import registry
    from worker.connector_report import report

    try:
        registry.get(vendor)
    except KeyError as exc:
        raise UserError(str(exc.args[0])) from None
    ctx = _context()
    r = report(ctx.settings, vendor)
    results = [] if r.missing or not r.has_check else ctx.connector(vendor).check()
    if as_json:
        console.print_json(json.dumps({**r.as_dict(), "checks": [
            {"name": c.name, "ok": c.ok, "detail": c.detail} for c in results]}))
    else:
        console.print(f"[bold]{r.title}[/] ({r.name}) — {r.kind}{', active' if r.active else ''}")
        for st in r.settings:
            state = ("[red]MISSING (required)[/]" if st.required else "set" if st.set else "[dim]unset[/]")
            shown = "(secret)" if st.secret and st.set else (st.value or "")
            default = " [dim](default)[/]" if st.set and not st.explicit and not st.secret else ""
            console.print(f"  {st.env:<50} {state:<10} {escape(shown)}{default}")
        if r.webhook is None:
            console.print("webhooks: not offered by this connector (the poll is the only source)")
        else:
            state = "enabled" if r.webhook_enabled else f"off — set {r.webhook_secret} to enable"
            tenants = f"; tenants: {', '.join(r.webhook_tenants)}" if r.webhook_tenants else ""
            console.print(f"webhooks: {escape(r.webhook)} — {state}{tenants}")
        for c in results:
            mark = "[green]ok[/]  " if c.ok else "[red]FAIL[/]"
            console.print(f"{mark} {c.name:<14} {escape(c.detail)}")
    if r.missing:
        err.print(f"[red]cannot run the read-only checks of {vendor}:[/] missing " + ", ".join(r.missing))
        raise typer.Exit(1)
    if not r.has_check:
        err.print(f"[yellow]{vendor} has no read-only check[/]")
    if any(not c.ok for c in results):
        raise typer.Exit(1)


# -- db -------------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations (also done automatically at start-up)."""
    ctx = _context()
    console.print(f"database at revision {ctx.db.current_revision()}")


# -- demo -----------------------------------------------------------------------------------------


@app.command()
def demo(
    var_dir: Annotated[Path, typer.Option(help="Where the demo keeps its database and Redis")] = Path("var/demo"),
    seed: int = 7,
    workers: int = 2,
) -> None:
    """A day of realistic alerts across several clients, end to end on the embedded stack."""
    from worker.demo import run_demo

    run_demo(var_dir=var_dir, seed=seed, workers=workers, console=console)


# -- command groups of other features ------------------------------------------------------------


def _register_extensions() -> None:
    """Each ``worker/cli_<feature>.py`` adds its commands through ``register(app)``."""
    import importlib
    import pkgutil

    import worker as package

    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name.startswith("cli_"):
            importlib.import_module(f"worker.{info.name}").register(app)


_register_extensions()


# -- entry point ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    debug = os.environ.get("SWITCHBOARD_DEBUG") == "1"
    try:
        result = app(args=argv, standalone_mode=False)
        return int(result or 0) if isinstance(result, int) else 0
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.exceptions.Abort:
        err.print("aborted")
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except ConfigError as exc:
        err.print(f"[red]config error:[/] {escape(str(exc))}")
    except ConnectorError as exc:
        err.print(f"[red]vendor error:[/] {escape(str(exc))}")
    except UserError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - the CLI's last line of defence
        if debug:
            raise
        err.print(f"[red]error:[/] {type(exc).__name__}: {escape(str(exc))}")
        err.print("[dim](set SWITCHBOARD_DEBUG=1 for the traceback)[/]")
    return 1


if __name__ == "__main__":
    sys.exit(main())
