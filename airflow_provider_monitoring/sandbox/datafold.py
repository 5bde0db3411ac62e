"""Emulator of the Datafold REST API (classic contract, the vendor notes, docs/vendors/datafold.md §1-§4).

Served under ``/datafold``, so a connection whose host is ``http://127.0.0.1:<port>/datafold``
reaches ``/api/v1/...`` as on ``app.datafold.com``: monitors, runs whose state is computed from
timestamps when read, the data diffs behind diff monitors, FastAPI's error shapes, and the
documented variants switched on by monitor tags. What it serves, its variants and what it leaves
out: docs/sandbox.md, "Datafold".
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from aiohttp import web

from airflow_provider_monitoring._vendors import (
    DATAFOLD_COLUMN_METRICS as COLUMN_METRICS,
    DATAFOLD_DIFF_TYPES as DIFF_TYPES,
    DATAFOLD_METRIC_ALERT_TYPES as METRIC_ALERTS,
    DATAFOLD_METRIC_KINDS as METRIC_KINDS,
    DATAFOLD_MONITOR_TYPES as MONITOR_TYPES,
    DATAFOLD_NOTIFICATION_TYPES as NOTIFICATION_TYPES,
    DATAFOLD_ORDER_BY_FIELDS as ORDER_BY,
    DATAFOLD_SORT_ORDERS as SORT_ORDERS,
    DATAFOLD_STANDARD_TEST_TYPES as TEST_TYPES,
    DATAFOLD_TABLE_METRICS as TABLE_METRICS,
)
from airflow_provider_monitoring.sandbox.core import (
    ApiFailure, MonitorPage, Route, RunChoice, VendorApp, epoch_seconds, json_reply,
)

API = "/api/v1"

FEATURES = ("attach_csv", "notify_first_triggered_only", "disable_recovery_notifications", "notify_every_run")
COMMON_UPDATE_FIELDS = ("name", "description", "schedule", "notifications", "tags", "owner")
UPDATE_FIELDS = {
    "diff": COMMON_UPDATE_FIELDS + ("alert", "datadiff"),
    "metric": COMMON_UPDATE_FIELDS + ("alert",),
    "schema": COMMON_UPDATE_FIELDS,
    "test": COMMON_UPDATE_FIELDS + ("query", "test"),
}
# Fixed at creation (§2.9): sending them in an update is refused like pydantic's extra="forbid".
IMMUTABLE = ("enabled", "connection_id", "metric", "table", "monitor_type")

PAGE_DEFAULTS = {"monitors": 20, "runs": 10}
# Synthetic table size behind every data diff, and the compared columns when none are named.
DIFF_ROWS_TOTAL = 1000
DEFAULT_COMPARED = ("amount", "status")

NULL_STATE, LATE_RUN, SUMMARY_SUCCESS = "sandbox:null-state", "sandbox:late-run", "sandbox:summary-success"
WARNINGS = {
    "learning": ["Not enough history yet: the anomaly detection model is still learning"],
    "skipped": ["Run skipped: the previous run of this monitor was still in progress"],
}


_ABSENT = object()


def _entry(loc: tuple, msg: str, kind: str, value: Any = _ABSENT) -> dict:
    """One pydantic-style entry of a 422 ``{"detail": [...]}``."""
    item = {"loc": list(loc), "msg": msg, "type": kind}
    if value is not _ABSENT:
        item["input"] = value
    return item


def _one_of(values: tuple) -> str:
    quoted = [f"'{v}'" for v in values]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# Pydantic v2's wording for the scalar types the bodies use.
SCALARS: dict[str, tuple[Callable[[Any], bool], str, str]] = {
    "str": (lambda v: isinstance(v, str), "Input should be a valid string", "string_type"),
    "int": (_is_int, "Input should be a valid integer", "int_type"),
    "number": (_is_number, "Input should be a valid number", "float_type"),
    "bool": (lambda v: isinstance(v, bool), "Input should be a valid boolean", "bool_type"),
    "dict": (lambda v: isinstance(v, dict), "Input should be a valid dictionary", "dict_type"),
}


class Checker:
    """Collects the 422 entries of one request body, the way pydantic reports them (all at once)."""

    def __init__(self) -> None:
        self.errors: list[dict] = []

    def fail(self, loc: tuple, msg: str, kind: str, value: Any = _ABSENT) -> None:
        self.errors.append(_entry(loc, msg, kind, value))

    def done(self) -> None:
        if self.errors:
            raise ApiFailure(422, self.errors)

    def given(self, obj: dict, key: str, loc: tuple, required: bool) -> bool:
        """Whether ``obj[key]`` is there to check (null counts as absent unless required)."""
        if key not in obj or (obj[key] is None and not required):
            if required:
                self.fail((*loc, key), "Field required", "missing", obj)
            return False
        return True

    def field(self, obj: dict, key: str, loc: tuple, kind: str, required: bool = False) -> Any:
        """``obj[key]`` checked against ``kind``; None when absent, null or wrong."""
        if not self.given(obj, key, loc, required):
            return None
        test, msg, code = SCALARS[kind]
        if not test(obj[key]):
            self.fail((*loc, key), msg, code, obj[key])
            return None
        return obj[key]

    def listed(self, obj: dict, key: str, loc: tuple, required: bool = False) -> list | None:
        """``obj[key]`` when it is a list; None when absent, null or not a list."""
        if not self.given(obj, key, loc, required):
            return None
        if not isinstance(obj[key], list):
            self.fail((*loc, key), "Input should be a valid list", "list_type", obj[key])
            return None
        return obj[key]

    def strings(self, obj: dict, key: str, loc: tuple, required: bool = False) -> list | None:
        value = self.listed(obj, key, loc, required)
        for index, item in enumerate(value or []):
            if not isinstance(item, str):
                self.fail((*loc, key, index), "Input should be a valid string", "string_type", item)
        return value

    def choice(self, obj: dict, key: str, loc: tuple, allowed: tuple, required: bool = False) -> Any:
        value = self.field(obj, key, loc, "str", required)
        if value is not None and value not in allowed:
            self.fail((*loc, key), f"Input should be {_one_of(allowed)}", "enum", value)
            return None
        return value

    def tag(self, value: Any, key: str, loc: tuple, allowed: tuple) -> str | None:
        """The discriminator of a tagged union (pydantic's two tag errors otherwise)."""
        if not isinstance(value, dict):
            self.fail(loc, "Input should be a valid dictionary or object to extract fields from",
                      "model_attributes_type", value)
            return None
        if value.get(key) is None:
            self.fail(loc, f"Unable to extract tag using discriminator '{key}'", "union_tag_not_found", value)
            return None
        if value[key] not in allowed:
            self.fail(loc, f"Input tag '{value[key]}' found using '{key}' does not match any of the expected "
                           f"tags: {', '.join(repr(t) for t in allowed)}", "union_tag_invalid", value)
            return None
        return value[key]


# ---- body validation ------------------------------------------------------------------------


def _check_common(check: Checker, body: dict, creating: bool) -> None:
    """name/schedule/description/enabled/notifications/tags/owner (create and update alike)."""
    loc = ("body",)
    check.field(body, "name", loc, "str", required=creating)
    wants_schedule = creating or body.get("schedule") is not None
    if wants_schedule and check.field(body, "schedule", loc, "dict", required=creating) is not None:
        _check_schedule(check, body["schedule"], ("body", "schedule"))
    check.field(body, "description", loc, "str")
    check.field(body, "owner", loc, "str")
    if creating:
        check.field(body, "enabled", loc, "bool")
    check.strings(body, "tags", loc)
    for index, item in enumerate(check.listed(body, "notifications", loc) or []):
        _check_notification(check, item, ("body", "notifications", index))


def _check_schedule(check: Checker, schedule: dict, loc: tuple) -> None:
    # A plain anyOf matched on shape (§2.8); {} matches the none schedule, as the docs warn.
    if "interval" in schedule:
        interval = schedule["interval"]
        every = check.tag(interval, "every", (*loc, "interval"), ("hour", "day"))
        if every is not None:
            wanted = {"hour": "hourly", "day": "daily"}[every]
            if interval.get("type", wanted) != wanted:
                check.fail((*loc, "interval", every, "type"), f"Input should be '{wanted}'", "literal_error",
                           interval["type"])
            hour = check.field(interval, "hour", (*loc, "interval", every), "int")
            if hour is not None and not 0 <= hour <= 23:
                check.fail((*loc, "interval", every, "hour"), "Input should be an hour of the day (0-23)",
                           "value_error", hour)
    elif "cron" in schedule:
        check.field(schedule, "cron", loc, "str", required=True)
        if schedule.get("type", "crontab") != "crontab":
            check.fail((*loc, "type"), "Input should be 'crontab'", "literal_error", schedule["type"])
    elif schedule.get("type", "none") != "none":
        check.fail(loc, "Input should be an interval, cron or none schedule", "union_error", schedule)


def _check_notification(check: Checker, item: Any, loc: tuple) -> None:
    kind = check.tag(item, "type", loc, NOTIFICATION_TYPES)
    if kind is None:
        return
    loc = (*loc, kind)
    if kind == "email":
        check.strings(item, "recipients", loc, required=True)
    else:
        check.field(item, "integration", loc, "int", required=True)
    if kind in ("slack", "teams"):
        check.field(item, "channel", loc, "str", required=True)
    features = check.strings(item, "features", loc) or []
    for index, feature in enumerate(features):
        if isinstance(feature, str) and feature not in FEATURES:
            check.fail((*loc, "features", index), f"Input should be {_one_of(FEATURES)}", "enum", feature)


def _check_diff(check: Checker, body: dict, creating: bool) -> None:
    if creating or body.get("datadiff") is not None:
        if creating and "datadiff" not in body:
            check.fail(("body", "datadiff"), "Field required", "missing", body)
        else:
            _check_datadiff(check, body["datadiff"], creating)
    if body.get("alert") is not None and check.field(body, "alert", ("body",), "dict") is not None:
        loc = ("body", "alert")
        check.field(body["alert"], "different_rows_count", loc, "int")
        check.field(body["alert"], "different_rows_percent", loc, "int")
        ratio = check.field(body["alert"], "match_ratio_min", loc, "number")
        if ratio is not None and not 0.0 <= ratio <= 1.0:
            check.fail((*loc, "match_ratio_min"), "Input should be between 0 and 1", "value_error", ratio)


def _check_datadiff(check: Checker, datadiff: Any, creating: bool) -> None:
    diff_type = check.tag(datadiff, "diff_type", ("body", "datadiff"), DIFF_TYPES)
    if diff_type is None:
        return
    loc = ("body", "datadiff", diff_type)
    check.strings(datadiff, "primary_key", loc, required=creating)
    for key in ("columns_to_compare", "include_columns", "exclude_columns"):
        check.strings(datadiff, key, loc)
    for key in ("ignore_string_case", "materialize_results", "compare_duplicates"):
        check.field(datadiff, key, loc, "bool")
    for side in ("dataset_a", "dataset_b"):
        if not creating:
            if side in datadiff:
                check.fail((*loc, side), "Extra inputs are not permitted", "extra_forbidden", datadiff[side])
        elif check.field(datadiff, side, loc, "dict", required=True) is not None:
            _check_dataset(check, datadiff[side], (*loc, side))


def _check_dataset(check: Checker, dataset: dict, loc: tuple) -> None:
    check.field(dataset, "connection_id", loc, "int", required=True)
    # Table and query datasets are an anyOf told apart by which key is present (§2.4).
    if dataset.get("table") is None and dataset.get("query") is None:
        check.fail((*loc, "table"), "Field required (a dataset needs 'table' or 'query')", "missing", dataset)
    check.field(dataset, "table", loc, "str")
    check.field(dataset, "query", loc, "str")
    check.field(dataset, "filter", loc, "str")


def _check_metric(check: Checker, body: dict, creating: bool) -> None:
    if creating:
        check.field(body, "connection_id", ("body",), "int", required=True)
        if "metric" not in body:
            check.fail(("body", "metric"), "Field required", "missing", body)
        else:
            _check_metric_config(check, body["metric"])
    if body.get("alert") is not None:
        kind = check.tag(body["alert"], "type", ("body", "alert"), METRIC_ALERTS)
        if kind == "automatic":
            sensitivity = check.field(body["alert"], "sensitivity", ("body", "alert", kind), "int", required=True)
            if sensitivity is not None and not 0 <= sensitivity <= 100:
                check.fail(("body", "alert", kind, "sensitivity"), "Input should be between 0 and 100",
                           "value_error", sensitivity)


def _check_metric_config(check: Checker, metric: Any) -> None:
    kind = check.tag(metric, "type", ("body", "metric"), METRIC_KINDS)
    loc = ("body", "metric", kind)
    if kind == "table":
        check.choice(metric, "metric", loc, TABLE_METRICS, required=True)
    elif kind == "column":
        check.field(metric, "table", loc, "str", required=True)
        check.field(metric, "column", loc, "str", required=True)
        check.choice(metric, "metric", loc, COLUMN_METRICS, required=True)
    elif kind == "custom":
        check.field(metric, "query", loc, "str", required=True)


def _check_test(check: Checker, body: dict, creating: bool) -> None:
    if creating:
        check.field(body, "connection_id", ("body",), "int", required=True)
    check.field(body, "query", ("body",), "str")
    if body.get("test") is not None:
        kind = check.tag(body["test"], "type", ("body", "test"), TEST_TYPES)
        if kind is not None:
            check.listed(body["test"], "tables", ("body", "test", kind))
    given = [key for key in ("query", "test") if body.get(key) is not None]
    # Unknown what the server does with both or neither (§9.16); refusing is the safe emulation.
    if len(given) > 1 or (creating and not given):
        check.fail(("body",), "Value error, exactly one of 'query' or 'test' is required", "value_error",
                   {key: body.get(key) for key in ("query", "test")})


def _check_schema(check: Checker, body: dict, creating: bool) -> None:
    if creating:
        check.field(body, "connection_id", ("body",), "int", required=True)
        check.field(body, "table", ("body",), "str")


TYPE_CHECKS = {"diff": _check_diff, "metric": _check_metric, "test": _check_test, "schema": _check_schema}


def validate_create(monitor_type: str, body: Any) -> dict:
    if not isinstance(body, dict):
        raise ApiFailure(422, [_entry(("body",), "Input should be a valid dictionary or object to extract fields "
                                      "from", "model_attributes_type", body)])
    check = Checker()
    _check_common(check, body, creating=True)
    TYPE_CHECKS[monitor_type](check, body, True)
    check.done()
    return body


def validate_update(body: Any, monitor: dict) -> dict:
    check = Checker()
    kind = check.tag(body, "type", ("body",), MONITOR_TYPES)
    check.done()
    if kind != monitor["monitor_type"]:
        raise ApiFailure(422, [_entry(("body", "type"), f"Input should be '{monitor['monitor_type']}': monitor "
                                      f"{monitor['id']} is a {monitor['monitor_type']} monitor", "value_error", kind)])
    for key in IMMUTABLE:
        if key in body and key not in UPDATE_FIELDS[kind]:
            check.fail(("body", kind, key), "Extra inputs are not permitted", "extra_forbidden", body[key])
    _check_common(check, body, creating=False)
    TYPE_CHECKS[kind](check, body, False)
    check.done()
    return body


# ---- request parsing ------------------------------------------------------------------------


def path_int(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    if not raw.isdigit():
        raise ApiFailure(422, [_entry(("path", name), "Input should be a valid integer, unable to parse string "
                                      "as an integer", "int_parsing", raw)])
    return int(raw)


def query_page(request: web.Request, kind: str, check: Checker) -> tuple[int, int]:
    values = []
    for name, default in (("page", 1), ("page_size", PAGE_DEFAULTS[kind])):
        raw = request.query.get(name)
        value = default
        if raw is not None:
            try:
                value = int(raw)
            except ValueError:
                check.fail(("query", name), "Input should be a valid integer, unable to parse string as an integer",
                           "int_parsing", raw)
            else:
                if value < 1:
                    check.fail(("query", name), "Input should be greater than or equal to 1",
                               "greater_than_equal", raw)
        values.append(value)
    return values[0], values[1]


def query_choice(request: web.Request, name: str, allowed: tuple, check: Checker) -> str | None:
    raw = request.query.get(name)
    if raw is not None and raw not in allowed:
        check.fail(("query", name), f"Input should be {_one_of(allowed)}", "enum", raw)
        return None
    return raw


def query_time(request: web.Request, name: str, check: Checker) -> float | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    # A "+" in an unencoded query arrives as a space. Naive timestamps are read as UTC (§9.10).
    moment = epoch_seconds(raw.replace(" ", "+"))
    if moment is None:
        check.fail(("query", name), "Input should be a valid datetime", "datetime_from_date_parsing", raw)
    return moment


def page_of(key: str, items: list, page: int, page_size: int, render: Callable[[Any], dict]) -> dict:
    start = (page - 1) * page_size
    return {"count": len(items), "page": page, "page_size": page_size, "total_pages": math.ceil(len(items) / page_size),
            key: [render(item) for item in items[start:start + page_size]]}


# ---- the emulator ---------------------------------------------------------------------------


class DatafoldApp(VendorApp):
    """Handlers over ``context.state["datafold"]``: ``monitors``/``runs``/``diffs`` keyed by str(id)."""

    vendor = "datafold"
    tables = ("monitors", "runs", "diffs", "settings")
    # A run (and its diff) is created for the first 10 % of its duration, queued until 25 %, then checking.
    phases = (("created", 0.10), ("queued", 0.25), ("checking", 1.0))
    head_on_get = False  # FastAPI answers HEAD on a GET route with 405
    monitor_pages = True

    def routes(self) -> list[Route]:
        return [
            ("GET", API + "/monitors", self.list_monitors),
            ("POST", API + "/monitors/create/{kind}", self.create_monitor),
            ("GET", API + "/monitors/{id}", self.get_monitor),
            ("DELETE", API + "/monitors/{id}", self.delete_monitor),
            ("PATCH", API + "/monitors/{id}/update", self.update_monitor),
            ("PUT", API + "/monitors/{id}/toggle", self.toggle_monitor),
            ("POST", API + "/monitors/{id}/run", self.run_monitor),
            ("GET", API + "/monitors/{id}/runs", self.list_runs),
            ("GET", API + "/monitors/{id}/runs/{run_id}", self.get_run),
            ("GET", API + "/datadiffs/{datadiff_id}", self.get_diff),
            ("GET", API + "/datadiffs/{datadiff_id}/summary", self.get_summary),
            ("GET", API + "/datadiffs/{datadiff_id}/summary_results", self.get_summary_results),
            ("POST", API + "/datadiffs/{datadiff_id}/cancel", self.cancel_diff),
        ]

    # ---- auth and errors: FastAPI's {"detail": ...} ----------------------------------------------

    def sent_key(self, header: str | None) -> str | None:
        scheme, _, key = (header or "").partition(" ")
        return key.strip() if scheme == "Key" else None

    def refusal(self, request: web.Request, header: str | None) -> ApiFailure:
        # Datafold has answered a bad key with 404 (data-diff issue #387); seeded per state.
        if self.store["settings"].get("bad_key_status") == 404:
            return ApiFailure(404, "Not Found")
        if not header:
            message = "Not authenticated: send 'Authorization: Key <api key>'"
        elif header.partition(" ")[0] != "Key":
            message = "Invalid authorization scheme: expected 'Key <api key>'"
        else:
            message = "Invalid API key"  # never echo the key back
        return ApiFailure(401, message, headers={"WWW-Authenticate": "Key"})

    def error_body(self, request: web.Request, failure: ApiFailure) -> dict:
        return {"detail": failure.detail}

    def body_failure(self, error: ValueError | None) -> ApiFailure:
        if error is None or isinstance(error, json.JSONDecodeError) and not error.doc.strip():
            return ApiFailure(422, [_entry(("body",), "Field required", "missing", None)])  # blank reads as none
        if not isinstance(error, json.JSONDecodeError):  # bytes that are not text: FastAPI's answer
            return ApiFailure(400, "There was an error parsing the body")
        return ApiFailure(422, [{"loc": ["body", error.pos], "msg": "JSON decode error", "type": "json_invalid",
                                 "ctx": {"error": error.msg}}])

    # ---- state ----------------------------------------------------------------------------------

    @property
    def runs(self) -> dict[str, dict]:
        return self.store["runs"]

    @property
    def diffs(self) -> dict[str, dict]:
        return self.store["diffs"]

    def iso(self, moment: float | None, millis: bool = True) -> str | None:
        return super().iso(moment, millis)  # Datafold's timestamps carry milliseconds

    # ---- lookups --------------------------------------------------------------------------------

    def monitor(self, monitor_id: int) -> dict:
        return self.found(self.monitors.get(str(monitor_id)), f"Monitor {monitor_id} not found")

    def run_of(self, monitor: dict, run_id: int) -> dict:
        run = self.runs.get(str(run_id), {})
        return self.found(run if run.get("monitor_id") == monitor["id"] else None,
                          f"Run {run_id} of monitor {monitor['id']} not found")

    def diff(self, diff_id: int) -> dict:
        return self.found(self.diffs.get(str(diff_id)), f"Data diff {diff_id} not found")

    def monitor_keys(self, monitor: dict) -> tuple:
        return str(monitor["id"]), monitor["name"], *(monitor.get("tags") or ())

    def schedulable(self, monitor: dict) -> bool:
        return monitor["enabled"]

    # ---- run state ------------------------------------------------------------------------------

    def run_state(self, run: dict, now: float) -> str:
        current = self.phase(run, now)
        return run["outcome"] if current == "done" else current

    def started_ts(self, run: dict, now: float) -> float | None:
        # started_at stays null until the run leaves the queue (§2.14).
        if self.phase(run, now) in ("created", "queued"):
            return None
        return self.phase_start(run, "checking")

    def run_item(self, run: dict, now: float, null_state: bool = False) -> dict:
        state = self.run_state(run, now)
        if null_state and state in ("created", "queued"):
            state = None
        return {"run_id": run["run_id"], "monitor_id": run["monitor_id"], "diff_id": run["diff_id"],
                "started_at": self.iso(self.started_ts(run, now)), "state": state}

    def run_detail(self, run: dict, now: float) -> dict:
        state = self.run_state(run, now)
        terminal = self.phase(run, now) == "done"
        return {**self.run_item(run, now), "warnings": list(WARNINGS.get(state, [])) if terminal else [],
                "error": run["error"] if terminal else None}

    # ---- monitors -------------------------------------------------------------------------------

    def latest_run(self, monitor: dict) -> dict | None:
        run_ids = monitor["run_ids"]
        return self.runs.get(str(run_ids[-1])) if run_ids else None

    def last_alert(self, monitor: dict, now: float) -> str | None:
        for run_id in reversed(monitor["run_ids"]):
            run = self.runs[str(run_id)]
            if self.run_state(run, now) == "alert":
                return self.iso(run["created_ts"] + run["seconds"])
        return None

    def summary(self, monitor: dict, now: float) -> dict:
        latest = self.latest_run(monitor)
        return {
            "id": monitor["id"], "name": monitor["name"], "monitor_type": monitor["monitor_type"],
            "created_at": self.iso(monitor["created_ts"]), "modified_at": self.iso(monitor["modified_ts"]),
            "enabled": monitor["enabled"], "last_alert": self.last_alert(monitor, now),
            "last_run": None if latest is None else self.iso(latest["created_ts"]), "owner": monitor.get("owner"),
            "state": None if latest is None else self.run_state(latest, now), "tags": monitor.get("tags"),
        }

    def full(self, monitor: dict, now: float) -> dict:
        alert = monitor.get("alert")
        if alert is not None and monitor["monitor_type"] == "diff":
            alert = {"type": "diff", **alert}  # GET tags the diff alert; create/update bodies do not (§2.2)
        return {**self.summary(monitor, now), "schedule": monitor["schedule"], "alert": alert,
                "dataset": datasets_of(monitor), "description": monitor.get("description"),
                "notifications": monitor.get("notifications") or []}

    def monitor_page(self, monitor_id: str) -> MonitorPage | None:
        monitor = self.monitors.get(monitor_id)
        if monitor is None:
            return None
        now = self.now()
        facts = [("type", monitor["monitor_type"]), ("enabled", "yes" if monitor["enabled"] else "no"),
                 ("tags", ", ".join(monitor.get("tags") or ()) or None)]
        runs = []
        for run_id in reversed(monitor["run_ids"]):
            run = self.runs[str(run_id)]
            finished = run["created_ts"] + run["seconds"] if self.phase(run, now) == "done" else None
            runs.append((run["run_id"], self.run_state(run, now), self.iso(run["created_ts"]),
                         self.iso(self.started_ts(run, now)), self.iso(finished)))
        return MonitorPage(monitor["name"], facts, runs)

    async def list_monitors(self, request: web.Request) -> web.Response:
        check = Checker()
        page, page_size = query_page(request, "monitors", check)
        order_by = query_choice(request, "order_by", ORDER_BY, check)
        sort_order = query_choice(request, "sort_order", SORT_ORDERS, check) or "desc"
        check.done()
        now = self.now()
        wanted = {tag for tag in request.query.get("tags", "").split(",") if tag}
        items = [m for m in self.monitors.values() if not wanted or wanted & set(m.get("tags") or ())]
        items.sort(key=self.sort_key(order_by or "id"), reverse=sort_order == "desc")
        return json_reply(page_of("monitors", items, page, page_size, lambda m: self.summary(m, now)))

    def sort_key(self, order_by: str) -> Callable[[dict], tuple]:
        def latest_ts(monitor: dict) -> float:
            latest = self.latest_run(monitor)
            return 0.0 if latest is None else latest["created_ts"]

        primary: dict[str, Callable[[dict], Any]] = {
            "id": lambda m: 0,
            "name": lambda m: m["name"] or "",
            "last_triggered": latest_ts,
            "last_run": latest_ts,
            "created_by": lambda m: m.get("created_by", ""),
        }
        pick = primary[order_by]
        return lambda m: (pick(m), m["id"])

    async def get_monitor(self, request: web.Request) -> web.Response:
        return json_reply(self.full(self.monitor(path_int(request, "id")), self.now()))

    async def create_monitor(self, request: web.Request) -> web.Response:
        monitor_type = request.match_info["kind"]
        if monitor_type not in MONITOR_TYPES:
            raise ApiFailure(404, "Not Found")
        body = validate_create(monitor_type, await self.json_body(request))
        monitor_id = self.context.next_int(self.vendor, "monitor")
        now = self.now()
        # The body is kept whole (GET serves parts of it); the sandbox's own keys are written last.
        monitor = {**body, "id": monitor_id, "monitor_type": monitor_type, "enabled": body.get("enabled", True),
                   "created_ts": now, "modified_ts": now, "created_by": "sandbox@example.com", "run_ids": []}
        self.monitors[str(monitor_id)] = monitor
        self.context.saved()
        return json_reply({"id": monitor_id})

    async def update_monitor(self, request: web.Request) -> web.Response:
        monitor = self.monitor(path_int(request, "id"))
        body = validate_update(await self.json_body(request), monitor)
        for key in UPDATE_FIELDS[monitor["monitor_type"]]:
            if key == "datadiff" and body.get(key) is not None:
                # The update config is partial (every field optional): merge it into the stored one.
                monitor["datadiff"] = {**monitor.get("datadiff", {}), **body["datadiff"]}
            elif key in body:
                monitor[key] = body[key]
        monitor["modified_ts"] = self.now()
        self.context.saved()
        return json_reply({"id": monitor["id"]})

    async def delete_monitor(self, request: web.Request) -> web.Response:
        monitor = self.monitor(path_int(request, "id"))
        for run_id in monitor["run_ids"]:
            self.runs.pop(str(run_id), None)
        del self.monitors[str(monitor["id"])]
        self.context.saved()
        return json_reply({"id": monitor["id"]})

    async def toggle_monitor(self, request: web.Request) -> web.Response:
        monitor = self.monitor(path_int(request, "id"))
        body = await self.json_body(request)
        check = Checker()
        if not isinstance(body, dict):
            check.fail(("body",), "Input should be a valid dictionary", "dict_type", body)
        else:
            check.field(body, "enabled", ("body",), "bool", required=True)
        check.done()
        monitor["enabled"] = body["enabled"]
        monitor["modified_ts"] = self.now()
        self.context.saved()
        return json_reply({"id": monitor["id"], "enabled": monitor["enabled"]})

    # ---- runs -----------------------------------------------------------------------------------

    async def run_monitor(self, request: web.Request) -> web.Response:
        run = self.start_run(self.monitor(path_int(request, "id")))
        self.context.saved()
        return json_reply({"run_id": run["run_id"]})

    def start_run(self, monitor: dict, choice: RunChoice | None = None) -> dict:
        outcome, seconds = self.outcome(monitor, choice)
        run_id = self.context.next_int(self.vendor, "run")
        now = self.now()
        error = f"Query failed on the data source (sandbox outcome 'error' for monitor {monitor['id']})"
        run = {"run_id": run_id, "monitor_id": monitor["id"], "created_ts": now, "seconds": max(float(seconds), 0.0),
               "outcome": outcome, "error": error if outcome == "error" else None, "diff_id": None}
        if monitor["monitor_type"] == "diff":
            run["diff_id"] = self.new_diff(monitor, run)
        self.runs[str(run_id)] = run
        monitor["run_ids"].append(run_id)
        return run

    def run_answer(self, monitor: dict, run: dict) -> dict:
        return self.control_answer(monitor["id"], run["run_id"], run["outcome"], run["created_ts"], run["seconds"])

    async def list_runs(self, request: web.Request) -> web.Response:
        check = Checker()  # parameters are validated before the monitor is looked up, as in FastAPI
        page, page_size = query_page(request, "runs", check)
        start, end = query_time(request, "start_time", check), query_time(request, "end_time", check)
        check.done()
        monitor = self.monitor(path_int(request, "id"))
        now = self.now()
        runs = [self.runs[str(run_id)] for run_id in reversed(monitor["run_ids"])]  # newest first
        runs = [r for r in runs if (start is None or r["created_ts"] >= start) and (end is None or r["created_ts"] <= end)]
        null_state = NULL_STATE in (monitor.get("tags") or ())
        return json_reply(page_of("runs", runs, page, page_size, lambda r: self.run_item(r, now, null_state)))

    async def get_run(self, request: web.Request) -> web.Response:
        monitor = self.monitor(path_int(request, "id"))
        run = self.run_of(monitor, path_int(request, "run_id"))
        now = self.now()
        if LATE_RUN in (monitor.get("tags") or ()) and self.run_state(run, now) == "created":
            raise ApiFailure(404, f"Run {run['run_id']} of monitor {monitor['id']} not found")
        return json_reply(self.run_detail(run, now))

    # ---- data diffs -----------------------------------------------------------------------------

    def new_diff(self, monitor: dict, run: dict) -> int:
        """The data diff behind a diff monitor's run: a snapshot, so it outlives the monitor."""
        diff_id = self.context.next_int(self.vendor, "datadiff")
        config = monitor.get("datadiff") or {}
        side_a, side_b = config.get("dataset_a") or {}, config.get("dataset_b") or {}
        self.diffs[str(diff_id)] = {
            "id": diff_id, "monitor_id": monitor["id"], "run_id": run["run_id"], "created_ts": run["created_ts"],
            "seconds": run["seconds"], "outcome": run["outcome"], "error": run["error"],
            "kind": "cross_db" if config.get("diff_type") == "inmem" else "in_db",
            "data_source1_id": side_a.get("connection_id"),
            "data_source2_id": side_b.get("connection_id"),
            "table1": _table_path(side_a), "table2": _table_path(side_b),
            "query1": side_a.get("query"), "query2": side_b.get("query"),
            "filter1": side_a.get("filter"), "filter2": side_b.get("filter"),
            "pk_columns": config.get("primary_key") or [],
            "include_columns": config.get("include_columns") or config.get("columns_to_compare"),
            "exclude_columns": config.get("exclude_columns"),
            "diff_rows": differing_rows(run["outcome"], monitor.get("alert")),
            "summary_status": "success" if SUMMARY_SUCCESS in (monitor.get("tags") or ()) else "done",
            "tags": monitor.get("tags"),
        }
        return diff_id

    def diff_view(self, diff: dict, now: float) -> dict:
        """What every diff endpoint shares: status, result, timestamps, statistics."""
        current = self.phase(diff, now)
        if current != "done":
            status = {"created": "waiting", "queued": "queued", "checking": "processing"}[current]
        else:
            status = {"error": "failed", "cancelled": "cancelled"}.get(diff["outcome"], "done")
        result = {"done": "different" if diff["diff_rows"] else "identical", "failed": "error"}.get(status)
        return {"status": status, "result": result, "created_at": self.iso(diff["created_ts"]),
                "finished_at": self.iso(diff["created_ts"] + diff["seconds"]) if current == "done" else None,
                "diff_stats": diff_stats(diff) if status == "done" else None}

    async def get_diff(self, request: web.Request) -> web.Response:
        diff = self.diff(path_int(request, "datadiff_id"))
        view = self.diff_view(diff, self.now())
        steps = {"waiting": 0, "queued": 0, "processing": 2}.get(view["status"], 4)
        body = {key: diff[key] for key in DIFF_FIELDS}
        body.update(view)
        body.update({
            "done": view["finished_at"] is not None,
            "runtime": diff["seconds"] if view["finished_at"] else None,
            "monitor_error": _error_of(diff) if view["status"] == "failed" else None,
            "diff_progress": {"version": "1", "completed_steps": steps, "total_steps": 4},
            "result_statuses": {}, "result_revisions": {},
        })
        return json_reply(body)

    async def cancel_diff(self, request: web.Request) -> web.Response:
        """Stop a diff now: it and its run end ``cancelled``; a finished diff is left as it is (§4.4)."""
        diff = self.diff(path_int(request, "datadiff_id"))
        now = self.now()
        if self.phase(diff, now) != "done":
            run = self.runs.get(str(diff["run_id"]))
            for item in (diff, run) if run is not None else (diff,):
                item["seconds"] = max(now - item["created_ts"], 0.0)
                item["outcome"], item["error"] = "cancelled", None
            self.context.saved()
        return json_reply({"id": diff["id"], "status": self.diff_view(diff, now)["status"]})

    async def get_summary(self, request: web.Request) -> web.Response:
        diff = self.diff(path_int(request, "datadiff_id"))
        view = self.diff_view(diff, self.now())
        body = {key: diff[key] for key in ("id", "data_source1_id", "data_source2_id", "table1", "table2",
                                           "pk_columns", "include_columns")}
        body.update(view)
        body.update({
            "algorithm": "hashdiff" if diff["kind"] == "cross_db" else "join",
            "data_source1_name": f"sandbox source {diff['data_source1_id']}",
            "data_source2_name": f"sandbox source {diff['data_source2_id']}",
            "sampling_ratio": None,
            "error": diff["error"] if view["status"] == "failed" else None,
            "feedback": feedback(diff, view["status"]),
            "results_count": diff["diff_rows"] if view["status"] == "done" else 0,
        })
        return json_reply(body)

    async def get_summary_results(self, request: web.Request) -> web.Response:
        diff = self.diff(path_int(request, "datadiff_id"))
        status = self.diff_view(diff, self.now())["status"]
        if status in ("waiting", "queued"):
            return json_reply({"status": "pending"})
        if status == "processing":
            return json_reply({"status": "running"})
        if status in ("failed", "cancelled"):
            # The summary_results union has no cancelled branch (§4.3): a cancelled diff reads as failed.
            return json_reply({"status": "failed", "error": _error_of(diff)})
        return json_reply({"status": diff["summary_status"], **done_results(diff)})


# ---- data diff synthesis --------------------------------------------------------------------

DIFF_FIELDS = ("id", "monitor_id", "kind", "data_source1_id", "data_source2_id", "table1", "table2", "query1",
               "query2", "filter1", "filter2", "pk_columns", "include_columns", "exclude_columns", "tags")


def _table_path(dataset: dict) -> list[str] | None:
    table = dataset.get("table")
    return table.split(".") if isinstance(table, str) else None


def _error_of(diff: dict) -> dict:
    if diff["outcome"] == "cancelled":
        return {"error_type": "DataDiffCancelled", "error_value": "The data diff was cancelled", "is_retryable": False}
    return {"error_type": "QueryError", "error_value": diff["error"] or "query failed", "is_retryable": False}


def differing_rows(outcome: str, alert: dict | None) -> int:
    """Rows that differ: none unless the run alerts, then just past every threshold the alert has."""
    if outcome != "alert":
        return 0
    alert = alert or {}
    rows = 3
    if alert.get("different_rows_count") is not None:
        rows = max(rows, alert["different_rows_count"] + 1)
    if alert.get("different_rows_percent") is not None:
        rows = max(rows, math.floor(alert["different_rows_percent"] * DIFF_ROWS_TOTAL / 100) + 1)
    if alert.get("match_ratio_min") is not None:
        rows = max(rows, math.floor((1 - alert["match_ratio_min"]) * DIFF_ROWS_TOTAL) + 1)
    return min(rows, DIFF_ROWS_TOTAL)


def compared_columns(diff: dict) -> list[str]:
    return list(diff["include_columns"] or DEFAULT_COMPARED)


def diff_stats(diff: dict) -> dict:
    rows = diff["diff_rows"]
    share = rows / DIFF_ROWS_TOTAL
    return {
        "version": "2", "match_ratio": 1 - share, "diff_rows_count": rows, "diff_rows_number": rows,
        "diff_rows": share, "diff_pks": 0.0, "diff_values": share / len(compared_columns(diff)),
        "diff_schema": 0.0, "diff_null_pks": 0, "diff_duplicate_pks": 0, "rows_added": 0, "rows_removed": 0,
        "table_a_row_count": DIFF_ROWS_TOTAL, "table_b_row_count": DIFF_ROWS_TOTAL, "sampled": False, "errors": 0,
    }


def done_results(diff: dict) -> dict:
    rows, columns = diff["diff_rows"], compared_columns(diff)
    pair = [DIFF_ROWS_TOTAL, DIFF_ROWS_TOTAL]
    values = {
        "total_rows": DIFF_ROWS_TOTAL, "rows_with_differences": rows, "total_values": DIFF_ROWS_TOTAL * len(columns),
        "values_with_differences": rows, "compared_columns": len(columns), "columns_with_differences": 1 if rows else 0,
        "columns_diff_stats": [
            {"column_name": name, "match": 100 * (1 - rows / DIFF_ROWS_TOTAL) if index == 0 else 100.0,
             "values_different": rows if index == 0 else 0}
            for index, name in enumerate(columns)
        ],
    }
    pks = {"total_rows": pair, "nulls": [0, 0], "dupes": [0, 0], "exclusives": [0, 0], "distincts": pair}
    if diff["kind"] == "cross_db":
        return {"pks": pks, "values": values}  # ApiCrossDataDiffSummaryForDone
    width = len(diff["pk_columns"]) + len(columns)
    schema = {"columns_mismatched": [0, 0], "column_type_mismatches": 0, "column_reorders": 0,
              "column_counts": [width, width], "column_type_differs": [], "exclusive_columns": [[], []]}
    return {"pks": pks, "schema": schema, "dependencies": {}, "materialized_results": {}, "values": values}


def feedback(diff: dict, status: str) -> str:
    if status == "done":
        rows = diff["diff_rows"]
        if not rows:
            return f"The datasets are identical: {DIFF_ROWS_TOTAL} rows compared."
        return f"{rows} of {DIFF_ROWS_TOTAL} rows differ (1 column with differences)."
    if status in ("failed", "cancelled"):
        return _error_of(diff)["error_value"]
    return "The data diff is still running."


def datasets_of(monitor: dict) -> list[dict]:
    """The flattened ``dataset`` entries GET returns instead of the type's own config (§2.2)."""
    blank = {"connection_id": monitor.get("connection_id"), "table": None, "column": None, "metric": None,
             "query": None, "filter": None}
    kind = monitor["monitor_type"]
    if kind == "diff":
        config = monitor.get("datadiff") or {}
        return [{**blank, **{k: side.get(k) for k in ("connection_id", "table", "query", "filter")}}
                for side in (config.get("dataset_a") or {}, config.get("dataset_b") or {})]
    if kind == "metric":
        metric = monitor.get("metric") or {}
        return [{**blank, **{k: metric.get(k) for k in ("table", "column", "metric", "query", "filter")}}]
    if kind == "test" and monitor.get("test"):
        tables = monitor["test"].get("tables") or []
        return [{**blank, "table": t.get("path"), "column": ",".join(t.get("columns") or []) or None}
                for t in tables if isinstance(t, dict)] or [blank]
    if kind == "test":
        return [{**blank, "query": monitor.get("query")}]
    return [{**blank, "table": monitor.get("table")}]
