"""``switchboard connectors list/check``: exactly what works and what is missing, per vendor."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from connectors.simulators.itglue import ItGlueSimulator
from connectors.simulators.server import serve
from tests.helpers import settings_env
from worker.connector_report import report

ROOT = Path(__file__).resolve().parents[2]


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "worker", *args], env={**env, "COLUMNS": "200"}, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def env(settings_factory, make_context):
    make_context()
    return settings_env(settings_factory())


def test_report_finds_every_missing_required_setting_offline(settings_factory) -> None:
    settings = settings_factory(datto_rmm={"base_url": None, "api_key": None, "api_secret": None},
                                webhooks={"secrets": {"datto-rmm": "tok"}, "tenant_secrets": {"datto_rmm": {"acme": "t"}}})
    r = report(settings, "datto-rmm")
    assert r.missing == ["SWITCHBOARD_DATTO_RMM__BASE_URL", "SWITCHBOARD_DATTO_RMM__API_KEY",
                         "SWITCHBOARD_DATTO_RMM__API_SECRET"]
    assert r.active and r.webhook and r.webhook_enabled and r.webhook_tenants == ["acme"]
    ready = report(settings_factory(), "autotask")
    assert ready.configured and ready.webhook and not ready.webhook_enabled
    assert report(settings_factory(), "hudu").webhook is None
    secret = next(s for s in ready.settings if s.env == "SWITCHBOARD_AUTOTASK__SECRET")
    assert secret.set and secret.secret and secret.value is None  # never shown


def test_list_says_capabilities_webhooks_and_missing_settings(env, monkeypatch) -> None:
    from typer.testing import CliRunner

    from worker.cli import app, console

    # the console's width is fixed when it is created (80 without a terminal); widen it for the table
    monkeypatch.setattr(console, "width", 200)

    env = {k: v for k, v in env.items() if not k.startswith("SWITCHBOARD_HUDU__")}
    env.update({"SWITCHBOARD_WEBHOOKS__SECRETS__DATTO_RMM": "tok-123456", "COLUMNS": "200"})
    runner = CliRunner()
    result = runner.invoke(app, ["connectors", "list", "--json"], env=env)
    assert result.exit_code == 0, result.output
    by_name = {r["name"]: r for r in json.loads(result.stdout)}
    assert set(by_name) >= {"datto-rmm", "autotask", "hudu", "itglue"}
    assert by_name["hudu"]["missing"] == ["SWITCHBOARD_HUDU__BASE_URL", "SWITCHBOARD_HUDU__API_KEY"]
    assert by_name["itglue"]["spec"] is None and by_name["itglue"]["kind"] == "docs"
    assert by_name["datto-rmm"]["webhook_enabled"] and not by_name["hudu"]["webhook"]
    assert by_name["autotask"]["webhook"] and not by_name["autotask"]["webhook_enabled"]
    assert by_name["datto-rmm"]["configured"] and by_name["datto-rmm"]["active"]
    table = runner.invoke(app, ["connectors", "list"], env=env)
    assert "public reference" in table.stdout and "SWITCHBOARD_HUDU__API_KEY" in table.stdout
    assert "tok-123456" not in result.stdout + table.stdout


def test_check_names_every_missing_setting_without_a_traceback(env) -> None:
    env = {k: v for k, v in env.items() if not k.startswith("SWITCHBOARD_DATTO_RMM__")}
    result = cli(env, "connectors", "check", "datto-rmm")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    for name in ("BASE_URL", "API_KEY", "API_SECRET"):
        assert f"SWITCHBOARD_DATTO_RMM__{name}" in result.stderr
    assert "webhooks: Datto RMM alert webhooks" in result.stdout and "SWITCHBOARD_WEBHOOKS__SECRETS__DATTO_RMM" in (
        result.stdout)


def test_check_itglue_against_a_live_simulator(env, sim) -> None:
    itg = sim(ItGlueSimulator)
    itg.add_organization("Acme Dental")
    kb = itg.add_asset_type("KB Article")
    itg.add_asset(kb, "Printing - Printer Offline", {"steps": "<p>Check the cable</p>"})
    with serve(itg) as server:
        base = {**env, "SWITCHBOARD_ITGLUE__BASE_URL": server.url, "SWITCHBOARD_ITGLUE__API_KEY": itg.api_key}
        no_type = cli(base, "connectors", "check", "itglue")
        assert no_type.returncode == 1, no_type.stdout + no_type.stderr
        assert "ok   organizations" in no_type.stdout and "key accepted; 2 organizations readable" in no_type.stdout
        assert "FAIL articles" in no_type.stdout and f"{kb} 'KB Article'" in no_type.stdout
        good = cli({**base, "SWITCHBOARD_ITGLUE__ARTICLE_TYPE_ID": str(kb)}, "connectors", "check", "itglue", "--json")
        assert good.returncode == 0, good.stdout + good.stderr
        checks = {c["name"]: c for c in json.loads(good.stdout)["checks"]}
        assert checks["articles"]["ok"] and "1 articles readable" in checks["articles"]["detail"]
