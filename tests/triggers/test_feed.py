"""Shared reads (triggers/_feed.py): many waits on one connection in one event loop against the
sandbox. What a user would see: one listing request per interval however many waits there are,
each wait still ending with its own outcome, a rate limit honoured once for all, one wait's
cancellation or bad data leaving the others alone."""

from __future__ import annotations

import asyncio
import json
import time

from airflow_provider_monitoring.hooks.datafold import DatafoldHook
from airflow_provider_monitoring.sandbox import OutcomeRule
from airflow_provider_monitoring.sandbox.core import FaultRule
from airflow_provider_monitoring.triggers._feed import _LOOPS
from airflow_provider_monitoring.triggers.datafold import DatafoldMonitorRunTrigger
from airflow_provider_monitoring.triggers.diligent import DiligentExecutionTrigger
from airflow_provider_monitoring.triggers.encrata import EncrataRunTrigger
from tests.datafold_specs import MANUAL_METRIC_SPEC
from tests.standins import first_event
from tests.vendor_runs import start_datafold_run, start_diligent_monitoring, start_encrata_run

POLL = 0.3
ENCRATA_SHARED = "/encrata/api/monitoring/runs"
ENCRATA_OWN = "/encrata/api/monitors/*/runs"


async def events_of(*triggers) -> list[dict]:
    return list(await asyncio.gather(*(first_event(trigger) for trigger in triggers)))


def most_reads(started: float, interval: float = POLL) -> int:
    """How many shared reads a feed may make since ``started``: one per interval, and the first."""
    return int((time.monotonic() - started) / interval) + 2


def encrata_trigger(monitor_id: str, run_id: str, **kwargs) -> EncrataRunTrigger:
    return EncrataRunTrigger(monitor_id, run_id, poll_interval=POLL, deadline=time.time() + 30, **kwargs)


async def test_many_encrata_waits_share_one_listing_read_per_interval_and_each_gets_its_own_outcome(monitoring_sandbox):
    rules = monitoring_sandbox.config.rules
    rules[:0] = [OutcomeRule("encrata", "doomed*", "failed", seconds=1.0),
                 OutcomeRule("encrata", "odd*", "half_done", seconds=1.5),
                 OutcomeRule("encrata", "*", seconds=2.0)]
    names = ["fine 1", "fine 2", "fine 3", "fine 4", "doomed", "odd"]
    runs = [start_encrata_run(name) for name in names]
    started = time.monotonic()
    events = await events_of(*(encrata_trigger(*run) for run in runs))

    assert [event["run_id"] for event in events] == [run_id for _monitor, run_id in runs]
    assert [event["status"] for event in events] == ["success"] * 4 + ["failed", "failed"]
    assert events[5]["vendor_state"] == "half_done" and "'half_done'" in events[5]["message"]
    shared = monitoring_sandbox.requests("GET", ENCRATA_SHARED)
    # Six waits over about 2 s at 0.3 s: one listing read per interval, not one per wait.
    assert 3 <= len(shared) <= most_reads(started)
    assert monitoring_sandbox.requests("GET", ENCRATA_OWN) == []  # every run was in the shared read


async def test_a_run_missing_from_the_shared_listing_is_read_on_its_own_and_ends_only_its_wait(monitoring_sandbox):
    monitoring_sandbox.config.rules.insert(0, OutcomeRule("encrata", "*", seconds=1.0))
    (monitor_a, run_a), (monitor_b, _run_b) = start_encrata_run("a"), start_encrata_run("b")
    events = await events_of(encrata_trigger(monitor_a, run_a), encrata_trigger(monitor_b, "no-such-run"))
    assert events[0]["status"] == "success"
    assert events[1]["status"] == "error" and "'no-such-run'" in events[1]["message"]
    own = monitoring_sandbox.requests("GET", ENCRATA_OWN)
    assert own and all(path == f"/encrata/api/monitors/{monitor_b}/runs" for _method, path in own)


async def test_a_run_listed_under_another_monitor_is_not_taken_for_this_waits_run(monitoring_sandbox):
    (monitor_a, run_a), (monitor_b, _run_b) = start_encrata_run("a"), start_encrata_run("b")
    events = await events_of(encrata_trigger(monitor_a, run_a), encrata_trigger(monitor_b, run_a))
    assert events[0]["status"] == "success"
    assert events[1]["status"] == "error"  # run_a is not a run of monitor_b: its own read says so


async def test_a_429_on_the_shared_read_is_honoured_once_for_every_wait(monitoring_sandbox):
    monitoring_sandbox.config.rules.insert(0, OutcomeRule("encrata", "*", seconds=0.5))
    runs = [start_encrata_run(f"m{index}") for index in range(5)]
    monitoring_sandbox.config.faults.append(
        FaultRule("retry_after", method="GET", path=ENCRATA_SHARED, retry_after=2.0, times=1))
    started = time.monotonic()
    events = await events_of(*(encrata_trigger(*run) for run in runs))
    assert [event["status"] for event in events] == ["success"] * 5
    assert time.monotonic() - started >= 2.0  # the Retry-After held every wait, not only one
    shared = monitoring_sandbox.requests("GET", ENCRATA_SHARED)
    assert 2 <= len(shared) <= 4  # the 429, its retry after 2 s, perhaps one more: not one per wait
    assert monitoring_sandbox.requests("GET", ENCRATA_OWN) == []


async def test_cancelling_one_wait_leaves_the_others_running_and_the_last_one_out_stops_the_reads(monitoring_sandbox):
    monitoring_sandbox.config.rules.insert(0, OutcomeRule("encrata", "*", seconds=1.5))
    runs = [start_encrata_run(f"m{index}") for index in range(3)]
    waits = [asyncio.ensure_future(first_event(encrata_trigger(*run))) for run in runs]
    await asyncio.sleep(POLL * 2)
    waits[0].cancel()
    events = await asyncio.gather(*waits[1:])
    assert [event["status"] for event in events] == ["success", "success"]
    assert waits[0].cancelled()
    assert not _LOOPS[asyncio.get_running_loop()].by_key  # no feed left behind
    reads = len(monitoring_sandbox.requests("GET", ENCRATA_SHARED))
    await asyncio.sleep(POLL * 3)
    assert len(monitoring_sandbox.requests("GET", ENCRATA_SHARED)) == reads  # nobody polls any more


async def test_a_wait_that_joins_late_is_answered_by_the_next_shared_read(monitoring_sandbox):
    monitoring_sandbox.config.rules.insert(0, OutcomeRule("encrata", "*", seconds=1.5))
    early, late = start_encrata_run("early"), start_encrata_run("late")
    first = asyncio.ensure_future(first_event(encrata_trigger(*early)))
    await asyncio.sleep(POLL * 2)
    events = [await first_event(encrata_trigger(*late)), await first]
    assert [event["status"] for event in events] == ["success", "success"]
    assert monitoring_sandbox.requests("GET", ENCRATA_OWN) == []


async def test_waits_with_different_intervals_or_connections_do_not_share(monitoring_sandbox):
    monitoring_sandbox.config.rules.insert(0, OutcomeRule("encrata", "*", seconds=1.0))
    runs = [start_encrata_run("a"), start_encrata_run("b")]
    slow = EncrataRunTrigger(*runs[1], poll_interval=POLL * 2, deadline=time.time() + 30)
    waits = [asyncio.ensure_future(first_event(trigger)) for trigger in (encrata_trigger(*runs[0]), slow)]
    await asyncio.sleep(0.05)
    assert len(_LOOPS[asyncio.get_running_loop()].by_key) == 2
    assert [event["status"] for event in await asyncio.gather(*waits)] == ["success", "success"]


# ---- Diligent ---------------------------------------------------------------------------------


async def test_many_diligent_waits_share_the_executions_and_monitorings_reads(monitoring_sandbox):
    monitoring_sandbox.config.rules[:0] = [OutcomeRule("diligent", "*risky*", "alert", seconds=1.0),
                                           OutcomeRule("diligent", "*", seconds=1.0)]
    sites = ["https://one.example", "https://two.example", "https://risky.example", "https://four.example"]
    waits = [start_diligent_monitoring(site) for site in sites]
    executions_before = len(monitoring_sandbox.requests("GET", "/diligent/monitoring-executions"))
    monitorings_before = len(monitoring_sandbox.requests("GET", "/diligent/monitorings"))
    started = time.monotonic()
    events = await events_of(*(DiligentExecutionTrigger(monitoring_id, after, poll_interval=POLL,
                                                        deadline=time.time() + 30) for monitoring_id, after in waits))
    assert [event["status"] for event in events] == ["success", "success", "alert", "success"]
    assert all(event["run_id"] for event in events)  # each found its own execution
    executions = len(monitoring_sandbox.requests("GET", "/diligent/monitoring-executions")) - executions_before
    monitorings = len(monitoring_sandbox.requests("GET", "/diligent/monitorings")) - monitorings_before
    assert 1 <= executions <= most_reads(started)
    assert monitorings <= most_reads(started)  # the monitorings' running_state, once per read, not per wait


async def test_a_diligent_wait_joining_with_an_older_reference_time_still_finds_its_execution(monitoring_sandbox):
    # The newer monitoring stays RUNNING, so every shared read also reads the monitorings.
    monitoring_sandbox.config.rules[:0] = [OutcomeRule("diligent", "*newer*", seconds=60),
                                           OutcomeRule("diligent", "*", seconds=0.3)]
    older_id, older_after = start_diligent_monitoring("https://older.example")
    await asyncio.sleep(1.0)  # its execution is now in the past, before the next wait's reference time
    newer_id, newer_after = start_diligent_monitoring("https://newer.example")
    newer = asyncio.ensure_future(first_event(DiligentExecutionTrigger(
        newer_id, newer_after, poll_interval=POLL, deadline=time.time() + 30)))
    await asyncio.sleep(POLL * 2)  # the feed now reads from the newer wait's reference time
    older = await first_event(DiligentExecutionTrigger(older_id, older_after, poll_interval=POLL,
                                                       deadline=time.time() + 5))
    assert older["status"] == "success" and older["run"]["monitoring_id"] == older_id
    assert not newer.done()
    newer.cancel()


# ---- Datafold ---------------------------------------------------------------------------------


def datafold_trigger(monitor_id, run_id, deadline: float = 30) -> DatafoldMonitorRunTrigger:
    return DatafoldMonitorRunTrigger(monitor_id, run_id, poll_interval=POLL, deadline=time.time() + deadline)


async def test_datafold_waits_share_one_read_per_interval_a_listing_per_monitor_with_several(monitoring_sandbox):
    monitoring_sandbox.config.rules.insert(0, OutcomeRule("datafold", "*", seconds=1.5))
    hook = DatafoldHook()
    busy = hook.create_monitor("metric", MANUAL_METRIC_SPEC)
    busy_runs = [hook.run_monitor(busy) for _ in range(3)]
    lone, lone_run = start_datafold_run()
    started = time.monotonic()
    events = await events_of(*(datafold_trigger(busy, run_id) for run_id in busy_runs), datafold_trigger(lone, lone_run))
    assert [event["run_id"] for event in events] == [str(run_id) for run_id in busy_runs + [lone_run]]
    assert {event["status"] for event in events} == {"success"}
    listing = monitoring_sandbox.requests("GET", f"/datafold/api/v1/monitors/{busy}/runs")
    assert 1 <= len(listing) <= most_reads(started)
    # Each ended run of the busy monitor is read in full once, for the details a listing item lacks.
    own = monitoring_sandbox.requests("GET", f"/datafold/api/v1/monitors/{busy}/runs/*")
    assert sorted(path.rsplit("/", 1)[1] for _method, path in own) == sorted(map(str, busy_runs))
    # The lone wait's run is read itself, once per interval, and its monitor's listing never.
    assert 1 <= len(monitoring_sandbox.requests("GET", f"/datafold/api/v1/monitors/{lone}/runs/*")) <= most_reads(started)
    assert monitoring_sandbox.requests("GET", f"/datafold/api/v1/monitors/{lone}/runs") == []


async def test_a_datafold_monitor_that_fails_to_read_ends_only_its_own_waits(monitoring_sandbox):
    monitoring_sandbox.config.rules.insert(0, OutcomeRule("datafold", "*", seconds=1.0))
    monitor_id, run_id = start_datafold_run()
    events = await events_of(datafold_trigger(monitor_id, run_id), datafold_trigger(987654, 1), datafold_trigger(987654, 2))
    assert [event["status"] for event in events] == ["success", "error", "error"]
    assert all("987654" in event["message"] for event in events[1:])


async def test_a_retry_after_beyond_the_deadline_holds_every_datafold_wait_without_a_request(monitoring_sandbox):
    monitoring_sandbox.config.rules.insert(0, OutcomeRule("datafold", "*", seconds=60))
    runs = [start_datafold_run(), start_datafold_run()]
    # Longer than the HTTP layer sleeps out: the shared read fails with it, and the feed waits that long.
    monitoring_sandbox.config.faults.append(
        FaultRule("retry_after", method="GET", path="/datafold/api/v1/monitors/*", retry_after=600, times=1))
    before = len(monitoring_sandbox.requests())
    events = await events_of(*(datafold_trigger(*run, deadline=1.5) for run in runs))
    assert [event["status"] for event in events] == ["timeout", "timeout"]
    assert len(monitoring_sandbox.requests()) - before <= 2  # the limited read and its sibling, then silence


async def test_one_vendors_rate_limit_does_not_hold_another_vendors_waits(monitoring_sandbox):
    monitoring_sandbox.config.faults.append(
        FaultRule("retry_after", method="GET", path=ENCRATA_SHARED, retry_after=3.0, times=1))
    monitor_id, run_id = start_datafold_run()
    encrata = asyncio.ensure_future(first_event(encrata_trigger(*start_encrata_run("a"))))
    started = time.monotonic()
    event = await first_event(DatafoldMonitorRunTrigger(monitor_id, run_id, poll_interval=POLL,
                                                        deadline=time.time() + 30))
    assert event["status"] == "success" and time.monotonic() - started < 3.0
    assert (await encrata)["status"] == "success"


# ---- when the shared read cannot help ---------------------------------------------------------


async def test_a_bug_in_the_shared_read_leaves_each_wait_to_read_on_its_own(monitoring_sandbox, monkeypatch):
    from airflow_provider_monitoring.triggers import encrata

    async def broken(cls, hook, needs, previous):
        raise KeyError("a reader's bug")

    monkeypatch.setattr(encrata.ListedRuns, "read", classmethod(broken))
    runs = [start_encrata_run("a"), start_encrata_run("b")]
    events = await events_of(*(encrata_trigger(*run) for run in runs))
    assert [event["status"] for event in events] == ["success", "success"]
    assert {path for _method, path in monitoring_sandbox.requests("GET", ENCRATA_OWN)} == {
        f"/encrata/api/monitors/{monitor_id}/runs" for monitor_id, _run in runs}


async def test_a_connection_that_cannot_be_used_ends_every_wait_on_it_with_the_reason(monitoring_sandbox, monkeypatch):
    # A key that cannot travel in a header: refused when the feed opens its session, before any request.
    monkeypatch.setenv("AIRFLOW_CONN_BROKEN", json.dumps(
        {"conn_type": "encrata", "host": monitoring_sandbox.vendor_url("encrata"), "password": "key\nwith a newline"}))
    events = await events_of(*(encrata_trigger("m", f"r{index}", encrata_conn_id="broken") for index in range(2)))
    assert [event["status"] for event in events] == ["error", "error"]
    assert all("control character" in event["message"] and "newline" not in event["message"] for event in events)
    assert monitoring_sandbox.requests() == []


async def test_each_wait_logs_how_much_it_shared(monitoring_sandbox, capsys):
    monitoring_sandbox.config.rules.insert(0, OutcomeRule("encrata", "*", seconds=1.0))
    runs = [start_encrata_run("a"), start_encrata_run("b"), start_encrata_run("c")]
    await events_of(*(encrata_trigger(*run) for run in runs))
    lines = [line for line in capsys.readouterr().out.splitlines() if "shared read" in line]
    assert sorted(run_id for _monitor, run_id in runs) == sorted(
        next(run_id for _monitor, run_id in runs if run_id in line) for line in lines)
    assert all("success after" in line and "of connection 'encrata_default' (with up to 2 other waits), "
               "0 reads of its own" in line for line in lines), lines


async def test_a_failed_read_of_one_datafold_run_ends_only_that_runs_wait(monitoring_sandbox):
    monitoring_sandbox.config.rules.insert(0, OutcomeRule("datafold", "*", seconds=1.0))
    hook = DatafoldHook()
    monitor = hook.create_monitor("metric", MANUAL_METRIC_SPEC)
    broken, fine = hook.run_monitor(monitor), hook.run_monitor(monitor)
    monitoring_sandbox.config.faults.append(
        FaultRule("status", method="GET", path=f"/datafold/api/v1/monitors/{monitor}/runs/{broken}", status=404))
    events = await events_of(datafold_trigger(monitor, broken), datafold_trigger(monitor, fine))
    assert [event["status"] for event in events] == ["error", "success"]
    assert f"runs/{broken}" in events[0]["message"]


async def test_a_long_retry_after_on_a_waits_own_read_is_slept_in_full(monitoring_sandbox):
    monitor_id, _run = start_encrata_run("a")
    # Not in any listing yet, but just started: the wait reads its monitor's runs on its own.
    monitoring_sandbox.config.faults.append(
        FaultRule("retry_after", method="GET", path=f"/encrata/api/monitors/{monitor_id}/runs", retry_after=600, times=1))
    event = await first_event(EncrataRunTrigger(monitor_id, "not-visible-yet", poll_interval=POLL,
                                                deadline=time.time() + 2, not_found_until=time.time() + 60))
    assert event["status"] == "timeout"
    assert len(monitoring_sandbox.requests("GET", f"/encrata/api/monitors/{monitor_id}/runs")) == 1


async def test_a_shared_listing_the_account_cannot_read_leaves_each_wait_to_its_own_reads(monitoring_sandbox):
    monitoring_sandbox.config.rules.insert(0, OutcomeRule("encrata", "*", seconds=0.5))
    monitoring_sandbox.config.faults.append(FaultRule("status", method="GET", path=ENCRATA_SHARED, status=404))
    runs = [start_encrata_run("a"), start_encrata_run("b")]
    events = await events_of(*(encrata_trigger(*run) for run in runs))
    assert [event["status"] for event in events] == ["success", "success"]
    assert monitoring_sandbox.requests("GET", ENCRATA_OWN)
