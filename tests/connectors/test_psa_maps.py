"""The PSA status/priority maps: tenant names onto Switchboard's vocabulary, table-driven."""

from __future__ import annotations

import pytest

from connectors.canonical import TicketStatus as S
from connectors.psa_maps import (
    Choice,
    TicketMaps,
    find_choice,
    marker_of_text,
    priority_of_name,
    status_of_name,
)


@pytest.mark.parametrize(
    ("name", "closed", "expected"),
    [
        ("New", None, S.new),
        ("New (email)", None, S.new),
        ("Assigned", None, S.assigned),
        ("In Progress", None, S.in_progress),
        ("Customer Updated", None, S.in_progress),  # the customer answered: someone must act
        ("Re-Opened", None, S.in_progress),
        ("Action Required", None, S.in_progress),
        ("Waiting Customer", None, S.waiting_client),
        ("With User", None, S.waiting_client),
        ("Waiting Vendor", None, S.waiting_client),
        ("On Hold", None, S.waiting_client),
        ("Resolved", None, S.resolved),
        ("Complete", None, S.closed),
        ("Closed", None, S.closed),
        ("Cancelled", None, S.closed),
        ("Fixed Remotely", True, S.closed),  # the vendor's closed flag wins
        ("Parts Ordered", True, S.closed),
        ("Resolved - confirm", True, S.resolved),
        ("Closed?", False, S.other),  # the vendor says open: the name cannot close it
        ("Change Order", None, S.other),  # nothing we recognise: never guessed
        ("", None, S.other),
    ],
)
def test_status_names(name: str, closed: bool | None, expected: S) -> None:
    assert status_of_name(name, closed=closed) is expected


@pytest.mark.parametrize(
    ("name", "level", "expected"),
    [
        ("Critical", None, 1),
        ("Priority 1 - Emergency Response", None, 1),
        ("Priority 2 - Quick Response", None, 2),
        ("High", None, 2),
        ("Medium", None, 3),
        ("Priority 3 - Normal Response", None, 3),
        ("Low", None, 4),
        ("Priority 4 - Schedule Maintenance", None, 4),
        ("P2", None, 2),
        ("Whenever", "Critical", 1),  # a vendor's level wins over the name
        ("Do Not Respond", None, None),
    ],
)
def test_priority_names(name: str, level: str | None, expected: int | None) -> None:
    assert priority_of_name(name, level) == expected


def test_maps_prefer_system_and_default_entries_and_report_unmapped() -> None:
    statuses = [Choice("22", "Closed - No Fix", sort=1), Choice("5", "Complete", sort=2, is_system=True),
                Choice("1", "New", is_default=True), Choice("30", "Quote Sent"), Choice("31", "Old", active=False)]
    maps = TicketMaps.build(statuses, [Choice("4", "Critical"), Choice("9", "Critical (old)", active=False)],
                            preferred_ids=["5"])
    assert maps.status_id(S.closed) == "5" and maps.status_id(S.new) == "1"
    assert maps.status_of("22") is S.closed and maps.labels["30"] == "Quote Sent"
    assert maps.unmapped == ("Quote Sent",)  # inactive entries are not worth a person's time
    assert maps.priority_id(1) == "4" and maps.priority_of("4") == 1 and maps.priority_of("9") is None
    overridden = TicketMaps.build(statuses, [], status_overrides={"22": S.closed}, priority_overrides={1: "9"})
    assert overridden.status_id(S.closed) == "22" and overridden.priority_id(1) == "9"


def test_a_closed_flag_on_the_ticket_wins_over_the_map() -> None:
    maps = TicketMaps.build([Choice("1", "New")], [])
    assert maps.status_of("1", closed=True) is S.closed
    assert maps.status_of("77", name="Waiting Customer") is S.waiting_client  # not in the map: by its name


def test_find_choice_and_markers() -> None:
    subtypes = [Choice("201", "Disk", parent="12"), Choice("204", "Printer", parent="11")]
    assert find_choice(subtypes, "disk").id == "201"
    assert find_choice(subtypes, "Disk", parent="11") is None
    assert find_choice(subtypes, "204").name == "Printer"
    assert marker_of_text("text\n\n[switchboard:sb-1:explain]") == "sb-1:explain"
    assert marker_of_text("no marker") is None and marker_of_text(None) is None
