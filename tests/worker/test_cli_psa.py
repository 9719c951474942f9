"""`switchboard connectors check` for ConnectWise PSA and HaloPSA, over real HTTP to a served simulator."""

from __future__ import annotations

import pytest

from connectors.simulators.connectwise_psa import ConnectWisePsaSimulator
from connectors.simulators.halopsa import HaloPsaSimulator
from connectors.simulators.server import serve
from tests.worker.test_cli import cli


@pytest.fixture
def env(settings_factory, make_context):
    from tests.helpers import settings_env

    make_context()
    return settings_env(settings_factory())


def test_connectwise_check_says_what_works_and_what_does_not(env, sim) -> None:
    cw = sim(ConnectWisePsaSimulator)
    cw.add_company("Acme")
    with serve(cw) as server:
        settings = {"SWITCHBOARD_CONNECTWISE_PSA__BASE_URL": server.url, "SWITCHBOARD_CONNECTWISE_PSA__COMPANY_ID": "msp",
                    "SWITCHBOARD_CONNECTWISE_PSA__PUBLIC_KEY": cw.public_key,
                    "SWITCHBOARD_CONNECTWISE_PSA__PRIVATE_KEY": cw.private_key,
                    "SWITCHBOARD_CONNECTWISE_PSA__CLIENT_ID": cw.client_id}
        no_board = cli({**env, **settings}, "connectors", "check", "connectwise-psa")
        ok = cli({**env, **settings, "SWITCHBOARD_CONNECTWISE_PSA__BOARD_ID": str(cw.board_id)},
                 "connectors", "check", "connectwise-psa")
        bad = cli({**env, **settings, "SWITCHBOARD_CONNECTWISE_PSA__PRIVATE_KEY": "wrong-key"},
                  "connectors", "check", "connectwise-psa")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "1 companies readable" in ok.stdout and "closes with 'Completed'" in ok.stdout
    assert no_board.returncode == 1 and "SWITCHBOARD_CONNECTWISE_PSA__BOARD_ID" in no_board.stdout
    assert bad.returncode == 1 and "SWITCHBOARD_CONNECTWISE_PSA__PRIVATE_KEY" in bad.stdout
    assert "wrong-key" not in bad.stdout + bad.stderr and "Traceback" not in bad.stdout + bad.stderr


def test_halo_check_over_http_with_a_token(env, sim) -> None:
    halo = sim(HaloPsaSimulator)
    halo.add_client("Acme")
    with serve(halo) as server:
        settings = {"SWITCHBOARD_HALOPSA__BASE_URL": server.url, "SWITCHBOARD_HALOPSA__CLIENT_ID": halo.client_id,
                    "SWITCHBOARD_HALOPSA__CLIENT_SECRET": halo.client_secret}
        ok = cli({**env, **settings}, "connectors", "check", "halopsa")
        bad = cli({**env, **settings, "SWITCHBOARD_HALOPSA__CLIENT_SECRET": "wrong-secret"},
                  "connectors", "check", "halopsa")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "1 clients readable" in ok.stdout and "closes with 'Closed'" in ok.stdout
    assert bad.returncode == 1 and "SWITCHBOARD_HALOPSA__CLIENT_SECRET" in bad.stdout
    assert "wrong-secret" not in bad.stdout + bad.stderr


def test_connectors_list_shows_the_psas(env) -> None:
    result = cli(env, "connectors", "list")
    assert result.returncode == 0
    for vendor in ("connectwise-psa", "halopsa", "ConnectWise PSA", "HaloPSA"):
        assert vendor in result.stdout
