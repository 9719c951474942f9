"""noise.yaml: rule instances, precedence, per-client exceptions; a bad file names file, key, reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.loader import ConfigError, load
from rules.config import NoiseConfig

BAD = [
    ("an exception naming an unknown rule",
     "exceptions:\n  - id: x\n    clients: [c1]\n    rule: flaping\n    enabled: false\n",
     "exceptions[0].rule", "unknown rule 'flaping'"),
    ("an exception setting a parameter the rule does not have",
     "exceptions:\n  - id: x\n    clients: [c1]\n    rule: hold\n    parameters: {minuts: 3}\n",
     "exceptions[0].parameters.minuts", "Extra inputs are not permitted"),
    ("an exception with a bad value",
     "exceptions:\n  - id: x\n    clients: [c1]\n    rule: storm\n    parameters: {min_devices: 1}\n",
     "exceptions[0].parameters.min_devices", "greater than or equal to 2"),
    ("an exception for no client",
     "exceptions:\n  - id: x\n    clients: []\n    rule: hold\n", "exceptions[0].clients", "at least 1"),
    ("two rules with one id",
     "rules:\n  - {id: hold, type: hold}\n  - {id: hold, type: storm}\n", "rules[1].id", "duplicate rule id"),
    ("an unknown rule type",
     "rules:\n  - {id: x, type: hld}\n", "rules[0].type", "does not match any of the expected tags"),
    ("precedence naming an unknown rule",
     "precedence: [dedup, topolgy, new-ticket]\n", "precedence[1]", "unknown rule 'topolgy'"),
    ("precedence naming a rule that does not place alerts",
     "precedence: [hold, new-ticket]\n", "precedence[0]", "does not place alerts"),
    ("new-ticket before the end",
     "precedence: [new-ticket, dedup]\n", "precedence[0]", "must be the last step"),
    ("a client precedence naming an unknown rule",
     "clients:\n  - client: c1\n    precedence: [storm, nope]\n", "clients[0].precedence[1]", "unknown rule 'nope'"),
    ("an unknown time zone",
     "clients:\n  - client: c1\n    timezone: Mars/Olympus\n", "clients[0].timezone", "unknown time zone"),
    ("a maintenance window with no schedule",
     "rules:\n  - {id: m, type: maintenance}\n", "rules[0]", "exactly one of weekly or once"),
    ("a weekly window on no day",
     "rules:\n  - id: m\n    type: maintenance\n    weekly: {days: [], start: '01:00', end: '02:00'}\n",
     "rules[0].weekly.days", "at least 1"),
    ("a one-off window that ends before it starts",
     "rules:\n  - id: m\n    type: maintenance\n    once: {start: '2026-11-02T10:00', end: '2026-11-02T09:00'}\n",
     "rules[0].once", "end must be after start"),
    ("the old resolve section",
     "resolve:\n  clear_minutes: 15\n", "resolve", "now the auto_resolve rule"),
    ("a matcher with an unknown severity",
     "rules:\n  - {id: h, type: hold, match: {severities: [urgent]}}\n", "rules[0].match.severities[0]", "Input should be"),
]


@pytest.mark.parametrize(("text", "key", "reason"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_bad_noise_file_names_file_key_and_reason(tmp_path: Path, text: str, key: str, reason: str) -> None:
    (tmp_path / "noise.yaml").write_text(text)
    with pytest.raises(ConfigError) as info:
        load("noise.yaml", NoiseConfig, tmp_path)
    assert info.value.file == str(tmp_path / "noise.yaml")
    assert info.value.key == key
    assert reason in info.value.reason


def test_the_default_file_is_the_documented_rule_set() -> None:
    cfg = load("noise.yaml", NoiseConfig)
    assert [r.id for r in cfg.rules] == ["info-never-tickets", "source-mute", "hold", "flapping", "dedup", "topology",
                                         "storm", "reopen", "auto-resolve", "two-way"]
    assert cfg.precedence_for("any") == ["dedup", "topology", "storm", "reopen", "new-ticket"]
    by_id = {r.id: r for r in cfg.rules}
    assert by_id["hold"].minutes == 5 and by_id["flapping"].raises == 3 and by_id["flapping"].window_minutes == 60
    assert by_id["topology"].window_minutes == 10 and by_id["storm"].min_devices == 5
    assert by_id["storm"].window_minutes == 15 and by_id["reopen"].within_hours == 24
    assert by_id["auto-resolve"].clear_minutes == 15 and by_id["auto-resolve"].only_if_untouched
    def rules(c: NoiseConfig) -> list[dict]:
        return [r.model_dump(exclude={"description"}) for r in c.rules]

    assert rules(cfg) == rules(NoiseConfig())  # the file says what the code defaults to


def test_exceptions_apply_per_client_only(tmp_path: Path) -> None:
    (tmp_path / "noise.yaml").write_text(
        "exceptions:\n"
        "  - {id: slow, clients: [c1], rule: hold, parameters: {minutes: 15}}\n"
        "  - {id: own-noc, clients: [c1, c2], rule: two-way, enabled: false}\n"
        "clients:\n"
        "  - {client: c2, timezone: Europe/London, precedence: [storm, dedup, new-ticket]}\n"
    )
    cfg = load("noise.yaml", NoiseConfig, tmp_path)
    hold = {c: next(r for r in cfg.rules_for(c) if r.id == "hold").minutes for c in ("c1", "c2", "c3")}
    assert hold == {"c1": 15, "c2": 5, "c3": 5}
    assert [c for c in ("c1", "c2", "c3") if any(r.id == "two-way" for r in cfg.rules_for(c))] == ["c3"]
    assert cfg.precedence_for("c2") == ["storm", "dedup", "new-ticket"]
    assert cfg.timezone_for("c2") == "Europe/London" and cfg.timezone_for("c1") == "UTC"
