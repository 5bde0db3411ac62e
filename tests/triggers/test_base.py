"""What every run wait's trigger does when the vendor misbehaves (``triggers/base.py``, driven
through the Datafold trigger against the sandbox): transient failures are outlived, lasting ones
end the wait, and the deadline holds while the HTTP layer backs off."""

from __future__ import annotations

import time

import pytest

from airflow_provider_monitoring._waiting import TRANSIENT_POLLS
from airflow_provider_monitoring.sandbox import FaultRule
from airflow_provider_monitoring.triggers.datafold import DatafoldMonitorRunTrigger
from tests.standins import fire
from tests.vendor_runs import DATAFOLD_RUN_PATH as RUN_PATH
from tests.vendor_runs import start_datafold_run as started_run


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

