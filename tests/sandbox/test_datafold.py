"""The Datafold emulator, driven end to end by the real DatafoldHook (and raw HTTP for wire shapes)."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from airflow_provider_monitoring._http.errors import (
    AuthenticationError,
    NotFoundError,
    ValidationError,
)
from airflow_provider_monitoring.hooks.datafold import DatafoldHook
from airflow_provider_monitoring.sandbox.core import (
    FaultRule,
    OutcomeRule,
    SandboxConfig,
)

RUNNING = ("created", "queued", "checking")
from tests.datafold_specs import METRIC_SPEC, SCHEMA_SPEC, TEST_SPEC  # noqa: E402
from tests.datafold_specs import DIFF_SPEC as DOCUMENTED_DIFF_SPEC  # noqa: E402

# An alert threshold above zero, so that the sandbox's alert statistics have room to exceed it.
DIFF_SPEC = {**DOCUMENTED_DIFF_SPEC, "alert": {"different_rows_count": 5}}
SPECS = {"diff": DIFF_SPEC, "metric": METRIC_SPEC, "test": TEST_SPEC, "schema": SCHEMA_SPEC}


@pytest.fixture
def monitoring_sandbox_config(request, tmp_path) -> SandboxConfig:
    """Short runs; a test may seed the state file with indirect parametrization."""
    config = SandboxConfig(run_seconds=0.2)
    seed = getattr(request, "param", None)
    if seed is not None:
        path = tmp_path / "state.json"
        path.write_text(json.dumps(seed))
        config.state_file = str(path)
    return config


@pytest.fixture
def hook(monitoring_sandbox) -> DatafoldHook:
    return DatafoldHook()


@pytest.fixture
def raw(monitoring_sandbox):
    """A plain HTTP session with the sandbox key, for checking exact wire shapes."""
    base = monitoring_sandbox.vendor_url("datafold") + "/api/v1"
    session = requests.Session()
    session.headers["Authorization"] = f"Key {monitoring_sandbox.config.api_key}"

    def call(method: str, path: str, **kwargs) -> requests.Response:
        return session.request(method, base + path, timeout=5, **kwargs)

    yield call
    session.close()


def spec(monitor_type: str, **changes) -> dict:
    return {**SPECS[monitor_type], **changes}


def wait(hook: DatafoldHook, monitor_id: int, run_id: int, timeout: float = 5.0) -> tuple[dict, list]:
    """Poll until the run leaves the running states; the run and every state seen on the way."""
    seen: list = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = hook.get_monitor_run(monitor_id, run_id)
        if not seen or seen[-1] != run["state"]:
            seen.append(run["state"])
        if run["state"] not in RUNNING:
            return run, seen
        time.sleep(0.02)
    raise AssertionError(f"run {run_id} still running after {timeout} s: {seen}")


# ---- the whole life of each monitor type --------------------------------------------------------


@pytest.mark.parametrize("monitor_type", ["diff", "metric", "test", "schema"])
def test_create_get_list_update_toggle_run_delete(hook, monitor_type):
    monitor_id = hook.create_monitor(monitor_type, SPECS[monitor_type])
    assert isinstance(monitor_id, int)

    monitor = hook.get_monitor(monitor_id)
    assert monitor["monitor_type"] == monitor_type and monitor["name"] == SPECS[monitor_type]["name"]
    assert monitor["schedule"] == SPECS[monitor_type]["schedule"]
    assert monitor["enabled"] is SPECS[monitor_type].get("enabled", True)
    assert monitor["state"] is None and monitor["last_run"] is None
    assert monitor["dataset"] and all("connection_id" in d for d in monitor["dataset"])
    assert "datadiff" not in monitor  # GET never returns the diff config (§2.2)
    assert [m["id"] for m in hook.list_monitors(monitor_type=monitor_type)] == [monitor_id]

    hook.update_monitor(monitor_id, {"name": "renamed", "tags": ["prod"]})
    hook.toggle_monitor(monitor_id, True)
    monitor = hook.get_monitor(monitor_id)
    assert (monitor["name"], monitor["tags"], monitor["enabled"]) == ("renamed", ["prod"], True)

    run_id = hook.run_monitor(monitor_id)
    run, seen = wait(hook, monitor_id, run_id)
    assert seen[-1] == "ok" and "checking" in seen
    assert run["warnings"] == [] and run["error"] is None and run["started_at"]
    assert (run["diff_id"] is not None) is (monitor_type == "diff")
    assert [r["run_id"] for r in hook.list_monitor_runs(monitor_id)] == [run_id]
    listed = hook.get_monitor(monitor_id)
    assert listed["state"] == "ok" and listed["last_run"]

    hook.delete_monitor(monitor_id)
    with pytest.raises(NotFoundError):
        hook.get_monitor(monitor_id)
    with pytest.raises(NotFoundError):
        hook.get_monitor_run(monitor_id, run_id)


def test_run_passes_through_created_queued_checking(hook, monitoring_sandbox):
    monitoring_sandbox.config.rules.append(OutcomeRule("datafold", "slow*", "ok", seconds=0.6))
    monitor_id = hook.create_monitor("metric", spec("metric", name="slow metric"))
    run_id = hook.run_monitor(monitor_id)
    _, seen = wait(hook, monitor_id, run_id)
    order = ["created", "queued", "checking", "ok"]
    # Each state is seen in order; the first poll may land after the short created phase.
    assert seen == sorted(seen, key=order.index) and seen[0] in ("created", "queued") and seen[-2:] == order[2:]


def test_ids_increase_and_list_orders_filters_and_pages(hook, raw):
    ids = [hook.create_monitor("schema", spec("schema", name=f"m{i:03d}", tags=["even" if i % 2 else "odd"]))
           for i in range(105)]
    assert ids == sorted(ids) and len(set(ids)) == 105
    # The hook asks 100 a page: 105 monitors take two pages.
    assert [m["id"] for m in hook.list_monitors()] == ids[::-1]  # default: id, newest first
    assert [m["id"] for m in hook.list_monitors(order_by="name", sort_order="asc")] == ids
    assert len(list(hook.list_monitors(tags=["odd"]))) == 53
    assert len(list(hook.list_monitors(tags=["odd", "even"]))) == 105  # several tags: any of them

    body = raw("GET", "/monitors").json()  # the documented default page size is 20
    assert (body["count"], body["page"], body["page_size"], body["total_pages"]) == (105, 1, 20, 6)
    assert len(body["monitors"]) == 20
    last = raw("GET", "/monitors", params={"page": 6}).json()
    assert [m["id"] for m in last["monitors"]] == ids[4::-1]
    assert raw("GET", "/monitors", params={"page": 7}).json()["monitors"] == []


def test_runs_page_and_filter_by_time(hook, raw, monitoring_sandbox):
    monitoring_sandbox.config.run_seconds = 0.0
    monitor_id = hook.create_monitor("metric", METRIC_SPEC)
    first = hook.run_monitor(monitor_id)
    time.sleep(0.05)
    middle = datetime.now(UTC)
    run_ids = [first] + [hook.run_monitor(monitor_id) for _ in range(104)]

    listed = list(hook.list_monitor_runs(monitor_id))
    assert [r["run_id"] for r in listed] == run_ids[::-1]  # newest first, across two pages of 100
    assert {r["state"] for r in listed} == {"ok"}
    assert set(listed[0]) == {"run_id", "monitor_id", "diff_id", "started_at", "state"}
    assert [r["run_id"] for r in hook.list_monitor_runs(monitor_id, end_time=middle)] == [first]
    assert len(list(hook.list_monitor_runs(monitor_id, start_time=middle))) == 104
    future = datetime.now(UTC) + timedelta(hours=1)
    assert list(hook.list_monitor_runs(monitor_id, start_time=future)) == []

    body = raw("GET", f"/monitors/{monitor_id}/runs").json()  # the documented default page size is 10
    assert (body["count"], body["page_size"], body["total_pages"], len(body["runs"])) == (105, 10, 11, 10)


# ---- outcomes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "outcome, warned",
    [("ok", False), ("alert", False), ("error", False), ("cancelled", False), ("learning", True),
     ("skipped", True), ("paused_by_vendor", False)],
)
def test_outcome_rules_end_runs_in_every_state(hook, monitoring_sandbox, outcome, warned):
    monitoring_sandbox.config.rules.append(OutcomeRule("datafold", "chosen*", outcome, seconds=0.1))
    monitor_id = hook.create_monitor("test", spec("test", name=f"chosen {outcome}"))
    run, _ = wait(hook, monitor_id, hook.run_monitor(monitor_id))
    assert run["state"] == outcome
    assert bool(run["warnings"]) is warned
    assert (run["error"] is not None) is (outcome == "error")
    assert hook.get_monitor(monitor_id)["state"] == outcome
    assert (hook.get_monitor(monitor_id)["last_alert"] is not None) is (outcome == "alert")


def test_rules_match_id_and_tags_and_are_read_when_a_run_starts(hook, monitoring_sandbox):
    by_id = hook.create_monitor("schema", SCHEMA_SPEC)
    by_tag = hook.create_monitor("schema", spec("schema", tags=["flaky"]))
    monitoring_sandbox.config.rules[:] = [
        OutcomeRule("datafold", str(by_id), "alert", seconds=0.1),
        OutcomeRule("datafold", "flaky", "error", seconds=0.1),
        OutcomeRule("encrata", "*", "failed", seconds=0.1),  # another vendor's rule is ignored
    ]
    assert wait(hook, by_id, hook.run_monitor(by_id))[0]["state"] == "alert"
    assert wait(hook, by_tag, hook.run_monitor(by_tag))[0]["state"] == "error"
    monitoring_sandbox.config.rules.clear()
    assert wait(hook, by_tag, hook.run_monitor(by_tag))[0]["state"] == "ok"


@pytest.mark.parametrize("outcome", ["ok", "alert", "error", "cancelled"])
def test_diff_runs_link_a_data_diff_consistent_with_the_outcome(hook, monitoring_sandbox, outcome):
    monitoring_sandbox.config.rules.append(OutcomeRule("datafold", "*", outcome, seconds=0.3))
    monitor_id = hook.create_monitor("diff", DIFF_SPEC)
    run_id = hook.run_monitor(monitor_id)
    diff_id = hook.get_monitor_run(monitor_id, run_id)["diff_id"]
    assert hook.get_data_diff(diff_id)["status"] in ("waiting", "queued", "processing")
    assert hook.get_data_diff_summary_results(diff_id)["status"] in ("pending", "running")
    run, _ = wait(hook, monitor_id, run_id)
    assert run["diff_id"] == diff_id

    diff = hook.get_data_diff(diff_id)
    summary = hook.get_data_diff_summary(diff_id)
    results = hook.get_data_diff_summary_results(diff_id)
    assert diff["kind"] == "cross_db" and diff["pk_columns"] == ["order_id"]
    assert (diff["data_source1_id"], diff["data_source2_id"]) == (11, 12)
    if outcome in ("ok", "alert"):
        assert diff["status"] == summary["status"] == results["status"] == "done"
        rows = diff["diff_stats"]["diff_rows_count"]
        assert results["values"]["rows_with_differences"] == rows == summary["diff_stats"]["diff_rows_count"]
        assert diff["result"] == ("different" if outcome == "alert" else "identical")
        # alert: past the monitor's threshold (different_rows_count 5); ok: identical.
        assert rows > 5 if outcome == "alert" else rows == 0 and diff["diff_stats"]["match_ratio"] == 1
        assert set(results) == {"status", "pks", "values"}  # the cross-db shape
    else:
        assert diff["status"] == ("failed" if outcome == "error" else "cancelled")
        assert results["status"] == "failed" and results["error"]["error_type"]
        assert summary["feedback"]


def test_in_db_diff_summary_results_have_the_in_db_shape(hook):
    in_db = {**DIFF_SPEC["datadiff"], "diff_type": "indb",
             "dataset_b": {"connection_id": 11, "table": "PROD.SALES.ORDERS_COPY"}}
    monitor_id = hook.create_monitor("diff", spec("diff", datadiff=in_db))
    run, _ = wait(hook, monitor_id, hook.run_monitor(monitor_id))
    results = hook.get_data_diff_summary_results(run["diff_id"])
    assert {"pks", "schema", "dependencies", "materialized_results", "values"} <= set(results)
    assert hook.get_data_diff(run["diff_id"])["kind"] == "in_db"


async def test_async_twins_follow_a_run(hook):
    monitor_id = hook.create_monitor("diff", DIFF_SPEC)
    run_id = hook.run_monitor(monitor_id)
    async with hook:
        deadline = time.monotonic() + 5
        run = await hook.aget_monitor_run(monitor_id, run_id)
        while run["state"] in RUNNING and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            run = await hook.aget_monitor_run(monitor_id, run_id)
        summary = await hook.aget_data_diff_summary(run["diff_id"])
    assert run["state"] == "ok" and summary["status"] == "done" and summary["result"] == "identical"


# ---- errors -------------------------------------------------------------------------------------


def test_bad_key_is_401_in_the_vendor_shape(monitoring_sandbox, monkeypatch, raw):
    url = monitoring_sandbox.vendor_url("datafold")
    monkeypatch.setenv("AIRFLOW_CONN_DATAFOLD_BAD",
                       json.dumps({"conn_type": "datafold", "host": url, "password": "wrong-key"}))
    bad = DatafoldHook(datafold_conn_id="datafold_bad")
    with pytest.raises(AuthenticationError, match="Invalid API key"):
        bad.get_monitor(1)
    ok, message = bad.test_connection()
    assert not ok and "401" in message
    assert DatafoldHook().test_connection()[0]

    for headers in ({}, {"Authorization": "Bearer " + monitoring_sandbox.config.api_key},
                    {"Authorization": "Key wrong-key"}):
        reply = requests.get(url + "/api/v1/monitors", headers=headers, timeout=5)
        assert reply.status_code == 401 and isinstance(reply.json()["detail"], str)
        assert "wrong-key" not in reply.text


@pytest.mark.parametrize("monitoring_sandbox_config", [{"datafold": {"settings": {"bad_key_status": 404}}}],
                         indirect=True)
def test_bad_key_can_be_seeded_to_answer_404(monitoring_sandbox, monkeypatch):
    url = monitoring_sandbox.vendor_url("datafold")
    monkeypatch.setenv("AIRFLOW_CONN_DATAFOLD_BAD",
                       json.dumps({"conn_type": "datafold", "host": url, "password": "wrong-key"}))
    ok, message = DatafoldHook(datafold_conn_id="datafold_bad").test_connection()
    assert not ok and "404" in message and "key" in message
    assert DatafoldHook().test_connection()[0]


def test_a_key_or_body_that_is_not_utf8_is_refused_in_the_vendor_shape(monitoring_sandbox, raw):
    url = monitoring_sandbox.vendor_url("datafold") + "/api/v1/monitors"
    reply = requests.get(url, headers={"Authorization": "Key \xff"}, timeout=5)  # sent as the byte 0xff
    assert (reply.status_code, reply.json()) == (401, {"detail": "Invalid API key"})
    reply = raw("POST", "/monitors/create/schema", data=b"\xff")
    assert (reply.status_code, reply.json()) == (400, {"detail": "There was an error parsing the body"})
    assert raw("POST", "/monitors/create/schema", data=" ").json()["detail"][0]["type"] == "missing"


def test_validation_errors_have_the_fastapi_shape(raw):
    no_tag = {**DIFF_SPEC, "datadiff": {k: v for k, v in DIFF_SPEC["datadiff"].items() if k != "diff_type"}}
    reply = raw("POST", "/monitors/create/diff", json=no_tag)
    assert reply.status_code == 422
    (entry,) = reply.json()["detail"]
    assert entry["loc"] == ["body", "datadiff"] and entry["type"] == "union_tag_not_found"
    assert "Unable to extract tag using discriminator" in entry["msg"]

    reply = raw("POST", "/monitors/create/metric", json={"connection_id": 1, "metric": {"type": "table"}})
    locs = {tuple(e["loc"]): e for e in reply.json()["detail"]}
    assert reply.status_code == 422
    assert {("body", "name"), ("body", "schedule"), ("body", "metric", "table", "metric")} <= set(locs)
    assert locs[("body", "name")]["msg"] == "Field required" and locs[("body", "name")]["type"] == "missing"

    bad_tag = {**DIFF_SPEC, "datadiff": {**DIFF_SPEC["datadiff"], "diff_type": "cloud"}}
    assert raw("POST", "/monitors/create/diff", json=bad_tag).json()["detail"][0]["type"] == "union_tag_invalid"
    assert raw("POST", "/monitors/create/test", data="{not json").json()["detail"][0]["type"] == "json_invalid"
    assert raw("GET", "/monitors", params={"page_size": "x"}).json()["detail"][0]["loc"] == ["query", "page_size"]
    assert raw("GET", "/monitors", params={"order_by": "created_by_id"}).status_code == 422
    assert raw("GET", "/monitors/abc").json()["detail"][0]["loc"] == ["path", "id"]
    assert raw("GET", "/monitors/1/runs", params={"start_time": "yesterday"}).status_code == 422


def test_update_needs_the_monitors_own_type(hook, raw):
    monitor_id = hook.create_monitor("diff", DIFF_SPEC)
    with pytest.raises(ValidationError, match="type"):
        hook.update_monitor(monitor_id, {"name": "x"}, monitor_type="metric")
    reply = raw("PATCH", f"/monitors/{monitor_id}/update", json={"name": "x"})
    assert reply.status_code == 422 and "discriminator 'type'" in reply.json()["detail"][0]["msg"]
    reply = raw("PATCH", f"/monitors/{monitor_id}/update",
                json={"type": "diff", "datadiff": {"diff_type": "inmem", "dataset_a": {"connection_id": 1}}})
    assert reply.json()["detail"][0]["type"] == "extra_forbidden"
    reply = raw("PUT", f"/monitors/{monitor_id}/toggle", json={"enabled": "yes"})
    assert reply.status_code == 422 and reply.json()["detail"][0]["loc"] == ["body", "enabled"]

    hook.update_monitor(monitor_id, {"alert": {"different_rows_percent": 10}, "datadiff": {"diff_type": "inmem",
                                                                                          "primary_key": ["id"]}})
    assert hook.get_monitor(monitor_id)["alert"] == {"type": "diff", "different_rows_percent": 10}


def test_unknown_ids_are_404_in_the_vendor_shape(hook, raw):
    monitor_id = hook.create_monitor("schema", SCHEMA_SPEC)
    for call in (lambda: hook.get_monitor(999), lambda: hook.run_monitor(999),
                 lambda: hook.get_monitor_run(monitor_id, 999), lambda: hook.get_data_diff(999),
                 lambda: hook.get_data_diff_summary(999), lambda: hook.delete_monitor(999)):
        with pytest.raises(NotFoundError):
            call()
    reply = raw("GET", "/monitors/999")
    assert reply.status_code == 404 and reply.json() == {"detail": "Monitor 999 not found"}
    assert raw("GET", "/no/such/path").json() == {"detail": "Not Found"}
    assert raw("POST", "/monitors/create/freshness", json={}).status_code == 404
    assert raw("POST", "/monitors").status_code == 405


def test_a_429_fault_is_absorbed_by_the_hooks_retry(hook, monitoring_sandbox):
    monitor_id = hook.create_monitor("schema", SCHEMA_SPEC)
    monitoring_sandbox.config.faults.append(
        FaultRule("retry_after", path="/datafold/api/v1/monitors/*", times=1, retry_after=0.2)
    )
    started = time.monotonic()
    assert hook.get_monitor(monitor_id)["id"] == monitor_id
    assert time.monotonic() - started >= 0.2
    assert monitoring_sandbox.config.faults[0].times == 0


# ---- documented variants ------------------------------------------------------------------------


def test_null_state_and_late_run_variants(hook, monitoring_sandbox, raw):
    monitoring_sandbox.config.rules.append(OutcomeRule("datafold", "*", "ok", seconds=1.5))
    monitor_id = hook.create_monitor("metric", spec("metric", tags=["sandbox:null-state", "sandbox:late-run"]))
    run_id = hook.run_monitor(monitor_id)
    # Right after the trigger: the run is not readable yet, and the listing shows a null state (§9.2).
    with pytest.raises(NotFoundError):
        hook.get_monitor_run(monitor_id, run_id)
    assert [r["state"] for r in hook.list_monitor_runs(monitor_id)] == [None]
    time.sleep(0.6)
    assert hook.get_monitor_run(monitor_id, run_id)["state"] == "checking"
    assert [r["state"] for r in hook.list_monitor_runs(monitor_id)] == ["checking"]


def test_summary_success_variant(hook, monitoring_sandbox):
    monitoring_sandbox.config.run_seconds = 0.0
    monitor_id = hook.create_monitor("diff", spec("diff", tags=["sandbox:summary-success"]))
    run = hook.get_monitor_run(monitor_id, hook.run_monitor(monitor_id))
    assert run["state"] == "ok"
    assert hook.get_data_diff_summary_results(run["diff_id"])["status"] == "success"
    assert hook.get_data_diff(run["diff_id"])["status"] == "done"  # only summary_results says "success"


SEEDED = {
    "datafold": {
        "monitors": {"41": {"id": 41, "monitor_type": "schema", "name": "seeded", "enabled": True,
                            "created_ts": 1.7e9, "modified_ts": 1.7e9, "schedule": {"type": "none"},
                            "connection_id": 3, "table": "db.s.t", "run_ids": []}},
        "_counters": {"monitor": 41},
    }
}


@pytest.mark.parametrize("monitoring_sandbox_config", [SEEDED], indirect=True)
def test_state_file_seeds_and_keeps_the_state(hook, monitoring_sandbox):
    assert hook.get_monitor(41)["name"] == "seeded"
    assert hook.create_monitor("schema", SCHEMA_SPEC) == 42
    run_id = hook.run_monitor(41)
    with open(monitoring_sandbox.config.state_file) as handle:
        saved = json.load(handle)["datafold"]
    assert set(saved["monitors"]) == {"41", "42"} and str(run_id) in saved["runs"]
