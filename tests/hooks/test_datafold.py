"""DatafoldHook against a real HTTP server on 127.0.0.1: what goes over the wire, what comes back."""

from __future__ import annotations

import copy
import socket
import time
from datetime import datetime, timedelta, timezone
from types import MappingProxyType

import pytest

from airflow_provider_monitoring._http.errors import (
    AmbiguousRequestError,
    ConfigurationError,
    UnexpectedResponseError,
    ValidationError,
)
from airflow_provider_monitoring.hooks.datafold import DatafoldHook
from tests.conftest import API_KEY, Reply

MONITORS = "/api/v1/monitors"


def now_iso(offset_seconds: float = 0.0) -> str:
    return datetime.fromtimestamp(time.time() + offset_seconds, tz=timezone.utc).isoformat()


@pytest.fixture
def hook(api, connection) -> DatafoldHook:
    connection("datafold_default", "datafold", api.url)
    return DatafoldHook()


def assert_sent_by_hook(seen) -> None:
    """The documented auth header and our User-Agent on a request."""
    assert seen.headers["Authorization"] == f"Key {API_KEY}"
    assert seen.headers["User-Agent"].startswith("airflow-provider-monitoring/")
    assert seen.headers["Accept"] == "application/json"


def page_of(key: str, items: list, page: int, total_pages: int) -> dict:
    return {key: items, "page": page, "page_size": 100, "total_pages": total_pages, "count": 7}


# ---- construction -------------------------------------------------------------------------------


def test_class_attributes_and_constructor_stay_offline(api):
    hook = DatafoldHook(datafold_conn_id="no_such_connection")
    assert hook.datafold_conn_id == "no_such_connection"
    assert hook.conn_id == "no_such_connection"
    assert DatafoldHook.conn_name_attr == "datafold_conn_id"
    assert DatafoldHook.default_conn_name == "datafold_default"
    assert DatafoldHook.conn_type == "datafold"
    assert DatafoldHook.hook_name == "Datafold"
    assert DatafoldHook().datafold_conn_id == "datafold_default"
    assert hook._settings is None  # the connection is not even looked up yet
    assert api.seen == []


def test_named_connection_is_used(api, connection):
    connection("datafold_eu", "datafold", api.url)
    api.on("GET", f"{MONITORS}/3", {"id": 3, "name": "m"})
    assert DatafoldHook(datafold_conn_id="datafold_eu").get_monitor(3)["id"] == 3
    assert_sent_by_hook(api.seen[0])


# ---- list_monitors ------------------------------------------------------------------------------


def test_list_monitors_walks_every_page_once_with_filters_on_the_wire(api, hook):
    pages = {
        1: [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}, {"id": 3, "name": "c"}],
        2: [{"id": 4, "name": "d"}, {"id": 5, "name": "e"}],
        3: [{"id": 6, "name": "f"}, {"id": 7, "name": "g"}],
        # Served only if total_pages were ignored.
        4: [{"id": 99, "name": "beyond total_pages"}],
    }

    def reply(seen):
        page = int(seen.q("page"))
        return Reply(json=page_of("monitors", pages[page], page, 3))

    api.on("GET", MONITORS, reply)
    monitors = list(hook.list_monitors(tags=["prod", "airflow"], order_by="last_run", sort_order="asc"))

    assert [m["id"] for m in monitors] == [1, 2, 3, 4, 5, 6, 7]
    sent = api.requests_to("GET", MONITORS)
    assert [s.q("page") for s in sent] == ["1", "2", "3"]
    for seen in sent:
        assert seen.q("page_size") == "100"
        assert seen.q("tags") == "prod,airflow"
        assert seen.q("order_by") == "last_run"
        assert seen.q("sort_order") == "asc"
        assert "monitor_type" not in seen.query
        assert_sent_by_hook(seen)
    assert len(api.seen) == 3


def test_list_monitors_sends_no_unset_filters(api, hook):
    api.on("GET", MONITORS, page_of("monitors", [], 1, 0))
    assert list(hook.list_monitors()) == []
    assert set(api.seen[0].query) == {"page", "page_size"}


def test_list_monitors_filters_type_on_the_client_and_keeps_unknown_fields(api, hook):
    items = [
        {"id": 1, "monitor_type": "diff", "name": "a"},
        {"id": 2, "monitor_type": "metric", "name": "b", "owner": "x@example.com", "new_field": {"k": 1}},
        {"id": 3, "monitor_type": None, "name": "c"},
        {"id": 4, "monitor_type": "metric", "name": "d", "state": "paused_by_vendor"},
    ]
    api.on("GET", MONITORS, page_of("monitors", items, 1, 1))
    monitors = list(hook.list_monitors(monitor_type="metric"))
    assert monitors == [items[1], items[3]]
    assert "monitor_type" not in api.seen[0].query  # there is no server-side type filter


def test_list_monitors_yields_an_item_repeated_by_a_shifting_page_once(api, hook):
    api.on(
        "GET", MONITORS,
        page_of("monitors", [{"id": 9}, {"id": 8}], 1, 2),
        page_of("monitors", [{"id": 8}, {"id": 7}], 2, 2),
    )
    assert [m["id"] for m in hook.list_monitors()] == [9, 8, 7]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"order_by": "created_at"}, "order_by"),
        ({"order_by": "created_by_id"}, "order_by"),
        ({"sort_order": "DESC"}, "sort_order"),
        ({"monitor_type": "freshness"}, "monitor_type"),
        ({"tags": "prod"}, "tags must be a list"),
        ({"tags": []}, "tags must not be empty"),
        ({"tags": ["a,b"]}, "cannot contain a comma"),
        ({"tags": ["ok", ""]}, "tags"),
    ],
)
def test_list_monitors_refuses_bad_arguments_at_call_time(api, hook, kwargs, message):
    with pytest.raises(ConfigurationError, match=message):
        hook.list_monitors(**kwargs)  # raised by the call itself, not on first iteration
    assert api.seen == []


def test_listing_of_non_objects_fails_closed(api, hook):
    api.on("GET", MONITORS, page_of("monitors", ["not-a-monitor"], 1, 1))
    with pytest.raises(UnexpectedResponseError, match="object"):
        list(hook.list_monitors())


# ---- get_monitor --------------------------------------------------------------------------------


def test_get_monitor_accepts_digit_strings_and_keeps_every_field(api, hook):
    body = {
        "id": 42, "name": "orders", "monitor_type": "diff", "enabled": True,
        "schedule": {"type": "none"}, "alert": {"type": "diff", "different_rows_count": 0},
        "dataset": [{"connection_id": 1, "table": "a.b.c"}], "brand_new": [1, 2],
    }
    api.on("GET", f"{MONITORS}/42", body)
    assert hook.get_monitor(" 42 ") == body
    assert api.seen[0].path == f"{MONITORS}/42"
    assert api.seen[0].body == b""
    assert_sent_by_hook(api.seen[0])


@pytest.mark.parametrize("bad", ["abc", "4 2", -1.5, None, True, "", "../1"])
def test_every_id_must_be_an_integer(api, hook, bad):
    calls = [
        lambda: hook.get_monitor(bad),
        lambda: hook.delete_monitor(bad),
        lambda: hook.toggle_monitor(bad, True),
        lambda: hook.run_monitor(bad),
        lambda: hook.list_monitor_runs(bad),
        lambda: hook.get_monitor_run(bad, 1),
        lambda: hook.get_monitor_run(1, bad),
        lambda: hook.update_monitor(bad, {"name": "x"}, monitor_type="metric"),
        lambda: hook.get_data_diff(bad),
        lambda: hook.get_data_diff_summary(bad),
        lambda: hook.get_data_diff_summary_results(bad),
    ]
    for call in calls:
        with pytest.raises(ConfigurationError, match="integer id"):
            call()
    assert api.seen == []


def test_get_monitor_fails_closed_on_a_body_without_id(api, hook):
    api.on("GET", f"{MONITORS}/1", {"monitor": {"id": 1}})
    with pytest.raises(UnexpectedResponseError, match="'id'"):
        hook.get_monitor(1)


# ---- create_monitor -----------------------------------------------------------------------------

from tests.datafold_specs import DIFF_SPEC, METRIC_SPEC, SCHEMA_SPEC, SPECS, TEST_SPEC  # noqa: E402


@pytest.mark.parametrize("monitor_type", ["diff", "metric", "test", "schema"])
def test_create_sends_the_documented_body_and_returns_the_id(api, hook, monitor_type):
    spec = SPECS[monitor_type]
    before = copy.deepcopy(spec)
    api.on("POST", f"{MONITORS}/create/{monitor_type}", {"id": 501})

    assert hook.create_monitor(monitor_type, spec) == 501

    (seen,) = api.seen
    assert seen.method == "POST" and seen.path == f"{MONITORS}/create/{monitor_type}"
    assert seen.json == before  # sent as given: no type/monitor_type added, tags kept
    assert "type" not in seen.json and "monitor_type" not in seen.json
    assert seen.headers["Content-Type"] == "application/json"
    assert_sent_by_hook(seen)
    assert spec == before  # the caller's dict is untouched


def test_create_keeps_the_discriminators_on_the_wire(api, hook):
    api.on("POST", f"{MONITORS}/create/diff", {"id": 1})
    api.on("POST", f"{MONITORS}/create/metric", {"id": 2})
    hook.create_monitor("diff", DIFF_SPEC)
    hook.create_monitor("metric", METRIC_SPEC)
    assert api.requests_to("POST", f"{MONITORS}/create/diff")[0].json["datadiff"]["diff_type"] == "inmem"
    metric_body = api.requests_to("POST", f"{MONITORS}/create/metric")[0].json
    assert metric_body["metric"]["type"] == "table"
    assert metric_body["alert"]["type"] == "automatic"
    assert metric_body["notifications"][0]["type"] == "slack"


def test_create_and_update_take_any_mapping(api, hook):
    api.on("POST", f"{MONITORS}/create/metric", {"id": 3})
    api.on("PATCH", f"{MONITORS}/3/update", {})
    assert hook.create_monitor("metric", MappingProxyType(METRIC_SPEC)) == 3
    hook.update_monitor(3, MappingProxyType({"name": "n"}), monitor_type="metric")
    assert api.seen[0].json == METRIC_SPEC
    assert api.seen[1].json == {"type": "metric", "name": "n"}


@pytest.mark.parametrize("body", [{}, {"id": None}, {"id": "501"}, {"id": True}, [501], "created"])
def test_create_fails_closed_without_an_integer_id(api, hook, body):
    api.on("POST", f"{MONITORS}/create/schema", Reply(json=body) if not isinstance(body, str) else Reply(body=body))
    with pytest.raises(UnexpectedResponseError, match="not JSON" if isinstance(body, str) else "integer 'id'"):
        hook.create_monitor("schema", SCHEMA_SPEC)
    assert len(api.requests_to("POST", f"{MONITORS}/create/schema")) == 1


def test_create_422_message_names_the_field(api, hook):
    detail = {"detail": [{"loc": ["body", "datadiff", "primary_key"], "msg": "Field required", "type": "missing",
                          "input": {}}]}
    api.on("POST", f"{MONITORS}/create/diff", Reply(422, json=detail))
    with pytest.raises(ValidationError) as caught:
        hook.create_monitor("diff", DIFF_SPEC)
    message = str(caught.value)
    assert "body.datadiff.primary_key" in message and "Field required" in message
    assert "422" in message and f"{MONITORS}/create/diff" in message
    assert len(api.seen) == 1  # a 422 is never retried


def test_string_detail_errors_are_reported(api, hook):
    api.on("POST", f"{MONITORS}/create/test", Reply(400, json={"detail": "Data source 7 not found"}))
    with pytest.raises(Exception, match="Data source 7 not found"):
        hook.create_monitor("test", TEST_SPEC)


def _with(base, **changes):
    spec = copy.deepcopy(base)
    for key, value in changes.items():
        target = spec
        *parents, leaf = key.split("__")
        for parent in parents:
            target = target[parent]
        if value is DELETE:
            target.pop(leaf, None)
        else:
            target[leaf] = value
    return spec


DELETE = object()


@pytest.mark.parametrize(
    "monitor_type, spec, message",
    [
        ("freshness", METRIC_SPEC, "monitor_type"),
        ("Metric", METRIC_SPEC, "monitor_type"),
        ("metric", "name: x", "spec must be a dict"),
        ("metric", None, "spec must be a dict"),
        # common fields
        ("metric", _with(METRIC_SPEC, name=DELETE), "spec.name"),
        ("metric", _with(METRIC_SPEC, name="  "), "spec.name"),
        ("metric", _with(METRIC_SPEC, name=5), "spec.name"),
        ("metric", _with(METRIC_SPEC, schedule=DELETE), "spec.schedule is required"),
        ("metric", _with(METRIC_SPEC, schedule={}), r"is empty; write \{'type': 'none'\}"),
        ("metric", _with(METRIC_SPEC, schedule="0 * * * *"), "spec.schedule must be a dict"),
        ("metric", _with(METRIC_SPEC, schedule={"interval": {"every": "week"}}), "every"),
        ("metric", _with(METRIC_SPEC, schedule={"interval": {}}), "spec.schedule.interval.every is required"),
        ("metric", _with(METRIC_SPEC, schedule={"interval": {"every": "hour", "type": "daily"}}), "'hourly'"),
        ("metric", _with(METRIC_SPEC, schedule={"interval": {"every": "day", "hour": 24}}), "0-23"),
        ("metric", _with(METRIC_SPEC, schedule={"cron": ""}), "spec.schedule.cron"),
        ("metric", _with(METRIC_SPEC, schedule={"cron": "0 * * * *", "type": "none"}), "crontab"),
        ("metric", _with(METRIC_SPEC, schedule={"cron": "0 * * * *", "interval": {"every": "day"}}), "both"),
        ("metric", _with(METRIC_SPEC, schedule={"type": "manual"}), "spec.schedule must be"),
        ("metric", _with(METRIC_SPEC, type="metric"), "must not hold 'type'"),
        ("metric", _with(METRIC_SPEC, monitor_type="metric"), "must not hold 'monitor_type'"),
        ("metric", _with(METRIC_SPEC, enabled="yes"), "spec.enabled"),
        ("metric", _with(METRIC_SPEC, tags="airflow"), "spec.tags must be a list"),
        ("metric", _with(METRIC_SPEC, notifications={"type": "email"}), "list of notification"),
        ("metric", _with(METRIC_SPEC, notifications=[{"recipients": ["a@b.c"]}]),
         r"notifications\[0\].type is required"),
        ("metric", _with(METRIC_SPEC, notifications=[{"type": "sms"}]), r"notifications\[0\].type"),
        ("metric", _with(METRIC_SPEC, notifications=[{"type": "email", "recipients": "a@b.c"}]), "recipients"),
        ("metric", _with(METRIC_SPEC, notifications=[{"type": "slack", "integration": 3}]), "channel"),
        ("metric", _with(METRIC_SPEC, notifications=[{"type": "webhook", "integration": "3"}]), "integration"),
        # diff
        ("diff", _with(DIFF_SPEC, datadiff=DELETE), "spec.datadiff must be a dict"),
        ("diff", _with(DIFF_SPEC, datadiff__diff_type=DELETE), "spec.datadiff.diff_type is required"),
        ("diff", _with(DIFF_SPEC, datadiff__diff_type="cross_db"), "diff_type"),
        ("diff", _with(DIFF_SPEC, datadiff__primary_key=DELETE), "primary_key"),
        ("diff", _with(DIFF_SPEC, datadiff__primary_key=[]), "primary_key must not be empty"),
        ("diff", _with(DIFF_SPEC, datadiff__primary_key="order_id"), "primary_key must be a list"),
        ("diff", _with(DIFF_SPEC, datadiff__dataset_a=DELETE), "dataset_a must be a dict"),
        ("diff", _with(DIFF_SPEC, datadiff__dataset_a__connection_id=DELETE), "dataset_a.connection_id"),
        ("diff", _with(DIFF_SPEC, datadiff__dataset_b__connection_id="12"), "dataset_b.connection_id"),
        ("diff", _with(DIFF_SPEC, datadiff__dataset_a__query="select 1"), "exactly one of 'table' or 'query'"),
        ("diff", _with(DIFF_SPEC, datadiff__dataset_b__query=DELETE), "got neither"),
        ("diff", _with(DIFF_SPEC, datadiff__dataset_a__table=""), "dataset_a.table"),
        ("diff", _with(DIFF_SPEC, alert=[0]), "spec.alert must be a dict"),
        # metric
        ("metric", _with(METRIC_SPEC, connection_id=DELETE), "spec.connection_id"),
        ("metric", _with(METRIC_SPEC, connection_id="11"), "spec.connection_id must be an integer"),
        ("metric", _with(METRIC_SPEC, connection_id=True), "spec.connection_id"),
        ("metric", _with(METRIC_SPEC, metric=DELETE), "spec.metric must be a dict"),
        ("metric", _with(METRIC_SPEC, metric__type=DELETE), "spec.metric.type is required"),
        ("metric", _with(METRIC_SPEC, metric__type="ratio"), "spec.metric.type"),
        ("metric", _with(METRIC_SPEC, metric__metric="total"), "spec.metric.metric"),
        ("metric", _with(METRIC_SPEC, metric__metric=DELETE), "spec.metric.metric is required"),
        ("metric", _with(METRIC_SPEC, metric={"type": "column", "table": "t", "metric": "sum"}), "spec.metric.column"),
        ("metric", _with(METRIC_SPEC, metric={"type": "column", "column": "c", "metric": "sum"}), "spec.metric.table"),
        ("metric", _with(METRIC_SPEC, metric={"type": "column", "table": "t", "column": "c", "metric": "row_count"}),
         "spec.metric.metric"),
        ("metric", _with(METRIC_SPEC, metric={"type": "custom"}), "spec.metric.query"),
        ("metric", _with(METRIC_SPEC, alert={"sensitivity": 50}), "spec.alert.type is required"),
        ("metric", _with(METRIC_SPEC, alert={"type": "relative"}), "spec.alert.type"),
        ("metric", _with(METRIC_SPEC, alert={"type": "automatic", "sensitivity": 101}), "sensitivity"),
        # test
        ("test", _with(TEST_SPEC, connection_id=DELETE), "spec.connection_id"),
        ("test", _with(TEST_SPEC, test=DELETE), "got neither"),
        ("test", _with(TEST_SPEC, query="select 1"), "got query and test"),
        ("test", _with(TEST_SPEC, test={"type": "freshness"}), "spec.test.type"),
        ("test", _with(TEST_SPEC, test={"tables": []}), "spec.test.type is required"),
        ("test", _with(TEST_SPEC, test=DELETE, query="  "), "spec.query"),
        # schema
        ("schema", _with(SCHEMA_SPEC, connection_id=3.0), "spec.connection_id"),
        ("schema", _with(SCHEMA_SPEC, table=""), "spec.table"),
    ],
)
def test_create_refuses_bad_specs_before_sending(api, hook, monitor_type, spec, message):
    with pytest.raises(ConfigurationError, match=message):
        hook.create_monitor(monitor_type, spec)
    assert api.seen == []


def test_create_accepts_the_documented_variants(api, hook):
    api.on("POST", f"{MONITORS}/create/metric", {"id": 1})
    api.on("POST", f"{MONITORS}/create/test", {"id": 2})
    api.on("POST", f"{MONITORS}/create/schema", {"id": 3})
    column = _with(METRIC_SPEC, metric={"type": "column", "table": "t", "column": "c", "metric": "fill_rate"},
                   alert={"type": "percentage", "increase": 10}, schedule={"cron": "0 6 * * *", "type": "crontab"})
    custom = _with(METRIC_SPEC, metric={"type": "custom", "query": "select 1"}, alert=None,
                   schedule={"interval": {"every": "day", "utc_at": "08:30:00", "type": "daily"}})
    assert hook.create_monitor("metric", column) == 1
    assert hook.create_monitor("metric", custom) == 1
    assert hook.create_monitor("test", _with(TEST_SPEC, test=None, query="select * from t where id is null")) == 2
    assert hook.create_monitor("schema", _with(SCHEMA_SPEC, table=None)) == 3
    assert [s.json for s in api.seen[:2]] == [column, custom]


# ---- create: never re-sent after an ambiguous failure ----------------------------------------


def _listing(*monitors):
    return page_of("monitors", list(monitors), 1, 1)


def test_create_after_a_502_looks_the_monitor_up_instead_of_resending(api, hook):
    api.on("POST", f"{MONITORS}/create/metric", Reply(502, body="<html>Bad gateway</html>"))
    api.on("GET", MONITORS, _listing(
        {"id": 77, "name": METRIC_SPEC["name"], "monitor_type": "metric", "created_at": now_iso()},
        {"id": 76, "name": METRIC_SPEC["name"], "monitor_type": "diff", "created_at": now_iso()},
        {"id": 75, "name": "another", "monitor_type": "metric", "created_at": now_iso()},
    ))

    assert hook.create_monitor("metric", METRIC_SPEC) == 77

    assert len(api.requests_to("POST", f"{MONITORS}/create/metric")) == 1
    (lookup,) = api.requests_to("GET", MONITORS)
    assert lookup.q("order_by") == "id" and lookup.q("sort_order") == "desc"
    assert "tags" not in lookup.query
    assert_sent_by_hook(lookup)


def test_create_after_a_dropped_connection_looks_the_monitor_up(api, hook):
    api.on("POST", f"{MONITORS}/create/schema", Reply(drop=True))
    api.on("GET", MONITORS, _listing(
        {"id": 5, "name": SCHEMA_SPEC["name"], "monitor_type": "schema", "created_at": now_iso(-5)},
    ))
    assert hook.create_monitor("schema", SCHEMA_SPEC) == 5
    assert len(api.requests_to("POST", f"{MONITORS}/create/schema")) == 1


@pytest.mark.parametrize(
    "listed",
    [
        [],  # nothing was created
        [  # two candidates: cannot tell which one is ours
            {"id": 78, "name": METRIC_SPEC["name"], "monitor_type": "metric", "created_at": now_iso()},
            {"id": 77, "name": METRIC_SPEC["name"], "monitor_type": "metric", "created_at": now_iso()},
        ],
        [  # the same name, but from long before the request
            {"id": 12, "name": METRIC_SPEC["name"], "monitor_type": "metric", "created_at": "2024-01-01T00:00:00Z"},
        ],
        [  # no creation time: not provably ours
            {"id": 13, "name": METRIC_SPEC["name"], "monitor_type": "metric"},
        ],
    ],
)
def test_create_after_a_502_raises_unless_exactly_one_match(api, hook, listed):
    api.on("POST", f"{MONITORS}/create/metric", Reply(502, json={"detail": "upstream"}))
    api.on("GET", MONITORS, _listing(*listed))
    with pytest.raises(AmbiguousRequestError) as caught:
        hook.create_monitor("metric", METRIC_SPEC)
    assert f"{len(listed) if len(listed) == 2 else 0} matching objects" in str(caught.value)
    assert len(api.requests_to("POST", f"{MONITORS}/create/metric")) == 1


def test_create_lookup_stops_at_the_first_monitor_older_than_the_request(api, hook):
    old = "2020-01-01T00:00:00+00:00"

    def reply(seen):
        if seen.q("page") == "1":
            return Reply(json=page_of("monitors", [
                {"id": 90, "name": METRIC_SPEC["name"], "monitor_type": "metric", "created_at": now_iso()},
                {"id": 89, "name": "older", "monitor_type": "metric", "created_at": old},
            ], 1, 50))
        return Reply(json=page_of("monitors", [
            {"id": 88, "name": METRIC_SPEC["name"], "monitor_type": "metric", "created_at": now_iso()},
        ], 2, 50))

    api.on("POST", f"{MONITORS}/create/metric", Reply(504))
    api.on("GET", MONITORS, reply)
    assert hook.create_monitor("metric", METRIC_SPEC) == 90
    assert [s.q("page") for s in api.requests_to("GET", MONITORS)] == ["1"]


def test_create_lookup_failure_reraises_the_ambiguous_error(api, hook):
    api.on("POST", f"{MONITORS}/create/metric", Reply(502))
    api.on("GET", MONITORS, Reply(403, json={"detail": "forbidden"}))
    with pytest.raises(AmbiguousRequestError):
        hook.create_monitor("metric", METRIC_SPEC)
    assert len(api.requests_to("POST", f"{MONITORS}/create/metric")) == 1


# ---- update / delete / toggle -------------------------------------------------------------------


def test_update_with_a_known_type_sends_one_patch(api, hook):
    api.on("PATCH", f"{MONITORS}/8/update", {"ok": True})
    spec = {"name": "renamed", "alert": {"type": "absolute", "min": 1, "max": None}, "tags": []}
    before = copy.deepcopy(spec)
    assert hook.update_monitor("8", spec, monitor_type="metric") is None
    (seen,) = api.seen
    assert seen.method == "PATCH" and seen.path == f"{MONITORS}/8/update"
    assert seen.json == {"type": "metric", **before}
    assert seen.headers["Content-Type"] == "application/json"
    assert_sent_by_hook(seen)
    assert spec == before


def test_update_without_a_type_gets_the_monitor_first(api, hook):
    api.on("GET", f"{MONITORS}/8", {"id": 8, "name": "n", "monitor_type": "diff", "schedule": {"type": "none"}})
    api.on("PATCH", f"{MONITORS}/8/update", Reply(200, body=""))  # the body is undocumented; empty is fine
    hook.update_monitor(8, {"datadiff": {"diff_type": "indb", "primary_key": ["id", "day"]},
                            "schedule": {"cron": "15 3 * * *"}})
    assert [(s.method, s.path) for s in api.seen] == [("GET", f"{MONITORS}/8"), ("PATCH", f"{MONITORS}/8/update")]
    assert api.seen[1].json == {
        "type": "diff",
        "datadiff": {"diff_type": "indb", "primary_key": ["id", "day"]},
        "schedule": {"cron": "15 3 * * *"},
    }


def test_update_passes_a_type_unknown_to_the_hook_through(api, hook):
    api.on("GET", f"{MONITORS}/8", {"id": 8, "monitor_type": "freshness_v2"})
    api.on("PATCH", f"{MONITORS}/8/update", {})
    hook.update_monitor(8, {"description": "d"})
    assert api.seen[1].json == {"type": "freshness_v2", "description": "d"}


@pytest.mark.parametrize(
    "spec, monitor_type, message",
    [
        ({"enabled": False}, "metric", "toggle_monitor"),
        ({"enabled": True}, None, "toggle_monitor"),
        ({"metric": {"type": "table", "metric": "row_count"}}, "metric", "'metric'"),
        ({"connection_id": 3}, "metric", "'connection_id'"),
        ({"connection_id": 3}, "test", "'connection_id'"),
        ({"connection_id": 3}, None, "'connection_id'"),
        ({"table": "db.s.other"}, "schema", "'table'"),
        ({"table": "db.s.other"}, None, "'table'"),
        ({"datadiff": {"diff_type": "indb", "dataset_a": {"connection_id": 1, "table": "t"}}}, "diff",
         "datadiff.dataset_a"),
        ({"datadiff": {"diff_type": "indb", "dataset_b": {"connection_id": 1, "table": "t"}}}, None,
         "datadiff.dataset_b"),
        ({"type": "metric", "name": "x"}, None, "must not hold 'type'"),
        ({}, "metric", "nothing to update"),
        ("name=x", "metric", "spec must be a dict"),
        ({"name": "x"}, "freshness", "monitor_type"),
        ({"name": ""}, None, "spec.name"),
        ({"schedule": {}}, None, r"is empty; write \{'type': 'none'\}"),
        ({"notifications": [{"type": "fax"}]}, None, "notifications"),
        ({"alert": {"type": "relative"}}, "metric", "spec.alert.type"),
        ({"query": "select 1", "test": {"type": "unique"}}, "test", "at most one"),
        ({"test": {"type": "freshness"}}, "test", "spec.test.type"),
        ({"datadiff": {"primary_key": ["id"]}}, "diff", "diff_type is required"),
        ({"datadiff": {"diff_type": "indb", "primary_key": []}}, "diff", "primary_key"),
    ],
)
def test_update_refuses_bad_changes_before_sending(api, hook, spec, monitor_type, message):
    with pytest.raises(ConfigurationError, match=message):
        hook.update_monitor(8, spec, monitor_type=monitor_type)
    assert api.seen == []


def test_update_checks_needing_the_type_run_before_the_patch(api, hook):
    api.on("GET", f"{MONITORS}/8", {"id": 8, "monitor_type": "metric"})
    with pytest.raises(ConfigurationError, match="spec.alert.type"):
        hook.update_monitor(8, {"alert": {"type": "weird"}})
    assert [(s.method, s.path) for s in api.seen] == [("GET", f"{MONITORS}/8")]


@pytest.mark.parametrize("monitor", [{"id": 8, "monitor_type": None}, {"id": 8}])
def test_update_fails_closed_when_the_type_cannot_be_learned(api, hook, monitor):
    api.on("GET", f"{MONITORS}/8", monitor)
    with pytest.raises(UnexpectedResponseError, match="monitor_type="):
        hook.update_monitor(8, {"name": "x"})
    assert api.requests_to("PATCH", f"{MONITORS}/8/update") == []


def test_delete_monitor(api, hook):
    api.on("DELETE", f"{MONITORS}/8", {"deleted": True})
    assert hook.delete_monitor(8) is None
    (seen,) = api.seen
    assert (seen.method, seen.path, seen.body) == ("DELETE", f"{MONITORS}/8", b"")
    assert_sent_by_hook(seen)


@pytest.mark.parametrize("enabled", [True, False])
def test_toggle_monitor(api, hook, enabled):
    api.on("PUT", f"{MONITORS}/8/toggle", {})
    assert hook.toggle_monitor("8", enabled) is None
    (seen,) = api.seen
    assert (seen.method, seen.path) == ("PUT", f"{MONITORS}/8/toggle")
    assert seen.json == {"enabled": enabled}
    assert_sent_by_hook(seen)


@pytest.mark.parametrize("enabled", ["false", 0, 1, None])
def test_toggle_refuses_anything_but_a_bool(api, hook, enabled):
    with pytest.raises(ConfigurationError, match="True or False"):
        hook.toggle_monitor(8, enabled)
    assert api.seen == []


# ---- runs ---------------------------------------------------------------------------------------


def test_run_monitor_returns_the_run_id(api, hook):
    api.on("POST", f"{MONITORS}/8/run", {"run_id": 314})
    assert hook.run_monitor("8") == 314
    (seen,) = api.seen
    assert (seen.method, seen.path, seen.body, seen.query) == ("POST", f"{MONITORS}/8/run", b"", {})
    assert_sent_by_hook(seen)


@pytest.mark.parametrize("body", [{}, {"run_id": None}, {"run_id": "314"}, {"run_id": 3.14}, {"id": 314}])
def test_run_monitor_fails_closed_without_an_integer_run_id(api, hook, body):
    api.on("POST", f"{MONITORS}/8/run", body)
    with pytest.raises(UnexpectedResponseError, match="'run_id'"):
        hook.run_monitor(8)


@pytest.mark.parametrize("reply", [Reply(502), Reply(500, json={"detail": "boom"}), Reply(drop=True)])
def test_run_monitor_is_never_resent_nor_guessed_after_an_ambiguous_failure(api, hook, reply):
    api.on("POST", f"{MONITORS}/8/run", reply, {"run_id": 1})
    with pytest.raises(AmbiguousRequestError):
        hook.run_monitor(8)
    assert [(s.method, s.path) for s in api.seen] == [("POST", f"{MONITORS}/8/run")]


def test_list_monitor_runs_walks_pages_and_keeps_raw_states(api, hook):
    runs = {
        1: [{"run_id": 30, "monitor_id": 8, "state": "checking"}, {"run_id": 29, "monitor_id": 8, "state": None}],
        2: [{"run_id": 28, "monitor_id": 8, "state": "paused_by_vendor", "diff_id": 5}],
    }
    api.on("GET", f"{MONITORS}/8/runs", lambda seen: Reply(json=page_of("runs", runs[int(seen.q("page"))],
                                                                         int(seen.q("page")), 2)))
    start = datetime(2026, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    listed = list(hook.list_monitor_runs(8, start_time=start, end_time="2026-03-02T00:00:00"))

    assert listed == runs[1] + runs[2]
    sent = api.requests_to("GET", f"{MONITORS}/8/runs")
    assert [s.q("page") for s in sent] == ["1", "2"]
    for seen in sent:
        assert seen.q("page_size") == "100"
        assert seen.q("start_time") == "2026-03-01T10:00:00Z"
        assert seen.q("end_time") == "2026-03-02T00:00:00Z"
        assert_sent_by_hook(seen)


def test_list_monitor_runs_without_times_sends_none(api, hook):
    api.on("GET", f"{MONITORS}/8/runs", page_of("runs", [], 1, 0))
    assert list(hook.list_monitor_runs(8)) == []
    assert set(api.seen[0].query) == {"page", "page_size"}


def test_list_monitor_runs_skips_a_run_shifted_onto_the_next_page(api, hook):
    api.on(
        "GET", f"{MONITORS}/8/runs",
        page_of("runs", [{"run_id": 3}, {"run_id": 2}], 1, 2),
        page_of("runs", [{"run_id": 2}, {"run_id": 1}], 2, 2),
    )
    assert [r["run_id"] for r in hook.list_monitor_runs(8)] == [3, 2, 1]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"start_time": "yesterday"}, "start_time"),
        ({"end_time": 1700000000}, "end_time"),
        ({"start_time": "2026-03-02T00:00:00Z", "end_time": "2026-03-01T00:00:00Z"}, "after end_time"),
    ],
)
def test_list_monitor_runs_refuses_bad_times_at_call_time(api, hook, kwargs, message):
    with pytest.raises(ConfigurationError, match=message):
        hook.list_monitor_runs(8, **kwargs)
    assert api.seen == []


def test_get_monitor_run_returns_unknown_states_unchanged(api, hook):
    body = {"run_id": 9, "monitor_id": 8, "state": "paused_by_vendor", "warnings": [], "error": None,
            "diff_id": None, "started_at": None, "new": "kept"}
    api.on("GET", f"{MONITORS}/8/runs/9", body)
    assert hook.get_monitor_run("8", "9") == body
    assert api.seen[0].path == f"{MONITORS}/8/runs/9"
    assert_sent_by_hook(api.seen[0])


def test_get_monitor_run_keeps_a_null_state(api, hook):
    api.on("GET", f"{MONITORS}/8/runs/9", {"run_id": 9, "monitor_id": 8, "state": None, "warnings": []})
    assert hook.get_monitor_run(8, 9)["state"] is None


@pytest.mark.parametrize("body", [{"run_id": 9, "status": "ok"}, ["ok"], "ok"])
def test_get_monitor_run_fails_closed_without_state(api, hook, body):
    api.on("GET", f"{MONITORS}/8/runs/9", Reply(body=body) if isinstance(body, str) else Reply(json=body))
    with pytest.raises(UnexpectedResponseError, match="not JSON" if isinstance(body, str) else "'state'"):
        hook.get_monitor_run(8, 9)


# ---- data diffs ---------------------------------------------------------------------------------


def test_data_diff_endpoints(api, hook):
    diff = {"id": 5, "status": "done", "kind": "in_db", "pk_columns": ["id"], "result": "different"}
    summary = {"id": 5, "data_source1_id": 1, "data_source2_id": 2, "status": "done", "feedback": "3 rows differ"}
    api.on("GET", "/api/v1/datadiffs/5", diff)
    api.on("GET", "/api/v1/datadiffs/5/summary", summary)
    assert hook.get_data_diff("5") == diff
    assert hook.get_data_diff_summary(5) == summary
    assert [s.path for s in api.seen] == ["/api/v1/datadiffs/5", "/api/v1/datadiffs/5/summary"]
    for seen in api.seen:
        assert seen.query == {}  # the undocumented ?poll= is never sent
        assert_sent_by_hook(seen)


@pytest.mark.parametrize(
    "body",
    [
        {"status": "success", "pks": {"total_rows": [10, 10]}, "values": None},
        {"status": "done", "pks": {}, "schema": {}, "dependencies": {}, "materialized_results": {}},
        {"status": "failed", "error": {"error_type": "X", "error_value": "y", "is_retryable": False}},
        {"status": "running"},
        {"dependencies": {"a": 1}},
    ],
)
def test_summary_results_variants_come_back_unchanged(api, hook, body):
    api.on("GET", "/api/v1/datadiffs/5/summary_results", body)
    assert hook.get_data_diff_summary_results(5) == body
    assert api.seen[0].path == "/api/v1/datadiffs/5/summary_results"


def test_data_diff_non_object_fails_closed(api, hook):
    api.on("GET", "/api/v1/datadiffs/5/summary", ["not", "an", "object"])
    with pytest.raises(UnexpectedResponseError):
        hook.get_data_diff_summary(5)


# ---- async twins --------------------------------------------------------------------------------


async def test_async_twins_share_paths_and_parsing(api, connection):
    connection("datafold_default", "datafold", api.url)
    run = {"run_id": 9, "monitor_id": 8, "state": "paused_by_vendor", "warnings": ["w"]}
    summary = {"id": 5, "status": "done", "data_source1_id": 1, "data_source2_id": 2}
    api.on("GET", f"{MONITORS}/8/runs/9", run)
    api.on("GET", "/api/v1/datadiffs/5/summary", summary)
    hook = DatafoldHook()
    async with hook:
        assert await hook.aget_monitor_run("8", 9) == run
        assert await hook.aget_data_diff_summary("5") == summary
    assert [(s.method, s.path) for s in api.seen] == [
        ("GET", f"{MONITORS}/8/runs/9"), ("GET", "/api/v1/datadiffs/5/summary"),
    ]
    for seen in api.seen:
        assert_sent_by_hook(seen)


async def test_async_twins_validate_and_fail_closed_like_the_sync_ones(api, connection):
    connection("datafold_default", "datafold", api.url)
    api.on("GET", f"{MONITORS}/8/runs/9", {"run_id": 9})
    api.on("GET", "/api/v1/datadiffs/5/summary", "no object")
    hook = DatafoldHook()
    async with hook:
        with pytest.raises(ConfigurationError):
            await hook.aget_monitor_run(8, "nine")
        with pytest.raises(ConfigurationError):
            await hook.aget_data_diff_summary(None)
        assert api.seen == []
        with pytest.raises(UnexpectedResponseError, match="'state'"):
            await hook.aget_monitor_run(8, 9)
        with pytest.raises(UnexpectedResponseError):
            await hook.aget_data_diff_summary(5)


async def test_async_twin_outside_async_with_says_so(api, hook):
    with pytest.raises(RuntimeError, match="async with"):
        await hook.aget_monitor_run(8, 9)
    assert api.seen == []


# ---- test_connection ----------------------------------------------------------------------------


def test_test_connection_success_reads_one_item_of_one_page(api, hook):
    api.on("GET", MONITORS, page_of("monitors", [{"id": 1}], 1, 40))
    ok, message = hook.test_connection()
    assert ok is True and "Datafold" in message
    (seen,) = api.seen
    assert seen.q("page") == "1" and seen.q("page_size") == "1"
    assert_sent_by_hook(seen)


def test_test_connection_bad_key(api, hook):
    # The vendor echoing the key must not put it in front of the user.
    api.on("GET", MONITORS, Reply(401, json={"detail": f"Invalid API key {API_KEY}"}))
    ok, message = hook.test_connection()
    assert ok is False
    assert "401" in message
    assert API_KEY not in message
    assert len(api.seen) == 1  # 401 is never retried


def test_test_connection_404_points_at_the_key_too(api, hook):
    api.on("GET", MONITORS, Reply(404, json={"detail": "Not Found"}))
    ok, message = hook.test_connection()
    assert ok is False
    assert "404" in message
    assert "Datafold answers 404 to some invalid API keys: check the key and the host" in message


def test_test_connection_refuses_a_200_that_is_not_datafold(api, hook):
    api.on("GET", MONITORS, Reply(200, body="<html>login</html>", headers={"Content-Type": "text/html"}))
    ok, message = hook.test_connection()
    assert ok is False and "the body was not JSON (text/html): <html>login</html>" in message


def test_test_connection_unreachable_host(connection):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    connection("datafold_default", "datafold", f"http://127.0.0.1:{port}")
    ok, message = DatafoldHook().test_connection()
    assert ok is False
    assert message
    assert API_KEY not in message
