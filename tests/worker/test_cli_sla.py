"""``switchboard sla``: deadlines exactly as specified, explanations a dispatcher can read, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from tests.helpers import settings_env
from tests.sla_stack import build_sla_stack, config_dir
from tests.smtp_sink import smtp_server

ROOT = Path(__file__).resolve().parents[2]


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "worker", *args], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=60)


@pytest.fixture
def env(settings_factory, make_context):
    make_context()
    return settings_env(settings_factory())


@pytest.mark.parametrize("args, expected", [
    (["--priority", "1", "--created", "2026-11-06T16:55", "--tz", "America/New_York", "--country", "US"],
     {"internal_response": "2026-11-06T17:25:00-05:00", "client_response": "2026-11-09T08:55:00-05:00",
      "escalation": "2026-11-06T18:55:00-05:00"}),
    (["--priority", "2", "--created", "2026-05-22T14:00:00Z", "--tz", "Europe/London"],  # GB from the zone
     {"internal_response": "2026-05-22T17:00:00+01:00", "client_response": "2026-05-26T10:00:00+01:00",
      "escalation": "2026-05-22T23:00:00+01:00"}),
    (["--priority", "1", "--created", "2026-01-23T16:30", "--tz", "Australia/Sydney", "--country", "AU",
      "--subdivision", "NSW"],
     {"internal_response": "2026-01-23T17:00:00+11:00", "client_response": "2026-01-27T08:30:00+11:00",
      "escalation": "2026-01-23T18:30:00+11:00"}),
])
def test_deadline_json(args, expected, capsys) -> None:
    from worker.cli import main

    assert main(["sla", "deadline", *args, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == expected


def test_deadline_json_from_the_command_line(env) -> None:
    result = cli(env, "sla", "deadline", "--priority", "1", "--created", "2026-11-06T16:55", "--tz",
                 "America/New_York", "--country", "US", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"internal_response": "2026-11-06T17:25:00-05:00",
                                         "client_response": "2026-11-09T08:55:00-05:00",
                                         "escalation": "2026-11-06T18:55:00-05:00"}


@pytest.mark.parametrize("args, message", [
    (["--priority", "7", "--created", "2026-11-06T16:55"], "--priority 7: no such priority"),
    (["--priority", "1", "--created", "next friday"], "not an ISO-8601 time"),
    (["--priority", "1", "--created", "2026-11-06T16:55", "--tz", "Europe/Springfield"], "unknown time zone"),
    (["--priority", "1", "--created", "2026-11-06T16:55", "--country", "ZZ"], "not known to the holidays library"),
])
def test_deadline_errors_are_one_clear_line(args, message, capsys) -> None:
    from worker.cli import main

    assert main(["sla", "deadline", *args]) == 1
    err = capsys.readouterr().err
    assert message in " ".join(err.split()) and "Traceback" not in err


def test_a_bad_sla_file_stops_with_file_key_and_reason(env, tmp_path) -> None:
    (tmp_path / "escalation.yaml").write_text("breach:\n  client_response: [helpdesk]\n")
    result = cli({**env, "SWITCHBOARD_CONFIG_DIR": str(tmp_path)}, "status")
    assert result.returncode != 0 and "config error" in result.stderr and "Traceback" not in result.stderr
    assert "escalation.yaml" in result.stderr and "breach" in result.stderr and "helpdesk" in result.stderr


def test_explain_shows_clocks_pauses_and_steps(sim, make_context, settings_factory, tmp_path) -> None:
    with smtp_server() as sink:
        stack = build_sla_stack(sim, make_context, tmp_path, sink=sink)
        tid = stack.new_ticket()
        stack.cycle()
        stack.advance(minutes=16)
        stack.at.set_status(tid, 7)
        stack.cycle()
    env = settings_env(settings_factory(config_dir=config_dir(tmp_path), smtp={"host": sink.host, "port": sink.port}))
    env["SWITCHBOARD_CLOCK"] = "redis"
    stack.ctx.redis.set(f"{stack.ctx.prefix}:clock", (stack.clock.now() + timedelta(minutes=5)).isoformat())
    number = stack.at.db["Tickets"][tid]["ticketNumber"]
    as_json = cli(env, "sla", "explain", number, "--json")
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert data["ticket"]["id"] == str(tid) and data["ticket"]["tier"] == "Level 1"
    clocks = {c["target"]: c for c in data["clocks"]}
    assert clocks["internal_response"]["state"] == "paused" and clocks["internal_response"]["used"] == "16 min"
    assert clocks["client_response"]["clock"] == "business"
    assert data["pauses"][0]["reason"].startswith("status waiting_client")
    taken = {s["step"]: s for s in data["steps_taken"]}
    assert taken["received"]["actions"][f"notify:autotask:{tid}:received:contact"]["status"] == "done"
    assert taken["unassigned:1"]["outcome"].startswith("sent: dispatcher: e-mail to dispatch@msp.example")
    assert [s["step"] for s in data["steps_due"]][:1] == ["waiting-1:remind"]
    text = cli({**env, "COLUMNS": "200"}, "sla", "explain", str(tid))
    assert text.returncode == 0, text.stderr
    for words in ("clocks", "internal response", "paused", "unassigned:1", "waiting-1:remind", "steps due"):
        assert words in text.stdout
    missing = cli(env, "sla", "explain", "T19990101.0001")
    assert missing.returncode != 0 and "no SLA clocks for ticket" in missing.stderr


def test_preview_renders_a_message_with_the_clients_wording(env, tmp_path) -> None:
    import yaml

    from config.loader import defaults_dir

    data = yaml.safe_load((defaults_dir() / "messages.yaml").read_text())
    data["clients"] = {"7001": {"sender": {"company": "Contoso IT"}}}
    (tmp_path / "messages.yaml").write_text(yaml.safe_dump(data))
    result = cli({**env, "SWITCHBOARD_CONFIG_DIR": str(tmp_path)}, "sla", "preview", "assigned", "--client", "7001")
    assert result.returncode == 0, result.stderr
    assert "A team member has been assigned to Ticket #" in result.stdout and "Contoso IT" in result.stdout
    unknown = cli(env, "sla", "preview", "recieved")
    assert unknown.returncode != 0 and "no message 'recieved'" in unknown.stderr
