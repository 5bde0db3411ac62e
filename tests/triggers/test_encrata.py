"""EncrataRunTrigger against the sandbox: its serialized form, the events a real wait fires, and
on_kill (a user stopped the deferred task), which names the run it leaves running."""

from __future__ import annotations

import asyncio
import json
import time

from airflow_provider_monitoring.sandbox import OutcomeRule
from airflow_provider_monitoring.triggers.encrata import EncrataRunTrigger
from tests.standins import first_event
from tests.vendor_runs import start_encrata_run as start_run


def test_serialized_trigger_rebuilds_itself_and_holds_no_key(monitoring_sandbox):
    trigger = EncrataRunTrigger("m1", "r1", encrata_conn_id="encrata_default", poll_interval=5, deadline=1e9)
    path, kwargs = trigger.serialize()
    assert path == "airflow_provider_monitoring.triggers.encrata.EncrataRunTrigger"
    assert monitoring_sandbox.config.api_key not in json.dumps(kwargs)
    assert set(kwargs) == {"monitor_id", "run_id", "encrata_conn_id", "poll_interval", "deadline", "not_found_until"}
    assert EncrataRunTrigger(**kwargs).serialize() == (path, kwargs)


async def test_a_run_that_succeeds_fires_success_with_the_run(monitoring_sandbox):
    monitor_id, run_id = start_run("domains")
    event = await first_event(EncrataRunTrigger(monitor_id, run_id, poll_interval=0.1, deadline=time.time() + 30))
    assert event["status"] == "success" and event["vendor"] == "encrata"
    assert (event["monitor_id"], event["run_id"], event["vendor_state"]) == (monitor_id, run_id, "success")
    assert event["run"]["id"] == run_id


async def test_a_failed_run_fires_failed(monitoring_sandbox):
    monitoring_sandbox.config.rules.insert(0, OutcomeRule("encrata", "doomed*", "failed"))
    monitor_id, run_id = start_run("doomed domains")
    event = await first_event(EncrataRunTrigger(monitor_id, run_id, poll_interval=0.1, deadline=time.time() + 30))
    assert event["status"] == "failed" and event["vendor_state"] == "failed"


async def test_an_undocumented_status_fails_closed_with_the_raw_value(monitoring_sandbox):
    monitoring_sandbox.config.rules.insert(0, OutcomeRule("encrata", "odd*", "half_done"))
    monitor_id, run_id = start_run("odd domains")
    event = await first_event(EncrataRunTrigger(monitor_id, run_id, poll_interval=0.1, deadline=time.time() + 30))
    assert event["status"] == "failed" and event["vendor_state"] == "half_done"
    assert "'half_done'" in event["message"]


async def test_the_deadline_ends_the_wait_as_a_timeout(monitoring_sandbox):
    monitoring_sandbox.config.rules.insert(0, OutcomeRule("encrata", "slow*", seconds=60))
    monitor_id, run_id = start_run("slow domains")
    started = time.monotonic()
    event = await first_event(EncrataRunTrigger(monitor_id, run_id, poll_interval=0.2, deadline=time.time() + 0.7))
    assert event["status"] == "timeout" and event["vendor_state"] in ("pending", "running")
    assert 0.6 <= time.monotonic() - started < 5


async def test_an_unknown_run_ends_as_an_error(monitoring_sandbox):
    monitor_id, _ = start_run("domains")
    event = await first_event(EncrataRunTrigger(monitor_id, "no-such-run", poll_interval=0.1, deadline=time.time() + 5))
    assert event["status"] == "error" and "'no-such-run'" in event["message"]


def test_on_kill_of_an_encrata_wait_names_the_run_left_running_and_its_link(monitoring_sandbox, capsys):
    monitor_id, run_id = start_run("domains")
    before = len(monitoring_sandbox.requests())
    asyncio.run(EncrataRunTrigger(monitor_id, run_id).on_kill())
    assert len(monitoring_sandbox.requests()) == before  # nothing sent: Encrata has no cancel call
    log = capsys.readouterr().out
    line = next(line for line in log.splitlines() if run_id in line)
    assert "keeps running" in line and f"{monitoring_sandbox.vendor_url('encrata')}/monitors/{monitor_id}" in line
    assert monitoring_sandbox.config.api_key not in log
