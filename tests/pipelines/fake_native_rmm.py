"""A stand-in for another RMM's module in tests: vendor-native records -> canonical events."""

from __future__ import annotations

from typing import Any

from connectors.canonical import AlertEvent


def native_events(record: dict[str, Any]) -> list[AlertEvent]:
    base = {"alert_id": record["uid"], "source": "fake-rmm", "client": "c1", "device": "d1", "check": "cpu",
            "severity": "high"}
    events = [AlertEvent(id=f"{record['uid']}:r", kind="raised", at=record["at"], **base)]
    if record.get("cleared"):
        events.append(AlertEvent(id=f"{record['uid']}:c", kind="resolved", at=record["cleared"], **base))
    return events
