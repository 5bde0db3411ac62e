"""DiligentExecutionSensor against the sandbox: the next execution's verdict, the reference time it
waits after, and the deferral it makes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowSkipException, TaskDeferred

from airflow_provider_monitoring.sandbox import OutcomeRule
from airflow_provider_monitoring.sensors.diligent import DiligentExecutionSensor
from tests.standins import task_context
from tests.vendor_runs import create_diligent_monitoring as create
from tests.vendor_runs import start_diligent_monitoring as started
from tests.vendor_runs import wait_for_diligent_execution as wait


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


def test_the_sensor_defers_with_its_reference_time():
    sensor = DiligentExecutionSensor(task_id="wait", monitoring_id="m1", deferrable=True, timeout=60)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(task_context())
    trigger = deferred.value.trigger
    assert trigger.monitoring_id == "m1" and datetime.fromisoformat(trigger.executed_after) <= datetime.now(timezone.utc)


def test_a_reference_time_still_ahead_keeps_waiting_instead_of_failing(monitoring_sandbox):
    monitoring_id = create("https://calm.example.com")
    ahead = (datetime.now(timezone.utc) + timedelta(minutes=5)).isoformat()
    sensor = DiligentExecutionSensor(task_id="wait", monitoring_id=monitoring_id, executed_after=ahead,
                                     poll_interval=0.1, deferrable=False)
    assert sensor.poke(task_context()) is False


def test_the_default_reference_time_is_the_dag_runs_start(monitoring_sandbox):
    began = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    sensor = DiligentExecutionSensor(task_id="wait", monitoring_id="m1", deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(task_context(dag_run_start=began))
    assert deferred.value.trigger.executed_after == began.isoformat()
