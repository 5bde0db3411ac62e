"""DiligentAcknowledgeAlertsOperator against the sandbox: listed ids, or the alerts whose asset
events started the DAG run, and nothing else."""

from __future__ import annotations

import asyncio
import json
import textwrap
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_monitoring._http.errors import ConfigurationError
from airflow_provider_monitoring.hooks.diligent import DiligentHook
from airflow_provider_monitoring.operators.diligent import DiligentAcknowledgeAlertsOperator
from tests.dag_runs import run_dags
from tests.standins import AssetStateStoreStandIn, task_context
from tests.vendor_runs import start_diligent_monitoring, wait_for_diligent_execution

ACKNOWLEDGE = "/diligent/monitoring-alerts/acknowledge"
WATCHED = ("alerts", "alerts")  # the watched asset: (name, uri)
FIRST_EVENT_AT = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def raise_alerts(count: int) -> list[str]:
    """``count`` open alerts, one per new monitoring (the sandbox's default rules make
    "alert-demo" websites raise one alert on their first execution): their ids."""
    monitorings = [start_diligent_monitoring(f"https://alert-demo-{n}.example.com") for n in range(count)]
    for monitoring_id, before in monitorings:
        wait_for_diligent_execution(monitoring_id, before, on_alert="succeed")
    hook = DiligentHook()
    return [alert["id"] for monitoring_id, _ in monitorings for alert in hook.list_alerts(monitoring_id=monitoring_id)]


def acknowledged_alerts() -> set[str]:
    return {alert["id"] for alert in DiligentHook().list_alerts(acknowledged=True)}


def open_alerts() -> set[str]:
    return {alert["id"] for alert in DiligentHook().list_alerts(only_unacknowledged=True)}


# ---- triggering asset events, as Airflow hands them to a task ---------------------------------


def watcher_payload(vendor: str, kind: str, object_id: str) -> dict:
    """An event payload of the provider's AssetWatcher triggers, field by field as the contract
    has it (docs/design.md, "Vendor events")."""
    payload = {"vendor": vendor, "kind": kind, "event_id": f"{vendor}:{kind}:{object_id}", "monitor_id": "m-1",
               "outcome": "alert", "vendor_state": "open", "occurred_at": "2026-03-01T12:00:00Z",
               "url": f"https://example.invalid/{object_id}", "object": {"id": object_id}}
    payload["alert_id" if kind == "alert" else "run_id"] = object_id
    return payload


def diligent_alert(alert_id: str) -> dict:
    return watcher_payload("diligent", "alert", alert_id)


def from_trigger(payload: dict) -> dict:
    """The extra Airflow records when a watcher's trigger fires (airflow/models/trigger.py)."""
    return {"from_trigger": True, "payload": payload}


def asset_event(asset: tuple[str, str], extra: dict, minute: int, aliases: tuple[str, ...] = ()):
    """One of ``dag_run.consumed_asset_events`` as the execution API sends it: an event of the
    asset (name, uri), ``minute`` minutes after the first, emitted through ``aliases``."""
    from airflow.sdk.api.datamodels._generated import (
        AssetAliasReferenceAssetEventDagRun, AssetEventDagRunReference, AssetReferenceAssetEventDagRun,
    )

    name, uri = asset
    return AssetEventDagRunReference(
        asset=AssetReferenceAssetEventDagRun(name=name, uri=uri, extra={}), extra=extra, source_task_id=None,
        source_dag_id=None, source_run_id=None, source_map_index=None,
        source_aliases=[AssetAliasReferenceAssetEventDagRun(name=alias) for alias in aliases],
        timestamp=FIRST_EVENT_AT + timedelta(minutes=minute))


def as_task_runner_builds_it(consumed_asset_events: list):
    """context["triggering_asset_events"] built from the DAG run's consumed events as the task
    runner does (airflow/sdk/execution_time/task_runner.py): a mapping of asset (and alias) to events."""
    from airflow.sdk.execution_time.comms import AssetEventDagRunReferenceResult
    from airflow.sdk.execution_time.context import TriggeringAssetEventsAccessor

    return TriggeringAssetEventsAccessor.build(
        AssetEventDagRunReferenceResult.from_asset_event_dag_run_reference(event) for event in consumed_asset_events)


def triggering_asset_events(*extras: dict, aliases: tuple[str, ...] = ()):
    """The triggering asset events of a run started by the watched asset: one event per extra, a
    minute apart."""
    return as_task_runner_builds_it([asset_event(WATCHED, extra, n, aliases) for n, extra in enumerate(extras)])


def run_started_by(events) -> dict:
    return {**task_context(), "triggering_asset_events": events}


# ---- explicit ids -------------------------------------------------------------------------------


def test_listed_ids_are_exactly_the_ones_acknowledged(monitoring_sandbox):
    first, second, third = raise_alerts(3)
    result = DiligentAcknowledgeAlertsOperator(task_id="acknowledge", alert_ids=[first, third, first]) \
        .execute(task_context())
    assert result == {"acknowledged": [first, third], "updated_count": None, "unacknowledged_count": None}
    assert acknowledged_alerts() == {first, third}
    assert open_alerts() == {second}
    assert len(monitoring_sandbox.requests("POST", ACKNOWLEDGE)) == 2  # a repeated id is sent once


def test_templated_ids_are_rendered_then_acknowledged(monitoring_sandbox):
    first, second = raise_alerts(2)
    task = DiligentAcknowledgeAlertsOperator(task_id="acknowledge", alert_ids=["{{ params.alert }}"])
    task.render_template_fields({"params": {"alert": second}})
    assert task.execute(task_context())["acknowledged"] == [second]
    assert acknowledged_alerts() == {second} and open_alerts() == {first}


@pytest.mark.parametrize("alert_ids, complaint", [
    ("alert-1", "must be a list of alert id strings, got str 'alert-1'"),
    ({"id": "alert-1"}, "must be a list of alert id strings, got dict"),
    (42, "must be a list of alert id strings, got int"),
    (["alert-1", ""], "non-empty strings only; item 1 is ''"),
    (["alert-1", "   "], "non-empty strings only; item 1 is '   '"),
    (["alert-1", 7], "non-empty strings only; item 1 is 7"),
    ([None], "non-empty strings only; item 0 is None"),
], ids=["text", "dict", "number", "empty", "blank", "not-a-string", "none"])
def test_bad_ids_are_refused_when_the_dag_is_parsed(monitoring_sandbox, alert_ids, complaint):
    with pytest.raises(ConfigurationError, match=complaint):
        DiligentAcknowledgeAlertsOperator(task_id="acknowledge", alert_ids=alert_ids)
    assert monitoring_sandbox.requests() == []


def test_ids_that_render_badly_are_refused_before_any_request(monitoring_sandbox):
    # Rendered without render_template_as_native_obj, a list from a template becomes its text.
    task = DiligentAcknowledgeAlertsOperator(task_id="acknowledge", alert_ids="{{ params.alerts }}")
    task.render_template_fields({"params": {"alerts": ["alert-1", "alert-2"]}})
    with pytest.raises(ConfigurationError, match=r"got str \"\['alert-1', 'alert-2'\]\" \(a template renders to text"):
        task.execute(task_context())
    blank = DiligentAcknowledgeAlertsOperator(task_id="acknowledge", alert_ids=["alert-1", "{{ params.missing }}"])
    blank.render_template_fields({"params": {}})
    with pytest.raises(ConfigurationError, match="item 1 is ''"):
        blank.execute(task_context())
    assert monitoring_sandbox.requests() == []


def test_an_empty_list_acknowledges_nothing_and_says_so(monitoring_sandbox, capsys):
    raise_alerts(1)
    before = len(monitoring_sandbox.requests())
    result = DiligentAcknowledgeAlertsOperator(task_id="acknowledge", alert_ids=[]).execute(
        run_started_by(triggering_asset_events(from_trigger(diligent_alert("not-this-one")))))
    assert result["acknowledged"] == []
    assert monitoring_sandbox.requests()[before:] == []
    assert "alert_ids is empty: no Diligent alert to acknowledge, no request sent" in capsys.readouterr().out


# ---- ids from the DAG run's triggering asset events ---------------------------------------------


def test_without_ids_the_alerts_of_the_triggering_events_are_acknowledged(monitoring_sandbox):
    first, second, third = raise_alerts(3)
    events = triggering_asset_events(from_trigger(diligent_alert(third)), from_trigger(diligent_alert(first)),
                                     aliases=("diligent-alerts",))  # each event listed twice: asset and alias
    result = DiligentAcknowledgeAlertsOperator(task_id="acknowledge").execute(run_started_by(events))
    assert result["acknowledged"] == [third, first]  # in the order the events came
    assert acknowledged_alerts() == {first, third}
    assert open_alerts() == {second}
    assert len(monitoring_sandbox.requests("POST", ACKNOWLEDGE)) == 2


async def test_the_alerts_a_diligent_watcher_announced_are_the_ones_acknowledged(monitoring_sandbox):
    from airflow_provider_monitoring.triggers.diligent import DiligentAlertEventTrigger

    announced, unwatched = raise_alerts(2)
    monitoring_id = next(a["monitoring_id"] for a in DiligentHook().list_alerts() if a["id"] == announced)
    watcher = DiligentAlertEventTrigger(monitoring_id=monitoring_id, look_back=600)
    watcher.asset_state_store = AssetStateStoreStandIn()
    payloads = await first_events(watcher, count=1)
    # What the triggerer stores: the payload as JSON, under Airflow's own extra.
    events = triggering_asset_events(*(from_trigger(json.loads(json.dumps(payload))) for payload in payloads))
    result = await asyncio.to_thread(DiligentAcknowledgeAlertsOperator(task_id="acknowledge").execute,
                                     run_started_by(events))
    assert [payload["alert_id"] for payload in payloads] == result["acknowledged"] == [announced]
    assert open_alerts() == {unwatched}


async def first_events(trigger, count: int, seconds: float = 15) -> list[dict]:
    """The payloads of the first ``count`` events ``trigger.run()`` fires, as the triggerer collects them."""
    payloads: list[dict] = []

    async def collect() -> None:
        async for event in trigger.run():
            payloads.append(event.payload)
            if len(payloads) == count:
                return

    await asyncio.wait_for(collect(), seconds)
    return payloads


def test_events_of_several_watched_assets_are_taken_oldest_first_and_once(monitoring_sandbox):
    first, second = raise_alerts(2)
    # One watcher feeding two assets records the same payload on each (airflow/models/trigger.py);
    # the execution API's order is not the events' order.
    other = ("risky-shops", "risky-shops")
    events = as_task_runner_builds_it([
        asset_event(WATCHED, from_trigger(diligent_alert(first)), minute=1),
        asset_event(WATCHED, from_trigger(diligent_alert(second)), minute=2),
        asset_event(other, from_trigger(diligent_alert(second)), minute=0),
    ])
    result = DiligentAcknowledgeAlertsOperator(task_id="acknowledge").execute(run_started_by(events))
    assert result["acknowledged"] == [second, first]
    assert len(monitoring_sandbox.requests("POST", ACKNOWLEDGE)) == 2


def test_only_diligent_alert_events_from_a_trigger_are_taken(monitoring_sandbox, capsys):
    wanted, posted_by_a_task, other_kind = raise_alerts(3)
    events = triggering_asset_events(
        from_trigger(watcher_payload("encrata", "run", "enc-run-1")),
        from_trigger(watcher_payload("datafold", "run", "4711")),
        from_trigger(diligent_alert(wanted)),
        from_trigger({**diligent_alert(other_kind), "kind": "run"}),
        {"payload": diligent_alert(posted_by_a_task)},  # a task's outlet event, not a watcher's
        {"from_trigger": "yes", "payload": diligent_alert(posted_by_a_task)},
        from_trigger("not a payload"),
        {},  # a user's manual event
    )
    result = DiligentAcknowledgeAlertsOperator(task_id="acknowledge").execute(run_started_by(events))
    assert result["acknowledged"] == [wanted]
    assert acknowledged_alerts() == {wanted}
    assert open_alerts() == {posted_by_a_task, other_kind}
    assert "1 of the 8 triggering asset events of this DAG run are Diligent alerts" in capsys.readouterr().out


@pytest.mark.parametrize("context", [
    task_context(),
    run_started_by(triggering_asset_events()),
    run_started_by(triggering_asset_events(from_trigger(watcher_payload("datafold", "run", "4711")))),
], ids=["no-events-in-context", "not-started-by-assets", "other-vendors-only"])
def test_without_ids_or_triggering_alerts_no_request_is_sent_and_the_log_says_so(monitoring_sandbox, capsys, context):
    result = DiligentAcknowledgeAlertsOperator(task_id="acknowledge").execute(context)
    assert result == {"acknowledged": [], "updated_count": None, "unacknowledged_count": None}
    assert monitoring_sandbox.requests() == []
    assert "nothing to acknowledge, no request sent" in capsys.readouterr().out


@pytest.mark.parametrize("payload", [
    {k: v for k, v in diligent_alert("x").items() if k != "alert_id"},
    {**diligent_alert("x"), "alert_id": ""},
    {**diligent_alert("x"), "alert_id": 12345},
], ids=["missing", "empty", "number"])
def test_a_diligent_alert_event_without_a_usable_alert_id_fails_before_any_request(monitoring_sandbox, payload):
    events = triggering_asset_events(from_trigger(diligent_alert("fine")), from_trigger(payload))
    with pytest.raises(ConfigurationError, match="the alert_id of the triggering Diligent alert events .* item 1"):
        DiligentAcknowledgeAlertsOperator(task_id="acknowledge").execute(run_started_by(events))
    assert monitoring_sandbox.requests() == []


# ---- in a DAG: only after every upstream task succeeded -----------------------------------------

DAGS = textwrap.dedent('''
    import pendulum
    from airflow.sdk import dag, task

    from airflow_provider_monitoring.hooks.diligent import DiligentHook
    from airflow_provider_monitoring.operators.diligent import (
        DiligentAcknowledgeAlertsOperator, DiligentCreateMonitoringOperator,
    )
    from airflow_provider_monitoring.sensors.diligent import DiligentExecutionSensor


    def build(dag_id, remediation_works):
        @dag(dag_id=dag_id, schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False)
        def remediate_then_acknowledge():
            create = DiligentCreateMonitoringOperator(
                task_id="create", website=f"https://{dag_id.replace('_', '-')}.alert-demo.example.com",
                checks=["non_operational_website"])
            executed = DiligentExecutionSensor(
                task_id="executed", monitoring_id=create.output, on_alert="succeed", poll_interval=0.2, timeout=60,
                deferrable=False)

            @task
            def open_alerts(monitoring_id):
                return [a["id"] for a in DiligentHook().list_alerts(monitoring_id=monitoring_id)]

            @task
            def remediate(alert_ids):
                assert alert_ids, "the alert-demo website raised no alert"
                if not remediation_works:
                    raise RuntimeError("the remediation failed")

            alert_ids = open_alerts(create.output)
            executed >> alert_ids
            remediate(alert_ids) >> DiligentAcknowledgeAlertsOperator(task_id="acknowledge", alert_ids=alert_ids)

        return remediate_then_acknowledge()


    build("remediation_fails", remediation_works=False)
    build("remediation_works", remediation_works=True)
''')


def test_placed_last_it_acknowledges_only_when_the_remediation_succeeded(tmp_path):
    runs = run_dags(DAGS, tmp_path)
    assert runs.states == {"remediation_fails": "failed", "remediation_works": "success"}
    assert runs.posts("remediation_fails", ACKNOWLEDGE) == []
    assert "starting task_id=acknowledge" not in runs.logs["remediation_fails"]  # upstream failed: never ran
    assert runs.posts("remediation_works", ACKNOWLEDGE) == [ACKNOWLEDGE]
    assert "acknowledged 1 Diligent alerts" in runs.logs["remediation_works"]
