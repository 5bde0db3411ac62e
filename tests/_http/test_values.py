"""Times in and out: what the hooks accept from users and vendors, and what they send."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_monitoring._http.errors import ConfigurationError
from airflow_provider_monitoring._http.values import iso_utc, parse_time, time_or_none

UTC = timezone.utc


@pytest.mark.parametrize("text, expected", [
    ("2026-03-01T12:30:00Z", datetime(2026, 3, 1, 12, 30, tzinfo=UTC)),
    ("2026-03-01T12:30:00z", datetime(2026, 3, 1, 12, 30, tzinfo=UTC)),
    ("2026-03-01T12:30:00.250Z", datetime(2026, 3, 1, 12, 30, 0, 250_000, tzinfo=UTC)),
    ("2026-03-01T13:30:00+01:00", datetime(2026, 3, 1, 12, 30, tzinfo=UTC)),
    ("2026-03-01T12:30:00", datetime(2026, 3, 1, 12, 30, tzinfo=UTC)),  # naive: the vendors' UTC
])
def test_vendor_and_user_times_parse_to_the_same_moment(text, expected):
    moment = parse_time(text)
    assert moment == expected and moment.utcoffset() is not None


def test_a_naive_datetime_is_taken_as_utc_and_an_aware_one_kept():
    assert parse_time(datetime(2026, 3, 1, 12, 30)) == datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    plus_two = timezone(timedelta(hours=2))
    assert parse_time(datetime(2026, 3, 1, 14, 30, tzinfo=plus_two)) == datetime(2026, 3, 1, 12, 30, tzinfo=UTC)


@pytest.mark.parametrize("value", ["P1D", "soon", "2026-13-01T00:00:00Z", "10:00", "2026", "2026-03", "", 1700000000, None])
def test_anything_but_a_date_time_is_refused_with_the_value(value):
    with pytest.raises(ConfigurationError, match="start_time must be") as info:
        parse_time(value, "start_time")
    assert repr(value) in str(info.value)


def test_times_are_sent_in_utc_with_z_and_milliseconds_only_when_there_are_some():
    assert iso_utc("2026-03-01T13:30:00+01:00") == "2026-03-01T12:30:00Z"
    assert iso_utc("2026-03-01T12:30:00.250000Z") == "2026-03-01T12:30:00.250Z"


def test_a_calendar_day_is_its_start_in_utc():
    assert parse_time("2026-03-01") == datetime(2026, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize("value", ["2026-05-10T08:00:00Z", "2026-05-10T08:00:00.123+02:00", "2026-05-10 08:00:00",
                                   datetime(2026, 5, 10, 8), datetime(2026, 5, 10, 8, tzinfo=timezone.utc)])
def test_time_or_none_reads_what_parse_time_reads(value):
    assert time_or_none(value) == parse_time(value) and time_or_none(value).tzinfo is not None


@pytest.mark.parametrize("value", [None, "", "  ", "soon", "P1D", "2026-05", "08:00", 1715328000, {"at": "x"}])
def test_time_or_none_is_none_for_what_parse_time_refuses(value):
    # Readers skip such a record or read it again, where a request argument would be refused.
    assert time_or_none(value) is None
