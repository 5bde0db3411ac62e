"""DatafoldMonitorRunSensor against the sandbox: poke mode, and the deferral it makes."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import TaskDeferred

from airflow_provider_monitoring.sensors.datafold import DatafoldMonitorRunSensor
from airflow_provider_monitoring.triggers.datafold import DatafoldMonitorRunTrigger
from tests.standins import poke_until_done, task_context
from tests.vendor_runs import start_datafold_run as started_run


def test_the_sensor_pokes_and_defers(monitoring_sandbox):
    monitor_id, run_id = started_run()
    sensor = DatafoldMonitorRunSensor(task_id="wait", monitor_id=monitor_id, run_id=run_id,
                                      poll_interval=0.1, deferrable=False)
    result, _ = poke_until_done(sensor)
    assert result.xcom_value["state"] == "ok"
    deferring = DatafoldMonitorRunSensor(task_id="wait", monitor_id=monitor_id, run_id=run_id, deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        deferring.execute(task_context())
    assert isinstance(deferred.value.trigger, DatafoldMonitorRunTrigger)
