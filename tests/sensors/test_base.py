"""What every run sensor does when the vendor misbehaves (``sensors/base.py``, driven through the
Datafold sensor against the sandbox): a transient failure is outlived, and failed pokes are counted
across the reschedules of one task instance."""

from __future__ import annotations

import time

import pytest
from airflow.sdk.exceptions import AirflowException

from airflow_provider_monitoring._waiting import TRANSIENT_POLLS
from airflow_provider_monitoring.sandbox import FaultRule
from airflow_provider_monitoring.sensors.datafold import DatafoldMonitorRunSensor
from tests.standins import TaskStateStoreStandIn, task_context
from tests.vendor_runs import DATAFOLD_RUN_PATH as RUN_PATH
from tests.vendor_runs import start_datafold_run as started_run


def test_a_polling_sensor_outlives_a_transient_failure(monitoring_sandbox, datafold_conn):
    monitor_id, run_id = started_run()
    monitoring_sandbox.config.faults.append(FaultRule("status", status=503, method="GET", path=RUN_PATH, times=1))
    sensor = DatafoldMonitorRunSensor(task_id="wait", monitor_id=monitor_id, run_id=run_id,
                                      datafold_conn_id=datafold_conn(), deferrable=False)
    assert sensor.poke(task_context()) is False
    time.sleep(monitoring_sandbox.config.run_seconds + 0.2)
    assert sensor.poke(task_context()).is_done


def test_a_rescheduled_sensor_counts_failed_pokes_across_reschedules(monitoring_sandbox, datafold_conn):
    monitor_id, run_id = started_run()
    monitoring_sandbox.config.faults.append(FaultRule("status", status=500, method="GET", path=RUN_PATH))
    store = TaskStateStoreStandIn()

    def poke_in_a_new_sensor():  # as reschedule mode does: a new task instance process per poke
        sensor = DatafoldMonitorRunSensor(task_id="wait", monitor_id=monitor_id, run_id=run_id, mode="reschedule",
                                          datafold_conn_id=datafold_conn(), deferrable=False)
        return sensor.poke(task_context(store=store))

    assert [poke_in_a_new_sensor() for _ in range(TRANSIENT_POLLS - 1)] == [False] * (TRANSIENT_POLLS - 1)
    with pytest.raises(AirflowException, match=f"{TRANSIENT_POLLS} polls in a row failed"):
        poke_in_a_new_sensor()
