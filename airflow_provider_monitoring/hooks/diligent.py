"""Hook for the Diligent (godiligent.ai) monitoring API: merchant-website monitorings, their
executions ("monitoring runs") and the alerts those raise.

Every vendor quirk handled here is described in the API notes (docs/vendors/diligent.md); the section
numbers in the comments below (§1.4 and so on) refer to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, AsyncIterator, Callable, Iterator
from urllib.parse import urlsplit

from airflow_provider_monitoring._http import values
from airflow_provider_monitoring._http.client import unexpected
from airflow_provider_monitoring._http.errors import ApiError, ConfigurationError, NotFoundError
from airflow_provider_monitoring.hooks.base import ListingLookup, MonitoringHook
from airflow_provider_monitoring._http.pagination import CursorPages, FirstSighting, items_of
from airflow_provider_monitoring._http.retry import Call
from airflow_provider_monitoring._waiting import ALERT, FAILED, RUNNING, SUCCESS, RunState, run_state
from airflow_provider_monitoring._vendors import (
    DILIGENT,
    DILIGENT_BULK_LIMIT as BULK_LIMIT,
    DILIGENT_CHECKS as CHECKS,
    DILIGENT_FREQUENCY_DAYS as FREQUENCY_DAYS,
    DILIGENT_SORT_BY as SORT_BY,
    DILIGENT_SORT_DIRECTIONS as SORT_DIRECTIONS,
)

__all__ = ["DiligentHook", "MonitoringNotFoundError"]


PAGE_SIZE = 100  # the documented maximum of page_size (§1.4)
# The order of a walk that must see every monitoring once. The default order (last_execution) moves
# while executions land, so a cursor walk can skip a monitoring; a website does not change. (Sorting
# by id is not in every rendering of the docs, §1.5.)
STABLE_SORT = "website"
MAX_WINDOW = timedelta(days=60)  # /monitoring-executions refuses longer from/to ranges (§8)
DEFAULT_LOOKBACK = timedelta(days=30)  # the API's own default when only `to` is known (§8)

# The single-monitoring fields of §3, which are also the fields of every bulk-create item (§4).
MONITORING_FIELDS = ("website", "checks", "frequency", "run_now", "expires_at", "external_id", "skip_duplicate")

# Where the acknowledge response carries its count: the camelCase rendering says updatedCount,
# and updated_count is its snake spelling (§10). OAS 1.6.0's unacknowledged_count is another number:
# what is left unacknowledged afterwards; it is returned as such, never taken for the count done.
ACK_COUNT_KEYS = ("updatedCount", "updated_count")

_SKIP = object()


class MonitoringNotFoundError(NotFoundError):
    """No monitoring with the requested id in the listing (the API has no get-by-id endpoint)."""


@dataclass(frozen=True)
class _Listing:
    """One logical listing: the path, one query per request window, and what to do with each item
    (return it reshaped, or ``_SKIP``). The sync and the async walkers both consume it, so window
    splitting, filtering and dedupe are written once."""

    path: str
    queries: tuple[dict[str, Any], ...]
    pick: Callable[[Any], Any]


# ---- input checks (all raise ConfigurationError before any request) ---------------------------


def _website(value: Any, what: str = "website") -> str:
    text = values.non_empty_str(value, what).strip()
    try:
        parts = urlsplit(text)
        usable = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        usable = False
    if not usable:
        raise ConfigurationError(
            f"{what} must be an http(s) URL with a host, such as https://shop.example.com; got {value!r}"
        )
    return text


def _checks(value: Any, what: str = "checks") -> list[str]:
    checks = values.string_list(value, what)
    seen: set[str] = set()
    for check in checks:
        values.choice(check, CHECKS, f"{what} value")
        if check in seen:
            raise ConfigurationError(f"{what} lists {check!r} more than once; the API rejects duplicate checks")
        seen.add(check)
    return checks


def _frequency(value: Any, what: str = "frequency") -> str:
    if not isinstance(value, str):
        raise ConfigurationError(f"{what} must be a string, one of {', '.join(FREQUENCY_DAYS)}; got {value!r}")
    # Documented as case-insensitive and stored lowercased (§1.5): send it lowercased.
    return values.choice(value.strip().lower(), FREQUENCY_DAYS, what)


def _optional_flag(value: Any, what: str) -> bool | None:
    return None if value is None else values.flag(value, what)


def _expires_at(value: Any, frequency: str, what: str = "expires_at", now: datetime | None = None) -> str:
    moment = values.parse_time(value, what)
    now = now or datetime.now(timezone.utc)
    if moment <= now:
        raise ConfigurationError(f"{what} must be in the future, got {values.iso_utc(moment)}")
    period = timedelta(days=FREQUENCY_DAYS[frequency])
    if moment < now + period:
        raise ConfigurationError(
            f"{what} must be at least {period.days} days ahead (one {frequency} period), got {values.iso_utc(moment)}"
        )
    return values.iso_utc(moment, what)


def _alert_in_filters(alert: dict, acknowledged: bool | None, after: datetime | None, before: datetime | None) -> bool:
    if acknowledged is not None:
        if "acknowledged_at" in alert:
            is_acknowledged = alert["acknowledged_at"] is not None
        elif isinstance(alert.get("acknowledged"), bool):  # the oldest sample's shape (§1.6)
            is_acknowledged = alert["acknowledged"]
        else:
            is_acknowledged = acknowledged
        if is_acknowledged != acknowledged:
            return False
    if (after or before) and alert.get("execution_time"):
        try:
            executed = values.parse_time(alert["execution_time"], "execution_time")
        except ConfigurationError:
            return True
        if (after and executed < after) or (before and executed > before):
            return False
    return True


def _plain_id(value: Any, what: str) -> str:
    """An opaque id compared as text (client-side filters, get_monitoring)."""
    if isinstance(value, bool) or value is None or not str(value).strip():
        raise ConfigurationError(f"{what} must be a non-empty id, got {value!r}")
    return str(value).strip()


def monitoring_request(
    website: Any,
    checks: Any,
    frequency: Any = "every_2_weeks",
    run_now: Any = True,
    expires_at: Any = None,
    external_id: Any = None,
    skip_duplicate: Any = None,
    *,
    where: str = "",
) -> dict[str, Any]:
    """The JSON body of one monitoring (POST /monitorings, or one bulk-create item), validated.

    ``where`` prefixes the field names in error messages (``monitorings[3].checks``).
    """
    frequency = _frequency(frequency, f"{where}frequency")
    body: dict[str, Any] = {
        "website": _website(website, f"{where}website"),
        "checks": _checks(checks, f"{where}checks"),
        # Marked required while also given a default (§1.5): always sent.
        "frequency": frequency,
        "run_now": values.flag(run_now, f"{where}run_now"),
    }
    if expires_at is not None:
        body["expires_at"] = _expires_at(expires_at, frequency, f"{where}expires_at")
    if external_id is not None:
        body["external_id"] = values.non_empty_str(external_id, f"{where}external_id")
    if skip_duplicate is not None:
        body["skip_duplicate"] = values.flag(skip_duplicate, f"{where}skip_duplicate")
    return body


def _bulk_item(item: Any, index: int) -> dict[str, Any]:
    where = f"monitorings[{index}]."
    if not isinstance(item, dict):
        raise ConfigurationError(f"monitorings[{index}] must be a dict of monitoring fields, got {item!r}")
    unknown = sorted(set(item) - set(MONITORING_FIELDS))
    if unknown:
        raise ConfigurationError(
            f"monitorings[{index}] has unknown field(s) {', '.join(map(repr, unknown))}; "
            f"allowed: {', '.join(MONITORING_FIELDS)}"
        )
    missing = [name for name in ("website", "checks") if name not in item]
    if missing:
        raise ConfigurationError(f"monitorings[{index}] is missing {', '.join(map(repr, missing))}")
    return monitoring_request(**item, where=where)


def site_key(website: str) -> str:
    """A comparison key for two spellings of one site.

    The API sanitises the URL it stores (§2, §13.8) and its rule is not documented, so the key
    ignores only what cannot change the site: the scheme, the case of the host and a trailing slash.
    """
    parts = urlsplit(website.strip())
    host = (parts.netloc.rsplit("@", 1)[-1]).lower()
    key = host + parts.path.rstrip("/")
    return f"{key}?{parts.query}" if parts.query else key


def _unique_websites(items: list[dict[str, Any]]) -> None:
    first_index: dict[str, int] = {}
    for index, item in enumerate(items):
        key = site_key(item["website"])
        if key in first_index:
            raise ConfigurationError(
                f"monitorings[{index}].website {item['website']!r} repeats monitorings[{first_index[key]}]; "
                "websites must be unique within one bulk-create request"
            )
        first_index[key] = index


def _time_range(start: Any, end: Any, now: datetime | None = None) -> tuple[datetime, datetime] | None:
    """[start, end) with the API's defaults filled in; None when neither is given."""
    if start is None and end is None:
        return None
    end_at = values.parse_time(end, "end") if end is not None else (now or datetime.now(timezone.utc))
    start_at = values.parse_time(start, "start") if start is not None else end_at - DEFAULT_LOOKBACK
    if start_at > end_at:
        why = "" if end is not None else " (end defaults to now)"
        raise ConfigurationError(
            f"start {values.iso_utc(start_at)} is after end {values.iso_utc(end_at)}{why}"
        )
    return _to_millis(start_at), _to_millis(end_at)


def _to_millis(moment: datetime) -> datetime:
    # The wire format carries milliseconds; cutting here keeps adjacent windows' strings equal.
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def execution_windows(
    start: Any = None, end: Any = None, *, now: datetime | None = None, max_window: timedelta = MAX_WINDOW
) -> list[dict[str, str]]:
    """The ``from``/``to`` queries that together cover [start, end), each at most ``max_window`` long
    and each starting where the previous one ended. Neither bound → one query without either (the
    API then answers for the last 30 days); end only → start = end - 30 days; start only → end = now.
    """
    bounds = _time_range(start, end, now)
    if bounds is None:
        return [{}]
    start_at, end_at = bounds
    windows: list[dict[str, str]] = []
    cursor = start_at
    while cursor < end_at:
        stop = min(cursor + max_window, end_at)
        windows.append({"from": values.iso_utc(cursor), "to": values.iso_utc(stop)})
        cursor = stop
    return windows


def _reported_count(body: Any) -> int | None:
    if isinstance(body, dict):
        for key in ACK_COUNT_KEYS:
            value = body.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
    return None


def _remaining_count(body: Any) -> int | None:
    """The alerts left open after an acknowledge (``unacknowledged_count``, camel or snake)."""
    value = body.get("unacknowledged_count", body.get("unacknowledgedCount")) if isinstance(body, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# running_state -> the shared outcome while no execution has come (docs/design.md, "Run outcome"):
# FAILED fails the wait; anything else undocumented fails closed.
RUNNING_STATES = {"IDLE": RUNNING, "RUNNING": RUNNING, "FAILED": FAILED}


def execution_state(execution: dict | None, monitoring: dict | None) -> RunState:
    """Where the wait for a monitoring's next execution stands: an execution with no alert is a
    success, one with alerts an alert; without one, the monitoring's ``running_state`` decides."""
    if execution is not None:
        count = execution.get("alert_count")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            return RunState(FAILED, str(count), execution, f"Diligent execution with an unreadable alert_count {count!r}")
        outcome = SUCCESS if count == 0 else ALERT
        message = (f"Diligent execution {execution.get('id')} of monitoring {execution.get('monitoring_id')} "
                   f"at {execution.get('execution_time')}: {count} alert{'s' if count != 1 else ''}")
        return RunState(outcome, "alerts" if count else "no alerts", execution, message)
    monitoring = monitoring or {}
    return run_state("Diligent", RUNNING_STATES, monitoring.get("running_state"), monitoring)


def first_execution_after(executions: list[dict], after: datetime) -> dict | None:
    """The earliest execution strictly after ``after`` (the listing's order is undocumented)."""
    found = []
    for execution in executions:
        when = values.time_or_none(execution.get("execution_time"))  # unreadable: not the answer
        if when is not None and when > after:
            found.append((when, execution))
    return min(found, key=lambda pair: pair[0])[1] if found else None


class DiligentHook(MonitoringHook):
    """Talks to the Diligent API with the key in the connection's password (sent as ``X-API-KEY``).

    The connection's host overrides the base URL (``https://api.sandbox.godiligent.ai`` for the
    vendor sandbox). Sync methods share one pooled session; the ``a``-prefixed async twins run inside
    ``async with hook:``.

    :param diligent_conn_id: The Airflow connection to Diligent (API key in its password field).
    """

    vendor = DILIGENT

    def __init__(self, diligent_conn_id: str = "diligent_default", **kwargs: Any):
        self.diligent_conn_id = diligent_conn_id
        super().__init__(conn_id=diligent_conn_id, **kwargs)

    # ---- monitorings ------------------------------------------------------------------------

    def create_monitoring(
        self,
        website: str,
        checks: list[str],
        frequency: str = "every_2_weeks",
        run_now: bool = True,
        expires_at: datetime | str | None = None,
        external_id: str | None = None,
        skip_duplicate: bool | None = None,
    ) -> dict:
        """Create one monitoring (POST /monitorings) and return it; it always has ``id``.

        The create is never re-sent: if its outcome is unknown (timeout, reset, 5xx) the monitorings
        of ``website`` are listed, and the one created since the request (matching ``external_id``
        when given, else the website) is returned; none or several raise AmbiguousRequestError.
        """
        body = monitoring_request(website, checks, frequency, run_now, expires_at, external_id, skip_duplicate)

        def find(sent_at: float) -> list[dict]:
            return [
                record
                for record in self.list_monitorings(website=body["website"])
                if self._is_our_monitoring(record, body, sent_at)
            ]

        created = self._create("POST", "/monitorings", body, find)
        return self._object(created, "POST", "/monitorings", must_have="id")

    def _is_our_monitoring(self, record: Any, body: dict[str, Any], sent_at: float) -> bool:
        if not isinstance(record, dict) or not self.created_since(record, sent_at):
            return False
        if "external_id" in body:
            return record.get("external_id") == body["external_id"]
        # The stored website is sanitised (§2), so compare by site rather than by exact string.
        stored = record.get("website")
        return isinstance(stored, str) and site_key(stored) == site_key(body["website"])

    def bulk_create_monitorings(self, monitorings: list[dict]) -> dict:
        """Create 1-200 monitorings in one all-or-nothing request (POST /monitorings/bulk-create).

        Each item takes the keyword arguments of ``create_monitoring`` and is validated the same way;
        websites must be unique within the request. Returns the body: ``is_successful``, ``items``
        and (newer API versions) ``duplicates``. A 400 listing duplicates raises BadRequestError whose
        message names each duplicate website and its index. Never re-sent after an ambiguous failure.
        """
        if not isinstance(monitorings, (list, tuple)):
            raise ConfigurationError(f"monitorings must be a list of dicts, got {type(monitorings).__name__}")
        if not 1 <= len(monitorings) <= BULK_LIMIT:
            raise ConfigurationError(
                f"monitorings must hold 1 to {BULK_LIMIT} items (one bulk-create request), got {len(monitorings)}"
            )
        items = [_bulk_item(item, index) for index, item in enumerate(monitorings)]
        _unique_websites(items)
        path = "/monitorings/bulk-create"
        # 200, not 201, on success (§4); _call accepts any 2xx.
        body = self._call("POST", path, json=items, resend_safe=False)
        return self._object(body, "POST", path)

    def list_monitorings(
        self,
        state: str | None = None,
        website: str | None = None,
        sort_by: str | None = None,
        sort_direction: str | None = None,
    ) -> Iterator[dict]:
        """Every monitoring of the account, page by page (GET /monitorings).

        ``state`` (running state, e.g. ``IDLE``/``RUNNING``/``FAILED``) and ``website`` cannot be
        combined (the API documents them as exclusive). ``sort_by``: last_execution, next_run, state,
        website, id; ``sort_direction``: asc, desc.
        """
        return self._walk(self._monitoring_listing(state, website, sort_by, sort_direction))

    def _monitoring_listing(self, state: Any, website: Any, sort_by: Any, sort_direction: Any) -> _Listing:
        if state is not None and website is not None:
            raise ConfigurationError(
                "state and website cannot be combined: the Diligent API documents them as mutually "
                "exclusive filters of GET /monitorings; filter by one and check the other yourself"
            )
        params: dict[str, Any] = {}
        if state is not None:
            # Only IDLE/RUNNING/FAILED are seen, but OAS types the filter as a free string: no enum check.
            params["state"] = values.non_empty_str(state, "state").strip()
        if website is not None:
            params["website"] = values.non_empty_str(website, "website").strip()
        if sort_by is not None:
            params["sort_by"] = values.choice(sort_by, SORT_BY, "sort_by")
        if sort_direction is not None:
            params["sort_direction"] = values.choice(sort_direction, SORT_DIRECTIONS, "sort_direction")
        return _Listing("/monitorings", (params,), lambda item: item)

    def get_monitoring(self, monitoring_id: str) -> dict:
        """One monitoring by id. The API has no get-by-id endpoint, so the listing is walked until the
        id turns up; MonitoringNotFoundError (a NotFoundError) when it never does."""
        return self._monitoring_lookup(monitoring_id).find(self.list_monitorings(sort_by=STABLE_SORT))

    def alist_monitorings(
        self,
        state: str | None = None,
        website: str | None = None,
        sort_by: str | None = None,
        sort_direction: str | None = None,
    ) -> AsyncIterator[dict]:
        """Async twin of ``list_monitorings`` (``async for`` inside ``async with hook:``)."""
        return self._awalk(self._monitoring_listing(state, website, sort_by, sort_direction))

    async def aget_monitoring(self, monitoring_id: str) -> dict:
        """Async twin of ``get_monitoring``: what a wait reads ``running_state`` from."""
        return await self._monitoring_lookup(monitoring_id).afind(self.alist_monitorings(sort_by=STABLE_SORT))

    def _monitoring_lookup(self, monitoring_id: Any) -> ListingLookup:
        return ListingLookup(
            self.vendor.name, "/monitorings", "monitoring", _plain_id(monitoring_id, "monitoring_id"),
            error=MonitoringNotFoundError, hint="the API has no get-by-id endpoint; the whole listing was read",
        )

    def deactivate_monitoring(self, monitoring_id: str) -> dict:
        """Stop a monitoring (DELETE /monitorings/{id}/deactivate). Idempotent: returns
        ``{"monitoring_id", "already_inactive", "status"}``; ``already_inactive`` is False for 204
        (deactivated now), True for 200 (it was already inactive) and None for any other 2xx."""
        path = f"/monitorings/{values.path_id(monitoring_id, 'monitoring_id')}/deactivate"
        # Safe to retry: a repeat of a deactivation that did land answers 200 "already inactive".
        status, _body = self.client.status_and_body(Call("DELETE", path))
        already = {204: False, 200: True}.get(status)  # any other 2xx: undocumented, not guessed
        return {"monitoring_id": str(monitoring_id).strip(), "already_inactive": already, "status": status}

    # ---- executions -------------------------------------------------------------------------

    def get_execution_state(self, monitoring_id: str, executed_after: datetime | str) -> RunState:
        """The monitoring's first execution after ``executed_after`` as a RunState (what a sensor
        pokes). Executions cannot be filtered by monitoring on the server, so the window asked for
        is the smallest that can hold the answer: from ``executed_after`` to now."""
        after, now = values.parse_time(executed_after, "executed_after"), datetime.now(timezone.utc)
        if after >= now:  # a reference time still ahead (or a clock behind the server's): nothing yet
            return execution_state(None, self.get_monitoring(monitoring_id))
        executions = list(self.list_executions(start=after, end=now, monitoring_id=monitoring_id))
        execution = first_execution_after(executions, after)
        return execution_state(execution, None if execution else self.get_monitoring(monitoring_id))

    async def aget_execution_state(self, monitoring_id: str, executed_after: datetime | str) -> RunState:
        """Async twin of :meth:`get_execution_state` (what the trigger polls)."""
        after, now = values.parse_time(executed_after, "executed_after"), datetime.now(timezone.utc)
        if after >= now:  # a reference time still ahead (or a clock behind the server's): nothing yet
            return execution_state(None, await self.aget_monitoring(monitoring_id))
        listing = self.alist_executions(start=after, end=now, monitoring_id=monitoring_id)
        execution = first_execution_after([item async for item in listing], after)
        return execution_state(execution, None if execution else await self.aget_monitoring(monitoring_id))

    def list_executions(
        self,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        monitoring_id: str | None = None,
    ) -> Iterator[dict]:
        """Executions ("monitoring runs") of every monitoring in [start, end) (GET /monitoring-executions).

        Ranges over 60 days are sent as consecutive windows of at most 60 days, each walked to its
        last page; an execution seen in two windows is returned once. Defaults: start only → up to
        now; end only → the 30 days before it; neither → the API default (the last 30 days).
        Arguments are checked when called, before any request.
        """
        return self._walk(self._execution_listing(start, end, monitoring_id))

    def alist_executions(
        self,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        monitoring_id: str | None = None,
    ) -> AsyncIterator[dict]:
        """Async twin of ``list_executions`` (``async for`` inside ``async with hook:``)."""
        return self._awalk(self._execution_listing(start, end, monitoring_id))

    def _execution_listing(self, start: Any, end: Any, monitoring_id: Any) -> _Listing:
        wanted = None if monitoring_id is None else _plain_id(monitoring_id, "monitoring_id")
        # Window bounds may be inclusive on both sides (undocumented), so a run exactly on a
        # boundary can come back twice: dedupe by id across windows.
        first_sighting = FirstSighting("id")

        def pick(item: Any) -> Any:
            if not first_sighting(item):
                return _SKIP
            # No server-side monitoring_id filter is documented (§8): filtered here.
            if wanted is not None and not (isinstance(item, dict) and str(item.get("monitoring_id")) == wanted):
                return _SKIP
            return item

        return _Listing("/monitoring-executions", tuple(execution_windows(start, end)), pick)

    # ---- alerts -----------------------------------------------------------------------------

    def list_alerts(
        self,
        monitoring_id: str | None = None,
        only_unacknowledged: bool | None = None,
        execution_time_after: datetime | str | None = None,
        execution_time_before: datetime | str | None = None,
        acknowledged: bool | None = None,
    ) -> Iterator[dict]:
        """Alerts raised by failed runs (GET /monitoring-alerts), every page.

        Each alert is returned with snake_case keys readable (``monitoring_id``, ``failed_checks[].
        method_used``...) even when the API answers in its older camelCase rendering; the original
        keys are kept too. ``monitoring_id`` is filtered client-side (no server filter is documented).
        """
        return self._walk(self._alert_listing(
            monitoring_id, only_unacknowledged, execution_time_after, execution_time_before, acknowledged
        ))

    def alist_alerts(
        self,
        monitoring_id: str | None = None,
        only_unacknowledged: bool | None = None,
        execution_time_after: datetime | str | None = None,
        execution_time_before: datetime | str | None = None,
        acknowledged: bool | None = None,
    ) -> AsyncIterator[dict]:
        """Async twin of ``list_alerts`` (``async for`` inside ``async with hook:``)."""
        return self._awalk(self._alert_listing(
            monitoring_id, only_unacknowledged, execution_time_after, execution_time_before, acknowledged
        ))

    def _alert_listing(
        self, monitoring_id: Any, only_unacknowledged: Any, after: Any, before: Any, acknowledged: Any
    ) -> _Listing:
        wanted = None if monitoring_id is None else _plain_id(monitoring_id, "monitoring_id")
        only_open = _optional_flag(only_unacknowledged, "only_unacknowledged")
        done = _optional_flag(acknowledged, "acknowledged")
        if only_open and done:
            raise ConfigurationError("only_unacknowledged=True and acknowledged=True contradict each other")
        after_at = None if after is None else values.parse_time(after, "execution_time_after")
        before_at = None if before is None else values.parse_time(before, "execution_time_before")
        if after_at and before_at and after_at > before_at:
            raise ConfigurationError(
                f"execution_time_after {values.iso_utc(after_at)} is later than "
                f"execution_time_before {values.iso_utc(before_at)}"
            )
        # snake_case names, as the newest pages and OAS (§1.6); booleans go out as "true"/"false".
        params = {
            "only_unacknowledged": only_open,
            "acknowledged": done,
            "execution_time_after": None if after_at is None else values.iso_utc(after_at),
            "execution_time_before": None if before_at is None else values.iso_utc(before_at),
        }
        params = {key: value for key, value in params.items() if value is not None}

        # The acknowledgement state wanted: False = open only, True = acknowledged only.
        want_acknowledged = False if only_open else done

        def pick(item: Any) -> Any:
            # Older renderings answer in camelCase (monitoringId, failedChecks[].methodUsed...).
            alert = values.with_snake_keys(item)
            # No server-side monitoring_id filter is documented (§9): filtered here.
            if wanted is not None and not (isinstance(alert, dict) and str(alert.get("monitoring_id")) == wanted):
                return _SKIP
            # A server of the camelCase generation ignores the snake_case filters we send, so they
            # are applied again here; an alert lacking the field to judge by is kept.
            if not _alert_in_filters(alert, want_acknowledged, after_at, before_at):
                return _SKIP
            return alert

        return _Listing("/monitoring-alerts", (params,), pick)

    def acknowledge_alerts(self, alert_ids: list[str] | None = None, all_alerts: bool = False) -> dict:
        """Mark alerts as seen (POST /monitoring-alerts/acknowledge): either the listed ids (one
        request each, as the API takes one ``alert_id`` per call) or, with ``all_alerts=True``, every
        alert of the account. Returns ``{"acknowledged": [ids] | "all", "updated_count": int | None,
        "unacknowledged_count": int | None, "responses": [bodies]}``: ``updated_count`` is how many were
        acknowledged (None when the API reported no such count), ``unacknowledged_count`` how many
        remain open (when the API says)."""
        all_alerts = values.flag(all_alerts, "all_alerts")
        if alert_ids is not None and all_alerts:
            raise ConfigurationError("give either alert_ids or all_alerts=True, not both")
        if alert_ids is None and not all_alerts:
            raise ConfigurationError("give a non-empty list of alert_ids, or all_alerts=True")
        if all_alerts:
            response = self._acknowledge({"all": True})
            return {
                "acknowledged": "all",
                "updated_count": _reported_count(response),
                "unacknowledged_count": _remaining_count(response),
                "responses": [response],
            }
        # Acknowledging an alert twice in one call adds nothing: duplicates are dropped, order kept.
        ids = list(dict.fromkeys(item.strip() for item in values.string_list(alert_ids, "alert_ids")))
        responses: list[Any] = []
        for alert_id in ids:
            try:
                responses.append(self._acknowledge({"alert_id": alert_id}))
            except ApiError as exc:
                done = ids[: len(responses)]
                exc.args = (f"{exc.args[0]}; acknowledged before this failure: {done or 'none'}",)
                raise
        counts = [_reported_count(body) for body in responses]
        # The single-alert answer carries no count (§10); a total is given only if every answer had one.
        total = sum(counts) if all(count is not None for count in counts) else None
        return {
            "acknowledged": ids,
            "updated_count": total,
            "unacknowledged_count": _remaining_count(responses[-1]) if responses else None,
            "responses": responses,
        }

    def _acknowledge(self, payload: dict[str, Any]) -> Any:
        path = "/monitoring-alerts/acknowledge"
        # Not a create and free: re-sending after a lost answer can at worst acknowledge again.
        body = self._call("POST", path, json=payload)
        if isinstance(body, dict) and body.get("success") is False:
            raise unexpected(self.settings, "POST", path, "the API answered success=false", body)
        return body

    # ---- walking (written once for sync and async) -------------------------------------------

    def _pages(self) -> CursorPages:
        return CursorPages("items", self.vendor.name, page_size=PAGE_SIZE)

    def _walk(self, listing: _Listing) -> Iterator[Any]:
        for query in listing.queries:
            for item in self.client.iter_pages(listing.path, self._pages(), query):
                picked = listing.pick(item)
                if picked is not _SKIP:
                    yield picked

    async def _awalk(self, listing: _Listing) -> AsyncIterator[Any]:
        for query in listing.queries:
            async for item in self.aclient.iter_pages(listing.path, self._pages(), query):
                picked = listing.pick(item)
                if picked is not _SKIP:
                    yield picked

    # ---- test_connection --------------------------------------------------------------------

    def _probe(self) -> Any:
        """One page of one monitoring: cheap, read-only, and refused without a valid key."""
        path = "/monitorings"
        # A 200 page from the wrong host (a proxy, a login page) must not pass for Diligent.
        return items_of(self._call("GET", path, params={"page_size": 1}), "items", path, self.vendor.name)

    def _not_found_hint(self) -> str:
        return f"check the Base URL of the connection; the default is {self.vendor.default_host}"
