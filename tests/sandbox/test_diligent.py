"""The Diligent emulator end to end through the real DiligentHook (and raw HTTP where the hook
refuses bad input before sending, so the emulator's own error shapes are checked too)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from airflow_provider_monitoring._http.errors import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
)
from airflow_provider_monitoring.hooks.diligent import DiligentHook
from airflow_provider_monitoring.sandbox.core import (
    FaultRule,
    OutcomeRule,
    SandboxConfig,
)
from airflow_provider_monitoring.sandbox.server import Sandbox
from tests.sandbox.polling import wait_for

CHECKS = ["non_operational_website", "high_risk_mcc"]


@pytest.fixture
def monitoring_sandbox_config() -> SandboxConfig:
    return SandboxConfig(run_seconds=0.3)


def settled(hook: DiligentHook, monitoring_id: str) -> dict | None:
    monitoring = hook.get_monitoring(monitoring_id)
    return monitoring if monitoring["running_state"] != "RUNNING" else None


def raw(sandbox: Sandbox, method: str, path: str, key: str | None = None, **kwargs: Any) -> requests.Response:
    headers = {"X-API-KEY": sandbox.config.api_key if key is None else key}
    return requests.request(method, sandbox.vendor_url("diligent") + path, headers=headers, timeout=5, **kwargs)


def rule(match: str, outcome: str, seconds: float | None = None) -> OutcomeRule:
    return OutcomeRule(vendor="diligent", match=match, outcome=outcome, seconds=seconds)


# ---- monitorings and an ok run --------------------------------------------------------------


def test_create_list_get_and_an_ok_execution(monitoring_sandbox):
    hook = DiligentHook()
    created = hook.create_monitoring("https://Shop.Example.com/", CHECKS, frequency="WEEKLY", external_id="ext-1")
    assert created["website"] == "https://shop.example.com"  # sanitised (§2)
    assert created["frequency"] == "weekly" and created["is_active"] is True
    assert created["running_state"] == "RUNNING" and created["last_execution"] is None
    assert [m["id"] for m in hook.list_monitorings()] == [created["id"]]
    assert [m["id"] for m in hook.list_monitorings(website="http://shop.example.com")] == [created["id"]]
    assert list(hook.list_monitorings(state="FAILED")) == []

    done = wait_for(lambda: settled(hook, created["id"]))
    assert done["running_state"] == "IDLE" and done["last_execution"]
    [execution] = hook.list_executions(monitoring_id=created["id"])
    assert execution["alert_count"] == 0 and execution["external_id"] == "ext-1"
    assert execution["execution_time"] == done["last_execution"]  # joinable
    assert done["next_run_at"] > done["last_execution"]  # the next weekly run
    assert list(hook.list_alerts(monitoring_id=created["id"])) == []


def test_run_now_false_never_runs(monitoring_sandbox):
    hook = DiligentHook()
    created = hook.create_monitoring("https://quiet.example", CHECKS, run_now=False)
    assert created["running_state"] == "IDLE" and created["last_execution"] is None
    next_run = datetime.fromisoformat(created["next_run_at"])
    assert timedelta(days=13) < next_run - datetime.now(UTC) <= timedelta(days=14)
    time.sleep(0.4)
    assert hook.get_monitoring(created["id"])["last_execution"] is None
    assert list(hook.list_executions()) == []


# ---- outcomes -------------------------------------------------------------------------------


def test_alert_outcome_raises_alerts_that_can_be_acknowledged(monitoring_sandbox):
    monitoring_sandbox.config.rules.append(rule("*risky*", "alert", 0.2))
    hook = DiligentHook()
    first = hook.create_monitoring("https://risky-one.example", CHECKS)
    second = hook.create_monitoring("https://risky-two.example", ["non_operational_website"])
    assert hook.get_monitoring(first["id"])["running_state"] == "RUNNING"
    assert list(hook.list_alerts()) == []  # nothing before the run ends

    wait_for(lambda: settled(hook, first["id"]) and settled(hook, second["id"]))
    [execution] = hook.list_executions(monitoring_id=first["id"])
    assert execution["alert_count"] == 1
    [alert] = hook.list_alerts(monitoring_id=first["id"])
    assert alert["execution_result_id"] == execution["id"] and alert["acknowledged_at"] is None
    assert [c["check"] for c in alert["failed_checks"]] == CHECKS
    assert {(c["status"], c["method_used"]) for c in alert["failed_checks"]} == {("FAILED", "AI")}

    result = hook.acknowledge_alerts([alert["id"]])
    assert result["acknowledged"] == [alert["id"]]
    assert result["responses"] == [{"success": True, "message": "Alert acknowledged"}]
    assert [a["monitoring_id"] for a in hook.list_alerts(only_unacknowledged=True)] == [second["id"]]
    assert [a["id"] for a in hook.list_alerts(acknowledged=True)] == [alert["id"]]
    body = raw(monitoring_sandbox, "GET", "/monitoring-alerts").json()
    assert body["unacknowledged_count"] == 1 and body["next_token"] is None

    everything = hook.acknowledge_alerts(all_alerts=True)
    assert everything["responses"][0]["message"] == "1 alerts acknowledged"
    assert everything["responses"][0]["unacknowledged_count"] == 0
    assert list(hook.list_alerts(only_unacknowledged=True)) == []


def test_failed_outcome_sets_failed_running_state_and_lists_nothing(monitoring_sandbox):
    monitoring_sandbox.config.rules.append(rule("*broken*", "failed", 0.2))
    hook = DiligentHook()
    created = hook.create_monitoring("https://broken.example", CHECKS)
    done = wait_for(lambda: settled(hook, created["id"]))
    assert done["running_state"] == "FAILED" and done["last_execution"]
    assert done["execution_results"][0]["status"] == "FAILED"
    assert [m["id"] for m in hook.list_monitorings(state="FAILED")] == [created["id"]]
    assert list(hook.list_executions(monitoring_id=created["id"])) == []
    assert list(hook.list_alerts()) == []


def test_rules_match_the_external_id_and_time_filters_apply(monitoring_sandbox):
    monitoring_sandbox.config.rules.append(rule("batch-7", "alert", 0.0))
    hook = DiligentHook()
    created = hook.create_monitoring("https://plain.example", CHECKS, external_id="batch-7")
    [alert] = hook.list_alerts()
    assert alert["monitoring_id"] == created["id"] and alert["external_id"] == "batch-7"
    executed = alert["execution_time"]
    assert [a["id"] for a in hook.list_alerts(execution_time_after=executed)] == [alert["id"]]
    later = datetime.now(UTC) + timedelta(minutes=1)
    assert list(hook.list_alerts(execution_time_after=later)) == []
    assert list(hook.list_alerts(execution_time_before="2020-01-01T00:00:00Z")) == []


# ---- errors ---------------------------------------------------------------------------------


def test_bad_key_is_401_in_the_vendor_shape(monitoring_sandbox, monkeypatch):
    spec = {"conn_type": "diligent", "host": monitoring_sandbox.vendor_url("diligent"), "password": "wrong"}
    monkeypatch.setenv("AIRFLOW_CONN_DILIGENT_WRONG", json.dumps(spec))
    with pytest.raises(AuthenticationError, match="401"):
        list(DiligentHook(diligent_conn_id="diligent_wrong").list_monitorings())
    assert DiligentHook(diligent_conn_id="diligent_wrong").test_connection()[0] is False
    assert DiligentHook().test_connection()[0] is True
    reply = raw(monitoring_sandbox, "GET", "/monitorings", key="wrong")
    assert reply.status_code == 401 and reply.json() == {"error": "Invalid API key"}
    reply = requests.get(monitoring_sandbox.vendor_url("diligent") + "/monitorings", timeout=5)
    assert reply.status_code == 401 and reply.json() == {"error": "Missing API key"}


def test_create_validation_errors_use_the_errors_shape(monitoring_sandbox):
    reply = raw(monitoring_sandbox, "POST", "/monitorings",
                json={"website": "not a url", "checks": ["nope", "high_risk_mcc"], "frequency": "daily"})
    assert reply.status_code == 400
    errors = reply.json()["errors"]
    assert {(tuple(e["path"]), e["code"]) for e in errors} == {
        (("website",), "invalid_string"), (("checks", 0), "invalid_enum_value"), (("frequency",), "invalid_enum_value"),
    }
    assert all(isinstance(e["message"], str) and e["message"] for e in errors)
    reply = raw(monitoring_sandbox, "POST", "/monitorings", json={"checks": []})
    assert {(tuple(e["path"]), e["code"]) for e in reply.json()["errors"]} == {
        (("website",), "invalid_type"), (("checks",), "too_small"),
    }
    expires = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    reply = raw(monitoring_sandbox, "POST", "/monitorings",
                json={"website": "https://a.example", "checks": CHECKS * 2, "expires_at": expires})
    assert {e["code"] for e in reply.json()["errors"]} == {"custom"}


def test_url_security_check_and_duplicates_through_the_hook(monitoring_sandbox):
    hook = DiligentHook()
    with pytest.raises(BadRequestError, match="URL validation failed"):
        hook.create_monitoring("http://127.0.0.1/admin", CHECKS)
    first = hook.create_monitoring("https://dup.example", CHECKS, run_now=False)
    with pytest.raises(BadRequestError, match="monitor already exists"):
        hook.create_monitoring("https://DUP.example/", CHECKS)
    again = hook.create_monitoring("https://dup.example", CHECKS, skip_duplicate=True)
    assert again["id"] == first["id"]
    # A deactivated monitoring no longer blocks its website.
    assert hook.deactivate_monitoring(first["id"])["already_inactive"] is False
    assert hook.create_monitoring("https://dup.example", CHECKS)["id"] != first["id"]


def test_deactivate_is_idempotent_and_404s_unknown_ids(monitoring_sandbox):
    hook = DiligentHook()
    created = hook.create_monitoring("https://stop.example", CHECKS, run_now=False)
    assert hook.deactivate_monitoring(created["id"]) == {
        "monitoring_id": created["id"], "already_inactive": False, "status": 204,
    }
    assert hook.deactivate_monitoring(created["id"])["already_inactive"] is True
    assert hook.get_monitoring(created["id"])["is_active"] is False
    with pytest.raises(NotFoundError, match="Monitoring not found"):
        hook.deactivate_monitoring("no-such-id")


def test_query_errors_the_hook_would_refuse_itself(monitoring_sandbox):
    sandbox = monitoring_sandbox
    reply = raw(sandbox, "GET", "/monitorings", params={"state": "IDLE", "website": "https://a.example"})
    assert reply.status_code == 400 and "error" in reply.json()
    reply = raw(sandbox, "GET", "/monitorings", params={"page_size": "101"})
    assert reply.json() == {"error": "page_size must be a positive integer between 1 and 100"}
    reply = raw(sandbox, "GET", "/monitoring-executions",
                params={"from": "2026-01-01T00:00:00Z", "to": "2026-03-15T00:00:00Z"})
    assert reply.status_code == 400 and "60 days" in reply.json()["error"]
    reply = raw(sandbox, "GET", "/monitoring-alerts", params={"only_unacknowledged": "yes"})
    assert reply.status_code == 400 and reply.json()["errors"][0]["path"] == ["only_unacknowledged"]
    reply = raw(sandbox, "GET", "/monitorings", params={"next_token": "garbage!"})
    assert reply.json() == {"error": "Invalid next_token"}
    for body in ({}, {"alert_id": "x", "all": True}, {"all": False}):
        reply = raw(sandbox, "POST", "/monitoring-alerts/acknowledge", json=body)
        assert reply.json() == {"error": "Either alert_id OR all must be provided, but not both"}
    reply = raw(sandbox, "POST", "/monitoring-alerts/acknowledge", json={"alert_id": "missing"})
    assert reply.status_code == 404 and reply.json() == {"error": "Alert not found"}
    reply = raw(sandbox, "GET", "/no-such-endpoint")
    assert reply.status_code == 404 and "error" in reply.json()


def test_acknowledging_an_unknown_alert_through_the_hook_is_not_found(monitoring_sandbox):
    with pytest.raises(NotFoundError, match="Alert not found"):
        DiligentHook().acknowledge_alerts(["missing"])


# ---- bulk create and pagination ----------------------------------------------------------------


def test_bulk_create_is_all_or_nothing_unless_skipping(monitoring_sandbox):
    hook = DiligentHook()
    hook.create_monitoring("https://taken.example", CHECKS, run_now=False)
    items = [{"website": f"https://bulk-{n}.example", "checks": CHECKS, "run_now": False} for n in range(3)]
    with pytest.raises(BadRequestError) as caught:
        hook.bulk_create_monitorings(items + [{"website": "https://taken.example", "checks": CHECKS}])
    assert caught.value.body["duplicates"] == [{"website": "https://taken.example", "index": 3}]
    assert len(list(hook.list_monitorings())) == 1  # nothing was created

    body = hook.bulk_create_monitorings(items)
    assert body["is_successful"] is True and len(body["items"]) == 3
    more = [{"website": "https://bulk-0.example", "checks": CHECKS, "skip_duplicate": True},
            {"website": "https://bulk-9.example", "checks": CHECKS}]
    body = hook.bulk_create_monitorings(more)
    assert [m["website"] for m in body["items"]] == ["https://bulk-9.example"]
    assert body["duplicates"] == [{"website": "https://bulk-0.example", "index": 0}]
    reply = raw(monitoring_sandbox, "POST", "/monitorings/bulk-create", json=[{"website": 5, "checks": CHECKS}])
    assert reply.json()["errors"][0]["path"] == [0, "website"]


def test_pagination_of_monitorings_executions_and_alerts(monitoring_sandbox):
    monitoring_sandbox.config.rules.append(rule("*", "alert", 0.0))
    hook = DiligentHook()
    for batch in range(2):  # 240 monitorings: three pages of 100 for the hook
        hook.bulk_create_monitorings(
            [{"website": f"https://page-{batch}-{n}.example", "checks": CHECKS[:1]} for n in range(120)]
        )
    monitorings = list(hook.list_monitorings(sort_by="website", sort_direction="asc"))
    assert len({m["id"] for m in monitorings}) == 240
    assert [m["website"] for m in monitorings] == sorted(m["website"] for m in monitorings)
    assert len({e["id"] for e in hook.list_executions()}) == 240
    assert len({a["id"] for a in hook.list_alerts()}) == 240

    first = raw(monitoring_sandbox, "GET", "/monitoring-executions").json()
    assert len(first["items"]) == 10  # the default page_size
    decoded = json.loads(base64.b64decode(first["next_token"]))
    assert "customerId" in decoded
    second = raw(monitoring_sandbox, "GET", "/monitoring-executions", params={"next_token": first["next_token"]})
    assert not {e["id"] for e in first["items"]} & {e["id"] for e in second.json()["items"]}
    times = [e["execution_time"] for e in first["items"] + second.json()["items"]]
    assert times == sorted(times, reverse=True)  # newest first


def test_executions_over_long_ranges_are_windowed_by_the_hook(monitoring_sandbox):
    monitoring_sandbox.config.rules.append(rule("*", "ok", 0.0))
    hook = DiligentHook()
    created = hook.create_monitoring("https://window.example", CHECKS)
    start = datetime.now(UTC) - timedelta(days=150)
    assert [e["monitoring_id"] for e in hook.list_executions(start=start)] == [created["id"]]
    assert list(hook.list_executions(end=start)) == []


# ---- variants -----------------------------------------------------------------------------------


def test_camel_external_id_serves_camel_case_alerts(monitoring_sandbox):
    monitoring_sandbox.config.rules.append(rule("*", "alert", 0.0))
    hook = DiligentHook()
    camel = hook.create_monitoring("https://camel.example", CHECKS, external_id="camel:42")
    snake = hook.create_monitoring("https://snake.example", CHECKS)
    items = {a["id"]: a for a in raw(monitoring_sandbox, "GET", "/monitoring-alerts").json()["items"]}
    by_monitoring = {a.get("monitoring_id") or a.get("monitoringId"): a for a in items.values()}
    assert "monitoringId" in by_monitoring[camel["id"]] and "monitoring_id" not in by_monitoring[camel["id"]]
    assert by_monitoring[camel["id"]]["failedChecks"][0]["methodUsed"] == "AI"
    assert "monitoring_id" in by_monitoring[snake["id"]]

    [alert] = hook.list_alerts(monitoring_id=camel["id"])  # read in snake_case by the hook
    assert alert["external_id"] == "camel:42" and alert["failed_checks"][0]["method_used"] == "AI"
    assert alert["execution_result_id"] == next(iter(hook.list_executions(monitoring_id=camel["id"])))["id"]


def seeded_sandbox(tmp_path, monkeypatch, diligent_state: dict) -> Sandbox:
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"diligent": diligent_state}))
    sandbox = Sandbox(SandboxConfig(run_seconds=0.0, state_file=str(path))).start()
    for name, value in sandbox.connection_env().items():
        monkeypatch.setenv(name, value)
    return sandbox


def test_seeded_settings_bare_array_listing_and_camel_generation(tmp_path, monkeypatch):
    state = {"settings": {"monitorings_listing": "array", "rendering": "camel"}}
    sandbox = seeded_sandbox(tmp_path, monkeypatch, state)
    try:
        sandbox.config.rules.append(rule("*", "alert", 0.0))
        hook = DiligentHook()
        created = [hook.create_monitoring(f"https://arr-{n}.example", CHECKS) for n in range(12)]
        assert isinstance(raw(sandbox, "GET", "/monitorings").json(), list)
        assert {m["id"] for m in hook.list_monitorings()} == {m["id"] for m in created}

        body = raw(sandbox, "GET", "/monitoring-alerts", params={"pageSize": 5}).json()
        assert len(body["items"]) == 5 and body["unacknowledgedCount"] == 12
        assert "monitoringId" in body["items"][0]
        alerts = list(hook.list_alerts())
        assert len(alerts) == 12 and all(a["monitoring_id"] for a in alerts)
        assert hook.acknowledge_alerts([alerts[0]["id"]])["acknowledged"] == [alerts[0]["id"]]
        everything = hook.acknowledge_alerts(all_alerts=True)
        assert everything["updated_count"] == 11  # updatedCount, the camelCase answer
        # The older generation ignores the snake filter names; the hook filters again itself.
        ignored = raw(sandbox, "GET", "/monitoring-alerts", params={"only_unacknowledged": "true"}).json()
        assert len(ignored["items"]) == 10  # the default pageSize, acknowledged ones included
        assert list(hook.list_alerts(only_unacknowledged=True)) == []
    finally:
        sandbox.stop()


def test_seeded_monitoring_catches_up_its_scheduled_runs(tmp_path, monkeypatch):
    now = int(time.time() * 1000)
    day = 86_400_000
    monitoring = {
        "id": "seeded-1", "website": "https://seeded.example", "checks": CHECKS, "frequency": "weekly",
        "is_active": True, "expires_at": now + 100 * day, "created_at": now - 20 * day,
        "updated_at": now - 20 * day, "external_id": None, "next_start": now - 13 * day, "run_ids": [],
    }
    sandbox = seeded_sandbox(tmp_path, monkeypatch, {"monitorings": {"seeded-1": monitoring}})
    try:
        hook = DiligentHook()
        executions = list(hook.list_executions(monitoring_id="seeded-1"))
        assert len(executions) == 2  # days -13 and -6
        got = hook.get_monitoring("seeded-1")
        assert got["running_state"] == "IDLE" and got["last_execution"] == executions[0]["execution_time"]
        assert got["next_run_at"] > got["last_execution"]
        saved = json.loads((tmp_path / "state.json").read_text())["diligent"]
        assert len(saved["executions"]) == 2  # the state file follows
    finally:
        sandbox.stop()


# ---- async twins and faults -----------------------------------------------------------------------


async def test_async_twins_against_the_emulator(monitoring_sandbox):
    monitoring_sandbox.config.rules.append(rule("*", "alert", 0.2))
    hook = DiligentHook()
    created = hook.create_monitoring("https://async.example", CHECKS)
    async with hook:
        assert (await hook.aget_monitoring(created["id"]))["running_state"] == "RUNNING"
        deadline = time.monotonic() + 5
        while (await hook.aget_monitoring(created["id"]))["running_state"] == "RUNNING":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        executions = [e async for e in hook.alist_executions(monitoring_id=created["id"])]
        alerts = [a async for a in hook.alist_alerts(only_unacknowledged=True)]
        monitorings = [m async for m in hook.alist_monitorings(state="IDLE")]
    assert executions[0]["alert_count"] == 1 and alerts[0]["execution_result_id"] == executions[0]["id"]
    assert [m["id"] for m in monitorings] == [created["id"]]


def test_a_retry_after_fault_is_absorbed_by_the_hook(monitoring_sandbox):
    fault = FaultRule("retry_after", path="/diligent/monitorings", times=1, retry_after=0.2)
    monitoring_sandbox.config.faults.append(fault)
    hook = DiligentHook()
    started = time.monotonic()
    assert list(hook.list_monitorings()) == []
    assert fault.times == 0 and time.monotonic() - started >= 0.2
