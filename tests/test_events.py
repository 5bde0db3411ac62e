"""airflow_provider_monitoring.events: what a DAG started by watchers reads of its triggering
asset events, built with Airflow's own classes, the shape a task's context holds."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


from airflow_provider_monitoring.events import vendor_events


def asset_event(payload: dict | None, at: datetime, from_trigger: bool = True):
    from airflow.sdk.api.datamodels._generated import AssetEventDagRunReference, AssetReferenceAssetEventDagRun

    extra = {"from_trigger": from_trigger, "payload": payload} if payload is not None else {"note": "posted by a task"}
    return AssetEventDagRunReference(
        asset=AssetReferenceAssetEventDagRun(name="a", uri="a", extra={}), extra=extra, source_task_id=None,
        source_dag_id=None, source_run_id=None, source_map_index=-1, source_aliases=[], timestamp=at,
    )


def payload(vendor: str, kind: str, object_id: str) -> dict:
    return {"vendor": vendor, "kind": kind, "event_id": f"{vendor}:{kind}:{object_id}", f"{kind}_id": object_id}


def test_vendor_events_keeps_the_watchers_payloads_once_each_oldest_first():
    now = datetime(2026, 12, 1, tzinfo=timezone.utc)
    later, earlier = asset_event(payload("diligent", "alert", "b"), now), asset_event(payload("diligent", "alert", "a"), now - timedelta(1))
    repeat = asset_event(payload("diligent", "alert", "b"), now + timedelta(seconds=1))  # announced again after a restart
    other = asset_event(payload("encrata", "run", "r"), now)
    posted = asset_event(None, now)
    look_alike = asset_event(payload("diligent", "alert", "c"), now, from_trigger=False)
    events = {"asset": [later, other, posted, look_alike, repeat], "alias": [earlier, later]}
    assert [p["alert_id"] for p in vendor_events(events, "diligent", "alert")] == ["a", "b"]
    assert [p["event_id"] for p in vendor_events(events)] == ["diligent:alert:a", "diligent:alert:b", "encrata:run:r"]
    assert vendor_events(None) == [] and vendor_events({}, "datafold") == []
