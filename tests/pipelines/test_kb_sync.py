"""The local KB: incremental sync from the documentation platform, the index built from it, and
tickets opened from alerts carrying type, priority and articles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from connectors.simulators.hudu import HuduSimulator
from pipelines import enrich, kb, tickets
from pipelines.clock import FixedClock
from pipelines.state import ActionRow, KBArticleRow, SyncCursor, TicketEnrichment
from rules.kb_corpus import ARTICLES
from tests.helpers import build_stack
from tests.pipelines.test_enrich_flow import add_client_articles, taxonomy_types

T0 = datetime(2026, 11, 9, 14, 0, tzinfo=UTC)
OUTLOOK_KB = "Office 365 - Outlook Continually Asking for Password"


def hudu_context(sim, make_context, **overrides):
    clock = FixedClock(T0)
    hudu = sim(HuduSimulator, now=clock.now)
    ctx = make_context({"hudu": hudu}, clock=clock, **overrides)
    ctx.docs().http._sleep = lambda s: None
    return ctx, hudu, clock


def rows(ctx) -> dict[str, KBArticleRow]:
    with ctx.db.session() as s:
        found = {r.title: r for r in s.scalars(sa.select(KBArticleRow))}
        for r in found.values():
            s.expunge(r)
        return found


def test_sync_is_incremental_and_follows_edits_and_withdrawals(sim, make_context) -> None:
    ctx, hudu, clock = hudu_context(sim, make_context)
    ids = {title: hudu.add_article(title, f"<p>{body}</p>") for title, body in ARTICLES}
    first = kb.sync(ctx)
    assert (first.new, first.updated, first.total) == (len(ARTICLES), 0, len(ARTICLES))
    stored = rows(ctx)[OUTLOOK_KB]
    assert stored.url.startswith(hudu.base_url + "/kba/") and stored.vendor == "hudu" and "<p>" not in stored.body

    clock.set(T0 + timedelta(minutes=15))
    quiet = kb.sync(ctx)
    assert (quiet.new, quiet.updated, quiet.withdrawn, quiet.calls) == (0, 0, 0, 1), "nothing changed: one call"

    clock.set(T0 + timedelta(minutes=30))
    hudu.edit_article(ids[OUTLOOK_KB], content="<p>New steps: clear the cached credentials first.</p>")
    hudu.edit_article(ids[ARTICLES[0][0]], draft=True)
    report = kb.sync(ctx)
    assert (report.updated, report.withdrawn) == (1, 1)
    assert "cached credentials" in rows(ctx)[OUTLOOK_KB].body
    assert rows(ctx)[ARTICLES[0][0]].withdrawn
    with ctx.db.session() as s:
        assert s.get(SyncCursor, "kb:hudu").last_success_at == T0 + timedelta(minutes=30)
        enricher, _, source = enrich.enricher_for(ctx, s)
    assert source == "hudu"
    e = enricher.enrich("outlook keeps asking for password")
    assert e.kb[0].title == OUTLOOK_KB and e.kb[0].url == stored.url
    assert ARTICLES[0][0] not in [k.title for k in enricher.enrich(ARTICLES[0][0]).kb], "withdrawn: not linked"


def test_without_a_docs_platform_the_builtin_corpus_is_the_index(sim, make_context) -> None:
    ctx = make_context(docs=None)
    assert kb.sync(ctx).skipped
    with ctx.db.session() as s:
        enricher, version, source = enrich.enricher_for(ctx, s)
    assert (version, source) == (None, "builtin")
    (first, *_) = enricher.enrich("outlook keeps asking for password").kb
    assert first.title == OUTLOOK_KB and first.url.startswith("builtin://kb/")


def test_a_failing_sync_keeps_the_cursor_and_says_why(sim, make_context) -> None:
    ctx, hudu, clock = hudu_context(sim, make_context, hudu={"api_key": "wrong-key"})
    try:
        kb.sync(ctx)
    except Exception as exc:  # noqa: BLE001 - the connector's own error type
        assert "401" in str(exc) or "key" in str(exc).lower()
    with ctx.db.session() as s:
        cursor = s.get(SyncCursor, "kb:hudu")
        assert cursor is not None and cursor.value is None and cursor.last_error


def alert_stack(sim, make_context, **overrides):
    stack = build_stack(sim, make_context, docs=None, **overrides)
    stack.ids = stack.autotask.add_issue_types(taxonomy_types())
    return stack


def test_a_ticket_opened_from_an_alert_is_typed_prioritised_and_carries_articles(sim, make_context) -> None:
    stack = alert_stack(sim, make_context)
    dev = stack.device("ACME-FS01", category="Server")
    stack.datto.raise_alert(dev, priority="High", diagnostics="Disk C: has 3% free",
                            context={"@class": "perf_disk_usage_ctx", "diskName": "C:"})
    stack.cycle()
    stack.advance(minutes=5)
    stack.cycle()
    (ticket,) = stack.our_tickets()
    raw = stack.autotask.db["Tickets"][ticket["id"]]
    with stack.ctx.db.session() as s:
        rec = s.scalar(sa.select(TicketEnrichment))
        assert rec.origin == "alert" and rec.type is not None
        if rec.confident:
            assert raw["issueType"] == stack.ids[rec.type]
        assert raw["priority"] in (1, 4), "High severity: P2 (Autotask High) or more urgent"
    (note,) = stack.psa.notes(ticket["id"])
    assert "Why this ticket exists" in note and "Troubleshooting articles to open first:" in note

    # the ticket poll sees Switchboard's own ticket: already enriched, nothing more
    tickets.poll(stack.ctx)
    with stack.ctx.db.session() as s:
        assert not s.scalar(sa.select(ActionRow).where(ActionRow.key.like("enrich:%")))


def test_the_articles_stay_in_the_note_as_it_is_updated(sim, make_context) -> None:
    stack = alert_stack(sim, make_context)
    dev = stack.device("ACME-FS01", category="Server")
    aid = stack.raise_past_hold(dev, priority="High", diagnostics="Disk C: has 3% free",
                                context={"@class": "perf_disk_usage_ctx", "diskName": "C:"})
    stack.cycle()
    stack.advance(minutes=10)
    stack.datto.resolve(aid)
    stack.cycle()
    stack.advance(minutes=10)
    stack.raise_past_hold(dev, priority="High", diagnostics="Disk C: has 2% free",
                          context={"@class": "perf_disk_usage_ctx", "diskName": "C:"})
    stack.cycle()
    for t in stack.our_tickets():
        for note in stack.psa.notes(t["id"]):
            if "Why this ticket exists" in note:
                assert "Troubleshooting articles to open first:" in note


def test_alert_tickets_without_an_explain_note_get_one_articles_note(sim, make_context, tmp_path) -> None:
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "tickets.yaml").write_text("explain_note: false\n")
    stack = alert_stack(sim, make_context, config_dir=cfg)
    dev = stack.device("ACME-PRN01", category="Printer")
    stack.raise_past_hold(dev, priority="Moderate", diagnostics="Printer offline")
    stack.cycle()
    (ticket,) = stack.our_tickets()
    (note,) = stack.psa.notes(ticket["id"])
    assert "Troubleshooting articles to open first:" in note


def test_alert_enrichment_off(sim, make_context, tmp_path) -> None:
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "enrichment.yaml").write_text("alert_tickets: false\n")
    stack = alert_stack(sim, make_context, config_dir=cfg)
    stack.raise_past_hold(stack.device(), priority="High")
    stack.cycle()
    (ticket,) = stack.our_tickets()
    (note,) = stack.psa.notes(ticket["id"])
    assert "Troubleshooting articles" not in note
    assert stack.autotask.db["Tickets"][ticket["id"]]["issueType"] is None


def test_the_sync_job_the_scheduler_and_the_documents_webhook(sim, make_context) -> None:
    from worker import jobs, kb_jobs
    from worker.scheduler import PERIODIC
    from worker.webhooks import HANDLERS, _load

    assert _load(HANDLERS["documents"]) is kb_jobs.documents_changed_job
    assert any(p.name == "kb-sync" and p.func is kb_jobs.sync_kb_job for p in PERIODIC)
    ctx, hudu, clock = hudu_context(sim, make_context)
    hudu.add_article(OUTLOOK_KB, "<p>Clear the cached credentials.</p>")
    jobs.set_context(ctx)
    try:
        assert kb_jobs.documents_changed_job("itglue", ["1"])["skipped"]
        done = kb_jobs.documents_changed_job("hudu", ["1"], "tenant-a")
        assert done["sync"]["new"] == 1 and done["sync"]["total"] == 1
        assert kb_jobs.sync_kb_job()["unchanged"] == 0
    finally:
        jobs.set_context(None)


def test_an_alert_ticket_gets_its_own_clients_articles_and_no_one_elses(sim, make_context) -> None:
    from pipelines import clients

    ctx, hudu, clock = hudu_context(sim, make_context)
    acme = add_client_articles(hudu, "Acme Dental - FS01 low disk space runbook",
                               "Birch Law - FS01 low disk space runbook",
                               "<p>FS01 disk full: purge the Dentrix/Worldox temp exports in D:\\Temp, then the shadow "
                               "copies.</p>")
    kb.sync(ctx)
    with ctx.db.session() as s:
        clients.map_client(s, rmm="datto-rmm", rmm_client_id="site-acme", docs="hudu", docs_org_id=str(acme))
        run = enrich.alert_enricher(ctx, s)
        assert run is not None
        alert = {"title": "Low disk space on FS01", "text": "Disk C: on FS01 has 3% free", "severity": "high"}
        acme_titles = [k["title"] for k in run({**alert, "client": "site-acme"})["kb"]]
        unknown_titles = [k["title"] for k in run({**alert, "client": "site-unmapped"})["kb"]]
    assert "Acme Dental - FS01 low disk space runbook" in acme_titles
    assert not any(t.startswith("Birch Law") for t in acme_titles + unknown_titles)
    assert not any(t.startswith("Acme Dental") for t in unknown_titles), "a client not in the map: shared articles only"
