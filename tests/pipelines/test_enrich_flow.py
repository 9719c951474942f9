"""Enrichment of the PSA's own tickets: poll -> classify/prioritise/link KB -> outbox -> PSA fields and one note.

On the Autotask simulator (its tenant given the taxonomy's issue types, as an MSP would set them up),
a real context and state (SQLite or PostgreSQL), and the SLA clocks running alongside.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from pipelines import tickets
from pipelines.state import ActionRow, TicketEnrichment
from rules.taxonomy import load_taxonomy
from tests.sla_stack import build_sla_stack

ON = "enabled: true\n"
OUTLOOK = "Outlook keeps asking for password"
OUTLOOK_KB = "Office 365 - Outlook Continually Asking for Password"


def taxonomy_types() -> dict[str, list[str]]:
    tax = load_taxonomy()
    out: dict[str, list[str]] = {}
    for s in tax.subtypes:
        out.setdefault(s.type, []).append(s.name)
    return out


def make_stack(sim, make_context, tmp_path, enrichment: str = ON, *, types: bool = True, **overrides):
    stack = build_sla_stack(sim, make_context, tmp_path, sink=None, files={"enrichment_yaml": enrichment},
                            **overrides)
    stack.ids = stack.at.add_issue_types(taxonomy_types()) if types else {}
    return stack


@pytest.fixture
def stack(sim, make_context, tmp_path):
    return make_stack(sim, make_context, tmp_path)


def enrich_notes(stack, tid: int) -> list[dict]:
    return [n for n in stack.notes(tid) if "[switchboard:enrich:" in n["description"]]


def row(stack, tid: int) -> TicketEnrichment:
    with stack.ctx.db.session() as s:
        r = s.get(TicketEnrichment, f"autotask:{tid}")
        assert r is not None
        s.expunge(r)
        return r


def enrich_actions(stack) -> list[ActionRow]:
    return [a for a in stack.actions() if a.key.startswith("enrich:")]


def test_a_new_ticket_is_typed_and_gets_one_note_with_the_right_article(stack) -> None:
    tid = stack.new_ticket(OUTLOOK, description="Since this morning Outlook prompts for my password every few "
                                                "minutes. Jane", priority=2)
    stack.poll()
    stack.push()
    ticket = stack.at.db["Tickets"][tid]
    assert ticket["issueType"] == stack.ids["Software/SaaS"]
    assert ticket["subIssueType"] == stack.ids["Software/SaaS|Outlook - Troubleshooting"]
    assert ticket["priority"] == 2, "a priority already on the ticket is a person's: left alone"
    (note,) = enrich_notes(stack, tid)
    assert note["publish"] == 2, "internal"
    text = note["description"]
    assert "Type: Software/SaaS / Outlook - Troubleshooting" in text and "set" in text
    assert f"1. {OUTLOOK_KB}" in text
    assert "why:" in text
    r = row(stack, tid)
    assert r.written == {"type": "Software/SaaS", "subtype": "Outlook - Troubleshooting"}
    assert r.human == ["priority"] and r.revision == 1


def test_redelivery_and_our_own_write_coming_back_record_nothing_new(stack) -> None:
    tid = stack.new_ticket(OUTLOOK)
    stack.poll()
    stack.push()
    before = [a.key for a in enrich_actions(stack)]
    stack.advance(minutes=2)
    stack.poll()  # the ticket comes back: Switchboard's own write moved its last activity
    pulled = stack.ctx.psa().pull_tickets(None, stack.clock.now())
    for _ in range(2):  # the whole history delivered again, twice
        tickets.ingest(stack.ctx, pulled.items, now=stack.clock.now())
    stack.push()
    assert [a.key for a in enrich_actions(stack)] == before
    assert len(enrich_notes(stack, tid)) == 1
    assert row(stack, tid).observed["type"] == str(stack.ids["Software/SaaS"]), "our value as the PSA shows it"


def test_a_changed_ticket_updates_its_note_in_place(stack) -> None:
    tid = stack.new_ticket("Help")
    stack.poll()
    stack.push()
    (first,) = enrich_notes(stack, tid)
    assert "left for the dispatcher" in first["description"] or "no confident match" in first["description"]
    assert stack.at.db["Tickets"][tid]["issueType"] is None, "below the threshold: type left for the dispatcher"
    stack.advance(minutes=5)
    stack.at.db["Tickets"][tid]["title"] = "Printer offline"
    stack.at.db["Tickets"][tid]["description"] = "The HP printer in accounts shows offline, nobody can print."
    stack.at._touch(tid)
    stack.poll()
    stack.push()
    (note,) = enrich_notes(stack, tid)
    assert note["id"] == first["id"], "the same note, updated"
    assert "Printer - Troubleshooting" in note["description"]
    assert stack.at.db["Tickets"][tid]["subIssueType"] == stack.ids["Hardware|Printer - Troubleshooting"]
    assert row(stack, tid).revision == 2


def test_a_type_a_person_set_is_never_overwritten(stack) -> None:
    tid = stack.new_ticket(OUTLOOK, issueType=stack.ids["Hardware"],
                           subIssueType=stack.ids["Hardware|Workstation - Troubleshooting"])
    stack.poll()
    stack.push()
    ticket = stack.at.db["Tickets"][tid]
    assert ticket["issueType"] == stack.ids["Hardware"]
    assert ticket["subIssueType"] == stack.ids["Hardware|Workstation - Troubleshooting"]
    assert not [a for a in enrich_actions(stack) if a.kind == "update_ticket"]
    (note,) = enrich_notes(stack, tid)
    assert "a person set the ticket's type" in note["description"] and OUTLOOK_KB in note["description"]


def test_a_person_correcting_our_type_wins_from_then_on(stack) -> None:
    tid = stack.new_ticket(OUTLOOK)
    stack.poll()
    stack.push()
    stack.advance(minutes=5)
    stack.at.db["Tickets"][tid]["subIssueType"] = stack.ids["Software/SaaS|Outlook - Configuration"]
    stack.at._touch(tid, by=stack.engineer)
    stack.poll()
    assert row(stack, tid).human == ["priority", "subtype"]
    stack.advance(minutes=5)
    stack.at.db["Tickets"][tid]["description"] = "Still asking for the password after the reboot."
    stack.at._touch(tid)
    stack.poll()
    stack.push()
    assert stack.at.db["Tickets"][tid]["subIssueType"] == stack.ids["Software/SaaS|Outlook - Configuration"]


def test_overwrite_human_fields_and_unset_priority(sim, make_context, tmp_path) -> None:
    stack = make_stack(sim, make_context, tmp_path, ON + "unset_priority: 3\n")
    tid = stack.new_ticket("Whole office cannot print", description="Printer offline, everyone is affected",
                           priority=2)  # Autotask Medium = P3: the e-mail parser's default
    stack.poll()
    stack.push()
    ticket = stack.at.db["Tickets"][tid]
    assert ticket["priority"] in (1, 4), "P2 (High) or P1 (Critical): the whole office is affected"
    assert row(stack, tid).written["priority"] in (1, 2)


def test_shadow_mode_records_the_decisions_and_writes_nothing(sim, make_context, tmp_path) -> None:
    stack = make_stack(sim, make_context, tmp_path, ON + "shadow: true\n")
    tid = stack.new_ticket(OUTLOOK)
    stack.poll()
    stack.push()
    assert stack.notes(tid) == [] and stack.at.db["Tickets"][tid]["issueType"] is None
    assert {a.status for a in enrich_actions(stack)} == {"shadow"}
    assert {a.kind for a in enrich_actions(stack)} == {"upsert_note", "update_ticket"}
    r = row(stack, tid)
    assert r.shadow and r.subtype == "Outlook - Troubleshooting" and r.kb[0]["title"] == OUTLOOK_KB


def test_global_shadow_mode_too(sim, make_context, tmp_path) -> None:
    stack = make_stack(sim, make_context, tmp_path, mode="shadow")
    tid = stack.new_ticket(OUTLOOK)
    stack.poll()
    stack.push()
    assert stack.notes(tid) == [] and {a.status for a in enrich_actions(stack)} == {"shadow"}


def test_a_psa_without_the_taxonomy_keeps_the_ticket_untyped_and_still_gets_the_note(sim, make_context,
                                                                                      tmp_path) -> None:
    stack = make_stack(sim, make_context, tmp_path, types=False)
    tid = stack.new_ticket(OUTLOOK)
    stack.poll()
    stack.push()
    assert len(enrich_notes(stack, tid)) == 1
    (update,) = [a for a in enrich_actions(stack) if a.kind == "update_ticket"]
    assert update.status == "done" and "without type/subtype" in update.result["outcome"]


def test_closed_tickets_skipped_boards_and_disabled(sim, make_context, tmp_path) -> None:
    stack = make_stack(sim, make_context, tmp_path, ON + "skip: {statuses: [closed, Complete], boards: ['29683355']}\n")
    stack.new_ticket(OUTLOOK, status=5)
    stack.new_ticket(OUTLOOK, queueID=29683355)
    stack.poll()
    assert enrich_actions(stack) == []
    (tmp_path / "off").mkdir()
    off = make_stack(sim, make_context, tmp_path / "off", "enabled: true\nexisting_tickets: false\n")
    off.new_ticket(OUTLOOK)
    off.poll()
    assert enrich_actions(off) == []


def test_enrichment_and_sla_clocks_side_by_side(stack) -> None:
    tid = stack.new_ticket("Server down", description="File server SRV-FS01 is down, nobody can open the S: drive")
    stack.cycle()
    stack.advance(minutes=15)
    stack.cycle()
    notes = stack.notes(tid)
    assert len(enrich_notes(stack, tid)) == 1
    assert any("not assigned after 15 min" in n["description"] or "Alerted" in n["description"] for n in notes)
    assert stack.row(tid).priority == 1, "the SLA clocks still run on the ticket's own priority"


def test_a_rolled_back_batch_records_the_same_keys_when_polled_again(stack, monkeypatch) -> None:
    from pipelines import sla

    tid = stack.new_ticket(OUTLOOK)

    def boom(*a, **kw):
        raise RuntimeError("SLA consumer failed")

    monkeypatch.setattr(sla, "consume", boom)
    with pytest.raises(RuntimeError):
        stack.poll()
    assert enrich_actions(stack) == []
    monkeypatch.undo()
    stack.advance(minutes=1)
    stack.poll()
    stack.push()
    assert sorted(a.key for a in enrich_actions(stack)) == [f"enrich:autotask:{tid}:fields:1",
                                                            f"enrich:autotask:{tid}:note:1"]
    with stack.ctx.db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(TicketEnrichment)) == 1


def test_the_active_trained_model_is_used(stack) -> None:
    from datetime import UTC, datetime

    from pipelines import enrich
    from rules.learned import LearnedModel

    rows = [{"summary": f"Outlook asks for password again {i}", "type": "Software/SaaS",
             "subtype": "Outlook - Troubleshooting"} for i in range(10)]
    rows += [{"summary": f"printer jammed paper tray {i}", "type": "Hardware",
              "subtype": "Printer - Troubleshooting"} for i in range(10)]
    blob = LearnedModel.fit(rows).to_bytes()
    with stack.ctx.db.session() as s:
        v = enrich.save_model(s, blob, metrics={"cv_accuracy": 1.0}, source="test", samples=20,
                              now=datetime.now(UTC))
    stack.new_ticket(OUTLOOK)
    stack.poll()
    with stack.ctx.db.session() as s:
        r = s.scalar(sa.select(TicketEnrichment))
        assert r.model_version == v and r.source in ("model", "combined", "rules")
        assert enrich.list_models(s)[0]["active"]


@pytest.mark.parametrize("psa", ["autotask", "connectwise-psa", "halopsa"])
def test_every_psa_gets_the_note_and_a_write_it_can_take(sim, make_context, psa) -> None:
    from tests.helpers import build_stack

    stack = build_stack(sim, make_context, psa=psa, docs=None)
    tid = stack.psa.add_ticket(OUTLOOK, stack.company)
    tickets.poll(stack.ctx)
    stack.push_all()
    notes = [n for n in stack.psa.notes(tid) if "[switchboard:enrich:" in n]
    assert len(notes) == 1 and OUTLOOK_KB in notes[0]
    with stack.ctx.db.session() as s:
        rows = list(s.scalars(sa.select(ActionRow).where(ActionRow.key.like("enrich:%"))))
        assert rows and all(r.status == "done" for r in rows), [(r.key, r.status, r.last_error) for r in rows]
    stack.advance(minutes=5)
    tickets.poll(stack.ctx)
    stack.push_all()
    assert len([n for n in stack.psa.notes(tid) if "[switchboard:enrich:" in n]) == 1


def test_training_from_the_psa_takes_closed_tickets_a_person_typed(stack) -> None:
    from worker.training import TrainingInputError, fit, from_psa_tickets

    with pytest.raises(TrainingInputError, match="at least 20"):
        from_psa_tickets(stack.ctx)
    examples = [("Outlook asks for the password again", "Software/SaaS", "Outlook - Troubleshooting"),
                ("Paper jam on the reception printer", "Hardware", "Printer - Troubleshooting"),
                ("New starter needs an account", "User Admin", "User - Onboard")]
    for i in range(24):
        title, type_name, sub = examples[i % 3]
        stack.new_ticket(f"{title} #{i}", status=5, issueType=stack.ids[type_name],
                         subIssueType=stack.ids[f"{type_name}|{sub}"])
    ours = stack.new_ticket(OUTLOOK)  # typed by Switchboard below: never a training example
    stack.poll()
    stack.push()
    stack.at.set_status(ours, 5)
    rows = from_psa_tickets(stack.ctx)
    assert len(rows) == 24 and {r["subtype"] for r in rows} == {e[2] for e in examples}
    assert {r["type"] for r in rows} == {e[1] for e in examples}
    blob, metrics = fit(rows, folds=3)
    assert blob and metrics["labels"] == 3 and 0 <= metrics["cv_accuracy"] <= 1


def test_a_vip_contact_raises_the_priority(sim, make_context) -> None:
    from tests.helpers import build_stack

    stack = build_stack(sim, make_context, psa="halopsa", docs=None)
    halo = stack.psa.sim
    boss = halo.add_user(stack.company, "Pat Owner", "pat@acme.example", vip=True)
    staff = halo.add_user(stack.company, "Sam Staff", "sam@acme.example")
    text = "Outlook keeps asking for password, I cannot work"
    vip_ticket = halo.add_ticket(text, stack.company, user_id=boss)
    other = halo.add_ticket(text, stack.company, user_id=staff)
    tickets.poll(stack.ctx)
    with stack.ctx.db.session() as s:
        rows = {r.ticket_id: r for r in s.scalars(sa.select(TicketEnrichment))}
        assert rows[str(vip_ticket)].priority < rows[str(other)].priority
        assert any("VIP contact" in r for r in rows[str(vip_ticket)].reasons)


def test_two_workers_enriching_the_same_tickets_at_once_post_one_note_each(stack, make_context) -> None:
    """A webhook refresh and a poll (or a duplicated job) hand the same tickets to two workers."""
    tids = [stack.new_ticket(f"{OUTLOOK} ({i})") for i in range(6)]
    pulled = stack.ctx.psa().pull_tickets(None, stack.clock.now())
    stack.race(make_context, lambda ctx: tickets.ingest(ctx, pulled.items, now=stack.clock.now(),
                                                        only=["pipelines.enrich:consume"]), join_seconds=60)
    assert [len(enrich_notes(stack, tid)) for tid in tids] == [1] * 6
    keys = [a.key for a in enrich_actions(stack)]
    assert len(keys) == 12 and all(a.status == "done" for a in enrich_actions(stack))


def add_client_articles(hudu, acme_title: str, birch_title: str, steps: str) -> int:
    """The built-in corpus as the shared KB on the Hudu simulator, plus one article of the same
    ``steps`` kept to each of two companies (Acme Dental, Birch Law); returns Acme's company id."""
    from rules.kb_corpus import ARTICLES

    for title, body in ARTICLES:
        hudu.add_article(title, f"<p>{body}</p>")
    acme, birch = hudu.add_company("Acme Dental"), hudu.add_company("Birch Law")
    hudu.add_article(acme_title, steps, company_id=acme)
    hudu.add_article(birch_title, steps, company_id=birch)
    return acme


@pytest.mark.parametrize(("scope_line", "leaks"), [("", False), ("kb: {client_scope: false}\n", True)])
def test_a_clients_own_articles_go_only_on_that_clients_tickets(sim, make_context, tmp_path, scope_line,
                                                                 leaks) -> None:
    import httpx

    from connectors.simulators.hudu import HuduSimulator
    from pipelines import clients, kb

    def linked(tid: int) -> str:
        (note,) = enrich_notes(stack, tid)
        return note["description"].partition("Troubleshooting articles to open first:")[2]

    acme_kb = "Acme Dental - Outlook password prompts from the e-mail add-in"
    birch_kb = "Birch Law - Outlook password prompts from the e-mail add-in"
    problem = ("Outlook keeps asking for password", "The e-mail add-in pops up the Outlook password prompt every hour")
    stack = make_stack(sim, make_context, tmp_path, ON + scope_line)
    hudu = sim(HuduSimulator, now=stack.clock.now)
    stack.ctx.transports["hudu"] = httpx.MockTransport(hudu.handle)
    acme = add_client_articles(hudu, acme_kb, birch_kb, "<p>The e-mail add-in asks for the Outlook password: "
                               "update the add-in, re-sign-in the profile.</p>")
    kb.sync(stack.ctx)
    other = stack.at.add_company("Unmapped Co")
    with stack.ctx.db.session() as s:
        clients.map_client(s, rmm="datto-rmm", rmm_client_id="site-acme", psa="autotask",
                           psa_company_id=str(stack.company), docs="hudu", docs_org_id=str(acme))
    mine = stack.new_ticket(problem[0], description=problem[1])
    unmapped = stack.new_ticket(problem[0], description=problem[1], companyID=other)
    stack.poll()
    stack.push()
    assert acme_kb in linked(mine) and OUTLOOK_KB in linked(mine), linked(mine)
    assert (birch_kb in linked(mine)) is leaks, "another client's article on Acme's ticket only when scoping is off"
    assert OUTLOOK_KB in linked(unmapped), linked(unmapped)
    assert (acme_kb in linked(unmapped) or birch_kb in linked(unmapped)) is leaks, "an unmapped client: shared only"
