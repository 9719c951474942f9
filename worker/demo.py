"""``switchboard demo``: a day of realistic alerts, end to end, on the embedded stack, in ~a minute.

1. Generates a day of alerts for several clients (blips, info, muted, lasting problems with
   repeats, flapping, a site outage, a storm) and loads it into the Datto RMM simulator; the
   Autotask simulator gets the matching companies; Hudu the troubleshooting articles.
2. Serves the three simulators on 127.0.0.1 and starts the real service — ``switchboard run``:
   the scheduler and RQ worker processes on the embedded Redis, state in SQLite under ``var/demo``.
3. Plays the day on a shared clock (a Redis key the service reads, see ``SWITCHBOARD_CLOCK``):
   each step moves time forward and waits for the service to poll at the new time.
   Half-way through, a technician logs time on one ticket, so that Switchboard must leave that
   ticket open when its alert clears.
4. Drains the queues, stops the service, and prints the funnel and a few tickets as they stand
   in the simulated PSA.

Enrichment (issue 5): the Autotask tenant carries the taxonomy's issue types, a handful of
tickets people opened by e-mail are in the PSA when the service starts, and Hudu's articles are
synced into the local KB first. Every ticket — opened from an alert or by a person — comes out
typed, prioritised and with its troubleshooting articles (a type a person set is kept; a vague
ticket only gets a suggestion).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from config.settings import Settings
from connectors.simulators.autotask import AutotaskSimulator
from connectors.simulators.datto_rmm import DattoRmmSimulator
from connectors.simulators.hudu import HuduSimulator
from connectors.simulators.server import serve
from connectors.simulators.streams import StreamSpec, generate
from pipelines import clients, kb
from pipelines.clock import RedisClock
from pipelines.runtime import build_context, redis_url_for_children, stop_embedded_redis
from pipelines.state import (
    ActionRow,
    AlertLink,
    DecisionRow,
    Quarantine,
    SyncCursor,
    TicketEnrichment,
    TicketLink,
)

__all__ = ["run_demo"]

DEMO_SPEC = StreamSpec(blips=10, info=4, muted=1, lasting=1.6, flapping=0.5, site_outages=0.35, storms=0.35)
STATUS_NAMES = {1: "New", 5: "Complete", 7: "Waiting Customer", 8: "In Progress", 14: "Resolved"}


@dataclass
class _Clock:
    at: datetime

    def __call__(self) -> datetime:
        return self.at


def _kb_articles() -> list[tuple[str, str]]:
    """The built-in troubleshooting corpus (seed 003's documents), loaded into the Hudu simulator."""
    from rules.kb_corpus import ARTICLES

    return [(title, "".join(f"<p>{p}</p>" for p in body.split("\n\n"))) for title, body in ARTICLES]


PEOPLE_TICKETS: list[dict[str, Any]] = [
    {"title": "Outlook keeps asking for password",
     "description": "Since this morning Outlook pops up a password box every few minutes, I type it and it comes "
                    "back. Webmail works fine.\n\nThanks, Maria (Front desk)"},
    {"title": "Whole office cannot print",
     "description": "The big HP in the hallway shows offline for everyone, nobody can print the patient forms. "
                    "Urgent please!"},
    {"title": "New hire starting Monday",
     "description": "Please set up an account, email and laptop for Tom Becker, starts Monday in accounting."},
    {"title": "VPN wont connect from home",
     "description": "Working from home today, the VPN client says the connection attempt failed. Tried twice."},
    {"title": "Quickbooks error H202",
     "description": "QuickBooks says H202 when I try to open the company file in multi-user mode."},
    {"title": "Monitor flickering", "description": "My second screen flickers and goes black now and then.",
     "typed_by_person": ("Hardware", "Monitor(s) - Add/Remove/Change")},
    {"title": "question", "description": "can you call me when you have a minute"},
]
"""Tickets people opened by e-mail before the service starts (priority: the parser's default, Medium)."""

DEMO_ENRICHMENT_YAML = """# demo: the e-mail parser gives every ticket Autotask's default priority (Medium = P3)
unset_priority: 3
"""


def _taxonomy_issue_types(autotask: AutotaskSimulator) -> dict[str, int]:
    """The MSP set the taxonomy's types/subtypes up as Autotask issue/sub-issue types."""
    from rules.taxonomy import load_taxonomy

    types: dict[str, list[str]] = {}
    for sub in load_taxonomy().subtypes:
        types.setdefault(sub.type, []).append(sub.name)
    return autotask.add_issue_types(types)


def _people_tickets(autotask: AutotaskSimulator, companies: dict[str, str], ids: dict[str, int]) -> list[int]:
    company_ids = [int(c) for c in companies.values()]
    out = []
    for i, t in enumerate(PEOPLE_TICKETS):
        fields: dict[str, Any] = {"title": t["title"], "description": t["description"], "priority": 2,
                                  "companyID": company_ids[i % len(company_ids)], "queueID": 29682833}
        if "typed_by_person" in t:
            type_name, sub = t["typed_by_person"]
            fields.update(issueType=ids[type_name], subIssueType=ids[f"{type_name}|{sub}"])
        out.append(autotask.add_ticket(**fields))
    return out


def _wait(predicate: Any, timeout: float, interval: float = 0.05) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def run_demo(*, var_dir: Path, seed: int = 7, workers: int = 2, console: Console | None = None,
             step_minutes: int = 5, clients_count: int = 6) -> dict[str, Any]:
    console = console or Console()
    started = time.monotonic()
    if var_dir.exists():
        shutil.rmtree(var_dir)
    var_dir.mkdir(parents=True)
    day_start = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
    stream = generate(seed, start=day_start, hours=24, clients=clients_count, spec=DEMO_SPEC)
    clock = _Clock(day_start)

    datto = DattoRmmSimulator(now=clock)
    autotask = AutotaskSimulator(now=clock)
    hudu = HuduSimulator(now=clock)
    companies: dict[str, str] = {}
    assert stream.topology is not None
    for d in stream.topology.devices:
        if d.client not in companies:
            companies[d.client] = str(autotask.add_company(d.client_name))
            autotask.add_contact(int(companies[d.client]), "Office", "Manager", f"office@{d.client}.example")
            hudu.add_company(d.client_name)
    autotask.add_resource("Tess", "Technician", "tess@msp.example")
    issue_types = _taxonomy_issue_types(autotask)
    people = _people_tickets(autotask, companies, issue_types)
    datto.load_stream(stream, company_ids=companies)
    # one malformed alert, as vendors sometimes send: no source info at all
    datto.schedule_alert(next(iter(datto.devices)), raise_at=day_start + timedelta(hours=1), uid="broken-1")
    datto.alerts["broken-1"].pop("alertSourceInfo", None)
    for title, body in _kb_articles():
        hudu.add_article(title, body)

    for sim in (datto, autotask, hudu):
        if sim.rate_limit:
            sim.rate_limit = (sim.rate_limit[0] * 1440, sim.rate_limit[1])
    servers = [serve(s) for s in (datto, autotask, hudu)]
    config_dir = var_dir / "config"
    config_dir.mkdir()
    (config_dir / "enrichment.yaml").write_text(DEMO_ENRICHMENT_YAML)
    env_settings = {
        "SWITCHBOARD_VAR_DIR": str(var_dir),
        "SWITCHBOARD_CONFIG_DIR": str(config_dir),
        "SWITCHBOARD_CLOCK": "redis",
        "SWITCHBOARD_POLL_INTERVAL_SECONDS": "0.1",
        "SWITCHBOARD_TICK_INTERVAL_SECONDS": "0.3",
        "SWITCHBOARD_RECONCILE_INTERVAL_SECONDS": "2",
        "SWITCHBOARD_LOG_LEVEL": os.environ.get("SWITCHBOARD_DEMO_LOG_LEVEL", "WARNING"),
        "SWITCHBOARD_DATTO_RMM__BASE_URL": servers[0].url,
        "SWITCHBOARD_DATTO_RMM__API_KEY": datto.api_key,
        "SWITCHBOARD_DATTO_RMM__API_SECRET": datto.api_secret,
        "SWITCHBOARD_AUTOTASK__BASE_URL": servers[1].url,
        "SWITCHBOARD_AUTOTASK__USERNAME": autotask.username,
        "SWITCHBOARD_AUTOTASK__SECRET": autotask.secret,
        "SWITCHBOARD_AUTOTASK__INTEGRATION_CODE": autotask.integration_code,
        "SWITCHBOARD_AUTOTASK__QUEUE_ID": "29683354",
        "SWITCHBOARD_HUDU__BASE_URL": servers[2].url,
        "SWITCHBOARD_HUDU__API_KEY": hudu.api_key,
        # A day plays in about a minute: vendor budgets are scaled by the same factor (1440x).
        "SWITCHBOARD_DATTO_RMM__REQUESTS_PER_MINUTE": str(600 * 1440),
        "SWITCHBOARD_AUTOTASK__REQUESTS_PER_HOUR": str(10000 * 1440),
        "SWITCHBOARD_HUDU__REQUESTS_PER_MINUTE": str(300 * 1440),
    }
    saved_env = {k: os.environ.get(k) for k in (*env_settings, "DATABASE_URL", "REDIS_URL")}
    os.environ.update(env_settings)
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    service: subprocess.Popen[bytes] | None = None
    try:
        settings = Settings(_env_file=None)  # type: ignore[call-arg]
        ctx = build_context(settings)
        redis_clock = RedisClock(ctx.redis, f"{settings.redis_prefix}:clock")
        redis_clock.set(clock.at)
        with ctx.db.session() as s:
            proposals = clients.proposals_from_links(ctx.rmm().list_clients(), "autotask", _companies(autotask))
            for p in proposals:
                clients.map_client(s, rmm=p.rmm, rmm_client_id=p.rmm_client_id, rmm_name=p.rmm_name, psa=p.psa,
                                   psa_company_id=p.psa_company_id, psa_name=p.psa_name, source="vendor-link")
        kb_report = kb.sync(ctx)  # the local KB index from Hudu (the service keeps it in sync: kb-sync job)
        console.print(f"[bold]Switchboard demo[/] — {len(stream.topology.devices)} devices at {len(companies)} clients "
                      f"({len(datto.sites)} Datto sites), {len(stream.alert_ids())} alerts over one simulated day; "
                      f"{len(proposals)} sites mapped to Autotask companies from Datto's own links; "
                      f"{kb_report.total} Hudu articles synced into the KB index; {len(people)} tickets people "
                      "opened are waiting in the PSA.")
        log = open(var_dir / "service.log", "wb")  # noqa: SIM115 - closed below
        env = dict(os.environ, REDIS_URL=redis_url_for_children(settings))
        service = subprocess.Popen([sys.executable, "-m", "worker", "run", "--workers", str(workers)],
                                   env=env, stdout=log, stderr=subprocess.STDOUT)
        stream_key = "alerts:datto-rmm"

        def polled_at(t: datetime) -> bool:
            with ctx.db.session() as s:
                row = s.get(SyncCursor, stream_key)
                return bool(row and row.last_success_at and row.last_success_at >= t)

        touched_ticket: int | None = None
        end = day_start + timedelta(hours=24, minutes=45)
        steps = 0
        while clock.at < end:
            if service.poll() is not None:
                raise RuntimeError(f"the service stopped (exit {service.returncode}); see {var_dir / 'service.log'}")
            clock.at += timedelta(minutes=step_minutes)
            redis_clock.set(clock.at)
            if not _wait(lambda: polled_at(clock.at), timeout=20):
                raise RuntimeError(f"the service did not poll within 20 s; see {var_dir / 'service.log'}")
            steps += 1
            if touched_ticket is None and clock.at >= day_start + timedelta(hours=8):
                touched_ticket = _technician_logs_time(ctx, autotask, datto, clock.at)
            if steps % 24 == 0:
                console.print(f"  {clock.at:%H:%M} simulated — {len(autotask.tickets())} ticket(s) in the PSA so far")

        def drained() -> bool:
            with ctx.db.session() as s:
                busy = s.scalar(sa.select(sa.func.count()).select_from(ActionRow)
                                .where(ActionRow.status.in_(("pending", "running"))))
            return busy == 0

        _wait(drained, timeout=30, interval=0.2)
        _wait(lambda: _enriched(ctx) >= len(people), timeout=30, interval=0.2)
        _wait(drained, timeout=30, interval=0.2)
        report = _report(ctx, stream, autotask, datto, touched_ticket)
        report["enrichment"] = _enrichment_report(ctx, autotask, people)
    finally:
        if service is not None:
            service.send_signal(signal.SIGTERM)
            try:
                service.wait(timeout=30)
            except subprocess.TimeoutExpired:
                service.kill()
        for server in servers:
            server.close()
        stop_embedded_redis()
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    _print(console, report, autotask)
    _print_enrichment(console, report["enrichment"])
    console.print(f"[dim]demo finished in {time.monotonic() - started:.0f} s; state in {var_dir}[/]")
    return report


def _companies(autotask: AutotaskSimulator) -> dict[str, str]:
    return {str(cid): c["companyName"] for cid, c in autotask.db["Companies"].items()}


def _technician_logs_time(ctx: Any, autotask: AutotaskSimulator, datto: DattoRmmSimulator, now: datetime) -> int | None:
    """A technician logs time on an open ticket whose alert will clear later today."""
    with ctx.db.session() as s:
        rows = s.execute(sa.select(TicketLink.psa_ticket_id, AlertLink.alert_id)
                         .join(AlertLink, AlertLink.ticket_key == TicketLink.key)
                         .where(TicketLink.status == "open", TicketLink.psa_ticket_id.is_not(None))).all()
    for ticket_id, alert_id in rows:
        clears = datto.resolves_at(alert_id)
        if clears is not None and clears > now + timedelta(hours=1):
            tess = next(r["id"] for r in autotask.db["Resources"].values() if r["firstName"] == "Tess")
            autotask.add_time_entry(int(ticket_id), tess, 0.5, "Checked the device remotely")
            return int(ticket_id)
    return None


def _report(ctx: Any, stream: Any, autotask: AutotaskSimulator, datto: DattoRmmSimulator,
            touched: int | None) -> dict[str, Any]:
    with ctx.db.session() as s:
        actions = Counter(
            (k, st) for k, st in s.execute(sa.select(ActionRow.kind, ActionRow.status)).all()
        )
        closes = list(s.scalars(sa.select(ActionRow).where(ActionRow.kind == "close_ticket", ActionRow.status == "done")))
        note_updates = sum(1 for r in s.scalars(sa.select(ActionRow).where(ActionRow.kind == "upsert_note",
                                                                             ActionRow.status == "done"))
                           if (r.result or {}).get("outcome") == "note updated")
        links = {a: (t, rule) for a, t, rule in s.execute(sa.select(AlertLink.alert_id, AlertLink.ticket_key,
                                                                    AlertLink.rule))}
        decisions = Counter(s.execute(sa.select(DecisionRow.kind, DecisionRow.rule)).all())
        quarantined = s.scalar(sa.select(sa.func.count()).select_from(Quarantine)) or 0
    tickets = [t for t in autotask.tickets() if t.get("externalID")]
    moved = sum(1 for r in closes if (r.result or {}).get("moved"))
    seen_incidents = [i for i in stream.incidents if any(a in links for a in i.alert_ids)]
    one_ticket = [i for i in seen_incidents if len({links[a][0] for a in i.alert_ids if a in links} - {None}) == 1]
    seen_noise = [a for a in stream.noise if a in links]
    return {
        "alerts_generated": len(stream.alert_ids()),
        "incidents_in_ground_truth": len(stream.incidents),
        "incidents_seen": len(seen_incidents),
        "incidents_with_one_ticket": len(one_ticket),
        "missed": sorted(Counter(i.kind for i in seen_incidents if i not in one_ticket).items()),
        "noise_seen": len(seen_noise),
        "noise_without_ticket": sum(1 for a in seen_noise if links[a][0] is None),
        "alerts_in": len(links),
        "baseline_tickets_one_per_alert": len(links),
        "tickets_opened": actions[("create_ticket", "done")],
        "tickets_reopened": actions[("reopen_ticket", "done")],
        "alerts_attached": sum(n for (kind, _rule), n in decisions.items() if kind == "attach"),
        "ticket_updates": note_updates + actions[("update_ticket", "done")],
        "tickets_closed": moved,
        "tickets_left_open_for_a_person": len(closes) - moved,
        "still_open_in_psa": sum(1 for t in tickets if t["status"] != 5),
        "suppressed_by_rule": dict(sorted(Counter(rule for t, rule in links.values() if t is None).items())),
        "quarantined": quarantined,
        "failed_or_blocked_actions": sum(n for (k, st), n in actions.items() if st in ("failed", "blocked")),
        "api_calls": {"datto-rmm": len(datto.calls), "autotask": len(autotask.calls)},
        "touched_ticket": touched,
    }


def _print(console: Console, r: dict[str, Any], autotask: AutotaskSimulator) -> None:
    t = Table(title="funnel", show_header=False)
    suppressed = sum(r["suppressed_by_rule"].values())
    rows = [
        ("alerts in (seen by Switchboard's poll)", r["alerts_in"]),
        ("baseline: one ticket per alert", r["baseline_tickets_one_per_alert"]),
        ("tickets opened", r["tickets_opened"]),
        ("noise reduction vs the baseline",
         f"{(1 - r['tickets_opened'] / r['alerts_in']) * 100:.0f}%" if r["alerts_in"] else "-"),
        ("alerts attached to an open ticket (dedup, topology, storm, flapping)", r["alerts_attached"]),
        ("tickets reopened instead of duplicated", r["tickets_reopened"]),
        ("ticket updates (explain note, title)", r["ticket_updates"]),
        ("tickets closed when their alerts cleared", r["tickets_closed"]),
        ("tickets left open (a person had touched them)", r["tickets_left_open_for_a_person"]),
        ("tickets still open in the PSA", r["still_open_in_psa"]),
        ("alerts that needed no ticket (suppressed by rule)", suppressed),
        ("ground truth: incidents seen with exactly one ticket", f"{r['incidents_with_one_ticket']} of {r['incidents_seen']}"),
        ("ground truth: noise alerts seen with no ticket", f"{r['noise_without_ticket']} of {r['noise_seen']}"),
        ("quarantined inputs", r["quarantined"]),
        ("failed or blocked pushes", r["failed_or_blocked_actions"]),
        ("API calls (Datto RMM / Autotask)", f"{r['api_calls']['datto-rmm']} / {r['api_calls']['autotask']}"),
    ]
    for label, value in rows:
        t.add_row(label, str(value))
    console.print(t)
    if r["suppressed_by_rule"]:
        console.print("suppressed by rule: " + ", ".join(f"{k}={v}" for k, v in r["suppressed_by_rule"].items()))
    why = {
        "flapping": "a 5-minute poll sees a blip only when it spans a poll; webhooks see every blip",
        "storm": "a storm across two Datto sites of one client: Datto has no client above the site, "
                 "so each site is grouped on its own",
    }
    if r["missed"]:
        console.print("[yellow]incidents without exactly one ticket[/]: "
                      + "; ".join(f"{kind}={n} [dim]({why.get(kind, 'see the replay')})[/]" for kind, n in r["missed"]))
    shown = [t for t in autotask.tickets() if t.get("externalID")]

    def interest(tk: dict[str, Any]) -> tuple[int, int]:
        title = tk["title"]
        special = "Site outage" in title or "devices" in title or title.startswith("Flapping")
        return (0 if tk["id"] == r["touched_ticket"] else 1 if special else 2, -len(autotask.notes_of(tk["id"])))

    shown.sort(key=interest)
    table = Table("ticket", "title", "status", "notes", "latest note", title="a few tickets in the simulated PSA")
    for tk in shown[:6]:
        notes = autotask.notes_of(tk["id"])
        latest = notes[-1]["description"].split("\n")[0][:70] if notes else ""
        table.add_row(tk["ticketNumber"], tk["title"][:60], STATUS_NAMES.get(tk["status"], str(tk["status"])),
                      str(len(notes)), latest)
    console.print(table)


def _enriched(ctx: Any) -> int:
    with ctx.db.session() as s:
        return s.scalar(sa.select(sa.func.count()).select_from(TicketEnrichment)
                        .where(TicketEnrichment.origin == "psa")) or 0


def _label(autotask: AutotaskSimulator, field: str, value: Any) -> str:
    if value is None:
        return "-"
    return next((c["label"] for c in autotask.picklists[field] if c["value"] == str(value)), str(value))


PRIORITY_LABELS = {4: "P1 Critical", 1: "P2 High", 2: "P3 Medium", 3: "P4 Low"}


def _enrichment_report(ctx: Any, autotask: AutotaskSimulator, people: list[int]) -> dict[str, Any]:
    with ctx.db.session() as s:
        rows = list(s.scalars(sa.select(TicketEnrichment)))
        for r in rows:
            s.expunge(r)
    alert_rows = [r for r in rows if r.origin == "alert"]
    psa_rows = {r.ticket_id: r for r in rows if r.origin == "psa"}
    shown = []
    for tid in people:
        t = autotask.db["Tickets"][tid]
        r = psa_rows.get(str(tid))
        shown.append({
            "ticket": t["ticketNumber"], "title": t["title"],
            "type": _label(autotask, "issueType", t["issueType"]),
            "subtype": _label(autotask, "subIssueType", t["subIssueType"]),
            "priority": PRIORITY_LABELS.get(t["priority"], str(t["priority"])),
            "kb": (r.kb[0]["title"] if r and r.kb else "-"), "url": (r.kb[0]["url"] if r and r.kb else ""),
            "decision": r.decision if r else "not enriched",
            "notes": sum(1 for n in autotask.notes_of(tid) if "[switchboard:enrich:" in n["description"]),
        })
    by_key = {r.key: r for r in alert_rows}
    with ctx.db.session() as s:
        links = {k: tid for k, tid in s.execute(sa.select(TicketLink.key, TicketLink.psa_ticket_id))}
    alert_examples = []
    seen_types: set[str] = set()
    for key, r in sorted(by_key.items()):
        psa_id = links.get(key)
        if psa_id is None or not r.kb or f"{r.type}/{r.subtype}" in seen_types:
            continue
        seen_types.add(f"{r.type}/{r.subtype}")
        at = autotask.db["Tickets"].get(int(psa_id))
        if at is None:
            continue
        alert_examples.append({
            "ticket": at["ticketNumber"], "title": at["title"],
            "type": _label(autotask, "issueType", at["issueType"]),
            "subtype": _label(autotask, "subIssueType", at["subIssueType"]),
            "priority": PRIORITY_LABELS.get(at["priority"], str(at["priority"])),
            "kb": r.kb[0]["title"], "url": r.kb[0]["url"] or "",
            "decision": "typed at creation" if r.confident else
                        f"suggested only (confidence {r.confidence:.2f}): type left for the dispatcher",
        })
    return {
        "alert_examples": alert_examples[:4],
        "alert_tickets": len(alert_rows),
        "alert_tickets_typed": sum(1 for r in alert_rows if r.confident),
        "alert_tickets_with_kb": sum(1 for r in alert_rows if r.kb),
        "psa_tickets": len(psa_rows),
        "psa_tickets_typed": sum(1 for r in psa_rows.values() if "type" in (r.written or {})),
        "psa_tickets_prioritised": sum(1 for r in psa_rows.values() if "priority" in (r.written or {})),
        "psa_suggestions_only": sum(1 for r in psa_rows.values() if not r.confident),
        "psa_kept_person_type": sum(1 for r in psa_rows.values() if "type" in (r.human or [])),
        "psa_tickets_with_kb": sum(1 for r in psa_rows.values() if r.kb),
        "tickets": shown,
    }


def _print_enrichment(console: Console, e: dict[str, Any]) -> None:
    t = Table(title="enrichment", show_header=False)
    for label, value in (
        ("tickets opened from alerts: typed / with KB articles",
         f"{e['alert_tickets_typed']} / {e['alert_tickets_with_kb']} of {e['alert_tickets']}"),
        ("tickets people opened: typed / prioritised / with KB articles",
         f"{e['psa_tickets_typed']} / {e['psa_tickets_prioritised']} / {e['psa_tickets_with_kb']} of {e['psa_tickets']}"),
        ("  type a person had set, kept", e["psa_kept_person_type"]),
        ("  below the threshold: suggestion in the note only", e["psa_suggestions_only"]),
    ):
        t.add_row(label, str(value))
    console.print(t)
    console.print("[bold]tickets opened from alerts[/] (a few, one per type):")
    for r in e["alert_examples"]:
        console.print(f"  {r['ticket']}  [bold]{escape(r['title'])}[/]")
        console.print(f"      {escape(r['type'])} / {escape(r['subtype'])} · {r['priority']} · "
                      f"KB: {escape(r['kb'])} [dim]{escape(r['url'])}[/]")
        console.print(f"      [dim]{escape(r['decision'])}[/]")
    console.print("[bold]tickets people opened, after enrichment[/] (type / subtype and priority as the PSA now "
                  "shows them; the first of the linked articles):")
    for r in e["tickets"]:
        console.print(f"  {r['ticket']}  [bold]{escape(r['title'])}[/]")
        console.print(f"      {escape(r['type'])} / {escape(r['subtype'])} · {r['priority']} · "
                      f"KB: {escape(r['kb'])} [dim]{escape(r['url'])}[/]")
        console.print(f"      [dim]{escape(r['decision'])}[/]")
