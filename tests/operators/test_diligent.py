"""Diligent operators, sensor and trigger against the sandbox."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta, timezone

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowSkipException, TaskDeferred

from airflow_provider_monitoring._http.errors import ConfigurationError
from airflow_provider_monitoring.hooks.diligent import DiligentHook
from airflow_provider_monitoring.operators.diligent import (
    DiligentAlertsOperator, DiligentBulkCreateMonitoringsOperator, DiligentCreateMonitoringOperator,
)
from airflow_provider_monitoring.sandbox import OutcomeRule
from airflow_provider_monitoring.sensors.diligent import DiligentExecutionSensor
from airflow_provider_monitoring.triggers.diligent import DiligentExecutionTrigger

CHECKS = ["non_operational_website", "high_risk_mcc"]


def create(website: str, **kwargs) -> str:
    return DiligentCreateMonitoringOperator(task_id="create", website=website, checks=CHECKS, **kwargs).execute({})


@pytest.mark.parametrize("kwargs, complaint", [
    ({"website": "shop.example.com"}, "http\\(s\\) URL"),
    ({"website": "https://shop.example.com", "checks": ["vibes"]}, "unknown checks value 'vibes'"),
    ({"website": "https://shop.example.com", "checks": ["high_risk_mcc", "high_risk_mcc"]}, "more than once"),
    ({"website": "https://shop.example.com", "frequency": "daily"}, "unknown frequency"),
    ({"website": "https://shop.example.com", "expires_at": datetime.now(timezone.utc) + timedelta(days=3)},
     "at least 14 days ahead"),
])
def test_bad_arguments_are_refused_before_any_request(monitoring_sandbox, kwargs, complaint):
    with pytest.raises(ConfigurationError, match=complaint):
        DiligentCreateMonitoringOperator(task_id="create", **{"checks": CHECKS, **kwargs})
    assert monitoring_sandbox.requests() == []


def test_frequency_is_case_insensitive(monitoring_sandbox):
    monitoring_id = create("https://shop.example.com", frequency="Every_3_Weeks")
    assert DiligentHook().get_monitoring(monitoring_id)["frequency"] == "every_3_weeks"


def test_a_retried_create_returns_the_existing_monitoring_with_one_post(monitoring_sandbox):
    first = create("https://shop.example.com")
    again = create("https://SHOP.example.com/")  # the same site, spelled as a retry might
    assert again == first
    assert monitoring_sandbox.requests("POST", "/diligent/monitorings") == [("POST", "/diligent/monitorings")]
    with pytest.raises(Exception, match="already exists"):
        create("https://shop.example.com", if_exists="fail")


def test_bulk_create_of_450_websites_is_three_requests(monitoring_sandbox):
    websites = [f"https://shop{n}.example.com" for n in range(450)]
    result = DiligentBulkCreateMonitoringsOperator(task_id="onboard", websites=websites, checks=CHECKS,
                                                   run_now=False).execute({})
    assert len(result["created"]) == 450 and result["duplicates"] == []
    assert len(monitoring_sandbox.requests("POST", "/diligent/monitorings/bulk-create")) == 3
    again = DiligentBulkCreateMonitoringsOperator(task_id="onboard", websites=websites[:10] + ["https://new.example.com"],
                                                  checks=CHECKS, run_now=False).execute({})
    assert [c["website"] for c in again["created"]] == ["https://new.example.com"]
    assert again["duplicates"] == websites[:10]


def wait(monitoring_id: str, executed_after: str, **kwargs):
    sensor = DiligentExecutionSensor(task_id="wait", monitoring_id=monitoring_id, executed_after=executed_after,
                                     poll_interval=0.1, deferrable=False, **kwargs)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        result = sensor.poke({})
        if result:
            return result.xcom_value
        time.sleep(0.1)
    raise AssertionError("no execution came")


def started(website: str) -> tuple[str, str]:
    before = datetime.now(timezone.utc).isoformat()
    return create(website), before


def test_an_execution_without_alerts_succeeds(monitoring_sandbox):
    monitoring_id, before = started("https://calm.example.com")
    execution = wait(monitoring_id, before)
    assert execution["monitoring_id"] == monitoring_id and execution["alert_count"] == 0


@pytest.mark.parametrize("on_alert, outcome", [("fail", AirflowException), ("skip", AirflowSkipException), ("succeed", None)])
def test_an_execution_with_alerts_follows_on_alert(monitoring_sandbox, on_alert, outcome):
    monitoring_sandbox.config.rules.insert(0, OutcomeRule("diligent", "*risky*", "alert"))
    monitoring_id, before = started("https://risky.example.com")
    if outcome is None:
        assert wait(monitoring_id, before, on_alert=on_alert)["alert_count"] >= 1
    else:
        with pytest.raises(outcome, match="alert"):
            wait(monitoring_id, before, on_alert=on_alert)


def test_a_failed_monitoring_fails_the_wait(monitoring_sandbox):
    monitoring_sandbox.config.rules.insert(0, OutcomeRule("diligent", "*broken*", "failed"))
    monitoring_id, before = started("https://broken.example.com")
    with pytest.raises(AirflowException, match="'FAILED'"):
        wait(monitoring_id, before, on_alert="succeed")


def test_the_trigger_serializes_without_the_key_and_fires_with_the_execution_id(monitoring_sandbox):
    monitoring_id, before = started("https://calm.example.com")
    trigger = DiligentExecutionTrigger(monitoring_id, before, poll_interval=0.1, deadline=time.time() + 30)
    path, kwargs = trigger.serialize()
    assert monitoring_sandbox.config.api_key not in json.dumps(kwargs)
    assert DiligentExecutionTrigger(**kwargs).serialize() == (path, kwargs)

    async def fire():
        return [event async for event in trigger.run()]

    [event] = asyncio.run(fire())
    assert event.payload["status"] == "success"
    assert event.payload["run_id"] == event.payload["run"]["id"]


def test_the_sensor_defers_with_its_reference_time():
    sensor = DiligentExecutionSensor(task_id="wait", monitoring_id="m1", deferrable=True, timeout=60)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})
    trigger = deferred.value.trigger
    assert trigger.monitor_id == "m1" and datetime.fromisoformat(trigger.executed_after) <= datetime.now(timezone.utc)


def test_alerts_are_returned_and_exactly_those_acknowledged(monitoring_sandbox, tmp_path):
    monitoring_sandbox.config.rules.insert(0, OutcomeRule("diligent", "*risky*", "alert"))
    risky, before = started("https://risky.example.com")
    other, _ = started("https://risky-too.example.com")
    wait(risky, before, on_alert="succeed")
    wait(other, before, on_alert="succeed")
    alerts = DiligentAlertsOperator(task_id="alerts", monitoring_id=risky, acknowledge=True).execute({})
    assert alerts and {a["monitoring_id"] for a in alerts} == {risky}
    acks = monitoring_sandbox.requests("POST", "/diligent/monitoring-alerts/acknowledge")
    assert len(acks) == len(alerts)
    assert DiligentAlertsOperator(task_id="alerts", monitoring_id=risky).execute({}) == []
    still_open = DiligentAlertsOperator(task_id="alerts", monitoring_id=other, output_path=str(tmp_path / "a.jsonl"))
    summary = still_open.execute({})
    assert summary["records"] >= 1 and len((tmp_path / "a.jsonl").read_text().splitlines()) == summary["records"]


def test_a_reference_time_still_ahead_keeps_waiting_instead_of_failing(monitoring_sandbox):
    monitoring_id = create("https://calm.example.com")
    ahead = (datetime.now(timezone.utc) + timedelta(minutes=5)).isoformat()
    sensor = DiligentExecutionSensor(task_id="wait", monitoring_id=monitoring_id, executed_after=ahead,
                                     poll_interval=0.1, deferrable=False)
    assert sensor.poke({}) is False


def test_the_default_reference_time_is_the_dag_runs_start(monitoring_sandbox):
    from types import SimpleNamespace

    began = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    sensor = DiligentExecutionSensor(task_id="wait", monitoring_id="m1", deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({"dag_run": SimpleNamespace(start_date=began)})
    assert deferred.value.trigger.executed_after == began.isoformat()
