"""Reading the vendor events that started a DAG run (docs/design.md, "Vendor events").

A DAG scheduled on an asset watched by one of this provider's event triggers receives, in its
context, ``triggering_asset_events``: per asset (and alias), the asset events of the run; an event a
watcher fired carries ``extra == {"from_trigger": True, "payload": <the event payload>}``.
"""

from __future__ import annotations

from typing import Any, Mapping

__all__ = ["vendor_events"]


def vendor_events(triggering_asset_events: Mapping[Any, Any] | None, vendor: str | None = None,
                  kind: str | None = None) -> list[dict[str, Any]]:
    """The payloads of the events this provider's watchers fired among ``triggering_asset_events``
    (optionally of one ``vendor`` and ``kind``), one per vendor object (``event_id``), oldest first. Events that tasks or
    users posted are never taken, even with a look-alike ``extra``: only a watcher's event says the
    vendor reported something.

    :param triggering_asset_events: The context's ``triggering_asset_events`` (None or empty: no events).
    :param vendor: ``"encrata"``, ``"diligent"`` or ``"datafold"`` (None: any).
    :param kind: ``"run"`` or ``"alert"`` (None: any).
    """
    payloads: dict[str, dict[str, Any]] = {}
    for event in distinct_events(triggering_asset_events or {}):
        if is_watcher_event(event, vendor, kind):
            # One object once, though it came as several events (a watcher of two assets, a repeat).
            payloads.setdefault(str(event.extra["payload"]["event_id"]), event.extra["payload"])
    return list(payloads.values())


def distinct_events(triggering_asset_events: Mapping[Any, Any]) -> list[Any]:
    """Every event of the DAG run once, oldest first. Airflow lists an event under its asset and
    again under each alias it was emitted through, and groups events by asset, so the mapping's
    own order is not the order they happened in."""
    seen: dict[int, Any] = {}
    for events in triggering_asset_events.values():
        for event in events:
            seen.setdefault(id(event), event)
    return sorted(seen.values(), key=lambda event: event.timestamp)


def is_watcher_event(event: Any, vendor: str | None = None, kind: str | None = None) -> bool:
    """Whether an asset event is one of this provider's watchers fired (of ``vendor`` and ``kind``
    when given): recorded from a trigger, with a payload of the contract's shape."""
    extra = event.extra if isinstance(getattr(event, "extra", None), dict) else {}
    payload = extra.get("payload")
    return (extra.get("from_trigger") is True and isinstance(payload, dict) and "event_id" in payload
            and (vendor is None or payload.get("vendor") == vendor) and (kind is None or payload.get("kind") == kind))
