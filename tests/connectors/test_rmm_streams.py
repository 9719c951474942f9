"""One simulated day, fired by each RMM in turn: every connector reports the alerts its API can
show opening and clearing, under the same canonical check names (what the noise rules key on).

What "can show" means differs, and is the point of the NinjaOne design: Datto RMM and Tactical
RMM only list open alerts, so an alert that opens and clears between two polls is invisible to a
poll (their webhooks carry it); NinjaOne's activity log records every trigger and reset, so its
poll sees those blips too.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import respx

from connectors.datto_rmm import DattoRmm, DattoRmmSettings
from connectors.ninjaone import NinjaOne, NinjaOneSettings
from connectors.simulators.datto_rmm import DattoRmmSimulator
from connectors.simulators.ninjaone import NinjaOneSimulator
from connectors.simulators.streams import generate
from connectors.simulators.tactical_rmm import TacticalRmmSimulator
from connectors.simulators.timeline import alert_spans
from connectors.tactical_rmm import TacticalRmm, TacticalRmmSettings

START = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
HOURS = 8


class Clock:
    def __init__(self) -> None:
        self.at = START

    def __call__(self) -> datetime:
        return self.at


def _datto(sim):
    return DattoRmm.from_settings(DattoRmmSettings(base_url=sim.base_url, api_key="sim-datto-key",
                                                   api_secret="sim-datto-secret", requests_per_minute=10**6))


def _ninja(sim):
    return NinjaOne.from_settings(NinjaOneSettings(base_url=sim.base_url, client_id="sim-ninja-client",
                                                   client_secret="sim-ninja-secret", requests_per_minute=10**6))


def _tactical(sim):
    return TacticalRmm.from_settings(TacticalRmmSettings(base_url=sim.base_url, api_key="sim-tactical-key",
                                                         requests_per_minute=10**6))


VENDORS = {"datto-rmm": (DattoRmmSimulator, _datto), "ninjaone": (NinjaOneSimulator, _ninja),
           "tactical-rmm": (TacticalRmmSimulator, _tactical)}


@pytest.mark.parametrize("vendor", list(VENDORS))
def test_a_day_of_alerts_reads_the_same_through_every_rmm(vendor: str, sim) -> None:
    stream = generate(11, start=START, hours=HOURS, clients=3)
    clock = Clock()
    sim_class, make = VENDORS[vendor]
    rmm = sim(sim_class, now=clock)
    rmm.rate_limit = None
    rmm.load_stream(stream)
    polls = [START + timedelta(minutes=5 * k) for k in range(HOURS * 12 + 2)]
    spans = [(e, c) for e, c in alert_spans(stream.events) if not (vendor == "ninjaone" and e.muted)]
    if vendor != "ninjaone":  # only what is open at some poll
        spans = [(e, c) for e, c in spans if any(e.at <= t and (c is None or t < c) for t in polls)]
    with respx.mock(assert_all_called=False) as router:
        rmm.mount(router)
        conn = make(rmm)
        cursor, seen = None, []
        for clock.at in polls:
            pulled = conn.pull_alert_events(cursor, clock.at)
            assert pulled.rejected == []
            cursor, seen = pulled.cursor, seen + pulled.items
    raised = Counter(e.kind for e in seen)
    assert raised["raised"] == len(spans)
    assert raised["resolved"] == sum(1 for _, c in spans if c is not None and c <= polls[-1])
    expected = Counter(_comparable(e.check) for e, _ in spans)
    got = Counter(_comparable(e.check) for e in seen if e.kind == "raised")
    shared = {"device_offline", "cpu", "memory", "disk_usage:C:", "service:Spooler", "ping"}
    assert {k: v for k, v in got.items() if k in shared} == {k: v for k, v in expected.items() if k in shared}


def _comparable(check: str) -> str:
    return "ping" if check.startswith("ping") else check
