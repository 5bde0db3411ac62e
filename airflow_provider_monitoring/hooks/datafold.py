"""Hook for the Datafold REST API: data-quality monitors, their runs, and the data diffs a run links to.

Built against the classic contract (``openapi-public.json``, the vendor notes, docs/vendors/datafold.md §1-§4);
the host is only a base URL, so US/EU "butterfly" and dedicated deployments work the same way
(§5, §9.13). Every id is an integer path parameter. Responses are returned as the vendor sent them:
unknown fields and unknown enum values (run ``state``, diff ``status``) are kept as raw strings,
never guessed (§6, §9.15). Requests carry only what the caller set (§6).
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Iterable, Iterator, Mapping

from airflow_provider_monitoring._http.client import unexpected
from airflow_provider_monitoring._http.errors import ConfigurationError, MonitoringError
from airflow_provider_monitoring.hooks.base import CLOCK_SLACK, MonitoringHook
from airflow_provider_monitoring._http.pagination import PageNumberPages
from airflow_provider_monitoring._http.retry import Call
from airflow_provider_monitoring._http.values import choice, flag, int_id, iso_utc, parse_time, string_list
from airflow_provider_monitoring._waiting import ALERT, FAILED, RUNNING, SUCCESS, RunState, run_state
from airflow_provider_monitoring.hooks._datafold_specs import (
    check_update_for_type,
    validated_create_body,
    validated_update_changes,
)
from airflow_provider_monitoring._vendors import (
    DATAFOLD,
    DATAFOLD_MONITOR_TYPES as MONITOR_TYPES,
    DATAFOLD_ORDER_BY_FIELDS as ORDER_BY_FIELDS,
    DATAFOLD_SORT_ORDERS as SORT_ORDERS,
)

__all__ = ["DatafoldHook"]

MONITORS_PATH = "/api/v1/monitors"
DATADIFFS_PATH = "/api/v1/datadiffs"
# No maximum page size is documented (defaults: monitors 20, runs 10); 100 is the datadiffs
# default, so the server is known to serve pages that large (§9.9).
PAGE_SIZE = 100

# MonitorRunState -> the shared outcome (docs/design.md, "Run outcome"). A null state (a run just
# triggered) is still running (§9.2). learning (no verdict yet) and skipped (did not execute) are
# not passes unless the caller accepts them (ACCEPTABLE_STATES); any other value fails closed.
RUN_OUTCOMES: dict[str | None, str] = {
    None: RUNNING, "created": RUNNING, "queued": RUNNING, "checking": RUNNING,
    "ok": SUCCESS, "alert": ALERT,
    "error": FAILED, "cancelled": FAILED, "learning": FAILED, "skipped": FAILED,
}
ACCEPTABLE_STATES = ("learning", "skipped")


def run_outcomes(accept_states: Iterable[str] = ()) -> dict[str | None, str]:
    """The outcome table with ``accept_states`` (a subset of learning/skipped) counted as success."""
    accepted = tuple(accept_states)
    for state in accepted:
        choice(state, ACCEPTABLE_STATES, "accept_states value")
    return {**RUN_OUTCOMES, **{state: SUCCESS for state in accepted}}


def run_problems(run: dict) -> str:
    """A run's ``error`` and ``warnings`` as one clause (``error: ..., warnings: a; b``), or empty."""
    warnings = run.get("warnings") if isinstance(run.get("warnings"), list) else []
    parts = [f"error: {run['error']}" if run.get("error") else "",
             f"warnings: {'; '.join(map(str, warnings))}" if warnings else ""]
    return ", ".join(part for part in parts if part)


def monitor_run_state(run: dict, accept_states: Iterable[str] = ()) -> RunState:
    """A run's place in the shared vocabulary; a failed run's ``error`` and ``warnings`` go into
    the message, so they reach the task log and the failure."""
    state = run_state("Datafold", run_outcomes(accept_states), run.get("state"), run)
    if state.outcome in (FAILED, ALERT) and not state.message:
        detail = run_problems(run)
        message = f"Datafold run {run.get('run_id')} of monitor {run.get('monitor_id')} ended {state.vendor_state!r}"
        return RunState(state.outcome, state.vendor_state, run, f"{message}: {detail}" if detail else message)
    return state


class DatafoldHook(MonitoringHook):
    """Talks to Datafold through the connection ``datafold_conn_id``.

    The API key goes in the password field and is sent as ``Authorization: Key <key>``;
    ``host`` overrides ``https://app.datafold.com``. Extras: ``timeout``, ``max_retries``.

    :param datafold_conn_id: The Airflow connection to Datafold (API key in its password field).
    """

    vendor = DATAFOLD

    def __init__(self, datafold_conn_id: str = "datafold_default", **kwargs: Any):
        self.datafold_conn_id = datafold_conn_id
        super().__init__(conn_id=datafold_conn_id, **kwargs)

    # ---- monitors ---------------------------------------------------------------------------

    def list_monitors(
        self,
        tags: Iterable[str] | None = None,
        order_by: str | None = None,
        sort_order: str | None = None,
        monitor_type: str | None = None,
    ) -> Iterator[dict]:
        """Every monitor, walking all pages.

        ``tags`` filters server-side (sent comma-separated; whether several tags combine with AND or
        OR is undocumented). ``order_by`` is one of id/name/last_triggered/last_run/created_by,
        ``sort_order`` asc/desc. ``monitor_type`` (diff/metric/test/schema) is applied here, on the
        client side: the API has no type filter, so every page is still fetched.
        Arguments are checked when this is called, before the first page is requested.
        """
        params = {
            "tags": _tags_param(tags),
            "order_by": None if order_by is None else choice(order_by, ORDER_BY_FIELDS, "order_by"),
            "sort_order": None if sort_order is None else choice(sort_order, SORT_ORDERS, "sort_order"),
        }
        if monitor_type is not None:
            choice(monitor_type, MONITOR_TYPES, "monitor_type")
        return self._walk_monitors(params, monitor_type)

    def _walk_monitors(self, params: dict[str, Any], monitor_type: str | None) -> Iterator[dict]:
        pages = PageNumberPages("monitors", self.vendor.name, page_size=PAGE_SIZE)
        for monitor in self.client.iter_pages(MONITORS_PATH, pages, params):
            # monitor_type is nullable in list items; a null one matches no filter.
            if monitor_type is None or monitor.get("monitor_type") == monitor_type:
                yield monitor

    def get_monitor(self, monitor_id: int | str) -> dict:
        """One monitor (schedule, alert, notifications, flattened ``dataset`` entries)."""
        path = _monitor_path(monitor_id)
        return self._object(self._call("GET", path), "GET", path, must_have="id")

    def create_monitor(self, monitor_type: str, spec: Mapping[str, Any]) -> int:
        """Create a monitor of ``monitor_type`` (diff/metric/test/schema) from ``spec``; the new id.

        ``spec`` is the documented create body (``name``, ``schedule``, and the type's own fields)
        and is sent unchanged; it is checked first and never modified. The create is sent once: if
        its fate is unknown (timeout, reset, 5xx), the newest monitors are searched for one with
        this name and type created since, and its id is returned when exactly one is found;
        otherwise AmbiguousRequestError is raised.
        """
        choice(monitor_type, MONITOR_TYPES, "monitor_type")
        body = validated_create_body(monitor_type, spec)
        path = f"{MONITORS_PATH}/create/{monitor_type}"

        def find(sent_at: float) -> Iterator[dict]:
            return self._monitors_created_since(body["name"], monitor_type, sent_at)

        created = self._create("POST", path, body, find)
        return self._int_field(created, "id", "POST", path)

    def _monitors_created_since(self, name: str, monitor_type: str, sent_at: float) -> Iterator[dict]:
        """Monitors named ``name`` of ``monitor_type`` created since ``sent_at``, newest first."""
        for monitor in self.list_monitors(order_by="id", sort_order="desc"):
            # Newest ids first: once one is clearly older than the request, the rest are too.
            if _created_before(monitor, sent_at - CLOCK_SLACK):
                return
            if (
                monitor.get("name") == name
                and monitor.get("monitor_type") == monitor_type
                and self.created_since(monitor, sent_at, slack=CLOCK_SLACK)
            ):
                yield monitor

    def update_monitor(
        self, monitor_id: int | str, spec: Mapping[str, Any], monitor_type: str | None = None
    ) -> None:
        """Change some fields of a monitor (PATCH, partial update).

        The API needs the monitor's ``type`` in the body; pass ``monitor_type`` to skip the GET that
        otherwise learns it. ``enabled`` is refused (use ``toggle_monitor``), and so are the fields
        fixed at creation (``connection_id``, a metric monitor's ``metric``, a schema monitor's
        ``table``, a diff monitor's ``datadiff.dataset_a``/``dataset_b``). The response body is
        undocumented and ignored; call ``get_monitor`` to read the result.
        """
        path = _monitor_path(monitor_id) + "/update"
        changes = validated_update_changes(spec)
        if monitor_type is not None:
            choice(monitor_type, MONITOR_TYPES, "monitor_type")
        else:
            monitor_type = self._type_of_monitor(monitor_id)
        check_update_for_type(monitor_type, changes)
        self._call("PATCH", path, json={"type": monitor_type, **changes})

    def _type_of_monitor(self, monitor_id: int | str) -> str:
        path = _monitor_path(monitor_id)
        monitor = self.get_monitor(monitor_id)
        kind = monitor.get("monitor_type")
        # monitor_type is "required but nullable" in the spec; without it the PATCH cannot be built.
        if not isinstance(kind, str) or not kind:
            raise unexpected(
                self.settings, "GET", path,
                "expected the monitor's 'monitor_type' (pass monitor_type= to update_monitor instead)", monitor,
            )
        return kind

    def delete_monitor(self, monitor_id: int | str) -> None:
        """Delete a monitor. The response body is undocumented and ignored."""
        self._call("DELETE", _monitor_path(monitor_id))

    def toggle_monitor(self, monitor_id: int | str, enabled: bool) -> None:
        """Enable (True) or disable (False) a monitor. The response body is undocumented and ignored."""
        path = _monitor_path(monitor_id) + "/toggle"
        self._call("PUT", path, json={"enabled": flag(enabled, "enabled")})

    # ---- runs -------------------------------------------------------------------------------

    def run_monitor(self, monitor_id: int | str) -> int:
        """Start a run now; its ``run_id``. The run proceeds asynchronously: poll ``get_monitor_run``.

        Sent once: each send may start a run, and a run leaves nothing to find it by, so after an
        ambiguous failure AmbiguousRequestError is raised rather than guessed around.
        """
        path = _monitor_path(monitor_id) + "/run"
        body = self._call("POST", path, resend_safe=False)
        return self._int_field(body, "run_id", "POST", path)

    def list_monitor_runs(
        self, monitor_id: int | str, start_time: Any = None, end_time: Any = None
    ) -> Iterator[dict]:
        """Every run of a monitor, walking all pages; ``state`` is kept as sent (null included).

        ``start_time``/``end_time`` (datetime or ISO 8601 string; naive means UTC) keep runs at or
        after / at or before that moment; they are sent as UTC ISO 8601. Arguments are checked when
        this is called, before the first page is requested.
        """
        path = _monitor_path(monitor_id) + "/runs"
        params = {
            "start_time": None if start_time is None else iso_utc(start_time, "start_time"),
            "end_time": None if end_time is None else iso_utc(end_time, "end_time"),
        }
        if start_time is not None and end_time is not None and parse_time(start_time) > parse_time(end_time):
            raise ConfigurationError(f"start_time {start_time!r} is after end_time {end_time!r}")
        return self._walk_runs(path, params)

    def alist_monitor_runs(self, monitor_id: int | str, start_time: Any = None) -> AsyncIterator[dict]:
        """Async twin of :meth:`list_monitor_runs` (what shared waits and watchers read), with the
        ``start_time`` filter only; use inside ``async with hook:``."""
        params = {"start_time": None if start_time is None else iso_utc(start_time, "start_time")}
        return self.aclient.iter_pages(_monitor_path(monitor_id) + "/runs", self._run_pages(), params)

    def _walk_runs(self, path: str, params: dict[str, Any]) -> Iterator[dict]:
        yield from self.client.iter_pages(path, self._run_pages(), params)

    def _run_pages(self) -> PageNumberPages:
        return PageNumberPages("runs", self.vendor.name, page_size=PAGE_SIZE, unique_by="run_id")

    def get_monitor_run(self, monitor_id: int | str, run_id: int | str) -> dict:
        """One run: ``state`` (raw string, unknown values included), ``warnings``, ``error``, ``diff_id``..."""
        path = _run_path(monitor_id, run_id)
        return self._run_of(self._call("GET", path), path)

    async def aget_monitor_run(self, monitor_id: int | str, run_id: int | str) -> dict:
        """Async twin of ``get_monitor_run`` for triggers (inside ``async with hook:``)."""
        path = _run_path(monitor_id, run_id)
        return self._run_of(await self.aclient.request(Call("GET", path)), path)

    def get_monitor_run_state(self, monitor_id: int | str, run_id: int | str,
                              accept_states: Iterable[str] = ()) -> RunState:
        """Where a run stands in the shared outcome vocabulary (what a sensor pokes)."""
        return monitor_run_state(self.get_monitor_run(monitor_id, run_id), accept_states)

    async def aget_monitor_run_state(self, monitor_id: int | str, run_id: int | str,
                                     accept_states: Iterable[str] = ()) -> RunState:
        """Async twin of :meth:`get_monitor_run_state` (what the trigger polls)."""
        return monitor_run_state(await self.aget_monitor_run(monitor_id, run_id), accept_states)

    def _run_of(self, body: Any, path: str) -> dict:
        # state is documented as required here, but a run polled right after /run may still carry a
        # null state (§9.2): null is kept (it reads as "not finished"); only a missing key fails.
        if not isinstance(body, dict) or "state" not in body:
            raise unexpected(self.settings, "GET", path, "expected a run object with 'state'", body)
        return body

    # ---- data diffs -------------------------------------------------------------------------

    def get_data_diff(self, diff_id: int | str) -> dict:
        """A data diff (a diff monitor run's ``diff_id``): status, result, diff_stats, configuration."""
        path = _data_diff_path(diff_id)
        return self._object(self._call("GET", path), "GET", path)

    def get_data_diff_summary(self, diff_id: int | str) -> dict:
        """The human-readable summary of a data diff (``feedback``, ``diff_stats``, ``status``...)."""
        path = _data_diff_path(diff_id, "/summary")
        return self._object(self._call("GET", path), "GET", path)

    async def aget_data_diff_summary(self, diff_id: int | str) -> dict:
        """Async twin of ``get_data_diff_summary`` (inside ``async with hook:``)."""
        path = _data_diff_path(diff_id, "/summary")
        return self._object(await self.aclient.request(Call("GET", path)), "GET", path)

    def cancel_data_diff(self, diff_id: int | str) -> None:
        """Cancel a data diff (``POST /api/v1/datadiffs/{id}/cancel``, §4.4). It has no effect on a
        finished diff, so the call is safe to repeat and is retried like a read; the answer
        (``{id, status}``) is not needed."""
        self._call("POST", _data_diff_path(diff_id, "/cancel"))

    async def acancel_data_diff(self, diff_id: int | str) -> None:
        """Async twin of :meth:`cancel_data_diff` (inside ``async with hook:``)."""
        await self.aclient.request(Call("POST", _data_diff_path(diff_id, "/cancel")))

    def get_data_diff_summary_results(self, diff_id: int | str) -> dict:
        """The structured summary; its shape depends on ``status`` (running/pending, failed, and a
        finished diff reported as "done" (the spec) or "success" (what the older SDK checks for), §4.3)."""
        path = _data_diff_path(diff_id, "/summary_results")
        return self._object(self._call("GET", path), "GET", path)

    # ---- test_connection --------------------------------------------------------------------

    def _probe(self) -> Any:
        """One item of the monitor listing: read-only, free, and needs a valid key."""
        body = self._call("GET", MONITORS_PATH, params={"page": 1, "page_size": 1})
        # A 200 page from the wrong host (a proxy, a login page) must not pass for Datafold.
        return self._object(body, "GET", MONITORS_PATH, must_have="monitors")

    def _not_found_hint(self) -> str:
        # Datafold answered 404 to a bad key on a valid path (data-diff issue #387, §7, §9.11).
        return "Datafold answers 404 to some invalid API keys: check the key and the host"

    # ---- helpers ----------------------------------------------------------------------------

    def _int_field(self, body: Any, field: str, method: str, path: str) -> int:
        """``body[field]`` as the documented integer; anything else fails closed."""
        value = body.get(field) if isinstance(body, dict) else None
        if isinstance(value, bool) or not isinstance(value, int):
            raise unexpected(self.settings, method, path, f"expected an object with an integer {field!r}", body)
        return value


# ---- paths ----------------------------------------------------------------------------------


def _monitor_path(monitor_id: Any) -> str:
    return f"{MONITORS_PATH}/{int_id(monitor_id, 'monitor_id')}"


def _run_path(monitor_id: Any, run_id: Any) -> str:
    return f"{_monitor_path(monitor_id)}/runs/{int_id(run_id, 'run_id')}"


def _data_diff_path(diff_id: Any, suffix: str = "") -> str:
    return f"{DATADIFFS_PATH}/{int_id(diff_id, 'diff_id')}{suffix}"


def _tags_param(tags: Any) -> str | None:
    """Tags as the one comma-separated query value the API takes."""
    if tags is None:
        return None
    names = string_list(tags, "tags")
    with_comma = [name for name in names if "," in name]
    if with_comma:
        raise ConfigurationError(f"tags are sent comma-separated, so a tag cannot contain a comma: {with_comma!r}")
    return ",".join(names)


def _created_before(record: dict, moment: float) -> bool:
    """True only when ``created_at`` is readable and earlier than ``moment``."""
    try:
        return parse_time(record.get("created_at")).timestamp() < moment
    except MonitoringError:
        return False
