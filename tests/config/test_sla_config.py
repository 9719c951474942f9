"""The SLA policy files refuse what would misfire later, naming the file, the key and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from config.loader import ConfigError, defaults_dir, load
from rules.sla_config import AutomationConfig, EscalationConfig, MessagesConfig, SlaConfig, parse_duration


@pytest.mark.parametrize("text, minutes", [("30m", 30), ("1h", 60), (".25h", 15), ("1h30m", 90), ("2d", 2880),
                                           (45, 45), ("90 min", 90), ("PT2H", 120)])
def test_durations(text, minutes) -> None:
    assert parse_duration(text).total_seconds() == minutes * 60


BAD = [
    ("sla.yaml", SlaConfig, "calendar:\n  timezone: Mars/Olympus\n", "calendar.timezone", "unknown time zone"),
    ("sla.yaml", SlaConfig, "calendar:\n  country: XX\n", "calendar", "not known to the holidays library"),
    ("sla.yaml", SlaConfig, "calendar:\n  country: GB\n  subdivision: NY\n", "calendar", "GB has no subdivision"),
    ("sla.yaml", SlaConfig, "calendar:\n  start: '18:00'\n  end: '09:00'\n", "calendar", "must be after start"),
    ("sla.yaml", SlaConfig, "priorities:\n  1: {internal_response: soon, client_response: 1h, escalation: 2h}\n",
     "priorities[1].internal_response", "not a duration"),
    ("sla.yaml", SlaConfig, "pause_statuse: [waiting_client]\n", "pause_statuse", "Extra inputs are not permitted"),
    ("sla.yaml", SlaConfig, "clients:\n  '7001': {timezone: Europe/Lndon}\n", "clients.7001.timezone",
     "unknown time zone"),
    ("escalation.yaml", EscalationConfig,
     "chains:\n  unassigned:\n    steps:\n      - {after: 15m, notify: [dispatcher, helpdesk]}\n", "chains",
     "unassigned.steps[0].notify: unknown role 'helpdesk'"),
    ("escalation.yaml", EscalationConfig,
     "chains:\n  unassigned:\n    steps:\n      - {after: 30m, notify: [dispatcher]}\n      - {after: 15m, notify: [dispatcher]}\n",
     "chains.unassigned", "increasing order"),
    ("escalation.yaml", EscalationConfig, "roles:\n  dispatcher: {title: D, email: [not-an-address]}\n",
     "roles.dispatcher.email", "not an e-mail address"),
    ("escalation.yaml", EscalationConfig, "roles:\n  service_manager: {title: M}\n", "roles",
     "the dispatcher role is required"),
    ("escalation.yaml", EscalationConfig, "escalation:\n  set_status: in_progres\n", "escalation.set_status",
     "Input should be"),
    ("automation.yaml", AutomationConfig, "waiting:\n  remind_after: tomorrow\n", "waiting.remind_after",
     "not a duration"),
]


@pytest.mark.parametrize("name, model, text, key, reason", BAD, ids=[f"{b[0]}:{b[3] or b[4][:20]}" for b in BAD])
def test_bad_values_name_file_key_and_reason(tmp_path: Path, name, model, text, key, reason) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError) as info:
        load(name, model, tmp_path)
    assert info.value.file.endswith(name)
    assert info.value.key == key
    assert reason in info.value.reason


def _messages(tmp_path: Path, change) -> Path:
    data = yaml.safe_load((defaults_dir() / "messages.yaml").read_text())
    change(data)
    (tmp_path / "messages.yaml").write_text(yaml.safe_dump(data))
    return tmp_path


@pytest.mark.parametrize("change, key, reason", [
    (lambda d: d["messages"]["received"].update(subject="{{ ticket.nmber }}"), "messages.received.subject",
     "has no attribute 'nmber'"),
    (lambda d: d["messages"]["assigned"].update(body="<p>{% if %}</p>"), "messages.assigned.body", "line 1"),
    (lambda d: d["messages"]["breach"].update(body="{{ ticket.__class__.__mro__ }}"), "messages.breach.body",
     "unsafe"),
    (lambda d: d["messages"].pop("waiting_client"), "messages", "missing message(s): waiting_client"),
    (lambda d: d["messages"].update(recieved=d["messages"]["received"]), "messages", "unknown message 'recieved'"),
    (lambda d: d.update(clients={"7001": {"messages": {"receved": {"subject": "x"}}}}), "clients",
     "7001.messages.receved: no such message"),
], ids=["misspelt variable", "syntax error", "sandbox escape", "missing", "unknown", "unknown client override"])
def test_message_templates_are_checked_at_load(tmp_path: Path, change, key, reason) -> None:
    with pytest.raises(ConfigError) as info:
        load("messages.yaml", MessagesConfig, _messages(tmp_path, change))
    assert info.value.key == key and reason in info.value.reason


def test_client_overrides_merge_over_the_defaults(tmp_path: Path) -> None:
    (tmp_path / "sla.yaml").write_text(
        "calendar:\n  closures: ['2026-12-24']\nclients:\n  '7001': {timezone: Europe/London, country: GB, "
        "closures: ['2026-12-31']}\n")
    cfg = load("sla.yaml", SlaConfig, tmp_path)
    london = cfg.calendar_for("7001")
    assert (london.timezone, london.country, london.start, london.end) == ("Europe/London", "GB", 480, 1020)
    assert [str(d) for d in london.closures] == ["2026-12-24", "2026-12-31"]
    assert cfg.calendar_for("other") == cfg.calendar

    def override(d):
        d["clients"] = {"7001": {"sender": {"company": "MSP UK"},
                                 "messages": {"received": {"subject": "Got it: {{ ticket.title }}"}}}}

    messages = load("messages.yaml", MessagesConfig, _messages(tmp_path, override))
    assert messages.message("received", "7001").subject == "Got it: {{ ticket.title }}"
    assert messages.message("received", "7001").body == messages.message("received", None).body
    assert messages.sender_for("7001").company == "MSP UK"
    assert messages.sender_for("7001").support_email == messages.sender.support_email
