"""Stand-ins for the parts of Airflow the tests call past: the task context of a task whose
``execute()`` or ``poke()`` a test calls directly (a task instance with its try number and XCom
pushes, the DAG run's start, and the Airflow 3.3 task state store that keeps a value across the
tries of one task instance), the poke loop of a sensor in poke mode, and the triggerer running a
trigger to its event."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any


class TaskInstanceStandIn:
    """Its try number and xcom_push, which is all the operators use of a task instance."""

    def __init__(self, try_number: int = 1):
        self.try_number = try_number
        self.pushed: dict[str, object] = {}

    def xcom_push(self, key: str, value: object) -> None:
        self.pushed[key] = value


class TaskStateStoreStandIn:
    """A dict with the accessor's signature (get / set with retention / delete)."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.retention: dict[str, timedelta | None] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any, *, retention: timedelta | None = None) -> None:
        if value is None:
            raise ValueError("Cannot set value as None")  # as Airflow's accessor refuses it
        self.values[key], self.retention[key] = value, retention

    def delete(self, key: str) -> None:
        self.values.pop(key, None)


class AssetStateStoreStandIn:
    """One watched asset's state store, with the async accessors (Airflow >= 3.3.2) a watcher uses;
    values go through JSON, as the real store keeps them."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.writes = 0

    async def aget(self, key: str, default: Any = None) -> Any:
        return json.loads(self.values[key]) if key in self.values else default

    async def aset(self, key: str, value: Any) -> None:
        self.values[key] = json.dumps(value)  # raises on what the store could not keep
        self.writes += 1


def task_context(try_number: int = 1, dag_run_start: datetime | None = None,
                 store: TaskStateStoreStandIn | None = None) -> dict:
    """A task context as Airflow builds one; without ``store`` it is Airflow before 3.3."""
    context: dict[str, Any] = {"ti": TaskInstanceStandIn(try_number),
                               "dag_run": SimpleNamespace(start_date=dag_run_start)}
    if store is not None:
        context["task_state_store"] = store
    return context


def poke_until_done(sensor: Any, context: dict | None = None, limit: float = 10.0) -> tuple[Any, int]:
    """What Airflow does with a sensor in poke mode: poke every 0.1 s (with ``context``, default a
    new one) until it is done; its result and the number of pokes it took."""
    context = task_context() if context is None else context
    deadline = time.monotonic() + limit
    pokes = 0
    while time.monotonic() < deadline:
        pokes += 1
        result = sensor.poke(context)
        if result:
            return result, pokes
        time.sleep(0.1)
    raise AssertionError(f"the sensor was not done after {limit} s")


async def first_event(trigger: Any) -> dict:
    """What the triggerer does with a trigger: run it to its event; the event's payload (a trigger
    of this provider fires exactly one)."""
    events = [event async for event in trigger.run()]
    assert len(events) == 1, events
    return events[0].payload


def fire(trigger: Any) -> dict:
    """``first_event`` for a test that is not a coroutine."""
    return asyncio.run(first_event(trigger))
