"""SLA clocks: business-hours arithmetic, holidays, DST both ways, three continents, pauses (table-driven)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from config.loader import load_all
from rules.sla import CALENDAR, BusinessCalendar, Pause, Policy, deadlines, reach, used
from rules.sla_config import CalendarConfig

POLICY = Policy.from_configs(load_all(None))


def cal(tz: str = "America/New_York", country: str | None = "US", subdivision: str | None = None,
        **kw: object) -> BusinessCalendar:
    return BusinessCalendar(CalendarConfig(timezone=tz, country=country, subdivision=subdivision, **kw))


def local(text: str, tz: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz))


# priority, created (local wall time), zone, country, subdivision -> internal, client, escalation (ISO with offset)
DEADLINES = [
    pytest.param(1, "2026-11-06T16:55", "America/New_York", "US", None,
                 "2026-11-06T17:25:00-05:00", "2026-11-09T08:55:00-05:00", "2026-11-06T18:55:00-05:00",
                 id="P1 at 16:55 on a Friday: 5 min Friday, 55 min Monday"),
    pytest.param(2, "2026-11-14T10:00", "America/New_York", "US", None,
                 "2026-11-14T12:00:00-05:00", "2026-11-16T12:00:00-05:00", "2026-11-14T18:00:00-05:00",
                 id="created on a Saturday: business clock starts Monday 08:00"),
    pytest.param(3, "2026-11-07T10:00", "America/New_York", "US", None,
                 "2026-11-07T22:00:00-05:00", "2026-11-12T14:00:00-05:00", "2026-11-09T10:00:00-05:00",
                 id="weekend then Veterans Day (Wed) skipped: Mon 9h + Tue 9h + Thu 6h"),
    pytest.param(2, "2026-12-24T15:00", "America/New_York", "US", None,
                 "2026-12-24T17:00:00-05:00", "2026-12-28T10:00:00-05:00", "2026-12-24T23:00:00-05:00",
                 id="Christmas Day and the weekend skipped"),
    pytest.param(1, "2026-11-26T10:00", "America/New_York", "US", None,
                 "2026-11-26T10:30:00-05:00", "2026-11-27T09:00:00-05:00", "2026-11-26T12:00:00-05:00",
                 id="created on Thanksgiving: client clock starts the next business morning"),
    pytest.param(1, "2026-03-08T01:30", "America/New_York", "US", None,
                 "2026-03-08T03:00:00-04:00", "2026-03-09T09:00:00-04:00", "2026-03-08T04:30:00-04:00",
                 id="DST starts: calendar hours are real hours (01:30 EST + 2 h = 04:30 EDT)"),
    pytest.param(2, "2026-03-06T15:00", "America/New_York", "US", None,
                 "2026-03-06T17:00:00-05:00", "2026-03-09T10:00:00-04:00", "2026-03-06T23:00:00-05:00",
                 id="DST starts over the weekend: Monday's hours are 08:00-17:00 EDT"),
    pytest.param(1, "2026-11-01T00:30", "America/New_York", "US", None,
                 "2026-11-01T01:00:00-04:00", "2026-11-02T09:00:00-05:00", "2026-11-01T01:30:00-05:00",
                 id="DST ends: 00:30 EDT + 2 h = 01:30 EST (the hour repeats)"),
    pytest.param(2, "2026-10-30T16:30", "America/New_York", "US", None,
                 "2026-10-30T18:30:00-04:00", "2026-11-02T11:30:00-05:00", "2026-10-31T00:30:00-04:00",
                 id="DST ends over the weekend: Friday EDT, Monday EST"),
    pytest.param(2, "2026-05-22T15:00", "Europe/London", "GB", "ENG",
                 "2026-05-22T17:00:00+01:00", "2026-05-26T10:00:00+01:00", "2026-05-22T23:00:00+01:00",
                 id="London: the Spring Bank Holiday Monday is skipped"),
    pytest.param(1, "2026-01-23T16:30", "Australia/Sydney", "AU", "NSW",
                 "2026-01-23T17:00:00+11:00", "2026-01-27T08:30:00+11:00", "2026-01-23T18:30:00+11:00",
                 id="Sydney: Australia Day Monday is skipped"),
    pytest.param(1, "2026-05-01T16:30", "Asia/Tokyo", "JP", None,
                 "2026-05-01T17:00:00+09:00", "2026-05-07T08:30:00+09:00", "2026-05-01T18:30:00+09:00",
                 id="Tokyo: Golden Week (Mon-Wed holidays) is skipped"),
    pytest.param(1, "2025-12-31T16:30", "Europe/London", "GB", "SCT",
                 "2025-12-31T17:00:00+00:00", "2026-01-05T08:30:00+00:00", "2025-12-31T18:30:00+00:00",
                 id="Scotland: 1 and 2 January are both holidays"),
    pytest.param(1, "2025-12-31T16:30", "Europe/London", "GB", "ENG",
                 "2025-12-31T17:00:00+00:00", "2026-01-02T08:30:00+00:00", "2025-12-31T18:30:00+00:00",
                 id="England: only 1 January is"),
]


@pytest.mark.parametrize("priority, created, tz, country, subdivision, internal, client, escalation", DEADLINES)
def test_deadlines(priority, created, tz, country, subdivision, internal, client, escalation) -> None:
    calendar = cal(tz, country, subdivision)
    due = deadlines(local(created, tz), priority, POLICY, calendar=calendar)
    shown = {k: v.astimezone(calendar.zone).isoformat() for k, v in due.items()}
    assert shown == {"internal_response": internal, "client_response": client, "escalation": escalation}


def test_closure_dates_are_skipped_like_holidays() -> None:
    calendar = cal(closures=[date(2026, 12, 24)])
    due = calendar.add(local("2026-12-23T16:00", "America/New_York"), timedelta(hours=4))
    assert due.astimezone(calendar.zone).isoformat() == "2026-12-28T11:00:00-05:00"  # 1 h Wed, 3 h Mon
    assert calendar.closed_reason(date(2026, 12, 24)) == "closure date"
    assert calendar.closed_reason(date(2026, 12, 25)) == "Christmas Day"
    assert calendar.closed_reason(date(2026, 12, 26)) == "not a working day"


def test_no_country_means_no_holidays_and_custom_hours_and_days() -> None:
    calendar = cal("Asia/Dubai", None, days=["mon", "tue", "wed", "thu", "fri", "sat"], start="09:00", end="13:00")
    start = local("2026-12-25T12:00", "Asia/Dubai")  # a Friday; no holidays configured
    assert calendar.add(start, timedelta(hours=2)).astimezone(calendar.zone).isoformat() == "2026-12-26T10:00:00+04:00"


def test_between_is_the_inverse_of_add() -> None:
    calendar = cal()
    start = local("2026-10-29T11:17", "America/New_York")
    for hours in (0.5, 3, 9, 20, 47.25):
        end = calendar.add(start, timedelta(hours=hours))
        assert calendar.between(start, end) == timedelta(hours=hours)


def test_a_business_clock_started_out_of_hours_counts_nothing_until_opening() -> None:
    calendar = cal()
    evening = local("2026-11-09T19:00", "America/New_York")
    assert calendar.between(evening, local("2026-11-10T08:00", "America/New_York")) == timedelta(0)
    assert calendar.between(evening, local("2026-11-10T08:45", "America/New_York")) == timedelta(minutes=45)


T0 = datetime(2026, 11, 9, 14, 0, tzinfo=UTC)


@pytest.mark.parametrize("pauses, expected_due", [
    pytest.param([], T0 + timedelta(hours=2), id="no pause"),
    pytest.param([Pause(T0 + timedelta(minutes=30), T0 + timedelta(minutes=90), "waiting")],
                 T0 + timedelta(hours=3), id="an hour's pause moves the due time an hour"),
    pytest.param([Pause(T0 + timedelta(minutes=30), T0 + timedelta(minutes=90), "waiting"),
                  Pause(T0 + timedelta(hours=2), T0 + timedelta(hours=2, minutes=15), "waiting")],
                 T0 + timedelta(hours=3, minutes=15), id="two pauses"),
    pytest.param([Pause(T0 + timedelta(minutes=30), None, "waiting")], None, id="paused now: no due time"),
    pytest.param([Pause(T0 - timedelta(hours=5), T0 + timedelta(minutes=10), "waiting")],
                 T0 + timedelta(hours=2, minutes=10), id="created while paused"),
    pytest.param([Pause(T0 + timedelta(hours=3), None, "waiting")], T0 + timedelta(hours=2),
                 id="a pause after the due time changes nothing"),
])
def test_pauses_on_a_calendar_clock(pauses, expected_due) -> None:
    assert reach(T0, timedelta(hours=2), CALENDAR, pauses) == expected_due


def test_pauses_on_a_business_clock_and_time_used() -> None:
    calendar = cal()
    start = local("2026-11-09T15:00", "America/New_York")  # Monday
    pause = Pause(local("2026-11-09T16:00", "America/New_York"), local("2026-11-10T10:00", "America/New_York"), "w")
    due = reach(start, timedelta(hours=4), calendar, [pause])
    # 1 h Monday before the pause, then from Tuesday 10:00: 3 h -> 13:00
    assert due == local("2026-11-10T13:00", "America/New_York")
    assert used(start, local("2026-11-10T12:00", "America/New_York"), calendar, [pause]) == timedelta(hours=3)
