"""Replay: whole generated streams against their ground truth, file formats, vendor-native input."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.simulators.datto_rmm import DattoRmmSimulator
from connectors.simulators.streams import StreamSpec, generate, iter_events
from pipelines import replay as rp
from rules.config import NoiseConfig, TicketsConfig, default_rules
from rules.engine import Engine


def outcomes_of(events: Any, engine: Engine | None = None, **kw: Any) -> tuple[dict[str, tuple[Any, ...]], rp.Funnel]:
    got: dict[str, tuple[Any, ...]] = {}

    def keep(alert_id: str, ticket: str | None, rule: str, reason: str) -> None:
        assert alert_id not in got, f"{alert_id} reported twice"
        got[alert_id] = (ticket, rule, reason)

    funnel = rp.replay(events, engine or Engine(NoiseConfig(), TicketsConfig()), outcome=keep, **kw)
    return got, funnel


def check_ground_truth(stream: Any, got: dict[str, tuple[Any, ...]]) -> None:
    owner: dict[str, str] = {}
    for inc in stream.incidents:
        tickets = {got[a][0] for a in inc.alert_ids} - {None}
        assert len(tickets) == 1, f"{inc.kind} incident {inc.id}: tickets {tickets}, outcomes " \
                                  f"{[got[a] for a in inc.alert_ids][:4]}"
        (ticket,) = tickets
        assert owner.setdefault(ticket, inc.id) == inc.id, f"{ticket} shared by {owner[ticket]} and {inc.id}"
    for alert_id, why in stream.noise.items():
        assert got[alert_id][0] is None, f"{why} alert {alert_id} got ticket {got[alert_id]}"


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_every_incident_gets_exactly_one_ticket_and_noise_none(seed: int) -> None:
    stream = generate(seed, clients=12, hours=72)
    got, funnel = outcomes_of(stream.events)
    assert set(got) == stream.alert_ids() and funnel.alerts == len(got)
    check_ground_truth(stream, got)
    kinds = {i.kind for i in stream.incidents}
    assert {"lasting", "flapping", "site_outage", "storm", "recurring"} <= kinds or seed != 1
    assert funnel.tickets_opened == len({t for t, *_ in got.values() if t})


def test_maintenance_windows_suppress_planned_reboots_and_nothing_else() -> None:
    stream = generate(8, clients=10, hours=72, spec=StreamSpec(maintenance=1.0))
    assert stream.maintenance_rules and "maintenance" in stream.noise.values()
    noise = NoiseConfig.model_validate({"rules": [r.model_dump() for r in default_rules()] + stream.maintenance_rules})
    got, funnel = outcomes_of(stream.events, Engine(noise, TicketsConfig()))
    check_ground_truth(stream, got)
    reboots = [a for a, why in stream.noise.items() if why == "maintenance"]
    assert all(got[a][1].startswith("nightly-") for a in reboots)
    without, _ = outcomes_of(stream.events)  # the same stream without the windows: reboots raise tickets
    assert any(without[a][0] for a in reboots)


def test_funnel_against_the_one_ticket_per_alert_baseline() -> None:
    stream = generate(4, clients=10, hours=48)
    got, funnel = outcomes_of(stream.events)
    data = funnel.to_json()
    assert data["baseline_tickets"] == len(stream.alert_ids()) == data["alerts"]
    assert data["tickets"]["opened"] == len(stream.incidents)
    assert data["alerts_without_ticket"] == sum(data["suppressed_by_rule"].values())
    assert data["alerts_with_ticket"] + data["alerts_without_ticket"] == data["alerts"]
    assert set(data["suppressed_by_rule"]) >= {"hold", "info-never-tickets", "source-mute"}
    assert data["reduction"] > 0.8


def test_state_stays_bounded_by_open_alerts_on_a_long_stream() -> None:
    times: list[datetime] = []
    _, funnel = outcomes_of(e for e in iter_events(5, 30_000, clients=40) if not times.append(e.at))
    assert funnel.events == 30_000 and times == sorted(times)  # day after day, in time order
    assert funnel.peak_open_alerts < funnel.alerts / 10, (funnel.peak_open_alerts, funnel.alerts)


# -- files --------------------------------------------------------------------------------------------


def test_replay_file_writes_one_outcome_line_per_alert(tmp_path: Path) -> None:
    stream = generate(2, clients=4, hours=24)
    events = tmp_path / "events.jsonl"
    rp.write_events(stream.events, events)
    out = tmp_path / "outcomes.jsonl"
    funnel = rp.replay_file(events, outcomes=out)
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) == funnel.alerts == len(stream.alert_ids())
    assert set(lines[0]) == {"alert_id", "ticket", "rule", "reason"}
    got = {x["alert_id"]: (x["ticket"], x["rule"], x["reason"]) for x in lines}
    check_ground_truth(stream, got)
    same, _ = outcomes_of(stream.events)
    assert got == same


def test_bad_lines_are_listed_with_their_reason_and_the_rest_replayed(tmp_path: Path) -> None:
    t0 = datetime(2026, 11, 2, 9, tzinfo=UTC)

    def line(aid: str, minute: float, kind: str = "raised", **kw: Any) -> str:
        d = {"id": f"{aid}:{kind}", "alert_id": aid, "source": "x", "kind": kind,
             "at": (t0 + timedelta(minutes=minute)).isoformat(), "client": "c1", "site": "s1", "device": "d1",
             "device_type": "server", "check": "cpu", "severity": "high", "message": "", "muted": False, **kw}
        return json.dumps(d)

    path = tmp_path / "events.jsonl"
    path.write_text("\n".join([
        line("a1", 0),
        "{not json",
        line("a2", 1, severity="urgent"),
        line("a3", 2, ticket_number="T100"),  # an unknown key: ignored, the event is used
        line("a4", 0.5),  # out of order
        "",
        line("a1", 30, "resolved"),
    ]) + "\n")
    funnel = rp.replay_file(path)
    assert funnel.events == 3 and funnel.rejected == 3
    reasons = {r.line: r.reason for r in funnel.rejected_lines}
    assert reasons[2] == "not valid JSON"
    assert reasons[3].startswith("severity: Input should be")
    assert "sorted by time" in reasons[5]
    assert funnel.ignored_keys == {"ticket_number"}


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(rp.ReplayError, match="no such file"):
        rp.replay_file(tmp_path / "nope.jsonl")


# -- vendor-native input ---------------------------------------------------------------------------------


def _datto_records(tmp_path: Path) -> tuple[Path, Path]:
    """A firewall and three devices behind it going offline, and one blip, as Datto returns them."""
    t0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
    clock = [t0]
    sim = DattoRmmSimulator(now=lambda: clock[0])
    site = sim.add_site("Acme Dental")
    fw = sim.add_device(site, "ACME-FW01", category="Network Device", device_class="rmmnetworkdevice")
    others = [sim.add_device(site, f"ACME-WS0{i}") for i in range(3)]
    offline = {"@class": "online_offline_status_ctx", "status": "OFFLINE"}
    sim.schedule_alert(fw, raise_at=t0, resolve_at=t0 + timedelta(minutes=40), context=offline, priority="Critical", uid="fw")
    for i, dev in enumerate(others):
        sim.schedule_alert(dev, raise_at=t0 + timedelta(minutes=1 + i), resolve_at=t0 + timedelta(minutes=41),
                           context=offline, uid=f"ws{i}")
    sim.schedule_alert(others[0], raise_at=t0 + timedelta(minutes=90), resolve_at=t0 + timedelta(minutes=92),
                       context={"@class": "perf_resource_usage_ctx", "type": "CPU"}, uid="blip")
    clock[0] = t0 + timedelta(hours=3)
    sim.open_count()  # the clock passed every raise and clear
    records = sorted((sim._public(a) for a in sim.alerts.values()), key=lambda a: a["timestamp"])
    alerts = tmp_path / "datto-alerts.jsonl"
    alerts.write_text("".join(json.dumps(r) + "\n" for r in records))
    devices = tmp_path / "datto-devices.json"
    devices.write_text(json.dumps({"pageDetails": {}, "devices": list(sim.devices.values())}))
    return alerts, devices


def test_datto_native_records_replay_with_device_types(tmp_path: Path) -> None:
    alerts, devices = _datto_records(tmp_path)
    out = tmp_path / "out.jsonl"
    funnel = rp.replay_file(alerts, source="datto-rmm", devices=devices, outcomes=out)
    got = {x["alert_id"]: x for x in map(json.loads, out.read_text().splitlines())}
    assert funnel.rejected == 0 and funnel.events == 10  # 5 alerts: a raise and a clear each
    tickets = {got[a]["ticket"] for a in ("fw", "ws0", "ws1", "ws2")}
    assert len(tickets) == 1 and None not in tickets
    assert got["ws1"]["rule"] == "topology" and got["blip"]["ticket"] is None


def test_without_device_types_topology_cannot_apply(tmp_path: Path) -> None:
    alerts, _ = _datto_records(tmp_path)
    got, funnel = {}, rp.Funnel()
    with alerts.open() as lines:
        for e in rp.read_native(lines, rp.native_module("datto-rmm"), funnel):
            got.setdefault(e.alert_id, e.device_type.value)
    assert set(got.values()) == {"other"}


def test_native_sources_are_looked_up_by_name(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(rp.ReplayError, match="unknown vendor 'kaseya'.*datto-rmm"):
        rp.native_module("kaseya")
    with pytest.raises(rp.ReplayError, match="not an RMM"):
        rp.native_module("autotask")
    # the other RMMs are found through the connector registry, by name
    assert rp.native_module("ninjaone").__name__ == "connectors.ninjaone"
    assert rp.native_module("tactical-rmm").__name__ == "connectors.tactical_rmm"
    # another RMM plugs in by name: a module with native_events(record)
    monkeypatch.setitem(rp.NATIVE_SOURCES, "fake-rmm", "tests.pipelines.fake_native_rmm")
    path = tmp_path / "fake.jsonl"
    path.write_text('{"uid": "x1", "at": "2026-11-02T09:00:00Z", "cleared": "2026-11-02T10:00:00Z"}\n')
    funnel = rp.replay_file(path, source="fake-rmm")
    assert funnel.events == 2 and funnel.tickets_opened == 1


def test_records_out_of_order_are_rejected_and_clears_come_at_their_time(tmp_path: Path) -> None:
    alerts, _ = _datto_records(tmp_path)
    lines = alerts.read_text().splitlines()
    lines.append(lines.pop(1))  # ws0's record (raised second) at the end: out of order
    funnel = rp.Funnel()
    events = list(rp.read_native(lines, rp.native_module("datto-rmm"), funnel))
    assert funnel.rejected == 1 and "order the alerts were raised" in funnel.rejected_lines[0].reason
    assert [e.at for e in events] == sorted(e.at for e in events)
    by_kind = defaultdict(list)
    for e in events:
        by_kind[e.kind].append(e.alert_id)
    assert sorted(by_kind["resolved"]) == ["blip", "fw", "ws1", "ws2"]
