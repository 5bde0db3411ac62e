"""DatafoldMonitorRunTrigger against the sandbox: its serialized form, the verdict a real wait
fires, and on_kill (a user stopped the deferred task), which cancels a diff monitor's data diff."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from airflow_provider_monitoring.hooks.datafold import DatafoldHook
from airflow_provider_monitoring.sandbox import FaultRule, OutcomeRule
from airflow_provider_monitoring.triggers.datafold import DatafoldMonitorRunTrigger
from tests.datafold_specs import MANUAL_DIFF_SPEC as DIFF_SPEC
from tests.standins import fire
from tests.vendor_runs import start_datafold_run as started_run


def test_the_trigger_serializes_without_the_key_and_waits_for_the_verdict(monitoring_sandbox):
    monitor_id, run_id = started_run()
    trigger = DatafoldMonitorRunTrigger(monitor_id, run_id, poll_interval=0.1, deadline=time.time() + 30,
                                        accept_states=["learning"])
    path, kwargs = trigger.serialize()
    assert monitoring_sandbox.config.api_key not in json.dumps(kwargs)
    assert DatafoldMonitorRunTrigger(**kwargs).serialize() == (path, kwargs)

    event = fire(trigger)
    assert event["status"] == "success" and event["vendor_state"] == "ok"


def test_the_datafold_trigger_serializes_its_kill_and_visibility_settings_without_the_key(monitoring_sandbox):
    trigger = DatafoldMonitorRunTrigger(1, 2, poll_interval=5, deadline=1e9, not_found_until=123.0,
                                        cancel_on_kill=False)
    path, kwargs = trigger.serialize()
    assert kwargs["not_found_until"] == 123.0 and kwargs["cancel_on_kill"] is False
    assert monitoring_sandbox.config.api_key not in repr(kwargs)
    assert DatafoldMonitorRunTrigger(**kwargs).serialize() == (path, kwargs)


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
