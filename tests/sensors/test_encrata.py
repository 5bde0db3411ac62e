"""EncrataRunSensor: poke mode against the sandbox, the deferral it makes, and how it settles events."""

from __future__ import annotations

import time

import pytest
from airflow.sdk.exceptions import AirflowException, TaskDeferred

from airflow_provider_monitoring._waiting import EventError, make_event
from airflow_provider_monitoring.sandbox import OutcomeRule
from airflow_provider_monitoring.sensors.encrata import EncrataRunSensor
from tests.standins import poke_until_done, task_context
from tests.vendor_runs import start_encrata_run as start_run


def sensor(monitor_id: str, run_id: str, **kwargs) -> EncrataRunSensor:
    return EncrataRunSensor(task_id="wait", monitor_id=monitor_id, run_id=run_id, poll_interval=0.1, **kwargs)


def test_poke_waits_while_running_then_returns_the_run(monitoring_sandbox):
    monitor_id, run_id = start_run("domains")
    result, pokes = poke_until_done(sensor(monitor_id, run_id, deferrable=False))
    assert pokes > 1  # it did see the run in progress first
    assert result.is_done and result.xcom_value["id"] == run_id and result.xcom_value["status"] == "success"


def test_poke_fails_on_a_failed_run(monitoring_sandbox):
    monitoring_sandbox.config.rules.insert(0, OutcomeRule("encrata", "doomed*", "failed"))
    monitor_id, run_id = start_run("doomed domains")
    with pytest.raises(AirflowException, match="ended 'failed'"):
        poke_until_done(sensor(monitor_id, run_id, deferrable=False))


def test_deferrable_sensor_defers_to_the_trigger_with_a_wall_clock_deadline():
    task = sensor("m1", "r1", deferrable=True, timeout=600)
    before = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        task.execute(task_context())
    trigger = deferred.value.trigger
    assert deferred.value.method_name == "execute_complete"
    assert (trigger.monitor_id, trigger.run_id, trigger.conn_id) == ("m1", "r1", "encrata_default")
    assert before + 600 <= trigger.deadline <= time.time() + 600


def test_execute_complete_settles_only_documented_events():
    task = sensor("m1", "r1", deferrable=True, on_alert="fail")
    run = {"id": "r1", "status": "success"}
    good = {**make_event("success", "encrata", "m1", "r1", None, "ok"), "run": run}
    assert task.execute_complete(task_context(), good) == run
    with pytest.raises(EventError):
        task.execute_complete(task_context(), {"status": "success"})
    with pytest.raises(AirflowException, match="gave up"):
        task.execute_complete(task_context(), make_event("timeout", "encrata", "m1", "r1", None, "gave up"))


def test_bad_policies_are_refused_at_construction():
    with pytest.raises(ValueError, match="on_alert"):
        sensor("m1", "r1", on_alert="ignore")


@pytest.mark.parametrize("setting, expected", [("True", True), ("False", False)])
def test_deferrable_defaults_to_airflows_setting(monkeypatch, setting, expected):
    from airflow_provider_monitoring.operators.encrata import EncrataTriggerRunOperator

    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", setting)
    assert EncrataRunSensor(task_id="wait", monitor_id="m", run_id="r").deferrable is expected
    assert EncrataTriggerRunOperator(task_id="run", monitor_id="m").deferrable is expected


def test_pokes_share_one_hook_and_one_http_session(monitoring_sandbox):
    monitor_id, run_id = start_run("domains")
    task = sensor(monitor_id, run_id, deferrable=False)
    task.poke(task_context())
    session = task.hook.client.session
    poke_until_done(task)
    assert task.hook.client.session is session
