"""``switchboard replay`` / ``backtest`` / ``sample-alerts`` as a user runs them: real processes,
JSON summaries, outcome files, and clear one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    return subprocess.run([sys.executable, "-m", "worker", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**base, **(env or {})})


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("replay") / "week.jsonl"
    made = cli("sample-alerts", str(path), "--days", "2", "--clients", "6", "--seed", "3")
    assert made.returncode == 0, made.stderr
    assert "incidents" in made.stdout
    return path


def test_replay_prints_the_funnel_and_writes_outcomes(events: Path, tmp_path: Path) -> None:
    out = tmp_path / "outcomes.jsonl"
    result = cli("replay", str(events), "--outcomes", str(out), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["events"] == len(events.read_text().splitlines())
    assert summary["tickets"]["opened"] < summary["baseline_tickets"] == summary["alerts"]
    assert summary["suppressed_by_rule"]["hold"] > 0 and summary["rejected"] == 0
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) == summary["alerts"] and all(set(x) == {"alert_id", "ticket", "rule", "reason"} for x in lines)
    table = cli("replay", str(events))
    assert table.returncode == 0 and "suppressed by hold" in table.stdout and "noise reduction" in table.stdout


def test_backtest_compares_two_configurations_side_by_side(events: Path, tmp_path: Path) -> None:
    strict, lax = tmp_path / "strict", tmp_path / "lax"
    strict.mkdir()
    lax.mkdir()
    (strict / "noise.yaml").write_text("rules:\n  - {id: hold, type: hold, minutes: 30}\n  - {id: dedup, type: dedup}\n")
    (lax / "noise.yaml").write_text("rules:\n  - {id: dedup, type: dedup}\n")
    result = cli("backtest", str(events), "--config", str(strict), "--config", str(lax), "--json")
    assert result.returncode == 0, result.stderr
    a, b = json.loads(result.stdout)["configs"]
    assert a["config"] == str(strict) and b["config"] == str(lax)
    assert a["tickets"]["opened"] < b["tickets"]["opened"]  # a longer hold: fewer tickets
    table = cli("backtest", str(events), "--config", str(lax))  # one config: the defaults against it
    assert table.returncode == 0 and "defaults" in table.stdout and str(lax.name) in table.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["replay", "missing.jsonl"], "missing.jsonl: no such file"),
    (["replay", "{events}", "--source", "kaseya"], "unknown vendor 'kaseya'"),
    (["replay", "{events}", "--devices", "d.json"], "--devices goes with --source"),
    (["replay", "{events}", "--until", "tomorrow"], "not an ISO 8601 time"),
    (["backtest", "{events}", "--config", "{bad}"], "exceptions[0].rule: unknown rule 'flaping'"),
])
def test_mistakes_are_one_clear_line(events: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     args: list[str], message: str) -> None:
    """In-process through ``main()``, the CLI's one error boundary (a real process is tested above)."""
    from worker.cli import main

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "noise.yaml").write_text("exceptions:\n  - {id: x, clients: [c1], rule: flaping, enabled: false}\n")
    code = main([a.format(events=events, bad=bad) for a in args])
    out = capsys.readouterr()
    assert code != 0
    assert message in " ".join(out.err.split()) and "Traceback" not in out.err + out.out


def test_a_bad_config_in_a_real_process_is_one_line(events: Path, tmp_path: Path) -> None:
    (tmp_path / "noise.yaml").write_text("precedence: [dedup, topolgy, new-ticket]\n")
    result = cli("replay", str(events), "--config", str(tmp_path))
    assert result.returncode == 1
    assert "config error" in result.stderr and "precedence[1]" in result.stderr and "Traceback" not in result.stderr
