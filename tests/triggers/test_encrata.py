"""EncrataRunTrigger against the sandbox: its serialized form, and the events a real wait fires."""

from __future__ import annotations

import json
import time

from airflow_provider_monitoring.hooks.encrata import EncrataHook
from airflow_provider_monitoring.sandbox import OutcomeRule
from airflow_provider_monitoring.triggers.encrata import EncrataRunTrigger


def start_run(name: str) -> tuple[str, str]:
    hook = EncrataHook()
    monitor = hook.create_monitor(name, monitor_type="domain", targets=["example.com", "mysite.io"])
    return monitor["id"], hook.trigger_run(monitor["id"])["run_id"]


async def fire(trigger: EncrataRunTrigger) -> dict:
    events = [event async for event in trigger.run()]
    assert len(events) == 1
    return events[0].payload


def test_serialized_trigger_rebuilds_itself_and_holds_no_key(monitoring_sandbox):
    trigger = EncrataRunTrigger("m1", "r1", encrata_conn_id="encrata_default", poll_interval=5, deadline=1e9)
    path, kwargs = trigger.serialize()
    assert path == "airflow_provider_monitoring.triggers.encrata.EncrataRunTrigger"
    assert monitoring_sandbox.config.api_key not in json.dumps(kwargs)
    assert set(kwargs) == {"monitor_id", "run_id", "encrata_conn_id", "poll_interval", "deadline", "not_found_until"}
    assert EncrataRunTrigger(**kwargs).serialize() == (path, kwargs)


async def test_a_run_that_succeeds_fires_success_with_the_run(monitoring_sandbox):
    monitor_id, run_id = start_run("domains")
    event = await fire(EncrataRunTrigger(monitor_id, run_id, poll_interval=0.1, deadline=time.time() + 30))
    assert event["status"] == "success" and event["vendor"] == "encrata"
    assert (event["monitor_id"], event["run_id"], event["vendor_state"]) == (monitor_id, run_id, "success")
    assert event["run"]["id"] == run_id


async def test_a_failed_run_fires_failed(monitoring_sandbox):
    monitoring_sandbox.config.rules.insert(0, OutcomeRule("encrata", "doomed*", "failed"))
    monitor_id, run_id = start_run("doomed domains")
    event = await fire(EncrataRunTrigger(monitor_id, run_id, poll_interval=0.1, deadline=time.time() + 30))
    assert event["status"] == "failed" and event["vendor_state"] == "failed"


async def test_an_undocumented_status_fails_closed_with_the_raw_value(monitoring_sandbox):
    monitoring_sandbox.config.rules.insert(0, OutcomeRule("encrata", "odd*", "half_done"))
    monitor_id, run_id = start_run("odd domains")
    event = await fire(EncrataRunTrigger(monitor_id, run_id, poll_interval=0.1, deadline=time.time() + 30))
    assert event["status"] == "failed" and event["vendor_state"] == "half_done"
    assert "'half_done'" in event["message"]


async def test_the_deadline_ends_the_wait_as_a_timeout(monitoring_sandbox):
    monitoring_sandbox.config.rules.insert(0, OutcomeRule("encrata", "slow*", seconds=60))
    monitor_id, run_id = start_run("slow domains")
    started = time.monotonic()
    event = await fire(EncrataRunTrigger(monitor_id, run_id, poll_interval=0.2, deadline=time.time() + 0.7))
    assert event["status"] == "timeout" and event["vendor_state"] in ("pending", "running")
    assert 0.6 <= time.monotonic() - started < 5


async def test_an_unknown_run_ends_as_an_error(monitoring_sandbox):
    monitor_id, _ = start_run("domains")
    event = await fire(EncrataRunTrigger(monitor_id, "no-such-run", poll_interval=0.1, deadline=time.time() + 5))
    assert event["status"] == "error" and "'no-such-run'" in event["message"]
