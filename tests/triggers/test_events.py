"""The AssetWatcher triggers (triggers/_events.py and each vendor's event trigger) against the
sandbox, with an in-memory stand-in of the watched asset's state store: the events a watcher fires,
what a restart does, that a state that stays is announced once, that an API error is backed off,
and that two watchers grouped by Airflow's shared-stream manager make one read per interval."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from airflow_provider_monitoring.hooks.datafold import DatafoldHook
from airflow_provider_monitoring.sandbox import OutcomeRule
from airflow_provider_monitoring.sandbox.core import FaultRule
from airflow_provider_monitoring.triggers import _events
from airflow_provider_monitoring.triggers.datafold import DatafoldRunEventTrigger
from airflow_provider_monitoring.triggers.diligent import DiligentAlertEventTrigger
from airflow_provider_monitoring.triggers.encrata import EncrataRunEventTrigger
from tests.datafold_specs import MANUAL_METRIC_SPEC
from tests.standins import AssetStateStoreStandIn
from tests.vendor_runs import create_diligent_monitoring, start_encrata_run

POLL = 0.3
ENCRATA_LISTING = "/encrata/api/monitoring/runs"


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch):
    # The 30 s floor protects vendors from users; these tests poll the sandbox every 0.3 s.
    monkeypatch.setattr(_events, "POLL_FLOOR", POLL)


def watching(trigger, store: AssetStateStoreStandIn | None = None):
    trigger.asset_state_store = store if store is not None else AssetStateStoreStandIn()
    return trigger


async def events_within(trigger, count: int, seconds: float = 15, settle: float = 0.0) -> list[dict]:
    """The first ``count`` events ``trigger.run()`` fires (then ``settle`` seconds more, to see that
    nothing else comes), stopping it as the triggerer would."""
    events: list[dict] = []

    async def collect() -> None:
        async for event in trigger.run():
            events.append(event.payload)

    task = asyncio.ensure_future(collect())
    deadline = time.monotonic() + seconds
    while len(events) < count and time.monotonic() < deadline and not task.done():
        await asyncio.sleep(0.05)
    await asyncio.sleep(settle)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    if task.done() and not task.cancelled() and task.exception():
        raise task.exception()
    return events


def encrata_watcher(store: AssetStateStoreStandIn | None = None, **kwargs) -> EncrataRunEventTrigger:
    return watching(EncrataRunEventTrigger(only_changes=False, poll_interval=POLL, **kwargs), store)


async def test_each_encrata_run_that_ends_is_announced_once_with_the_documented_payload(monitoring_sandbox):
    monitoring_sandbox.config.rules.insert(0, OutcomeRule("encrata", "*", seconds=0.5))
    watcher = encrata_watcher()
    runs = []

    async def start_runs() -> None:
        await asyncio.sleep(POLL)  # after the watcher's first poll: these happen "from now on"
        runs.extend(start_encrata_run(f"watched {index}") for index in range(3))

    starting = asyncio.ensure_future(start_runs())
    events = await events_within(watcher, 3, settle=POLL * 4)
    await starting
    assert sorted(event["run_id"] for event in events) == sorted(run_id for _monitor, run_id in runs)
    assert len({event["event_id"] for event in events}) == 3  # and nothing more came while it polled on
    for event in events:
        assert set(event) == {"vendor", "kind", "event_id", "monitor_id", "run_id", "outcome", "vendor_state",
                              "occurred_at", "url", "object"}
        assert (event["vendor"], event["kind"], event["outcome"], event["vendor_state"]) == (
            "encrata", "run", "success", "success")
        assert event["event_id"] == f"encrata:run:{event['run_id']}" and event["occurred_at"].endswith("Z")
        assert event["url"].endswith(f"/monitors/{event['monitor_id']}") and event["object"]["id"] == event["run_id"]
        json.dumps(event)  # plain JSON


async def test_a_first_start_announces_only_what_happens_from_then_on(monitoring_sandbox):
    monitoring_sandbox.config.rules.insert(0, OutcomeRule("encrata", "*", seconds=0.1))
    start_encrata_run("before the watcher")
    await asyncio.sleep(_events.START_TOLERANCE.total_seconds() + 1.0)  # times are shown to the second
    assert await events_within(encrata_watcher(), 1, seconds=POLL * 4) == []


async def test_look_back_announces_what_ended_before_a_first_start(monitoring_sandbox):
    monitoring_sandbox.config.rules.insert(0, OutcomeRule("encrata", "*", seconds=0.1))
    _monitor, run_id = start_encrata_run("before the watcher")
    await asyncio.sleep(0.5)
    events = await events_within(encrata_watcher(look_back=60), 1)
    assert [event["run_id"] for event in events] == [run_id]


async def test_only_changes_and_monitor_id_keep_each_watcher_to_its_runs(monitoring_sandbox):
    from airflow_provider_monitoring.hooks.encrata import EncrataHook

    monitoring_sandbox.config.rules.insert(0, OutcomeRule("encrata", "*", seconds=0.2))
    hook = EncrataHook()
    # The sandbox reports a change for example.com at every run, none for a.com.
    changing = hook.create_monitor("changing", monitor_type="domain", targets=["example.com"])["id"]
    steady = hook.create_monitor("steady", monitor_type="domain", targets=["a.com"])["id"]
    changes_only = watching(EncrataRunEventTrigger(poll_interval=POLL))
    steady_only = watching(EncrataRunEventTrigger(monitor_id=steady, only_changes=False, poll_interval=POLL))
    started = {}

    async def start_runs() -> None:
        await asyncio.sleep(POLL)
        started["changing"], started["steady"] = (hook.trigger_run(monitor)["run_id"] for monitor in (changing, steady))

    starting = asyncio.ensure_future(start_runs())
    found = await asyncio.gather(events_within(changes_only, 1, settle=POLL * 3), events_within(steady_only, 1, settle=POLL * 3))
    await starting
    assert [(event["monitor_id"], event["run_id"]) for event in found[0]] == [(changing, started["changing"])]
    assert found[0][0]["object"]["changes_detected"] == 1
    assert [(event["monitor_id"], event["run_id"]) for event in found[1]] == [(steady, started["steady"])]


async def test_a_restarted_watcher_catches_up_from_its_cursor_without_repeats_or_gaps(monitoring_sandbox):
    monitoring_sandbox.config.rules.insert(0, OutcomeRule("encrata", "*", seconds=0.2))
    store = AssetStateStoreStandIn()

    async def runs_after(delay: float, names: list[str]) -> list[str]:
        await asyncio.sleep(delay)
        return [start_encrata_run(name)[1] for name in names]

    first_runs = asyncio.ensure_future(runs_after(POLL, ["a", "b"]))
    # Two more polls after the events: the cursor, saved one poll behind, then holds them.
    first = await events_within(encrata_watcher(store=store), 2, settle=POLL * 3)
    assert sorted(event["run_id"] for event in first) == sorted(await first_runs)
    while_down = [start_encrata_run(name)[1] for name in ("c", "d")]  # the triggerer is down meanwhile
    await asyncio.sleep(0.5)
    second = await events_within(encrata_watcher(store=store), 2, settle=POLL * 3)
    assert sorted(event["run_id"] for event in second) == sorted(while_down)
    assert store.writes >= 2


async def test_an_api_error_is_backed_off_and_the_watcher_goes_on(monitoring_sandbox):
    monitoring_sandbox.config.rules.insert(0, OutcomeRule("encrata", "*", seconds=0.2))
    monitoring_sandbox.config.faults.append(FaultRule("status", path=ENCRATA_LISTING, status=401, times=3))
    _monitor, run_id = start_encrata_run("watched")
    events = await events_within(encrata_watcher(look_back=60), 1, seconds=20)
    assert [event["run_id"] for event in events] == [run_id]
    assert len(monitoring_sandbox.requests("GET", ENCRATA_LISTING)) >= 4  # three refused, then read


async def test_a_connection_that_cannot_be_used_is_retried_not_raised(monitoring_sandbox):
    watcher = watching(EncrataRunEventTrigger(encrata_conn_id="no_such_connection", poll_interval=POLL))
    assert await events_within(watcher, 1, seconds=1.0) == []  # no exception came out of run()


async def test_two_watchers_on_one_connection_share_one_read_per_interval(monitoring_sandbox):
    from airflow.triggers.shared_stream import SharedStreamManager

    monitoring_sandbox.config.rules.insert(0, OutcomeRule("encrata", "*", seconds=0.2))
    one, two = start_encrata_run("one")[0], start_encrata_run("two")[0]
    await asyncio.sleep(0.5)
    watchers = [watching(EncrataRunEventTrigger(monitor_id=monitor, only_changes=False, poll_interval=POLL,
                                                look_back=60)) for monitor in (one, two)]
    assert watchers[0].shared_stream_key() == watchers[1].shared_stream_key()
    manager = SharedStreamManager()  # what the triggerer groups shared-stream triggers with
    found: dict[int, list[dict]] = {0: [], 1: []}

    async def consume(index: int) -> None:
        stream = manager.subscribe(trigger_id=index, trigger=watchers[index], key=watchers[index].shared_stream_key())
        async for event in watchers[index].filter_shared_stream(stream):
            found[index].append(event.payload)

    before = len(monitoring_sandbox.requests("GET", ENCRATA_LISTING))
    started = time.monotonic()
    tasks = [asyncio.ensure_future(consume(index)) for index in (0, 1)]
    await asyncio.sleep(POLL * 5)
    for index, task in enumerate(tasks):
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await manager.unsubscribe(index, watchers[index].shared_stream_key())
    reads = len(monitoring_sandbox.requests("GET", ENCRATA_LISTING)) - before
    assert reads <= (time.monotonic() - started) / POLL + 2  # one read per interval, not one per watcher
    assert [event["monitor_id"] for event in found[0]] == [one]  # each keeps to its own monitor
    assert [event["monitor_id"] for event in found[1]] == [two]


def test_the_serialized_watchers_are_their_identity_and_hold_no_key(monitoring_sandbox):
    for trigger in (EncrataRunEventTrigger(monitor_type="domain"), DiligentAlertEventTrigger(monitoring_id="m"),
                    DatafoldRunEventTrigger([1, "2"], states=["alert"])):
        path, kwargs = trigger.serialize()
        assert monitoring_sandbox.config.api_key not in json.dumps(kwargs)
        assert type(trigger)(**kwargs).serialize() == (path, kwargs)
        assert "cursor" not in json.dumps(kwargs)


@pytest.mark.parametrize("make", [
    lambda: EncrataRunEventTrigger(monitor_type="fax"),
    lambda: DatafoldRunEventTrigger([]),
    lambda: DatafoldRunEventTrigger(7),
    lambda: DatafoldRunEventTrigger([1], states=["finished"]),
])
def test_bad_watcher_arguments_are_refused_when_the_dag_is_parsed(make):
    from airflow_provider_monitoring._http.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        make()


# ---- Diligent ---------------------------------------------------------------------------------


async def test_each_new_diligent_alert_is_announced_once(monitoring_sandbox):
    monitoring_sandbox.config.rules.insert(0, OutcomeRule("diligent", "*alert-demo*", "alert", seconds=0.2))
    watcher = watching(DiligentAlertEventTrigger(poll_interval=POLL))
    created = []

    async def raise_alerts() -> None:
        await asyncio.sleep(POLL)
        created.append(create_diligent_monitoring("https://alert-demo.example"))

    raising = asyncio.ensure_future(raise_alerts())
    events = await events_within(watcher, 1, settle=POLL * 4)
    await raising
    assert events and {event["monitor_id"] for event in events} == set(created)
    assert len({event["alert_id"] for event in events}) == len(events)  # each alert once
    for event in events:
        assert (event["vendor"], event["kind"], event["outcome"]) == ("diligent", "alert", "alert")
        assert event["event_id"] == f"diligent:alert:{event['alert_id']}" and event["object"]["id"] == event["alert_id"]


# ---- Datafold ---------------------------------------------------------------------------------


async def test_datafold_runs_that_end_in_the_watched_states_are_announced(monitoring_sandbox):
    monitoring_sandbox.config.rules[:0] = [OutcomeRule("datafold", "*alert demo*", "alert", seconds=0.2),
                                           OutcomeRule("datafold", "*", seconds=0.2)]
    hook = DatafoldHook()
    alerting = hook.create_monitor("metric", {**MANUAL_METRIC_SPEC, "name": "orders alert demo"})
    fine = hook.create_monitor("metric", MANUAL_METRIC_SPEC)
    watcher = watching(DatafoldRunEventTrigger([alerting, fine], poll_interval=POLL))
    runs = {}

    async def start_runs() -> None:
        await asyncio.sleep(POLL)
        runs["alert"], runs["ok"] = hook.run_monitor(alerting), hook.run_monitor(fine)

    starting = asyncio.ensure_future(start_runs())
    events = await events_within(watcher, 1, settle=POLL * 4)
    await starting
    assert [(event["run_id"], event["outcome"], event["vendor_state"]) for event in events] == [
        (str(runs["alert"]), "alert", "alert")]  # the ok run is not a watched state
    assert events[0]["monitor_id"] == str(alerting)


# ---- what a review found -------------------------------------------------------------------------


async def test_two_watchers_of_one_asset_keep_cursors_of_their_own(monitoring_sandbox):
    monitoring_sandbox.config.rules.insert(0, OutcomeRule("encrata", "*", seconds=0.2))
    store = AssetStateStoreStandIn()
    first, second = start_encrata_run("first")[0], start_encrata_run("second")[0]
    await asyncio.sleep(0.5)

    def pair() -> list[EncrataRunEventTrigger]:
        return [encrata_watcher(store=store, monitor_id=monitor, look_back=60) for monitor in (first, second)]

    before = await asyncio.gather(*(events_within(watcher, 1, settle=POLL * 3) for watcher in pair()))
    assert [len(events) for events in before] == [1, 1]
    after = await asyncio.gather(*(events_within(watcher, 1, seconds=POLL * 4) for watcher in pair()))
    assert after == [[], []]  # restarted, each from its own cursor: nothing again
    assert len([key for key in store.values if key.startswith("monitoring_event_cursor")]) == 2


async def test_a_datafold_monitor_that_cannot_be_read_does_not_hold_back_the_others(monitoring_sandbox):
    monitoring_sandbox.config.rules.insert(0, OutcomeRule("datafold", "*", "alert", seconds=0.2))
    hook = DatafoldHook()
    good = hook.create_monitor("metric", MANUAL_METRIC_SPEC)
    watcher = watching(DatafoldRunEventTrigger([987654, good], poll_interval=POLL))
    runs = []

    async def start_run() -> None:
        await asyncio.sleep(POLL)
        runs.append(hook.run_monitor(good))

    starting = asyncio.ensure_future(start_run())
    events = await events_within(watcher, 1)
    await starting
    assert [event["run_id"] for event in events] == [str(runs[0])]
    assert events[0]["event_id"] == f"datafold:run:{good}/{runs[0]}"


async def test_a_datafold_run_longer_than_the_slack_is_announced_when_it_ends(monitoring_sandbox, monkeypatch):
    from datetime import timedelta

    monkeypatch.setattr(_events, "SLACK", timedelta(seconds=0.5))  # runs far longer than the slack, quickly
    monitoring_sandbox.config.rules.insert(0, OutcomeRule("datafold", "*", "alert", seconds=2.5))
    hook = DatafoldHook()
    monitor = hook.create_monitor("metric", MANUAL_METRIC_SPEC)
    watcher = watching(DatafoldRunEventTrigger([monitor], poll_interval=POLL))
    runs = []

    async def start_run() -> None:
        await asyncio.sleep(POLL)
        runs.append(hook.run_monitor(monitor))

    starting = asyncio.ensure_future(start_run())
    events = await events_within(watcher, 1, seconds=10)
    await starting
    assert [event["run_id"] for event in events] == [str(runs[0])]


async def test_a_first_start_announces_a_run_already_running_when_it_ends(monitoring_sandbox, monkeypatch):
    from datetime import timedelta

    monkeypatch.setattr(_events, "START_TOLERANCE", timedelta(0))
    monitoring_sandbox.config.rules.insert(0, OutcomeRule("encrata", "*", seconds=2.0))
    _monitor, run_id = start_encrata_run("started before the watcher")
    await asyncio.sleep(1.2)  # made (and shown, to the second) before the watcher's first start
    events = await events_within(encrata_watcher(), 1, seconds=10)
    assert [event["run_id"] for event in events] == [run_id]


async def test_failed_polls_are_spaced_by_the_interval_at_least(monitoring_sandbox):
    from airflow_provider_monitoring.sandbox.client import control

    monitoring_sandbox.config.faults.append(FaultRule("status", path=ENCRATA_LISTING, status=401, times=4))
    assert await events_within(encrata_watcher(), 1, seconds=POLL * 6) == []
    reads = control(monitoring_sandbox.url, "GET", f"/requests?path={ENCRATA_LISTING}")["requests"]
    gaps = [later["at"] - earlier["at"] for earlier, later in zip(reads, reads[1:])]
    assert len(reads) >= 3 and min(gaps) >= POLL * 0.9, gaps


async def test_runs_of_a_monitor_that_could_not_be_read_are_announced_once_it_reads_again(monitoring_sandbox, monkeypatch):
    from datetime import timedelta

    monkeypatch.setattr(_events, "SLACK", timedelta(seconds=0.3))  # the other monitor's reads would soon pass it
    monitoring_sandbox.config.rules.insert(0, OutcomeRule("datafold", "*", "alert", seconds=0.1))
    hook = DatafoldHook()
    flaky, steady = hook.create_monitor("metric", MANUAL_METRIC_SPEC), hook.create_monitor("metric", MANUAL_METRIC_SPEC)
    monitoring_sandbox.config.faults.append(
        FaultRule("status", method="GET", path=f"/datafold/api/v1/monitors/{flaky}/runs", status=404, times=6))
    watcher = watching(DatafoldRunEventTrigger([flaky, steady], poll_interval=POLL))
    runs = []

    async def start_run() -> None:
        await asyncio.sleep(POLL)  # while its monitor's runs cannot be read
        runs.append(hook.run_monitor(flaky))

    starting = asyncio.ensure_future(start_run())
    events = await events_within(watcher, 1, seconds=10)
    await starting
    assert [event["run_id"] for event in events] == [str(runs[0])]
