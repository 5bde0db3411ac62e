"""DiligentExecutionTrigger against the sandbox: its serialized form, the event a real wait fires,
and on_kill, which sends nothing."""

from __future__ import annotations

import asyncio
import json
import time

from airflow_provider_monitoring.triggers.diligent import DiligentExecutionTrigger
from tests.standins import fire
from tests.vendor_runs import start_diligent_monitoring as started


def test_the_trigger_serializes_without_the_key_and_fires_with_the_execution_id(monitoring_sandbox):
    monitoring_id, before = started("https://calm.example.com")
    trigger = DiligentExecutionTrigger(monitoring_id, before, poll_interval=0.1, deadline=time.time() + 30)
    path, kwargs = trigger.serialize()
    assert monitoring_sandbox.config.api_key not in json.dumps(kwargs)
    assert DiligentExecutionTrigger(**kwargs).serialize() == (path, kwargs)

    event = fire(trigger)
    assert event["status"] == "success"
    assert event["run_id"] == event["run"]["id"]


def test_on_kill_of_a_diligent_wait_sends_nothing(monitoring_sandbox, capsys):
    asyncio.run(DiligentExecutionTrigger("m-1", "2026-12-01T00:00:00Z").on_kill())
    assert monitoring_sandbox.requests() == []
    assert "stopped waiting for the next execution of Diligent monitoring m-1" in capsys.readouterr().out


def test_a_wait_with_no_execution_yet_names_no_run_and_says_what_it_waited_for(monitoring_sandbox):
    monitoring_id, _ = started("https://calm.example.com")
    ahead = "2099-01-01T00:00:00Z"  # no execution can come after this within the wait
    trigger = DiligentExecutionTrigger(monitoring_id, ahead, poll_interval=0.1, deadline=time.time() + 0.5)
    assert set(trigger.serialize()[1]) == {"monitoring_id", "executed_after", "diligent_conn_id",
                                           "poll_interval", "deadline"}
    event = fire(trigger)
    assert event["status"] == "timeout" and event["monitor_id"] == monitoring_id
    assert event["run_id"] is None  # nothing was started and nothing found: no invented run id
    assert f"the next execution of Diligent monitoring {monitoring_id} after {ahead}" in event["message"]
