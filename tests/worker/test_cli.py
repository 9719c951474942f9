"""The command line: clear errors, not tracebacks; commands a user runs every day."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipelines import quarantine
from tests.helpers import settings_env

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(settings_factory, make_context):
    make_context()  # migrate the database the CLI will use
    return settings_env(settings_factory())


def cli(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "worker", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def test_bad_config_file_stops_with_file_key_and_reason(env, tmp_path: Path) -> None:
    (tmp_path / "noise.yaml").write_text("rules:\n  - id: hold\n    type: hold\n    minutes: soon\n")
    result = cli({**env, "SWITCHBOARD_CONFIG_DIR": str(tmp_path)}, "status")
    assert result.returncode != 0
    assert "config error" in result.stderr and "noise.yaml" in result.stderr
    assert "rules[0].minutes" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_connectors_check_without_credentials_says_which_setting(env) -> None:
    env = {k: v for k, v in env.items() if "AUTOTASK__SECRET" not in k}
    result = cli(env, "connectors", "check", "autotask")
    assert result.returncode != 0
    assert "SWITCHBOARD_AUTOTASK__SECRET" in result.stderr and "Traceback" not in result.stderr


def test_connectors_check_unknown_vendor(env) -> None:
    result = cli(env, "connectors", "check", "kaseya-vsa")
    assert result.returncode != 0 and "unknown vendor" in result.stderr and "datto-rmm" in result.stderr


def test_connectors_check_against_a_live_simulator(env, sim) -> None:
    from connectors.simulators.autotask import AutotaskSimulator
    from connectors.simulators.server import serve

    at = sim(AutotaskSimulator)
    at.add_company("Acme")
    with serve(at) as server:
        ok = cli({**env, "SWITCHBOARD_AUTOTASK__BASE_URL": server.url}, "connectors", "check", "autotask")
        bad = cli({**env, "SWITCHBOARD_AUTOTASK__BASE_URL": server.url, "SWITCHBOARD_AUTOTASK__SECRET": "wrong"},
                  "connectors", "check", "autotask")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "1 companies readable" in ok.stdout
    assert bad.returncode == 1 and "FAIL" in bad.stdout and "SWITCHBOARD_AUTOTASK__SECRET" in bad.stdout
    assert "wrong" not in bad.stdout


def test_connectors_list(env) -> None:
    result = cli(env, "connectors", "list")
    assert result.returncode == 0
    for vendor in ("datto-rmm", "autotask", "hudu"):
        assert vendor in result.stdout


def test_status_and_quarantine_list(env, make_context) -> None:
    ctx = make_context()
    with ctx.db.session() as s:
        quarantine.keep(s, "datto-rmm:alerts", "DattoAlert: alertSourceInfo: Field required", {"alertUid": "x"})
    status = cli(env, "status", "--json")
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["quarantine"] == 1 and {q["queue"] for q in data["queues"]} == {"push", "poll"}
    listing = cli(env, "quarantine", "list", "--json")
    (item,) = json.loads(listing.stdout)
    assert item["reason"].startswith("DattoAlert") and item["stream"] == "datto-rmm:alerts"
    missing = cli(env, "quarantine", "show", "999")
    assert missing.returncode != 0 and "no quarantined item 999" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_clients_import_rejects_a_bad_file_clearly(env, tmp_path: Path) -> None:
    bad = tmp_path / "map.yaml"
    bad.write_text("- rmm: datto-rmm\n  psa_company_id: 7001\n")
    result = cli(env, "clients", "import", str(bad))
    assert result.returncode != 0 and "row 1" in result.stderr and "rmm_client_id" in result.stderr


def test_clients_import_maps_and_shows(env, make_context, tmp_path: Path) -> None:
    good = tmp_path / "map.csv"
    good.write_text("rmm,rmm_client_id,rmm_name,psa,psa_company_id\ndatto-rmm,site-1,Acme,autotask,7001\n")
    result = cli(env, "clients", "import", str(good))
    assert result.returncode == 0, result.stderr
    from pipelines.state import ClientMap

    ctx = make_context()
    with ctx.db.session() as s:
        row = s.scalar(sa.select(ClientMap))
        assert (row.rmm_client_id, row.psa_company_id, row.source) == ("site-1", "7001", "import")


def test_unreachable_database_is_one_clear_line(env) -> None:
    result = cli({**env, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}, "status")
    assert result.returncode != 0 and "error" in result.stderr.lower()
    assert "Traceback" not in result.stderr
