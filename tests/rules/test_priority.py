"""priority.yaml: impact x urgency -> P1-P4."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.loader import ConfigError
from rules.priority import PriorityMatrix, load_priority


@pytest.fixture(scope="module")
def matrix() -> PriorityMatrix:
    return PriorityMatrix(load_priority())


@pytest.mark.parametrize(
    ("text", "kwargs", "expected"),
    [
        ("Internet down for the whole office", {}, 1),
        ("Server down - nobody can work", {}, 1),
        ("Printer offline", {"affected": 25}, 1),
        ("printer offline for the whole office", {}, 1),
        ("Outlook not working", {}, 3),
        ("Excel add-in question, no rush", {}, 4),
        ("Please set up a new hire starting next week", {}, 4),
        ("Disk space low on SRV-FS01", {"severity": "info"}, 4),
        ("CPU high on SRV-APP02", {"severity": "critical"}, 1),
        ("Scanner not working for several users in accounting", {}, 2),
        ("Monitor flickering", {}, 3),
    ],
)
def test_matrix_cases(matrix: PriorityMatrix, text: str, kwargs: dict, expected: int) -> None:  # type: ignore[type-arg]
    assert matrix.assess(text, **kwargs).priority == expected


def test_whole_office_printer_problem_is_p1_or_p2(matrix: PriorityMatrix) -> None:
    a = matrix.assess("Printer jammed, the whole office is waiting on it")
    assert a.impact == "high" and a.priority <= 2
    assert any("whole office" in r for r in a.reasons)


def test_vip_raises_urgency(matrix: PriorityMatrix) -> None:
    plain = matrix.assess("Laptop will not boot")
    vip = matrix.assess("Laptop will not boot", vip=True)
    assert (plain.priority, vip.priority) == (3, 2)
    normal = matrix.assess("Outlook not working")
    raised = matrix.assess("Outlook not working", vip=True)
    assert ["planned", "low", "medium", "high", "critical"].index(raised.urgency) == \
        ["planned", "low", "medium", "high", "critical"].index(normal.urgency) + 1
    assert any("VIP" in r for r in raised.reasons)


def test_info_alert_is_low(matrix: PriorityMatrix) -> None:
    a = matrix.assess("Windows update available on WS-0042", severity="info")
    assert a.urgency == "planned" and a.priority == 4


def test_incomplete_matrix_names_file(tmp_path: Path) -> None:
    (tmp_path / "priority.yaml").write_text("matrix:\n  high: {critical: 1, high: 1, medium: 2, low: 3}\n")
    with pytest.raises(ConfigError) as info:
        load_priority(tmp_path)
    assert info.value.file.endswith("priority.yaml") and info.value.key == "matrix.low"


def test_bad_level_names_key(tmp_path: Path) -> None:
    (tmp_path / "priority.yaml").write_text(
        "matrix:\n  high: {critical: 1, high: 1, medium: 2, low: 3}\n  medium: {critical: 1, high: 2, medium: 3, low: 3}\n"
        "  low: {critical: 2, high: 3, medium: 3, low: 4}\nseverity_urgency:\n  critical: extreme\n"
    )
    with pytest.raises(ConfigError) as info:
        load_priority(tmp_path)
    assert info.value.key == "severity_urgency.critical"


@pytest.mark.parametrize(
    ("text", "component", "action", "expected"),
    [
        ("Add DNS A record for portal", "DNS", "Add/Remove/Change", 4),  # requested work: planned
        ("Backup failed on FS01", "BDR", "Troubleshooting", 2),  # shared infrastructure
        ("Firewall offline", "Firewall", "Troubleshooting", 1),
        ("Word crashes when saving", "MS Office", "Troubleshooting", 3),
        ("URGENT new hire starts today and cannot log in", "User", "Onboard", 2),  # a phrase beats "request"
    ],
)
def test_component_and_action_signals(matrix: PriorityMatrix, text: str, component: str, action: str,
                                      expected: int) -> None:
    assert matrix.assess(text, component=component, action=action).priority == expected


def test_counted_people_raise_impact(matrix: PriorityMatrix) -> None:
    a = matrix.assess("Remote users can't connect to VPN, around 12 people affected")
    assert a.impact == "high" and a.priority == 1
