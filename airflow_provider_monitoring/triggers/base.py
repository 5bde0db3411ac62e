"""The trigger every vendor's run wait is: one aiohttp session, the shared loop, one event."""

from __future__ import annotations

import math
from typing import Any, AsyncIterator, ClassVar

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_monitoring._http.hook import MonitoringHook
from airflow_provider_monitoring._waiting import RunState, wait_for_run


class MonitoringRunTrigger(BaseTrigger):
    """Waits for one run to leave ``running`` and fires the DESIGN.md event payload.

    Built from primitives only (ids, the connection id, the poll interval, a wall-clock deadline in
    epoch seconds), so its serialized form never holds the API key: the key is read from the
    connection inside the triggerer, without blocking the event loop.
    """

    vendor: ClassVar[str]  # the event's "vendor" value
    conn_kwarg: ClassVar[str]  # the vendor's conn id keyword, e.g. "encrata_conn_id"

    def __init__(self, monitor_id: Any, run_id: Any, conn_id: str, poll_interval: float = 30.0,
                 deadline: float | None = None):
        super().__init__()
        self.monitor_id = monitor_id
        self.run_id = run_id
        self.conn_id = conn_id
        self.poll_interval = float(poll_interval)
        self.deadline = deadline

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                **self.identity_kwargs(),
                self.conn_kwarg: self.conn_id,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
                **self.extra_kwargs(),
            },
        )

    def identity_kwargs(self) -> dict[str, Any]:
        """What the wait is for, under the vendor constructor's own argument names."""
        return {"monitor_id": self.monitor_id, "run_id": self.run_id}

    def finish(self, event: dict[str, Any]) -> dict[str, Any]:
        """The event as fired; a vendor may complete it (e.g. with the id of what was found)."""
        return event

    def extra_kwargs(self) -> dict[str, Any]:
        """A vendor's own constructor arguments (primitives only) to serialize."""
        return {}

    def make_hook(self) -> MonitoringHook:
        raise NotImplementedError

    async def read_state(self, hook: Any) -> RunState:
        raise NotImplementedError

    async def run(self) -> AsyncIterator[TriggerEvent]:
        # One session for the whole wait (async with), however many polls it takes.
        async with self.make_hook() as hook:
            event = await wait_for_run(
                lambda: self.read_state(hook),
                vendor=self.vendor,
                monitor_id=self.monitor_id,
                run_id=self.run_id,
                deadline=math.inf if self.deadline is None else float(self.deadline),
                poll_interval=self.poll_interval,
            )
        yield TriggerEvent(self.finish(event))
