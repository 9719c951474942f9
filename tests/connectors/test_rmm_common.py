"""What the three RMM connectors share: settings from the environment, secrets kept out of sight,
canonical check names that agree across vendors, and the token-verified webhook."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
import respx

from config.settings import Settings
from connectors import registry
from connectors.datto_rmm import check_of as datto_check
from connectors.errors import AuthError
from connectors.ninjaone import NinjaOne, NinjaOneSettings
from connectors.ninjaone import check_of as ninja_check
from connectors.rmm import from_epoch, refine, slug
from connectors.simulators.datto_rmm import context_for
from connectors.simulators.ninjaone import NinjaOneSimulator, condition_for
from connectors.simulators.tactical_rmm import TacticalRmmSimulator, check_for
from connectors.tactical_rmm import TacticalRmm, TacticalRmmSettings, TrmmCheck
from connectors.tactical_rmm import check_of as tactical_check

SECRETS = ["ninja-SECRET-31337", "trmm-KEY-27182", "hook-TOKEN-16180"]


def test_the_environment_selects_and_configures_each_rmm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_RMM", "ninjaone")
    monkeypatch.setenv("SWITCHBOARD_NINJAONE__BASE_URL", "eu")
    monkeypatch.setenv("SWITCHBOARD_NINJAONE__CLIENT_ID", "client-1")
    monkeypatch.setenv("SWITCHBOARD_NINJAONE__CLIENT_SECRET", SECRETS[0])
    monkeypatch.setenv("SWITCHBOARD_TACTICAL_RMM__API_KEY", SECRETS[1])
    monkeypatch.setenv("SWITCHBOARD_TACTICAL_RMM__WEBHOOK_SECRET", SECRETS[2])
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.rmm == "ninjaone" and settings.ninjaone.client_id == "client-1"
    assert isinstance(registry.build(settings.rmm, settings), NinjaOne)
    text = repr(settings) + str(settings) + settings.model_dump_json()
    assert not any(s in text for s in SECRETS) and set(SECRETS) <= set(settings.secrets())


def test_bad_credentials_and_vendor_errors_show_no_secret(sim, caplog: pytest.LogCaptureFixture) -> None:
    ninja = sim(NinjaOneSimulator, client_secret=SECRETS[0])
    trmm = sim(TacticalRmmSimulator, api_key=SECRETS[1])
    now = datetime(2026, 11, 2, tzinfo=UTC)
    with caplog.at_level(logging.DEBUG), respx.mock(assert_all_called=False) as router:
        ninja.mount(router)
        trmm.mount(router)
        bad = NinjaOne.from_settings(NinjaOneSettings(base_url=ninja.base_url, client_id="sim-ninja-client",
                                                      client_secret="x" + SECRETS[0]))
        with pytest.raises(AuthError) as n_info:
            bad.pull_alert_events(None, now)
        good = TacticalRmm.from_settings(TacticalRmmSettings(base_url=trmm.base_url, api_key=SECRETS[1]))
        good.http._sleep = lambda s: None
        trmm.fail_next(500, path="/alerts/", body={"detail": f"boom {SECRETS[1]}"}, times=9)
        with pytest.raises(Exception) as t_info:
            good.pull_alert_events(None, now)
    text = caplog.text + str(n_info.value) + str(t_info.value) + repr(bad) + repr(good) + repr(good.http.client.auth)
    assert "SWITCHBOARD_NINJAONE__CLIENT_SECRET" in str(n_info.value)
    assert not any(s in text for s in SECRETS)


@pytest.mark.parametrize("check", ["device_offline", "cpu", "memory", "disk_usage:C:", "service:Spooler",
                                   "eventlog:Disk:7", "ping"])
def test_the_same_check_has_the_same_name_in_every_rmm(check: str) -> None:
    """A noise rule written for ``disk_usage`` or ``service:Spooler`` matches all three RMMs."""
    assert datto_check(context_for(check)) == check
    source_type, data = condition_for(check)
    assert ninja_check(data=data, source_type=source_type) == check
    alert_type, fields = check_for(check if check != "ping" else "ping")
    trmm = TrmmCheck(**{k: v for k, v in fields.items() if k in TrmmCheck.model_fields}) if fields else None
    expected = "ping:10.0.0.1" if check == "ping" else check
    assert tactical_check(alert_type, trmm) == expected


def test_small_helpers() -> None:
    assert refine("disk_usage", "C:") == "disk_usage:C:" and refine("cpu", None, "", "None") == "cpu"
    assert slug("Disk Space - C:") == "disk_space_c" and slug("") == "unknown"
    assert from_epoch(1793610000) == from_epoch(1793610000000) == datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def test_every_rmm_is_registered_with_its_document_or_none() -> None:
    rmms = {name: info for name, info in registry.VENDORS.items() if info.kind == "rmm"}
    assert set(rmms) == {"datto-rmm", "ninjaone", "tactical-rmm"}
    assert rmms["ninjaone"].spec == "ninjaone.yaml" and rmms["tactical-rmm"].spec is None
    for name in rmms:
        assert registry.simulator_class(name).vendor == name
