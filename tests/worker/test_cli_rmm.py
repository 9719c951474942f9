"""``switchboard connectors check`` for the new RMMs, against simulators served on 127.0.0.1."""

from __future__ import annotations

import pytest

from connectors.simulators.ninjaone import NinjaOneSimulator
from connectors.simulators.server import serve
from connectors.simulators.tactical_rmm import TacticalRmmSimulator
from tests.helpers import settings_env
from tests.worker.test_cli import cli


@pytest.fixture
def env(settings_factory, make_context):
    make_context()
    return settings_env(settings_factory())


def test_connectors_check_ninjaone(env) -> None:
    sim = NinjaOneSimulator()
    org = sim.add_organization("Acme Dental")
    sim.raise_alert(sim.add_device(sim.add_location(org, "HQ"), "ACME-FS01"), check="cpu")
    with serve(sim) as server:
        env = {**env, "SWITCHBOARD_NINJAONE__BASE_URL": server.url, "SWITCHBOARD_NINJAONE__CLIENT_ID": sim.client_id,
               "SWITCHBOARD_NINJAONE__CLIENT_SECRET": sim.client_secret}
        ok = cli(env, "connectors", "check", "ninjaone")
        bad = cli({**env, "SWITCHBOARD_NINJAONE__CLIENT_SECRET": "wrong-one"}, "connectors", "check", "ninjaone")
    assert ok.returncode == 0, ok.stderr
    assert "1 organizations readable" in ok.stdout and "1 active alerts readable" in ok.stdout
    assert bad.returncode == 1 and "FAIL" in bad.stdout and "SWITCHBOARD_NINJAONE__CLIENT_SECRET" in bad.stdout
    assert "wrong-one" not in bad.stdout + bad.stderr and "Traceback" not in bad.stdout + bad.stderr


def test_connectors_check_tactical_rmm(env) -> None:
    sim = TacticalRmmSimulator()
    sim.add_agent(sim.add_site(sim.add_client("Acme Dental"), "HQ"), "ACME-FS01")
    with serve(sim) as server:
        env = {**env, "SWITCHBOARD_TACTICAL_RMM__BASE_URL": server.url,
               "SWITCHBOARD_TACTICAL_RMM__API_KEY": "sim-tactical-key"}
        ok = cli(env, "connectors", "check", "tactical-rmm")
    assert ok.returncode == 0, ok.stderr
    assert "Tactical RMM v1.3.1" in ok.stdout and "1 agents readable" in ok.stdout


def test_rmm_webhook_registers_ninjaone_and_refuses_without_a_secret(env) -> None:
    sim = NinjaOneSimulator()
    with serve(sim) as server:
        env = {**env, "SWITCHBOARD_RMM": "ninjaone", "SWITCHBOARD_NINJAONE__BASE_URL": server.url,
               "SWITCHBOARD_NINJAONE__CLIENT_ID": sim.client_id, "SWITCHBOARD_NINJAONE__CLIENT_SECRET": sim.client_secret}
        missing = cli(env, "rmm", "webhook", "https://sb.msp.example/hooks/ninjaone")
        done = cli({**env, "SWITCHBOARD_NINJAONE__WEBHOOK_SECRET": "t0k3n-acme"}, "rmm", "webhook",
                   "https://sb.msp.example/hooks/ninjaone", "--organization", "7")
    assert missing.returncode == 1 and "SWITCHBOARD_NINJAONE__WEBHOOK_SECRET" in missing.stderr
    assert done.returncode == 0, done.stderr
    assert sim.webhook is not None and sim.webhook["url"] == "https://sb.msp.example/hooks/ninjaone"
    assert sim.webhook["headers"] == [{"name": "X-Switchboard-Token", "value": "t0k3n-acme"}]
    assert sim.webhook["organizationIds"] == [7] and "t0k3n-acme" not in done.stdout
