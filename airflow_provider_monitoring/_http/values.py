"""Small checks and conversions every hook uses on user input and vendor output."""

from __future__ import annotations

import functools
import re
from datetime import date, datetime, timezone
from typing import Any, Collection, Iterable
from urllib.parse import quote

from airflow_provider_monitoring._http.errors import ConfigurationError


def choice(value: Any, allowed: Collection[str], what: str) -> str:
    """``value`` if it is one of ``allowed``; otherwise a clear error listing what is allowed."""
    if value not in allowed:
        raise ConfigurationError(f"unknown {what} {value!r}; expected one of: {', '.join(sorted(allowed))}")
    return value


def non_empty_str(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{what} must be a non-empty string, got {value!r}")
    return value


def string_list(values: Any, what: str) -> list[str]:
    """A non-empty list of non-empty strings (a lone string is refused: it is almost always a mistake)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ConfigurationError(f"{what} must be a list of strings, got {values!r}")
    out = list(values)
    if not out:
        raise ConfigurationError(f"{what} must not be empty")
    for item in out:
        non_empty_str(item, f"each item of {what}")
    return out


def flag(value: Any, what: str) -> bool:
    """A real boolean: "false" or 0 from a template would silently mean something else."""
    if not isinstance(value, bool):
        raise ConfigurationError(f"{what} must be True or False, got {value!r}")
    return value


def path_id(value: Any, what: str) -> str:
    """An opaque id, URL-encoded for use as one path segment."""
    if isinstance(value, bool) or value is None or str(value).strip() == "":
        raise ConfigurationError(f"{what} is required, got {value!r}")
    return quote(str(value).strip(), safe="")


def int_id(value: Any, what: str) -> int:
    """An integer id (Datafold); digits in a string are accepted since XCom and templates give strings."""
    if isinstance(value, bool):
        raise ConfigurationError(f"{what} must be an integer id, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise ConfigurationError(f"{what} must be an integer id, got {value!r}")


def parse_time(value: Any, what: str = "time") -> datetime:
    """A timezone-aware datetime from a datetime or an ISO 8601 string (with or without
    milliseconds, ``Z`` or an offset), parsed by pendulum as Airflow does. A naive value is taken
    as UTC, the vendors' own zone. Anything else (a duration such as ``P1D``, an interval, free
    text) is refused with the value in the message."""
    import pendulum
    from pendulum.parsing.exceptions import ParserError

    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{what} must be a datetime or an ISO 8601 string, got {value!r}")
    text = value.strip()
    if text.endswith("z"):  # RFC 3339 allows a lower-case zone letter; pendulum wants "Z"
        text = text[:-1] + "Z"
    try:
        # exact: a date stays a date and a time a time, so neither passes for a moment today.
        moment = pendulum.parse(text, tz="UTC", strict=True, exact=True)
    except (ParserError, ValueError):
        moment = None
    if isinstance(moment, date) and not isinstance(moment, datetime) and _FULL_DATE.fullmatch(text):
        return pendulum.datetime(moment.year, moment.month, moment.day, tz="UTC")  # a calendar day: its start
    if not isinstance(moment, datetime):  # a Duration, an Interval, a bare Time, a partial date
        raise ConfigurationError(f"{what} must be an ISO 8601 date-time, got {value!r}")
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def time_or_none(value: Any) -> datetime | None:
    """A vendor timestamp read as ``parse_time`` reads it, or None when it is absent or unreadable:
    for records a reader skips or reads again rather than fails on. Strings are cached: pollers
    meet the same timestamps at every poll."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return _cached_time(value) if isinstance(value, str) and value.strip() else None


@functools.lru_cache(maxsize=4096)
def _cached_time(text: str) -> datetime | None:
    try:
        return parse_time(text)
    except ConfigurationError:
        return None


def iso_utc(value: Any, what: str = "time") -> str:
    """The form the vendors document for request timestamps: UTC, seconds, ``Z``."""
    moment = parse_time(value, what).astimezone(timezone.utc)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond // 1000:03d}"
    return text + "Z"


_FULL_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


def snake_case(name: str) -> str:
    return _CAMEL.sub(lambda m: "_" + m.group(1).lower(), name)


def with_snake_keys(record: Any) -> Any:
    """A copy of a record with camelCase keys also readable in snake_case, nested lists and
    objects included. Keys already present in snake_case win; no key is dropped."""
    if isinstance(record, list):
        return [with_snake_keys(item) for item in record]
    if not isinstance(record, dict):
        return record
    out = {key: with_snake_keys(value) for key, value in record.items()}
    for key, value in record.items():
        snake = snake_case(key)
        if snake != key and snake not in out:
            out[snake] = out[key]
    return out
