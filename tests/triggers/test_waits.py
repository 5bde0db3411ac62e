"""What every run wait does when the vendor misbehaves, driven through the public triggers and
sensors against the sandbox: transient failures are outlived, lasting ones end the wait, the
deadline holds while the HTTP layer backs off, and a stopped task cancels what can be cancelled."""

from __future__ import annotations

import asyncio
import time

import pytest

from airflow_provider_monitoring._waiting import TRANSIENT_POLLS
from airflow_provider_monitoring.hooks.datafold import DatafoldHook
from airflow_provider_monitoring.hooks.encrata import EncrataHook
from airflow_provider_monitoring.sandbox import FaultRule, OutcomeRule
from airflow_provider_monitoring.sensors.datafold import DatafoldMonitorRunSensor
from airflow_provider_monitoring.triggers.datafold import DatafoldMonitorRunTrigger
from airflow_provider_monitoring.triggers.encrata import EncrataRunTrigger
from tests.standins import task_context

RUN_PATH = "/datafold/api/v1/monitors/*/runs/*"
SPEC = {"name": "orders rows", "schedule": {"type": "none"}, "connection_id": 11,
        "metric": {"type": "table", "table": "PROD.SALES.ORDERS", "metric": "row_count"},
        "alert": {"type": "automatic", "sensitivity": 50}}
DIFF_SPEC = {"name": "orders diff", "schedule": {"type": "none"}, "datadiff": {
    "diff_type": "inmem", "primary_key": ["order_id"],
    "dataset_a": {"connection_id": 11, "table": "PROD.SALES.ORDERS"},
    "dataset_b": {"connection_id": 12, "table": "analytics.sales.orders"}}}


@pytest.fixture
def datafold_conn(monitoring_sandbox, connection):
    """A Datafold connection to the sandbox whose HTTP layer does not retry (or retries once), so a
    fault reaches the wait itself."""

    def make(max_retries: int = 0) -> str:
        return connection(f"datafold_r{max_retries}", "datafold", monitoring_sandbox.vendor_url("datafold"),
                          password=monitoring_sandbox.config.api_key, max_retries=max_retries)

    return make


def started_run(spec: dict = SPEC, monitor_type: str = "metric") -> tuple[int, int]:
    hook = DatafoldHook()
    monitor_id = hook.create_monitor(monitor_type, spec)
    return monitor_id, hook.run_monitor(monitor_id)


def fire(trigger) -> dict:
    async def first_event():
        async for event in trigger.run():
            return event.payload

    return asyncio.run(first_event())


def wait_on(conn_id: str, monitor_id: int, run_id: int, deadline_in: float = 30.0) -> DatafoldMonitorRunTrigger:
    return DatafoldMonitorRunTrigger(monitor_id, run_id, datafold_conn_id=conn_id, poll_interval=0.1,
                                     deadline=time.time() + deadline_in)


@pytest.mark.parametrize("fault", [
    FaultRule("malformed_json", method="GET", path=RUN_PATH, times=3),
    FaultRule("status", status=502, method="GET", path=RUN_PATH, times=3),
    FaultRule("drop", method="GET", path=RUN_PATH, times=3),
], ids=["broken-json", "502", "dropped"])
def test_a_wait_outlives_polls_that_fail_for_a_transient_reason(monitoring_sandbox, datafold_conn, fault):
    monitor_id, run_id = started_run()
    monitoring_sandbox.config.faults.append(fault)
    event = fire(wait_on(datafold_conn(), monitor_id, run_id))
    assert event["status"] == "success", event
    assert len(monitoring_sandbox.requests("GET", RUN_PATH)) >= 4


def test_a_wait_whose_reads_keep_failing_ends_as_error_after_a_bounded_number_of_polls(
        monitoring_sandbox, datafold_conn):
    monitor_id, run_id = started_run()
    monitoring_sandbox.config.faults.append(FaultRule("status", status=500, method="GET", path=RUN_PATH))
    event = fire(wait_on(datafold_conn(), monitor_id, run_id))
    assert event["status"] == "error" and "HTTP 500" in event["message"]
    assert f"{TRANSIENT_POLLS} polls in a row failed" in event["message"]
    assert len(monitoring_sandbox.requests("GET", RUN_PATH)) == TRANSIENT_POLLS


@pytest.mark.parametrize("status", [401, 403, 404, 422])
def test_auth_not_found_and_validation_errors_end_the_wait_at_once(monitoring_sandbox, datafold_conn, status):
    monitor_id, run_id = started_run()
    monitoring_sandbox.config.faults.append(FaultRule("status", status=status, method="GET", path=RUN_PATH))
    event = fire(wait_on(datafold_conn(), monitor_id, run_id))
    assert event["status"] == "error" and f"HTTP {status}" in event["message"]
    assert event["error"]["status"] == status
    assert len(monitoring_sandbox.requests("GET", RUN_PATH)) == 1


def test_the_deadline_holds_while_the_http_layer_sleeps_out_a_retry_after(monitoring_sandbox, datafold_conn):
    monitor_id, run_id = started_run()
    monitoring_sandbox.config.faults.append(
        FaultRule("retry_after", retry_after=30, method="GET", path=RUN_PATH))
    started = time.monotonic()
    event = fire(wait_on(datafold_conn(max_retries=1), monitor_id, run_id, deadline_in=1.5))
    assert event["status"] == "timeout", event
    assert "at the deadline" in event["message"]
    assert time.monotonic() - started < 10  # not after the 30 s the vendor asked for


def test_a_polling_sensor_outlives_a_transient_failure(monitoring_sandbox, datafold_conn):
    monitor_id, run_id = started_run()
    monitoring_sandbox.config.faults.append(FaultRule("status", status=503, method="GET", path=RUN_PATH, times=1))
    sensor = DatafoldMonitorRunSensor(task_id="wait", monitor_id=monitor_id, run_id=run_id,
                                      datafold_conn_id=datafold_conn(), deferrable=False)
    assert sensor.poke(task_context()) is False
    time.sleep(monitoring_sandbox.config.run_seconds + 0.2)
    assert sensor.poke(task_context()).is_done


def test_a_rescheduled_sensor_counts_failed_pokes_across_reschedules(monitoring_sandbox, datafold_conn):
    from airflow.sdk.exceptions import AirflowException

    from tests.standins import TaskStateStoreStandIn

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


# ---- on_kill: a user stopped the deferred task ----------------------------------------------


def test_on_kill_cancels_the_data_diff_of_a_diff_monitor_run(monitoring_sandbox):
    monitoring_sandbox.config.rules.insert(0, OutcomeRule("datafold", "*", seconds=60))
    monitor_id, run_id = started_run(DIFF_SPEC, "diff")
    diff_id = DatafoldHook().get_monitor_run(monitor_id, run_id)["diff_id"]
    asyncio.run(DatafoldMonitorRunTrigger(monitor_id, run_id).on_kill())
    assert monitoring_sandbox.requests("POST", "/datafold/api/v1/datadiffs/*/cancel") == [
        ("POST", f"/datafold/api/v1/datadiffs/{diff_id}/cancel")]
    assert DatafoldHook().get_monitor_run(monitor_id, run_id)["state"] == "cancelled"


def test_on_kill_leaves_the_run_alone_when_told_to_or_when_there_is_no_diff(monitoring_sandbox, capsys):
    monitoring_sandbox.config.rules.insert(0, OutcomeRule("datafold", "*", seconds=60))
    monitor_id, run_id = started_run(DIFF_SPEC, "diff")
    asyncio.run(DatafoldMonitorRunTrigger(monitor_id, run_id, cancel_on_kill=False).on_kill())
    metric_monitor, metric_run = started_run()
    asyncio.run(DatafoldMonitorRunTrigger(metric_monitor, metric_run).on_kill())
    assert monitoring_sandbox.requests("POST", "/datafold/api/v1/datadiffs/*/cancel") == []
    assert DatafoldHook().get_monitor_run(monitor_id, run_id)["state"] != "cancelled"
    log = capsys.readouterr().out
    assert f"Datafold run {run_id} of monitor {monitor_id} left running" in log
    assert f"{monitoring_sandbox.vendor_url('datafold')}/monitors/{metric_monitor}" in log


def test_on_kill_of_an_encrata_wait_names_the_run_left_running_and_its_link(monitoring_sandbox, capsys):
    hook = EncrataHook()
    monitor_id = hook.create_monitor("domains", monitor_type="domain", targets=["example.com"])["id"]
    run_id = hook.trigger_run(monitor_id)["run_id"]
    before = len(monitoring_sandbox.requests())
    asyncio.run(EncrataRunTrigger(monitor_id, run_id).on_kill())
    assert len(monitoring_sandbox.requests()) == before  # nothing sent: Encrata has no cancel call
    log = capsys.readouterr().out
    line = next(line for line in log.splitlines() if run_id in line)
    assert "keeps running" in line and f"{monitoring_sandbox.vendor_url('encrata')}/monitors/{monitor_id}" in line
    assert monitoring_sandbox.config.api_key not in log


def test_on_kill_gives_up_within_its_time_when_the_vendor_asks_to_wait(monitoring_sandbox):
    from airflow_provider_monitoring._http.errors import DeadlineReached

    monitoring_sandbox.config.rules.insert(0, OutcomeRule("datafold", "*", seconds=60))
    monitor_id, run_id = started_run(DIFF_SPEC, "diff")
    monitoring_sandbox.config.faults.append(
        FaultRule("retry_after", retry_after=40, method="POST", path="/datafold/api/v1/datadiffs/*/cancel"))
    started = time.monotonic()
    with pytest.raises(DeadlineReached):  # Airflow logs it; the 40 s would outlast on_kill's 30 s
        asyncio.run(DatafoldMonitorRunTrigger(monitor_id, run_id).on_kill())
    assert time.monotonic() - started < 10
    assert len(monitoring_sandbox.requests("POST", "/datafold/api/v1/datadiffs/*/cancel")) == 1


def test_on_kill_of_a_diligent_wait_sends_nothing(monitoring_sandbox, capsys):
    from airflow_provider_monitoring.triggers.diligent import DiligentExecutionTrigger

    asyncio.run(DiligentExecutionTrigger("m-1", "2026-12-01T00:00:00Z").on_kill())
    assert monitoring_sandbox.requests() == []
    assert "stopped waiting for the next execution of Diligent monitoring m-1" in capsys.readouterr().out


def test_the_datafold_trigger_serializes_its_kill_and_visibility_settings_without_the_key(monitoring_sandbox):
    trigger = DatafoldMonitorRunTrigger(1, 2, poll_interval=5, deadline=1e9, not_found_until=123.0,
                                        cancel_on_kill=False)
    path, kwargs = trigger.serialize()
    assert kwargs["not_found_until"] == 123.0 and kwargs["cancel_on_kill"] is False
    assert monitoring_sandbox.config.api_key not in repr(kwargs)
    assert DatafoldMonitorRunTrigger(**kwargs).serialize() == (path, kwargs)
