"""Hook for the Encrata monitoring API: monitors, their runs, and run results.

Encrata documents its monitor endpoints twice, under ``/api`` (the endpoint pages) and under
``/api/agent`` (the index, the pagination page and the vendor SDKs); the connection extra
``api_prefix`` picks the family. See the vendor notes, docs/vendors/encrata.md, sections 2, 4, 10 and 11.
"""

from __future__ import annotations

import json
import os
from itertools import chain, compress, repeat
from typing import IO, Any, AsyncIterator, Callable, Iterator, TypeVar

from airflow_provider_monitoring._http.errors import ApiError, ConfigurationError, NotFoundError
from airflow_provider_monitoring.hooks.base import ListingLookup, MonitoringHook
from airflow_provider_monitoring._http.pagination import OffsetPages, items_of
from airflow_provider_monitoring._http.retry import Call
from airflow_provider_monitoring._export import LocalDestination
from airflow_provider_monitoring._http.values import choice, flag, non_empty_str, path_id, string_list
from airflow_provider_monitoring._waiting import FAILED, RUNNING, SUCCESS, RunState, run_state
from airflow_provider_monitoring._vendors import (
    ENCRATA,
    ENCRATA_API_PREFIXES,
    ENCRATA_CHANGE_DETECTIONS as CHANGE_DETECTIONS,
    ENCRATA_DATA_SOURCE_TYPES as DATA_SOURCE_TYPES,
    ENCRATA_FREQUENCIES as FREQUENCIES,
    ENCRATA_MONITOR_TYPES as MONITOR_TYPES,
    ENCRATA_SETTABLE_STATUSES as SETTABLE_STATUSES,
)

__all__ = ["EncrataHook", "RunNotFoundError"]

T = TypeVar("T")

STANDARD_PREFIX = "/api"
AGENT_PREFIX = "/api/agent"
API_PREFIXES = ENCRATA_API_PREFIXES

# All four frequencies are accepted on update too: the narrower list of the Update page reads as an
# outdated page, and the server still has the last word.
PAGE_LIMIT = 100  # the documented maximum page size

# Run status -> the shared outcome (docs/design.md, "Run outcome"). The docs list pending/running/
# success/failed; the SDKs and examples also show queued and completed (§11.5). Changes found by a
# run are data, not alerts, so no status maps to "alert". Anything else fails closed.
RUN_OUTCOMES = {
    "pending": RUNNING, "queued": RUNNING, "running": RUNNING,
    "success": SUCCESS, "completed": SUCCESS,
    "failed": FAILED,
}
# A 404 or 405 on a path documented under one family only is the sign of the wrong family (§7.2).
WRONG_FAMILY_STATUSES = frozenset({404, 405})


class RunNotFoundError(NotFoundError):
    """The run id is not in its monitor's run listing (Encrata has no single-run endpoint)."""


class EncrataHook(MonitoringHook):
    """Talks to Encrata through the connection ``encrata_conn_id`` (API key in the password field).

    Connection extras: ``api_prefix`` (``/api``, the default, or ``/api/agent``), ``timeout``,
    ``max_retries``.

    :param encrata_conn_id: The Airflow connection to Encrata (API key in its password field).
    """

    vendor = ENCRATA

    def __init__(self, encrata_conn_id: str = "encrata_default", **kwargs: Any):
        super().__init__(conn_id=encrata_conn_id, **kwargs)
        self.encrata_conn_id = encrata_conn_id

    # ---- paths ------------------------------------------------------------------------------

    @property
    def api_prefix(self) -> str:
        """The configured path family, read from the connection on first use."""
        raw = self.settings.extras.get("api_prefix")
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return STANDARD_PREFIX
        # A trailing slash ("/api/agent/") is the same family written loosely, not another value.
        prefix = raw.strip().rstrip("/") if isinstance(raw, str) else raw
        if prefix not in API_PREFIXES:
            raise ConfigurationError(
                f"connection {self.encrata_conn_id!r}: extra 'api_prefix' must be "
                f"{STANDARD_PREFIX!r} or {AGENT_PREFIX!r}, got {raw!r}"
            )
        return prefix

    def _path(self, *segments: str, prefix: str | None = None) -> str:
        """``<prefix>/<segments...>``; ids among the segments must already be URL-encoded."""
        return "/".join([prefix or self.api_prefix, *segments])

    def _on_either_family(self, send: Callable[[str], T]) -> T:
        """``send(prefix)`` on the configured family; on a 404/405 once more on the other family.

        Only for the four operations documented under one family alone (quirk 11.1): update and
        CSV download under ``/api``, get and delete under ``/api/agent``.
        """
        configured = self.api_prefix
        try:
            return send(configured)
        except ApiError as exc:
            if exc.status not in WRONG_FAMILY_STATUSES:
                raise
            first_error = exc
        other = AGENT_PREFIX if configured == STANDARD_PREFIX else STANDARD_PREFIX
        self.log.info("%s; trying the %s path family", first_error, other)
        try:
            return send(other)
        except ApiError as exc:
            if exc.status in WRONG_FAMILY_STATUSES:
                exc.args = (
                    f"{exc.args[0]}; {first_error.method} {first_error.path} "
                    f"answered HTTP {first_error.status} as well",
                )
            raise exc from first_error

    def _not_found_hint(self) -> str:
        return "check the host and the 'api_prefix' extra (/api or /api/agent) of the connection"

    def _probe(self) -> Any:
        """List monitors: free, read-only, and it needs a valid key. A 200 page from the wrong host
        (a proxy, a login page) must not pass for Encrata: the answer must be a monitor listing."""
        return self.list_monitors()

    # ---- monitors ---------------------------------------------------------------------------

    def create_monitor(
        self,
        name: str,
        monitor_type: str = "email",
        emails: list[str] | None = None,
        targets: list[str] | None = None,
        frequency: str | None = None,
        change_detection: str | None = None,
        data_source_type: str | None = None,
        data_source_ref: str | None = None,
    ) -> dict:
        """Create a monitor and return it (with its ``id``).

        ``emails`` is for ``email`` monitors and ``targets`` for every other type; neither is
        needed when the targets come from a contact list (``data_source_type="list"`` with
        ``data_source_ref``). Only the arguments given are sent. The POST is never re-sent: if
        its outcome is unknown, the monitor is looked up by name among those created since.
        """
        payload = monitor_payload(
            name, monitor_type, emails, targets, frequency, change_detection, data_source_type, data_source_ref
        )
        path = self._path("monitors")

        def created_by_us(sent_at: float) -> list[dict]:
            return [
                monitor for monitor in self.list_monitors()
                if isinstance(monitor, dict) and monitor.get("name") == name and self.created_since(monitor, sent_at)
            ]

        body = self._create("POST", path, payload, created_by_us)
        return self._object(body, "POST", path, must_have="id")

    def list_monitors(self) -> list[dict]:
        """Every monitor of the account (the listing is not paginated)."""
        path = self._path("monitors")
        body = self._call("GET", path)
        # The docs show a bare array, the SDKs read {"monitors": [...]} (quirk 11.3): take both.
        return items_of(body, "monitors", path, self.vendor.name)

    def get_monitor(self, monitor_id: str) -> dict:
        """One monitor by id."""
        monitor = path_id(monitor_id, "monitor_id")

        def send(prefix: str) -> dict:
            path = self._path("monitors", monitor, prefix=prefix)
            return self._object(self._call("GET", path), "GET", path, must_have="id")

        return self._on_either_family(send)

    def update_monitor(
        self,
        monitor_id: str,
        name: str | None = None,
        frequency: str | None = None,
        change_detection: str | None = None,
        status: str | None = None,
        tracked_fields: list[str] | None = None,
    ) -> dict:
        """Change the fields given (PATCH) and return the updated monitor.

        ``tracked_fields`` is a list of field names (``[]`` tracks every field).
        """
        monitor = path_id(monitor_id, "monitor_id")
        payload = update_payload(name, frequency, change_detection, status, tracked_fields)

        def send(prefix: str) -> dict:
            path = self._path("monitors", monitor, prefix=prefix)
            return self._object(self._call("PATCH", path, json=payload), "PATCH", path)

        return self._on_either_family(send)

    def pause_monitor(self, monitor_id: str) -> dict:
        """Stop scheduled runs (there is no pause endpoint: this is PATCH ``status=paused``)."""
        return self.update_monitor(monitor_id, status="paused")

    def resume_monitor(self, monitor_id: str) -> dict:
        """Restart scheduled runs (PATCH ``status=active``)."""
        return self.update_monitor(monitor_id, status="active")

    def delete_monitor(self, monitor_id: str) -> dict | None:
        """Delete a monitor. Returns the vendor's JSON object if it sent one (200), else None (204)."""
        monitor = path_id(monitor_id, "monitor_id")

        def send(prefix: str) -> Any:
            return self._call("DELETE", self._path("monitors", monitor, prefix=prefix))

        body = self._on_either_family(send)
        return body if isinstance(body, dict) else None

    # ---- runs -------------------------------------------------------------------------------

    def trigger_run(self, monitor_id: str) -> dict:
        """Start a run now (costs 1 credit per target) and return ``{"run_id", "status", ...}``.

        Never re-sent after an ambiguous failure, and not looked up either: a scheduled run could
        be taken for ours. The AmbiguousRequestError reaches the caller.
        """
        path = self._path("monitors", path_id(monitor_id, "monitor_id"), "run")
        # The SDKs send an empty JSON object; no body is documented.
        body = self._call("POST", path, json={}, resend_safe=False)
        return self._object(body, "POST", path, must_have="run_id")

    def list_monitor_runs(self, monitor_id: str) -> Iterator[dict]:
        """Every run of one monitor, walking the pages (100 runs per request)."""
        path = self._runs_path(monitor_id)
        return self.client.iter_pages(path, self._pages("runs"))

    def get_run(self, monitor_id: str, run_id: str) -> dict:
        """One run of a monitor, as listed (no single-run endpoint exists: the listing is searched).
        It must carry a ``status``, which is what a wait reads."""
        lookup = self._run_lookup(monitor_id, run_id)
        return self._with_status(lookup.find(self.list_monitor_runs(monitor_id)), lookup.path)

    def list_runs(self, monitor_type: str | None = None) -> Iterator[dict]:
        """Runs of every monitor, optionally only those of one monitor type."""
        params = {"type": optional_monitor_type(monitor_type)}
        return self.client.iter_pages(self._path("monitoring", "runs"), self._pages("runs"), params)

    # ---- results ----------------------------------------------------------------------------

    def get_run_results(self, monitor_id: str, run_id: str, changes_only: bool = False) -> Iterator[dict]:
        """Every result record of one run; ``changes`` is always ``{field: {"old", "new"}}`` or null."""
        path = self._results_path(path_id(monitor_id, "monitor_id"), path_id(run_id, "run_id"))
        params = changes_only_param(changes_only)
        return self.client.iter_pages(path, ResultPages("results", self.vendor.name, limit=PAGE_LIMIT), params)

    def download_run_results(self, monitor_id: str, run_id: str, path: str | os.PathLike) -> dict:
        """Stream a run's results as CSV to the local file ``path``; returns ``{"path", "bytes"}``.

        The file is written under a temporary name and renamed when complete, so a failed
        download leaves no half-written file behind.
        """
        target = LocalDestination(path)  # checked before any request
        monitor, run = path_id(monitor_id, "monitor_id"), path_id(run_id, "run_id")
        with target.sink() as sink:
            written = self._on_either_family(lambda prefix: self._download_csv(monitor, run, prefix, sink))
        return {"path": target.path, "bytes": written}

    def list_results(self, monitor_type: str | None = None, changes_only: bool = False) -> Iterator[dict]:
        """Result records of every monitor, optionally filtered by type and to changed records."""
        params = {"type": optional_monitor_type(monitor_type), **changes_only_param(changes_only)}
        pages = ResultPages("results", self.vendor.name, limit=PAGE_LIMIT)
        return self.client.iter_pages(self._path("monitoring", "results"), pages, params)

    # ---- async twins (what a trigger polls) -------------------------------------------------

    def alist_monitor_runs(self, monitor_id: str) -> AsyncIterator[dict]:
        """Async generator over every run of one monitor; use inside ``async with hook:``."""
        client = self.aclient
        return client.iter_pages(self._runs_path(monitor_id), self._pages("runs"))

    def alist_runs(self, monitor_type: str | None = None) -> AsyncIterator[dict]:
        """Async twin of :meth:`list_runs` (what the shared wait reads); use inside ``async with hook:``."""
        params = {"type": optional_monitor_type(monitor_type)}
        return self.aclient.iter_pages(self._path("monitoring", "runs"), self._pages("runs"), params)

    async def aget_run(self, monitor_id: str, run_id: str) -> dict:
        """Async twin of :meth:`get_run`; use inside ``async with hook:``."""
        lookup = self._run_lookup(monitor_id, run_id)
        return self._with_status(await lookup.afind(self.alist_monitor_runs(monitor_id)), lookup.path)

    def get_run_state(self, monitor_id: str, run_id: str) -> RunState:
        """Where a run stands in the shared outcome vocabulary (what a sensor pokes)."""
        return listed_run_state(self.get_run(monitor_id, run_id))

    async def aget_run_state(self, monitor_id: str, run_id: str) -> RunState:
        """Async twin of :meth:`get_run_state` (what the trigger polls)."""
        return listed_run_state(await self.aget_run(monitor_id, run_id))

    def _run_lookup(self, monitor_id: str, run_id: str) -> ListingLookup:
        path_id(run_id, "run_id")  # refuses a missing id before any request
        return ListingLookup(
            self.vendor.name, self._runs_path(monitor_id), "run", run_id,
            error=RunNotFoundError,
            hint=f"runs of monitor {str(monitor_id).strip()!r}; Encrata has no single-run endpoint, check both ids",
        )

    def _with_status(self, run: dict, path: str) -> dict:
        return self._object(run, "GET", path, must_have="status")

    # ---- helpers ----------------------------------------------------------------------------

    def _pages(self, key: str) -> OffsetPages:
        return OffsetPages(key, self.vendor.name, limit=PAGE_LIMIT)

    def _runs_path(self, monitor_id: str) -> str:
        return self._path("monitors", path_id(monitor_id, "monitor_id"), "runs")

    def _download_csv(self, monitor: str, run: str, prefix: str, sink: IO[bytes]) -> int:
        """One download attempt under ``prefix`` into an emptied ``sink``; the bytes written."""
        sink.seek(0)
        sink.truncate()
        path = self._results_path(monitor, run, prefix) + "/download"
        # The one non-JSON response of the API: ask for CSV, not JSON.
        return self.client.download(Call("GET", path, accept="text/csv, */*"), sink)

    def _results_path(self, monitor: str, run: str, prefix: str | None = None) -> str:
        """Results of one run; ``monitor`` and ``run`` already URL-encoded."""
        return self._path("monitors", monitor, "runs", run, "results", prefix=prefix)


# ---- request building and response shaping (pure functions) -----------------------------------


def listed_run_state(run: dict) -> RunState:
    """A listed run (one carrying ``status``) in the shared outcome vocabulary."""
    return run_state(ENCRATA.name, RUN_OUTCOMES, run["status"], run)


def monitor_payload(
    name: Any,
    monitor_type: Any,
    emails: Any,
    targets: Any,
    frequency: Any,
    change_detection: Any,
    data_source_type: Any,
    data_source_ref: Any,
) -> dict[str, Any]:
    """The Create Monitor body, holding only what the caller set (plus name and type)."""
    payload: dict[str, Any] = {
        "name": non_empty_str(name, "name"),
        "monitor_type": choice(monitor_type, MONITOR_TYPES, "monitor_type"),
    }
    is_email = monitor_type == "email"
    if is_email and targets is not None:
        raise ConfigurationError("an email monitor takes its addresses in 'emails', not 'targets'")
    if not is_email and emails is not None:
        raise ConfigurationError(
            f"a {monitor_type} monitor takes its phone numbers, domains, IPs, companies or queries "
            "in 'targets', not 'emails'"
        )
    if data_source_type is not None:
        payload["data_source_type"] = choice(data_source_type, DATA_SOURCE_TYPES, "data_source_type")
    if data_source_type == "list":
        if data_source_ref is None:
            raise ConfigurationError("data_source_type 'list' needs data_source_ref (the contact list id)")
        payload["data_source_ref"] = non_empty_str(data_source_ref, "data_source_ref")
    elif data_source_ref is not None:
        raise ConfigurationError("data_source_ref (a contact list id) is used only with data_source_type 'list'")
    from_list = data_source_type == "list"
    field = "emails" if is_email else "targets"
    given = emails if is_email else targets
    if given is not None:
        payload[field] = string_list(given, field)
    elif not from_list:
        raise ConfigurationError(
            f"a {monitor_type} monitor needs '{field}' "
            "(or data_source_type='list' with data_source_ref to take them from a contact list)"
        )
    if frequency is not None:
        payload["frequency"] = choice(frequency, FREQUENCIES, "frequency")
    if change_detection is not None:
        payload["change_detection"] = choice(change_detection, CHANGE_DETECTIONS, "change_detection")
    return payload


def update_payload(name: Any, frequency: Any, change_detection: Any, status: Any, tracked_fields: Any) -> dict:
    """The Update Monitor body, holding only the fields to change."""
    payload: dict[str, Any] = {}
    if name is not None:
        payload["name"] = non_empty_str(name, "name")
    if frequency is not None:
        payload["frequency"] = choice(frequency, FREQUENCIES, "frequency")
    if change_detection is not None:
        payload["change_detection"] = choice(change_detection, CHANGE_DETECTIONS, "change_detection")
    if status is not None:
        payload["status"] = choice(status, SETTABLE_STATUSES, "status")
    if tracked_fields is not None:
        payload["tracked_fields"] = tracked_fields_string(tracked_fields)
    if not payload:
        raise ConfigurationError(
            "nothing to update: give at least one of name, frequency, change_detection, status, tracked_fields"
        )
    return payload


def tracked_fields_string(fields: Any) -> str:
    """The list as the JSON-encoded *string* the Update page asks for (quirk 11.6); ``[]`` = all.

    Names are not checked against the documented list: it names person fields only, and what
    applies to phone, domain or IP monitors is undocumented.
    """
    names = [] if isinstance(fields, (list, tuple)) and not fields else string_list(fields, "tracked_fields")
    return json.dumps(names, separators=(",", ":"))


def optional_monitor_type(monitor_type: Any) -> str | None:
    return None if monitor_type is None else choice(monitor_type, MONITOR_TYPES, "monitor_type")


def changes_only_param(changes_only: Any) -> dict[str, bool]:
    """``changes_only=true`` only when asked for (the SDKs omit it when false)."""
    return {"changes_only": True} if flag(changes_only, "changes_only") else {}


class ResultPages(OffsetPages):
    """Pages of result records, each page normalised (:func:`normalised_page`) as it is walked."""

    def items(self, body: Any, path: str) -> list[Any]:
        return normalised_page(super().items(body, path))


def normalised_page(records: list[dict]) -> list[dict]:
    """:func:`normalise_result` of each record of a page: the page as it is when no record holds
    a pair (the usual page), which is found out without a Python call per record."""
    changes = list(map(dict.get, records, repeat("changes")))
    objects = compress(changes, map(isinstance, changes, repeat(dict)))
    if PAIR_TYPES.isdisjoint(map(type, chain.from_iterable(map(dict.values, objects)))):
        return records
    return list(map(normalise_result, records))


def normalise_result(record: Any) -> Any:
    """A result record whose ``changes`` values are all ``{"old", "new"}`` objects.

    The docs show ``{"field": {"old": .., "new": ..}}``; the Python SDK's mocks show
    ``{"field": [old, new]}`` (§3.3): both are accepted. A record holding a pair is copied with its
    changes rewritten; any other record (the usual one) is returned as it is, checked without a
    Python call per change. Every other field, and any value of another shape, is kept as it came.
    """
    changes = record.get("changes") if isinstance(record, dict) else None
    if not isinstance(changes, dict) or PAIR_TYPES.isdisjoint(map(type, changes.values())):
        return record
    return {**record, "changes": {field: old_new(value) for field, value in changes.items()}}


PAIR_TYPES = frozenset({list, tuple})  # what JSON decoding gives a pair, and a caller's tuple


def old_new(value: Any) -> Any:
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return {"old": value[0], "new": value[1]}
    return value


