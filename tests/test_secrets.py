"""Secrets never appear in logs, errors or reprs."""

from __future__ import annotations

import logging

import pytest
import respx

from config.settings import Settings
from connectors.autotask import Autotask, AutotaskSettings
from connectors.datto_rmm import DattoRmm, DattoRmmSettings
from connectors.errors import AuthError
from connectors.simulators.autotask import AutotaskSimulator
from connectors.simulators.datto_rmm import DattoRmmSimulator
from worker.logs import RedactingFilter, configure_logging

SECRETS = ["datto-SECRET-4711", "at-SECRET-0815", "INTEGRATION-CODE-99"]


def test_settings_and_connectors_do_not_show_secrets() -> None:
    settings = Settings(_env_file=None, datto_rmm={"api_key": "k", "api_secret": SECRETS[0]},
                        autotask={"secret": SECRETS[1], "integration_code": SECRETS[2]}, redis_url="redis://:pw-9@h/0")
    text = repr(settings) + str(settings) + settings.model_dump_json()
    for s in [*SECRETS, "pw-9"]:
        assert s not in text
    assert set(SECRETS) <= set(settings.secrets())


def test_a_full_failing_flow_logs_no_secret(sim, caplog: pytest.LogCaptureFixture) -> None:
    datto = sim(DattoRmmSimulator, api_secret=SECRETS[0])
    at = sim(AutotaskSimulator, secret=SECRETS[1], integration_code=SECRETS[2])
    with caplog.at_level(logging.DEBUG), respx.mock(assert_all_called=False) as router:
        datto.mount(router)
        at.mount(router)
        ok = DattoRmm.from_settings(DattoRmmSettings(base_url=datto.base_url, api_key="sim-datto-key",
                                                     api_secret=SECRETS[0]))
        at.fail_next(500, path="query", body={"message": f"oops {SECRETS[1]}"})
        atc = Autotask.from_settings(AutotaskSettings(base_url=at.base_url + "/ATServicesRest", username="api@msp.example",
                                                      secret=SECRETS[1], integration_code=SECRETS[2]))
        atc.http._sleep = lambda s: None
        ok.pull_alert_events(None, datto.now())
        atc.find_ticket_by_marker("m")
        bad = DattoRmm.from_settings(DattoRmmSettings(base_url=datto.base_url, api_key="sim-datto-key",
                                                      api_secret="not-" + SECRETS[0]))
        with pytest.raises(AuthError) as info:
            bad.pull_alert_events(None, datto.now())
    text = caplog.text + str(info.value) + repr(ok) + repr(atc) + repr(ok.http.client.auth) + repr(atc.http.client.auth)
    for s in SECRETS:
        assert s not in text


def test_the_log_filter_blanks_secrets_even_in_arguments(caplog: pytest.LogCaptureFixture) -> None:
    configure_logging("DEBUG", SECRETS)
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "vendor said %s", (f"bad key {SECRETS[1]}",), None)
    assert RedactingFilter(SECRETS).filter(record)
    assert SECRETS[1] not in record.getMessage() and "***" in record.getMessage()
